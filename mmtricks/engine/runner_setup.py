from mmengine.runner import Runner

from .data_aware_runner import build_runner
from ..compat.private_mmengine import build_train_loop_now, init_model_weights


def build_runner_ready_to_train(cfg) -> Runner:
    """A Runner built as ``Runner.train()`` builds it before the first step.

    Train loop, optimizer wrapper and param schedulers are built, weights
    initialised and the gradient-accumulation counters set, without running
    any training; tools that work "before training" (the standalone LR
    finder) start from here.
    """
    runner = build_runner(cfg)
    build_train_loop_now(runner)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.param_schedulers = runner.build_param_scheduler(
        runner.param_schedulers)
    runner.call_hook('before_run')
    init_model_weights(runner)
    runner.optim_wrapper.initialize_count_status(runner.model, 0,
                                                 runner.max_iters)
    return runner
