"""Deterministic stratified train / val / test split."""
from typing import Optional, Sequence, Tuple

import numpy as np

SPLIT_PARTS = ('train', 'val', 'test')
# Each class needs one image in each of the three parts.
MIN_IMAGES_PER_CLASS = len(SPLIT_PARTS)


class TinyClassError(ValueError):
    """A class with too few images to put one into each of the three parts."""


def check_split_ratios(val_ratio: float, test_ratio: float) -> None:
    """Raise ``ValueError`` unless both shares are in (0, 1) and leave
    images for training."""
    for name, ratio in (('val_ratio', val_ratio), ('test_ratio', test_ratio)):
        if isinstance(ratio, bool) or not isinstance(
                ratio, (int, float, np.floating)) or not 0.0 < ratio < 1.0:
            raise ValueError(f'{name} must be in (0, 1), got {ratio!r}.')
    if val_ratio + test_ratio >= 1.0:
        raise ValueError(
            f'val_ratio + test_ratio must be below 1 so that training keeps '
            f'images, got {val_ratio} + {test_ratio} = '
            f'{val_ratio + test_ratio:g}. Lower one of them.')


def stratified_split(
        labels,
        val_ratio: float,
        test_ratio: float,
        seed: int = 0,
        class_names: Optional[Sequence[str]] = None
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split sample indices three ways so that every class keeps its share
    in each part.

    Per class, the samples are shuffled (one generator seeded with ``seed``,
    classes in sorted order); the first ``round(n * val_ratio)`` go to
    validation, the next ``round(n * test_ratio)`` to test, the rest to
    training. Each part gets at least one sample of every class. The result
    depends only on the labels, the two shares and ``seed``: not on the
    number of workers or ranks, nor on the training seed. Validation is the
    same as that of the earlier two-way split with the same ``val_ratio``
    and ``seed``; test comes out of what was training.

    Args:
        labels (array-like): Class label of each sample.
        val_ratio (float): Share of each class for validation, in (0, 1).
        test_ratio (float): Share of each class for test, in (0, 1);
            ``val_ratio + test_ratio < 1``.
        seed (int): Seed of the per-class shuffle. Defaults to 0.
        class_names (sequence of str, optional): Names indexed by label, for
            error messages. Defaults to None (the labels are named).

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: Sorted train, val and
        test indices.

    Raises:
        ValueError: Bad shares.
        TinyClassError: A class has fewer than three samples.
    """
    check_split_ratios(val_ratio, test_ratio)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_val, n_test = _part_sizes(len(members), val_ratio, test_ratio,
                                    _class_name(label, class_names))
        val.append(members[:n_val])
        test.append(members[n_val:n_val + n_test])
        train.append(members[n_val + n_test:])
    return _sorted_union(train), _sorted_union(val), _sorted_union(test)


def _part_sizes(count: int, val_ratio: float, test_ratio: float,
                name: str) -> Tuple[int, int]:
    if count < MIN_IMAGES_PER_CLASS:
        raise TinyClassError(
            f'Class {name} has {count} image(s); a train / val / test split '
            f'needs at least {MIN_IMAGES_PER_CLASS} per class (one in each '
            'part). Add images to the class, remove it, or give the data '
            'pre-split as train/, val/ and test/ folders.')
    n_val = max(int(round(count * val_ratio)), 1)
    n_test = max(int(round(count * test_ratio)), 1)
    # Rounding up both may leave no training image: take it back from the
    # larger evaluation part (each keeps at least one).
    while n_val + n_test > count - 1:
        if n_val >= n_test:
            n_val -= 1
        else:
            n_test -= 1
    return n_val, n_test


def _class_name(label, class_names) -> str:
    if class_names is not None:
        return repr(class_names[int(label)])
    return repr(label.item() if hasattr(label, 'item') else label)


def _sorted_union(parts) -> np.ndarray:
    if not parts:
        return np.empty(0, dtype=np.int64)
    return np.sort(np.concatenate(parts))
