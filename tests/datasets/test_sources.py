import numpy as np
import pytest

from mmtricks.datasets import BUNDLED_SOURCES, LabelledImages, load_bundled

EXPECTED = {
    # name: (images, height, width, classes)
    'digits': (1797, 8, 8, 10),
    'mnist': (5000, 28, 28, 10),
    'lfw_faces': (200, 25, 25, 2),
    'elpv_poly': (1550, 300, 300, 2),
}
# Sets from an optional extra: skipped when their package is absent
# (tests/datasets/test_elpv_poly.py checks the error then).
OPTIONAL_PACKAGES = {'elpv_poly': 'elpv_dataset'}


def test_every_source_is_covered():
    assert set(BUNDLED_SOURCES) == set(EXPECTED)


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_bundled_source(name):
    if name in OPTIONAL_PACKAGES:
        pytest.importorskip(OPTIONAL_PACKAGES[name])
    count, height, width, num_classes = EXPECTED[name]
    data = load_bundled(name)
    assert isinstance(data, LabelledImages)
    assert data.images.shape == (count, height, width)
    assert data.images.dtype == np.uint8
    assert data.labels.shape == (count, )
    assert data.labels.dtype == np.int64
    assert len(data.classes) == num_classes
    assert len(set(data.classes)) == num_classes
    # every class present, labels index the class names
    np.testing.assert_array_equal(np.unique(data.labels),
                                  np.arange(num_classes))
    # scaled to the full uint8 range, not left at e.g. 0..16 or 0..1
    assert data.images.max() >= 200 and data.images.min() == 0


def test_lfw_faces_classes_are_balanced():
    data = load_bundled('lfw_faces')
    assert data.classes == ('face', 'non_face')
    np.testing.assert_array_equal(np.bincount(data.labels), [100, 100])


def test_unknown_source():
    with pytest.raises(ValueError, match="Unknown bundled dataset 'cifar'"):
        load_bundled('cifar')


@pytest.fixture
def counted_digits(monkeypatch):
    """The digits reader replaced by one that counts its calls."""
    calls = []
    read = BUNDLED_SOURCES['digits']

    def counted():
        calls.append(1)
        return read()

    monkeypatch.setitem(BUNDLED_SOURCES, 'digits', counted)
    return calls


def test_a_set_is_read_once_per_process(counted_digits):
    first = load_bundled('digits')
    again = load_bundled('digits')
    assert len(counted_digits) == 1
    np.testing.assert_array_equal(first.images, again.images)


def test_a_caller_cannot_change_the_next_callers_set(counted_digits):
    first = load_bundled('digits')
    images, labels = first.images.copy(), first.labels.copy()
    for array in (first.images, first.labels):
        with pytest.raises(ValueError, match='read-only'):
            array[0] = 7
        with pytest.raises(ValueError):  # nor made writable again
            array.setflags(write=True)
    again = load_bundled('digits')
    np.testing.assert_array_equal(again.images, images)
    np.testing.assert_array_equal(again.labels, labels)
    assert len(counted_digits) == 1
