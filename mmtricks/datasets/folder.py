"""Checks of a folder-per-class image dataset (MMPretrain's CustomDataset layout).

Every problem is reported with the path at fault and what to do about it, so a
user learns of a bad dataset before the first training step, not at a random
iteration.
"""
import os
import os.path as osp
import warnings
from typing import Dict, List, Sequence, Tuple

from PIL import Image

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                    '.tiff', '.webp')

LAYOUT_HINT = ('Expected layout: DATA_ROOT/<class name>/<image files> (split '
               'train / val / test by mmtricks), or DATA_ROOT/train/<class '
               'name>/..., DATA_ROOT/val/<class name>/... and '
               'DATA_ROOT/test/<class name>/...; `python '
               'tools/prepare_data.py digits OUT_DIR` writes an example.')


class DatasetFolderError(ValueError):
    """A dataset folder that cannot be trained on."""


#: Folders that hold metadata, never data: macOS writes ``__MACOSX/`` (full
#: of ``._*`` AppleDouble files) into the zip archives it makes.
METADATA_FOLDERS = ('__MACOSX', )


def is_image_file(name: str) -> bool:
    """Whether ``name`` has an image extension (hidden or not)."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


def is_hidden(name: str) -> bool:
    """Whether a file or folder ``name`` is skipped wherever images are
    listed: a name starting with ``.`` (e.g. macOS ``._photo.jpg``
    AppleDouble files, which are not images whatever their extension), or
    a metadata folder (:data:`METADATA_FOLDERS`)."""
    return name.startswith('.') or name in METADATA_FOLDERS


def is_visible_image_file(name: str) -> bool:
    """Whether a file ``name`` is listed as an image: an image extension
    and not hidden."""
    return not is_hidden(name) and is_image_file(name)


def scan_class_folders(root: str) -> Tuple[List[Tuple[str, int]], Tuple[str, ...]]:
    """List ``(image path, class index)`` pairs of a folder-per-class tree.

    Classes are the sub-folders of ``root`` in sorted order; images may sit
    in nested folders below their class folder. Hidden files and folders
    are skipped (:func:`is_hidden`). Symbolic links are followed, each real
    folder and image once (see :class:`ClassFolderWalk`); links that loop
    or repeat a folder are skipped with one warning.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        DatasetFolderError: No class folders, a class folder without images,
            fewer than two classes, an unlistable folder, or an image
            reached from two class folders through symbolic links.
    """
    if not osp.isdir(root):
        raise FileNotFoundError(
            f'data_root {root!r} does not exist or is not a folder. '
            f'{LAYOUT_HINT}')
    classes = tuple(sorted(
        entry.name for entry in os.scandir(root)
        if entry.is_dir() and not is_hidden(entry.name)))
    if not classes:
        raise DatasetFolderError(
            f'{root!r} has no class sub-folders. {LAYOUT_HINT}')
    walk = ClassFolderWalk(root, classes)
    samples = []
    for index, name in enumerate(classes):
        images = sorted(walk.images(name))
        if not images:
            raise DatasetFolderError(
                f'Class folder {osp.join(root, name)!r} holds no image files '
                f'(extensions {", ".join(IMAGE_EXTENSIONS)}; hidden files '
                'are skipped): add images or remove the folder.')
        samples.extend((path, index) for path in images)
    if len(classes) < 2:
        raise DatasetFolderError(
            f'{root!r} has a single class ({classes[0]!r}); a classifier '
            'needs at least two class folders.')
    walk.warn_skipped()
    return samples, classes


def _is_within(path: str, folder: str) -> bool:
    """Whether the real path ``path`` is the real path ``folder`` or below."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


