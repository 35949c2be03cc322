"""HealthCheckHook's two checks, driven without training."""
import logging
from types import SimpleNamespace

import torch
from mmengine.logging import MessageHub
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.structures import DataSample

from mmtricks.hooks import HealthCheckHook
from mmtricks.hooks.auto_epochs_hook import COLLAPSED_KEY


def fake_runner(name):
    loop = EpochBasedTrainLoop.__new__(EpochBasedTrainLoop)
    loop.stop_training = False
    return SimpleNamespace(
        train_loop=loop, epoch=3, iter=30,
        message_hub=MessageHub.get_instance(name),
        logger=logging.getLogger(name))


def samples(preds, gts):
    return [DataSample().set_pred_label(p).set_gt_label(g)
            for p, g in zip(preds, gts)]


def validate(hook, runner, preds, gts):
    hook.before_val_epoch(runner)
    hook.after_val_iter(runner, 0, outputs=samples(preds[:4], gts[:4]))
    hook.after_val_iter(runner, 1, outputs=samples(preds[4:], gts[4:]))
    hook.after_val_epoch(runner, {'accuracy/top1': 50.0})
    return runner.message_hub.get_info(COLLAPSED_KEY)


def test_collapse_to_one_class_is_published_and_warned(caplog):
    hook, runner = HealthCheckHook(), fake_runner('health_collapse')
    gts = [0, 1, 2, 0, 1, 2, 0, 1]
    with caplog.at_level(logging.WARNING, logger='health_collapse'):
        assert validate(hook, runner, [2] * 8, gts) is True
    assert 'one class' in caplog.text
    # labels of one class predicted as that class: not a collapse
    assert validate(hook, runner, [1] * 8, [1] * 8) is False
    assert validate(hook, runner, gts, gts) is False


def test_a_collapse_lasting_several_validations_is_warned_once(caplog):
    hook, runner = HealthCheckHook(), fake_runner('health_collapse_row')
    gts = [0, 1, 2, 0, 1, 2, 0, 1]
    with caplog.at_level(logging.WARNING, logger='health_collapse_row'):
        for _ in range(4):  # every one still flagged for AutoEpochsHook
            assert validate(hook, runner, [2] * 8, gts) is True
        assert caplog.text.count('predicts one class') == 1
        assert validate(hook, runner, gts, gts) is False
        assert validate(hook, runner, [2] * 8, gts) is True  # a new stretch
        assert caplog.text.count('predicts one class') == 2


def test_nan_loss_stops_training_at_the_end_of_the_epoch():
    hook, runner = HealthCheckHook(), fake_runner('health_nan')
    hook.after_train_iter(runner, 0, outputs=dict(loss=torch.tensor(0.5)))
    hook.after_train_epoch(runner)
    assert not runner.train_loop.stop_training
    hook.after_train_iter(runner, 1,
                          outputs=dict(loss=torch.tensor(float('nan'))))
    assert not runner.train_loop.stop_training  # epoch-based: at its end
    hook.after_train_epoch(runner)
    assert runner.train_loop.stop_training
    assert 'NaN' in hook.diverged_reason and 'epoch 4' in \
        hook.diverged_reason
