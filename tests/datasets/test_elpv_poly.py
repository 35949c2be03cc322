"""The ELPV polycrystalline set (optional extra ``mmtricks[datasets]``).

Tests that read the images skip when ``elpv-dataset`` is not installed;
the error a user gets then is tested with the package hidden.
"""
import functools
import sys

import numpy as np
import pytest

import mmtricks  # noqa: F401  (registers the datasets)
from mmpretrain.registry import DATASETS
from mmtricks.datasets import load_bundled, stratified_split
from mmtricks.datasets.sources import (BUNDLED_SOURCES,
                                      MissingDatasetPackageError,
                                      load_elpv_poly)

# labels.csv of elpv-dataset 1.0.0.post1: 1,550 poly cells, of which 402
# have defect probability 1 and 50 have 2/3 (>= 0.5: defective); 920 have
# 0 and 178 have 1/3 (functional).
POLY_COUNTS = {'functional': 1098, 'defective': 452}


@pytest.fixture(scope='module')
def elpv():
    pytest.importorskip('elpv_dataset')
    return load_bundled('elpv_poly')


def build(split, image_size=32, **kwargs):
    return DATASETS.build(dict(
        type='FolderOrBundledDataset', data_root=None, bundled='elpv_poly',
        split=split, image_size=image_size, **kwargs))


def labels_of(dataset):
    return np.array([dataset.get_data_info(i)['gt_label']
                     for i in range(len(dataset))])


def test_poly_cells_and_their_classes(elpv):
    assert elpv.classes == ('functional', 'defective')
    assert elpv.images.shape == (1550, 300, 300)
    assert dict(zip(elpv.classes, np.bincount(elpv.labels).tolist())) == \
        POLY_COUNTS
    # About 29% defective: the imbalance the labels give.
    assert elpv.labels.mean() == pytest.approx(452 / 1550)


def test_split_is_stratified_and_deterministic(elpv):
    parts = {split: labels_of(build(split))
             for split in ('train', 'val', 'test')}
    # 60 / 20 / 20 of each class: (functional, defective) per part.
    counts = {split: np.bincount(labels, minlength=2).tolist()
              for split, labels in parts.items()}
    assert counts == dict(train=[658, 272], val=[220, 90], test=[220, 90])
    for labels in parts.values():
        assert labels.mean() == pytest.approx(452 / 1550, abs=0.005)
    # Same images on a second build (another run, rank or training seed)...
    again = build('test')
    first = build('test')
    for i in range(len(first)):
        np.testing.assert_array_equal(first.get_data_info(i)['img'],
                                      again.get_data_info(i)['img'])
    # ...and another split seed gives another test set.
    other = build('test', seed=1)
    assert any(not np.array_equal(first.get_data_info(i)['img'],
                                  other.get_data_info(i)['img'])
               for i in range(len(first)))


def test_served_as_rgb_at_image_size_or_native(elpv):
    small = build('val', image_size=32).get_data_info(0)['img']
    assert small.shape == (32, 32, 3) and small.dtype == np.uint8
    native = build('val', image_size=None).get_data_info(0)['img']
    assert native.shape == (300, 300, 3)
    # Grayscale served as three equal channels, pixels not rescaled.
    assert (native == native[..., :1]).all()
    first_val = stratified_split(elpv.labels, 0.2, 0.2)[1][0]
    np.testing.assert_array_equal(native[..., 0], elpv.images[first_val])


def test_missing_package_names_the_extra_and_the_licence(monkeypatch):
    # None in sys.modules makes `import elpv_dataset` raise ImportError,
    # as on a machine without the package.
    monkeypatch.setitem(sys.modules, 'elpv_dataset', None)
    # A reader of its own: the fixture's read is kept for the process, and
    # a process without the package has no such copy.
    monkeypatch.setitem(BUNDLED_SOURCES, 'elpv_poly',
                        functools.partial(load_elpv_poly))
    with pytest.raises(MissingDatasetPackageError) as error:
        load_bundled('elpv_poly')
    message = str(error.value)
    assert "pip install 'mmtricks[datasets]'" in message
    assert 'CC BY-NC-SA 4.0' in message
    assert 'elpv-dataset' in message
    # The same error through the config's dataset (an image size no other
    # test loads, so no cached copy hides the missing package).
    with pytest.raises(MissingDatasetPackageError, match='mmtricks'):
        build('train', image_size=13)
