"""Write a bundled set as image files in the folder-per-class layout.

The files follow MMPretrain's ``CustomDataset`` layout, which
:class:`FolderOrBundledDataset` reads with ``data_root``, so a user can see
the format and train on a real folder without downloading anything.
"""
import os
import os.path as osp
import warnings
from typing import Optional

import cv2
import numpy as np

from .bundled_dataset import (bundled_split_ratios, load_rgb_images,
                              select_split)
from .folder import is_hidden, is_visible_image_file
from .sources import load_bundled

EXPORT_SPLITS = (None, 'train', 'val', 'test', 'all')


class OutputDirNotEmptyError(FileExistsError):
    """The export target already holds files and ``overwrite`` is off."""


def export_bundled(name: str,
                   out_dir: str,
                   image_size: Optional[int] = None,
                   split: Optional[str] = None,
                   val_ratio: Optional[float] = None,
                   test_ratio: Optional[float] = None,
                   seed: int = 0,
                   overwrite: bool = False) -> dict:
    """Write bundled set ``name`` as PNG files, one sub-folder per class.

    The split is the stratified split of :class:`BundledDataset` with the
    same ``val_ratio``, ``test_ratio`` and ``seed``, so the exported
    ``train/``, ``val/`` and ``test/`` hold exactly the images that the
    bundled datasets serve.

    Layout by ``split``:

    - ``None``: ``out_dir/train/<class>/<name>_<index>.png``,
      ``out_dir/val/<class>/...`` and ``out_dir/test/<class>/...``.
    - ``'train'``, ``'val'`` or ``'test'``: only
      ``out_dir/<split>/<class>/...``.
    - ``'all'``: every image in ``out_dir/<class>/...`` (one un-split
      folder; :class:`FolderOrBundledDataset` splits it itself).

    ``<index>`` is the image's index in the bundled source, zero-padded.
    Grayscale sets are written as single-channel PNGs (loaders expand them
    to 3 channels).

    Args:
        name (str): A key of :data:`BUNDLED_SOURCES`.
        out_dir (str): Target folder; created if missing.
        image_size (int, optional): Side of the square images written.
            Defaults to None (the source's native size).
        split (str, optional): See above. Defaults to None.
        val_ratio (float, optional): Share of each class for validation.
            Defaults to None (the set's default, see :class:`BundledDataset`).
        test_ratio (float, optional): Share of each class for test.
            Defaults to None (the set's default).
        seed (int): Seed of the split. Defaults to 0.
        overwrite (bool): Write into a non-empty ``out_dir``. Files of the
            same name are replaced; nothing is ever deleted. Defaults to
            False.

    Returns:
        dict: ``name``, ``out_dir`` (absolute), ``image_size``, ``classes``,
        ``num_classes``, ``total`` and ``splits``: ``{part: {class: count}}``
        where part is ``'train'``/``'val'``/``'test'`` (or ``'all'`` for the
        un-split layout), and ``val_ratio``, ``test_ratio`` (those used).

    Raises:
        OutputDirNotEmptyError: ``out_dir`` is not empty and ``overwrite`` is
            False (nothing is written).
    """
    if split not in EXPORT_SPLITS:
        raise ValueError(
            f'split must be one of {EXPORT_SPLITS}, got {split!r}.')
    if image_size is not None and int(image_size) < 1:
        raise ValueError(f'image_size must be positive, got {image_size}.')
    if split == 'all' and (val_ratio, test_ratio) != (None, None):
        raise ValueError(
            "split='all' writes one un-split folder, which the dataset "
            'splits when it reads it (its own val_ratio / test_ratio); '
            'leave val_ratio and test_ratio unset here.')
    # Checked before anything is written, so bad shares leave no
    # half-written folder behind.
    val_ratio, test_ratio = bundled_split_ratios(name, val_ratio, test_ratio)
    out_dir = osp.abspath(osp.expanduser(out_dir))
    _check_out_dir(out_dir, overwrite)

    if image_size is None:
        image_size = _native_size(name)
    images, labels, classes = load_rgb_images(name, int(image_size))
    parts = ('train', 'val', 'test') if split is None else (split, )
    indices = {part: select_split(labels, part, val_ratio, test_ratio, seed)
               for part in parts}
    grayscale = bool(np.all(images == images[..., :1]))
    width = len(str(len(labels) - 1))

    written = set()
    splits = {}
    for part in parts:
        root = out_dir if part == 'all' else osp.join(out_dir, part)
        counts = {cls: 0 for cls in classes}
        for index in indices[part]:
            cls = classes[labels[index]]
            folder = osp.join(root, cls)
            os.makedirs(folder, exist_ok=True)
            path = osp.join(folder, f'{name}_{index:0{width}d}.png')
            _write_png(path, images[index], grayscale)
            written.add(path)
            counts[cls] += 1
        splits[part] = counts
    _warn_other_images(out_dir, written)
    return dict(
        name=name, out_dir=out_dir, image_size=int(image_size),
        classes=list(classes), num_classes=len(classes),
        total=sum(sum(c.values()) for c in splits.values()), splits=splits,
        val_ratio=val_ratio, test_ratio=test_ratio)


def _check_out_dir(out_dir: str, overwrite: bool) -> None:
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise NotADirectoryError(f'out_dir {out_dir!r} is a file.')
    if osp.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise OutputDirNotEmptyError(
            f'out_dir {out_dir!r} is not empty. Choose an empty or new '
            'folder, or pass overwrite=True to write into it anyway (files '
            'of the same name are replaced, no file is deleted).')


def _native_size(name: str) -> int:
    height, width = load_bundled(name).images.shape[1:3]
    if height != width:
        raise ValueError(
            f'Bundled set {name!r} has {height}x{width} images; give '
            'image_size to export them square.')
    return int(height)


def _write_png(path: str, image: np.ndarray, grayscale: bool) -> None:
    pixels = image[..., 0] if grayscale else cv2.cvtColor(
        np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(path, np.ascontiguousarray(pixels)):
        raise OSError(f'Could not write {path!r}.')


def _warn_other_images(out_dir: str, written: set) -> None:
    """Warn of image files this export did not write (with overwrite=True).

    They would be read as part of the dataset, e.g. an earlier export with
    another seed puts images into both train/ and val/.
    """
    others = []
    for parent, folders, files in os.walk(out_dir):
        # What the dataset scan reads: visible images in visible folders.
        folders[:] = [d for d in folders if not is_hidden(d)]
        others.extend(
            osp.join(parent, f) for f in files
            if is_visible_image_file(f) and
            osp.join(parent, f) not in written)
    if others:
        shown = ', '.join(sorted(others)[:5])
        warnings.warn(
            f'{out_dir!r} holds {len(others)} image file(s) this export did '
            f'not write (e.g. {shown}); the dataset will read them too. '
            'Export into an empty folder to get exactly the bundled set.')
