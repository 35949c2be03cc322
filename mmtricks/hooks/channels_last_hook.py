from typing import Optional

import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from ..models.model_state import unwrap_model


def to_memory_format(model: torch.nn.Module,
                     memory_format: torch.memory_format) -> None:
    """Convert the model's 4-D parameters and buffers in place (``.data``
    is replaced, so optimizers, EMA and SAM keep the same Parameter
    objects)."""
    model.to(memory_format=memory_format)


def contiguous_state_dict(state_dict: dict) -> dict:
    """The state dict with every tensor in the default (NCHW) layout, as a
    model that never used channels_last would save it."""
    return {k: v.contiguous() if isinstance(v, torch.Tensor) else v
            for k, v in state_dict.items()}


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Train the model in the ``channels_last`` (NHWC) memory layout.

    One config line switches it: ``custom_hooks += [dict(type=
    'ChannelsLastHook')]``. The model's convolution weights move to
    ``channels_last`` before training (before the LR range test, which then
    runs in the same layout), oneDNN then runs every convolution in NHWC
    (the input follows the first convolution's weight). Everything else
    sees a normal model:

    - checkpoints are saved in the default layout (the values are the same;
      ONNX export, deployment and ``load_from`` never see NHWC strides);
    - after training the model is back in the default layout;
    - SAM, EMA and precise BN work on the same Parameter objects (only
      their ``.data`` layout changes), so nothing has to know about it.

    Measured on a 2-core AMD EPYC (AVX2 only), training MobileNetV3-small
    in the auto recipe: x1.44 at 128 px, neutral at 32 px (x0.94 in the
    benchmark, x1.1-1.2 on the bare model step), docs/benchmarks/speed.md;
    on a Xeon with AVX-512 the issue's probe saw up to x2.7 on the step.

    Args:
        enabled (bool): False leaves the layout alone (a config can then
            switch it off in one line). Defaults to True.
    """

    priority = 'HIGHEST'  # before LRFinderHook's range test

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = bool(enabled)

    def before_train(self, runner) -> None:
        if self.enabled:
            to_memory_format(unwrap_model(runner.model), torch.channels_last)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.enabled and 'state_dict' in checkpoint:
            checkpoint['state_dict'] = contiguous_state_dict(
                checkpoint['state_dict'])

    def after_train(self, runner) -> None:
        if self.enabled:
            to_memory_format(unwrap_model(runner.model),
                             torch.contiguous_format)
