import os.path as osp
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional, Sequence

import mmcv

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from .bundled_dataset import (DEFAULT_SPLIT_RATIOS, bundled_data_list,
                              bundled_split_ratios, check_image_size,
                              check_split, load_rgb_images, select_split,
                              split_ratios)
from .folder import (DatasetFolderError, check_images_readable,
                     scan_class_folders)
from .split import SPLIT_PARTS, TinyClassError

#: Default largest in-memory cache of one split, in MB.
DEFAULT_CACHE_LIMIT_MB = 2048


def cache_steps(transforms: Sequence, image_size: int):
    """``(load, resize)`` that the cache applies to each file: the
    pipeline's leading ``LoadImageIfPath`` (None when it has none: a cached
    image would be read again) and a function resizing to ``image_size``
    as the pipeline's ``Resize`` to that size does (bilinear cv2, mmcv
    ``Resize``'s default, when it has none)."""
    from ..transforms.loading import LoadImageIfPath
    if not transforms or not isinstance(transforms[0], LoadImageIfPath):
        return None, None
    load = transforms[0]
    interpolation, backend = 'bilinear', 'cv2'
    for step in transforms[1:]:
        if type(step).__name__ == 'Resize' and \
                tuple(getattr(step, 'scale', None) or ()) == (
                    image_size, image_size) and not step.keep_ratio:
            interpolation, backend = step.interpolation, step.backend
            break

    def resize(image):
        return mmcv.imresize(image, (image_size, image_size),
                             interpolation=interpolation, backend=backend)

    return load, resize


def decode_resized(paths: Sequence[str], load, resize,
                   threads: Optional[int] = None) -> np.ndarray:
    """Every image of ``paths`` loaded by ``load`` (a ``LoadImageIfPath``:
    an undecodable file raises its error naming the file) and resized by
    ``resize``, stacked into one read-only uint8 array. Decoded by a pool
    of threads (OpenCV releases the GIL), one per usable CPU."""
    from ..cpu_facts import usable_cpus

    def one(path):
        image = load(dict(img_path=path))['img']
        return resize(image)

    with ThreadPoolExecutor(threads or usable_cpus()) as pool:
        images = list(pool.map(one, paths))
    cache = np.stack(images)
    cache.setflags(write=False)
    return cache


def is_pre_split(data_root: str) -> bool:
    """Whether ``data_root`` holds ``train/`` beside ``val/`` and/or
    ``test/`` (rather than one sub-folder per class)."""
    return osp.isdir(osp.join(data_root, 'train')) and any(
        osp.isdir(osp.join(data_root, part)) for part in ('val', 'test'))


def find_split_folder(data_root: str, split: str) -> Optional[str]:
    """``data_root/split`` when the data comes pre-split into ``train/`` and
    ``val/`` and/or ``test/``; None for an un-split folder or ``'all'``.

    The folder returned may be missing (e.g. no ``test/``); the dataset
    reports that with a clear error.
    """
    if split == 'all' or not is_pre_split(data_root):
        return None
    return osp.join(data_root, split)


