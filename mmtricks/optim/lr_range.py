"""The numeric core of the LR range test: ramp, divergence and suggestion rules.

Plain functions over ``(lrs, losses)``, testable without a Runner. Losses are
the raw per-step training losses; every rule smooths them first with a
*centred* filter, so a suggestion does not lag behind the ramp (fastai's
causal EMA with beta 0.98 shifts a 100-step ramp by about 50 steps' worth of
LR before its bias correction kicks in, which is one source of the jumps
users report between runs and budgets).
"""
import math
from typing import Callable, Dict, Optional, Sequence

import numpy as np


def exponential_ramp(start_lr: float, end_lr: float, num_steps: int) -> np.ndarray:
    """``num_steps`` learning rates growing geometrically from start to end."""
    if not 0 < start_lr < end_lr:
        raise ValueError(f'Need 0 < start_lr < end_lr, got {start_lr}, {end_lr}.')
    if num_steps < 2:
        raise ValueError(f'num_steps must be at least 2, got {num_steps}.')
    return np.geomspace(start_lr, end_lr, num_steps)


def ema(values: Sequence[float], beta: float) -> np.ndarray:
    """Bias-corrected exponential moving average (causal)."""
    out, avg = [], 0.0
    for step, value in enumerate(values, start=1):
        avg = beta * avg + (1 - beta) * value
        out.append(avg / (1 - beta**step))
    return np.asarray(out, dtype=np.float64)


def has_diverged(losses: Sequence[float], factor: float = 4.0,
                 beta: float = 0.8) -> bool:
    """Whether the smoothed loss has left its best value by ``factor``.

    The rule is fastai's ``loss > 4 * best`` written as ``loss - best >
    (factor - 1) * |best|`` so that it also works for losses that reach zero
    or go negative. A non-finite loss is divergence.
    """
    if not losses:
        return False
    if not math.isfinite(losses[-1]):
        return True
    smoothed = ema(losses, beta)
    best = float(np.min(smoothed))
    margin = (factor - 1.0) * max(abs(best), 1e-8)
    return bool(smoothed[-1] - best > margin)


