"""The images a loader's dataset config serves, and leaving some out through
MMEngine's ``indices`` (mmtricks/datasets/split_images.py)."""
import os

import cv2
import numpy as np
import pytest
from mmpretrain.registry import DATASETS

import mmtricks  # noqa: F401  (registers the datasets)
from mmtricks.datasets.split_images import (leave_out, split_images,
                                            subset_positions)


def write_classes(root, per_class=3):
    rng = np.random.default_rng(0)
    for label in ('a', 'b'):
        os.makedirs(root / label)
        for i in range(per_class):
            cv2.imwrite(str(root / label / f'{i}.png'),
                        rng.integers(0, 255, (12, 12), dtype=np.uint8))
    return str(root)


def folder(root, **extra):
    return dict(type='FolderOrBundledDataset', data_root=root, split='all',
                pipeline=[], **extra)


def served_paths(dataset_cfg):
    dataset = DATASETS.build(dict(dataset_cfg, check_images=False,
                                  cache_images=False))
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


@pytest.mark.parametrize('indices, expected', [
    (None, [0, 1, 2, 3, 4]), (2, [0, 1]), (-2, [3, 4]), ([4, 0], [4, 0])])
def test_subset_positions_follow_mmengine(indices, expected):
    assert subset_positions(5, indices) == expected


def test_a_folder_in_the_order_the_dataset_serves_it(tmp_path):
    root = write_classes(tmp_path / 'data')
    images = split_images(folder(root), 'val')
    assert list(images.names) == served_paths(folder(root))
    assert images.sources == images.names
    assert images.split == 'val' and images.positions == tuple(range(6))


def test_given_indices_are_kept_and_composed(tmp_path):
    root = write_classes(tmp_path / 'data')
    cfg = folder(root, indices=[5, 3, 1, 0])
    images = split_images(cfg, 'test')
    assert images.positions == (5, 3, 1, 0)
    leave_out(cfg, images, [1])  # the image at position 3
    assert cfg['indices'] == [5, 1, 0]
    everything = served_paths(folder(root))
    assert served_paths(cfg) == [everything[i] for i in (5, 1, 0)]


def test_leaving_out_of_a_concat_dataset_changes_only_its_part(tmp_path):
    first = write_classes(tmp_path / 'one')
    second = write_classes(tmp_path / 'two')
    cfg = dict(type='ConcatDataset',
               datasets=[folder(first), folder(second)])
    images = split_images(cfg, 'val')
    assert len(images.names) == 12 and images.parts == (0, ) * 6 + (1, ) * 6
    kept = leave_out(cfg, images, [7, 8])
    assert kept == {0: 6, 1: 4}
    assert 'indices' not in cfg['datasets'][0]
    assert cfg['datasets'][1]['indices'] == [0, 3, 4, 5]


def test_a_bundled_set_is_read_at_its_native_size():
    cfg = dict(type='FolderOrBundledDataset', bundled='digits', split='test',
               image_size=32, pipeline=[])
    images = split_images(cfg, 'test')
    assert len(images.names) == 359
    assert images.names[0].startswith('digits#')
    assert images.sources[0].shape == (8, 8)
