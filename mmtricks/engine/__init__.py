from .model_state import cloned_state_dict, unwrap_model
from .runner_setup import build_runner_ready_to_train

__all__ = ['build_runner_ready_to_train', 'cloned_state_dict', 'unwrap_model']
