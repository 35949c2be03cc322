from numbers import Number
from typing import Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmpretrain.registry import BATCH_AUGMENTS


def decremented_size(image_hw: Sequence[int], scale: float) -> Tuple[int, int]:
    """``(round(H * scale), round(W * scale))``, each side at least 1."""
    return tuple(max(1, int(round(side * scale))) for side in image_hw)


def downscale(inputs: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Shrink a batch ``(N, C, H, W)`` to ``size`` by area averaging.

    Each output pixel is the mean of the input area it covers (for a factor
    of 2, of a 2x2 block): no aliasing, unlike plain bilinear sampling.
    """
    return F.interpolate(inputs, size=tuple(size), mode='area')


@BATCH_AUGMENTS.register_module()
class RandomResolutionDecrement:
    """Train a whole iteration at a lower resolution with probability ``prob``.

    Temporal resolution decrement (see docs/mix_augments.md): for a random
    share of the iterations the network sees the batch downscaled (e.g.
    16 px instead of 32), which biases it towards shape over texture and
    makes those iterations cheaper (the paper reports +1.4 top-1 for
    ResNet-50 on ImageNet at a third of the compute). The decision is per
    batch, so a batch keeps one size and no compute is wasted on upscaling;
    the labels pass through unchanged. Works on the normalised batch in the
    data preprocessor, after any mixing when chained behind it with
    :class:`SequentialBatchAugments`::

        model = dict(train_cfg=dict(augments=dict(
            type='RandomResolutionDecrement', prob=0.5, scale=0.5)))

    Args:
        prob (float): Share of the iterations trained at low resolution, in
            ``[0, 1]``. Defaults to 0.5.
        scale (float): Side length factor in ``(0, 1)``. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5, scale: float = 0.5):
        if not isinstance(prob, Number) or not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob!r}.')
        if not isinstance(scale, Number) or not 0 < scale < 1:
            raise ValueError(
                f'scale must be in (0, 1) (0.5 halves each side), got '
                f'{scale!r}.')
        self.prob = float(prob)
        self.scale = float(scale)

    def __call__(self, inputs: torch.Tensor, batch_score: torch.Tensor):
        if np.random.rand() < self.prob:
            size = decremented_size(inputs.shape[-2:], self.scale)
            inputs = downscale(inputs, size)
        return inputs, batch_score.float()

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.prob}, '
                f'scale={self.scale})')
