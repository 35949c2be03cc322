"""When to decay the LR and when to stop: a pure decision over validations.

The policy of the paper this project follows (Prokofiev & Sovrasov; OpenVINO
Training Extensions), restated over validation results: no decisions during
warmup; divide the LR by ``1 / factor`` when the monitored metric has not
improved by ``min_delta`` for ``patience`` validations; force one decay at
``force_decay_at`` of the budget if none happened; stop once the LR is at its
floor (``min_scale`` of the initial LR) and the metric has not improved for
``stop_patience`` validations, or at once when validation says the model
has diverged.

``mode='anneal'`` replaces the staircase by one final anneal, in the manner
of warmup-stable-decay schedules: the LR stays at its initial value while
the metric improves; at the first plateau it follows a half cosine down to
the floor over ``anneal_ratio`` times the steps trained so far (at least
``min_anneal``, at most what is left of the budget), and training stops when
the anneal ends. A cosine tail recovers what a fixed cosine schedule gains
at its end, which step decays only approximate; the plateau decides when it
starts.
"""
import math
from dataclasses import asdict, dataclass, field, replace
from typing import List, Optional, Tuple

NONE, DECAY, ANNEAL, STOP = 'none', 'decay', 'anneal', 'stop'
MODES = ('step', 'anneal')


@dataclass(frozen=True)
class PlateauPolicy:
    """Settings of the policy; counts are in validations.

    Args:
        patience (int): Validations without improvement before a decay.
        factor (float): LR multiplier of a decay, in (0, 1).
        min_scale (float): LR floor relative to the initial LR.
        stop_patience (int): Validations without improvement, at the floor,
            before stopping.
        min_delta (float): Smallest change that counts as an improvement.
        warmup (int): Validations (from the first) without any decision.
        force_decay_at (float): Share of the budget after which a first decay
            is forced if the metric never plateaued; 1 disables it.
        mode (str): ``'step'`` (decays by ``factor``) or ``'anneal'`` (one
            cosine anneal to the floor; ``factor`` and ``stop_patience``
            are then unused).
        anneal_ratio (float): Anneal length as a multiple of the steps
            trained before it (``'anneal'`` mode).
        min_anneal (int): Shortest anneal, in steps (``'anneal'`` mode).
    """

    patience: int = 3
    factor: float = 0.1
    min_scale: float = 0.005
    stop_patience: int = 3
    min_delta: float = 0.1
    warmup: int = 2
    force_decay_at: float = 0.75
    mode: str = 'step'
    anneal_ratio: float = 1.0
    min_anneal: int = 3

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {self.mode!r}.')
        if self.anneal_ratio <= 0 or self.min_anneal < 1:
            raise ValueError('anneal_ratio must be > 0 and min_anneal >= 1, '
                             f'got {self.anneal_ratio}, {self.min_anneal}.')
        if not 0 < self.factor < 1:
            raise ValueError(f'factor must be in (0, 1), got {self.factor}.')
        if not 0 < self.min_scale <= 1:
            raise ValueError(f'min_scale must be in (0, 1], got {self.min_scale}.')
        if self.patience < 1 or self.stop_patience < 1 or self.warmup < 0:
            raise ValueError('patience and stop_patience must be >= 1 and '
                             'warmup >= 0.')


