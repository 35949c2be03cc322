"""``mmcv.adjust_hue`` without the numpy-2 overflow.

Upstream bug: mmcv 2.2.0 shifts the hue channel with
``h += np.uint8(hue_factor * 255)``, relying on the out-of-bounds integer
wrapping that numpy 2 turned into ``OverflowError`` (the same line broke
torchvision, pytorch/vision#8536). Any negative hue factor, i.e. half of
MMPretrain's ``ColorJitter(hue=...)`` draws, kills training at a random step.
The shift is the same modulo 256, computed in Python ints.
"""
import cv2
import mmcv
import mmcv.image
import mmcv.image.photometric as photometric
import numpy as np
from PIL import Image

_original_adjust_hue = photometric.adjust_hue


def hue_shift(hue_factor: float) -> np.uint8:
    """The uint8 hue offset of ``hue_factor`` in [-0.5, 0.5], wrapped mod 256.

    Truncates toward zero like the C cast that numpy 1 applied.
    """
    return np.uint8(int(hue_factor * 255) % 256)


def adjust_hue(img: np.ndarray, hue_factor: float, backend=None) -> np.ndarray:
    """Drop-in for :func:`mmcv.adjust_hue` (same arguments and checks)."""
    if backend is None:
        backend = photometric.imread_backend
    if backend not in ('cv2', 'pillow'):
        raise ValueError(f'backend: {backend} is not supported. '
                         "Supported backends are 'cv2', 'pillow'")
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor:{hue_factor} is not in [-0.5, 0.5].')
    if not (isinstance(img, np.ndarray) and img.ndim in (2, 3)):
        raise TypeError('img should be ndarray with dim=[2 or 3].')
    shift = hue_shift(hue_factor)
    if backend == 'pillow':
        assert img.dtype == np.uint8, 'Pillow backend only support uint8 type'
        pil_image = Image.fromarray(img[..., ::-1], mode='RGB')
        h, s, v = pil_image.convert('HSV').split()
        np_h = np.array(h, dtype=np.uint8)
        np_h += shift  # uint8 arithmetic wraps around the hue circle
        hsv = Image.merge('HSV', (Image.fromarray(np_h, 'L'), s, v))
        return np.array(hsv.convert('RGB'), dtype=img.dtype)[..., ::-1]
    dtype = img.dtype
    hsv_img = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
    h, s, v = cv2.split(hsv_img)
    h = h.astype(np.uint8)
    h += shift
    return cv2.cvtColor(cv2.merge([h, s, v]),
                        cv2.COLOR_HSV2BGR_FULL).astype(dtype)


def apply() -> None:
    # MMPretrain calls `mmcv.adjust_hue`; patch every name it is bound to.
    for module in (photometric, mmcv.image, mmcv):
        module.adjust_hue = adjust_hue
