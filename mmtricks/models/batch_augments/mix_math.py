"""Mixup/CutMix math as small pure functions (no randomness inside).

A box is ``(y0, y1, x0, x1)``: rows ``y0:y1`` and columns ``x0:x1`` of the
image come from the partner image. Randomness (lambda, box centre) is drawn
by the caller and passed in, so tests can check every formula exactly.
"""
from typing import Sequence, Tuple, Union

import torch
import torch.nn.functional as F

Box = Tuple[int, int, int, int]
Lam = Union[float, torch.Tensor]


def smooth_scores(scores: torch.Tensor, smoothing: float) -> torch.Tensor:
    """``(1 - eps) * scores + eps / K`` for scores of shape ``(N, K)``.

    Rows that sum to 1 still sum to 1; each class gets ``eps / K`` of the
    smoothing mass, the true class keeps ``1 - eps + eps / K``.
    """
    num_classes = scores.shape[-1]
    return scores.float() * (1 - smoothing) + smoothing / num_classes


def smooth_one_hot(labels: torch.Tensor, num_classes: int,
                   smoothing: float) -> torch.Tensor:
    """One-hot rows of ``labels`` (shape ``(N,)``) with label smoothing."""
    return smooth_scores(F.one_hot(labels.long(), num_classes), smoothing)


def mix_targets(targets_a: torch.Tensor, targets_b: torch.Tensor,
                lam: Lam) -> torch.Tensor:
    """``lam * a + (1 - lam) * b``; ``lam`` is a number or one per row."""
    if isinstance(lam, torch.Tensor):
        lam = lam.to(targets_a).view(-1, 1)
    return lam * targets_a + (1 - lam) * targets_b


def blend_images(images_a: torch.Tensor, images_b: torch.Tensor,
                 lam: Lam) -> torch.Tensor:
    """Mixup of images ``(N, C, H, W)``: ``lam * a + (1 - lam) * b``."""
    if isinstance(lam, torch.Tensor):
        lam = lam.to(images_a).view(-1, 1, 1, 1)
    return lam * images_a + (1 - lam) * images_b


def cutmix_box(image_hw: Sequence[int], lam: float,
               center_yx: Sequence[int]) -> Box:
    """The CutMix box for ``lam`` centred at ``center_yx``, clipped to the image.

    The unclipped box has sides ``int(H * sqrt(1 - lam))`` and
    ``int(W * sqrt(1 - lam))`` (area about ``1 - lam`` of the image); near a
    border it is clipped, which is why the label weight must be recomputed
    from the clipped box with :func:`lam_from_box`.
    """
    height, width = image_hw
    ratio = (1.0 - float(lam)) ** 0.5
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = int(center_yx[0]), int(center_yx[1])
    y0 = min(max(cy - cut_h // 2, 0), height)
    y1 = min(max(cy + cut_h - cut_h // 2, 0), height)
    x0 = min(max(cx - cut_w // 2, 0), width)
    x1 = min(max(cx + cut_w - cut_w // 2, 0), width)
    return y0, y1, x0, x1


def minmax_box(cut_hw: Sequence[int], corner_yx: Sequence[int]) -> Box:
    """A ``cut_hw`` box with its top-left corner at ``corner_yx``.

    For ``cutmix_minmax``: the caller draws the sides in
    ``[min, max) * side`` and the corner so that the box fits the image.
    """
    y0, x0 = int(corner_yx[0]), int(corner_yx[1])
    return y0, y0 + int(cut_hw[0]), x0, x0 + int(cut_hw[1])


def lam_from_box(box: Box, image_hw: Sequence[int]) -> float:
    """Weight of the original image: ``1 - pasted area / image area``."""
    y0, y1, x0, x1 = box
    height, width = image_hw
    return 1.0 - (y1 - y0) * (x1 - x0) / float(height * width)


def paste_box(images_a: torch.Tensor, images_b: torch.Tensor,
              box: Box) -> torch.Tensor:
    """A copy of ``images_a`` with ``box`` taken from ``images_b``."""
    y0, y1, x0, x1 = box
    mixed = images_a.clone()
    mixed[..., y0:y1, x0:x1] = images_b[..., y0:y1, x0:x1]
    return mixed