@dataclass(frozen=True)
class PolicyState:
    """Everything the policy remembers; saved in checkpoints."""

    best: Optional[float] = None
    best_step: int = -1
    wait: int = 0
    scale: float = 1.0
    drops: int = 0
    validations: int = 0
    stopped: bool = False
    reason: str = ''
    anneal_start: Optional[float] = None
    anneal_end: Optional[float] = None
    trace: List[Tuple[int, float, float, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> 'PolicyState':
        data = dict(data)
        data['trace'] = [tuple(t) for t in data.get('trace', [])]
        return cls(**data)


def at_floor(policy: PlateauPolicy, state: PolicyState) -> bool:
    return state.scale <= policy.min_scale * (1 + 1e-9)


def cosine_anneal(progress: float, start: float, floor: float) -> float:
    """Half cosine from ``start`` (progress 0) to ``floor`` (progress 1)."""
    progress = min(max(progress, 0.0), 1.0)
    return floor + (start - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def lr_scale_at(policy: PlateauPolicy, state: PolicyState,
                position: float) -> float:
    """LR multiplier (of the initial LR) at ``position`` (steps, fractional
    within an epoch): the staircase level, or a point of the anneal."""
    if state.anneal_start is None:
        return state.scale
    length = state.anneal_end - state.anneal_start
    return cosine_anneal((position - state.anneal_start) / length,
                         state.scale, policy.min_scale)


def anneal_length(policy: PlateauPolicy, step: int, budget: int) -> int:
    """Steps of the anneal that starts after ``step``, within the budget."""
    wanted = max(policy.min_anneal, round(policy.anneal_ratio * step))
    return max(1, min(wanted, budget - step))


def decide(policy: PlateauPolicy, state: PolicyState, step: int,
           metric: float, budget: int,
           collapsed: bool = False) -> Tuple[PolicyState, str, str]:
    """Take one validation result; return the new state, action and reason.

    Args:
        policy: The settings.
        state: The state after the previous validation.
        step: Epoch (or iteration) this validation followed, from 1.
        metric: Monitored value, higher is better.
        budget: The cap in the same unit as ``step``.
        collapsed: Validation predictions collapsed to one class.

    Returns:
        tuple: ``(state, action, reason)`` with action ``'none'``,
        ``'decay'`` or ``'stop'``.
    """
    validations = state.validations + 1

    def done(new_state, action, reason):
        new_state = replace(
            new_state, validations=validations,
            trace=state.trace + [
                (step, metric, lr_scale_at(policy, new_state, step), action)])
        return new_state, action, reason

    if not math.isfinite(metric):
        return done(replace(state, stopped=True,
                            reason='the monitored metric is NaN/inf'),
                    STOP, f'the monitored metric is {metric}: training '
                    'diverged')
    if collapsed:
        # One class for every image says nothing about a plateau.
        return done(state, NONE, 'validation predictions collapsed to one '
                    'class; not counted as a plateau')
    improved = state.best is None or metric > state.best + policy.min_delta
    if improved:
        state = replace(state, best=metric, best_step=step, wait=0)
    else:
        state = replace(state, wait=state.wait + 1)
    if validations <= policy.warmup:
        return done(replace(state, wait=0), NONE, 'warmup')
    if policy.mode == 'anneal':
        return done(*_anneal_decision(policy, state, step, budget))
    if at_floor(policy, state):
        if state.wait >= policy.stop_patience:
            reason = (f'LR at its floor ({state.scale:g} x initial) and no '
                      f'improvement for {state.wait} validations')
            return done(replace(state, stopped=True, reason=reason), STOP,
                        reason)
        return done(state, NONE, 'at the LR floor, still improving')
    if state.wait >= policy.patience:
        reason = f'no improvement for {state.wait} validations'
    elif state.drops == 0 and step >= policy.force_decay_at * budget:
        reason = (f'no decay yet at {100 * policy.force_decay_at:.0f}% of '
                  'the budget')
    else:
        return done(state, NONE, '')
    scale = max(state.scale * policy.factor, policy.min_scale)
    return done(replace(state, scale=scale, wait=0, drops=state.drops + 1),
                DECAY, reason)


def _anneal_decision(policy, state, step, budget):
    if state.anneal_end is not None:
        if step >= state.anneal_end:
            reason = (f'the anneal to the LR floor ({policy.min_scale:g} x '
                      'initial) is complete')
            return (replace(state, stopped=True, reason=reason), STOP,
                    reason)
        return state, NONE, 'annealing'
    if state.wait >= policy.patience:
        reason = f'no improvement for {state.wait} validations'
    elif step >= policy.force_decay_at * budget:
        reason = (f'no plateau yet at {100 * policy.force_decay_at:.0f}% of '
                  'the budget')
    else:
        return state, NONE, ''
    length = anneal_length(policy, step, budget)
    reason += (f'; annealing the LR to {policy.min_scale:g} x initial over '
               f'the next {length} steps')
    return (replace(state, wait=0, drops=state.drops + 1,
                    anneal_start=float(step), anneal_end=float(step + length)),
            ANNEAL, reason)


def is_collapsed(pred_counts, gt_counts, share: float = 0.99) -> bool:
    """Predictions all but one class, while the labels are not."""
    total = sum(pred_counts)
    if total == 0 or sum(1 for c in gt_counts if c) < 2:
        return False
    top = max(range(len(pred_counts)), key=lambda i: pred_counts[i])
    gt_share = gt_counts[top] / max(sum(gt_counts), 1)
    return pred_counts[top] / total >= share and gt_share < share
