"""The recipe config made concrete from the data: one folder setting, the
classes, the input size, the monitor; each honoured everywhere or refused."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from conftest import AUTO_MBV3, REPO
from mmtricks.datasets import load_bundled
from mmtricks.engine import apply_data_decisions
from mmtricks.engine.recipe_config import (RecipeConfigError,
                                           fill_image_size, fixed_sizes,
                                           size_placeholder)

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def write_folder(root, counts, side):
    """Real digit images, ``counts[c]`` of class ``c``, ``side`` px."""
    digits = load_bundled('digits')
    for label, count in enumerate(counts):
        folder = osp.join(root, f'class_{label}')
        os.makedirs(folder)
        images = digits.images[digits.labels == label][:count]
        for i, image in enumerate(images):
            cv2.imwrite(osp.join(folder, f'{i}.png'),
                        cv2.resize(image, (side, side)))
    return str(root)


def sizes_everywhere(cfg):
    """Every size field of the pipelines and datasets, after decisions."""
    found = set()
    pipelines = [cfg.train_pipeline, cfg.test_pipeline] + [
        cfg[name].dataset.pipeline for name in LOADERS]
    for pipeline in pipelines:
        for step in pipeline:
            if 'scale' in step:
                found.add(('scale', tuple(step['scale'])))
            if 'crop_size' in step:
                found.add(('crop_size', step['crop_size']))
            if 'padding' in step:
                found.add(('padding', step['padding']))
    for name in LOADERS:
        found.add(('dataset', cfg[name].dataset.image_size))
    return found


def test_placeholders_parse():
    assert size_placeholder('image_size') == 1
    assert size_placeholder('image_size/8') == 8
    assert size_placeholder('image_size*2') is None
    assert size_placeholder(32) is None


@pytest.mark.parametrize('size', [64, 96])
def test_one_image_size_setting_reaches_every_place(size):
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.merge_from_dict(dict(image_size=size))  # as --cfg-options does
    decisions = apply_data_decisions(cfg)
    assert decisions.image_size == size == cfg.image_size
    assert sizes_everywhere(cfg) == {
        ('scale', (size, size)), ('crop_size', size),
        ('padding', size // 8), ('dataset', size)}
    assert 'set in the config' in decisions.reasons[1]


def test_a_size_fixed_elsewhere_is_refused_not_ignored():
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.test_pipeline[1]['scale'] = (32, 32)  # fixed by hand
    cfg.image_size = 64
    with pytest.raises(RecipeConfigError,
                       match=r"image_size=64 but test_pipeline Resize.scale "
                             r"is fixed at 32.*'image_size'"):
        apply_data_decisions(cfg)
    assert fixed_sizes(cfg) == {'test_pipeline Resize.scale': 32}


def test_one_batch_size_setting_reaches_every_loader():
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.merge_from_dict(dict(batch_size=16))  # as --cfg-options does
    decisions = apply_data_decisions(cfg)
    assert [cfg[name].batch_size for name in LOADERS] == [16] * 3
    assert decisions.batch_size == cfg.batch_size == 16
    assert 'batch_size 16: set in the config.' in decisions.reasons
    assert cfg.train_dataloader.drop_last


def test_batch_size_is_chosen_from_a_small_split(tmp_path):
    # 10 classes of 13 training images: the 130-image set.
    root = write_folder(tmp_path / 'data', [13] * 10, side=32)
    os.rename(root, str(tmp_path / 'train'))
    os.makedirs(tmp_path / 'split')
    for split in ('train', 'val', 'test'):
        if split == 'train':
            os.rename(tmp_path / 'train', tmp_path / 'split' / 'train')
        else:
            write_folder(tmp_path / 'split' / split, [3] * 10, side=32)
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.data_root = str(tmp_path / 'split')
    decisions = apply_data_decisions(cfg)
    assert decisions.batch_size == 16
    assert [cfg[name].batch_size for name in LOADERS] == [16] * 3
    assert any(r.startswith('batch_size 16: 130 training images')
               for r in decisions.reasons)


def test_a_batch_size_fixed_elsewhere_or_too_large_is_refused(tmp_path):
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.merge_from_dict(dict(batch_size=32,
                             val_dataloader=dict(batch_size=8)))
    with pytest.raises(RecipeConfigError,
                       match=r"batch_size=32 but val_dataloader.batch_size "
                             r"is fixed at 8.*'batch_size'"):
        apply_data_decisions(cfg)
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.merge_from_dict(dict(data_root=write_folder(
        tmp_path / 'data', [10, 10], side=32), batch_size=64))
    with pytest.raises(RecipeConfigError, match='no full batch'):
        apply_data_decisions(cfg)


def test_fill_counts_every_placeholder():
    cfg = Config.fromfile(AUTO_MBV3)
    # Resize + RandomCrop (2 fields + padding) + Resize per pipeline: the
    # two pipeline variables and three loaders, plus three datasets
    assert fill_image_size(cfg, 32) == 3 + 1 + 3 + 1 + 1 + 3
    assert fill_image_size(cfg, 64) == 0


def test_data_root_alone_points_every_split_at_the_folder(tmp_path):
    root = write_folder(tmp_path / 'data', [30, 30, 30], side=70)
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.merge_from_dict(dict(data_root=root))
    decisions = apply_data_decisions(cfg)
    assert [cfg[n].dataset.data_root for n in LOADERS] == [root] * 3
    assert cfg.model.head.num_classes == cfg.data_preprocessor.num_classes \
        == 3
    assert decisions.classes == ('class_0', 'class_1', 'class_2')
    assert decisions.image_size == 64  # 70 px images
    assert decisions.monitor == 'accuracy/top1'
    assert cfg.default_hooks.checkpoint.save_best == 'accuracy/top1'


def test_imbalanced_folder_monitors_macro_f1(tmp_path):
    root = write_folder(tmp_path / 'data', [60, 20], side=40)
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.data_root = root
    decisions = apply_data_decisions(cfg)
    policy = next(s for s in cfg.param_scheduler
                  if s['type'] == 'AutoEpochsLR')
    assert decisions.monitor == policy['monitor'] == \
        cfg.default_hooks.checkpoint.save_best == \
        cfg.log_processor.monitor == 'macro/f1-score'
    assert any('imbalanced (minority/majority 0.33' in r
               for r in decisions.reasons)


def test_explicit_monitor_wins(tmp_path):
    root = write_folder(tmp_path / 'data', [60, 20], side=40)
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.merge_from_dict(dict(data_root=root, monitor='accuracy/top1'))
    assert apply_data_decisions(cfg).monitor == 'accuracy/top1'


def test_class_balanced_sampling_wraps_the_train_split(tmp_path):
    root = write_folder(tmp_path / 'data', [60, 20], side=40)
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.merge_from_dict(dict(data_root=root, class_balanced_sampling=True))
    decisions = apply_data_decisions(cfg)
    wrapped = cfg.train_dataloader.dataset
    assert decisions.class_balanced_sampling
    assert wrapped.type == 'ClassBalancedDataset'
    assert wrapped.oversample_thr == 0.5
    assert wrapped.dataset.data_root == root
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import DATASETS
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # as the Runner
        built = DATASETS.build(wrapped)
    labels = np.array([built.get_cat_ids(i)[0] for i in range(len(built))])
    # 20 of 80 images (0.25 < 0.5) repeat sqrt(0.5 / 0.25) = 1.41 -> 2x
    assert (labels == 1).sum() > 12  # more minority images than its 12
    with pytest.raises(RecipeConfigError, match='True, False or'):
        bad = Config.fromfile(AUTO_MBV3)
        bad.merge_from_dict(dict(data_root=root,
                                 class_balanced_sampling='yes'))
        apply_data_decisions(bad)


def test_wrong_num_classes_and_two_roots_are_clear_errors(tmp_path):
    root = write_folder(tmp_path / 'data', [30, 30], side=40)
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.merge_from_dict(dict(data_root=root, num_classes=5))
    with pytest.raises(ValueError, match='num_classes=5 but .* has 2'):
        apply_data_decisions(cfg)
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.merge_from_dict(dict(data_root=root))
    cfg.val_dataloader.dataset.data_root = str(tmp_path)
    with pytest.raises(RecipeConfigError, match='two folders for one split'):
        apply_data_decisions(cfg)
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.data_root = str(tmp_path / 'missing')
    with pytest.raises(RecipeConfigError, match='is not a folder'):
        apply_data_decisions(cfg)


@pytest.mark.parametrize('name', ['auto_effnet_lite0.py', 'paper_mbv3.py'])
def test_other_shipped_configs_decide_the_same_way(name, tmp_path):
    root = write_folder(tmp_path / 'data', [30, 30], side=100)
    cfg = Config.fromfile(osp.join(REPO, 'configs', name))
    cfg.data_root = root
    decisions = apply_data_decisions(cfg)
    assert cfg.model.head.num_classes == 2
    assert decisions.image_size == 96
    assert ('scale', (96, 96)) in sizes_everywhere(cfg)


def test_stored_decisions_reads_a_checkpoint_once_while_it_is_unchanged(
        tmp_path, monkeypatch):
    import torch

    from mmtricks.compat import checkpoint_loading
    from mmtricks.engine.recipe_config import stored_decisions
    path = str(tmp_path / 'epoch_1.pth')
    torch.save(dict(meta=dict(data_decisions=dict(image_size=64))), path)
    reads = []
    load = checkpoint_loading.load_checkpoint_file

    def counted(*args, **kwargs):
        reads.append(args[0])
        return load(*args, **kwargs)
    monkeypatch.setattr(checkpoint_loading, 'load_checkpoint_file', counted)
    first = stored_decisions(path)
    first['image_size'] = 999  # a caller's change stays its own
    assert stored_decisions(path) == dict(image_size=64)
    assert stored_decisions(osp.join(str(tmp_path), '.', 'epoch_1.pth')) == \
        dict(image_size=64)
    assert len(reads) == 1
    # Another file at the same path (a resumed run's new checkpoint) is read.
    torch.save(dict(meta=dict(data_decisions=dict(image_size=128,
                                                  classes=['a', 'b']))),
               path)
    assert stored_decisions(path)['image_size'] == 128
    assert len(reads) == 2
    assert stored_decisions(None) is None
