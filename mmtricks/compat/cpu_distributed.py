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

A config may leave the backend to mmtricks with
``env_cfg = dict(dist_cfg=dict(backend=None))`` (as ``configs/auto_mbv3.py``
does): ``torchrun ... --launcher pytorch`` then uses ``nccl`` with CUDA,
much faster on GPUs, and ``gloo`` without. A backend the config names is
used as named, except ``nccl`` without CUDA (the default of MMEngine and of
stock MMPretrain configs, which cannot run there): that becomes ``gloo``,
with a notice.
"""
from typing import Optional

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


def choose_backend(requested: Optional[str], cuda_available: bool) -> str:
    """The ``torch.distributed`` backend to start.

    Args:
        requested (str, optional): The config's ``dist_cfg.backend``; None
            leaves the choice to this function.
        cuda_available (bool): Whether CUDA is available.

    Returns:
        str: ``requested`` when given, except ``'nccl'`` without CUDA, which
        cannot start and becomes ``'gloo'``; without a request, ``'nccl'``
        with CUDA and ``'gloo'`` without.
    """
    if requested is None:
        return 'nccl' if cuda_available else 'gloo'
    if requested == 'nccl' and not cuda_available:
        return 'gloo'
    return requested


def init_dist_pytorch(backend, init_backend='torch', **kwargs) -> None:
    """``_init_dist_pytorch`` that chooses the backend when the config leaves
    it unset, and that starts without CUDA."""
    if has_accelerator() or init_backend != 'torch':
        backend = choose_backend(backend, torch.cuda.is_available())
        return _original_init_dist_pytorch(backend, init_backend, **kwargs)
    chosen = choose_backend(backend, cuda_available=False)
    if backend is not None and chosen != backend:
        print_log(
            f'No GPU: using the gloo backend instead of {backend!r} for '
            'distributed training on CPU.',
            logger='current')
    torch_dist.init_process_group(backend=chosen, **kwargs)


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
