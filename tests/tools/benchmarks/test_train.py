"""The one scoring rule: test top-1 of the weights a run ships (the model
the runner holds once ``runner.train()`` returns), val top-1 alongside."""
import math

import pytest
import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from benchmarks.train import (best_validation, is_diverged, majority_share,
                              score_result, train_and_score,
                              validation_history)


def test_majority_share_is_the_chance_level_of_one_answer():
    assert majority_share([0, 1, 1, 1]) == 75.0
    assert majority_share([2, 2]) == 100.0
    with pytest.raises(ValueError, match='empty'):
        majority_share([])


def test_divergence_is_a_non_finite_loss_or_val_at_chance():
    def result(val, loss=1.0):
        return score_result(val, 10.0, [0, 0, 0, 1], [2.0, loss], [(1, val)],
                            1.0, 1, 0.1)
    assert not result(90.0)['diverged']
    assert result(75.0)['diverged']  # the majority class's share
    assert result(75.9)['diverged'] and not result(76.1)['diverged']
    assert result(20.0)['diverged']  # below chance: the minority class
    assert result(90.0, loss=float('nan'))['diverged']
    assert result(90.0, loss=float('inf'))['diverged']
    assert is_diverged(dict(val_top1=float('nan'), val_majority_top1=50.0))


def test_best_validation_is_the_first_best_epoch():
    assert best_validation([(1, 80.0), (2, 90.0), (3, 90.0), (4, 85.0)]) \
        == (2, 90.0)
    assert best_validation([(1, float('nan')), (2, 70.0)]) == (2, 70.0)
    assert best_validation([]) == (None, None)


def test_score_keeps_test_as_the_score_and_val_alongside():
    result = score_result(91.0, 88.0, [0, 1], [1.0, 0.5],
                          [(1, 80.0), (2, 95.0), (3, 91.0)], 12.0, 3, 0.1)
    assert result['top1'] == result['test_top1'] == 88.0
    assert (result['val_top1'], result['best_val_top1'],
            result['best_val_epoch'], result['final_val_top1']) == (
        91.0, 95.0, 2, 91.0)


@HOOKS.register_module(force=True)
class ShipOneClassHook(Hook):
    """A recipe that ships other weights than its last validated ones: at
    the end of training its head answers class 0 for every image."""

    def after_train(self, runner):
        model = runner.model
        fc = [m for m in model.head.modules()
              if isinstance(m, torch.nn.Linear)][-1]
        with torch.no_grad():
            fc.weight.zero_()
            fc.bias.zero_()
            fc.bias[0] = 1.0


def _share_of_class_zero(dataset) -> float:
    labels = list(dataset.get_gt_labels())
    return 100.0 * labels.count(0) / len(labels)


def test_a_run_is_scored_on_test_by_the_weights_it_ships(tmp_path):
    """Not the final validation, not a hook's record of its best: the model
    the runner holds after training, evaluated on the test split."""
    import mmtricks  # noqa: F401
    from benchmarks.runs import bundled_config
    cfg = bundled_config('lfw_faces', 2, 0, str(tmp_path / 'work'),
                         finder=False)
    cfg.custom_hooks.append(dict(type='ShipOneClassHook'))
    result, runner = train_and_score(cfg)
    test_share = _share_of_class_zero(runner.test_dataloader.dataset)
    val_share = _share_of_class_zero(runner.val_dataloader.dataset)
    # the shipped model answers class 0: its top-1 is that class's share
    assert result['top1'] == pytest.approx(test_share)
    assert result['test_top1'] == pytest.approx(test_share)
    assert result['val_top1'] == pytest.approx(val_share)
    # the validations during training are kept apart, read from the log
    # before the shipped weights were validated (a last line at step 2)
    history = validation_history(runner.log_dir)
    assert [step for step, _ in history] == [1, 2, 2]
    assert result['val_history'] == [list(h) for h in history[:2]]
    assert result['final_val_top1'] == pytest.approx(history[1][1])
    assert history[2][1] == pytest.approx(val_share)
    assert result['epochs'] == 2 and math.isfinite(result['seconds'])
    # one answer for every image is chance: the run counts as diverged
    assert result['diverged'] and result['finite_loss']
