"""Which precision to ship: the fastest candidate shown to keep the accuracy.

The candidates are the FP32 IR, the same IR run at BF16 (OpenVINO's
``INFERENCE_PRECISION_HINT``, on CPUs that have BF16) and the NNCF INT8 IR.
Each is compared with PyTorch on images that made no choice about it (its
judging images) and timed in rounds; :func:`choose_precision` turns those
counts and rounds into a recommendation and the reason for it:

- **accuracy**: the upper confidence bound of its top-1 drop
  (:func:`~.acceptance.drop_bound`, 95% by default) is within the
  tolerance; a point estimate is never enough;
- **speed**: it is faster than FP32 beyond the spread of the timing rounds
  (:func:`~.acceptance.faster_beyond_spread` on each round's geometric
  mean of latency and time per image at throughput).

Pure: tests call it with counts, without a model.
"""
import math
import statistics
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from .acceptance import (DEFAULT_CONFIDENCE, drop_bound,
                         faster_beyond_spread, images_to_show)

PRECISIONS = ('fp32', 'bf16', 'int8')
# What each candidate is compiled at (OpenVINO's INFERENCE_PRECISION_HINT):
# the INT8 IR's layers that stay in floating point run at f32, as checked.
RUNTIME_PRECISION = dict(fp32='f32', bf16='bf16', int8='f32')


@dataclass
class Candidate:
    """One precision against PyTorch on its judging images, and its speed.

    Args:
        name (str): ``'fp32'``, ``'bf16'`` or ``'int8'``.
        lost (int): Judging images PyTorch gets right and it gets wrong.
        gained (int): Judging images PyTorch gets wrong and it gets right.
        images (int): Labelled judging images.
        disagreements (int): Judging images whose top-1 class differs from
            PyTorch's (lost, gained, and wrong in another way).
        label_free_disagreements (int): The same on ``label_free_images``.
        label_free_images (int): Images without a role in labels that also
            judge it (0: none).
        latency_rounds (sequence of float): Batch-1 latency (ms), the
            median of each timing round; empty when not timed.
        throughput_rounds (sequence of float): Images per second at the
            throughput setting, one per round; empty when not timed.
    """

    name: str
    lost: int
    gained: int
    images: int
    disagreements: int = 0
    label_free_disagreements: int = 0
    label_free_images: int = 0
    latency_rounds: Sequence[float] = field(default_factory=tuple)
    throughput_rounds: Sequence[float] = field(default_factory=tuple)

    @property
    def top1_drop(self) -> float:
        """Points of top-1 lost against PyTorch on the judging images
        (negative when it gains)."""
        return 100.0 * (self.lost - self.gained) / max(self.images, 1)

    @property
    def timed(self) -> bool:
        return bool(self.latency_rounds) and bool(self.throughput_rounds)

    @property
    def latency_ms(self) -> float:
        return statistics.median(self.latency_rounds)

    @property
    def throughput_fps(self) -> float:
        return statistics.median(self.throughput_rounds)

    def bound(self, confidence: float = DEFAULT_CONFIDENCE) -> float:
        """Upper bound (points) of its top-1 drop at ``confidence``."""
        return drop_bound(self.lost, self.images,
                          self.label_free_disagreements,
                          self.label_free_images, confidence)

    def can_show(self, tolerance: float,
                 confidence: float = DEFAULT_CONFIDENCE) -> bool:
        """Whether its images could show ``tolerance`` at all (with no
        lost image and no disagreement)."""
        return drop_bound(0, self.images, 0, self.label_free_images,
                          confidence) <= tolerance


@dataclass
class Decision:
    """What :func:`choose_precision` recommends, why, and what to warn.

    ``unshown`` holds one line per candidate whose images cannot show the
    tolerance however few it loses (with the number of images that
    would); ``bounds`` each candidate's drop bound."""

    name: str
    reason: str
    warnings: List[str]
    speedups: Dict[str, Dict[str, float]]
    bounds: Dict[str, float] = field(default_factory=dict)
    unshown: List[str] = field(default_factory=list)


