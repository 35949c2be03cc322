"""Weight EMA whose momentum is warmed up, so that it works on short runs.

MMEngine's ``ExponentialMovingAverage`` averages with a fixed momentum ``m``
(the weight of the NEW parameters): after ``n`` updates the average still
holds ``(1 - m) ** n`` of its first value. With the usual ``m = 0.001``
(decay 0.999) that is 0.71 after 345 iterations, so on a short run the
validated and shipped EMA weights are mostly the untrained initialisation.

The warmup here is Katherine Crowson's EMA warmup, the one timm's
``ModelEmaV3(use_warmup=True, warmup_gamma, warmup_power)`` uses: the decay
at update ``t`` is ``1 - (1 + t / gamma) ** -power``, i.e. the momentum is
``(1 + t / gamma) ** -power``; the configured momentum is a floor
(timm's ``decay`` is a ceiling on the decay). With ``gamma=1, power=3/4``
(her suggestion for runs shorter than a million steps) the momentum is
0.18 after 10 updates, 0.032 after 100, and reaches 0.001 after 9999 updates;
with ``power=1`` the EMA is the plain mean of the snapshots seen so far.
"""
import numbers
from typing import Optional

import torch
from mmengine.model import ExponentialMovingAverage
from mmpretrain.registry import MODELS
from torch import Tensor, nn


def ema_warmup_momentum(steps: int, gamma: float = 1.0,
                        power: float = 0.75) -> float:
    """Momentum (weight of the new parameters) of the EMA warmup at a step.

    ``(1 + steps / gamma) ** -power``: 1 at ``steps=0`` (the average is the
    model), then decreasing towards 0 like ``steps ** -power``.

    Args:
        steps (int): Number of averaging updates already folded into the
            average (0 for the first one, which copies the model).
        gamma (float): Time scale of the warmup, in updates: larger values
            keep the momentum high for longer. Must be > 0. Defaults to 1.
        power (float): Speed at which the momentum decays once ``steps``
            exceeds ``gamma``. Must be > 0; 1 gives the running mean of all
            snapshots, 2/3 suits million-step runs (timm's default), 3/4
            shorter ones. Defaults to 0.75.

    Returns:
        float: The warmup momentum, in (0, 1].
    """
    if steps < 0:
        raise ValueError(f'steps must be >= 0, got {steps}')
    if gamma <= 0:
        raise ValueError(f'gamma must be > 0, got {gamma}')
    if power <= 0:
        raise ValueError(f'power must be > 0, got {power}')
    return float((1.0 + steps / gamma) ** -power)


def _check_positive(name: str, value) -> None:
    if (not isinstance(value, numbers.Real) or isinstance(value, bool)
            or not value > 0):
        raise ValueError(f'{name} must be a number > 0, got {value!r}')


@MODELS.register_module()
class WarmupExponentialMovingAverage(ExponentialMovingAverage):
    r"""EMA of the weights with a warmed-up momentum (MMEngine convention).

    Each update does ``averaged = (1 - m_t) * averaged + m_t * source`` with
    ``m_t = max(momentum, ema_warmup_momentum(t, warmup_gamma,
    warmup_power))``, where ``t`` is the number of averaging updates already
    in the average (``steps // interval``; MMEngine's first update copies
    the model and counts as update 0). Early on the EMA follows the weights
    closely; later it averages with the configured ``momentum``.

    Use it in place of MMEngine's default EMA::

        custom_hooks = [dict(type='EMAHook', momentum=0.001,
                             ema_type='WarmupExponentialMovingAverage')]

    Args:
        model (nn.Module): The model to be averaged.
        momentum (float): Momentum floor, the weight of the new parameters
            once the warmup is over (``1 - decay``). In (0, 1).
            Defaults to 0.0002 (MMEngine's default).
        warmup_gamma (float): Time scale of the warmup, in updates
            (see :func:`ema_warmup_momentum`). Defaults to 1.
        warmup_power (float): Decay power of the warmup momentum
            (see :func:`ema_warmup_momentum`). Defaults to 0.75.
        interval (int): Average every ``interval`` calls of
            ``update_parameters`` (training iterations). Defaults to 1.
        device (torch.device, optional): If given, the averaged model lives
            on this device. Defaults to None.
        update_buffers (bool): Average the buffers too (else they are
            copied from the model). Defaults to False.
    """

    def __init__(self,
                 model: nn.Module,
                 momentum: float = 0.0002,
                 warmup_gamma: float = 1.0,
                 warmup_power: float = 0.75,
                 interval: int = 1,
                 device: Optional[torch.device] = None,
                 update_buffers: bool = False) -> None:
        _check_positive('warmup_gamma', warmup_gamma)
        _check_positive('warmup_power', warmup_power)
        if (not isinstance(momentum, numbers.Real)
                or not 0.0 < momentum < 1.0):
            raise ValueError(
                f'momentum must be in (0, 1) (the weight of the new '
                f'parameters, i.e. 1 - decay: 0.001 for decay 0.999), '
                f'got {momentum!r}')
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(
                f'interval must be an int >= 1, got {interval!r}')
        super().__init__(model, momentum, interval, device, update_buffers)
        self.warmup_gamma = float(warmup_gamma)
        self.warmup_power = float(warmup_power)
        self._update_momentum = self.momentum_at(0)

    def momentum_at(self, steps: int) -> float:
        """Effective momentum of the update made at ``update_parameters``
        call number ``steps`` (0-based, as MMEngine's ``steps`` buffer).

        Args:
            steps (int): Value of the ``steps`` counter at that call.
        """
        updates = int(steps) // self.interval
        return max(self.momentum,
                   ema_warmup_momentum(updates, self.warmup_gamma,
                                       self.warmup_power))

    def update_parameters(self, model: nn.Module) -> None:
        """Fold ``model``'s parameters into the average.

        The momentum is computed once per call: ``steps`` is a tensor (on
        the GPU when the model is), and reading it per parameter would
        synchronise the device once per parameter.

        Args:
            model (nn.Module): The model whose parameters are averaged.
        """
        self._update_momentum = self.momentum_at(int(self.steps))
        super().update_parameters(model)

    def avg_func(self, averaged_param: Tensor, source_param: Tensor,
                 steps: int) -> None:
        """Move ``averaged_param`` towards ``source_param`` in place by the
        warmed-up momentum of the current update.

        Args:
            averaged_param (Tensor): The averaged parameters.
            source_param (Tensor): The source parameters.
            steps (int): Number of ``update_parameters`` calls before this
                one (already accounted for in the current momentum).
        """
        averaged_param.lerp_(source_param, self._update_momentum)
