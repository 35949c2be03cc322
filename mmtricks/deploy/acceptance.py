"""When a deployed precision may be called "within the tolerance": upper
confidence bounds of its top-1 drop against PyTorch, from the same images
through both, and a speed rule beyond the spread of the timing rounds.

Two bounds, each at ``1 - alpha/2`` so that the smaller holds at
``1 - alpha`` (Bonferroni):

- **Paired, on labelled images** (:func:`paired_drop_bound`): only images
  the two models disagree on move the drop; the Agresti-Min adjusted Wald
  bound for a difference of paired proportions (Agresti & Min, Biometrics
  2005: add 1/2 to each cell of the 2x2 table) keeps its coverage down to
  zero disagreements, where the plain Wald bound claims certainty.
- **Label-free, on more images** (:func:`disagreement_bound`): a candidate
  can lose at most the images it answers differently from PyTorch, so an
  exact (Clopper-Pearson) upper bound of the disagreement rate bounds the
  drop, on any images calibration did not see, labels not needed.

Pure functions of counts: tests and the report call them without a model.
"""
import math
from typing import Sequence

from scipy.stats import beta, norm

#: The confidence of the stated bound (one-sided).
DEFAULT_CONFIDENCE = 0.95


def rate_upper_bound(events: int, trials: int, confidence: float) -> float:
    """Exact one-sided (Clopper-Pearson) upper bound of a binomial rate."""
    if trials <= 0:
        return 1.0
    if events >= trials:
        return 1.0
    return float(beta.ppf(confidence, events + 1, trials - events))


def paired_drop_bound(lost: int, gained: int, images: int,
                      confidence: float) -> float:
    """Upper bound (points) of the top-1 drop, from the images PyTorch got
    right and the candidate wrong (``lost``) and the reverse (``gained``)
    among ``images`` labelled images (Agresti-Min adjusted Wald)."""
    if images <= 0:
        return 100.0
    b, c, n = lost + 0.5, gained + 0.5, images + 2.0
    drop = (b - c) / n
    variance = max((b + c) - (b - c) ** 2 / n, 0.0) / n ** 2
    bound = drop + norm.ppf(confidence) * math.sqrt(variance)
    return 100.0 * min(bound, 1.0)


def disagreement_bound(disagreements: int, images: int,
                       confidence: float) -> float:
    """Upper bound (points) of the drop from the rate at which the candidate
    answers differently from PyTorch (labels not needed)."""
    return 100.0 * rate_upper_bound(disagreements, images, confidence)


def drop_bound(lost: int, gained: int, labelled: int, disagreements: int,
               unlabelled: int,
               confidence: float = DEFAULT_CONFIDENCE) -> float:
    """The smaller of the two bounds, each at ``1 - alpha/2``: the drop is
    below it with probability ``confidence``."""
    half = 1.0 - (1.0 - confidence) / 2
    bounds = [paired_drop_bound(lost, gained, labelled, half)]
    if unlabelled > 0:
        bounds.append(disagreement_bound(disagreements, unlabelled, half))
    return min(bounds)


def images_to_show(tolerance: float,
                   confidence: float = DEFAULT_CONFIDENCE) -> int:
    """Images without a single disagreement needed before the label-free
    bound (at ``1 - alpha/2``) falls within ``tolerance`` points."""
    alpha = (1.0 - confidence) / 2
    rate = tolerance / 100.0
    if rate >= 1.0:
        return 1
    return int(math.ceil(math.log(alpha) / math.log(1.0 - rate)))


def faster_beyond_spread(reference_rounds: Sequence[float],
                         candidate_rounds: Sequence[float]) -> bool:
    """Whether the candidate's slowest timing round beats the reference's
    fastest (latencies: lower is faster), so that the speed-up is not the
    rounds' own spread."""
    if not reference_rounds or not candidate_rounds:
        return False
    return max(candidate_rounds) < min(reference_rounds)


__all__ = ['DEFAULT_CONFIDENCE', 'disagreement_bound', 'drop_bound',
           'faster_beyond_spread', 'images_to_show', 'paired_drop_bound',
           'rate_upper_bound']