def bf16_supported(core, device: str = 'CPU') -> bool:
    """Whether OpenVINO can run ``device`` at BF16 (else a BF16 hint is
    silently run at f32)."""
    return 'BF16' in core.get_property(device, 'OPTIMIZATION_CAPABILITIES')


def speedup_over(reference: Candidate, candidate: Candidate) -> Dict:
    """Latency and throughput speed-ups (medians of the rounds) over
    ``reference``, and their geometric mean (one number that weighs both
    equally)."""
    latency = reference.latency_ms / candidate.latency_ms
    throughput = candidate.throughput_fps / reference.throughput_fps
    return dict(latency=latency, throughput=throughput,
                overall=math.sqrt(latency * throughput))


def round_costs(c: Candidate) -> List[float]:
    """Per timing round, the geometric mean of the batch-1 latency and the
    time per image at the throughput setting (ms): the one number the
    speed-up (:func:`speedup_over`'s ``overall``) ranks, round by round."""
    return [math.sqrt(latency * 1e3 / fps) for latency, fps
            in zip(c.latency_rounds, c.throughput_rounds)]


def faster_than(reference: Candidate, candidate: Candidate) -> bool:
    """Faster beyond the spread of the timing rounds: the candidate's
    slowest round (:func:`round_costs`) beats the reference's fastest."""
    return faster_beyond_spread(round_costs(reference),
                                round_costs(candidate))


def accuracy_text(c: Candidate, confidence: float) -> str:
    """Its drop, the counts behind it and the bound, in one phrase."""
    change = -c.top1_drop if abs(c.top1_drop) >= 5e-3 else 0.0
    free = (f'; {c.label_free_disagreements} of {c.label_free_images} '
            'label-free images flipped' if c.label_free_images else '')
    return (f'top-1 {change:+.2f} points vs PyTorch on {c.images} judging '
            f'images ({c.lost} lost, {c.gained} gained, {c.disagreements} '
            f'flipped{free}), drop at most {c.bound(confidence):.2f} points '
            f'at {confidence:.0%}')


def _rounds(values: Sequence[float], unit: str) -> str:
    return f'{min(values):.3g}-{max(values):.3g} {unit}'


def speed_text(fp32: Candidate, c: Candidate, speedup: Dict) -> str:
    """Its speed-ups, and the rounds the spread rule compares."""
    return (f'x{speedup["overall"]:.2f} FP32 (latency '
            f'x{speedup["latency"]:.2f}, throughput '
            f'x{speedup["throughput"]:.2f}; rounds '
            f'{_rounds(round_costs(c), "ms")} vs FP32\'s '
            f'{_rounds(round_costs(fp32), "ms")})')


def unshown_line(c: Candidate, tolerance: float, confidence: float) -> str:
    """The one line saying that ``c``'s images cannot show the tolerance,
    and how many would."""
    free = (f' and {c.label_free_images} label-free images'
            if c.label_free_images else '')
    return (f'{c.name}: {c.images} judging images{free} cannot show a top-1 '
            f'drop within the {tolerance:g}-point tolerance at '
            f'{confidence:.0%} even with no image lost; '
            f'{images_to_show(tolerance, confidence)} judging '
            'images without a lost image would (more validation images: a '
            'larger val split, or --parity-images). The safer candidate is '
            'kept.')


