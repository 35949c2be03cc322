"""``time_budget`` (minutes): plan the run to end within it, before training.

The planner makes the data decisions once on a copy of the config with the
budget's size cap (:data:`BUDGET_MAX_IMAGE_SIZE`, not above the images' own
size), measures a training step and an image forward at each candidate size
in increasing order (:mod:`.step_timing`, stopping at the first size that no
longer fits), and applies :func:`~.budget_plan.plan_budget`'s choice to the
config:

- ``max_image_size``: the chosen size (``image_size='auto'`` then takes it,
  as the compute budget it always was);
- ``train_cfg.max_epochs``: the epochs that fit, with headroom
  (:func:`~.budget_plan.epoch_ceiling`); the run starts capped at the
  planned ones and ``AutoEpochsLR``'s anneal fills what its plateau leaves
  of them, so the run ends near the budget;
- ``LRFinderHook.num_steps``: its own 50, whatever the budget (fewer made
  the answer move), their cost counted in the plan;
- a :class:`~mmtricks.hooks.TimeBudgetHook`, which moves the cap to the
  epochs that fit by the deadline when epochs turn out slower or faster
  than measured.

The plan is stored with the data decisions in every checkpoint; a resumed
run takes it back instead of measuring again. Without ``time_budget`` the
recipe is unchanged.
"""
import copy
import numbers
import os
from dataclasses import dataclass, replace
from typing import Callable, Dict, Optional

from ..datasets.facts import training_split_facts
from ..hooks.time_budget_hook import (TimeBudgetHook, budget_seconds,
                                      start_budget_clock)
from .backbone_choice import apply_candidate, load_candidates
from .backbone_rule import choose_backbone
from .budget_plan import (NEEDED_EPOCHS, RESERVE, BudgetPlan, BudgetTooSmall,
                          RunShape, epoch_ceiling, epochs_in_budget,
                          epochs_needed, plan_budget)
from .config_keys import config_hook
from .data_decisions import MIN_IMAGE_SIZE, SIZE_STEP, RecipeConfigError
from .step_timing import time_sizes

BUDGET_KEY = 'time_budget'
#: The largest size a budget may buy (it never exceeds the images' own):
#: MobileNetV3 and EfficientNet-Lite's ImageNet size.
BUDGET_MAX_IMAGE_SIZE = 224


def requested_budget_s(cfg) -> Optional[float]:
    minutes = cfg.get(BUDGET_KEY)
    if minutes is None:
        return None
    if isinstance(minutes, bool) or not isinstance(minutes, numbers.Real) \
            or minutes <= 0:
        raise RecipeConfigError(
            f'time_budget must be a positive number of minutes (or None), '
            f'got {minutes!r}.')
    return float(minutes) * 60


