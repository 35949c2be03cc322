"""The headline benchmark's per-iteration cost of mmtricks: whole
iterations with and without its hooks, and the time inside each hook."""
import functools
import os.path as osp
import statistics
import time
from typing import Callable, Dict, Sequence

from ..runs import bundled_config, dataset_label
from .plan import stock_config


TRAIN_EVENTS = ('before_train_epoch', 'before_train_iter',
                'after_train_iter', 'after_train_epoch')


def time_hook_events(hooks, events: Sequence[str] = TRAIN_EVENTS,
                     clock: Callable[[], float] = time.perf_counter
                     ) -> Dict[str, float]:
    """Make each hook add the wall time of its ``events`` to the returned
    dict, by hook class: the cost of the hooks themselves, which a
    whole-iteration comparison cannot resolve when runs of one config
    differ by several per cent.

    Args:
        hooks: The hooks to time (their event methods are wrapped).
        events: The event methods timed.
        clock: Seconds now (tests pass a fake one).
    """
    spent: Dict[str, float] = {}

    def timed(method, name):
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            start = clock()
            try:
                return method(*args, **kwargs)
            finally:
                spent[name] += clock() - start
        return wrapper

    for hook in hooks:
        name = type(hook).__name__
        spent.setdefault(name, 0.0)
        for event in events:
            # MMEngine calls `getattr(hook, event)(runner, ...)`, so an
            # instance attribute takes the class method's place.
            setattr(hook, event, timed(getattr(hook, event), name))
    return spent


def _iteration_seconds(cfg, warmup: int = 5):
    """Median seconds per training iteration, the mean seconds per
    iteration spent inside mmtricks' own hooks (by hook), and the trained
    runner."""
    from mmtricks.engine import build_runner
    runner = build_runner(cfg)
    spent = time_hook_events(
        h for h in runner.hooks if type(h).__module__.startswith('mmtricks.'))
    runner.train()
    times = runner.message_hub.get_scalar('train/time').data[0][warmup:]
    per_iter = {name: sec / runner.iter for name, sec in spent.items()}
    return float(statistics.median(times)), per_iter, runner


def _iteration_based(cfg, iters: int):
    cfg.train_cfg = dict(by_epoch=False, max_iters=iters, val_interval=10**6)
    cfg.param_scheduler = []
    sampler = cfg.train_dataloader.get('sampler') or {}
    if sampler.get('type') == 'DefaultSampler':
        # MMEngine's iteration loop sleeps 2 s each time a finite sampler
        # runs out, inside the iteration it times: on a folder of a few
        # hundred images every other iteration would include it.
        cfg.train_dataloader.sampler = dict(
            type='InfiniteSampler', shuffle=sampler.get('shuffle', True))
    # AutoEpochsHook only acts on validations (none here) and needs its
    # AutoEpochsLR scheduler, which an iteration-based timing run cannot
    # keep; its per-iteration work, the anneal, is the scheduler's.
    # MMPretrain's stock config has no custom_hooks at all.
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                        if h.get('type') != 'AutoEpochsHook']
    return cfg


def measure_overhead(dataset: str, work_root: str, iters: int = 60,
                     repeats: int = 3,
                     lr_test_seconds: float = float('nan')) -> Dict:
    """Seconds per training iteration of the auto recipe with and without
    mmtricks' hooks, and of the stock recipe; precise BN timed apart.

    The recipes take turns ``repeats`` times and each keeps its fastest
    median: one-off runs on a shared CPU differ by several per cent. The
    time inside mmtricks' hooks is measured in them (fewest of the turns),
    which resolves what the whole-iteration comparison cannot.

    Args:
        dataset: A bundled name or a folder.
        work_root: Where the timed runs' work dirs go.
        iters: Iterations per timed run.
        repeats: Turns of the recipes.
        lr_test_seconds: The LR test's time, reported beside.
    """
    from mmtricks.hooks import PreciseBNStatsHook

    def auto(hooks: bool):
        cfg = bundled_config(dataset, 1, 0, osp.join(work_root, 'overhead'),
                             finder=False, auto_epochs=True)
        if not hooks:
            cfg.custom_hooks = []
        return _iteration_based(cfg, iters)

    def stock():
        return _iteration_based(stock_config(
            dataset, 0, osp.join(work_root, 'overhead_stock')), iters)

    builders = dict(plain=lambda: auto(hooks=False),
                    auto=lambda: auto(hooks=True), stock=stock)
    seconds = {name: float('inf') for name in builders}
    in_hooks = trained_auto = None
    for _ in range(repeats):
        for name, build in builders.items():
            median, by_hook, runner = _iteration_seconds(build())
            seconds[name] = min(seconds[name], median)
            if name != 'auto':
                continue
            trained_auto = runner
            if in_hooks is None or sum(by_hook.values()) < sum(
                    in_hooks.values()):
                in_hooks = by_hook
    precise = next(h for h in trained_auto.hooks
                   if isinstance(h, PreciseBNStatsHook))
    start = time.perf_counter()
    precise.refresh(trained_auto)
    return dict(dataset=dataset_label(dataset), iters=iters, repeats=repeats,
                seconds_per_iter=seconds, hook_seconds_per_iter=in_hooks,
                lr_test_seconds=lr_test_seconds,
                precise_bn_seconds=time.perf_counter() - start)
