import numpy as np
import pytest

from mmtricks.datasets import stratified_split

# Unbalanced classes: 50, 30, 15 and 5 samples, interleaved.
LABELS = np.array([0] * 50 + [1] * 30 + [2] * 15 + [3] * 5)[
    np.random.default_rng(123).permutation(100)]


def test_each_class_keeps_its_share_and_parts_partition():
    train, val = stratified_split(LABELS, val_ratio=0.2, seed=0)
    assert len(np.intersect1d(train, val)) == 0
    np.testing.assert_array_equal(
        np.sort(np.concatenate([train, val])), np.arange(len(LABELS)))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    val_counts = np.bincount(LABELS[val], minlength=4)
    np.testing.assert_array_equal(val_counts, [10, 6, 3, 1])
    np.testing.assert_array_equal(
        np.bincount(LABELS[train], minlength=4), [40, 24, 12, 4])


def test_same_seed_same_split_other_seed_differs():
    first = stratified_split(LABELS, 0.3, seed=7)
    again = stratified_split(LABELS.copy(), 0.3, seed=7)
    other = stratified_split(LABELS, 0.3, seed=8)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])
    # a different seed only reshuffles: the per-class counts stay
    np.testing.assert_array_equal(np.bincount(LABELS[first[1]]),
                                  np.bincount(LABELS[other[1]]))


@pytest.mark.parametrize('val_ratio', [0.01, 0.5, 0.99])
def test_every_class_in_both_parts(val_ratio):
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2])
    train, val = stratified_split(labels, val_ratio, seed=0)
    assert set(labels[train]) == {0, 1, 2}
    assert set(labels[val]) == {0, 1, 2}


def test_singleton_class_stays_in_train():
    labels = np.array([0, 0, 0, 0, 1, 2, 2])
    train, val = stratified_split(labels, 0.5, seed=0)
    assert 4 in train and 4 not in val
    assert set(labels[val]) == {0, 2}


def test_string_labels():
    labels = np.array(['cat'] * 10 + ['dog'] * 5)
    train, val = stratified_split(labels, 0.2, seed=0)
    assert sorted(labels[val]) == ['cat', 'cat', 'dog']


@pytest.mark.parametrize('val_ratio', [0.0, 1.0, -0.1, 1.5])
def test_bad_val_ratio(val_ratio):
    with pytest.raises(ValueError, match='val_ratio must be in'):
        stratified_split(LABELS, val_ratio)


def test_val_count_is_rounded_not_floored():
    labels = np.array([0] * 13 + [1] * 7)
    _, val = stratified_split(labels, 0.2, seed=0)
    # 13 * 0.2 = 2.6 -> 3 and 7 * 0.2 = 1.4 -> 1
    np.testing.assert_array_equal(np.bincount(labels[val]), [3, 1])
