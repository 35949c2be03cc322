"""Recipro-CAM: class saliency maps from the head alone, without gradients.

Byun & Lee, "Recipro-CAM: Fast gradient-free visual explanations for
convolutional neural networks" (2022, arXiv:2209.14074), the method
OpenVINO Training Extensions puts into its exported CNN classifiers. For
each location ``(i, j)`` of the last feature map, the map is kept only
around ``(i, j)`` (a 3x3 Gaussian-like window: 1/4 at the centre, 1/8 at
the sides, 1/16 at the corners, cut at the border) and zeroed elsewhere;
the head's softmax score of class ``k`` for that masked map is the
saliency of ``k`` at ``(i, j)``. The ``H*W`` masked maps go through the
head as one batch, so the cost is ``H*W`` head passes and no backbone pass;
every shape is static, so the whole computation exports to ONNX.

Each class's map is then min-max normalised to [0, 1] (as OTX does), so the
peak reads the same whatever the class's absolute score.
"""
from typing import Callable, Tuple

import torch
import torch.nn.functional as F
from torch import nn

# OTX's window: a 3x3 binomial kernel around the kept location.
WINDOW = ((1 / 16, 1 / 8, 1 / 16), (1 / 8, 1 / 4, 1 / 8),
          (1 / 16, 1 / 8, 1 / 16))
# Below this range a class's map is flat: it normalises to zeros, not to
# amplified rounding noise.
FLAT_RANGE = 1e-12


def spatial_masks(height: int, width: int) -> torch.Tensor:
    """``(H*W, 1, H, W)`` masks: mask ``i*W + j`` holds :data:`WINDOW`
    centred on ``(i, j)``, cut at the border, zeros elsewhere."""
    masks = torch.zeros(height * width, 1, height, width)
    for i in range(height):
        for j in range(width):
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    y, x = i + di, j + dj
                    if 0 <= y < height and 0 <= x < width:
                        masks[i * width + j, 0, y, x] = WINDOW[di + 1][dj + 1]
    return masks


def min_max_normalise(maps: torch.Tensor) -> torch.Tensor:
    """Each ``(H, W)`` map of ``(N, K, H, W)`` scaled to [0, 1]; a flat map
    (range under :data:`FLAT_RANGE`) becomes zeros."""
    flat = maps.flatten(2)
    low = flat.min(dim=2, keepdim=True)[0]
    span = flat.max(dim=2, keepdim=True)[0] - low
    scaled = (flat - low) / span.clamp(min=FLAT_RANGE)
    return scaled.reshape_as(maps)


def recipro_cam(features: torch.Tensor,
                head_fn: Callable[[torch.Tensor], torch.Tensor],
                masks: torch.Tensor = None) -> torch.Tensor:
    """Recipro-CAM maps ``(N, K, H, W)`` in [0, 1].

    Args:
        features: The last feature map ``(N, C, H, W)``.
        head_fn: Maps a feature map ``(M, C, H, W)`` to logits ``(M, K)``
            (the classifier's neck and head).
        masks: :func:`spatial_masks` of ``(H, W)``; made here when None.
    """
    _, c, h, w = features.shape
    if masks is None:
        masks = spatial_masks(h, w).to(features)
    # (N, 1, C, H, W) * (1, H*W, 1, H, W) -> N*H*W masked maps. The batch
    # stays -1: an exported graph keeps no batch size of its own, so an IR
    # reshaped to another batch still computes.
    masked = (features.unsqueeze(1) * masks.unsqueeze(0)).reshape(
        -1, c, h, w)
    scores = F.softmax(head_fn(masked), dim=1)
    maps = scores.reshape(-1, h, w, scores.shape[1]).permute(0, 3, 1, 2)
    return min_max_normalise(maps)


