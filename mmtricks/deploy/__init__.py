"""From checkpoint to a verified, timed OpenVINO model.

Importing this package makes MMDeploy's ``openvino`` backend work on today's
OpenVINO (:mod:`mmtricks.deploy.mmdeploy_openvino`).
"""
from . import mmdeploy_openvino

mmdeploy_openvino.apply()

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
