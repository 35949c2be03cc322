"""The images a loader's dataset config serves, and that config with some of
them left out: what the duplicate check reads and what its ``'drop'``
setting changes.

Nothing is decoded here. A folder is scanned (as the dataset scans it); a
bundled set is read from its package, at its native size. Images are named
by their path, or ``<bundled name>#<index in the set>``.

Leaving images out uses MMEngine's own ``indices`` argument of every
``BaseDataset`` (the images kept, by position), set on each dataset under
the wrappers, so that the config the work dir gets serves the same images
again.
"""
import copy
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .facts import bundled_name, inner_dataset_cfgs

ImageSource = Union[str, np.ndarray]


@dataclass(frozen=True)
class SplitImages:
    """The images one loader serves.

    Attributes:
        split: ``'train'``, ``'val'`` or ``'test'`` (the loader's role).
        names: Each image's path, or ``<bundled name>#<index>``.
        sources: What to read each image from: a path or a uint8 array;
            None where the dataset gives neither (not checked).
        parts: The dataset (under a ``ConcatDataset``, its number) that
            serves each image.
        positions: Each image's position in its dataset before ``indices``
            (what ``indices`` lists).
    """
    split: str
    names: Tuple[str, ...]
    sources: Tuple[Optional[ImageSource], ...]
    parts: Tuple[int, ...]
    positions: Tuple[int, ...]


def subset_positions(total: int, indices) -> List[int]:
    """The positions a dataset of ``total`` images keeps under MMEngine's
    ``indices``: None keeps all, an int ``k`` the first ``k`` (the last
    ``-k`` when negative), a sequence those positions."""
    if indices is None:
        return list(range(total))
    if isinstance(indices, bool):
        raise TypeError(f'indices must be an int or a list, got {indices!r}')
    if isinstance(indices, int):
        return list(range(total))[:indices] if indices >= 0 \
            else list(range(total))[indices:]
    return [int(i) for i in indices]


def _bundled_images(name: str, dataset_cfg: dict
                    ) -> Tuple[List[str], List[ImageSource]]:
    from .bundled_dataset import bundled_split_ratios, select_split
    from .sources import load_bundled  # read once per process
    source = load_bundled(name)
    val_ratio, test_ratio = bundled_split_ratios(
        name, dataset_cfg.get('val_ratio'), dataset_cfg.get('test_ratio'))
    chosen = select_split(source.labels, dataset_cfg.get('split', 'train'),
                          val_ratio, test_ratio, dataset_cfg.get('seed', 0))
    return ([f'{name}#{int(i)}' for i in chosen],
            [source.images[int(i)] for i in chosen])


def _built_images(dataset_cfg: dict) -> Tuple[List[str], List[ImageSource]]:
    from mmpretrain.registry import DATASETS
    cfg = copy.deepcopy(dict(dataset_cfg))
    cfg['pipeline'] = []
    cfg.pop('indices', None)
    if cfg.get('type') == 'FolderOrBundledDataset':
        # Scan only: training decode-checks the images when it builds it.
        cfg.update(check_images=False, image_size=None, cache_images=False)
    dataset = DATASETS.build(cfg)
    names, sources = [], []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        if info.get('img_path'):
            names.append(str(info['img_path']))
            sources.append(str(info['img_path']))
        elif info.get('img') is not None:
            names.append(f'{cfg.get("type")}#{index}')
            sources.append(np.asarray(info['img']))
        else:
            names.append(f'{cfg.get("type")}#{index}')
            sources.append(None)
    return names, sources


def split_images(dataset_cfg: dict, split: str) -> SplitImages:
    """The images a loader's ``dataset`` config serves, in the order it
    serves them (wrappers looked through: a ``ClassBalancedDataset``'s
    repeats are one image; a ``ConcatDataset``'s datasets one after the
    other).

    Args:
        dataset_cfg: The loader's ``dataset`` config.
        split: The loader's role: ``'train'``, ``'val'`` or ``'test'``.
    """
    names, sources, parts, positions = [], [], [], []
    for part, inner in enumerate(inner_dataset_cfgs(dict(dataset_cfg))):
        bundled = bundled_name(inner)
        found_names, found_sources = \
            _bundled_images(bundled, inner) if bundled \
            else _built_images(inner)
        for position in subset_positions(len(found_names),
                                         inner.get('indices')):
            names.append(found_names[position])
            sources.append(found_sources[position])
            parts.append(part)
            positions.append(position)
    return SplitImages(split, tuple(names), tuple(sources), tuple(parts),
                       tuple(positions))


def leave_out(dataset_cfg: dict, images: SplitImages,
              dropped: Sequence[int]) -> Dict[int, int]:
    """Leave the images ``dropped`` (indices into ``images``) out of the
    loader's ``dataset`` config, in place, through each inner dataset's
    ``indices`` (the positions it keeps).

    Returns:
        How many images each inner dataset (by number) keeps.
    """
    dropped = set(int(i) for i in dropped)
    inners = inner_dataset_cfgs(dataset_cfg)
    kept: Dict[int, List[int]] = {part: [] for part in range(len(inners))}
    for index, (part, position) in enumerate(zip(images.parts,
                                                 images.positions)):
        if index not in dropped:
            kept[part].append(position)
    changed = {images.parts[index] for index in dropped}
    for part in changed:
        inners[part]['indices'] = kept[part]
    return {part: len(positions) for part, positions in kept.items()}
