"""Sharpness-Aware Minimization: the math as small pure functions.

Foret et al. 2021, "Sharpness-Aware Minimization for Efficiently Improving
Generalization" (SAM), and Kwon et al. 2021, "ASAM: Adaptive
Sharpness-Aware Minimization" (the ``adaptive`` variant). The optimizer
wrapper in :mod:`.sam_optim_wrapper` only wires these into MMEngine.
"""
from contextlib import contextmanager
from typing import Iterator, List, Sequence

import torch
from torch import nn


def sam_perturbations(params: Sequence[torch.Tensor],
                      grads: Sequence[torch.Tensor],
                      rho: float,
                      adaptive: bool = False,
                      eps: float = 1e-12) -> List[torch.Tensor]:
    """The ascent step ``e(w)`` of SAM, one tensor per parameter.

    SAM: ``e = rho * g / ||g||``. ASAM (``adaptive``):
    ``e = rho * T^2 g / ||T g||`` with ``T = |w|`` element-wise. The norm is
    taken over all parameters together. Both are invariant to a scaling of
    ``g``, so AMP's loss-scaled gradients give the same ``e`` unscaled.

    Args:
        params: The parameters ``w``.
        grads: Their gradients ``g`` (same order and shapes).
        rho (float): Radius of the neighbourhood.
        adaptive (bool): ASAM instead of SAM.
        eps (float): Guards the division for an all-zero gradient.
    """
    if adaptive:
        scaled = [p.detach().abs() * g for p, g in zip(params, grads)]
    else:
        scaled = list(grads)
    norm = torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(s.float()) for s in scaled]))
    factor = rho / (norm + eps)
    if adaptive:
        return [(p.detach().abs() * s * factor).to(s.dtype)
                for p, s in zip(params, scaled)]
    return [(s * factor).to(s.dtype) for s in scaled]


@contextmanager
def frozen_bn_running_stats(model: nn.Module) -> Iterator[None]:
    """BN layers in training mode normalise with batch statistics but do
    not update their running mean/var (nor ``num_batches_tracked``).

    SAM's second forward pass sees the same batch at perturbed weights;
    updating the running statistics again would count the batch twice.
    """
    layers = [m for m in model.modules()
              if isinstance(m, nn.modules.batchnorm._BatchNorm)
              and m.training and m.track_running_stats]
    for layer in layers:
        layer.track_running_stats = False
    try:
        yield
    finally:
        for layer in layers:
            layer.track_running_stats = True
