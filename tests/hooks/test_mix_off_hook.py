import os.path as osp

import pytest
from mmengine.hooks import Hook

from conftest import hook_of
from mmtricks.engine import build_runner
from mmtricks.hooks import MixOffHook, mix_off_due

MIX = dict(augments=dict(type='MixupCutMix', label_smoothing=0.1))


def test_trigger_on_a_fixed_budget():
    # last 2 epochs of 10: epochs 8 and 9 have 2 and 1 epochs left
    due = [mix_off_due(0.1, 0.1, remaining=10 - e, off_last=2)
           for e in range(10)]
    assert due == [False] * 8 + [True] * 2


def test_trigger_on_the_lr_decayed_from_its_peak():
    assert not mix_off_due(0.1, 0.1, remaining=50, lr_ratio=0.05)
    assert not mix_off_due(0.01, 0.1, remaining=50, lr_ratio=0.05)
    assert mix_off_due(0.001, 0.1, remaining=50, lr_ratio=0.05)
    assert mix_off_due(0.005, 0.1, remaining=50, lr_ratio=0.05)  # boundary
    # either criterion is enough
    assert mix_off_due(0.1, 0.1, remaining=1, lr_ratio=0.05, off_last=1)
    assert not mix_off_due(0.1, 0.0, remaining=5, lr_ratio=0.05)


@pytest.mark.parametrize('kwargs', [
    dict(lr_ratio=1.0), dict(lr_ratio=0), dict(off_epochs=0),
    dict(off_epochs=2, off_iters=5), dict(lr_ratio=None)])
def test_bad_arguments_fail_at_build_time(kwargs):
    with pytest.raises(ValueError):
        MixOffHook(**kwargs)


class MixProbe(Hook):
    """Records, before each step, whether each mixing augment is on."""

    def __init__(self):
        self.seen = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        augments = runner.model.data_preprocessor.batch_augments.augments
        self.seen.append(tuple(
            getattr(a, 'mix_enabled', a is not None) for a in augments))


def run(cfg):
    runner = build_runner(cfg)
    probe = MixProbe()
    runner.register_hook(probe, priority='LOW')  # after MixOffHook
    runner.train()
    return runner, probe.seen


def config(make_fast_config, work_dir, max_epochs, mix_off, train_cfg=MIX):
    # 64 images, batch 32: two iterations per epoch
    cfg = make_fast_config(work_dir=work_dir, max_epochs=max_epochs,
                           indices=64)
    cfg.train_dataloader.batch_size = cfg.val_dataloader.batch_size = 32
    cfg.model.train_cfg = train_cfg
    # auto_mbv3's LabelSmoothLoss would smooth MIX's targets twice.
    cfg.model.head.loss = dict(type='CrossEntropyLoss', use_soft=True)
    cfg.custom_hooks = [dict(type='SoftTargetCheckHook'),
                        dict(type='MixOffHook', **mix_off)]
    return cfg


def test_runner_fixed_budget_last_epoch_is_mix_free(make_fast_config,
                                                    tmp_path):
    runner, seen = run(config(make_fast_config, tmp_path / 'w', 3,
                              dict(lr_ratio=None, off_epochs=1)))
    assert seen == [(True, )] * 4 + [(False, )] * 2
    assert hook_of(runner, MixOffHook).switched_at == ('epoch', 2)
    assert runner.model.data_preprocessor.batch_augments.augments[0] \
        .label_smoothing == 0.1


def test_runner_plateau_decay_switches_stock_mixup_off(make_fast_config,
                                                       tmp_path):
    # The plateau policy never sees an improvement: LR x0.1 after the
    # validations of epochs 2 and 3, i.e. 0.01 x peak from epoch index 3.
    # (Two-iteration epochs predict one class; HealthCheckHook, which would
    # flag that, is not in the run.)
    cfg = config(make_fast_config, tmp_path / 'w', 4, dict(lr_ratio=0.05),
                 train_cfg=dict(augments=[dict(type='Mixup', alpha=0.2),
                                          dict(type='MixupCutMix')],
                                probs=[0.5, 0.5]))
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0,
             end=1, convert_to_iter_based=True),
        dict(type='AutoEpochsLR', warmup=0, patience=1, min_delta=1000.0,
             force_decay_at=1.0, by_epoch=True, convert_to_iter_based=True)]
    cfg.default_hooks.checkpoint.update(save_best='accuracy/top1',
                                        rule='greater')
    cfg.custom_hooks.append(dict(type='AutoEpochsHook'))
    runner, seen = run(cfg)
    # RandomBatchAugment appends a None slot for "no augment" (prob 0 here)
    assert seen == [(True, True, False)] * 6 + [(False, False, False)] * 2
    assert hook_of(runner, MixOffHook).switched_at == ('epoch', 3)


def test_resume_keeps_the_peak_and_the_switch(make_fast_config, tmp_path):
    # cosine over 8 iterations: LR <= 0.5 x peak from iteration 4 (epoch 2)
    whole_cfg = config(make_fast_config, tmp_path / 'whole', 4,
                       dict(lr_ratio=0.5))
    whole, seen = run(whole_cfg)
    assert seen == [(True, )] * 4 + [(False, )] * 4
    for epoch, expected in ((2, [(False, )] * 4), (3, [(False, )] * 2)):
        cfg = config(make_fast_config, tmp_path / f'from{epoch}', 4,
                     dict(lr_ratio=0.5))
        cfg.resume = True
        cfg.load_from = osp.join(whole_cfg.work_dir, f'epoch_{epoch}.pth')
        resumed, seen = run(cfg)
        # resumed at the peak-less LR 0.5 x peak, the saved peak decides
        assert seen == expected
        assert hook_of(resumed, MixOffHook).switched_at == ('epoch', 2)


def test_a_run_without_mixing_augments_is_refused(make_fast_config,
                                                  tmp_path):
    cfg = config(make_fast_config, tmp_path / 'w', 1, dict(off_epochs=1),
                 train_cfg=dict(augments=dict(
                     type='RandomResolutionDecrement')))
    with pytest.raises(ValueError, match='no mixing batch augment'):
        run(cfg)
