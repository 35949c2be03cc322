import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

import mmtricks  # noqa: F401
from mmtricks.optim import NO_BIAS_DECAY

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SNIPPET = osp.join(REPO, 'configs', '_base_', 'tricks', 'no_bias_decay.py')
WEIGHT_DECAY = 5e-4


def mobilenet_v3_classifier():
    return MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='MobileNetV3', arch='small'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='StackedLinearClsHead', num_classes=10,
                  in_channels=576, mid_channels=[1024],
                  act_cfg=dict(type='HSwish'))))


def expected_decay(model):
    """name -> weight decay Bag of Tricks asks for."""
    expected = {}
    for module_name, module in model.named_modules():
        for name, _ in module.named_parameters(recurse=False):
            free = isinstance(module, _BatchNorm) or name == 'bias'
            assert free or isinstance(module, (nn.Conv2d, nn.Linear)), \
                module_name
            expected[f'{module_name}.{name}'] = 0.0 if free else WEIGHT_DECAY
    return expected


def decay_by_name(model, optim_wrapper):
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: group['weight_decay']
            for group in optim_wrapper.optimizer.param_groups
            for p in group['params']}


@pytest.mark.parametrize('source', ['constant', 'base_config'])
def test_no_bias_decay_param_groups_on_mobilenet_v3(source, tmp_path):
    if source == 'constant':
        cfg = dict(paramwise_cfg=NO_BIAS_DECAY)
    else:
        config = tmp_path / 'user.py'
        config.write_text(f'_base_ = [{SNIPPET!r}]\n')
        cfg = Config.fromfile(str(config)).optim_wrapper.to_dict()
    cfg['optimizer'] = dict(type='SGD', lr=0.1, momentum=0.9,
                            weight_decay=WEIGHT_DECAY)
    model = mobilenet_v3_classifier()
    decay = decay_by_name(model, build_optim_wrapper(model, cfg))
    expected = expected_decay(model)
    assert decay == expected
    assert 0 < sum(v == 0 for v in expected.values()) < len(expected)
    assert any(n.endswith('.bn.weight') for n, v in decay.items() if v == 0)
    assert any(n.endswith('conv.weight') and v == WEIGHT_DECAY
               for n, v in decay.items())


def test_without_preset_every_param_decays():
    model = mobilenet_v3_classifier()
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(
        type='SGD', lr=0.1, weight_decay=WEIGHT_DECAY)))
    assert set(decay_by_name(model, wrapper).values()) == {WEIGHT_DECAY}
    assert isinstance(wrapper.optimizer, torch.optim.SGD)
