import logging

import torch
from mmpretrain.models.backbones.resnet import BasicBlock
from mmpretrain.models.utils import InvertedResidual
from mmpretrain.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

import mmtricks  # noqa: F401
from mmtricks.models import zero_init_last_bn

MBV3_DEFAULT_INIT = [
    dict(type='Kaiming', layer=['Conv2d'], nonlinearity='leaky_relu'),
    dict(type='Normal', layer=['Linear'], std=0.01),
    dict(type='Constant', layer=['BatchNorm2d'], val=1),
]


def mobilenet_v3_small(init_cfg=None):
    kwargs = {} if init_cfg is None else dict(init_cfg=init_cfg)
    return MODELS.build(dict(type='MobileNetV3', arch='small', **kwargs))


def bn_weights(model):
    return {name: m.weight.detach().clone()
            for name, m in model.named_modules() if isinstance(m, _BatchNorm)}


def shortcut_block_norms(model):
    return [f'{name}.linear_conv.bn' for name, m in model.named_modules()
            if isinstance(m, InvertedResidual) and m.with_res_shortcut]


def assert_only_these_zeroed(before, after, zeroed):
    for name, weight in after.items():
        if name in zeroed:
            assert torch.equal(weight, torch.zeros_like(weight)), name
        else:
            assert torch.equal(weight, before[name]), name


def test_mobilenet_v3_small_zeroes_only_shortcut_blocks_last_bn():
    torch.manual_seed(0)
    model = mobilenet_v3_small()
    with torch.no_grad():  # not 1 everywhere, so untouched BNs are seen
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                m.weight.uniform_(0.5, 1.5)
    before = bn_weights(model)
    names = zero_init_last_bn(model)
    assert names == shortcut_block_norms(model)
    assert names == ['layer3.linear_conv.bn', 'layer5.linear_conv.bn',
                     'layer6.linear_conv.bn', 'layer8.linear_conv.bn',
                     'layer10.linear_conv.bn', 'layer11.linear_conv.bn']
    assert_only_these_zeroed(before, bn_weights(model), set(names))


def test_resnet18_matches_mmpretrain_zero_init_residual():
    torch.manual_seed(0)
    ours = MODELS.build(dict(type='ResNet', depth=18,
                             zero_init_residual=False))
    ours.init_weights()
    before = bn_weights(ours)
    names = zero_init_last_bn(ours)
    expected = [f'layer{stage}.{block}.bn2' for stage in range(1, 5)
                for block in range(2)]
    assert names == expected
    assert_only_these_zeroed(before, bn_weights(ours), set(names))

    torch.manual_seed(0)
    theirs = MODELS.build(dict(type='ResNet', depth=18,
                               zero_init_residual=True))
    theirs.init_weights()
    for key, value in theirs.state_dict().items():
        assert torch.equal(value, ours.state_dict()[key]), key


def test_zeroed_blocks_are_identities_at_init():
    torch.manual_seed(0)
    block = InvertedResidual(16, 16, mid_channels=48, kernel_size=3,
                             se_cfg=dict(channels=48, ratio=4))
    assert block.with_res_shortcut
    zero_init_last_bn(block)
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(block.eval()(x), x)

    basic = BasicBlock(8, 8)
    zero_init_last_bn(basic)
    x = torch.rand(2, 8, 8, 8)  # post-ReLU input, as inside a ResNet
    assert torch.equal(basic.eval()(x), x)

    untouched = BasicBlock(8, 8)
    assert not torch.equal(untouched.eval()(x), x)


def test_initializer_survives_mmengine_init_order():
    """Sub-modules' init_weights reset BN to 1 after a module's own
    initialisers; the initialiser must still leave the zeros."""
    for init_cfg in (dict(type='ZeroInitLastBN'),
                     MBV3_DEFAULT_INIT + [dict(type='ZeroInitLastBN')]):
        model = mobilenet_v3_small(init_cfg)
        model.init_weights()
        zeroed = set(shortcut_block_norms(model))
        for name, weight in bn_weights(model).items():
            expected = 0.0 if name in zeroed else 1.0
            assert torch.all(weight == expected), (init_cfg, name)


def test_initializer_skips_and_warns_after_pretrained_weights(tmp_path,
                                                              monkeypatch):
    from mmtricks.models import zero_gamma_init as module
    logged = []
    monkeypatch.setattr(module, 'print_log',
                        lambda msg, **kw: logged.append((msg, kw)))
    torch.manual_seed(1)
    source = mobilenet_v3_small()
    with torch.no_grad():
        for m in source.modules():
            if isinstance(m, _BatchNorm):
                m.weight.uniform_(0.5, 1.5)
    path = tmp_path / 'pretrained.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v
                               in source.state_dict().items()}}, path)
    model = mobilenet_v3_small([
        dict(type='PretrainedIfAvailable', checkpoint=str(path),
             prefix='backbone'),
        dict(type='ZeroInitLastBN'),
    ])
    model.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    warnings = [msg for msg, kw in logged if kw['level'] == logging.WARNING]
    assert len(warnings) == 1 and 'skipped' in warnings[0]


def test_initializer_warns_naming_a_model_without_residual_blocks(
        monkeypatch):
    from mmtricks.models import zero_gamma_init as module
    logged = []
    monkeypatch.setattr(module, 'print_log',
                        lambda msg, **kw: logged.append((msg, kw)))
    model = MODELS.build(dict(type='VGG', depth=11, norm_cfg=dict(type='BN'),
                              init_cfg=dict(type='ZeroInitLastBN')))
    model.init_weights()
    assert all(torch.all(w == 1) for w in bn_weights(model).values())
    assert [kw['level'] for _, kw in logged] == [logging.WARNING]
    message = logged[0][0]
    assert 'VGG' in message and 'remove ZeroInitLastBN' in message
