"""Stop a diverged run; report validation that collapsed to one class."""
import math
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import HOOKS

from .auto_epochs_hook import COLLAPSED_KEY
from .plateau_policy import is_collapsed


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

    Both are reduced over ranks: every rank stops at the same step.
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
        collapsed = self._collapsed()
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

    def _collapsed(self) -> bool:
        counts = self._pred_counts
        size = torch.tensor(float(0 if counts is None else len(counts)))
        all_reduce(size, op='max')
        if int(size) == 0:
            return False
        empty = torch.zeros(0, dtype=torch.long)
        both = torch.stack([
            _grow(empty if counts is None else counts, int(size)),
            _grow(empty if counts is None else self._gt_counts, int(size))
        ]).double()
        all_reduce(both)
        return is_collapsed(both[0].tolist(), both[1].tolist())


def _grow(counts: torch.Tensor, size: int) -> torch.Tensor:
    if len(counts) >= size:
        return counts
    return torch.cat([counts, counts.new_zeros(size - len(counts))])
