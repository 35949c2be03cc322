import pytest
import torch
from mmpretrain.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

import mmtricks  # noqa: F401
from mmtricks.models.backbones.efficientnet_lite import (ARCH_SETTINGS,
                                                         EfficientNetLite,
                                                         scaled_stages)


def lite0(**kwargs):
    kwargs.setdefault('init_cfg', None)
    return MODELS.build(dict(type='EfficientNetLite', **kwargs))


def test_out_indices_shapes():
    model = lite0(out_indices=(0, 1, 2, 3, 4, 5, 6, 7, 8)).eval()
    with torch.no_grad():
        outs = model(torch.zeros(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [
        (32, 32, 32), (16, 32, 32), (24, 16, 16), (40, 8, 8), (80, 4, 4),
        (112, 4, 4), (192, 2, 2), (320, 2, 2), (1280, 2, 2)]


def test_odd_input_size_uses_tf_same_padding():
    # TF "SAME": output side ceil(input / stride) at every stride-2 layer.
    model = lite0().eval()
    with torch.no_grad():
        (out, ) = model(torch.zeros(1, 3, 225, 225))
    assert out.shape[-2:] == (8, 8)


def test_lite0_block_layout_and_size():
    model = lite0()
    assert [len(model.layers[i]) for i in range(1, 8)] == \
        [1, 2, 2, 3, 3, 4, 1]
    # The reference implementation has 3,371,008 besides its classifier.
    assert sum(p.numel() for p in model.parameters()) == 3_371_008
    # No squeeze-excitation, ReLU6 everywhere.
    assert not any('se' in name.split('.') for name, _ in
                   model.named_modules())
    acts = {type(m).__name__ for m in model.modules()
            if isinstance(m, (torch.nn.ReLU6, torch.nn.ReLU, torch.nn.SiLU))}
    assert acts == {'ReLU6'}


@pytest.mark.parametrize('arch, repeats, widths', [
    ('lite2', [1, 3, 3, 4, 4, 5, 1], [16, 24, 48, 88, 120, 208, 352]),
    ('lite4', [1, 4, 4, 6, 6, 8, 1], [24, 32, 56, 112, 160, 272, 448]),
])
def test_scaled_stages_keep_stem_head_and_end_stages(arch, repeats, widths):
    stages = scaled_stages(arch)
    assert [s[4] for s in stages] == repeats
    assert [s[3] for s in stages] == widths
    model = EfficientNetLite(arch=arch, init_cfg=None)
    assert model.layers[0].conv.out_channels == 32
    assert model.layers[-1].conv.out_channels == 1280


def test_unknown_arch_and_bad_indices_are_errors():
    with pytest.raises(ValueError, match='lite0'):
        lite0(arch='lite9')
    with pytest.raises(ValueError, match='out_indices'):
        lite0(out_indices=(9, ))
    with pytest.raises(ValueError, match='frozen_stages'):
        lite0(frozen_stages=10)
    assert set(ARCH_SETTINGS) == {f'lite{i}' for i in range(5)}


def test_frozen_stages_freeze_params_and_bn():
    model = lite0(frozen_stages=3)
    model.train()
    for i, layer in enumerate(model.layers):
        frozen = i < 3
        assert all(p.requires_grad != frozen for p in layer.parameters()), i
        bns = [m for m in layer.modules() if isinstance(m, _BatchNorm)]
        assert bns and all(bn.training != frozen for bn in bns), i
    # A training step leaves the frozen layers' weights and statistics alone.
    before = {k: v.clone() for k, v in model.layers[:3].state_dict().items()}
    optimizer = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.1)
    model(torch.randn(2, 3, 32, 32))[0].mean().backward()
    optimizer.step()
    after = model.layers[:3].state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_norm_eval_keeps_every_bn_in_eval_mode():
    model = lite0(norm_eval=True)
    model.train()
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert bns and not any(bn.training for bn in bns)
    assert model.layers[4].training  # the rest still trains
    stats = bns[5].running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    assert torch.equal(stats, bns[5].running_mean)
