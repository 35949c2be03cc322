"""The operating point of a 2-class model: a threshold on one class's
softmax score, chosen on val, in place of argmax.

Plain functions of ``(scores, labels)``; the hook that chooses the point at
the end of training (:class:`~mmtricks.hooks.OperatingPointHook`), the
classifier that applies it (:class:`~mmtricks.models.DataAwareClassifier`),
the test metric and the deployed model all call these.

The setting (the recipes' top-level ``operating_point``):

- ``'auto'``: on 2 imbalanced classes (the project's rule,
  :func:`~mmtricks.datasets.class_balance.class_balance`), the threshold on
  the minority class's score that maximises val macro-F1; argmax otherwise;
- ``dict(cls='defective', min_recall=0.9)``: the highest threshold whose
  val recall of ``defective`` is at least 0.9 (``dict(cls=...)`` alone:
  that class's macro-F1 threshold);
- ``None`` or ``'argmax'``: argmax.

A class's image is predicted as ``cls`` when its score is at least the
threshold. Val scores only tell which gap between two neighbouring val
scores the threshold falls in (every threshold in a gap predicts val
alike); the threshold is put mid-gap, so test scores a hair from a val
score do not flip.
"""
import math
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

AUTO = 'auto'
ARGMAX = 'argmax'
#: What a dict setting may hold.
SETTING_KEYS = ('cls', 'min_recall')
#: Argmax between 2 softmax scores is a threshold of 0.5 on either; among
#: thresholds that tie on val macro-F1 the one nearest it changes least.
ARGMAX_THRESHOLD = 0.5


class OperatingPointError(ValueError):
    """An ``operating_point`` setting that cannot apply to this data."""


@dataclass
class OperatingRule:
    """What to choose on val: the class, and min_recall (None: macro-F1)."""
    class_index: int
    class_name: str
    min_recall: Optional[float] = None

    def describe(self) -> str:
        if self.min_recall is None:
            return f'the {self.class_name!r} threshold maximising macro-F1'
        return (f'the highest {self.class_name!r} threshold with val recall '
                f'>= {self.min_recall:g}')


@dataclass
class OperatingPoint:
    """A chosen threshold (None: argmax) and its val numbers against
    argmax's."""
    class_index: int
    class_name: str
    threshold: Optional[float]
    rule: str
    recall: Optional[float] = None
    precision: Optional[float] = None
    argmax_recall: Optional[float] = None
    argmax_precision: Optional[float] = None
    fallback: Optional[str] = None

    def to_meta(self) -> Dict:
        """Plain types only: checkpoints are loaded with weights_only."""
        return asdict(self)


# ---------------------------------------------------------------- the setting
def resolve_setting(setting, classes: Sequence[str],
                    counts: Optional[Sequence[int]] = None,
                    imbalanced: bool = False,
                    name: str = 'operating_point'
                    ) -> Tuple[Optional[OperatingRule], str]:
    """The rule a setting asks for on this data, and a log line.

    Args:
        setting: ``'auto'``, ``None``/``'argmax'``, or ``dict(cls=...,
            min_recall=...)``.
        classes: The class names, in label order.
        counts: Training images per class ('auto' takes the smallest).
        imbalanced: What the project's imbalance rule found.
        name: The setting's name, for messages.

    Returns:
        ``(rule or None for argmax, one log line)``.

    Raises:
        OperatingPointError: a dict setting on other than 2 classes, a class
            name that is not one of ``classes``, a min_recall outside
            (0, 1], or a setting of another kind.
    """
    classes = [str(c) for c in classes]
    if setting in (None, ARGMAX, False):
        return None, f'{name}: argmax ({name}={setting!r}).'
    if setting == AUTO:
        if len(classes) != 2:
            return None, (f"{name}='auto' applies to 2 classes; this data "
                          f'has {len(classes)}: argmax.')
        if not imbalanced:
            return None, (f"{name}='auto': the 2 classes are balanced: "
                          'argmax.')
        if counts is None or len(counts) != 2:
            raise OperatingPointError(
                f"{name}='auto' needs the training images per class.")
        index = int(np.argmin(counts))
        rule = OperatingRule(index, classes[index])
        return rule, (f"{name}='auto': the classes are imbalanced, so "
                      f'{rule.describe()} on val.')
    if not isinstance(setting, dict):
        raise OperatingPointError(
            f"{name} must be 'auto', None, 'argmax' or dict(cls=CLASS, "
            f'min_recall=R), got {setting!r}.')
    unknown = sorted(set(setting) - set(SETTING_KEYS))
    if unknown or 'cls' not in setting:
        raise OperatingPointError(
            f'{name}={setting!r}: write dict(cls=CLASS) or dict(cls=CLASS, '
            f'min_recall=R)' + (f' (unknown: {", ".join(unknown)})'
                                if unknown else '') + '.')
    if len(classes) != 2:
        raise OperatingPointError(
            f'{name}={setting!r} sets a threshold on one class against the '
            f'other, so it needs 2 classes; this data has {len(classes)} '
            f"({', '.join(classes[:10])}). Set {name}=None.")
    cls = str(setting['cls'])
    if cls not in classes:
        raise OperatingPointError(
            f'{name}: cls={cls!r} is not a class of this data; the classes '
            f'are {", ".join(repr(c) for c in classes)}.')
    min_recall = setting.get('min_recall')
    if min_recall is not None:
        if isinstance(min_recall, bool) or \
                not isinstance(min_recall, (int, float)) or \
                not 0.0 < float(min_recall) <= 1.0:
            raise OperatingPointError(
                f'{name}: min_recall must be a number in (0, 1], got '
                f'{min_recall!r} (0.9 means 90% of {cls!r} images found).')
        min_recall = float(min_recall)
    rule = OperatingRule(classes.index(cls), cls, min_recall)
    return rule, f'{name}: {rule.describe()} on val.'


