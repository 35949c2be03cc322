"""Distributed training on CPU-only machines through MMEngine's launcher.

Upstream bugs (mmengine 0.10.7):

* ``mmengine.dist.utils._init_dist_pytorch`` calls
  ``torch.cuda.set_device(local_rank)`` unconditionally, so
  ``torchrun ... --launcher pytorch`` fails without CUDA even with
  ``dist_cfg=dict(backend='gloo')``. Stock MMPretrain configs also ask for
  ``nccl``, which needs CUDA.
* ``Runner.wrap_model`` passes ``device_ids=[LOCAL_RANK]`` to
  ``MMDistributedDataParallel``, which PyTorch rejects for a CPU module.

Without CUDA (or another accelerator MMEngine knows), the launcher starts a
``gloo`` process group and DDP wraps CPU modules with ``device_ids=None``.
With an accelerator, MMEngine's own code runs unchanged.
"""
import functools

import torch
import torch.distributed as torch_dist
from mmengine.device import (is_mlu_available, is_musa_available,
                             is_npu_available)
from mmengine.logging import print_log
from mmengine.model.wrappers import MMDistributedDataParallel

from .private_mmengine import (original_init_dist_pytorch,
                               replace_init_dist_pytorch)

_original_init_dist_pytorch = original_init_dist_pytorch()
_original_ddp_init = MMDistributedDataParallel.__init__


def has_accelerator() -> bool:
    return (torch.cuda.is_available() or is_mlu_available()
            or is_npu_available() or is_musa_available())


def init_dist_pytorch(backend, init_backend='torch', **kwargs) -> None:
    """``_init_dist_pytorch`` that falls back to gloo on a CPU-only machine."""
    if has_accelerator() or init_backend != 'torch':
        return _original_init_dist_pytorch(backend, init_backend, **kwargs)
    if backend != 'gloo':
        print_log(
            f'No GPU: using the gloo backend instead of {backend!r} for '
            'distributed training on CPU.',
            logger='current')
    torch_dist.init_process_group(backend='gloo', **kwargs)


def _is_on_cpu(module: torch.nn.Module) -> bool:
    tensors = list(module.parameters()) or list(module.buffers())
    return all(t.device.type == 'cpu' for t in tensors)


@functools.wraps(_original_ddp_init)
def ddp_init_cpu_aware(self, module, *args, **kwargs):
    if kwargs.get('device_ids') is not None and _is_on_cpu(module):
        kwargs['device_ids'] = None
    _original_ddp_init(self, module, *args, **kwargs)


def apply() -> None:
    replace_init_dist_pytorch(init_dist_pytorch)
    MMDistributedDataParallel.__init__ = ddp_init_cpu_aware
