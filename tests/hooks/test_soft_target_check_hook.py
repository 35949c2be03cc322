import pytest

from mmpretrain.registry import MODELS
from mmtricks.engine import build_runner
from mmtricks.hooks import SoftTargetCheckHook, soft_target_problem


def head(**kwargs):
    return MODELS.build(dict(type='LinearClsHead', num_classes=3,
                             in_channels=4, **kwargs))


def test_cross_entropy_in_every_mode_accepts_soft_targets():
    for loss in (dict(type='CrossEntropyLoss'),
                 dict(type='CrossEntropyLoss', use_soft=True),
                 dict(type='CrossEntropyLoss', use_sigmoid=True)):
        assert soft_target_problem(head(loss=loss), smoothing=0.1) is None


def test_label_smooth_loss_must_not_smooth_twice():
    smoothing_loss = head(loss=dict(type='LabelSmoothLoss',
                                    label_smooth_val=0.1))
    assert soft_target_problem(smoothing_loss, smoothing=0.0) is None
    assert 'smooths them again' in soft_target_problem(smoothing_loss, 0.1)


def test_hard_label_losses_and_training_accuracy_are_refused():
    assert 'expects class indices' in soft_target_problem(
        head(loss=dict(type='FocalLoss')))
    assert 'cal_acc' in soft_target_problem(head(cal_acc=True))


def runner_with(make_fast_config, **model_changes):
    cfg = make_fast_config(indices=64)
    # auto_mbv3's LabelSmoothLoss: the tests choose the loss themselves.
    cfg.model.head.loss = dict(type='CrossEntropyLoss', use_soft=True)
    cfg.model.update(model_changes)
    cfg.custom_hooks = [dict(type='SoftTargetCheckHook')]
    return build_runner(cfg)


def test_hook_stops_a_bad_combination_before_the_first_step(make_fast_config):
    runner = runner_with(
        make_fast_config,
        train_cfg=dict(augments=dict(type='MixupCutMix', label_smoothing=0.1)))
    runner.model.head.loss_module = MODELS.build(
        dict(type='LabelSmoothLoss', label_smooth_val=0.1))
    with pytest.raises(ValueError, match='smooths them again'):
        runner.train()
    assert runner.iter == 0


def test_hook_lets_a_good_combination_train(make_fast_config):
    runner = runner_with(
        make_fast_config,
        train_cfg=dict(augments=dict(type='MixupCutMix', label_smoothing=0.1)))
    runner.train()
    assert runner.iter == 1
    assert any(isinstance(h, SoftTargetCheckHook) for h in runner.hooks)


def test_default_cross_entropy_computes_soft_cross_entropy():
    import torch
    scores = torch.randn(4, 3)
    targets = torch.softmax(torch.randn(4, 3), dim=1)
    hard_mode = MODELS.build(dict(type='CrossEntropyLoss'))
    soft_mode = MODELS.build(dict(type='CrossEntropyLoss', use_soft=True))
    assert torch.allclose(hard_mode(scores, targets),
                          soft_mode(scores, targets))
