"""A linear classifier fitted on frozen features: the head's starting point
for fine-tuning (LP-FT, Kumar et al., "Fine-Tuning can Distort Pretrained
Features and Underperform Out-of-Distribution", ICLR 2022).

A new head starts random; its first gradients, large and meaningless, flow
into the pretrained backbone and pull its features towards whatever the
random head needs. Fitting the head on the frozen features first (a convex
problem, solved here in full-batch L-BFGS in seconds) makes fine-tuning
start from a head that already separates the classes, so the backbone moves
only where the features fall short.

Pure functions of tensors: the hook that collects the features is
:mod:`mmtricks.hooks.linear_probe_hook`.
"""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

#: L2 strengths tried when val features are given (on the mean
#: cross-entropy, as ``weight_decay / 2`` would be in SGD): from nearly
#: none to strong, a decade apart.
L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1)
#: L-BFGS iterations: a few hundred features' problem converges in tens.
MAX_ITER = 100


@dataclass(frozen=True)
class LinearProbe:
    """The fitted head and how it was chosen."""
    weight: torch.Tensor         # (classes, features)
    bias: torch.Tensor           # (classes, )
    l2: float
    train_loss: float
    val_loss: Optional[float] = None
    val_top1: Optional[float] = None


def fit_logistic_regression(features: torch.Tensor, labels: torch.Tensor,
                            num_classes: int, l2: float,
                            max_iter: int = MAX_ITER
                            ) -> Tuple[torch.Tensor, torch.Tensor, float]:
    """Multinomial logistic regression: ``weight``, ``bias`` minimising the
    mean cross-entropy plus ``l2 / 2 * ||weight||^2`` (the bias free), and
    that loss. Deterministic (float64, full batch, no randomness)."""
    if features.ndim != 2 or labels.ndim != 1 or \
            len(features) != len(labels) or not len(labels):
        raise ValueError('features must be (images, dims) and labels '
                         f'(images, ), got {tuple(features.shape)} and '
                         f'{tuple(labels.shape)}.')
    if l2 < 0:
        raise ValueError(f'l2 must be at least 0, got {l2}.')
    x = features.detach().to(torch.float64)
    y = labels.detach().long()
    weight = torch.zeros(num_classes, x.shape[1], dtype=torch.float64,
                         requires_grad=True)
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=max_iter,
                                  line_search_fn='strong_wolfe')

    def objective():
        optimizer.zero_grad()
        loss = F.cross_entropy(x @ weight.T + bias, y) + \
            0.5 * l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(objective)
        loss = float(objective().detach())
    return weight.detach().float(), bias.detach().float(), loss


def fit_linear_probe(features: torch.Tensor, labels: torch.Tensor,
                     num_classes: int,
                     val_features: Optional[torch.Tensor] = None,
                     val_labels: Optional[torch.Tensor] = None,
                     l2_grid: Sequence[float] = L2_GRID) -> LinearProbe:
    """Fit one head per L2 strength of ``l2_grid`` on the training
    features and keep the one with the lowest val cross-entropy (the val
    images decide, as they decide the LR and the epochs); without val
    features, the grid's middle strength."""
    if not l2_grid:
        raise ValueError('l2_grid is empty.')
    if val_features is None or val_labels is None or not len(val_labels):
        l2 = sorted(l2_grid)[len(l2_grid) // 2]
        weight, bias, loss = fit_logistic_regression(features, labels,
                                                     num_classes, l2)
        return LinearProbe(weight, bias, l2, loss)
    best = None
    for l2 in l2_grid:
        weight, bias, loss = fit_logistic_regression(features, labels,
                                                     num_classes, l2)
        logits = val_features.float() @ weight.T + bias
        val_loss = float(F.cross_entropy(logits, val_labels.long()))
        top1 = 100.0 * float((logits.argmax(1) == val_labels).float().mean())
        if best is None or val_loss < best.val_loss:
            best = LinearProbe(weight, bias, l2, loss, val_loss, top1)
    return best
