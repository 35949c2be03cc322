"""Every private MMEngine attribute mmtricks uses, in one place.

Each is needed because MMEngine has no public way to do the same thing (see
``docs/private_upstream.md``); ``tests/compat/test_private_upstream.py``
fails loudly when an upgrade renames one. Nothing else in mmtricks may touch
a private MMEngine attribute.
"""
from contextlib import contextmanager

from mmengine.dist import utils as dist_utils

#: (object description, attribute) pairs the fence test checks.
OPTIM_WRAPPER_COUNTERS = ('_inner_count', '_max_counts',
                          '_accumulative_counts')
OPTIMIZER_STEP_COUNTER = '_global_step'
RUNNER_PRIVATES = ('_train_loop', '_init_model_weights')
INIT_DIST_PYTORCH = '_init_dist_pytorch'


# OptimWrapper's gradient-accumulation counters ------------------------------

def accumulative_counts(optim_wrapper) -> int:
    """Micro-batches per optimizer step (``accumulative_counts`` of the
    config; MMEngine keeps it private)."""
    return optim_wrapper._accumulative_counts


def inner_count(optim_wrapper) -> int:
    """Micro-steps the wrapper has counted (saved/restored by the LR range
    test's exact snapshot)."""
    return optim_wrapper._inner_count


def set_inner_count(optim_wrapper, count: int) -> None:
    optim_wrapper._inner_count = count


@contextmanager
def unlimited_accumulation_window(optim_wrapper):
    """Lift the wrapper's ``max_iters`` limit for extra steps (the LR range
    test), restoring it after: MMEngine shrinks the last accumulation window
    to fit the run and would scale the test's losses to zero past it."""
    saved = optim_wrapper._max_counts
    optim_wrapper._max_counts = -1
    try:
        yield
    finally:
        optim_wrapper._max_counts = saved


# The step counter MMEngine's schedulers attach to the optimizer -------------

def optimizer_step_counter(optimizer):
    """``optimizer._global_step`` (None before a scheduler attached it)."""
    return getattr(optimizer, OPTIMIZER_STEP_COUNTER, None)


def set_optimizer_step_counter(optimizer, value) -> None:
    setattr(optimizer, OPTIMIZER_STEP_COUNTER, value)


# Runner set-up outside Runner.train() -----------------------------------------

def build_train_loop_now(runner):
    """Build the runner's train loop as ``Runner.train()`` does (its public
    ``train_loop`` property builds it too, but an outside tool that then
    calls ``train()`` needs the built loop stored where ``train()`` looks)."""
    runner._train_loop = runner.build_train_loop(runner._train_loop)
    return runner._train_loop


def init_model_weights(runner) -> None:
    """``Runner._init_model_weights``: init_cfg initialisation, as
    ``Runner.train()`` does before the first step."""
    runner._init_model_weights()


# Distributed launcher --------------------------------------------------------

def original_init_dist_pytorch():
    return getattr(dist_utils, INIT_DIST_PYTORCH)


def replace_init_dist_pytorch(function) -> None:
    """Replace the launcher's process-group set-up (CPU-only machines)."""
    setattr(dist_utils, INIT_DIST_PYTORCH, function)


# Config base-file resolution ---------------------------------------------------

#: The staticmethod ``Config._file2dict`` calls for every ``_base_`` entry.
CONFIG_GET_CFG_PATH = '_get_cfg_path'


def original_config_get_cfg_path():
    """``Config._get_cfg_path(cfg_path, filename) -> (path, scope)``."""
    from mmengine.config import Config
    return getattr(Config, CONFIG_GET_CFG_PATH)


def replace_config_get_cfg_path(function) -> None:
    """Replace how ``_base_`` entries become files (``mmtricks::NAME``)."""
    from mmengine.config import Config
    setattr(Config, CONFIG_GET_CFG_PATH, staticmethod(function))
