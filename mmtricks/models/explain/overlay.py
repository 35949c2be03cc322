"""A saliency map drawn on its image: the one rendering the deployed
classifier, ``tools/explain.py`` and the run report's gallery share."""
from typing import Tuple

import cv2
import numpy as np

#: Share of the blended overlay taken by the colour-mapped saliency.
OVERLAY_ALPHA = 0.5


def upsample(saliency: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """An ``(h, w)`` map resized (bilinear) to ``size`` = (height, width)."""
    height, width = size
    return cv2.resize(np.asarray(saliency, dtype=np.float32),
                      (width, height), interpolation=cv2.INTER_LINEAR)


def as_bgr(image: np.ndarray) -> np.ndarray:
    """A BGR uint8 image from a BGR(A) or grey (``(h, w)``/``(h, w, 1)``)
    one."""
    if image.ndim == 3 and image.shape[2] >= 3:
        return np.ascontiguousarray(image[..., :3])
    return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)


def overlay(image: np.ndarray, saliency: np.ndarray,
            alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """The map (jet colours, red = high) blended onto the image (BGR, BGRA
    or grey uint8), as BGR."""
    image = as_bgr(image)
    heat = cv2.applyColorMap(
        np.uint8(np.clip(upsample(saliency, image.shape[:2]), 0, 1) * 255),
        cv2.COLORMAP_JET)
    return cv2.addWeighted(heat, alpha, image, 1 - alpha, 0)
