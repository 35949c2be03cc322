from contextlib import contextmanager
from numbers import Real
from typing import Dict, Optional

import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPERS
from torch import nn

from ..models.model_state import unwrap_model
from .sam import frozen_bn_running_stats, sam_perturbations


class _SAMMixin:
    """SAM's two passes inside MMEngine's ``train_step`` protocol.

    MMEngine's ``BaseModel.train_step(data, optim_wrapper)`` runs::

        with optim_wrapper.optim_context(model):
            data = model.data_preprocessor(data, True)
            losses = model(**data, mode='loss')
        optim_wrapper.update_params(model.parse_losses(losses)[0])

    so the wrapper never receives a closure, but it does receive the model
    in ``optim_context``. The design: while the context is open, a forward
    pre-hook on that model records the arguments of its one loss forward
    (the already pre-processed, batch-augmented batch); the hook is removed
    when the context closes. ``update_params`` then back-propagates the loss
    (scaled as MMEngine scales it for accumulation) and keeps the recorded
    forward. When the wrapper should update (every micro-batch without
    accumulation, else the last micro-batch of each accumulation window):

    1. the accumulated gradient is ``g`` at ``w`` (the mean over the
       window's micro-batches, as for plain accumulation),
    2. the weights move to ``w + e(w)`` (:func:`sam_perturbations` of ``g``),
    3. every recorded forward of the window is replayed there, under the
       base wrapper's own context (AMP autocast; DDP gradient sync on the
       last replay only, like the first pass) with BN running statistics
       frozen, each loss scaled exactly as in the first pass; their
       gradients accumulate into ``g'``,
    4. the original weights are put back (copied, so exactly), and
    5. the base wrapper steps with ``g'``: gradient clipping, AMP unscaling
       and the LR from the param schedulers apply to ``g'``.

    Gradient accumulation is SAM on the whole window's batch ("global" SAM,
    one ``e(w)`` per optimizer step): with equal micro-batches and a
    mean-reduced loss, ``accumulative_counts=k`` with batch ``B`` gives the
    same step as ``accumulative_counts=1`` with batch ``k * B`` (up to BN,
    which normalises per micro-batch, as for any accumulation). That is
    what accumulation promises: the config's effective batch, whatever the
    memory. The other published variant, one ``e`` per micro-batch (SAM's
    m-sharpness with ``m = B``), would make the method change with
    ``accumulative_counts``; it is not what this wrapper does.
    Cost: 2 forward and 2 backward passes per micro-batch, as without
    accumulation. Memory: the recorded inputs (pre-processed images and
    data samples) of every micro-batch of the window stay alive until the
    step, i.e. up to ``accumulative_counts`` batches of inputs (not their
    activations). The last, shorter window of a run (MMEngine's
    ``_remainder_counts``) is replayed with the same loss factor as its
    first pass, so it is SAM on the micro-batches it has.

    Nothing else changes: the stock ``ImageClassifier.train_step``, hooks
    and the LR finder (which calls ``model.train_step`` with the run's
    wrapper) get SAM without knowing. A first gradient that is not finite
    (an AMP overflow) is not used to perturb: the step sees it as the base
    wrapper would (AMP skips that step and lowers the loss scale).
    """

    def _init_sam(self, rho, adaptive, optimizer):
        if isinstance(rho, bool) or not isinstance(rho, Real) or rho <= 0:
            raise ValueError(
                f'SAM needs rho > 0 (the neighbourhood radius; the paper '
                f'uses 0.05, ASAM 0.5-2.0), got {rho!r}.')
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f'{type(self).__name__} wraps one torch.optim.Optimizer, got '
                f'{type(optimizer).__name__}. For several optimizers '
                '(OptimWrapperDict) give each its own optimizer wrapper.')
        self.rho = float(rho)
        self.adaptive = bool(adaptive)
        self._recorded_forward = None
        # (inner count before the first pass, recorded forward) of each
        # micro-batch of the current accumulation window
        self._window = []

    @contextmanager
    def optim_context(self, model: nn.Module):
        calls = []

        def record(module, args, kwargs):
            calls.append((args, kwargs))

        handle = model.register_forward_pre_hook(record, with_kwargs=True)
        try:
            with super().optim_context(model):
                yield
        finally:
            handle.remove()
        if len(calls) > 1:
            raise RuntimeError(
                f'{type(self).__name__} saw {len(calls)} forward calls of the '
                'model in one optim_context; SAM can replay only one loss '
                'forward per step.')
        self._recorded_forward = (model, calls[0]) if calls else None

    def update_params(self,
                      loss: torch.Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        recorded, self._recorded_forward = self._recorded_forward, None
        if recorded is None:
            raise RuntimeError(
                f'{type(self).__name__}.update_params needs the loss forward '
                'to run inside `with optim_wrapper.optim_context(model):` '
                '(as BaseModel.train_step does), so that it can run it again '
                'at the perturbed weights.')
        self._window = self._current_window()
        self._window.append((self._inner_count, recorded))
        self.backward(self.scale_loss(loss))
        if self.should_update():
            window, self._window = self._window, []
            self.second_pass(window)
            self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))

    def _current_window(self):
        """The recorded micro-batches that belong to the open window.

        They must be the micro-steps just before this one. Anything else
        was left by an interrupted window whose counter was reset since
        (e.g. the LR finder's snapshot restore): its gradients are gone, so
        its records are dropped.
        """
        window = self._window
        expected = list(range(self._inner_count - len(window),
                              self._inner_count))
        if [count for count, _ in window] != expected:
            return []
        return window

    def second_pass(self, window) -> None:
        """Replace the gradient at ``w`` by the gradient at ``w + e(w)``.

        Args:
            window (list): ``(inner count before the first pass, (model,
                (args, kwargs)))`` of each micro-batch of the window.
        """
        params = [p for group in self.optimizer.param_groups
                  for p in group['params'] if p.grad is not None]
        if not params:
            return
        grads = [p.grad for p in params]
        if not all(torch.isfinite(g).all() for g in grads):
            return
        perturbations = sam_perturbations(params, grads, self.rho,
                                          self.adaptive)
        originals = [p.detach().clone() for p in params]
        with torch.no_grad():
            for param, e in zip(params, perturbations):
                param.add_(e)
        self.optimizer.zero_grad(set_to_none=True)
        end_count = self._inner_count
        perturbed_losses = []
        try:
            for count, (model, (args, kwargs)) in window:
                # the replay is the same micro-step as its first pass: same
                # loss factor (scale_loss) and DDP sync (should_sync)
                self._inner_count = count
                with super().optim_context(model), \
                        frozen_bn_running_stats(model):
                    losses = model(*args, **kwargs)
                perturbed_loss, _ = unwrap_model(model).parse_losses(losses)
                self.backward(self.scale_loss(perturbed_loss))
                perturbed_losses.append(float(perturbed_loss.detach()))
        finally:
            self._inner_count = end_count
            with torch.no_grad():
                for param, original in zip(params, originals):
                    param.copy_(original)
        self.message_hub.update_scalar(
            'train/sam_perturbed_loss',
            sum(perturbed_losses) / len(perturbed_losses))


