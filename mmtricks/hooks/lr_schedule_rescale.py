"""Give a run a new initial LR as if the config had said it."""
from typing import Iterable, List

from mmengine.optim.scheduler import OneCycleParamScheduler


def lr_schedulers(param_schedulers) -> List:
    """The LR schedulers of a runner's ``param_schedulers`` (list or dict)."""
    if param_schedulers is None:
        return []
    if isinstance(param_schedulers, dict):
        found = []
        for schedulers in param_schedulers.values():
            found.extend(schedulers)
        schedulers = found
    else:
        schedulers = list(param_schedulers)
    return [s for s in schedulers if getattr(s, 'param_name', None) == 'lr']


def check_rescalable(schedulers: Iterable) -> None:
    for scheduler in schedulers:
        if isinstance(scheduler, OneCycleParamScheduler):
            raise ValueError(
                'OneCycleLR sets its own peak LR (eta_max), so a found LR '
                'cannot be applied to it: use LinearLR warmup + '
                'CosineAnnealingLR, or remove LRFinderHook.')


def apply_initial_lr(optim_wrapper, schedulers, lr: float) -> List[float]:
    """Set the initial LR of ``optim_wrapper`` to ``lr``, replay the schedulers.

    ``optim_wrapper.param_groups`` includes MMEngine's ``base_param_settings``
    (the LR it logs as ``base_lr``), which the schedulers update as well.

    Parameter groups keep their ratios to the first group (``paramwise_cfg``
    multipliers). Each scheduler gets the new ``base_values`` and, if it is
    active at the first step, recomputes the value it applied when it was
    built, in the same order; the arithmetic is the same as for a run whose
    config had said ``lr``, so the two runs are bitwise identical. Must be
    called before the first training step.

    Returns:
        list[float]: The new initial LR of each parameter group.
    """
    groups = optim_wrapper.param_groups
    reference = groups[0].get('initial_lr', groups[0]['lr'])
    ratios = [g.get('initial_lr', g['lr']) / reference for g in groups]
    initial = [lr if i == 0 else lr * ratio
               for i, ratio in enumerate(ratios)]
    for group, value in zip(groups, initial):
        group['initial_lr'] = value
        group['lr'] = value
    for scheduler in schedulers:
        scheduler.base_values = list(initial)
        if scheduler.last_step == 0:
            for group, value in zip(groups, scheduler._get_value()):
                group['lr'] = value
        scheduler._last_value = [group['lr'] for group in groups]
    return initial
