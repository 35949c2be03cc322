"""Whether a training split's classes are balanced enough for top-1 to be a
fair summary: a fact of the data that the recipe's monitor choice
(:mod:`mmtricks.engine.data_decisions`) and the per-class report
(:class:`~mmtricks.hooks.PerClassReportHook`) both read.
"""
from typing import Sequence, Tuple

import numpy as np

# Below this minority/majority ratio top-1 stops telling a useful model from
# a trivial one; a class with under half the images of another also gets
# under half its weight in the loss. Above it (digits, mnist: 0.9;
# lfw_faces: 1.0) top-1 stays a fair summary.
IMBALANCE_RATIO = 0.5
# Classes listed one by one in the log line up to this many; above it only
# the smallest and the largest (the line stays one line).
MAX_CLASSES_LISTED = 10


def class_balance(counts: Sequence[int], classes: Sequence[str],
                  ratio_threshold: float = IMBALANCE_RATIO
                  ) -> Tuple[bool, float, str]:
    """Whether training data is imbalanced, its minority/majority ratio and
    a one-line report with the reason.

    Args:
        counts (sequence of int): Images per class.
        classes (sequence of str): Class names, indexed like ``counts``.
        ratio_threshold (float): Imbalanced below this minority/majority
            ratio. Defaults to :data:`IMBALANCE_RATIO`.
    """
    counts = np.asarray(counts, dtype=np.int64)
    smallest, largest = int(counts.argmin()), int(counts.argmax())
    ratio = float(counts[smallest] / counts[largest]) if counts[largest] \
        else 1.0
    imbalanced = ratio < ratio_threshold
    if len(counts) <= MAX_CLASSES_LISTED:
        listed = ', '.join(f'{name} {int(n)}'
                           for name, n in zip(classes, counts))
    else:
        listed = (f'{len(counts)} classes, smallest {classes[smallest]} '
                  f'{int(counts[smallest])}, largest {classes[largest]} '
                  f'{int(counts[largest])}')
    head = f'Training split: {int(counts.sum())} images ({listed}): '
    if imbalanced:
        share = counts[largest] / counts.sum()
        reason = (
            f'imbalanced (minority/majority {ratio:.2f} < '
            f'{ratio_threshold:g}): always answering {classes[largest]!r} '
            f'would score {100 * share:.1f}% top-1, so read macro-F1 and '
            f'the per-class recall (of {classes[smallest]!r} above all), '
            'not top-1 alone.')
    else:
        reason = (f'balanced enough for top-1 (minority/majority '
                  f'{ratio:.2f} >= {ratio_threshold:g}).')
    return imbalanced, ratio, head + reason
