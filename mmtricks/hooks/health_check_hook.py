"""Stop a diverged run; report validation that collapsed to one class,
and a run whose best validation is no better than guessing."""
import math
from typing import Dict, Optional, Tuple

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import HOOKS

from .auto_epochs_hook import COLLAPSED_KEY
from ..optim.scheduler.plateau_policy import is_collapsed

TOP1 = 'accuracy/top1'
#: MMPretrain's SingleLabelMetric(average='macro', prefix='macro') recall:
#: balanced accuracy, which always answering one class cannot raise.
BALANCED = 'macro/recall'
#: Standard errors a best validation must clear above guessing.
GUESS_MARGIN = 2.0


@HOOKS.register_module()
class HealthCheckHook(Hook):
    """Two checks that decisions from validation numbers need.

    * A NaN/inf training loss stops training (``train_loop.stop_training``,
      as MMEngine's ``EarlyStoppingHook`` does), checked after every epoch
      (every iteration in iteration-based runs): MMEngine otherwise trains
      and validates a diverged model to the last epoch.
    * Validation predictions that collapse to one class while the labels do
      not (eval-mode BN statistics gone wrong) are reported with a warning,
      once per stretch of collapsed validations in a row, and each is
      published in the message hub under
      ``'health_check/predictions_collapsed'`` so that
      :class:`AutoEpochsHook` does not take it for a plateau.
    * At the end of training, a best validation that does not beat guessing
      by more than chance explains (:func:`guessing_level`) gets one
      WARNING: the run exits 0, but its numbers mean nothing, and the user
      is told why and what to try. Balanced accuracy (``macro/recall``)
      is compared with 1/K when validation reports it (imbalanced data),
      else top-1 with always answering the largest class.

    All are reduced over ranks: every rank decides the same.
    """

    priority = 'ABOVE_NORMAL'  # publishes before AutoEpochsHook reads

    def __init__(self):
        self.diverged_reason: Optional[str] = None
        self._nonfinite_loss = False
        self._pred_counts: Optional[torch.Tensor] = None
        self._gt_counts: Optional[torch.Tensor] = None
        # Collapsed validations in a row: only the first is warned about
        # (early epochs on imbalanced data answer the majority class for a
        # while, and one warning per epoch buried the log).
        self._collapsed_in_a_row = 0
        # The best validation against guessing: (metric, score, guessing
        # level, its standard error), for the end-of-training check.
        self.best: Optional[Tuple[str, float, float, float]] = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """Note a NaN/inf loss; stop at once in iteration-based runs.

        Args:
            runner (Runner): The runner.
            batch_idx (int): Index of the batch.
            data_batch: The batch.
            outputs (dict, optional): The step's outputs (``loss``).
        """
        loss = (outputs or {}).get('loss')
        if loss is not None and not math.isfinite(float(loss.detach())):
            self._nonfinite_loss = True
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            self._stop_if_diverged(runner, 'iter', runner.iter + 1)

    def after_train_epoch(self, runner) -> None:
        """Stop if the loss was NaN/inf on any rank during the epoch.

        Args:
            runner (Runner): The runner.
        """
        self._stop_if_diverged(runner, 'epoch', runner.epoch + 1)

    def before_val_epoch(self, runner) -> None:
        """Start counting predictions.

        Args:
            runner (Runner): The runner.
        """
        self._pred_counts = self._gt_counts = None

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs=None) -> None:
        """Count predicted and true classes.

        Args:
            runner (Runner): The runner.
            batch_idx (int): Index of the batch.
            data_batch: The batch.
            outputs (list, optional): The data samples predicted.
        """
        if not outputs or 'pred_label' not in outputs[0]:
            return
        preds = torch.cat([s.pred_label.view(-1) for s in outputs]).long()
        gts = torch.cat([s.gt_label.view(-1) for s in outputs]).long()
        if self._pred_counts is None:
            self._pred_counts = torch.zeros(0, dtype=torch.long)
            self._gt_counts = torch.zeros(0, dtype=torch.long)
        size = max(int(max(preds.max(), gts.max())) + 1,
                   len(self._pred_counts))
        self._pred_counts = _grow(self._pred_counts, size) + \
            torch.bincount(preds, minlength=size)
        self._gt_counts = _grow(self._gt_counts, size) + \
            torch.bincount(gts, minlength=size)

    def after_val_epoch(self, runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        """Publish (and warn about) a collapse.

        Args:
            runner (Runner): The runner.
            metrics (dict, optional): The validation metrics.
        """
        pred_counts, gt_counts = self._reduced_counts()
        collapsed = pred_counts is not None and \
            is_collapsed(pred_counts, gt_counts)
        metric = BALANCED if BALANCED in (metrics or {}) else TOP1
        score = (metrics or {}).get(metric)
        if score is not None and gt_counts is not None and \
                (self.best is None or score > self.best[1]):
            self.best = (metric, float(score)) + guessing_level(
                gt_counts, balanced=metric == BALANCED)
        runner.message_hub.update_info(COLLAPSED_KEY, collapsed)
        self._collapsed_in_a_row = self._collapsed_in_a_row + 1 \
            if collapsed else 0
        if self._collapsed_in_a_row == 1:
            runner.logger.warning(
                f'Validation after epoch {runner.epoch} (iter {runner.iter}) '
                'predicts one class for nearly every image while the labels '
                'are not one class: eval-mode BN statistics may not fit the '
                'weights (PreciseBNStatsHook recomputes them) or the LR may '
                'be too high. In the first epochs on imbalanced data it is '
                'often the model still answering the majority class, which '
                'matters only if it lasts. Further collapsed validations in '
                'a row are not repeated here; the message hub flags each.')
        elif self._collapsed_in_a_row > 1:
            runner.logger.debug(
                f'Validation after epoch {runner.epoch} still collapsed '
                f'({self._collapsed_in_a_row} in a row).')

    def after_train(self, runner) -> None:
        """Warn when the best validation is no better than guessing.

        Args:
            runner (Runner): The runner.
        """
        if self.best is None:
            return
        metric, score, level, error = self.best
        if score / 100 > level + GUESS_MARGIN * error:
            return
        guess = ('answering at random (1/K)' if metric == BALANCED else
                 'always answering the largest class')
        runner.logger.warning(
            f'HealthCheck: the model did not learn: its best validation '
            f'{metric} ({score:.1f}%) is within chance of {guess} '
            f'({100 * level:.1f}%, standard error {100 * error:.1f}). Its '
            'test numbers mean nothing. Check the labels (one folder per '
            'class), add images (tens per class at least), or start from '
            'ImageNet weights (configs/auto_effnet_lite0.py).')

    # helpers ---------------------------------------------------------------

    def _stop_if_diverged(self, runner, unit: str, step: int) -> None:
        flag = torch.tensor(float(self._nonfinite_loss))
        all_reduce(flag, op='max')
        if not bool(flag) or self.diverged_reason is not None:
            return
        self.diverged_reason = (f'the training loss became NaN/inf by {unit} '
                                f'{step}: training diverged')
        runner.train_loop.stop_training = True
        runner.logger.warning(
            f'HealthCheck: stopping, {self.diverged_reason}. Lower the LR '
            '(or check the data); the best checkpoint so far is kept.')

    def _reduced_counts(self):
        """Predicted and true class counts of this validation over all
        ranks, or ``(None, None)`` when nothing was counted."""
        counts = self._pred_counts
        size = torch.tensor(float(0 if counts is None else len(counts)))
        all_reduce(size, op='max')
        if int(size) == 0:
            return None, None
        empty = torch.zeros(0, dtype=torch.long)
        both = torch.stack([
            _grow(empty if counts is None else counts, int(size)),
            _grow(empty if counts is None else self._gt_counts, int(size))
        ]).double()
        all_reduce(both)
        return both[0].tolist(), both[1].tolist()


def guessing_level(gt_counts, balanced: bool) -> Tuple[float, float]:
    """What guessing scores on a validation split with these true class
    counts, and the standard error of that score (as fractions).

    Top-1: always answering the largest class scores its share ``p``;
    SE ``sqrt(p (1 - p) / n)``. Balanced accuracy (mean per-class recall):
    answering at random scores ``1/K`` whatever the imbalance; SE from the
    per-class binomials, ``sqrt(sum_k c (1 - c) / n_k) / K`` with ``c =
    1/K``.
    """
    counts = [c for c in gt_counts if c > 0]
    if not counts:
        return 0.0, 0.0
    if balanced:
        k = len(counts)
        level = 1 / k
        error = math.sqrt(sum(level * (1 - level) / n for n in counts)) / k
        return level, error
    total = sum(counts)
    share = max(counts) / total
    return share, math.sqrt(share * (1 - share) / total)


def _grow(counts: torch.Tensor, size: int) -> torch.Tensor:
    if len(counts) >= size:
        return counts
    return torch.cat([counts, counts.new_zeros(size - len(counts))])