class ClassFolderWalk:
    """Lists the images of each class folder of ``root``, following
    symbolic links, so that every image has exactly one class.

    What a user would expect of links, and what is done:

    - A link to a folder outside the class folder's own tree (data linked
      in from elsewhere, even from outside ``root``) is followed.
    - A link back to its class folder or to a folder above it (``loop ->
      ..``) is a loop that can only repeat images or reach other classes:
      skipped, with a warning.
    - A folder or image reached a second time within one class (two links
      to one folder): listed once, the later path skipped with a warning.
    - A link into another class folder, or one folder or image reached from
      two class folders: an error, since an image has one class only.
    """

    def __init__(self, root: str, classes: Sequence[str]):
        self.root = root
        self.class_folders = {
            name: osp.realpath(osp.join(root, name)) for name in classes}
        #: Real path of each folder and image listed -> (class, path).
        self.owners: Dict[str, Tuple[str, str]] = {}
        #: ``(path, why)`` of each link not followed.
        self.skipped: List[Tuple[str, str]] = []

    def images(self, name: str) -> List[str]:
        """Paths of the images of class folder ``name`` (not sorted)."""
        found = []
        folder = osp.join(self.root, name)
        pending = [(folder, self.class_folders[name])]
        while pending:
            path, real = pending.pop()
            if not self._claim(path, real, name, 'folder'):
                continue
            subfolders = []
            for entry in self._entries(path):
                if is_hidden(entry.name):
                    continue
                linked = entry.is_symlink()
                entry_real = osp.realpath(entry.path) if linked \
                    else osp.join(real, entry.name)
                if entry.is_dir():
                    if not linked or self._may_follow(entry.path, entry_real,
                                                      name):
                        subfolders.append((entry.path, entry_real))
                elif is_image_file(entry.name) and self._claim(
                        entry.path, entry_real, name, 'image'):
                    found.append(entry.path)
            pending.extend(reversed(subfolders))  # sorted, depth first
        return found

    @staticmethod
    def _entries(path: str) -> list:
        try:
            with os.scandir(path) as entries:
                return sorted(entries, key=lambda entry: entry.name)
        except OSError as error:
            raise DatasetFolderError(
                f'Cannot list the folder {path!r} ({error.strerror}): make '
                'it readable or remove it.') from error

    def _may_follow(self, link: str, target: str, name: str) -> bool:
        if _is_within(self.class_folders[name], target):
            self.skipped.append(
                (link, f'leads to {target!r}, its own class folder or above '
                 'it: a loop'))
            return False
        for other, folder in self.class_folders.items():
            if other != name and _is_within(target, folder):
                raise DatasetFolderError(
                    f'The symbolic link {link!r} in class folder {name!r} '
                    f'leads into the class folder {other!r} ({target!r}): '
                    'its images would have two classes. Remove the link, or '
                    f'move the images that belong to {name!r} into its own '
                    'folder.')
        return True

    def _claim(self, path: str, real: str, name: str, kind: str) -> bool:
        """Record that class ``name`` lists ``real`` (as ``path``); False
        when this class already listed it."""
        owner = self.owners.setdefault(real, (name, path))
        if owner == (name, path):
            return True
        other, other_path = owner
        if other != name:
            raise DatasetFolderError(
                f'{path!r} (class {name!r}) is the same {kind} as '
                f'{other_path!r} (class {other!r}), through a symbolic link: '
                'an image can have one class only. Remove the link, or copy '
                'the images into the class they belong to.')
        self.skipped.append((path, f'the same {kind} as {other_path!r}'))
        return False

    def warn_skipped(self) -> None:
        if not self.skipped:
            return
        shown = '; '.join(f'{path!r} ({why})'
                          for path, why in self.skipped[:5])
        more = f'; and {len(self.skipped) - 5} more' \
            if len(self.skipped) > 5 else ''
        warnings.warn(
            f'Skipped {len(self.skipped)} path(s) under {self.root!r} that '
            f'would loop or list images twice: {shown}{more}. Each image is '
            'listed once; remove the symbolic links to silence this '
            'warning.')


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
    if len(bad) == 1:
        path, reason = bad[0]
        raise DatasetFolderError(
            f'Image file {path!r} cannot be decoded ({reason}). Replace or '
            'delete it (or set `check_images=False` to skip this check and '
            'fail later on the first bad file).')
    if bad:
        listed = '\n'.join(f'  {path} ({reason})' for path, reason in bad[:20])
        more = f'\n  ... and {len(bad) - 20} more' if len(bad) > 20 else ''
        raise DatasetFolderError(
            f'{len(bad)} image file(s) cannot be decoded:\n{listed}{more}\n'
            'Replace or delete them (or set `check_images=False` to skip '
            'this check and fail later on the first bad file).')
