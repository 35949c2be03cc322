"""The automatic epoch policy as an MMEngine parameter scheduler.

:func:`~mmtricks.optim.scheduler.plateau_policy.decide` (a pure function) decides after
each validation; this scheduler owns the LR it implies. It is stepped every
iteration by MMEngine's ``ParamSchedulerHook`` (``convert_to_iter_based=True``
in epoch-based runs), so a cosine anneal decided at a validation moves every
iteration, and it receives each validation's result from
:class:`~mmtricks.hooks.AutoEpochsHook`.

Why a hook hands it the validation: ``ParamSchedulerHook`` passes metrics
only to ``by_epoch`` schedulers with ``need_val_args`` (as
``ReduceOnPlateauLR``), and steps those only once per epoch, which cannot
move an anneal every iteration; an iteration-stepped scheduler gets no
metrics from it.
"""
from dataclasses import replace
from typing import Optional, Tuple

from mmengine.optim import _ParamScheduler
from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmpretrain.registry import PARAM_SCHEDULERS

from .plateau_policy import PlateauPolicy, PolicyState, decide, lr_scale_at

INF = int(1e9)


@PARAM_SCHEDULERS.register_module()
class AutoEpochsParamScheduler(_ParamScheduler):
    """Plateau decay or one final cosine anneal, decided from validations.

    Chainable: each step multiplies the current value by the change of the
    policy's scale, so it composes with a warmup ``LinearLR`` listed before
    it. The scale at any point follows from the policy state and the step
    count alone, both saved in the scheduler's state dict, so a resumed run
    continues the same curve bit for bit.

    Args:
        optimizer (Optimizer or OptimWrapper): The wrapped optimizer.
        param_name (str): The parameter to schedule, e.g. ``'lr'``.
        monitor (str): Validation metric, higher is better. Defaults to
            ``'accuracy/top1'``.
        patience, factor, min_scale, stop_patience, min_delta, warmup,
        force_decay_at, mode, anneal_ratio, min_anneal: The policy's
            settings, see :class:`~mmtricks.optim.scheduler.plateau_policy.PlateauPolicy`.
        begin (int): Must be 0: the policy runs from the first step.
        end (int): The budget cap (MMEngine's default: ``max_epochs``, or
            ``max_iters`` in iteration-based runs).
        by_epoch (bool): Whether ``begin``/``end`` count epochs. Use
            ``convert_to_iter_based=True`` with it so the anneal moves every
            iteration. Defaults to True.
        epoch_length (int, optional): Iterations per epoch; set by
            ``convert_to_iter_based``.
        last_step (int): See MMEngine's schedulers. Defaults to -1.
        verbose (bool): Log every change. Defaults to False.
    """

    def __init__(self,
                 optimizer,
                 param_name: str,
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
                 min_anneal: int = 3,
                 begin: int = 0,
                 end: int = INF,
                 by_epoch: bool = True,
                 epoch_length: Optional[int] = None,
                 last_step: int = -1,
                 verbose: bool = False):
        if begin != 0:
            raise ValueError(
                f'{type(self).__name__} decides from the first validation '
                f'and needs begin=0, got begin={begin}; put a warmup '
                'scheduler (LinearLR) before it instead.')
        self.monitor = monitor
        self.policy = PlateauPolicy(
            patience=patience, factor=factor, min_scale=min_scale,
            stop_patience=stop_patience, min_delta=min_delta, warmup=warmup,
            force_decay_at=force_decay_at, mode=mode,
            anneal_ratio=anneal_ratio, min_anneal=min_anneal)
        self.state = PolicyState()
        # Steps per policy unit: iterations per epoch when converted to
        # iteration-based stepping, else 1 (epochs, or iterations).
        self.steps_per_unit = epoch_length or 1
        self.converted_to_iters = epoch_length is not None
        # The cap; the base class stops stepping one step before its `end`
        # (its first step is the constructor's), and the last validation
        # must see the last iteration counted.
        self.cap = self.configured_cap = end
        super().__init__(optimizer, param_name=param_name, begin=begin,
                         end=INF, last_step=last_step, by_epoch=by_epoch,
                         verbose=verbose)

    @classmethod
    def build_iter_from_epoch(cls, *args, begin=0, end=INF, by_epoch=True,
                              epoch_length=None, **kwargs):
        """Build an iteration-stepped instance from an epoch-based config.

        Args:
            begin, end (int): In epochs.
            by_epoch (bool): Must be True.
            epoch_length (int): Iterations per epoch.
        """
        if not by_epoch or not epoch_length:
            raise ValueError('convert_to_iter_based needs by_epoch=True and '
                             'the epoch length.')
        end = end if end == INF else int(end * epoch_length)
        return cls(*args, begin=int(begin * epoch_length), end=end,
                   by_epoch=False, epoch_length=epoch_length, **kwargs)

    # what the policy knows -------------------------------------------------

    @property
    def position(self) -> float:
        """Steps taken, in the policy's unit (fractional within an epoch)."""
        return self.last_step / self.steps_per_unit

    @property
    def budget(self) -> int:
        """The cap in the policy's unit."""
        return int(round(self.cap / self.steps_per_unit))

    @property
    def stopped(self) -> bool:
        """The policy asked to stop training."""
        return self.state.stopped

    @property
    def last_validated_step(self) -> int:
        """The step of the last validation taken (0 before any)."""
        return self.state.trace[-1][0] if self.state.trace else 0

    def scale_at(self, position: float) -> float:
        """Value multiplier (of the initial value) at ``position``.

        Args:
            position (float): Steps in the policy's unit.
        """
        return lr_scale_at(self.policy, self.state, position)

    # stepping ---------------------------------------------------------------

    def _get_value(self):
        """Chainable: the current values times the change of the scale."""
        values = [group[self.param_name]
                  for group in self.optimizer.param_groups]
        if self.last_step == 0:
            return values
        ratio = self.scale_at(self.position) / self.scale_at(
            (self.last_step - 1) / self.steps_per_unit)
        return values if ratio == 1.0 else [v * ratio for v in values]

    def step_validation(self, metrics: dict,
                        collapsed: bool = False) -> Tuple[str, str]:
        """Take one validation's result; change the values at once if the
        policy decays.

        Args:
            metrics (dict): Validation metrics; must hold ``monitor``.
            collapsed (bool): Validation predictions collapsed to one class
                (not taken for a plateau).

        Returns:
            tuple[str, str]: The policy's action and reason.
        """
        if self.monitor not in metrics:
            raise KeyError(
                f'{type(self).__name__} monitors {self.monitor!r}, which '
                f'validation does not report; it reports {sorted(metrics)}. '
                'Set `monitor` to one of them.')
        position = self.position
        step = int(round(position))
        if abs(position - step) > 1e-9:
            raise RuntimeError(
                f'Validation at step {position:g}, inside an epoch: the '
                'scheduler is not stepped every iteration (use '
                'convert_to_iter_based=True with by_epoch=True).')
        old = self.state
        self.state, action, reason = decide(
            self.policy, old, step, float(metrics[self.monitor]),
            self.budget, collapsed=collapsed)
        ratio = self.scale_at(position) / lr_scale_at(self.policy, old,
                                                      position)
        if ratio != 1.0:
            for group in self.optimizer.param_groups:
                group[self.param_name] *= ratio
            self._last_value = [group[self.param_name]
                                for group in self.optimizer.param_groups]
        return action, reason

    def move_cap(self, budget: int) -> None:
        """Move the cap to ``budget`` (in the policy's unit), between the
        step after the last validation and the configured cap: a time
        budget's deadline came closer, or went further, than planned. The
        forced anneal then starts at its share of the new cap, and an
        anneal under way is compressed or stretched to end there, its LR
        moved at once (the curve stays continuous from where it is).

        Args:
            budget (int): The new cap.
        """
        budget = min(max(int(budget), self.last_validated_step + 1),
                     self.configured_budget)
        if budget == self.budget:
            return
        self.cap = budget * self.steps_per_unit
        old = self.state
        if old.anneal_end is None:
            return
        self.state = replace(old, anneal_end=float(budget))
        position = self.position
        ratio = self.scale_at(position) / lr_scale_at(self.policy, old,
                                                      position)
        for group in self.optimizer.param_groups:
            group[self.param_name] *= ratio
        self._last_value = [group[self.param_name]
                            for group in self.optimizer.param_groups]

    @property
    def configured_budget(self) -> int:
        """The cap the scheduler was built with (``move_cap``'s limit)."""
        return int(round(self.configured_cap / self.steps_per_unit))

    # checkpoints: plain types only (loaded with weights_only=True) ----------

    def state_dict(self) -> dict:
        """The scheduler's state; the policy state as a plain dict."""
        state = super().state_dict()
        state.pop('policy')
        state['state'] = self.state.to_dict()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Load :meth:`state_dict` output. The cap stays the config's (a
        run resumed with a larger ``max_epochs`` may train on).

        Args:
            state_dict (dict): The saved state.
        """
        state_dict = dict(state_dict)
        state_dict.pop('cap', None)
        state_dict.pop('configured_cap', None)
        self.state = PolicyState.from_dict(state_dict.pop('state'))
        super().load_state_dict(state_dict)


@PARAM_SCHEDULERS.register_module()
class AutoEpochsLR(LRSchedulerMixin, AutoEpochsParamScheduler):
    """:class:`AutoEpochsParamScheduler` of the learning rate.

    Use it with :class:`~mmtricks.hooks.AutoEpochsHook` (which hands it each
    validation, stops training when it says so and ships the best weights)::

        param_scheduler = [
            dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0,
                 end=2, convert_to_iter_based=True),
            dict(type='AutoEpochsLR', mode='anneal', patience=5,
                 by_epoch=True, end=max_epochs, convert_to_iter_based=True),
        ]
    """
