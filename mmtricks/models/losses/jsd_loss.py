from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import nn


def jensen_shannon_divergence(probs: Sequence[torch.Tensor],
                              eps: float = 1e-7) -> torch.Tensor:
    """Generalised JSD of several distributions, averaged over the batch.

    ``JS(p_1..p_n) = 1/n sum_i KL(p_i || M)``, ``M = 1/n sum_i p_i``, for
    probability tensors of shape ``(N, K)``. ``M`` is clamped to ``eps`` as
    in the AugMix paper's reference code, so the log is finite.
    """
    mixture = torch.stack(list(probs)).mean(0).clamp(eps, 1.0).log()
    return sum(F.kl_div(mixture, p, reduction='batchmean')
               for p in probs) / len(probs)


@MODELS.register_module()
class AugMixJSDLoss(nn.Module):
    """Cross-entropy on the clean view plus AugMix's JSD consistency.

    Hendrycks et al. 2020: ``CE(clean, y) + lambda * JS(p_clean, p_aug1,
    p_aug2)``. Expects the logits of a batch stacked as
    ``[clean; aug1; aug2]`` (``3N`` rows) and the labels of the clean ``N``
    images (or all ``3N``: the first ``N`` are used). Usable as a head's
    ``loss=dict(type='AugMixJSDLoss', jsd_weight=12)``.

    The batch comes from :class:`~mmtricks.models.AugMixDataPreprocessor`
    with ``AugMix(jsd_views=True)``; see docs/paper_regularisers.md. With
    :class:`~mmtricks.models.AMSoftmaxClsHead` the logits are the margined,
    scaled ones of all three views and the labels come repeated (3N).

    Args:
        jsd_weight (float): lambda, >= 0. Defaults to 12 (the paper's).
        loss_weight (float): Weight of the whole loss. Defaults to 1.
    """

    def __init__(self, jsd_weight: float = 12.0, loss_weight: float = 1.0):
        super().__init__()
        if not jsd_weight >= 0:
            raise ValueError(f'jsd_weight must be >= 0, got {jsd_weight!r}.')
        self.jsd_weight = jsd_weight
        self.loss_weight = loss_weight

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor,
                avg_factor: Optional[int] = None, **kwargs) -> torch.Tensor:
        if cls_score.size(0) % 3:
            raise ValueError(
                'AugMixJSDLoss needs logits stacked as [clean; aug1; aug2], '
                f'got {cls_score.size(0)} rows (not a multiple of 3).')
        clean, aug1, aug2 = cls_score.chunk(3)
        label = label[:clean.size(0)]
        if label.ndim == 2:
            ce = -(label * clean.log_softmax(1)).sum(1).mean()
        else:
            ce = F.cross_entropy(clean, label)
        jsd = jensen_shannon_divergence(
            [clean.softmax(1), aug1.softmax(1), aug2.softmax(1)])
        return self.loss_weight * (ce + self.jsd_weight * jsd)
