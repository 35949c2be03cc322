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


def apply_initial_lr(runner, lr: float) -> List[float]:
    """Start the run at initial LR ``lr``, as if its config had said it.

    Sets every parameter group's LR (``paramwise_cfg`` multipliers kept as
    ratios to the first group; MMEngine's ``base_param_settings`` group,
    logged as ``base_lr``, included) and rebuilds the run's param schedulers
    from its config with MMEngine's public ``Runner.build_param_scheduler``:
    they take the new LR as their base value and apply their first step to
    it exactly as in a run configured with ``lr``. Must be called before the
    first training step (the schedulers start afresh).

    Args:
        runner (Runner): A runner whose schedulers are built, not stepped.
        lr (float): The new initial LR of the first parameter group.

    Returns:
        list[float]: The new initial LR of each parameter group.
    """
    if runner.iter != 0:
        raise RuntimeError('apply_initial_lr restarts the LR schedule and '
                           'must run before the first training step.')
    configs = runner.cfg.get('param_scheduler')
    if runner.param_schedulers and not configs:
        raise ValueError(
            'The runner has param schedulers but its config has no '
            '`param_scheduler` to rebuild them from with the new LR; build '
            'the runner from a config (Runner.from_cfg).')
    groups = runner.optim_wrapper.param_groups
    reference = groups[0].get('initial_lr', groups[0]['lr'])
    ratios = [g.get('initial_lr', g['lr']) / reference for g in groups]
    initial = [lr if i == 0 else lr * ratio
               for i, ratio in enumerate(ratios)]
    for group, value in zip(groups, initial):
        group['initial_lr'] = value
        group['lr'] = value
    if configs:
        runner.param_schedulers = runner.build_param_scheduler(configs)
    return initial
