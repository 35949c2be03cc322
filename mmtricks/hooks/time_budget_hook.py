"""Keep a training run inside its time budget, epoch by epoch.

The planner (``mmtricks/engine/time_budget.py``) chose the size and the
epochs from a few measured steps before training. Epochs can still run
slower than measured (a loaded machine, a slower disk): after each
validation this hook compares the epochs left in the cap with the time left
before the deadline (at the median of the recent epochs' times) and moves
``AutoEpochsLR``'s cap to the epochs that fit, from the planned ones up to
the run's ``max_epochs`` (the planner leaves headroom): the anneal then ends
by the deadline rather than being cut, and epochs faster than measured fill
the budget rather than end it early (:meth:`AutoEpochsLR.move_cap`). When not even
one more epoch fits, it stops through MMEngine's ``stop_training``; the best
validated weights ship as always. The time spent sits in checkpoints under
one key, so a resumed run keeps the deadline of the budget that is left.
"""
import math
import os
import statistics
import time
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from .auto_epochs_hook import AutoEpochsHook

#: The checkpoint key of the hook's state.
STATE_KEY = 'time_budget'


def process_seconds() -> float:
    """Seconds since this process started (Linux; elsewhere since this
    module was imported)."""
    try:
        with open('/proc/self/stat') as stat:
            fields = stat.read().rsplit(')', 1)[1].split()
        started = int(fields[19]) / os.sysconf('SC_CLK_TCK')
        with open('/proc/uptime') as uptime:
            return max(0.0, float(uptime.read().split()[0]) - started)
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _IMPORTED


_IMPORTED = time.monotonic()
#: A process younger than this when the budget starts is a command
#: (``mim train``): its start-up (imports, config) counts against the
#: budget. An older one (a notebook, a test session) counts from then.
FRESH_PROCESS_S = 120.0
_clock = {'origin': None}


def start_budget_clock() -> float:
    """Start the budget's clock (the planner calls it first); return the
    seconds it starts with (the process's start-up, if counted)."""
    startup = process_seconds()
    startup = startup if startup < FRESH_PROCESS_S else 0.0
    _clock['origin'] = time.monotonic() - startup
    return startup


def budget_seconds() -> float:
    """Seconds on the budget's clock (started on first use)."""
    if _clock['origin'] is None:
        start_budget_clock()
    return time.monotonic() - _clock['origin']


#: Epochs whose times estimate the next ones: the recent ones (the first
#: carries warm-up, and other jobs on the machine come and go).
RECENT_EPOCHS = 5


def typical_epoch_seconds(seconds: Sequence[float]) -> float:
    """The median of the recent epochs' wall times (training, checkpoint
    and validation), robust to one slow epoch."""
    return statistics.median(list(seconds)[-RECENT_EPOCHS:])


def epochs_that_fit(epochs_done: int, epoch_s: float, left_s: float,
                    cap: int) -> int:
    """The cap that ends by the deadline: epochs done plus the whole
    epochs that fit in ``left_s`` seconds, at most ``cap``."""
    if epoch_s <= 0:
        return cap
    return min(cap, epochs_done + max(0, math.floor(left_s / epoch_s)))


@HOOKS.register_module()
class TimeBudgetHook(Hook):
    """End training by ``budget_s`` seconds after the process started.

    Args:
        budget_s (float): The run's budget in seconds (``time_budget``
            minutes in the recipe; the planner adds this hook).
        reserve (float): Share of the budget kept for the end of training.
        planned_epochs (int, optional): The cap a fresh run starts with
            (the planner's epochs); later validations move it within the
            run's ``max_epochs``. None: start at ``max_epochs``.
    """

    # After AutoEpochsHook (also LOWEST, listed before it by the recipe):
    # this validation's decision is taken under the cap it was planned
    # with, the next ones under the new one.
    priority = 'LOWEST'
    #: A moved cap is logged when it moved by this share since last said
    #: (epochs drift by one as their mean time settles).
    LOG_SHARE = 0.1

    def __init__(self, budget_s: float, reserve: float = 0.05,
                 planned_epochs: Optional[int] = None) -> None:
        if budget_s <= 0 or not 0 <= reserve < 1 or \
                (planned_epochs is not None and planned_epochs < 1):
            raise ValueError(f'budget_s must be > 0, reserve in [0, 1) and '
                             f'planned_epochs >= 1, got {budget_s}, '
                             f'{reserve} and {planned_epochs}.')
        self.budget_s = float(budget_s)
        self.reserve = float(reserve)
        self.planned_epochs = planned_epochs
        self.spent_before = 0.0
        self.deadline: Optional[float] = None

    def _spent(self) -> float:
        return self.spent_before + budget_seconds()

    def before_train(self, runner) -> None:
        now = time.monotonic()
        left = self.budget_s * (1 - self.reserve) - self._spent()
        self.deadline = now + left
        self.epoch_seconds = []
        policy = self._policy(runner)
        if policy is not None and self.planned_epochs and runner.epoch == 0:
            policy.move_cap(self.planned_epochs)  # resumed: its own cap
        self.logged_cap = runner.max_epochs if policy is None \
            else policy.budget
        runner.logger.info(
            f'Time budget: {self.budget_s / 60:g} min, {max(0, left):.0f} s '
            f'left for training ({self._spent():.0f} s spent before it).')

    def before_train_epoch(self, runner) -> None:
        self.epoch_start = time.monotonic()

    def after_val_epoch(self, runner, metrics=None) -> None:
        if self.deadline is None or runner.train_loop.stop_training or \
                getattr(self, 'epoch_start', None) is None:
            return
        now = time.monotonic()
        self.epoch_seconds.append(now - self.epoch_start)
        self.epoch_start = None
        epoch_s = typical_epoch_seconds(self.epoch_seconds)
        scheduler = self._policy(runner)
        cap = epochs_that_fit(runner.epoch, epoch_s, self.deadline - now,
                              runner.max_epochs)
        if cap <= runner.epoch:
            runner.train_loop.stop_training = True
            runner.logger.warning(
                f'Time budget: stopping after epoch {runner.epoch}: another '
                f'epoch ({epoch_s:.1f} s) would end after the deadline '
                f'({self.budget_s / 60:g} min). The best validated weights '
                'ship; give a larger time_budget to train longer.')
        elif scheduler is not None and cap != scheduler.budget:
            before = scheduler.budget
            scheduler.move_cap(cap)
            said = abs(scheduler.budget - self.logged_cap) >= \
                self.LOG_SHARE * self.logged_cap
            getattr(runner.logger, 'info' if said else 'debug')(
                f'Time budget: epochs take {epoch_s:.1f} s; the cap moves '
                f'from {before} to {scheduler.budget} epochs to end by the '
                'deadline.')
            if said:
                self.logged_cap = scheduler.budget

    @staticmethod
    def _policy(runner):
        """The run's AutoEpochsLR, or None: without it the deadline is
        only kept by stopping."""
        try:
            return AutoEpochsHook.scheduler(runner)
        except ValueError:
            return None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[STATE_KEY] = dict(spent_s=self._spent())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get(STATE_KEY)
        if state:  # resuming: the budget already spent stays spent
            self.spent_before = float(state['spent_s'])
