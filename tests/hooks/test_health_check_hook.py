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


def test_guessing_level_of_top1_and_of_balanced_accuracy():
    from mmtricks.hooks.health_check_hook import guessing_level
    level, error = guessing_level([70, 30], balanced=False)
    assert level == 0.7 and abs(error - (0.7 * 0.3 / 100) ** 0.5) < 1e-12
    level, error = guessing_level([70, 30, 0], balanced=True)
    assert level == 0.5
    assert abs(error - (0.25 / 70 + 0.25 / 30) ** 0.5 / 2) < 1e-12


def train_and_finish(name, top1_per_validation, gts, caplog):
    hook, runner = HealthCheckHook(), fake_runner(name)
    with caplog.at_level(logging.WARNING, logger=name):
        for top1 in top1_per_validation:
            hook.before_val_epoch(runner)
            hook.after_val_iter(runner, 0, outputs=samples(gts, gts))
            hook.after_val_epoch(runner, {'accuracy/top1': top1})
        hook.after_train(runner)
    return caplog.text


def test_a_run_no_better_than_guessing_is_told_so(caplog):
    # 40 validation images of 10 classes: guessing scores 10% (SE 4.7).
    gts = [i % 10 for i in range(40)]
    text = train_and_finish('health_noise', [10.0, 17.5, 12.5], gts, caplog)
    assert 'did not learn' in text and '17.5%' in text
    assert 'auto_effnet_lite0' in text


def test_a_run_that_learned_is_not_warned(caplog):
    gts = [i % 10 for i in range(40)]
    text = train_and_finish('health_learned', [10.0, 30.0], gts, caplog)
    assert 'did not learn' not in text


def test_imbalanced_data_is_judged_on_balanced_accuracy(caplog):
    # 90% majority: top-1 90 is guessing; balanced accuracy 75 is not.
    hook, runner = HealthCheckHook(), fake_runner('health_balanced')
    gts = [0] * 9 + [1]
    with caplog.at_level(logging.WARNING, logger='health_balanced'):
        hook.before_val_epoch(runner)
        hook.after_val_iter(runner, 0, outputs=samples(gts * 10, gts * 10))
        hook.after_val_epoch(runner, {'accuracy/top1': 90.0,
                                      'macro/recall': 75.0})
        hook.after_train(runner)
    assert 'did not learn' not in caplog.text
