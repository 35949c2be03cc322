"""Snapshot and exact restore of everything a training step changes."""
import copy
import random

import numpy as np
import torch

from ..compat.private_mmengine import (inner_count, optimizer_step_counter,
                                       set_inner_count,
                                       set_optimizer_step_counter)
from ..compat.private_torch import restart_persistent_workers
from ..models.model_state import cloned_state_dict, unwrap_model


class TrainingStateSnapshot:
    """Model, optimizer (wrapper counters included), RNGs and data-loader.

    ``restore()`` puts them back so that what follows runs as if the steps in
    between never happened: parameters and buffers (BN statistics) by value,
    the optimizer's state and hyper-parameters, gradient accumulation and
    scheduler step counters, the Python/numpy/torch RNG streams, and
    persistent data-loader workers (restarted, so that they are seeded from
    the restored RNG as they would have been).
    """

    def __init__(self, runner):
        self.runner = runner
        wrapper = runner.optim_wrapper
        self.model_state = cloned_state_dict(runner.model)
        self.optim_state = copy.deepcopy(wrapper.state_dict())
        # MMEngine's extra group for logging `base_lr`: not in state_dict().
        self.base_param_settings = copy.copy(
            getattr(wrapper, 'base_param_settings', None))
        self.inner_count = inner_count(wrapper)
        self.optimizer_global_step = optimizer_step_counter(wrapper.optimizer)
        self.python_rng = random.getstate()
        self.numpy_rng = np.random.get_state()
        self.torch_rng = torch.get_rng_state()
        self.cuda_rng = torch.cuda.get_rng_state_all() \
            if torch.cuda.is_available() else None

    def restore(self) -> None:
        model = unwrap_model(self.runner.model)
        with torch.no_grad():
            for key, value in model.state_dict().items():
                value.copy_(self.model_state[key])
        for param in model.parameters():
            param.grad = None
        wrapper = self.runner.optim_wrapper
        wrapper.load_state_dict(copy.deepcopy(self.optim_state))
        if self.base_param_settings is not None:
            wrapper.base_param_settings.update(self.base_param_settings)
        set_inner_count(wrapper, self.inner_count)
        if self.optimizer_global_step is not None:
            set_optimizer_step_counter(wrapper.optimizer,
                                       self.optimizer_global_step)
        random.setstate(self.python_rng)
        np.random.set_state(self.numpy_rng)
        torch.set_rng_state(self.torch_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
        restart_persistent_workers(self.runner.train_dataloader)

