"""Deterministic stratified train/val split."""
from typing import Tuple

import numpy as np


def stratified_split(labels, val_ratio: float,
                     seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Split sample indices so that every class keeps its share in both parts.

    Each class with at least two samples puts ``round(n * val_ratio)`` of
    them, but at least one and at most ``n - 1``, into validation; a class
    with one sample stays in training. The result depends only on the labels,
    ``val_ratio`` and ``seed``.

    Args:
        labels (array-like): Integer class label of each sample.
        val_ratio (float): Share of each class for validation, in (0, 1).
        seed (int): Seed of the per-class shuffle. Defaults to 0.

    Returns:
        tuple[np.ndarray, np.ndarray]: Sorted train and val indices.
    """
    if not 0.0 < val_ratio < 1.0:
        raise ValueError(f'val_ratio must be in (0, 1), got {val_ratio}.')
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        if len(members) < 2:
            train.append(members)
            continue
        n_val = min(max(int(round(len(members) * val_ratio)), 1),
                    len(members) - 1)
        val.append(members[:n_val])
        train.append(members[n_val:])
    return _sorted_union(train), _sorted_union(val)


def _sorted_union(parts) -> np.ndarray:
    if not parts:
        return np.empty(0, dtype=np.int64)
    return np.sort(np.concatenate(parts))
