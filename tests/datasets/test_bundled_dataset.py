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
def test_train_val_test_partition_the_set(type_):
    parts = {split: build(type_, split=split, image_size=25)
             for split in ('train', 'val', 'test', 'all')}
    # lfw_faces' default shares: 40 / 30 / 30 of each class of 100
    assert {k: len(v) for k, v in parts.items()} == dict(
        train=80, val=60, test=60, all=200)
    # as multisets of (pixels, label): the three parts are the whole set
    assert multiset(parts['train']) + multiset(parts['val']) + \
        multiset(parts['test']) == multiset(parts['all'])
    # and each part holds the source images of the stratified split
    source = load_bundled('lfw_faces')
    for split, indices in zip(('train', 'val', 'test'),
                              stratified_split(source.labels, 0.3, 0.3)):
        np.testing.assert_array_equal(labels_of(parts[split]),
                                      source.labels[indices])
        for image, index in zip(images_of(parts[split]), indices):
            np.testing.assert_array_equal(image[..., 0],
                                          source.images[index])


@pytest.mark.parametrize('type_', TYPES)
@pytest.mark.parametrize('name, sizes, test_per_class', [
    ('digits', (1079, 359, 359), [36, 36, 35, 37, 36, 36, 36, 36, 35, 36]),
    ('mnist', (3000, 1000, 1000), [100] * 10),
])
def test_default_shares_of_the_larger_sets(type_, name, sizes,
                                           test_per_class):
    """60 / 20 / 20, stratified (the sizes the docs promise)."""
    parts = [build(type_, set_name=name, split=split, image_size=8)
             for split in ('train', 'val', 'test')]
    assert tuple(map(len, parts)) == sizes
    assert np.bincount(labels_of(parts[2])).tolist() == test_per_class
    assert (parts[0].val_ratio, parts[0].test_ratio) == (0.2, 0.2)


@pytest.mark.parametrize('type_', TYPES)
def test_split_ignores_the_training_seed(type_):
    """The split is a function of the dataset's arguments only: building it
    under another global (training) seed serves the same test images."""
    from mmengine.runner import set_random_seed
    set_random_seed(1)
    first = multiset(build(type_, split='test'))
    set_random_seed(2)
    np.random.seed(3)
    assert multiset(build(type_, split='test')) == first


@pytest.mark.parametrize('type_', TYPES)
def test_seed_and_ratios_change_the_split(type_):
    base = multiset(build(type_, split='test'))
    assert multiset(build(type_, split='test')) == base
    assert multiset(build(type_, split='test', seed=1)) != base
    assert len(build(type_, split='val', val_ratio=0.5)) == 100
    assert len(build(type_, split='test', val_ratio=0.5)) == 60
    assert len(build(type_, split='test', test_ratio=0.1)) == 20
    assert len(build(type_, split='train', val_ratio=0.1,
                     test_ratio=0.1)) == 160


@pytest.mark.parametrize('type_', TYPES)
@pytest.mark.parametrize('ratios, message', [
    (dict(val_ratio=0.0), 'val_ratio must be in'),
    (dict(test_ratio=1.0), 'test_ratio must be in'),
    (dict(val_ratio=0.6, test_ratio=0.4), 'must be below 1'),
    # 0.8 with lfw_faces' default test share 0.3
    (dict(val_ratio=0.8), 'must be below 1'),
])
@pytest.mark.parametrize('split', ['train', 'all'])
def test_bad_ratios(type_, ratios, message, split):
    with pytest.raises(ValueError, match=message):
        build(type_, split=split, **ratios)


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
        build(type_, split='testing')
    with pytest.raises(ValueError, match="Unknown bundled dataset 'nope'"):
        build(type_, set_name='nope')


def test_bundled_bad_image_size():
    with pytest.raises(ValueError, match='image_size must be positive'):
        build('BundledDataset', image_size=0)
