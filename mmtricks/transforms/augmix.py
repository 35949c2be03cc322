"""AugMix (Hendrycks et al. 2020, "AugMix: A Simple Data Processing Method
to Improve Robustness and Uncertainty"): the mixing math as pure functions,
the transform only wires them."""
from typing import Callable, Dict, Optional, Sequence, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS


def mix_chains(original: np.ndarray, chains: Sequence[np.ndarray],
               chain_weights: Sequence[float],
               original_weight: float) -> np.ndarray:
    """``m * original + (1 - m) * sum_i w_i * chain_i`` in float32.

    With ``w`` on the simplex and ``m`` in [0, 1] the result is a convex
    combination of the original and the augmented chains.
    """
    mix = np.zeros(original.shape, dtype=np.float32)
    for weight, chain in zip(chain_weights, chains):
        mix += np.float32(weight) * chain.astype(np.float32)
    m = np.float32(original_weight)
    return m * original.astype(np.float32) + (1 - m) * mix


def sample_mixing_weights(random, width: int,
                          alpha: float) -> Tuple[np.ndarray, float]:
    """Chain weights ``w ~ Dirichlet(alpha, ..., alpha)`` and the weight of
    the original image ``m ~ Beta(alpha, alpha)``."""
    weights = np.asarray(random.dirichlet([alpha] * width), dtype=np.float64)
    return weights, float(random.beta(alpha, alpha))


def op_strength(random, severity: int) -> float:
    """A random strength in [0.01, severity / 10] (AugMix samples the level
    uniformly from [0.1, severity] on a scale of 10)."""
    return float(random.uniform(0.1, severity)) / 10.0


def _signed(random, value: float) -> float:
    return value if random.uniform() < 0.5 else -value


def _rotate(img, strength, random, pad_val):
    return mmcv.imrotate(img, _signed(random, 30.0 * strength),
                         border_value=pad_val)


def _shear(direction):
    def op(img, strength, random, pad_val):
        return mmcv.imshear(img, _signed(random, 0.3 * strength), direction,
                            border_value=pad_val)
    return op


def _translate(direction):
    def op(img, strength, random, pad_val):
        size = img.shape[1] if direction == 'horizontal' else img.shape[0]
        offset = _signed(random, strength * size / 3.0)
        return mmcv.imtranslate(img, offset, direction, border_value=pad_val)
    return op


def _posterize(img, strength, random, pad_val):
    return mmcv.posterize(img, max(4 - int(strength * 4), 1))


def _solarize(img, strength, random, pad_val):
    return mmcv.solarize(img, 256 - int(strength * 256))


def _auto_contrast(img, strength, random, pad_val):
    return mmcv.auto_contrast(img)


def _equalize(img, strength, random, pad_val):
    return mmcv.imequalize(img)


#: AugMix's operations, the ones MMPretrain's auto-augment set also has,
#: done with the same mmcv functions. Colour, contrast, brightness and
#: sharpness are left out on purpose: they overlap the corruptions of the
#: robustness test sets (ImageNet-C / CIFAR-C), as in the AugMix paper.
AUGMIX_OPS: Dict[str, Callable] = {
    'AutoContrast': _auto_contrast,
    'Equalize': _equalize,
    'Posterize': _posterize,
    'Rotate': _rotate,
    'Solarize': _solarize,
    'ShearX': _shear('horizontal'),
    'ShearY': _shear('vertical'),
    'TranslateX': _translate('horizontal'),
    'TranslateY': _translate('vertical'),
}


@TRANSFORMS.register_module()
class AugMix(BaseTransform):
    """AugMix: a convex mix of the image and ``width`` augmentation chains.

    Each chain applies ``depth`` operations drawn from :data:`AUGMIX_OPS`
    with random strengths up to ``severity``; the chains are mixed with
    Dirichlet weights and the mix with the original with a Beta weight
    (:func:`mix_chains`). Output has the input's shape and dtype. Used by
    Prokofiev & Sovrasov 2021 with ``severity=5, width=3``.

    For the Jensen-Shannon consistency loss set ``jsd_views=True``: ``img``
    stays the clean image and ``results['augmix_views']`` holds two
    independent AugMix views (see
    :class:`mmtricks.models.losses.AugMixJSDLoss` for what is still needed
    to feed them to the model).

    Args:
        severity (int): 1..10, the strength ceiling of every operation.
            Defaults to 3.
        width (int): Number of chains, >= 1. Defaults to 3.
        depth (int): Operations per chain, >= 1, or -1 for a random depth
            in 1..3 per chain. Defaults to -1.
        alpha (float): Parameter of the Dirichlet and Beta distributions,
            > 0. Defaults to 1.
        pad_val (int): Fill of pixels that rotate/shear/translate uncover.
            Defaults to 128 (as MMPretrain's auto-augment).
        jsd_views (bool): Keep ``img`` clean and add two AugMix views under
            ``augmix_views``. Defaults to False.
        seed (int, optional): Own random stream, for reproducible output
            whatever the global state. Defaults to None: numpy's global
            stream, which MMEngine seeds per worker.
    """

    def __init__(self,
                 severity: int = 3,
                 width: int = 3,
                 depth: int = -1,
                 alpha: float = 1.0,
                 pad_val: int = 128,
                 jsd_views: bool = False,
                 seed: Optional[int] = None):
        if not (isinstance(severity, int) and 1 <= severity <= 10):
            raise ValueError(f'AugMix severity must be an int in 1..10, '
                             f'got {severity!r}.')
        if not (isinstance(width, int) and width >= 1):
            raise ValueError(f'AugMix width (number of chains) must be >= 1, '
                             f'got {width!r}.')
        if not (isinstance(depth, int) and (depth == -1 or depth >= 1)):
            raise ValueError(f'AugMix depth must be >= 1 or -1 (random 1..3), '
                             f'got {depth!r}.')
        if not alpha > 0:
            raise ValueError(f'AugMix alpha must be > 0, got {alpha!r}.')
        self.severity = severity
        self.width = width
        self.depth = depth
        self.alpha = float(alpha)
        self.pad_val = pad_val
        self.jsd_views = jsd_views
        self.seed = seed
        self.random = np.random if seed is None else \
            np.random.default_rng(seed)
        self.op_names = sorted(AUGMIX_OPS)

    def chain(self, img: np.ndarray) -> np.ndarray:
        depth = self.depth if self.depth > 0 else \
            int(self.random.choice([1, 2, 3]))
        for _ in range(depth):
            name = self.op_names[int(self.random.choice(len(self.op_names)))]
            img = AUGMIX_OPS[name](img, op_strength(self.random,
                                                    self.severity),
                                   self.random, self.pad_val)
        return img

    def augmix(self, img: np.ndarray) -> np.ndarray:
        weights, m = sample_mixing_weights(self.random, self.width,
                                           self.alpha)
        chains = [self.chain(img.copy()) for _ in range(self.width)]
        mixed = mix_chains(img, chains, weights, m)
        if np.issubdtype(img.dtype, np.integer):
            info = np.iinfo(img.dtype)
            mixed = np.clip(np.rint(mixed), info.min, info.max)
        return mixed.astype(img.dtype)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if self.jsd_views:
            results['augmix_views'] = [self.augmix(img), self.augmix(img)]
        else:
            results['img'] = self.augmix(img)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(severity={self.severity}, '
                f'width={self.width}, depth={self.depth}, '
                f'alpha={self.alpha}, jsd_views={self.jsd_views}, '
                f'seed={self.seed})')
