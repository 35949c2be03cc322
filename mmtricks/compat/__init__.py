"""Fixes for today's OpenMMLab stack, applied once on ``import mmtricks``.

Each module fixes one upstream breakage and names it (numbers as in the
project's STACK notes):

* :mod:`.checkpoint_loading` (1): MMEngine checkpoints under torch >= 2.6,
  still with ``weights_only=True`` and an exact allow-list, on every path:
  MMEngine's local, ``file://`` and ``http(s)://`` schemes (upstream's http
  loader unpickled with ``weights_only=False``) and ``HistoryBuffer`` state
  (see docs/security.md).
* :mod:`.mmcv_hue` (4): ``mmcv.adjust_hue`` overflow under numpy 2.
* :mod:`.cpu_distributed` (5): ``--launcher pytorch`` and DDP on CPU.
* :mod:`.pkg_resources_check` (6): what ``mim`` needs from setuptools.
* :mod:`.upstream_noise`: upstream warnings and log lines that ask nothing
  of the user, hidden by message and emitting module (the list, with why
  each is harmless, is in that module). Its warning filters are applied
  first, so that they are in place before mmcv's models are imported; its
  log filter goes on the loggers of mmtricks' own runs only.

Each of these changes another library for the whole process;
:data:`PROCESS_WIDE` (:mod:`.process_wide`) lists every such change with why
it has to be, and ``MMTRICKS_KEEP_UPSTREAM`` leaves out the ones that can
be. MMDeploy's ``openvino`` backend on today's OpenVINO (3) and its ONNX
export on today's torch (2) are deploy's own
(:mod:`mmtricks.deploy.mmdeploy_openvino`,
:mod:`mmtricks.deploy.mmdeploy_onnx_export`), applied on ``import
mmtricks.deploy``, since training does not need mmdeploy.

Every fix is idempotent and keeps the original function reachable
(``_original_*``) so that tests can show the upstream failure.
"""
from . import (checkpoint_loading, cpu_distributed, mmcv_hue,
               pkg_resources_check, upstream_noise)
from .process_wide import KEEP_UPSTREAM_ENV, PROCESS_WIDE, kept_upstream

FIXES = (upstream_noise, checkpoint_loading, mmcv_hue, cpu_distributed,
         pkg_resources_check)


def fix_name(fix) -> str:
    return fix.__name__.rsplit('.', 1)[-1]


def apply_all() -> None:
    """Apply every fix but those ``MMTRICKS_KEEP_UPSTREAM`` names."""
    kept = kept_upstream()
    for fix in FIXES:
        if fix_name(fix) not in kept:
            fix.apply()


__all__ = ['FIXES', 'KEEP_UPSTREAM_ENV', 'PROCESS_WIDE', 'apply_all',
           'kept_upstream', 'process_wide'] + [fix_name(fix) for fix in FIXES]
