"""From checkpoint to a verified, timed OpenVINO model.

Importing this package makes MMDeploy's ``openvino`` backend work on today's
OpenVINO (:mod:`mmtricks.deploy.mmdeploy_openvino`), its ONNX export use
the TorchScript exporter on today's torch
(:mod:`mmtricks.deploy.mmdeploy_onnx_export`, inside MMDeploy's export only)
and MMDeploy's logger hide the upstream lines listed in
:mod:`mmtricks.compat.upstream_noise`: what each changes for the whole
process is listed in :data:`mmtricks.compat.PROCESS_WIDE`.
"""
from mmdeploy.utils import get_root_logger

from ..compat import kept_upstream, upstream_noise
from . import mmdeploy_onnx_export, mmdeploy_openvino

if 'upstream_noise' not in kept_upstream():
    # before the backend is registered: MMDeploy logs that it replaces one
    upstream_noise.hide_upstream_noise(get_root_logger())
mmdeploy_openvino.apply()
mmdeploy_onnx_export.apply()

from .classifier import OpenVINOClassifier, Prediction  # noqa: E402
from .deploy_checkpoint import ParityError, deploy_checkpoint  # noqa: E402
from .inputs import DeployInputError  # noqa: E402
from .model_info import read_model_info  # noqa: E402
from .options import (DeployOptions, add_deploy_arguments,  # noqa: E402
                      options_from_args)
from .parity import parity_failures, parity_report  # noqa: E402
from .precision import Candidate, choose_precision  # noqa: E402

__all__ = [
    'Candidate', 'choose_precision', 'DeployInputError', 'DeployOptions', 'OpenVINOClassifier', 'ParityError',
    'Prediction', 'add_deploy_arguments', 'deploy_checkpoint',
    'options_from_args', 'parity_failures', 'parity_report', 'read_model_info'
]