def centred_smooth(losses: Sequence[float], window: Optional[int] = None) -> np.ndarray:
    """Moving average over a centred window (odd, about 1/10 of the curve).

    The window shrinks at both ends instead of padding, so the first and last
    points average only real losses.
    """
    losses = np.asarray(losses, dtype=np.float64)
    n = len(losses)
    if window is None:
        window = max(3, (n // 10) | 1)
    half = window // 2
    cumsum = np.concatenate([[0.0], np.cumsum(losses)])
    out = np.empty(n)
    for i in range(n):
        reach = min(half, i, n - 1 - i)
        out[i] = (cumsum[i + reach + 1] - cumsum[i - reach]) / (2 * reach + 1)
    return out


def _usable(lrs, losses):
    lrs = np.asarray(lrs, dtype=np.float64)
    losses = np.asarray(losses, dtype=np.float64)
    if len(lrs) != len(losses):
        raise ValueError('lrs and losses must have the same length.')
    finite = np.isfinite(losses)
    if not finite.all():  # keep the finite prefix: what follows is divergence
        stop = int(np.argmin(finite))
        lrs, losses = lrs[:stop], losses[:stop]
    return lrs, losses


def _descent(lrs, losses):
    """``(lrs, smoothed, lowest)`` of a curve, or None without real descent.

    A descent is real when the smoothed loss drops from its start to its
    minimum by more than twice the noise (median deviation of the raw losses
    from the smoothed ones): the gate every rule shares, so that none of them
    reads an answer into a flat, noisy curve.
    """
    lrs, losses = _usable(lrs, losses)
    if len(losses) < 5:
        return None
    smoothed = centred_smooth(losses)
    lowest = int(np.argmin(smoothed))
    if lowest < 2:
        return None
    drop = smoothed[0] - smoothed[lowest]
    noise = float(np.median(np.abs(losses[:lowest + 1] -
                                   smoothed[:lowest + 1])))
    if drop <= 0 or drop <= 2 * noise:
        return None
    return lrs, smoothed, lowest


def valley(lrs, losses) -> Optional[float]:
    """Middle of the longest stretch over which the smoothed loss descends.

    The idea of fastai's ``valley``: the longest descent is robust to a
    single dip or spike, and its middle is well inside the region where
    training makes progress.
    """
    descent = _descent(lrs, losses)
    if descent is None:
        return None
    lrs, smoothed, _ = descent
    n = len(smoothed)
    # longest[i]: length of the longest descending chain ending at i
    longest = np.ones(n, dtype=int)
    start = np.arange(n)
    for i in range(1, n):
        for j in range(i):
            if smoothed[j] > smoothed[i] and longest[j] + 1 > longest[i]:
                longest[i] = longest[j] + 1
                start[i] = start[j]
    end = int(np.argmax(longest))
    begin = int(start[end])
    if end - begin < 2 or smoothed[begin] - smoothed[end] <= 0:
        return None
    return float(np.exp((np.log(lrs[begin]) + np.log(lrs[end])) / 2))


def steepest(lrs, losses) -> Optional[float]:
    """LR of the steepest descent of the smoothed loss, before its minimum.

    The rule of torch-lr-finder and PyTorch Lightning (and of the paper this
    project follows), on a lag-free curve.
    """
    descent = _descent(lrs, losses)
    if descent is None:
        return None
    lrs, smoothed, lowest = descent
    slopes = np.gradient(smoothed[:lowest + 1], np.log(lrs[:lowest + 1]))
    index = int(np.argmin(slopes))
    if slopes[index] >= 0:
        return None
    return float(lrs[index])


def descent_midpoint(lrs, losses, low: float = 0.2,
                     high: float = 0.8) -> Optional[float]:
    """Geometric middle of the main descent of the smoothed loss.

    The descent is where the smoothed loss falls from its starting level to
    its minimum; its start and end are taken where ``low`` and ``high`` of the
    total drop are done (like a 20-80% rise time), the start being the last
    departure from the plateau, so a noisy plateau before it or a flat
    stretch near the minimum moves neither end. 20-80% rather than 10-90%:
    the ends of the descent are where the noise decides, and on the bundled
    sets' curves the narrower span cut the spread over seeds (x1.4-1.6
    against x1.4-2.3 at 50 steps, ``tools/benchmark.py lr-finder``).
    """
    descent = _descent(lrs, losses)
    if descent is None:
        return None
    lrs, smoothed, lowest = descent
    drop = smoothed[0] - smoothed[lowest]
    done = (smoothed[0] - smoothed[:lowest + 1]) / drop
    # The last departure from the plateau: noise may cross `low` earlier.
    below = np.flatnonzero(done < low)
    begin = int(below[-1]) + 1 if len(below) else 0
    end = begin + int(np.argmax(done[begin:] >= high))
    return float(np.exp((np.log(lrs[begin]) + np.log(lrs[end])) / 2))


def minimum(lrs, losses) -> Optional[float]:
    """One tenth of the LR at the smoothed minimum (fastai's ``minimum``)."""
    descent = _descent(lrs, losses)
    if descent is None:
        return None
    lrs, _, lowest = descent
    return float(lrs[lowest] / 10)


SUGGESTION_RULES: Dict[str, Callable] = {
    'midpoint': descent_midpoint,
    'valley': valley,
    'steepest': steepest,
    'minimum': minimum,
}


def suggest_lr(lrs, losses, rule: str = 'midpoint') -> Optional[float]:
    """Apply the named rule; None when the curve shows no usable descent."""
    try:
        fn = SUGGESTION_RULES[rule]
    except KeyError:
        raise ValueError(f'Unknown rule {rule!r}; choose one of '
                         f'{sorted(SUGGESTION_RULES)}.') from None
    return fn(lrs, losses)
