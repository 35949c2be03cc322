"""The recipe on a GPU: mixed precision, pinned memory and cuDNN autotuning
when CUDA is present; nothing changes on a CPU.

:func:`apply_gpu_settings` is what ``DataAwareRunner`` calls; the rules are
in :func:`gpu_plan`, a pure function of the config's settings and of what
the device offers, so they are tested without a GPU.

- **Mixed precision** (``amp='auto'``, the recipe's top-level setting): the
  optimizer wrapper becomes its AMP twin (MMEngine's ``AmpOptimWrapper``,
  mmtricks' ``SAMAmpOptimWrapper`` for SAM), in bfloat16 where the GPU
  computes it (Ampere and later: no loss scaling needed), else float16 with
  MMEngine's dynamic loss scale. The LR range test and the epoch policy step
  through the same wrapper, so their meaning is unchanged. ``amp=False``
  keeps fp32; ``amp=True`` without CUDA is an error (CPU autocast did not
  pay: docs/speed.md).
- **Pinned memory** for every loader, so host-to-device copies overlap.
- **cuDNN autotuning** (``env_cfg.cudnn_benchmark='auto'``: on with
  CUDA): the input size is fixed by the recipe, which is when autotuning
  pays.
- NCCL is chosen by the launcher already (``mmtricks.compat.cpu_distributed``)
  and ``ChannelsLastHook`` works the same on CUDA. The batch size stays the
  config's: MobileNetV3-small and EfficientNet-Lite0 at up to 128 px fit a
  batch of 64 on any current GPU, and a changed batch would change what the
  LR range test measures.

Not measured on a GPU: this project's machines have none (the tests check the
plan and the config it writes).
"""
from dataclasses import dataclass
from typing import List, Optional

from .config_keys import AUTO
from .config_keys import SPLIT_LOADERS as LOADERS

AMP_TWINS = {'OptimWrapper': 'AmpOptimWrapper',
             'SAMOptimWrapper': 'SAMAmpOptimWrapper'}


@dataclass(frozen=True)
class GpuPlan:
    """What :func:`gpu_plan` decided: the optimizer wrapper type and AMP
    dtype (None: unchanged), and why."""
    wrapper: Optional[str]
    dtype: Optional[str]
    reason: str


def gpu_plan(amp, cuda: bool, bf16: bool, wrapper_type: str) -> GpuPlan:
    """The mixed-precision decision.

    Args:
        amp: The config's ``amp``: ``'auto'``, True or False.
        cuda: Whether CUDA is available.
        bf16: Whether the GPU computes bfloat16 natively.
        wrapper_type: The config's ``optim_wrapper.type``.
    """
    if amp not in (AUTO, True, False):
        raise ValueError(f"amp must be 'auto', True or False, got {amp!r}.")
    if amp is False:
        return GpuPlan(None, None, 'fp32 (amp=False)')
    if not cuda:
        if amp is True:
            raise ValueError(
                'amp=True but CUDA is not available: mixed precision is for '
                "GPUs here (on CPUs it did not pay). Use amp='auto' or False.")
        return GpuPlan(None, None, 'fp32 (no CUDA)')
    if wrapper_type in AMP_TWINS.values():
        return GpuPlan(None, None, f'{wrapper_type} as configured')
    if wrapper_type not in AMP_TWINS:
        raise ValueError(
            f'amp={amp!r} on CUDA, but optim_wrapper.type={wrapper_type!r} '
            f'has no known AMP twin ({", ".join(AMP_TWINS)}): set amp=False '
            'or configure the AMP wrapper yourself.')
    dtype = 'bfloat16' if bf16 else 'float16'
    scaling = 'no loss scaling' if bf16 else 'dynamic loss scaling'
    return GpuPlan(AMP_TWINS[wrapper_type], dtype,
                   f'mixed precision {dtype} ({scaling}) through '
                   f'{AMP_TWINS[wrapper_type]}')


def apply_gpu_settings(cfg, cuda: Optional[bool] = None,
                       bf16: Optional[bool] = None) -> List[str]:
    """Apply :func:`gpu_plan` and the GPU loader settings to ``cfg`` in
    place; the log line (none without CUDA and without an ``amp`` setting).

    Args:
        cfg: The config.
        cuda: Whether CUDA is available (default: ask torch).
        bf16: Whether the GPU computes bfloat16 (default: ask torch).
    """
    import torch
    cuda = torch.cuda.is_available() if cuda is None else cuda
    if bf16 is None:
        bf16 = cuda and torch.cuda.is_bf16_supported()
    wrapper = cfg.get('optim_wrapper') or {}
    plan = gpu_plan(cfg.get('amp', AUTO), cuda, bf16,
                    wrapper.get('type', 'OptimWrapper'))
    env = cfg.get('env_cfg') or {}
    if env.get('cudnn_benchmark') == AUTO:
        env['cudnn_benchmark'] = bool(cuda)
    if not cuda:
        return []
    if plan.wrapper is not None:
        wrapper['type'] = plan.wrapper
        wrapper['dtype'] = plan.dtype
        if plan.dtype == 'float16':
            wrapper.setdefault('loss_scale', 'dynamic')
    pinned = []
    for name in LOADERS:
        loader = cfg.get(name)
        if loader is not None and 'pin_memory' not in loader:
            loader['pin_memory'] = True
            pinned.append(name.split('_')[0])
    return [f'GPU settings: {plan.reason}; pinned memory for '
            f'{", ".join(pinned) or "no loader"}; cudnn_benchmark='
            f'{env["cudnn_benchmark"]}.']
