"""Size placeholders in a recipe config: where a config says
``'image_size'`` (or ``'image_size/N'``, its N-th part), filled once the
size is decided (:mod:`.recipe_config`).

The size-bearing fields are pipeline steps' ``scale``, ``crop_size`` and
``padding`` (in the top-level ``train_pipeline`` / ``test_pipeline`` and in
each loader's dataset, through dataset wrappers) and datasets'
``image_size``.
"""
import re
from typing import Dict, List, Optional, Tuple

from ..datasets.facts import unwrap_dataset_cfg
from .config_keys import SPLIT_LOADERS

SIZE_TOKEN = 'image_size'
PIPELINE_VARIABLES = ('train_pipeline', 'test_pipeline')
SIZE_KEYS = ('scale', 'crop_size', 'padding')
_SIZE_PLACEHOLDER = re.compile(r'^image_size(?:/(\d+))?$')


def size_placeholder(value) -> Optional[int]:
    """The divisor of a size placeholder (1 for ``'image_size'``, N for
    ``'image_size/N'``), None for anything else."""
    if not isinstance(value, str):
        return None
    match = _SIZE_PLACEHOLDER.match(value)
    if match is None:
        return None
    return int(match.group(1) or 1)


def _pipelines(cfg) -> List[Tuple[str, list]]:
    found = [(name, cfg[name]) for name in PIPELINE_VARIABLES
             if isinstance(cfg.get(name), list)]
    for loader in SPLIT_LOADERS:
        dataset = loader_dataset(cfg, loader)
        if dataset is not None and isinstance(dataset.get('pipeline'), list):
            found.append((f'{loader}.dataset.pipeline', dataset['pipeline']))
    return found


def loader_dataset(cfg, loader: str) -> Optional[dict]:
    """The dataset config a loader reads, through dataset wrappers."""
    dataloader = cfg.get(loader)
    if not dataloader or not isinstance(dataloader.get('dataset'), dict):
        return None
    return unwrap_dataset_cfg(dataloader['dataset'])


def _size_fields(cfg):
    """``(owner dict, key, where)`` of every size-bearing field: pipeline
    steps' scale / crop_size / padding, datasets' image_size."""
    for where, pipeline in _pipelines(cfg):
        for step in pipeline:
            if isinstance(step, dict):
                for key in SIZE_KEYS:
                    if key in step:
                        yield step, key, f'{where} {step.get("type")}.{key}'
    for loader in SPLIT_LOADERS:
        dataset = loader_dataset(cfg, loader)
        if dataset is not None and 'image_size' in dataset:
            yield dataset, 'image_size', f'{loader}.dataset.image_size'


def fill_image_size(cfg, size: int) -> int:
    """Replace every size placeholder of ``cfg`` by ``size`` (its N-th part
    for ``'image_size/N'``; ``Resize.scale`` becomes ``(size, size)``).

    Returns:
        How many fields were filled.
    """
    filled = 0
    for owner, key, _ in _size_fields(cfg):
        divisor = size_placeholder(owner[key])
        if divisor is None:
            continue
        value = size // divisor
        if key == 'scale' and owner.get('type') == 'Resize':
            value = (value, value)
        owner[key] = value
        filled += 1
    return filled


def fixed_sizes(cfg) -> Dict[str, int]:
    """The sides a config fixes without placeholders: ``where -> side`` of
    every concrete ``scale`` and ``crop_size`` (not padding)."""
    sizes = {}
    for owner, key, where in _size_fields(cfg):
        value = owner[key]
        if key == 'padding' or value is None or \
                size_placeholder(value) is not None:
            continue
        if isinstance(value, (tuple, list)) and len(set(value)) == 1:
            value = value[0]
        if isinstance(value, int) and not isinstance(value, bool):
            sizes[where] = value
    return sizes


def has_size_placeholders(cfg) -> bool:
    return any(size_placeholder(owner[key]) is not None
               for owner, key, _ in _size_fields(cfg))


__all__ = ['PIPELINE_VARIABLES', 'SIZE_KEYS', 'SIZE_TOKEN', 'SPLIT_LOADERS',
           'fill_image_size', 'fixed_sizes', 'has_size_placeholders',
           'loader_dataset',
           'size_placeholder']
