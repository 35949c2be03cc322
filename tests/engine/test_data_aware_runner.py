"""DataAwareRunner: decisions made before the Runner is built, logged, stored
in every checkpoint, and reused by a run that loads one."""
import os.path as osp

import torch
from mmengine.config import Config

from conftest import AUTO_MBV3, fast_config, train
from mmtricks.engine import DataAwareRunner, apply_data_decisions
from mmtricks.engine.recipe_config import META_KEY

from test_recipe_config import write_folder


def test_trains_on_a_folder_from_one_setting_and_stores_decisions(tmp_path):
    root = write_folder(tmp_path / 'data', [45, 15], side=70)
    cfg = fast_config(work_dir=tmp_path / 'work')
    cfg.data_root = root  # the only data setting
    runner = train(cfg)
    assert isinstance(runner, DataAwareRunner)
    assert runner.model.head.num_classes == 2
    assert runner.train_dataloader.dataset[0]['inputs'].shape[-1] == 64
    saved = torch.load(osp.join(cfg.work_dir, 'epoch_1.pth'),
                       weights_only=True)
    stored = saved['meta'][META_KEY]
    assert stored['image_size'] == 64
    assert stored['classes'] == ['class_0', 'class_1']
    assert stored['reasons'] == runner.data_decisions.reasons
    # the work dir's config builds the same run again, nothing left to decide
    dumped = Config.fromfile(osp.join(cfg.work_dir, osp.basename(
        runner.cfg.filename)))
    assert dumped.runner_type == 'DataAwareRunner'
    assert dumped.image_size == 64 and dumped.num_classes == 2
    log = open(osp.join(runner.log_dir, osp.basename(runner.log_dir) +
                        '.log')).read()
    assert 'Data decision: image_size 64: the training images' in log


def test_a_run_loading_a_checkpoint_uses_its_size(tmp_path):
    root = write_folder(tmp_path / 'data', [45, 15], side=70)
    cfg = fast_config(work_dir=tmp_path / 'work')
    cfg.data_root = root
    train(cfg)
    checkpoint = osp.join(cfg.work_dir, 'epoch_1.pth')
    # as `mim test CONFIG --checkpoint ...` builds it, with a budget that
    # would now choose 32 px: the checkpoint's 64 px wins, said so
    test_cfg = Config.fromfile(AUTO_MBV3)
    test_cfg.merge_from_dict(dict(data_root=root, max_image_size=32,
                                  load_from=checkpoint))
    decisions = apply_data_decisions(test_cfg)
    assert decisions.image_size == 64
    assert test_cfg.test_pipeline[1]['scale'] == (64, 64)
    assert checkpoint in decisions.reasons[2]
    # an explicit size still wins over the checkpoint's
    explicit = Config.fromfile(AUTO_MBV3)
    explicit.merge_from_dict(dict(data_root=root, image_size=32,
                                  load_from=checkpoint))
    assert apply_data_decisions(explicit).image_size == 32
    # deploying takes every decision from the checkpoint, classes included
    moved = Config.fromfile(AUTO_MBV3)
    decisions = apply_data_decisions(moved, checkpoint=checkpoint,
                                     from_checkpoint=True)
    assert moved.model.head.num_classes == 2
    assert decisions.image_size == 64
