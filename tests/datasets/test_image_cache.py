"""The in-memory cache of a folder's decoded, resized images."""
import os.path as osp
import warnings

import cv2
import numpy as np
import pytest
import torch
from mmpretrain.registry import DATASETS

import mmtricks  # noqa: F401
from mmtricks.transforms.loading import UnreadableImageError

SIZE = 16
PIPELINE = [dict(type='LoadImageIfPath'),
            dict(type='Resize', scale=(SIZE, SIZE)),
            dict(type='PackInputs')]


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    """Two classes of real PNGs of odd sizes (so the resize matters)."""
    root = tmp_path_factory.mktemp('pngs')
    rng = np.random.default_rng(0)
    for c in ('cat', 'dog'):
        (root / c).mkdir()
        for i in range(10):
            h, w = rng.integers(20, 60, size=2)
            image = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
            cv2.imwrite(str(root / c / f'{i}.png'), image)
    return str(root)


def build(root, **kwargs):
    cfg = dict(type='FolderOrBundledDataset', data_root=root, split='all',
               image_size=SIZE, pipeline=PIPELINE)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_cached_images_equal_the_uncached_pipeline(folder):
    cached = build(folder)
    plain = build(folder, cache_images=False)
    assert cached.cache is not None and plain.cache is None
    assert cached.cache.shape == (20, SIZE, SIZE, 3)
    assert not cached.cache.flags.writeable
    for i in range(len(cached)):
        a, b = cached[i], plain[i]
        assert torch.equal(a['inputs'], b['inputs'])
        assert a['data_samples'].gt_label == b['data_samples'].gt_label


def test_cache_uses_the_pipelines_interpolation(folder):
    pipeline = [PIPELINE[0], dict(type='Resize', scale=(SIZE, SIZE),
                                  interpolation='area'), PIPELINE[2]]
    cached = build(folder, pipeline=pipeline)
    plain = build(folder, pipeline=pipeline, cache_images=False)
    bilinear = build(folder)
    same = [torch.equal(cached[i]['inputs'], plain[i]['inputs'])
            for i in range(len(cached))]
    assert all(same)
    # and that interpolation made a difference (the test can fail)
    assert not all(torch.equal(cached[i]['inputs'], bilinear[i]['inputs'])
                   for i in range(len(cached)))


def test_cached_pipeline_never_reads_the_files(folder, monkeypatch):
    dataset = build(folder)
    from mmtricks.transforms import loading

    def refuse(self, path):
        raise AssertionError(f'read {path}')

    monkeypatch.setattr(loading.LoadImageIfPath, '_read', refuse)
    assert dataset[0]['inputs'].shape == (3, SIZE, SIZE)


def test_native_size_is_not_cached(folder):
    assert build(folder, image_size=None).cache is None


def test_set_over_the_limit_warns_once_and_is_not_cached(folder):
    limit = 0.001  # MB; 20 images of 16x16x3 need 0.015
    with pytest.warns(UserWarning) as record:
        dataset = build(folder, cache_limit_mb=limit)
    messages = [str(r.message) for r in record
                if 'cache_limit_mb' in str(r.message)]
    assert len(messages) == 1
    assert 'Raise the limit with dataset.cache_limit_mb=1' in messages[0]
    assert dataset.cache is None
    assert dataset[0]['inputs'].shape == (3, SIZE, SIZE)  # still trains


def test_no_warning_when_the_set_fits(folder):
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        build(folder)


def test_bad_limit_is_refused(folder):
    with pytest.raises(ValueError, match='cache_images=False'):
        build(folder, cache_limit_mb=0)


def test_undecodable_image_is_named(folder, tmp_path):
    import shutil
    root = tmp_path / 'copy'
    shutil.copytree(folder, root)
    bad = root / 'cat' / 'broken.png'
    bad.write_bytes(b'\x89PNG\r\n\x1a\nnot really')
    # PIL's start-up check is off: the cache's decode still names the file
    with pytest.raises(UnreadableImageError, match=osp.basename(bad)):
        build(str(root), check_images=False)


def test_pipeline_without_load_if_path_warns(folder):
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='Resize', scale=(SIZE, SIZE)),
                dict(type='PackInputs')]
    with pytest.warns(UserWarning, match='LoadImageIfPath'):
        dataset = build(folder, pipeline=pipeline)
    assert dataset.cache is None


def test_workers_share_the_cache(folder):
    """A forked loader worker serves the cached images (read-only array)."""
    dataset = build(folder)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=4, num_workers=1,
        multiprocessing_context='fork', collate_fn=lambda batch: batch)
    served = [s['inputs'] for batch in loader for s in batch]
    assert len(served) == 20
    assert torch.equal(served[3], dataset[3]['inputs'])
