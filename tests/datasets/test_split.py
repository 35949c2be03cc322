import numpy as np
import pytest

from mmtricks.datasets import stratified_split
from mmtricks.datasets.split import TinyClassError

# Unbalanced classes: 50, 30, 15 and 5 samples, interleaved.
LABELS = np.array([0] * 50 + [1] * 30 + [2] * 15 + [3] * 5)[
    np.random.default_rng(123).permutation(100)]


def test_each_class_keeps_its_share_and_parts_partition():
    train, val, test = stratified_split(LABELS, 0.2, 0.2, seed=0)
    for a, b in ((train, val), (train, test), (val, test)):
        assert len(np.intersect1d(a, b)) == 0
    np.testing.assert_array_equal(
        np.sort(np.concatenate([train, val, test])), np.arange(len(LABELS)))
    for part in (train, val, test):
        assert np.all(np.diff(part) > 0)
    np.testing.assert_array_equal(np.bincount(LABELS[val], minlength=4),
                                  [10, 6, 3, 1])
    np.testing.assert_array_equal(np.bincount(LABELS[test], minlength=4),
                                  [10, 6, 3, 1])
    np.testing.assert_array_equal(np.bincount(LABELS[train], minlength=4),
                                  [30, 18, 9, 3])


def test_uneven_shares():
    train, val, test = stratified_split(LABELS, 0.1, 0.3, seed=0)
    np.testing.assert_array_equal(np.bincount(LABELS[val], minlength=4),
                                  [5, 3, 2, 1])  # 1.5 -> 2, 0.5 -> 1 (min)
    np.testing.assert_array_equal(np.bincount(LABELS[test], minlength=4),
                                  [15, 9, 4, 2])  # 4.5 -> 4, 1.5 -> 2
    assert len(train) == 100 - 11 - 30


def test_same_seed_same_split_other_seed_differs():
    first = stratified_split(LABELS, 0.3, 0.2, seed=7)
    again = stratified_split(LABELS.copy(), 0.3, 0.2, seed=7)
    other = stratified_split(LABELS, 0.3, 0.2, seed=8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[2], other[2])
    # a different seed only reshuffles: the per-class counts stay
    for a, b in zip(first, other):
        np.testing.assert_array_equal(np.bincount(LABELS[a]),
                                      np.bincount(LABELS[b]))


def test_val_is_that_of_the_two_way_split_test_comes_out_of_train():
    """The per-class shuffle of the earlier train/val split is kept: val is
    unchanged for the same val_ratio and seed, whatever test_ratio is."""
    val_small_test = stratified_split(LABELS, 0.2, 0.1, seed=5)[1]
    val_large_test = stratified_split(LABELS, 0.2, 0.4, seed=5)[1]
    np.testing.assert_array_equal(val_small_test, val_large_test)
    # a larger test share takes more images out of train, none out of val
    small_test = stratified_split(LABELS, 0.2, 0.1, seed=5)[2]
    large_test = stratified_split(LABELS, 0.2, 0.4, seed=5)[2]
    assert set(small_test) < set(large_test)


@pytest.mark.parametrize('ratios', [(0.01, 0.01), (0.5, 0.49), (0.98, 0.01),
                                    (0.01, 0.98)])
def test_every_class_in_every_part(ratios):
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2])
    parts = stratified_split(labels, *ratios, seed=0)
    for part in parts:
        assert set(labels[part]) == {0, 1, 2}
    assert sum(map(len, parts)) == len(labels)


@pytest.mark.parametrize('class_names, named', [
    (None, "Class 1 has 2 image(s)"),
    (('cat', 'dog', 'fox'), "Class 'dog' has 2 image(s)")])
def test_tiny_class_is_named_with_the_fix(class_names, named):
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2])
    with pytest.raises(TinyClassError) as error:
        stratified_split(labels, 0.2, 0.2, class_names=class_names)
    message = str(error.value)
    assert named in message
    assert 'at least 3 per class' in message
    assert 'Add images to the class' in message


def test_string_labels():
    labels = np.array(['cat'] * 10 + ['dog'] * 5)
    _, val, test = stratified_split(labels, 0.2, 0.2, seed=0)
    assert sorted(labels[val]) == ['cat', 'cat', 'dog']
    assert sorted(labels[test]) == ['cat', 'cat', 'dog']


@pytest.mark.parametrize('val_ratio, test_ratio, message', [
    (0.0, 0.2, 'val_ratio must be in'),
    (1.0, 0.2, 'val_ratio must be in'),
    (-0.1, 0.2, 'val_ratio must be in'),
    (0.2, 0.0, 'test_ratio must be in'),
    (0.2, 1.5, 'test_ratio must be in'),
    (0.2, '0.2', 'test_ratio must be in'),
    (0.2, None, 'test_ratio must be in'),
    (True, 0.2, 'val_ratio must be in'),
    (0.5, 0.5, 'val_ratio \\+ test_ratio must be below 1'),
    (0.7, 0.4, 'val_ratio \\+ test_ratio must be below 1'),
])
def test_bad_ratios(val_ratio, test_ratio, message):
    with pytest.raises(ValueError, match=message):
        stratified_split(LABELS, val_ratio, test_ratio)


def test_counts_are_rounded_not_floored():
    labels = np.array([0] * 13 + [1] * 7)
    _, val, test = stratified_split(labels, 0.2, 0.2, seed=0)
    # 13 * 0.2 = 2.6 -> 3 and 7 * 0.2 = 1.4 -> 1
    np.testing.assert_array_equal(np.bincount(labels[val]), [3, 1])
    np.testing.assert_array_equal(np.bincount(labels[test]), [3, 1])
