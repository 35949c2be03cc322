"""Which precision to ship: the fastest candidate that keeps the accuracy.

The candidates are the FP32 IR, the same IR run at BF16 (OpenVINO's
``INFERENCE_PRECISION_HINT``, on CPUs that have BF16) and the NNCF INT8 IR.
Each is checked on the validation set against PyTorch through the same parity
code (:mod:`.parity`) and timed; :func:`choose_precision` turns those numbers
into a recommendation and the reason for it.
"""
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

PRECISIONS = ('fp32', 'bf16', 'int8')
# What each candidate is compiled at (OpenVINO's INFERENCE_PRECISION_HINT):
# the INT8 IR's layers that stay in floating point run at f32, as checked.
RUNTIME_PRECISION = dict(fp32='f32', bf16='bf16', int8='f32')


@dataclass
class Candidate:
    """One precision's accuracy against PyTorch and its speed.

    Args:
        name (str): ``'fp32'``, ``'bf16'`` or ``'int8'``.
        top1_drop (float): Points of top-1 lost against PyTorch (negative
            when the candidate is better).
        flipped (float): Per cent of images whose top-1 class differs from
            PyTorch's.
        latency_ms (float, optional): Median batch-1 latency; None when not
            timed.
        throughput_fps (float, optional): Images per second at the
            throughput setting; None when not timed.
    """

    name: str
    top1_drop: float
    flipped: float
    latency_ms: Optional[float] = None
    throughput_fps: Optional[float] = None

    @property
    def timed(self) -> bool:
        return self.latency_ms is not None and self.throughput_fps is not None


@dataclass
class Decision:
    """What :func:`choose_precision` recommends, why, and what to warn."""

    name: str
    reason: str
    warnings: List[str]
    speedups: Dict[str, Dict[str, float]]


def bf16_supported(core, device: str = 'CPU') -> bool:
    """Whether OpenVINO can run ``device`` at BF16 (else a BF16 hint is
    silently run at f32)."""
    return 'BF16' in core.get_property(device, 'OPTIMIZATION_CAPABILITIES')


def speedup_over(reference: Candidate, candidate: Candidate) -> Dict:
    """Latency and throughput speed-ups over ``reference``, and their
    geometric mean (one number that weighs both equally)."""
    latency = reference.latency_ms / candidate.latency_ms
    throughput = candidate.throughput_fps / reference.throughput_fps
    return dict(latency=latency, throughput=throughput,
                overall=math.sqrt(latency * throughput))


def _accuracy(c: Candidate) -> str:
    change = -c.top1_drop if abs(c.top1_drop) >= 5e-3 else 0.0
    return (f'top-1 {change:+.2f} points vs PyTorch, '
            f'{c.flipped:.2f}% of decisions flipped')


def _speed(s: Dict) -> str:
    return (f'x{s["overall"]:.2f} FP32 (latency x{s["latency"]:.2f}, '
            f'throughput x{s["throughput"]:.2f})')


def choose_precision(candidates: Sequence[Candidate],
                     max_top1_drop: float = 1.0,
                     min_speedup: float = 1.05,
                     forced: Optional[str] = None) -> Decision:
    """The fastest candidate within the accuracy tolerance.

    FP32 is the reference: it is kept unless another candidate loses at
    most ``max_top1_drop`` points of top-1 against PyTorch and is at least
    ``min_speedup`` times faster than FP32 (geometric mean of the latency
    and throughput speed-ups; a smaller gain is within the noise of a
    shared CPU). Without timings nothing is known to be faster, so FP32 is
    kept. ``forced`` ships that candidate whatever the rule says, with a
    warning for each tolerance it breaks.

    Args:
        candidates: One :class:`Candidate` per checked precision; must
            include ``'fp32'``.
        max_top1_drop (float): Points of top-1 a candidate may lose against
            PyTorch.
        min_speedup (float): Speed-up over FP32 a candidate must reach.
        forced (str, optional): A candidate name to ship regardless.

    Returns:
        Decision: name, reason (one sentence per candidate), warnings and
        each timed candidate's speed-ups over FP32.
    """
    by_name = {c.name: c for c in candidates}
    if 'fp32' not in by_name:
        raise ValueError('The candidates must include fp32, the reference.')
    if forced is not None and forced not in by_name:
        raise ValueError(
            f'The forced precision {forced!r} was not checked; checked: '
            f'{", ".join(by_name)}.')
    fp32 = by_name['fp32']
    speedups = {c.name: speedup_over(fp32, c) for c in candidates
                if c.timed and fp32.timed}

    notes, eligible = [], []
    for c in candidates:
        if c.name == 'fp32':
            continue
        if c.top1_drop > max_top1_drop:
            notes.append(f'{c.name}: {_accuracy(c)}, beyond the '
                         f'{max_top1_drop:g}-point tolerance')
        elif c.name not in speedups:
            notes.append(f'{c.name}: {_accuracy(c)}, not timed')
        elif speedups[c.name]['overall'] < min_speedup:
            notes.append(f'{c.name}: {_accuracy(c)}, but only '
                         f'{_speed(speedups[c.name])}, below the '
                         f'x{min_speedup:g} needed')
        else:
            eligible.append(c)
    best = max(eligible, key=lambda c: speedups[c.name]['overall'],
               default=fp32)
    if best is fp32:
        reason = 'fp32 kept (' + (
            '; '.join(notes) if notes else 'no other candidate') + ').'
    else:
        others = notes + [
            f'{c.name}: {_speed(speedups[c.name])}' for c in eligible
            if c is not best]
        reason = (f'{best.name}: {_accuracy(best)}, within the '
                  f'{max_top1_drop:g}-point tolerance, and '
                  f'{_speed(speedups[best.name])}'
                  + (f' (also checked: {"; ".join(others)})' if others
                     else '') + '.')

    if forced is None or forced == best.name:
        return Decision(best.name, reason, [], speedups)
    chosen = by_name[forced]
    warnings = []
    if chosen.top1_drop > max_top1_drop:
        warnings.append(
            f'--precision {forced} ships a model outside the accuracy '
            f'tolerance: {_accuracy(chosen)} (tolerance {max_top1_drop:g} '
            f'points). The rule would ship {best.name}.')
    if forced in speedups and forced != 'fp32' and \
            speedups[forced]['overall'] < min_speedup:
        warnings.append(
            f'--precision {forced} is not faster than FP32 on this CPU: '
            f'{_speed(speedups[forced])}. The rule would ship {best.name}.')
    if not warnings:
        warnings.append(f'--precision {forced} overrides the rule, which '
                        f'would ship {best.name}.')
    return Decision(forced, f'{forced} forced by --precision; the rule: '
                    + reason, warnings, speedups)
