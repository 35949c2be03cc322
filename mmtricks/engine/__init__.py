"""The run: ``DataAwareRunner``, the decisions it takes from the data and
the machine, and the checks of a checkpoint against the data."""
# Model helpers, kept importable from here (they live in mmtricks.models).
from ..models.model_state import cloned_state_dict, unwrap_model
from .concise_log_processor import ConciseLogProcessor
from .cpu_settings import apply_cpu_settings, choose_cpu_settings
from .data_aware_runner import DataAwareRunner, build_runner
from .recipe_config import DataDecisions, apply_data_decisions
from .runner_setup import build_runner_ready_to_train

__all__ = [
    'ConciseLogProcessor', 'DataAwareRunner', 'DataDecisions',
    'apply_cpu_settings',
    'apply_data_decisions', 'build_runner', 'build_runner_ready_to_train',
    'choose_cpu_settings', 'cloned_state_dict', 'unwrap_model'
]