@OPTIM_WRAPPERS.register_module()
class SAMOptimWrapper(_SAMMixin, OptimWrapper):
    """Sharpness-Aware Minimization around any torch optimizer (fp32).

    Foret et al. 2021 (SAM) and Kwon et al. 2021 (ASAM, ``adaptive=True``).
    Every step costs two forward and two backward passes: the loss at the
    weights ``w`` gives ``g``, the weights move to ``w + e(w)`` with
    ``e = rho * g / ||g||`` (ASAM: ``rho * T^2 g / ||T g||``, ``T = |w|``),
    the loss there gives ``g'``, the weights go back to ``w`` and the wrapped
    optimizer steps with ``g'``. BN running statistics are updated by the
    first pass only. See :class:`_SAMMixin` for how the second pass runs
    inside the stock ``train_step`` and with gradient accumulation.

    Example::

        optim_wrapper = dict(
            type='SAMOptimWrapper', rho=0.05,
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9,
                           weight_decay=5e-4),
            paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
            clip_grad=dict(max_norm=10.0))  # clips the second gradient

    Args:
        optimizer (torch.optim.Optimizer): The base optimizer; its LR, state
            and param groups are the run's (param schedulers act on them).
        rho (float): Neighbourhood radius, > 0. Defaults to 0.05 (the
            paper's value for SAM; ASAM usually wants a larger one).
        adaptive (bool): ASAM's scale-invariant neighbourhood. Defaults to
            False.
        accumulative_counts (int): Gradient accumulation as in
            ``OptimWrapper``: SAM on the window's whole batch (one ``e(w)``
            from the accumulated gradient, every micro-batch replayed at
            ``w + e(w)``). Holds the inputs of up to this many micro-batches
            until the step. Defaults to 1.
        clip_grad (dict, optional): As in ``OptimWrapper``; applied to the
            second gradient.
    """

    def __init__(self,
                 optimizer: torch.optim.Optimizer,
                 rho: float = 0.05,
                 adaptive: bool = False,
                 accumulative_counts: int = 1,
                 clip_grad: Optional[dict] = None):
        self._init_sam(rho, adaptive, optimizer)
        super().__init__(optimizer, accumulative_counts=accumulative_counts,
                         clip_grad=clip_grad)


@OPTIM_WRAPPERS.register_module()
class SAMAmpOptimWrapper(_SAMMixin, AmpOptimWrapper):
    """:class:`SAMOptimWrapper` with mixed precision (``AmpOptimWrapper``).

    Both passes run under autocast and back-propagate the loss-scaled
    loss; ``e(w)`` does not depend on the loss scale (it normalises ``g``).
    A first gradient with inf/NaN leaves the weights unperturbed and the
    loss scaler skips the step, as plain AMP does.

    Args:
        optimizer (torch.optim.Optimizer): The base optimizer.
        rho (float): Neighbourhood radius, > 0. Defaults to 0.05.
        adaptive (bool): ASAM. Defaults to False.
        loss_scale (str | float | dict): As in ``AmpOptimWrapper``.
            Defaults to ``'dynamic'``.
        dtype (str | torch.dtype, optional): As in ``AmpOptimWrapper``.
        accumulative_counts (int): As in :class:`SAMOptimWrapper`.
            Defaults to 1.
        clip_grad (dict, optional): Applied to the unscaled second gradient.
    """

    def __init__(self,
                 optimizer: torch.optim.Optimizer,
                 rho: float = 0.05,
                 adaptive: bool = False,
                 loss_scale='dynamic',
                 dtype=None,
                 accumulative_counts: int = 1,
                 clip_grad: Optional[dict] = None):
        self._init_sam(rho, adaptive, optimizer)
        super().__init__(loss_scale=loss_scale, dtype=dtype,
                         optimizer=optimizer,
                         accumulative_counts=accumulative_counts,
                         clip_grad=clip_grad)
