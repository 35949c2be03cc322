"""Zero-gamma: each residual block starts as the identity (Bag of Tricks 3.1).

He et al., "Bag of Tricks for Image Classification with Convolutional Neural
Networks", CVPR 2019, and Goyal et al., "Accurate, Large Minibatch SGD",
2017: set gamma of the last BatchNorm of every residual branch to 0, so that
``out = shortcut(x) + 0`` at initialisation. The network then starts shallow
(fewer effective layers), which eases training from scratch, large batches
in particular.
"""
import logging
from typing import Iterator, List, Optional, Tuple

import torch
from mmengine.logging import print_log
from mmengine.registry import WEIGHT_INITIALIZERS as ROOT_WEIGHT_INITIALIZERS
from mmpretrain.registry import WEIGHT_INITIALIZERS
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

# Flags by which MMPretrain's inverted-residual blocks say they add their
# input: `InvertedResidual` (MobileNetV3, EfficientNet) and MobileNetV2's.
SHORTCUT_FLAGS = ('with_res_shortcut', 'use_res_connect')
# ResNet-family blocks (MMPretrain's and torchvision's BasicBlock/Bottleneck)
# always add a shortcut, identity or projection, held in this attribute.
PROJECTION_SHORTCUT = 'downsample'


def is_residual_block(module: nn.Module) -> bool:
    """Whether ``module`` adds its residual branch to a shortcut."""
    if any(getattr(module, flag, None) is True for flag in SHORTCUT_FLAGS):
        return True
    if any(hasattr(module, flag) for flag in SHORTCUT_FLAGS):
        return False
    shortcut = getattr(module, PROJECTION_SHORTCUT, False)
    return shortcut is None or isinstance(shortcut, nn.Module)


def last_branch_norm(block: nn.Module) -> Optional[Tuple[str, _BatchNorm]]:
    """The last BatchNorm of the residual branch, in registration order.

    Blocks register their layers in forward order; the projection shortcut
    (``downsample``) is not part of the branch.
    """
    found = None
    for name, module in block.named_modules():
        on_shortcut = name == PROJECTION_SHORTCUT or name.startswith(
            PROJECTION_SHORTCUT + '.')
        if isinstance(module, _BatchNorm) and not on_shortcut:
            found = (name, module)
    return found


def residual_blocks(model: nn.Module) -> Iterator[Tuple[str, nn.Module]]:
    """The innermost residual blocks of ``model``.

    A module that holds residual blocks (a stage with a ``downsample``
    attribute, say) is not itself treated as one.
    """
    candidates = [(name, m) for name, m in model.named_modules()
                  if is_residual_block(m)]
    for name, block in candidates:
        inner = any(other is not block and _is_descendant(other, block)
                    for _, other in candidates)
        if not inner:
            yield name, block


def _is_descendant(module: nn.Module, ancestor: nn.Module) -> bool:
    return any(m is module for m in ancestor.modules() if m is not ancestor)


def last_bn_targets(model: nn.Module) -> List[Tuple[str, _BatchNorm]]:
    """``(qualified name, BN)`` of every residual branch's last BatchNorm."""
    targets = []
    for block_name, block in residual_blocks(model):
        found = last_branch_norm(block)
        if found is not None:
            norm_name, norm = found
            targets.append(('.'.join(filter(None, (block_name, norm_name))),
                            norm))
    return targets


def zero_init_last_bn(model: nn.Module) -> List[str]:
    """Set the weight (gamma) of each residual branch's last BN to zero.

    Residual blocks are found by structure: MMPretrain's inverted residuals
    that have an identity shortcut (``with_res_shortcut`` /
    ``use_res_connect`` True; blocks without one are left alone, since
    zeroing them would zero their output) and ResNet-style blocks with a
    ``downsample`` attribute (``BasicBlock.norm2``, ``Bottleneck.norm3``).

    Args:
        model (nn.Module): Any model; searched recursively.

    Returns:
        list[str]: Qualified names of the BN layers zeroed.
    """
    names = []
    for name, norm in last_bn_targets(model):
        if norm.weight is not None:
            with torch.no_grad():
                norm.weight.zero_()
            names.append(name)
    return names


@WEIGHT_INITIALIZERS.register_module()
class ZeroInitLastBN:
    """Weight initialiser: zero-gamma for training from scratch.

    Use it as the last entry of a backbone's ``init_cfg``, e.g.::

        model = dict(backbone=dict(init_cfg=dict(type='ZeroInitLastBN')))

    MMEngine runs a module's own initialisers *before* its sub-modules'
    ``init_weights`` (which reset BN gamma to 1), so this initialiser first
    runs the sub-modules' ``init_weights`` itself, then zeroes, then marks
    them initialised. Entries after it in the same ``init_cfg`` list would
    run later and may overwrite it.

    It is meant for from-scratch training only: when the targeted BN weights
    are not all 1 (fresh initialisation), the model was loaded from a
    checkpoint (``PretrainedIfAvailable`` earlier in the list, say), and it
    logs a warning and changes nothing. MMEngine's ``Pretrained`` type and
    ``load_from``/``resume`` load after it and overwrite it, as they should.
    """

    def __init__(self) -> None:
        self.wholemodule = False  # set by MMEngine's `initialize`

    def __call__(self, module: nn.Module) -> None:
        for child in module.children():
            if hasattr(child, 'init_weights') and not getattr(
                    child, 'is_init', False):
                child.init_weights()
                child.is_init = True
        targets = last_bn_targets(module)
        loaded = [name for name, norm in targets if norm.weight is not None
                  and not torch.all(norm.weight == 1)]
        if loaded:
            print_log(
                f'ZeroInitLastBN: {len(loaded)} of {len(targets)} last-BN '
                f'weights (first: {loaded[0]}) are not freshly initialised, '
                'so the weights come from a checkpoint; zero-gamma is for '
                'training from scratch and is skipped.',
                logger='current', level=logging.WARNING)
            return
        names = zero_init_last_bn(module)
        if not names:
            print_log(
                f'ZeroInitLastBN: found no residual block with a BatchNorm '
                f'to zero in {type(module).__name__}, so it changed nothing. '
                'It recognises blocks by a `with_res_shortcut` / '
                '`use_res_connect` flag that is True (inverted residuals) '
                'or a `downsample` attribute (ResNet-style); remove '
                'ZeroInitLastBN from this init_cfg, or zero the last BN of '
                "this model's residual branches in its own init_weights.",
                logger='current', level=logging.WARNING)
            return
        print_log(f'ZeroInitLastBN: zeroed {len(names)} BN weights.',
                  logger='current', level=logging.INFO)

    def __repr__(self) -> str:
        return f'{type(self).__name__}()'


# A model built by hand initialises outside any default scope, where MMEngine
# looks initialisers up in its root registry only.
ROOT_WEIGHT_INITIALIZERS.register_module(module=ZeroInitLastBN)
