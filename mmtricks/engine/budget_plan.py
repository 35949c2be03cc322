"""What fits in a time budget: the input size, the epochs and the LR range
test's length, as a pure rule over measured step times.

The rule prefers the largest input size at which the epoch policy gets the
epochs it needs: on the bundled sets ``configs/auto_mbv3.py``'s policy
(plateau, then an anneal) ran 26 to 42 epochs from scratch before it stopped
(docs/benchmarks/auto_epochs.md, ``anneal_p5``; 38 +- 9 on elpv_poly,
docs/benchmarks/input_size.md), and on elpv_poly every size from 64 px up
scored within a point of the others while 32 px lost 6 points of macro-F1
(docs/benchmarks/input_size.md). So a size is worth its cost only while the
run still gets :data:`NEEDED_EPOCHS`; below that, the smallest size trains
longest. Fewer than :data:`MIN_EPOCHS` at the smallest size is refused,
naming the budget that would do.
"""
import math
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence

#: Epochs the automatic epoch policy used before stopping on the bundled
#: sets (26-42, see above): a size is chosen only if the run gets them.
NEEDED_EPOCHS = 40
#: Fewest epochs worth starting: the policy's warmup (2), patience (5) and
#: shortest anneal (5) need about this many to act at all.
MIN_EPOCHS = 12
#: Most epochs planned: a budget larger than the data needs ends early
#: rather than training for the sake of the clock.
MAX_EPOCHS = 200
#: The epoch cap a budgeted run is built with, over its planned epochs:
#: TimeBudgetHook moves the cap to the epochs that fit after each
#: validation, so epochs that run faster than measured still fill the
#: budget (with the plan as the ceiling, a 15-minute run whose epochs took
#: 17% less than priced ended at 81% of its budget).
EPOCH_HEADROOM = 1.5
#: Share of the budget kept back for what is not measured (the end of
#: training: loading the best weights, the last checkpoint).
RESERVE = 0.05
#: LR range test steps under a budget: LRFinderHook's own 50, whatever the
#: budget. Its cost is counted, not scaled: fewer steps make each a larger
#: jump in LR (x1.78 at 20 steps against x1.26 at 50), and the answer moves.
#: 50 were the fewest that kept the LR within x2 over seeds
#: (docs/lr_finder.md); at the 19-23 steps a budget gave before, pretrained
#: EfficientNet-Lite0 on elpv_poly got LRs from 0.0015 to 0.117
#: (docs/time_budget.md).
FINDER_STEPS = 50
#: Seconds the checkpoints of an epoch take when not measured (the
#: planner measures them: engine/step_timing.py).
CHECKPOINT_S = 0.3


def epochs_needed(cap=None) -> int:
    """The epochs a plan must give a recipe whose epoch cap is ``cap``:
    those the epoch policy used from scratch, or the cap when lower
    (EfficientNet-Lite0's fine-tuning recipe: 20)."""
    return min(NEEDED_EPOCHS, int(cap)) if cap else NEEDED_EPOCHS


class BudgetTooSmall(ValueError):
    """Not even the cheapest candidate trains meaningfully in the budget."""


@dataclass(frozen=True)
class SizeTiming:
    """Measured cost of one candidate input size on this machine."""
    size: int
    train_step_s: float    # one optimizer step at the training batch size
    infer_image_s: float   # one image forward (validation, BN statistics)
    checkpoint_s: float = CHECKPOINT_S  # an epoch's checkpoint writes


@dataclass(frozen=True)
class RunShape:
    """What one epoch of the run does, independent of the size."""
    train_steps: int      # optimizer steps per epoch
    eval_images: int      # val images + BN-statistics images per epoch


@dataclass(frozen=True)
class BudgetPlan:
    budget_s: float
    image_size: int
    max_epochs: int
    finder_steps: int
    epoch_s: float
    reason: str
    #: With backbone_candidates: the shipped recipe whose backbone the plan
    #: is for (every rank of a distributed run builds it).
    backbone: Optional[str] = None

    def to_meta(self) -> Dict:
        return asdict(self)


