"""Checks of a folder-per-class image dataset (MMPretrain's CustomDataset layout).

Every problem is reported with the path at fault and what to do about it, so a
user learns of a bad dataset before the first training step, not at a random
iteration.
"""
import os
import os.path as osp
from typing import List, Sequence, Tuple

from PIL import Image

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                    '.tiff', '.webp')

LAYOUT_HINT = ('Expected layout: DATA_ROOT/<class name>/<image files> (split '
               'train / val / test by mmtricks), or DATA_ROOT/train/<class '
               'name>/..., DATA_ROOT/val/<class name>/... and '
               'DATA_ROOT/test/<class name>/...; `python tools/prepare_data.py '
               'digits OUT_DIR` writes an example.')


class DatasetFolderError(ValueError):
    """A dataset folder that cannot be trained on."""


def is_image_file(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def scan_class_folders(root: str) -> Tuple[List[Tuple[str, int]], Tuple[str, ...]]:
    """List ``(image path, class index)`` pairs of a folder-per-class tree.

    Classes are the sub-folders of ``root`` in sorted order; images may sit
    in nested folders below their class folder.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        DatasetFolderError: No class folders, a class folder without images,
            or fewer than two classes.
    """
    if not osp.isdir(root):
        raise FileNotFoundError(
            f'data_root {root!r} does not exist or is not a folder. '
            f'{LAYOUT_HINT}')
    classes = tuple(sorted(
        entry.name for entry in os.scandir(root)
        if entry.is_dir() and not entry.name.startswith('.')))
    if not classes:
        raise DatasetFolderError(
            f'{root!r} has no class sub-folders. {LAYOUT_HINT}')
    samples = []
    for index, name in enumerate(classes):
        images = sorted(_walk_images(osp.join(root, name)))
        if not images:
            raise DatasetFolderError(
                f'Class folder {osp.join(root, name)!r} holds no image files '
                f'(extensions {", ".join(IMAGE_EXTENSIONS)}): add images or '
                'remove the folder.')
        samples.extend((path, index) for path in images)
    if len(classes) < 2:
        raise DatasetFolderError(
            f'{root!r} has a single class ({classes[0]!r}); a classifier '
            'needs at least two class folders.')
    return samples, classes


def _walk_images(folder: str):
    for parent, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith('.')]
        for name in files:
            if is_image_file(name):
                yield osp.join(parent, name)


def find_unreadable_images(paths: Sequence[str]) -> List[Tuple[str, str]]:
    """Return ``(path, reason)`` for every file that PIL cannot decode."""
    bad = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image.verify()
        except Exception as error:  # PIL raises many types for bad files
            bad.append((path, f'{type(error).__name__}: {error}'))
    return bad


def check_images_readable(paths: Sequence[str]) -> None:
    """Raise :class:`DatasetFolderError` listing undecodable image files."""
    bad = find_unreadable_images(paths)
    if bad:
        listed = '\n'.join(f'  {path} ({reason})' for path, reason in bad[:20])
        more = f'\n  ... and {len(bad) - 20} more' if len(bad) > 20 else ''
        raise DatasetFolderError(
            f'{len(bad)} image file(s) cannot be decoded:\n{listed}{more}\n'
            'Replace or delete them (or set `check_images=False` to skip '
            'this check and fail later on the first bad file).')