@DATASETS.register_module()
class FolderOrBundledDataset(BaseDataset):
    """The user's folder-per-class images, or a bundled set when none given.

    With ``data_root`` set, the folder follows MMPretrain's ``CustomDataset``
    layout (one sub-folder per class), in one of two forms:

    - Pre-split: ``train/`` and ``val/`` and ``test/`` sub-folders, each with
      the same class sub-folders; ``split`` picks one. A pre-split folder
      without ``test/`` has no test split: ``split='test'`` is an error that
      says so (it is never served from ``val/``, which chose the weights).
    - Un-split: the class sub-folders directly; the images are split into
      train / val / test, stratified by class and the same on every run
      (``val_ratio``, ``test_ratio``, ``seed``; 60 / 20 / 20 by default).

    The folder is checked before training: a missing folder, an empty class
    folder, a single class, a class too small for three splits or an
    undecodable image is an error that names the path and the fix. Classes
    of ``val/`` and ``test/`` must match ``train/``.

    With ``data_root=None``, serves :class:`BundledDataset` ``bundled``
    (with its own default shares).

    Images from a folder are loaded by the pipeline (start it with
    ``LoadImageIfPath``, which also passes the bundled in-memory images on).

    Args:
        data_root (str, optional): Folder of the user's dataset. Defaults to
            None (use the bundled set).
        bundled (str): Bundled set used when ``data_root`` is None. Defaults
            to ``'digits'``.
        split (str): ``'train'``, ``'val'``, ``'test'`` or ``'all'``.
            Defaults to ``'train'``.
        image_size (int, optional): Image side for the bundled set, and for
            a folder's in-memory cache (``cache_images``); None serves the
            images at their native size. Defaults to 32.
        val_ratio (float, optional): Share of each class for validation
            when the data is not pre-split. Defaults to None: 0.2 for a
            folder, the bundled set's default otherwise.
        test_ratio (float, optional): Share of each class for test when the
            data is not pre-split. Defaults to None, as ``val_ratio``.
        seed (int): Seed of the split (not the training seed). Defaults
            to 0.
        check_images (bool): Decode-check every image file at start-up.
            Defaults to True.
        cache_images (bool): For a folder with an int ``image_size``:
            decode and resize every image once, at start-up, into one
            in-memory array that fork-started loader workers share, so that
            an epoch costs what a bundled set costs. The resize is the
            pipeline's ``Resize`` to ``image_size`` (its interpolation; else
            bilinear, ``Resize``'s default), so that the pipeline's own
            ``Resize`` then has nothing left to do and the images are the
            same as uncached. Not for ``image_size=None`` (native sizes) nor
            for a pipeline that does not load with ``LoadImageIfPath``.
            Defaults to True.
        cache_limit_mb (float): Largest cache, in MB (``image_size**2 * 3``
            bytes an image). A split that needs more is not cached, with one
            warning that says how to raise the limit. Defaults to 2048.
        **kwargs: Passed to :class:`mmpretrain.datasets.BaseDataset`.
    """

    def __init__(self,
                 data_root: Optional[str] = None,
                 bundled: str = 'digits',
                 split: str = 'train',
                 image_size: int = 32,
                 val_ratio: Optional[float] = None,
                 test_ratio: Optional[float] = None,
                 seed: int = 0,
                 check_images: bool = True,
                 cache_images: bool = True,
                 cache_limit_mb: float = DEFAULT_CACHE_LIMIT_MB,
                 **kwargs):
        check_split(split)
        self.folder = osp.expanduser(data_root) if data_root else None
        self.bundled = bundled
        self.split = split
        self.image_size = check_image_size(image_size)
        self.seed = seed
        self.check_images = check_images
        self.cache_images = bool(cache_images)
        if not cache_limit_mb > 0:
            raise ValueError(f'cache_limit_mb must be positive, got '
                             f'{cache_limit_mb!r}; set cache_images=False '
                             'to switch the cache off.')
        self.cache_limit_mb = cache_limit_mb
        self.cache: Optional[np.ndarray] = None
        self.val_ratio, self.test_ratio = self._split_ratios(
            val_ratio, test_ratio)
        self._samples, classes = self._scan()
        metainfo = dict(kwargs.pop('metainfo', None) or {}, classes=classes)
        super().__init__(ann_file='', metainfo=metainfo, **kwargs)

    def _split_ratios(self, val_ratio, test_ratio):
        if self.folder is None:
            return bundled_split_ratios(self.bundled, val_ratio, test_ratio)
        if osp.isdir(self.folder) and is_pre_split(self.folder):
            given = [name for name, value in (('val_ratio', val_ratio),
                                               ('test_ratio', test_ratio))
                     if value is not None]
            if given:
                parts = '/, '.join(self._present_parts()) + '/'
                raise DatasetFolderError(
                    f'{self.folder!r} is already split into {parts}, so '
                    f'{" and ".join(given)} would be ignored: remove '
                    f'{"them" if len(given) > 1 else "it"}, or put all '
                    'images into one folder of class sub-folders to have '
                    'them split by these shares.')
            return None, None
        return split_ratios(val_ratio, test_ratio, DEFAULT_SPLIT_RATIOS)

    def _present_parts(self):
        return [part for part in SPLIT_PARTS
                if osp.isdir(osp.join(self.folder, part))]

    def _scan(self):
        if self.folder is None:
            classes = load_rgb_images(self.bundled, self.image_size)[2]
            return bundled_data_list(self.bundled, self.image_size,
                                     self.split, self.val_ratio,
                                     self.test_ratio, self.seed), classes
        if osp.isdir(self.folder) and is_pre_split(self.folder):
            samples, classes = self._scan_pre_split()
        else:
            samples, classes = scan_class_folders(self.folder)
            labels = np.array([label for _, label in samples])
            try:
                indices = select_split(labels, self.split, self.val_ratio,
                                       self.test_ratio, self.seed,
                                       class_names=classes)
            except TinyClassError as error:
                raise DatasetFolderError(f'In {self.folder!r}: {error}') \
                    from None
            samples = [samples[i] for i in indices]
        if self.check_images:
            check_images_readable([path for path, _ in samples])
        return [dict(img_path=path, gt_label=label)
                for path, label in samples], classes

    def _scan_pre_split(self):
        """Samples of ``split`` (all present parts for 'all') of a
        pre-split folder, each part's classes checked against train/."""
        parts = self._present_parts() if self.split == 'all' \
            else [self.split]
        samples, classes = [], None
        for part in parts:
            folder = osp.join(self.folder, part)
            if not osp.isdir(folder):
                raise DatasetFolderError(self._missing_part_message(part))
            part_samples, part_classes = scan_class_folders(folder)
            self._check_same_classes_as_train(part_classes, part)
            samples += part_samples
            classes = classes or part_classes
        return samples, classes

    def _missing_part_message(self, part: str) -> str:
        present = '/, '.join(self._present_parts()) + '/'
        message = (f'{self.folder!r} is split into {present} but has no '
                   f'{part}/ folder, so there is no {part} split. Add '
                   f'{osp.join(self.folder, part)}/<class name>/<images> '
                   'with the same class folders as train/, or put all images '
                   'into one folder of class sub-folders to have them split '
                   'train / val / test.')
        if part == 'test':
            message += (
                ' To evaluate on val/ knowingly, set '
                "test_dataloader.dataset.split='val' (val chose the "
                'weights, so its top-1 is not a held-out estimate).')
        return message

    def _check_same_classes_as_train(self, classes, part):
        if part == 'train':
            return
        _, train_classes = scan_class_folders(osp.join(self.folder, 'train'))
        if classes != train_classes:
            raise DatasetFolderError(
                f'The class folders of {osp.join(self.folder, part)!r} '
                f'{list(classes)} differ from those of train/ '
                f'{list(train_classes)}: class indices would not match. '
                'Give both the same class sub-folders.')

    def load_data_list(self) -> List[dict]:
        if self.folder is not None and self.cache_images and \
                self.image_size is not None and self.cache is None:
            self._build_cache()
        return self._samples

    def _build_cache(self) -> None:
        """Decode and resize every image of the split into ``self.cache``
        (one read-only array, shared copy-on-write with forked workers);
        the data infos then carry ``cache_index`` (see get_data_info)."""
        load, resize = cache_steps(self.pipeline.transforms, self.image_size)
        if load is None:
            warnings.warn(
                f'Images of {self.folder!r} are not cached in memory: the '
                'pipeline does not load them with LoadImageIfPath (which '
                'takes a cached image). Start the pipeline with '
                "dict(type='LoadImageIfPath') to have them decoded once, or "
                'set cache_images=False to decode them every epoch quietly.')
            return
        size = self.image_size
        needed_mb = len(self._samples) * size * size * 3 / 2**20
        if needed_mb > self.cache_limit_mb:
            warnings.warn(
                f'The {self.split} split of {self.folder!r} '
                f'({len(self._samples)} images at {size}x{size}) needs '
                f'{needed_mb:.0f} MB in memory, above cache_limit_mb='
                f'{self.cache_limit_mb:g}: its images are decoded from the '
                'files every epoch (slower). Raise the limit with '
                f'dataset.cache_limit_mb={int(needed_mb) + 1} if the memory '
                'is there, or set cache_images=False to keep it uncached '
                'without this warning.')
            return
        self.cache = decode_resized(
            [info['img_path'] for info in self._samples], load, resize)
        for index, info in enumerate(self._samples):
            info['cache_index'] = index

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        index = info.pop('cache_index', None)
        if index is not None and self.cache is not None:
            # A copy: the pipeline may write into its image.
            info['img'] = self.cache[index].copy()
        return info
