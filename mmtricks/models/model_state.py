"""A model as the code that holds it sees it: unwrapped from DDP, its state
copied."""
from typing import Dict

import torch
from mmengine.model import is_model_wrapper


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DDP (or other MMEngine) wrapper, or the model."""
    return model.module if is_model_wrapper(model) else model


def cloned_state_dict(model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    """A detached copy of the (unwrapped) model's parameters and buffers."""
    return {k: v.detach().clone()
            for k, v in unwrap_model(model).state_dict().items()}
