from numbers import Number
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
from mmpretrain.registry import BATCH_AUGMENTS

from .mix_math import (Box, blend_images, cutmix_box, lam_from_box,
                       minmax_box, mix_targets, paste_box, smooth_scores)

MODES = ('batch', 'elem')


@BATCH_AUGMENTS.register_module()
class MixupCutMix:
    """Mixup or CutMix per batch (or per image), label smoothing folded in.

    Each image is mixed with its partner in the reversed batch (image ``i``
    with image ``N - 1 - i``). With probability ``prob`` a batch is mixed;
    a mixed batch uses CutMix with probability ``switch_prob`` when both are
    enabled, else the enabled one. Mixup draws ``lam ~ Beta(mixup_alpha,
    mixup_alpha)`` and blends; CutMix draws ``lam ~ Beta(cutmix_alpha,
    cutmix_alpha)`` for a box of area ``1 - lam``, clips the box to the image
    and recomputes ``lam`` as ``1 - pasted area / image area``, so the
    target is exact. The target is ``lam * smooth(y) + (1 - lam) *
    smooth(y_partner)`` with ``smooth(y) = (1 - eps) * onehot(y) + eps / K``;
    batches that are not mixed (``prob``, or switched off by
    :class:`~mmtricks.hooks.MixOffHook`) still get smoothed targets.

    Use it through the classifier's ``train_cfg`` (ClsDataPreprocessor then
    calls it with one-hot scores)::

        model = dict(train_cfg=dict(augments=dict(
            type='MixupCutMix', mixup_alpha=0.2, cutmix_alpha=1.0,
            switch_prob=0.5, prob=1.0, label_smoothing=0.1)))

    The targets are soft: the head's loss must accept them (see
    :class:`~mmtricks.hooks.SoftTargetCheckHook`).

    Args:
        mixup_alpha (float): Beta parameter of mixup; 0 disables mixup.
            Defaults to 0.2.
        cutmix_alpha (float): Beta parameter of CutMix; 0 disables CutMix
            unless ``cutmix_minmax`` is set. Defaults to 1.0.
        cutmix_minmax (Sequence[float], optional): ``(min, max)`` fraction of
            each image side for the CutMix box, drawn uniformly; replaces the
            ``cutmix_alpha`` box (timm's and Darknet's variant). The box then
            always fits in the image. Defaults to None.
        prob (float): Probability that a batch (an image, in ``'elem'``
            mode) is mixed at all. Defaults to 1.0.
        switch_prob (float): Probability of CutMix rather than mixup when
            both are enabled. Defaults to 0.5.
        label_smoothing (float): ``eps`` in ``[0, 1)`` folded into the
            targets. Defaults to 0.0.
        mode (str): ``'batch'``: one draw for the whole batch (cheap, the
            usual choice); ``'elem'``: one draw per image. Defaults to
            ``'batch'``.
    """

    def __init__(self,
                 mixup_alpha: float = 0.2,
                 cutmix_alpha: float = 1.0,
                 cutmix_minmax: Optional[Sequence[float]] = None,
                 prob: float = 1.0,
                 switch_prob: float = 0.5,
                 label_smoothing: float = 0.0,
                 mode: str = 'batch'):
        for name, alpha in (('mixup_alpha', mixup_alpha),
                            ('cutmix_alpha', cutmix_alpha)):
            if not isinstance(alpha, Number) or alpha < 0:
                raise ValueError(f'{name} must be a number >= 0 (0 disables '
                                 f'it), got {alpha!r}.')
        for name, value in (('prob', prob), ('switch_prob', switch_prob)):
            if not isinstance(value, Number) or not 0 <= value <= 1:
                raise ValueError(f'{name} is a probability: it must be in '
                                 f'[0, 1], got {value!r}.')
        if not isinstance(label_smoothing, Number) or \
                not 0 <= label_smoothing < 1:
            raise ValueError('label_smoothing must be in [0, 1) (0.1 is '
                             f'usual), got {label_smoothing!r}.')
        if cutmix_minmax is not None:
            if len(cutmix_minmax) != 2 or \
                    not 0 < cutmix_minmax[0] < cutmix_minmax[1] <= 1:
                raise ValueError(
                    'cutmix_minmax must be (min, max) fractions of the image '
                    'side with 0 < min < max <= 1, e.g. (0.2, 0.8); got '
                    f'{cutmix_minmax!r}.')
            cutmix_minmax = tuple(float(v) for v in cutmix_minmax)
        if mixup_alpha == 0 and cutmix_alpha == 0 and cutmix_minmax is None:
            raise ValueError(
                'Both mixup_alpha and cutmix_alpha are 0, so nothing would be '
                'mixed. Set one of them > 0 (e.g. mixup_alpha=0.2, '
                'cutmix_alpha=1.0), or use LabelSmoothLoss for smoothing '
                'alone.')
        if mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {mode!r}.')
        self.mixup_alpha = float(mixup_alpha)
        self.cutmix_alpha = float(cutmix_alpha)
        self.cutmix_minmax = cutmix_minmax
        self.prob = float(prob)
        self.switch_prob = float(switch_prob)
        self.label_smoothing = float(label_smoothing)
        self.mode = mode
        # MixOffHook clears it for the final phase; targets stay smoothed.
        self.mix_enabled = True

    @property
    def mixup_enabled(self) -> bool:
        return self.mixup_alpha > 0

    @property
    def cutmix_enabled(self) -> bool:
        return self.cutmix_alpha > 0 or self.cutmix_minmax is not None

    def __call__(self, inputs: torch.Tensor,
                 batch_score: torch.Tensor) -> Tuple[torch.Tensor,
                                                     torch.Tensor]:
        if batch_score.ndim != 2:
            raise ValueError('MixupCutMix needs one-hot scores of shape '
                             f'(N, num_classes), got {tuple(batch_score.shape)}.')
        targets = smooth_scores(batch_score, self.label_smoothing)
        if not self.mix_enabled:
            return inputs, targets
        partner_inputs, partner_targets = inputs.flip(0), targets.flip(0)
        image_hw = tuple(inputs.shape[-2:])
        if self.mode == 'batch':
            draw = self.draw(image_hw)
            if draw is None:
                return inputs, targets
            kind, lam, box = draw
            if kind == 'cutmix':
                mixed = paste_box(inputs, partner_inputs, box)
            else:
                mixed = blend_images(inputs, partner_inputs, lam)
            return mixed, mix_targets(targets, partner_targets, lam)
        mixed = inputs.clone()
        lams = torch.ones(len(inputs))
        for i in range(len(inputs)):
            draw = self.draw(image_hw)
            if draw is None:
                continue
            kind, lams[i], box = draw
            if kind == 'cutmix':
                mixed[i] = paste_box(inputs[i], partner_inputs[i], box)
            else:
                mixed[i] = blend_images(inputs[i:i + 1],
                                        partner_inputs[i:i + 1],
                                        float(lams[i]))[0]
        return mixed, mix_targets(targets, partner_targets,
                                  lams.to(targets.device))

    def draw(self, image_hw) -> Optional[Tuple[str, float, Optional[Box]]]:
        """``(kind, lam, box)`` for one mix, or None for no mix."""
        if self.prob < 1 and np.random.rand() >= self.prob:
            return None
        if self.mixup_enabled and self.cutmix_enabled:
            use_cutmix = np.random.rand() < self.switch_prob
        else:
            use_cutmix = self.cutmix_enabled
        if not use_cutmix:
            lam = float(np.random.beta(self.mixup_alpha, self.mixup_alpha))
            return 'mixup', lam, None
        box = self._draw_box(image_hw)
        return 'cutmix', lam_from_box(box, image_hw), box

    def _draw_box(self, image_hw) -> Box:
        height, width = image_hw
        if self.cutmix_minmax is None:
            lam = np.random.beta(self.cutmix_alpha, self.cutmix_alpha)
            center = (np.random.randint(height), np.random.randint(width))
            return cutmix_box(image_hw, lam, center)
        low, high = self.cutmix_minmax
        cut_hw = [_draw_side(side, low, high) for side in image_hw]
        corner = (np.random.randint(height - cut_hw[0] + 1),
                  np.random.randint(width - cut_hw[1] + 1))
        return minmax_box(cut_hw, corner)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(mixup_alpha={self.mixup_alpha}, '
                f'cutmix_alpha={self.cutmix_alpha}, '
                f'cutmix_minmax={self.cutmix_minmax}, prob={self.prob}, '
                f'switch_prob={self.switch_prob}, '
                f'label_smoothing={self.label_smoothing}, mode={self.mode!r}, '
                f'mix_enabled={self.mix_enabled})')


def _draw_side(side: int, low: float, high: float) -> int:
    """A box side in ``[int(low * side), int(high * side)]``, at least 1."""
    smallest = max(int(side * low), 1)
    largest = max(int(side * high), smallest)
    return int(np.random.randint(smallest, largest + 1))
