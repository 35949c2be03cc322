"""Every shipped config tests on images it neither trained on nor chose its
weights by: ``test_dataloader`` is disjoint from ``train`` and ``val``.

The datasets are built from each config as ``DataAwareRunner`` builds them
(MMEngine ``Config``, the recipe's data decisions, the ``DATASETS``
registry), on the bundled default and on a folder in both layouts a user may
give through the one ``data_root`` setting.
"""
import glob
import hashlib
import os.path as osp
from collections import Counter

import pytest
from mmengine.config import Config

import mmtricks  # noqa: F401  (registers the datasets and transforms)
from mmpretrain.registry import DATASETS
from mmtricks.datasets import export_bundled
from mmtricks.engine import apply_data_decisions

from conftest import REPO

SHIPPED_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', '*.py')))
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def test_every_shipped_config_is_covered():
    names = [osp.basename(p) for p in SHIPPED_CONFIGS]
    assert {'auto_mbv3.py', 'auto_effnet_lite0.py', 'paper_mbv3.py'} <= set(
        names), names


def build_loader_datasets(config, data_root=None):
    """``{loader name: dataset}`` built from ``config``'s dataloaders."""
    cfg = Config.fromfile(config)
    cfg.data_root = data_root
    apply_data_decisions(cfg)
    return {name: DATASETS.build(cfg[name].dataset) for name in LOADERS}


def identities(dataset):
    """A hash of each image's pixels (in memory) or its path (folder)."""
    found = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        if 'img_path' in info:
            found.append(osp.realpath(info['img_path']))
        else:
            found.append(hashlib.sha1(info['img'].tobytes()).hexdigest())
    return found


def assert_test_is_held_out(datasets):
    ids = {name: identities(ds) for name, ds in datasets.items()}
    # identities are unique within a loader (the bundled sets hold no
    # duplicate images), so an overlap is an image served twice
    for name, found in ids.items():
        assert len(set(found)) == len(found), f'{name} repeats images'
    test = set(ids['test_dataloader'])
    assert test, 'test_dataloader serves no images'
    for name in ('train_dataloader', 'val_dataloader'):
        shared = test & set(ids[name])
        assert not shared, f'test_dataloader shares {len(shared)} images ' \
            f'with {name}'
    # every class is tested, in about its share
    labels = Counter(datasets['test_dataloader'].get_data_info(i)['gt_label']
                     for i in range(len(datasets['test_dataloader'])))
    classes = datasets['test_dataloader'].metainfo['classes']
    assert sorted(labels) == list(range(len(classes)))


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    """lfw_faces written as train/ val/ test/ and as one class folder."""
    root = tmp_path_factory.mktemp('layouts')
    export_bundled('lfw_faces', str(root / 'pre_split'))
    export_bundled('lfw_faces', str(root / 'one_folder'), split='all')
    return root


@pytest.mark.parametrize('config', SHIPPED_CONFIGS, ids=osp.basename)
def test_bundled_default_tests_on_held_out_images(config):
    datasets = build_loader_datasets(config)
    assert_test_is_held_out(datasets)
    # the bundled default is split 60 / 20 / 20 (digits: 1,797 images)
    assert [len(datasets[name]) for name in LOADERS] == [1079, 359, 359]


@pytest.mark.parametrize('layout, sizes', [('pre_split', [80, 60, 60]),
                                           ('one_folder', [120, 40, 40])])
@pytest.mark.parametrize('config', SHIPPED_CONFIGS, ids=osp.basename)
def test_folder_tests_on_held_out_images(config, folders, layout, sizes):
    datasets = build_loader_datasets(config,
                                     data_root=str(folders / layout))
    assert_test_is_held_out(datasets)
    assert [len(datasets[name]) for name in LOADERS] == sizes
    if layout == 'pre_split':
        test_folder = str(folders / layout / 'test') + osp.sep
        assert all(p.startswith(test_folder)
                   for p in identities(datasets['test_dataloader']))
