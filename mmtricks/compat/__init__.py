"""Fixes for today's OpenMMLab stack, applied once on ``import mmtricks``.

Each module fixes one upstream breakage and names it (numbers as in the
project's STACK notes):

* :mod:`.checkpoint_loading` (1): MMEngine checkpoints under torch >= 2.6,
  still with ``weights_only=True`` and an exact allow-list, on every path:
  MMEngine's local, ``file://`` and ``http(s)://`` schemes (upstream's http
  loader unpickled with ``weights_only=False``) and ``HistoryBuffer`` state
  (see docs/security.md).
* :mod:`.onnx_export` (2): ``torch.onnx.export`` back to the TorchScript
  exporter that mmdeploy's rewriters need.
* :mod:`.mmcv_hue` (4): ``mmcv.adjust_hue`` overflow under numpy 2.
* :mod:`.cpu_distributed` (5): ``--launcher pytorch`` and DDP on CPU.
* :mod:`.pkg_resources_check` (6): what ``mim`` needs from setuptools.
* :mod:`.upstream_noise`: upstream warnings and log lines that ask nothing
  of the user, hidden by message and emitting module (the list, with why
  each is harmless, is in that module). Applied first, so that it is in
  place before mmcv's models are imported.

MMDeploy's ``openvino`` backend on today's OpenVINO (3) is deploy's own:
:mod:`mmtricks.deploy.mmdeploy_openvino`, applied on ``import
mmtricks.deploy``, since training does not need mmdeploy.

Every fix is idempotent and keeps the original function reachable
(``_original_*``) so that tests can show the upstream failure.
"""
from . import (checkpoint_loading, cpu_distributed, mmcv_hue, onnx_export,
               pkg_resources_check, upstream_noise)

FIXES = (upstream_noise, checkpoint_loading, onnx_export, mmcv_hue,
         cpu_distributed, pkg_resources_check)


def apply_all() -> None:
    for fix in FIXES:
        fix.apply()


__all__ = ['FIXES', 'apply_all'] + [fix.__name__.rsplit('.', 1)[-1]
                                    for fix in FIXES]
