from .cpu_settings import apply_cpu_settings, choose_cpu_settings
from .model_state import cloned_state_dict, unwrap_model
from .runner_setup import build_runner_ready_to_train

__all__ = ['apply_cpu_settings', 'build_runner_ready_to_train',
           'choose_cpu_settings', 'cloned_state_dict', 'unwrap_model']