def _run_shape(cfg, batch_size: int, world_size: int = 1) -> RunShape:
    """Steps and evaluated images of one epoch on one rank, from the
    data (a distributed run splits both over its ranks)."""
    train = sum(training_split_facts(copy.deepcopy(
        cfg['train_dataloader']['dataset'])).counts)
    loader = cfg.get('val_dataloader')
    val = sum(training_split_facts(copy.deepcopy(loader['dataset'])).counts) \
        if loader else 0
    steps = max(1, train // (batch_size * world_size))
    bn = config_hook(cfg, 'PreciseBNStatsHook')
    bn_images = 0 if bn is None else min(
        bn.get('num_samples', 1024),
        int(bn.get('max_epoch_fraction', 0.25) * steps * batch_size))
    return RunShape(train_steps=steps,
                    eval_images=-(-val // world_size) + bn_images)


def _epochs_needed(cfg) -> int:
    return epochs_needed((cfg.get('train_cfg') or {}).get('max_epochs'))


@dataclass(frozen=True)
class Measured:
    """What the planner measured of one config: each size's costs."""
    timings: tuple
    shape: RunShape
    needed_epochs: int


def measure(cfg, budget_s: float, world_size: int = 1,
            needed_epochs: int = NEEDED_EPOCHS) -> Measured:
    """Decide the data on a copy of ``cfg`` under the budget's size cap and
    time the candidate sizes, smallest first, up to the first that would
    not get ``needed_epochs``."""
    from .cpu_settings import apply_cpu_settings
    from .recipe_config import apply_data_decisions
    probe = copy.deepcopy(cfg)
    if probe.get('image_size', 'auto') in ('auto', None):
        probe['max_image_size'] = BUDGET_MAX_IMAGE_SIZE
    decisions = apply_data_decisions(probe)
    apply_cpu_settings(probe)  # the threads the run will train on
    largest, batch = decisions.image_size, decisions.batch_size
    if cfg.get('image_size', 'auto') not in ('auto', None):
        sizes = [largest]  # the user's size: the budget plans the epochs
    else:
        sizes = range(MIN_IMAGE_SIZE, largest + 1, SIZE_STEP)
    shape = _run_shape(probe, batch, world_size)
    _threads_by_measurement(probe, batch, min(largest, 96))

    def fits(timing) -> bool:
        return epochs_in_budget(budget_s, budget_seconds(), timing,
                                shape) >= needed_epochs

    return Measured(tuple(time_sizes(probe, sizes, batch, keep_going=fits)),
                    shape, needed_epochs)


def plan_measured(cfg, budget_s: float, measured: Measured) -> BudgetPlan:
    """:func:`~.budget_plan.plan_budget` on the clock as it is now, with
    the compile's cost kept out of the budget."""
    timings, shape = measured.timings, measured.shape
    plan = plan_budget(budget_s, budget_seconds(), timings, shape,
                       needed_epochs=measured.needed_epochs)
    compile_s = compile_reserve_s(cfg.get('compile'), plan, timings, shape)
    if compile_s:
        plan = plan_budget(budget_s, budget_seconds() + compile_s, timings,
                           shape, needed_epochs=measured.needed_epochs)
        plan = replace(plan, reason=plan.reason + (
            f' {compile_s:.0f} s kept for torch.compile (compile='
            f'{cfg.get("compile")!r}).'))
    return plan


def measure_and_plan(cfg, budget_s: float, world_size: int = 1
                     ) -> BudgetPlan:
    """Measure ``cfg`` and plan; with ``backbone_candidates``, measure
    each candidate and choose one (engine/backbone_rule.py): the plan
    names it (``backbone``)."""
    candidates = load_candidates(cfg)
    if not candidates:
        return plan_measured(cfg, budget_s, measure(
            cfg, budget_s, world_size, _epochs_needed(cfg)))
    measured = []
    for candidate in candidates:
        probe = copy.deepcopy(cfg)
        apply_candidate(probe, candidate, candidates)
        measured.append((probe, measure(probe, budget_s, world_size,
                                        _epochs_needed(probe))))
    options, plans = [], []
    for candidate, (probe, measures) in zip(candidates, measured):
        needed = measures.needed_epochs
        try:  # every plan on the clock after all the measuring
            plans.append(plan_measured(probe, budget_s, measures))
            options.append(candidate.option(needed, plan=plans[-1]))
        except BudgetTooSmall as error:
            plans.append(None)
            options.append(candidate.option(needed, refused=str(error)))
    try:
        pick, reason = choose_backbone(options)
    except ValueError as error:
        raise BudgetTooSmall(str(error)) from None
    # Written into the config by plan_time_budget, on every rank.
    return replace(plans[pick], backbone=candidates[pick].recipe,
                   reason=f'{plans[pick].reason} Chosen {reason}')


def compile_reserve_s(setting, plan: BudgetPlan, timings, shape) -> float:
    """Seconds a compile will take out of the budget: what 'auto' expects
    a compile to cost (MIN_COMPILE_S) when it compiles, or would try to
    over the planned steps; none when eager."""
    from .compile_settings import (EXPECTED_SPEEDUP, MIN_COMPILE_S,
                                   parse_compile_setting, worth_a_trial)
    mode = parse_compile_setting(setting).mode
    if mode == 'off':
        return 0.0
    if mode != 'auto':
        return MIN_COMPILE_S
    step_s = next(t.train_step_s for t in timings
                  if t.size == plan.image_size)
    iterations = plan.max_epochs * shape.train_steps + plan.finder_steps
    return MIN_COMPILE_S if worth_a_trial(step_s, iterations,
                                          EXPECTED_SPEEDUP['cpu']) else 0.0


def _threads_by_measurement(probe, batch: int, size: int) -> None:
    """Time the candidates on the threads training will take: those the
    measurement before training (engine/thread_measurement.py) would
    choose, not the load average's guess (which lags: a job that ended a
    minute ago still counts, and epochs then ran twice as fast as
    planned)."""
    import torch

    from ..cpu_facts import usable_cpus
    from .cpu_settings import local_world_size
    from .step_timing import build_timing_model
    from .thread_measurement import measure_threads, skip_reason
    if skip_reason(probe) is not None:
        return
    cores = usable_cpus() // local_world_size()
    threads, _ = measure_threads(build_timing_model(probe), batch, size,
                                 cores, torch.get_num_threads())
    torch.set_num_threads(threads)


def apply_plan(cfg, plan: BudgetPlan) -> None:
    """Write ``plan`` into ``cfg`` (see the module's docstring)."""
    if cfg.get('image_size', 'auto') in ('auto', None):
        cfg['max_image_size'] = plan.image_size
    cfg['train_cfg']['max_epochs'] = epoch_ceiling(plan.max_epochs)
    for scheduler in cfg.get('param_scheduler') or []:
        if isinstance(scheduler, dict) and \
                scheduler.get('type') == 'AutoEpochsLR' and \
                scheduler.get('mode') == 'anneal':
            # An anneal as long as the cap allows: the budget is the user's
            # to spend, and a longer cosine tail does not hurt.
            scheduler['anneal_ratio'] = float(plan.max_epochs)
    finder = config_hook(cfg, 'LRFinderHook')
    if finder is not None:
        finder['num_steps'] = plan.finder_steps
    hooks = [h for h in cfg.get('custom_hooks') or []
             if not (isinstance(h, dict) and h.get('type') == 'TimeBudgetHook')]
    hooks.append(dict(type=TimeBudgetHook.__name__, budget_s=plan.budget_s,
                      reserve=RESERVE, planned_epochs=plan.max_epochs))
    cfg['custom_hooks'] = hooks


def plan_time_budget(cfg, stored: Optional[Dict] = None
                     ) -> Optional[BudgetPlan]:
    """Plan and apply ``cfg.time_budget`` (None: nothing to do).

    Args:
        stored: The plan a checkpoint being resumed was trained under: taken
            back as it is (the size must stay the one trained at).
    """
    budget_s = requested_budget_s(cfg)
    if budget_s is None:
        return None
    start_budget_clock()
    if stored:
        plan = BudgetPlan(**stored)
        plan = BudgetPlan(**dict(stored, budget_s=budget_s, reason=(
            f'time budget {budget_s / 60:g} min: the resumed checkpoint\'s '
            f'plan kept ({plan.image_size} px, {plan.max_epochs} epochs).')))
    else:
        plan = _planned_on_rank_0(
            cfg, lambda world_size: measure_and_plan(cfg, budget_s,
                                                     world_size))
        if plan.backbone:
            candidates = load_candidates(cfg)
            apply_candidate(cfg, next(c for c in candidates
                                      if c.recipe == plan.backbone),
                            candidates)
    apply_plan(cfg, plan)
    return plan


def _planned_on_rank_0(cfg, plan: Callable[[int], BudgetPlan]
                       ) -> BudgetPlan:
    """``plan(world_size)`` on rank 0, taken by every rank of a
    distributed launch (measured times differ between processes, so each
    measuring would decide its own size). Starts MMEngine's process group
    early for it, which the Runner then uses as it finds it. A refused
    budget is refused on every rank, with rank 0's message."""
    world_size = int(os.environ.get('WORLD_SIZE', '1'))
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or world_size < 2:
        try:
            return plan(1)
        except BudgetTooSmall as error:
            raise RecipeConfigError(str(error)) from None
    from mmengine.dist import (broadcast_object_list, get_rank, init_dist,
                               is_distributed)
    if not is_distributed():
        init_dist(launcher, **((cfg.get('env_cfg') or {}).get('dist_cfg')
                               or {}))
    box = [None]
    if get_rank() == 0:
        try:
            box = [plan(world_size)]
        except BudgetTooSmall as error:
            box = [str(error)]
    broadcast_object_list(box)
    if isinstance(box[0], str):
        raise RecipeConfigError(box[0])
    return box[0]
