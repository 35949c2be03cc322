import math
import warnings
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmpretrain.evaluation.metrics import Accuracy
from mmpretrain.models.heads import ClsHead
from mmpretrain.models.heads.stacked_head import LinearBlock
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn


def auto_scale(num_classes: int) -> float:
    """AdaCos' fixed scale ``sqrt(2) * log(K - 1)`` (Zhang et al. 2019).

    For K = 2 the formula gives 0, so ``K - 1`` is floored at 2 (the K = 3
    value, about 0.98).
    """
    return math.sqrt(2.0) * math.log(max(num_classes - 1, 2))


def cosine_logits(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Cosine between L2-normalised features ``(N, C)`` and class weights
    ``(K, C)``, shape ``(N, K)``."""
    return F.linear(F.normalize(features, dim=1), F.normalize(weight, dim=1))


def additive_margin_logits(cosine: torch.Tensor, target: torch.Tensor,
                           margin: float, scale: float) -> torch.Tensor:
    """``s * (cos - m * onehot)`` (Wang et al. 2018, AM-Softmax).

    ``target`` is either class indices ``(N,)`` or scores ``(N, K)`` (from
    Mixup/CutMix or label smoothing): then each class loses ``m`` times its
    target score.
    """
    if target.ndim == 1:
        target = F.one_hot(target, cosine.size(1))
    return scale * (cosine - margin * target.to(cosine.dtype))


def targets_of_stacked_views(target: torch.Tensor,
                             num_rows: int) -> torch.Tensor:
    """The targets of ``num_rows`` logit rows that stack whole views of the
    batch, view after view (``[clean; view 1; view 2]`` from
    :class:`~mmtricks.models.AugMixDataPreprocessor`): ``target`` (class
    indices ``(N,)`` or scores ``(N, K)``) repeated ``num_rows / N`` times.

    One row per target (the usual batch) returns ``target`` itself.
    """
    num_targets = target.size(0)
    if num_rows == num_targets:
        return target
    if num_targets == 0 or num_rows % num_targets:
        raise ValueError(
            f'{num_rows} logit rows for {num_targets} targets: the rows must '
            'be the batch or whole copies of it stacked view after view '
            '(AugMixDataPreprocessor gives [clean; view 1; view 2], 3N '
            'rows for N labels).')
    views = num_rows // num_targets
    return target.repeat(views, *([1] * (target.ndim - 1)))


def best_case_target_probability(num_classes: int, margin: float,
                                 scale: float) -> float:
    """Softmax probability of the target, margin applied, in the best
    geometry: the feature on its class weight (cos 1) and the K class
    weights a regular simplex (every other cos ``-1/(K-1)``)."""
    others = -1.0 / (num_classes - 1)
    gap = scale * (1.0 - margin - others)
    return 1.0 / (1.0 + (num_classes - 1) * math.exp(-gap))


@MODELS.register_module()
class AMSoftmaxClsHead(ClsHead):
    """Additive Margin Softmax head, a drop-in for ``LinearClsHead``.

    Wang et al. 2018, "Additive Margin Softmax for Face Verification"; used
    by Prokofiev & Sovrasov 2021 (arXiv 2108.07049) for classification. The
    logits are the cosines between L2-normalised features and L2-normalised
    class weights, times ``scale``. In training the loss sees
    ``scale * (cos - margin * onehot)``: the target class must win by a
    cosine margin. ``forward``/``predict`` (validation, test, ONNX) return
    ``scale * cos`` without margin.

    Bounds, checked at build time: ``scale > 0`` and ``0 <= margin < 1``.
    The target logit ``s (cos_t - m)`` can beat every other ``s cos_j`` only
    if ``m < cos_t - max_j cos_j``, and that gap is at most ``K / (K - 1)``
    (features on their class weight, class weights a regular simplex), i.e.
    about 1 for many classes: a margin of 1 or more makes the margined
    target lose to some class on (almost) every sample, so it is refused.
    Inside the bound, a UserWarning says when the margined target cannot
    even reach softmax probability 1/2 in that best geometry
    (:func:`best_case_target_probability`): the loss then never goes below
    log 2 (the margin acts as a strong label smoothing).

    Args:
        num_classes (int): Number of classes K.
        in_channels (int): Channels of the input feature.
        margin (float): Additive cosine margin m. Defaults to 0.35 (the
            AM-Softmax paper's value).
        scale (float | str): Logit scale s > 0, or ``'auto'``:
            :func:`auto_scale` (AdaCos' fixed scale for K classes).
            Defaults to ``'auto'``.
        mid_channels (Sequence[int]): Hidden fully connected layers before
            the cosine layer, as in ``StackedLinearClsHead`` (MobileNetV3's
            head has ``[1024]``). Defaults to ``()``.
        dropout_rate (float): Dropout after each hidden layer. Defaults to 0.
        act_cfg (dict): Activation of the hidden layers. Defaults to ReLU.
        norm_cfg (dict, optional): Norm of the hidden layers.
        loss (dict): Loss on the margined logits. Defaults to
            ``CrossEntropyLoss``.
        init_cfg (dict, optional): Initialisation config.
        **kwargs: ``topk``, ``cal_acc`` of ``ClsHead``.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 margin: float = 0.35,
                 scale: Union[float, str] = 'auto',
                 mid_channels: Sequence[int] = (),
                 dropout_rate: float = 0.0,
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 norm_cfg: Optional[dict] = None,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer='Linear', std=0.01),
                 **kwargs):
        super().__init__(loss=loss, init_cfg=init_cfg, **kwargs)
        if num_classes < 2:
            raise ValueError(f'num_classes must be >= 2, got {num_classes}.')
        if not 0.0 <= margin < 1.0:
            raise ValueError(
                f'AM-Softmax margin must be in [0, 1), got {margin}; the '
                'usual range is 0.1-0.4.')
        if scale == 'auto':
            scale = auto_scale(num_classes)
        elif isinstance(scale, str) or not scale > 0:
            raise ValueError(f"scale must be > 0 or 'auto', got {scale!r}.")
        best = best_case_target_probability(num_classes, margin, scale)
        if best <= 0.5:
            warnings.warn(
                f'AM-Softmax margin {margin} with scale {scale:.3g} for '
                f'{num_classes} classes: even a perfectly classified sample '
                f'keeps a target probability of at most {best:.2f}, so the '
                'loss cannot fall below log 2 and the margin acts as a '
                'strong label smoothing. Lower the margin or raise the '
                'scale if that is not intended.')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.margin = float(margin)
        self.scale = float(scale)
        layers = []
        channels = in_channels
        for hidden in mid_channels:
            layers.append(LinearBlock(channels, hidden,
                                      dropout_rate=dropout_rate,
                                      norm_cfg=norm_cfg, act_cfg=act_cfg))
            channels = hidden
        self.layers = nn.Sequential(*layers)
        self.weight = nn.Parameter(torch.empty(num_classes, channels))
        nn.init.normal_(self.weight, std=0.01)

    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        return self.layers(feats[-1])

    def cosine(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        return cosine_logits(self.pre_logits(feats), self.weight)

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """Inference logits ``scale * cos`` (no margin)."""
        return self.scale * self.cosine(feats)

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        """Loss on the margined logits ``scale * (cos - margin * target)``.

        With several views of the batch stacked as ``[clean; view 1; view
        2]`` (AugMix's JSD data path, 3N rows for N samples) every view gets
        the margin on its own sample's target (the targets are repeated per
        view, :func:`targets_of_stacked_views`), and the loss module sees the
        3N margined rows with the 3N repeated targets: ``AugMixJSDLoss``
        takes CE on the clean rows and the JSD of the three views' softmax
        of these margined logits; a plain loss (CE, label smoothing) trains
        on all views.
        """
        if 'gt_score' in data_samples[0]:
            target = torch.stack([i.gt_score for i in data_samples])
        else:
            target = torch.cat([i.gt_label for i in data_samples])
        cosine = self.cosine(feats)
        target = targets_of_stacked_views(target, cosine.size(0))
        logits = additive_margin_logits(cosine, target, self.margin,
                                        self.scale)
        losses = dict(loss=self.loss_module(
            logits, target, avg_factor=logits.size(0), **kwargs))
        if self.cal_acc:
            if target.ndim != 1:
                raise ValueError('cal_acc needs class-index labels, not '
                                 'scores (Mixup/CutMix, label smoothing).')
            accuracies = Accuracy.calculate(logits, target, topk=self.topk)
            losses.update({f'accuracy_top-{k}': a
                           for k, a in zip(self.topk, accuracies)})
        return losses