def classifier_head_fn(model: nn.Module) -> Callable:
    """Feature map to logits through an MMPretrain ``ImageClassifier``'s
    neck (if any) and head, as its ``extract_feat`` and ``head`` chain
    them (both take the backbone's tuple of stages; the head reads the
    last)."""
    def head_fn(feature_map: torch.Tensor) -> torch.Tensor:
        feats = (feature_map, )
        if getattr(model, 'neck', None) is not None:
            feats = model.neck(feats)
        return model.head(feats)
    return head_fn


def pools_globally(model: nn.Module) -> bool:
    """Whether the classifier's neck is a global average pooling (MMPretrain's
    ``GlobalAveragePooling``, which pools with ``AdaptiveAvgPool2d(1)``):
    then the masked maps' pooling is a product with the masks, and the head
    runs on pooled vectors (:class:`ExplainedClassifier`)."""
    gap = getattr(getattr(model, 'neck', None), 'gap', None)
    return isinstance(gap, nn.AdaptiveAvgPool2d) and \
        gap.output_size in (1, (1, 1))


def pooled_recipro_cam(features: torch.Tensor, head: Callable,
                       masks: torch.Tensor) -> Tuple[torch.Tensor,
                                                     torch.Tensor]:
    """Scores and Recipro-CAM maps of a global-average-pooling classifier
    in one head pass: the pooled whole map and the ``H*W`` pooled masked
    maps are rows of one product ``weights @ features``, so the head's
    weights are read once and no ``(N*H*W, C, H, W)`` tensor is made. The
    same numbers as :func:`recipro_cam` with the neck in ``head_fn``.

    Args:
        features: ``(N, C, H, W)``.
        head: Maps pooled vectors ``(M, C)`` to logits ``(M, K)``.
        masks: :func:`spatial_masks` of ``(H, W)``.
    """
    _, c, h, w = features.shape
    weights = torch.cat([torch.ones_like(masks[:1]), masks]).flatten(1)
    # (H*W+1, H*W) @ (N, H*W, C) -> (N, H*W+1, C): row 0 is the plain mean.
    pooled = torch.matmul(weights / (h * w), features.flatten(2).transpose(
        1, 2))
    logits = head(pooled.reshape(-1, c))
    logits = logits.reshape(-1, h * w + 1, logits.shape[-1])
    scores = F.softmax(logits[:, 0], dim=1)
    maps = F.softmax(logits[:, 1:], dim=2).reshape(
        -1, h, w, logits.shape[-1]).permute(0, 3, 1, 2)
    return scores, min_max_normalise(maps)


class ExplainedClassifier(nn.Module):
    """An MMPretrain ``ImageClassifier`` whose ``forward(inputs)`` (inputs
    already normalised, as MMDeploy exports it) returns ``(scores,
    saliency)``: the softmax scores ``(N, K)`` MMDeploy's export gives, and
    the Recipro-CAM maps ``(N, K, H, W)`` of the backbone's last feature
    map. Shapes are static, so it exports to ONNX as it is.

    With a global-average-pooling neck (MobileNetV3, EfficientNet-Lite)
    the scores and maps come from one head pass on pooled rows
    (:func:`pooled_recipro_cam`); other necks run on the masked maps
    (:func:`recipro_cam`) after the classifier's own pass."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.head_fn = classifier_head_fn(model)
        self.pools_globally = pools_globally(model)
        self._masks = {}

    def masks_for(self, height: int, width: int,
                  like: torch.Tensor) -> torch.Tensor:
        key = (int(height), int(width))
        if key not in self._masks:  # a constant in an exported graph
            self._masks[key] = spatial_masks(*key)
        return self._masks[key].to(like)

    def forward(self, inputs: torch.Tensor) -> Tuple[torch.Tensor,
                                                     torch.Tensor]:
        features = self.model.backbone(inputs)
        last = features[-1] if isinstance(features, (tuple, list)) \
            else features
        height, width = last.shape[-2:]
        masks = self.masks_for(height, width, last)
        if self.pools_globally:
            return pooled_recipro_cam(
                last, lambda pooled: self.model.head((pooled, )), masks)
        scores = F.softmax(self.head_fn(last), dim=1)
        return scores, recipro_cam(last, self.head_fn, masks)
