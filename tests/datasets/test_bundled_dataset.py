from collections import Counter

import numpy as np
import pytest

import mmtricks  # noqa: F401  (registers the datasets and transforms)
from mmpretrain.registry import DATASETS
from mmtricks.datasets import (BundledDataset, FolderOrBundledDataset,
                               load_bundled, stratified_split)

TYPES = ['BundledDataset', 'FolderOrBundledDataset']


def build(type_, **kwargs):
    if type_ == 'BundledDataset':
        kwargs['name'] = kwargs.pop('set_name', 'lfw_faces')
    else:
        kwargs['bundled'] = kwargs.pop('set_name', 'lfw_faces')
        kwargs.setdefault('data_root', None)
    return DATASETS.build(dict(type=type_, **kwargs))


def images_of(dataset):
    return [dataset.get_data_info(i)['img'] for i in range(len(dataset))]


def labels_of(dataset):
    return np.array([dataset.get_data_info(i)['gt_label']
                     for i in range(len(dataset))])


def multiset(dataset):
    return Counter((info['img'].tobytes(), info['gt_label'])
                   for info in (dataset.get_data_info(i)
                                for i in range(len(dataset))))


@pytest.mark.parametrize('type_', TYPES)
def test_registry_builds_the_class(type_):
    dataset = build(type_)
    expected = {'BundledDataset': BundledDataset,
                'FolderOrBundledDataset': FolderOrBundledDataset}[type_]
    assert type(dataset) is expected


@pytest.mark.parametrize('type_', TYPES)
def test_train_and_val_partition_the_set(type_):
    train = build(type_, split='train', image_size=25)
    val = build(type_, split='val', image_size=25)
    everything = build(type_, split='all', image_size=25)
    assert (len(train), len(val), len(everything)) == (160, 40, 200)
    # as multisets of (pixels, label): train + val is exactly the whole set
    assert multiset(train) + multiset(val) == multiset(everything)
    # and the per-class counts are those of the stratified split
    source = load_bundled('lfw_faces')
    train_idx, val_idx = stratified_split(source.labels, 0.2, seed=0)
    np.testing.assert_array_equal(np.bincount(labels_of(train)),
                                  np.bincount(source.labels[train_idx]))
    np.testing.assert_array_equal(np.bincount(labels_of(val)),
                                  np.bincount(source.labels[val_idx]))
    # the val images are the source's val indices (native size: no resize)
    for info_img, index in zip(images_of(val), val_idx):
        np.testing.assert_array_equal(info_img[..., 0], source.images[index])


@pytest.mark.parametrize('type_', TYPES)
def test_seed_and_val_ratio_change_the_split(type_):
    base = multiset(build(type_, split='val'))
    assert multiset(build(type_, split='val')) == base
    assert multiset(build(type_, split='val', seed=1)) != base
    assert len(build(type_, split='val', val_ratio=0.5)) == 100


@pytest.mark.parametrize('type_', TYPES)
@pytest.mark.parametrize('image_size', [16, 40])
def test_rgb_images_at_the_configured_size(type_, image_size):
    dataset = build(type_, split='val', image_size=image_size)
    for image in images_of(dataset)[:5]:
        assert image.shape == (image_size, image_size, 3)
        assert image.dtype == np.uint8
        assert np.array_equal(image[..., 0], image[..., 1])
        assert np.array_equal(image[..., 0], image[..., 2])
        assert image.max() > image.min()


@pytest.mark.parametrize('type_', TYPES)
def test_pipeline_serves_packed_rgb_inputs(type_):
    dataset = build(type_, split='val', image_size=24, pipeline=[
        dict(type='LoadImageIfPath'), dict(type='PackInputs')])
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (3, 24, 24)
    assert sample['data_samples'].gt_label.item() in (0, 1)


@pytest.mark.parametrize('type_', TYPES)
def test_metainfo_classes(type_):
    assert build(type_).metainfo['classes'] == ('face', 'non_face')
    assert build(type_, set_name='digits').metainfo['classes'] == tuple(
        str(d) for d in range(10))
    # a user metainfo is kept and does not replace the derived classes
    dataset = build(type_, metainfo=dict(note='mine'))
    assert dataset.metainfo['note'] == 'mine'
    assert dataset.metainfo['classes'] == ('face', 'non_face')


@pytest.mark.parametrize('type_', TYPES)
def test_bad_arguments(type_):
    with pytest.raises(ValueError, match='split must be one of'):
        build(type_, split='test')
    with pytest.raises(ValueError, match="Unknown bundled dataset 'nope'"):
        build(type_, set_name='nope')


def test_bundled_bad_image_size():
    with pytest.raises(ValueError, match='image_size must be positive'):
        build('BundledDataset', image_size=0)
