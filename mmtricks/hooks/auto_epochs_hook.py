import os
import os.path as osp
import shutil
from typing import Dict, Optional

from mmengine.dist import barrier, is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.runner import EpochBasedTrainLoop, load_checkpoint
from mmpretrain.registry import HOOKS

from ..models.model_state import unwrap_model
from ..optim.scheduler.plateau_policy import (ANNEAL, DECAY, STOP,
                                             PolicyState)

#: The stable name of the shipped weights in ``work_dir``.
SHIPPED_NAME = 'best_auto_epochs.pth'
#: Message-hub key where :class:`HealthCheckHook` publishes a collapse.
COLLAPSED_KEY = 'health_check/predictions_collapsed'


@HOOKS.register_module()
class AutoEpochsHook(Hook):
    """Connects :class:`~mmtricks.optim.AutoEpochsLR` to the run.

    The scheduler (in ``param_scheduler``) holds the policy and owns the LR;
    this hook only wires events, as MMEngine's ``EMAHook`` does:

    * after each validation during training it hands the metrics (and the
      collapse flag :class:`HealthCheckHook` publishes) to the scheduler,
      logs the decision, and sets ``train_loop.stop_training`` when the
      policy stops, as MMEngine's ``EarlyStoppingHook`` does;
    * a run resumed from a checkpoint written before that epoch's validation
      validates first, so it decides as an uninterrupted run would;
    * at the end, the best checkpoint of ``CheckpointHook(save_best=...)``
      (on the scheduler's monitor) is loaded into the model and linked as
      ``work_dir/best_auto_epochs.pth`` (a hard link: no second copy on
      disk; a copy where the file system has no hard links).

    Validation metrics are the same on every rank, and the collapse flag is
    reduced over ranks, so every rank decides the same.
    """

    # After every other hook, explicitly: the re-validation of a resumed
    # epoch (before_train) saves a new best through CheckpointHook, which
    # sets itself up in its own before_train (VERY_LOW); the collapse flag
    # comes from HealthCheckHook's after_val_epoch; and the best weights are
    # loaded (after_train) once CheckpointHook has finished with the last.
    priority = 'LOWEST'

    def __init__(self):
        self._training = False
        self.policy_scheduler = None

    @property
    def state(self) -> Optional[PolicyState]:
        """The policy's state (best, trace, stop reason); None before
        training."""
        return None if self.policy_scheduler is None else \
            self.policy_scheduler.state

    # the parts it connects --------------------------------------------------

    @staticmethod
    def scheduler(runner):
        """The run's :class:`~mmtricks.optim.AutoEpochsParamScheduler`.

        Args:
            runner (Runner): The runner.
        """
        from ..optim.scheduler import AutoEpochsParamScheduler
        schedulers = runner.param_schedulers or []
        if isinstance(schedulers, dict):
            schedulers = [s for group in schedulers.values() for s in group]
        found = [s for s in schedulers
                 if isinstance(s, AutoEpochsParamScheduler)]
        if len(found) != 1:
            raise ValueError(
                f'AutoEpochsHook needs exactly one AutoEpochsLR in '
                f'param_scheduler, found {len(found)}: add dict('
                "type='AutoEpochsLR', by_epoch=True, convert_to_iter_based="
                'True) after the warmup scheduler.')
        return found[0]

    # runner events -------------------------------------------------------

    def before_train(self, runner) -> None:
        """Check the set-up; validate a resumed epoch that was not.

        Args:
            runner (Runner): The runner.
        """
        if runner.val_loop is None:
            raise ValueError(
                'AutoEpochsHook decides from validation results, but no '
                'val_dataloader/val_cfg/val_evaluator is configured. Add a '
                'validation set, or remove the hook and set max_epochs.')
        # After LRFinderHook (VERY_HIGH), which rebuilds the schedulers.
        scheduler = self.policy_scheduler = self.scheduler(runner)
        by_epoch = isinstance(runner.train_loop, EpochBasedTrainLoop)
        budget = runner.max_epochs if by_epoch else runner.max_iters
        counts_epochs = scheduler.by_epoch or scheduler.converted_to_iters
        if by_epoch != counts_epochs or scheduler.budget != budget:
            raise ValueError(
                f'AutoEpochsLR must count what the train loop counts, up to '
                f'its cap ({budget} {"epochs" if by_epoch else "iters"}): '
                'use by_epoch=True with convert_to_iter_based=True for '
                'epoch-based training, by_epoch=False for iteration-based, '
                'and leave `end` unset (or the cap).')
        self._best_checkpoint_hook(runner, scheduler.monitor)
        self._training = True
        if self._resumed_before_its_validation(runner, scheduler):
            # Checkpoints are written before the epoch's validation; without
            # it the resumed policy would miss one decision.
            runner.logger.info(
                f'AutoEpochs: validating resumed epoch {runner.epoch}, which '
                'the checkpoint was saved before.')
            runner.val_loop.run()

    def after_val_epoch(self, runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        """Hand the validation to the scheduler; stop if it says so.

        Args:
            runner (Runner): The runner.
            metrics (dict, optional): The validation metrics.
        """
        if not self._training:  # `runner.val()` alone decides nothing
            return
        scheduler = self.policy_scheduler
        collapsed = bool(runner.message_hub.get_info(COLLAPSED_KEY, False))
        scale_before = scheduler.state.scale
        action, reason = scheduler.step_validation(metrics or {}, collapsed)
        step, unit = scheduler.last_validated_step, self._unit(runner)
        if action == DECAY:
            runner.logger.info(
                f'AutoEpochs: LR x{scheduler.state.scale / scale_before:g} '
                f'at {unit} '
                f'{step} ({reason}); LR is now {scheduler.state.scale:g} x '
                'initial.')
        elif action == ANNEAL:
            runner.logger.info(f'AutoEpochs: at {unit} {step}, {reason}.')
        elif action == STOP:
            runner.train_loop.stop_training = True
            runner.logger.info(
                f'AutoEpochs: stopping at {unit} {step} of '
                f'{scheduler.budget} ({reason}); '
                f'{scheduler.budget - step} {unit}s saved against the cap.')

    def after_train(self, runner) -> None:
        """Load the best checkpoint into the model; link it as the shipped
        weights.

        Args:
            runner (Runner): The runner.
        """
        self._training = False
        monitor = self.policy_scheduler.monitor
        best = self._best_checkpoint_path(runner, monitor)
        # Rank 0 writes the best checkpoint; the other ranks must not look
        # for it (or load it) before it is complete.
        barrier()
        if best is None or not osp.isfile(best):
            runner.logger.warning(
                f'AutoEpochs: no best checkpoint on {monitor!r} was written '
                f'(path: {best}); the final weights are the last ones and '
                f'{SHIPPED_NAME} is not written. Check the validation '
                'metric for NaN.')
            return
        shipped = osp.join(runner.work_dir, SHIPPED_NAME)
        how = link_or_copy(best, shipped) if is_main_process() else None
        load_checkpoint(unwrap_model(runner.model), best, map_location='cpu',
                        strict=True)
        if how is not None:
            runner.logger.info(
                f'AutoEpochs: final weights are the best validated ones '
                f'({monitor}={runner.message_hub.get_info("best_score"):.4g}'
                f', {osp.basename(best)}), {how} as {SHIPPED_NAME}.')

    # helpers ---------------------------------------------------------------

    @staticmethod
    def _unit(runner) -> str:
        return 'epoch' if isinstance(runner.train_loop,
                                     EpochBasedTrainLoop) else 'iter'

    @staticmethod
    def _resumed_before_its_validation(runner, scheduler) -> bool:
        if runner.iter == 0 or \
                not isinstance(runner.train_loop, EpochBasedTrainLoop):
            return False
        loop = runner.train_loop
        validated_then = (runner.epoch >= loop.val_begin and
                          runner.epoch % loop.val_interval == 0)
        return validated_then and scheduler.last_validated_step < runner.epoch

    @staticmethod
    def _best_checkpoint_hook(runner, monitor: str) -> CheckpointHook:
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and hook.save_best and \
                    monitor in hook.key_indicators:
                rule = hook.rules[hook.key_indicators.index(monitor)]
                if rule != 'greater':
                    raise ValueError(
                        f"CheckpointHook keeps the best {monitor!r} with "
                        f"rule={rule!r}; AutoEpochsLR's monitor is higher-"
                        "is-better: set rule='greater'.")
                return hook
        raise ValueError(
            f'AutoEpochsHook ships the best checkpoint on {monitor!r}: set '
            f"default_hooks.checkpoint=dict(type='CheckpointHook', "
            f"save_best='{monitor}', rule='greater', ...).")

    def _best_checkpoint_path(self, runner, monitor: str) -> Optional[str]:
        hook = self._best_checkpoint_hook(runner, monitor)
        if len(hook.key_indicators) == 1:
            return hook.best_ckpt_path
        return hook.best_ckpt_path_dict.get(monitor)


def link_or_copy(source: str, target: str) -> str:
    """Make ``target`` name the file ``source``: a hard link, or a copy where
    the file system has none. Returns ``'linked'`` or ``'copied'``."""
    if osp.lexists(target):
        os.remove(target)
    try:
        os.link(source, target)
        return 'linked'
    except OSError:
        shutil.copyfile(source, target)
        return 'copied'
