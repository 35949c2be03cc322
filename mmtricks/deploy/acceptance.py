"""When a deployed precision may be called "within the tolerance": upper
confidence bounds of its top-1 drop against PyTorch, from the same images
through both, and a speed rule beyond the spread of the timing rounds.

- **Paired, on labelled images** (:func:`paired_drop_bound`): a candidate
  can lose at most the images PyTorch gets right and it gets wrong
  (``lost``), so the exact (Clopper-Pearson) upper bound of that rate
  bounds the drop. Images it gains are not subtracted: a bound that
  subtracts them from few counts (Agresti-Min's adjusted Wald) accepts a
  candidate that truly loses 1.01 points, every flip a loss (what an
  accurate model's flips mostly are), 14% of the time on 196 images at a
  stated 97.5% (tests/deploy/test_acceptance.py computes it exactly).
- **Label-free, on more images** (:func:`disagreement_bound`): a candidate
  can lose at most the images it answers differently from PyTorch, so the
  exact upper bound of the disagreement rate bounds the drop on any images
  calibration did not see, labels not needed (valid for images drawn like
  the deployment's: training images are easier, see docs/deploy.md).

With both, each is taken at ``1 - alpha/2`` so that the smaller holds at
``1 - alpha`` (Bonferroni); alone, the paired bound is at ``1 - alpha``.

Pure functions of counts: tests and the report call them without a model.
"""
import math
from typing import Sequence

from scipy.stats import beta

#: The confidence of the stated bound (one-sided).
DEFAULT_CONFIDENCE = 0.95


def rate_upper_bound(events: int, trials: int, confidence: float) -> float:
    """Exact one-sided (Clopper-Pearson) upper bound of a binomial rate."""
    if trials <= 0:
        return 1.0
    if events >= trials:
        return 1.0
    return float(beta.ppf(confidence, events + 1, trials - events))


def paired_drop_bound(lost: int, images: int, confidence: float) -> float:
    """Upper bound (points) of the top-1 drop from the images PyTorch got
    right and the candidate wrong (``lost``) among ``images`` labelled
    images: the exact upper bound of their rate."""
    return 100.0 * rate_upper_bound(lost, images, confidence)


def disagreement_bound(disagreements: int, images: int,
                       confidence: float) -> float:
    """Upper bound (points) of the drop from the rate at which the candidate
    answers differently from PyTorch (labels not needed)."""
    return 100.0 * rate_upper_bound(disagreements, images, confidence)


def drop_bound(lost: int, labelled: int, disagreements: int = 0,
               unlabelled: int = 0,
               confidence: float = DEFAULT_CONFIDENCE) -> float:
    """Upper bound (points) of the top-1 drop, holding with probability
    ``confidence``: the paired bound on ``labelled`` images, or, with
    ``unlabelled`` images, the smaller of it and the label-free bound, each
    at ``1 - alpha/2``."""
    if unlabelled <= 0:
        return paired_drop_bound(lost, labelled, confidence)
    half = 1.0 - (1.0 - confidence) / 2
    return min(paired_drop_bound(lost, labelled, half),
               disagreement_bound(disagreements, unlabelled, half))


def images_to_show(tolerance: float,
                   confidence: float = DEFAULT_CONFIDENCE) -> int:
    """Labelled images without a single lost image needed before the paired
    bound falls within ``tolerance`` points (299 for 1 point at 95%: about
    3 / tolerance, the rule of three)."""
    rate = tolerance / 100.0
    if rate >= 1.0:
        return 1
    if rate <= 0.0:
        raise ValueError('No number of images shows a drop of at most 0 '
                         'points; give a tolerance above 0.')
    return int(math.ceil(math.log(1.0 - confidence) / math.log(1.0 - rate)))


def faster_beyond_spread(reference_rounds: Sequence[float],
                         candidate_rounds: Sequence[float],
                         alpha: float = 1.0 - DEFAULT_CONFIDENCE) -> bool:
    """Whether the candidate's timing rounds (latencies: lower is faster)
    are lower than the reference's beyond the rounds' own spread: a
    one-sided exact rank-sum (Mann-Whitney) test at ``alpha``, so that two
    equally fast models pass at most ``alpha`` of the time. With 3 rounds
    each that is every candidate round beating every reference round (p =
    3! 3! / 6! = 1/20); with 5 each, at most 4 of the 25 pairs of rounds may
    go the other way (p = 0.048), so one candidate round slowed by another
    job into the reference's range does not hide a real speed-up."""
    if not reference_rounds or not candidate_rounds:
        return False
    from scipy.stats import mannwhitneyu
    test = mannwhitneyu(list(candidate_rounds), list(reference_rounds),
                        alternative='less', method='exact')
    return bool(test.pvalue <= alpha + 1e-12)


__all__ = ['DEFAULT_CONFIDENCE', 'disagreement_bound', 'drop_bound',
           'faster_beyond_spread', 'images_to_show', 'paired_drop_bound',
           'rate_upper_bound']