def epoch_ceiling(planned: int) -> int:
    """The cap a run planned for ``planned`` epochs is built with."""
    return min(MAX_EPOCHS, max(planned, math.ceil(EPOCH_HEADROOM * planned)))


def epoch_seconds(timing: SizeTiming, shape: RunShape) -> float:
    return (shape.train_steps * timing.train_step_s +
            shape.eval_images * timing.infer_image_s + timing.checkpoint_s)


def finder_seconds(timing: SizeTiming) -> float:
    """What the LR range test costs at ``timing``'s size."""
    return FINDER_STEPS * timing.train_step_s


def epochs_in_budget(budget_s: float, spent_s: float, timing: SizeTiming,
                     shape: RunShape) -> int:
    """Whole epochs at ``timing``'s size that fit what is left of the
    budget after the reserve, the time spent and the LR range test."""
    left = budget_s * (1 - RESERVE) - spent_s - finder_seconds(timing)
    return max(0, math.floor(left / epoch_seconds(timing, shape)))


def plan_budget(budget_s: float, spent_s: float,
                timings: Sequence[SizeTiming], shape: RunShape,
                needed_epochs: int = NEEDED_EPOCHS,
                min_epochs: int = MIN_EPOCHS) -> BudgetPlan:
    """Choose the size and epochs that fit ``budget_s`` seconds.

    Args:
        budget_s: The whole run's budget, in seconds.
        spent_s: Seconds already gone (start-up, data scan, measuring).
        timings: Each candidate size's measured costs (any order).
        shape: Steps and evaluated images per epoch.

    Raises:
        BudgetTooSmall: naming the smallest budget that would do.
    """
    if not timings:
        raise ValueError('No candidate size was measured.')
    timings = sorted(timings, key=lambda t: t.size)
    fits: List[tuple] = []
    for timing in timings:
        fits.append((timing, epoch_seconds(timing, shape),
                     epochs_in_budget(budget_s, spent_s, timing, shape)))
    good = [fit for fit in fits if fit[2] >= needed_epochs]
    if good:
        timing, epoch_s, epochs = good[-1]
        why = (f'the largest size that gets the {needed_epochs} epochs the '
               'epoch policy needs')
        larger = [fit for fit in fits if fit[0].size > timing.size]
        if larger:
            why += (f' ({larger[0][0].size} px would get '
                    f'{larger[0][2]})')
    else:
        timing, epoch_s, epochs = fits[0]
        if epochs < min_epochs:
            need = (spent_s + finder_seconds(timing) +
                    min_epochs * epoch_s) / (1 - RESERVE)
            raise BudgetTooSmall(
                f'time_budget={budget_s / 60:g} min is too small: even '
                f'{timing.size} px gets {epochs} epochs ({epoch_s:.1f} s '
                f'each, {spent_s:.0f} s already spent), under the '
                f'{min_epochs} the epoch policy needs. Give at least '
                f'time_budget={math.ceil(need / 60)} (minutes), or fewer '
                'training images.')
        why = (f'the smallest size; it gets {epochs} epochs, under the '
               f'{needed_epochs} the epoch policy used on the bundled sets, '
               'so a larger budget may still pay')
    epochs = min(epochs, MAX_EPOCHS)
    reason = (f'time budget {budget_s / 60:g} min: image_size at most '
              f'{timing.size}, {epochs} epochs ({epoch_s:.1f} s each: '
              f'{shape.train_steps} steps x {timing.train_step_s:.3f} s + '
              f'{shape.eval_images} evaluated images x '
              f'{1000 * timing.infer_image_s:.2f} ms + checkpoints '
              f'{timing.checkpoint_s:.1f} s), LR range test '
              f'{FINDER_STEPS} steps ({finder_seconds(timing):.0f} s); '
              f'{why}. Measured here: ' + ', '.join(
                  f'{t.size} px {t.train_step_s:.3f} s/step'
                  for t in timings) + f'; {spent_s:.0f} s spent before.')
    return BudgetPlan(budget_s=float(budget_s), image_size=timing.size,
                      max_epochs=int(epochs), finder_steps=FINDER_STEPS,
                      epoch_s=float(epoch_s), reason=reason)
