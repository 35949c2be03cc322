import math
from dataclasses import replace
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import HOOKS

from ..engine.model_state import cloned_state_dict, unwrap_model
from .plateau_policy import (ANNEAL, DECAY, STOP, PlateauPolicy, PolicyState,
                             decide, is_collapsed, lr_scale_at)


@HOOKS.register_module()
class AutoEpochsHook(Hook):
    """Training decides how long to run: plateau LR decay, stop, best weights.

    After every validation, :func:`~mmtricks.hooks.plateau_policy.decide`
    looks at the monitored metric: during ``warmup`` validations nothing
    happens; then the LR is multiplied by ``factor`` when the metric has not
    improved for ``patience`` validations (and once at ``force_decay_at`` of
    the budget if it never plateaued), and training stops when the LR is at
    its floor and the metric has not improved for ``stop_patience``
    validations. ``max_epochs`` (or ``max_iters``) is the budget cap. With
    ``mode='anneal'`` the first plateau starts one cosine anneal to the
    floor instead, updated every iteration, and training stops when it ends.
    Decays multiply the current LR, so they compose with MMEngine's
    chainable schedulers (a warmup ``LinearLR`` before them, say).

    Validation must be honest for this to work: use it with
    ``PreciseBNStatsHook``. A NaN/inf training loss or metric stops training
    (a diverged run does not train on), and validation predictions that
    collapse to one class are reported and not taken for a plateau.

    At the end of training the best validated weights (the EMA weights, when
    EMA is validated) become the model's weights and are saved as
    ``best_auto_epochs.pth``. The policy's whole state, best weights
    included, is saved in every checkpoint, so a resumed run decides as an
    uninterrupted one would. Validation metrics are the same on every rank
    and the collapse and NaN checks are reduced over ranks, so all ranks stop
    at the same step.

    Args:
        monitor (str): Validation metric, higher is better. Defaults to
            ``'accuracy/top1'``.
        patience, factor, min_scale, stop_patience, min_delta, warmup,
        force_decay_at, mode, anneal_ratio, min_anneal: See
            :class:`PlateauPolicy`. Defaults to 3, 0.1, 0.005, 3, 0.1, 2,
            0.75, ``'step'``, 1.0 and 3.
    """

    priority = 'ABOVE_NORMAL'  # before EMAHook swaps the validated weights out

    def __init__(self,
                 monitor: str = 'accuracy/top1',
                 patience: int = 3,
                 factor: float = 0.1,
                 min_scale: float = 0.005,
                 stop_patience: int = 3,
                 min_delta: float = 0.1,
                 warmup: int = 2,
                 force_decay_at: float = 0.75,
                 mode: str = 'step',
                 anneal_ratio: float = 1.0,
                 min_anneal: int = 3):
        self.monitor = monitor
        self.policy = PlateauPolicy(
            patience=patience, factor=factor, min_scale=min_scale,
            stop_patience=stop_patience, min_delta=min_delta, warmup=warmup,
            force_decay_at=force_decay_at, mode=mode,
            anneal_ratio=anneal_ratio, min_anneal=min_anneal)
        self.state = PolicyState()
        self.best_weights: Optional[Dict[str, torch.Tensor]] = None
        self._nonfinite_loss = False
        self._pred_counts: Optional[torch.Tensor] = None
        self._gt_counts: Optional[torch.Tensor] = None

    # runner events -------------------------------------------------------

    def before_train(self, runner) -> None:
        if runner.val_loop is None:
            raise ValueError(
                'AutoEpochsHook decides from validation results, but no '
                'val_dataloader/val_cfg/val_evaluator is configured. Add a '
                'validation set, or remove the hook and set max_epochs.')
        if self._resumed_before_its_validation(runner):
            # Checkpoints are written before the epoch's validation; without
            # it the resumed policy would miss one decision.
            runner.logger.info(
                f'AutoEpochs: validating resumed epoch {runner.epoch}, which '
                'the checkpoint was saved before.')
            runner.val_loop.run()

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.state.anneal_start is None:
            return
        # From the iteration count alone, so a resumed run (whose optimizer
        # holds the last applied LR) continues the same curve.
        now = self._fractional_position(runner, runner.iter)
        before = self._fractional_position(runner, runner.iter - 1)
        ratio = (lr_scale_at(self.policy, self.state, now) /
                 lr_scale_at(self.policy, self.state, before))
        if ratio != 1.0:
            for group in runner.optim_wrapper.param_groups:
                group['lr'] *= ratio

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        loss = (outputs or {}).get('loss')
        if loss is not None and not math.isfinite(float(loss.detach())):
            self._nonfinite_loss = True
        if not self._by_epoch(runner) and self._diverged_anywhere():
            self._stop_diverged(runner)

    def after_train_epoch(self, runner) -> None:
        if self._by_epoch(runner) and self._diverged_anywhere():
            self._stop_diverged(runner)

    def before_val_epoch(self, runner) -> None:
        self._pred_counts = self._gt_counts = None

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None) -> None:
        if not outputs or 'pred_label' not in outputs[0]:
            return
        preds = torch.cat([s.pred_label.view(-1) for s in outputs]).long()
        gts = torch.cat([s.gt_label.view(-1) for s in outputs]).long()
        size = int(max(preds.max(), gts.max())) + 1
        if self._pred_counts is None:
            self._pred_counts = torch.zeros(0, dtype=torch.long)
            self._gt_counts = torch.zeros(0, dtype=torch.long)
        size = max(size, len(self._pred_counts))
        self._pred_counts = _grow(self._pred_counts, size) + \
            torch.bincount(preds, minlength=size)
        self._gt_counts = _grow(self._gt_counts, size) + \
            torch.bincount(gts, minlength=size)

    def after_val_epoch(self, runner, metrics: Optional[Dict] = None) -> None:
        if not self._in_training(runner):
            return
        metrics = metrics or {}
        if self.monitor not in metrics:
            raise KeyError(
                f'AutoEpochsHook monitors {self.monitor!r}, which validation '
                f'does not report; it reports {sorted(metrics)}. Set '
                '`monitor` to one of them.')
        unit, step, budget = self._position(runner)
        old = self.state
        self.state, action, reason = decide(
            self.policy, old, step, float(metrics[self.monitor]), budget,
            collapsed=self._collapsed(runner))
        if self.state.best_step == step and self.state.best != old.best:
            self.best_weights = cloned_state_dict(runner.model)
        if 'collapsed' in reason:
            runner.logger.warning(f'AutoEpochs: {reason} at {unit} {step}.')
        if action == DECAY:
            ratio = self.state.scale / old.scale
            for group in runner.optim_wrapper.param_groups:
                group['lr'] *= ratio
            runner.logger.info(
                f'AutoEpochs: LR x{ratio:g} at {unit} {step} ({reason}); LR '
                f'is now {self.state.scale:g} x initial.')
        elif action == ANNEAL:
            runner.logger.info(f'AutoEpochs: at {unit} {step}, {reason}.')
        elif action == STOP:
            self._stop(runner, step, budget, unit, reason)

    def after_train(self, runner) -> None:
        if self.best_weights is None:
            return
        model = unwrap_model(runner.model)
        model.load_state_dict(self.best_weights)
        runner.logger.info(
            f'AutoEpochs: final weights are the best validated ones '
            f'({self.monitor}={self.state.best:.4g} at step '
            f'{self.state.best_step}), saved as best_auto_epochs.pth.')
        runner.save_checkpoint(runner.work_dir, 'best_auto_epochs.pth',
                               save_optimizer=False, save_param_scheduler=False)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['auto_epochs'] = dict(state=self.state.to_dict(),
                                         best_weights=self.best_weights)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('auto_epochs')
        if saved is not None:
            self.state = PolicyState.from_dict(saved['state'])
            self.best_weights = saved['best_weights']

    # helpers ---------------------------------------------------------------

    def _resumed_before_its_validation(self, runner) -> bool:
        if runner.iter == 0 or not self._by_epoch(runner):
            return False
        loop = runner.train_loop
        validated_then = (runner.epoch >= loop.val_begin and
                          runner.epoch % loop.val_interval == 0)
        last = self.state.trace[-1][0] if self.state.trace else 0
        return validated_then and last < runner.epoch

    @staticmethod
    def _by_epoch(runner) -> bool:
        return isinstance(runner.train_loop, EpochBasedTrainLoop)

    @staticmethod
    def _in_training(runner) -> bool:
        # `runner.val()` alone (no training) must not drive the policy.
        return getattr(runner, '_train_loop', None) is not None and \
            not isinstance(runner._train_loop, dict)

    def _diverged_anywhere(self) -> bool:
        flag = torch.tensor(float(self._nonfinite_loss))
        all_reduce(flag, op='max')
        return bool(flag)

    def _position(self, runner):
        """``(unit, step, budget)``: where training stands, in its own unit."""
        if self._by_epoch(runner):
            return 'epoch', runner.epoch, runner.max_epochs
        return 'iter', runner.iter, runner.max_iters

    def _fractional_position(self, runner, iteration: int) -> float:
        """Where ``iteration`` lies in the policy's unit (epochs count
        fractionally, so the anneal moves every iteration)."""
        if self._by_epoch(runner):
            return iteration / len(runner.train_dataloader)
        return float(iteration)

    def _stop_diverged(self, runner) -> None:
        unit, step, budget = self._position(runner)
        reason = 'the training loss became NaN/inf: training diverged'
        self.state = replace(self.state, stopped=True, reason=reason)
        self._stop(runner, step, budget, unit, reason)

    def _stop(self, runner, step, budget, unit, reason) -> None:
        runner.train_loop.stop_training = True
        runner.logger.info(
            f'AutoEpochs: stopping at {unit} {step} of {budget} ({reason}); '
            f'{budget - step} {unit}s saved against the cap.')

    def _collapsed(self, runner) -> bool:
        if self._pred_counts is None:
            return False
        size = torch.tensor(float(len(self._pred_counts)))
        all_reduce(size, op='max')
        counts = torch.stack([_grow(self._pred_counts, int(size)),
                              _grow(self._gt_counts, int(size))]).double()
        all_reduce(counts)
        return is_collapsed(counts[0].tolist(), counts[1].tolist())


def _grow(counts: torch.Tensor, size: int) -> torch.Tensor:
    if len(counts) >= size:
        return counts
    return torch.cat([counts, counts.new_zeros(size - len(counts))])

