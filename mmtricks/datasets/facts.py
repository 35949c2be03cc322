"""What the recipe reads from a training split before it builds anything:
its classes, how many images each has, and how large the images are.

Cheap on purpose (run once per process, before the Runner exists): a folder
is scanned, not decoded, and image sizes come from the file headers of a
fixed, evenly spaced sample, so every rank reads the same facts.
"""
import copy
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .folder import DatasetFolderError

#: Images whose headers are read to learn the native size.
SIZE_SAMPLE = 200

#: Dataset wrappers (MMEngine's) whose ``dataset`` (ConcatDataset: each of
#: its ``datasets``) is the real one.
WRAPPERS = ('ClassBalancedDataset', 'RepeatDataset', 'ConcatDataset')


@dataclass(frozen=True)
class SplitFacts:
    """A training split as the recipe's decisions see it.

    Attributes:
        classes: Class names, in label order.
        counts: Images per class, in label order.
        short_sides: The shorter side (pixels) of each sampled image.
        source: Where the facts come from, for log lines.
    """
    classes: Tuple[str, ...]
    counts: Tuple[int, ...]
    short_sides: Tuple[int, ...]
    source: str


def inner_dataset_cfgs(dataset_cfg: dict) -> List[dict]:
    """The innermost dataset configs under MMEngine's dataset wrappers: one,
    or each dataset a ``ConcatDataset`` joins (in its order)."""
    if dataset_cfg.get('type') in WRAPPERS:
        if 'dataset' in dataset_cfg:
            return inner_dataset_cfgs(dataset_cfg['dataset'])
        if dataset_cfg.get('datasets'):
            return [inner for dataset in dataset_cfg['datasets']
                    for inner in inner_dataset_cfgs(dataset)]
    return [dataset_cfg]


def unwrap_dataset_cfg(dataset_cfg: dict) -> dict:
    """The innermost dataset config under MMEngine's dataset wrappers; of a
    ``ConcatDataset``, its first dataset's (whose metainfo, the classes,
    MMEngine's ``ConcatDataset`` takes)."""
    return inner_dataset_cfgs(dataset_cfg)[0]


def evenly_spaced(count: int, sample: int) -> np.ndarray:
    """``min(count, sample)`` indices spread over ``range(count)``."""
    if count <= sample:
        return np.arange(count)
    return np.linspace(0, count - 1, sample).round().astype(int)


def bundled_name(dataset_cfg: dict) -> Optional[str]:
    """The bundled set a dataset config reads, or None (a folder)."""
    if dataset_cfg.get('type') == 'FolderOrBundledDataset' and \
            not dataset_cfg.get('data_root'):
        return dataset_cfg.get('bundled', 'digits')
    if dataset_cfg.get('type') == 'BundledDataset':
        return dataset_cfg.get('name', 'digits')
    return None


def _bundled_facts(name: str, dataset_cfg: dict) -> SplitFacts:
    from .bundled_dataset import bundled_split_ratios, select_split
    from .sources import load_bundled
    source = load_bundled(name)
    val_ratio, test_ratio = bundled_split_ratios(
        name, dataset_cfg.get('val_ratio'), dataset_cfg.get('test_ratio'))
    # The config's split (the training one, unless asked for another's).
    indices = select_split(source.labels, dataset_cfg.get('split', 'train'),
                           val_ratio, test_ratio, dataset_cfg.get('seed', 0))
    labels = source.labels[indices]
    counts = np.bincount(labels, minlength=len(source.classes))
    short_side = int(min(source.images.shape[1:3]))
    return SplitFacts(
        classes=tuple(source.classes), counts=tuple(int(c) for c in counts),
        short_sides=(short_side, ) * min(len(indices), SIZE_SAMPLE),
        source=f'the bundled {name} set')


def _image_short_side(info: dict) -> int:
    if 'img' in info and info['img'] is not None:
        return int(min(np.asarray(info['img']).shape[:2]))
    from PIL import Image
    path = info['img_path']
    try:
        with Image.open(path) as image:  # reads the header only
            return int(min(image.size))
    except Exception as error:  # PIL raises many types for bad files
        raise DatasetFolderError(
            f'Cannot read the image size of {path!r} ({type(error).__name__}'
            f': {error}): the file is damaged or not an image. Replace or '
            'delete it.') from error


def _built_facts(dataset_cfg: dict, sample: int) -> SplitFacts:
    from mmpretrain.registry import DATASETS
    cfg = copy.deepcopy(dict(dataset_cfg))
    cfg['pipeline'] = []
    if cfg.get('type') == 'FolderOrBundledDataset':
        # Scan only: the images are decode-checked when training builds it.
        cfg.update(check_images=False, image_size=None, cache_images=False)
    dataset = DATASETS.build(cfg)
    classes = tuple(dataset.metainfo.get('classes') or ())
    labels = np.asarray(dataset.get_gt_labels(), dtype=int)
    counts = np.bincount(labels, minlength=len(classes)) if len(labels) \
        else np.zeros(len(classes), dtype=int)
    sides = tuple(_image_short_side(dataset.get_data_info(int(i)))
                  for i in evenly_spaced(len(dataset), sample))
    root = cfg.get('data_root') or cfg.get('data_prefix') or cfg['type']
    return SplitFacts(classes=classes, counts=tuple(int(c) for c in counts),
                      short_sides=sides, source=str(root))


def _one_dataset_facts(dataset_cfg: dict, sample: int) -> SplitFacts:
    name = bundled_name(dataset_cfg)
    if name is not None:
        return _bundled_facts(name, dataset_cfg)
    return _built_facts(dataset_cfg, sample)


def _joined_facts(parts: Sequence[SplitFacts]) -> SplitFacts:
    """The facts of a ``ConcatDataset`` of datasets with these facts."""
    first = parts[0]
    for part in parts[1:]:
        if part.classes != first.classes:
            raise DatasetFolderError(
                f'The ConcatDataset joins {first.source} (classes '
                f'{", ".join(first.classes)}) and {part.source} (classes '
                f'{", ".join(part.classes)}): a label would mean another '
                'class in each. Give every joined dataset the same classes '
                'in the same order.')
    return SplitFacts(
        classes=first.classes,
        counts=tuple(int(sum(c)) for c in zip(*(p.counts for p in parts))),
        short_sides=tuple(side for p in parts for side in p.short_sides),
        source=' + '.join(p.source for p in parts))


def training_split_facts(dataset_cfg: dict,
                         sample: int = SIZE_SAMPLE) -> SplitFacts:
    """Classes, per-class counts and a sample of image sizes of the training
    split that ``dataset_cfg`` (a train dataloader's ``dataset``) serves.

    Args:
        dataset_cfg: The train dataset's config (wrappers are looked
            through; the datasets a ``ConcatDataset`` joins are counted
            together).
        sample: How many images' sizes to read at most.
    """
    inner = inner_dataset_cfgs(dict(dataset_cfg))
    share = max(1, sample // len(inner))
    return _joined_facts([_one_dataset_facts(dict(cfg), share)
                          for cfg in inner])


def median_side(short_sides: Sequence[int]) -> int:
    """The median short side of a sample (0 for an empty sample)."""
    return int(np.median(short_sides)) if len(short_sides) else 0