# ------------------------------------------------------------- predictions
def predict_labels(scores, class_index: Optional[int] = None,
                   threshold: Optional[float] = None) -> np.ndarray:
    """Labels of ``(N, K)`` scores: ``class_index`` where its score is at
    least ``threshold``, else the best other class; argmax when either is
    None (or the threshold NaN)."""
    scores = np.asarray(scores, dtype=np.float64)
    if class_index is None or threshold is None or \
            not math.isfinite(threshold):
        return scores.argmax(axis=1)
    others = scores.copy()
    others[:, class_index] = -np.inf
    labels = others.argmax(axis=1)
    labels[scores[:, class_index] >= threshold] = class_index
    return labels


def recall_precision(predicted, labels, class_index: int
                     ) -> Tuple[float, float]:
    """Recall and precision of one class (0 where undefined: no image of
    it, or none predicted)."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    hits = int(np.sum((predicted == class_index) & (labels == class_index)))
    actual = int(np.sum(labels == class_index))
    called = int(np.sum(predicted == class_index))
    return (hits / actual if actual else 0.0,
            hits / called if called else 0.0)


def _f1(hits: np.ndarray, actual: int, called: np.ndarray) -> np.ndarray:
    denominator = actual + called
    return np.where(denominator > 0,
                    2.0 * hits / np.maximum(denominator, 1), 0.0)


def _candidates(positive_scores: np.ndarray, is_positive: np.ndarray):
    """Every distinct val prediction a threshold can make, as the counts
    at each mid-gap threshold (descending: fewest positives first)."""
    order = np.argsort(-positive_scores, kind='stable')
    scores, positive = positive_scores[order], is_positive[order]
    distinct = np.unique(scores)[::-1]  # descending
    # Threshold t_i calls exactly the images scoring >= distinct[i].
    called = np.searchsorted(-scores, -distinct, side='right')
    cumulative_hits = np.concatenate([[0], np.cumsum(positive)])
    hits = cumulative_hits[called]
    lower = np.concatenate([distinct[1:], [-np.inf]])
    thresholds = np.where(np.isfinite(lower), (distinct + lower) / 2.0,
                          distinct)
    return thresholds, hits, called


def macro_f1_threshold(positive_scores, is_positive) -> Tuple[float, float]:
    """The threshold on the positive class's score maximising 2-class
    macro-F1 on these images, and that macro-F1; ties go to the threshold
    nearest argmax's (0.5).

    Raises:
        ValueError: no positive or no negative image (macro-F1 cannot tell
            thresholds apart).
    """
    scores = np.asarray(positive_scores, dtype=np.float64).reshape(-1)
    positive = np.asarray(is_positive, dtype=bool).reshape(-1)
    actual = int(positive.sum())
    negatives = len(positive) - actual
    if actual == 0 or negatives == 0:
        raise ValueError('macro-F1 needs images of both classes.')
    thresholds, hits, called = _candidates(scores, positive)
    f1_positive = _f1(hits, actual, called)
    # The other class: its hits are the negatives not called positive.
    negative_hits = negatives - (called - hits)
    f1_negative = _f1(negative_hits, negatives, len(scores) - called)
    macro = (f1_positive + f1_negative) / 2.0
    best = np.flatnonzero(np.isclose(macro, macro.max(), rtol=0, atol=1e-12))
    pick = best[np.argmin(np.abs(thresholds[best] - ARGMAX_THRESHOLD))]
    return float(thresholds[pick]), float(macro[pick])


def min_recall_threshold(positive_scores, is_positive, min_recall: float
                         ) -> Optional[float]:
    """The highest threshold whose recall of the positive class is at
    least ``min_recall`` while some image is still called negative; None
    when there is none (no positive image, or reaching the recall calls
    every image positive)."""
    scores = np.asarray(positive_scores, dtype=np.float64).reshape(-1)
    positive = np.asarray(is_positive, dtype=bool).reshape(-1)
    actual = int(positive.sum())
    if actual == 0:
        return None
    thresholds, hits, called = _candidates(scores, positive)
    reached = np.flatnonzero((hits / actual >= min_recall - 1e-12) &
                             (called < len(scores)))
    if not len(reached):
        return None
    return float(thresholds[reached[0]])  # descending: the highest


def choose_operating_point(scores, labels, rule: OperatingRule,
                           name: str = 'operating_point'
                           ) -> Tuple[OperatingPoint, str, bool]:
    """The threshold the rule picks on ``(N, 2)`` val ``scores``.

    Returns:
        ``(point, one log line, whether it is a warning)``: the threshold
        with val recall and precision of the class at it and at argmax; a
        point with threshold None (argmax) and a warning when the rule
        cannot be met on val.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)
    c, cls = rule.class_index, rule.class_name
    argmax_recall, argmax_precision = recall_precision(
        predict_labels(scores), labels, c)
    point = OperatingPoint(
        c, cls, None, 'macro_f1' if rule.min_recall is None
        else f'min_recall {rule.min_recall:g}',
        argmax_recall=argmax_recall, argmax_precision=argmax_precision)
    positive = labels == c
    problem = None
    if not positive.any():
        problem = f'val has no {cls!r} image'
    elif positive.all():
        problem = f'val has only {cls!r} images'
    elif rule.min_recall is None:
        point.threshold, _ = macro_f1_threshold(scores[:, c], positive)
    else:
        point.threshold = min_recall_threshold(scores[:, c], positive,
                                               rule.min_recall)
        if point.threshold is None:
            problem = (f'val recall {rule.min_recall:g} of {cls!r} is '
                       'reached only by calling every val image '
                       f'{cls!r}')
    if problem:
        point.fallback = problem
        return point, (f'{name}: {problem}, so {rule.describe()} cannot be '
                       'chosen: argmax kept. Check the val split, or lower '
                       'min_recall.'), True
    point.recall, point.precision = recall_precision(
        predict_labels(scores, c, point.threshold), labels, c)
    return point, (
        f'{name}: {cls!r} when its score >= {point.threshold:.4f} '
        f'({rule.describe()}): val recall {100 * point.recall:.1f}%, '
        f'precision {100 * point.precision:.1f}% (argmax: recall '
        f'{100 * argmax_recall:.1f}%, precision '
        f'{100 * argmax_precision:.1f}%).'), False


def at_threshold_and_argmax(scores, labels, class_index: int,
                            threshold: float) -> Dict[str, float]:
    """Top-1, and the class's recall and precision, at the threshold and
    at argmax (fractions): the numbers a test is reported with."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)
    result = {}
    for prefix, predicted in (
            ('', predict_labels(scores, class_index, threshold)),
            ('argmax_', predict_labels(scores))):
        recall, precision = recall_precision(predicted, labels, class_index)
        result.update({f'{prefix}top1': float(np.mean(predicted == labels)),
                       f'{prefix}recall': recall,
                       f'{prefix}precision': precision})
    return result


__all__: List[str] = [
    'ARGMAX', 'AUTO', 'OperatingPoint', 'OperatingPointError',
    'OperatingRule', 'at_threshold_and_argmax', 'choose_operating_point',
    'macro_f1_threshold', 'min_recall_threshold', 'predict_labels',
    'recall_precision', 'resolve_setting'
]
