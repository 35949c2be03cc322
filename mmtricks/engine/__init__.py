from .runner_setup import build_runner_ready_to_train

__all__ = ['build_runner_ready_to_train']