def choose_precision(candidates: Sequence[Candidate],
                     max_top1_drop: float = 1.0,
                     confidence: float = DEFAULT_CONFIDENCE,
                     min_speedup: float = 1.0,
                     forced: Optional[str] = None) -> Decision:
    """The fastest candidate shown to keep the accuracy.

    FP32 is the reference: it is kept unless another candidate (1) has an
    upper ``confidence`` bound of its top-1 drop against PyTorch within
    ``max_top1_drop`` points, on images that made no choice about it, and
    (2) is faster than FP32 beyond the spread of the timing rounds (its
    slowest round, in the geometric mean of batch-1 latency and time per
    image at throughput, beats FP32's fastest), and by at least
    ``min_speedup`` (median rounds, the same geometric mean). Among those,
    the fastest (geometric mean) wins. Without timings nothing is known to
    be faster, so FP32 is kept. ``forced`` ships that candidate whatever the rule says, with a
    warning for each condition it breaks.

    Args:
        candidates: One :class:`Candidate` per checked precision; must
            include ``'fp32'``.
        max_top1_drop (float): Points of top-1 a candidate may lose against
            PyTorch, at ``confidence``.
        confidence (float): One-sided confidence of the drop bound.
        min_speedup (float): Speed-up over FP32 a candidate must also reach
            (1: the rounds' spread alone decides).
        forced (str, optional): A candidate name to ship regardless.

    Returns:
        Decision: name, reason (one sentence per candidate), warnings, each
        timed candidate's speed-ups over FP32, each candidate's bound, and
        a line for each candidate its images cannot show.
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
    bounds = {c.name: c.bound(confidence) for c in candidates}
    tolerance = f'{max_top1_drop:g}-point tolerance'

    notes, eligible, unshown, shown, fast = [], [], [], set(), set()
    for c in candidates:
        if c.name == 'fp32':
            continue
        accuracy = accuracy_text(c, confidence)
        if bounds[c.name] <= max_top1_drop:
            shown.add(c.name)
        if c.name in speedups and faster_than(fp32, c) and \
                speedups[c.name]['overall'] >= min_speedup:
            fast.add(c.name)
        if c.name not in shown:
            if not c.can_show(max_top1_drop, confidence):
                unshown.append(unshown_line(c, max_top1_drop, confidence))
            notes.append(f'{c.name}: {accuracy}: not shown within the '
                         f'{tolerance}')
        elif c.name not in speedups:
            notes.append(f'{c.name}: {accuracy}, not timed')
        elif c.name not in fast:
            floor = (f' and x{min_speedup:g}' if min_speedup > 1 else '')
            notes.append(f'{c.name}: {accuracy}, but '
                         f'{speed_text(fp32, c, speedups[c.name])}: not '
                         f'faster beyond the rounds\' spread{floor}')
        else:
            eligible.append(c)
    best = max(eligible, key=lambda c: speedups[c.name]['overall'],
               default=fp32)
    if best is fp32:
        reason = 'fp32 kept (' + (
            '; '.join(notes) if notes else 'no other candidate') + ').'
    else:
        others = notes + [
            f'{c.name}: {speed_text(fp32, c, speedups[c.name])}'
            for c in eligible if c is not best]
        reason = (f'{best.name}: {accuracy_text(best, confidence)}, within '
                  f'the {tolerance}, and '
                  f'{speed_text(fp32, best, speedups[best.name])}'
                  + (f' (also checked: {"; ".join(others)})' if others
                     else '') + '.')

    if forced is None or forced == best.name:
        return Decision(best.name, reason, [], speedups, bounds, unshown)
    chosen = by_name[forced]
    warnings = []
    if forced != 'fp32' and forced not in shown:
        warnings.append(
            f'--precision {forced} ships a model not shown within the '
            f'accuracy tolerance: {accuracy_text(chosen, confidence)} '
            f'(tolerance {max_top1_drop:g} points). The rule would ship '
            f'{best.name}.')
    if forced in speedups and forced != 'fp32' and forced not in fast:
        warnings.append(
            f'--precision {forced} is not shown faster than FP32 on this '
            f'CPU: {speed_text(fp32, chosen, speedups[forced])}. The rule '
            f'would ship {best.name}.')
    if not warnings:
        warnings.append(f'--precision {forced} overrides the rule, which '
                        f'would ship {best.name}.')
    return Decision(forced, f'{forced} forced by --precision; the rule: '
                    + reason, warnings, speedups, bounds, unshown)
