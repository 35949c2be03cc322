"""``compile=True`` / ``'auto'``: torch.compile where it pays, for the recipe.

MMEngine's own ``compile`` switch wraps the whole ``model.train_step`` in
``torch.compile``; dynamo then traces on into the optimizer wrapper, the
param schedulers' hooks and ``torch.optim.SGD.step`` and fails there on
torch 2.14 (``InternalTorchDynamoError: ... 'UserDefinedDictVariable' object
has no attribute 'items'``, in the first step of the LR range test).
``DataAwareRunner`` reads the same setting and compiles what the time is
spent in instead: the classifier's ``extract_feat`` (backbone and neck),
during training steps only (training mode with gradients on). So:

- the optimizer step, the loss, the head, the data preprocessor and its
  batch augments (mixup, cutmix) stay eager, as do validation, testing and
  precise BN (no graph for eval mode, none for the last, smaller validation
  batch: no recompiles from them);
- ``state_dict`` keys are the model's own (the compiled method is an
  instance attribute, not a wrapper module): checkpoints, ``--resume``,
  ``mim test`` and ``tools/deploy.py`` see a plain model;
- the LR range test's snapshot and exact restore, EMA's parameter swaps and
  precise BN's statistics change tensors in place: no recompile.

The setting (``compile`` in the config, also
``--cfg-options compile=True``):

- ``False`` / ``None``: eager (MMEngine's default);
- ``True`` or a dict of ``torch.compile`` arguments (``backend``, ``mode``,
  ``dynamic``, ``fullgraph``, ``options``, ...): compiled;
- ``'auto'``: decided by measurement before training
  (:func:`worth_a_trial`, :func:`keep_compiled`; docs/speed.md).

One line at the end of training says how many graphs torch compiled and
how long it took (a recompile storm shows there).
"""
import math
import statistics
import time
import types
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook

from ..compat.private_mmengine import unlimited_accumulation_window
from ..compat.private_torch import dynamo_compile_seconds, dynamo_graph_count
from ..hooks.training_state import TrainingStateSnapshot
from ..models.model_state import unwrap_model

SETTING = 'compile'
#: The method compiled: every MMPretrain classifier's backbone + neck.
COMPILED_METHOD = 'extract_feat'
#: torch.compile's keyword arguments a ``compile`` dict may hold.
COMPILE_ARGUMENTS = ('fullgraph', 'dynamic', 'backend', 'mode', 'options',
                     'disable', 'recompile_limit', 'isolate_recompiles',
                     'dynamic_shapes')
#: Each install compiles with its own cache and recompile limit: the cache
#: of a shared code object (``ImageClassifier.extract_feat``) would
#: otherwise fill up over several runs in one process and fall back to
#: eager silently.
DEFAULT_ARGUMENTS = dict(isolate_recompiles=True)
#: Between ChannelsLastHook ('HIGHEST', 0: the trial must time the layout the
#: run trains in) and LRFinderHook ('VERY_HIGH', 10: the range test then
#: runs compiled, with the graph the trial already built).
HOOK_PRIORITY = 5

# 'auto' --------------------------------------------------------------------
#: Training steps timed each way (after one warm-up step each).
TRIAL_STEPS = 3
#: Share of the epoch cap that a run with AutoEpochsHook is expected to
#: train: it stopped at 20-42 of 60 epochs on digits and lfw_faces
#: (docs/auto_epochs.md; mnist ran to the cap).
AUTO_EPOCHS_SHARE = 0.5
#: What 'auto' expects a compile to cost before it measures one (seconds):
#: the whole-recipe benchmark's cold compiles of MobileNetV3-small's
#: training step took 105-191 s on a shared 2-core AMD EPYC
#: (docs/benchmarks/speed_compile.md), 50 s at best when idle, 11 s with
#: Inductor's on-disk cache warm. At 50 s 'auto' tried (and, the compile
#: paid, kept) a compile on ELPV's 60-epoch run that made it x1.5 slower.
MIN_COMPILE_S = 120.0
#: The step speed-up 'auto' expects of a compile before it measures one:
#: the median of the eleven measured on this project's CPUs (x0.90
#: MobileNetV3 128 px AVX2; x0.97 and x1.12 the issue's MobileNetV3 on 2 and
#: 1 idle threads; x1.06 and x1.09 Lite0 224 px Zen 4, the recipe's own
#: trials; x1.08 ELPV 128 px shared Zen 4; x1.10 Lite0 224 px Xeon; x1.23
#: digits; x1.33 Lite0 128 px AVX2; x1.35 Lite0 224 px Zen 4 on synthetic
#: batches; x1.56 MobileNetV3 beside a training job). It tried at the best
#: case (x1.6) before: on Lite0 at 224 px (71 steps of 9-9.5 s) the trial's
#: compile then cost more than its x1.06-x1.10 saved, on a Xeon and a Zen 4
#: alike (docs/benchmarks/speed_compile_zen4.md). GPU: not
#: measured here; PyTorch 2.0's release measured about x1.3-1.5 for AMP
#: training on an A100 over its model suites.
EXPECTED_SPEEDUP = dict(cpu=1.1, cuda=1.3)
#: A compiled step must be this much faster to be kept (timing noise).
KEEP_MARGIN = 0.03


class CompileSettingError(ValueError):
    """A ``compile`` setting mmtricks cannot honour."""


@dataclass(frozen=True)
class CompileSetting:
    """What ``compile`` asks for: ``mode`` is 'off', 'on' or 'auto'."""
    mode: str = 'off'
    kwargs: dict = field(default_factory=dict)


def parse_compile_setting(value) -> CompileSetting:
    """The config's ``compile`` value, checked; a clear error otherwise."""
    if value is None or value is False:
        return CompileSetting('off')
    if value is True:
        return CompileSetting('on')
    if value == 'auto':
        return CompileSetting('auto')
    if not isinstance(value, dict):
        raise CompileSettingError(
            f'compile={value!r}: use True, False, \'auto\' or a dict of '
            'torch.compile arguments, e.g. compile=dict(mode=\'max-autotune\')'
            ' (--cfg-options compile=True).')
    unknown = sorted(set(value) - set(COMPILE_ARGUMENTS))
    if unknown:
        raise CompileSettingError(
            f'compile={value!r}: {unknown} are not torch.compile arguments '
            f'mmtricks passes on; use {list(COMPILE_ARGUMENTS)}.')
    backend = value.get('backend')
    if isinstance(backend, str) and \
            backend not in torch.compiler.list_backends(exclude_tags=()):
        raise CompileSettingError(
            f'compile: backend {backend!r} is not a torch.compile backend '
            f'here; available: {torch.compiler.list_backends()}.')
    if value.get('disable'):
        return CompileSetting('off')
    return CompileSetting('on', dict(value))


# The compiled method ---------------------------------------------------------

class CompiledTrainingForward:
    """The model's ``extract_feat`` compiled for its training steps.

    Installed as an instance attribute of the (unwrapped) model: its
    ``state_dict`` keys do not change, and ``copy.deepcopy`` (EMA) rebinds
    it to the copy. ``enabled`` switches it per call (the 'auto' trial
    interleaves eager and compiled steps); ``remove()`` puts the class's
    method back.
    """

    def __init__(self, model: torch.nn.Module, **compile_kwargs):
        self.model = unwrap_model(model)
        eager = getattr(type(self.model), COMPILED_METHOD, None)
        if eager is None:
            raise CompileSettingError(
                f'compile: mmtricks compiles the classifier\'s '
                f'{COMPILED_METHOD}() (backbone and neck), and '
                f'{type(self.model).__name__} has none; set compile=False.')
        self.compiled = torch.compile(
            eager, **dict(DEFAULT_ARGUMENTS, **compile_kwargs))
        self.enabled = True
        handle = self

        def extract_feat(module, *args, **kwargs):
            if handle.enabled and module.training and \
                    torch.is_grad_enabled():
                return handle.compiled(module, *args, **kwargs)
            return eager(module, *args, **kwargs)

        self.method = types.MethodType(extract_feat, self.model)
        setattr(self.model, COMPILED_METHOD, self.method)

    def remove(self) -> None:
        if self.model.__dict__.get(COMPILED_METHOD) is self.method:
            delattr(self.model, COMPILED_METHOD)


# 'auto': the decision, pure ----------------------------------------------------

def expected_iterations(max_iters: int, done_iters: int,
                        auto_epochs: bool, lr_test_steps: int = 0) -> int:
    """Training steps the rest of the run is expected to take: the cap, or
    ``AUTO_EPOCHS_SHARE`` of it when AutoEpochsHook stops the run early,
    plus the LR range test's steps still to come."""
    remaining = max(max_iters - done_iters, 0)
    if auto_epochs:
        remaining = math.ceil(remaining * AUTO_EPOCHS_SHARE)
    return remaining + lr_test_steps


def worth_a_trial(eager_step_s: float, iterations: int,
                  expected_speedup: float,
                  min_compile_s: float = MIN_COMPILE_S) -> bool:
    """Whether a compile is expected to repay its cost over the run: at the
    speed-up a compile typically gives, the run must save more than the
    least a compile costs. Otherwise 'auto' does not compile to find out: a
    trial that finds no gain costs the run its compile, so it is made only
    where the typical gain would pay for it."""
    saving = iterations * eager_step_s * (1.0 - 1.0 / expected_speedup)
    return saving > min_compile_s


def keep_compiled(eager_step_s: float, compiled_step_s: float,
                  margin: float = KEEP_MARGIN) -> bool:
    """After the trial, the compile is paid: keep it when a compiled step is
    faster than an eager one by more than the timing noise."""
    return compiled_step_s < eager_step_s * (1.0 - margin)


def describe_choice(compiled: Optional[bool], eager_step_s: float,
                    iterations: int, expected_speedup: float,
                    compiled_step_s: Optional[float] = None,
                    compile_s: Optional[float] = None) -> str:
    """The one log line of the 'auto' decision, with its numbers."""
    eager_run = iterations * eager_step_s
    head = (f'torch.compile auto: {"compiled" if compiled else "eager"}; '
            f'{iterations} training steps expected, eager '
            f'{eager_step_s:.3f} s a step ({eager_run:.0f} s)')
    if compiled_step_s is None:
        return (f'{head}; the x{expected_speedup:g} a compile typically '
                f'gives would save {eager_run * (1 - 1 / expected_speedup):.0f}'
                f' s, less than the {MIN_COMPILE_S:.0f} s a compile costs, so '
                'it was not tried.')
    compiled_run = iterations * compiled_step_s
    whole = 'faster' if compile_s + compiled_run < eager_run else 'slower'
    return (f'{head}, compiled {compiled_step_s:.3f} s a step '
            f'({compiled_run:.0f} s) after a {compile_s:.0f} s compile: '
            f'x{eager_step_s / compiled_step_s:.2f} a step, the whole run '
            f'{whole} compiled ({compile_s + compiled_run:.0f} s with the '
            f'compile against {eager_run:.0f} s).')


# The hook the runner installs ------------------------------------------------

class CompileHook(Hook):
    """Applies a :class:`CompileSetting` before training (and the trial for
    'auto'), and logs what torch compiled after it. Installed by
    :func:`install_compile_hook`; not a config hook."""

    priority = HOOK_PRIORITY

    def __init__(self, setting: CompileSetting):
        self.setting = setting
        self.forward: Optional[CompiledTrainingForward] = None
        self.graphs_before = 0
        self.seconds_before = 0.0

    def before_train(self, runner) -> None:
        self.graphs_before = dynamo_graph_count()
        self.seconds_before = dynamo_compile_seconds()
        if self.setting.mode == 'auto':
            self.forward = decide_by_trial(runner, self.setting.kwargs)
            return
        self.forward = CompiledTrainingForward(runner.model,
                                               **self.setting.kwargs)
        runner.logger.info(
            f'torch.compile: the model\'s {COMPILED_METHOD}() (backbone and '
            'neck) in training steps; the optimizer step, loss, head, '
            'evaluation and precise BN stay eager. The first step compiles '
            '(minutes on a small CPU).')

    def after_train(self, runner) -> None:
        if self.forward is None:
            return
        self.forward.remove()
        self.forward = None
        graphs = dynamo_graph_count() - self.graphs_before
        seconds = dynamo_compile_seconds() - self.seconds_before
        runner.logger.info(
            f'torch.compile: {graphs} graph{"s" * (graphs != 1)} compiled '
            f'in this run ({max(graphs - 1, 0)} recompiles), {seconds:.1f} s '
            'compiling.')


def install_compile_hook(runner, value) -> Optional[CompileHook]:
    """Register the hook for the config's ``compile`` value (none when it is
    off). Called by ``DataAwareRunner`` where MMEngine would compile."""
    setting = parse_compile_setting(value)
    if setting.mode == 'off':
        return None
    hook = CompileHook(setting)
    runner.register_hook(hook, priority=HOOK_PRIORITY)
    return hook


# The trial ---------------------------------------------------------------------

def decide_by_trial(runner, compile_kwargs: dict
                    ) -> Optional[CompiledTrainingForward]:
    """Time real training steps eager and compiled, decide, log one line;
    the compiled method when kept. The model, optimizer, RNGs and loader are
    restored exactly afterwards (the LR range test's snapshot)."""
    iterations = iterations_of(runner)
    device = 'cuda' if next(unwrap_model(runner.model).parameters()).is_cuda \
        else 'cpu'
    expected_speedup = EXPECTED_SPEEDUP[device]
    snapshot = TrainingStateSnapshot(runner)
    forward = None
    try:
        batches = first_batches(runner.train_dataloader, TRIAL_STEPS + 1)
        step = training_step(runner)
        step(batches[0])  # warm-up
        eager_s = same_on_all_ranks([median_time(step, batches[1:])])[0]
        if not worth_a_trial(eager_s, iterations, expected_speedup,
                             MIN_COMPILE_S):
            runner.logger.info(describe_choice(False, eager_s, iterations,
                                               expected_speedup))
            return None
        forward = CompiledTrainingForward(runner.model, **compile_kwargs)
        first_s = timed(step, batches[0])
        # Interleaved, so that a change of load hits both alike.
        eager_times, compiled_times = [], []
        for batch in batches[1:]:
            forward.enabled = False
            eager_times.append(timed(step, batch))
            forward.enabled = True
            compiled_times.append(timed(step, batch))
        eager_s, compiled_s, first_s = same_on_all_ranks(
            [statistics.median(eager_times),
             statistics.median(compiled_times), first_s])
    except BaseException:
        if forward is not None:
            forward.remove()
        raise
    finally:
        snapshot.restore()
    keep = keep_compiled(eager_s, compiled_s, KEEP_MARGIN)
    runner.logger.info(describe_choice(
        keep, eager_s, iterations, expected_speedup, compiled_s,
        max(first_s - compiled_s, 0.0)))
    if not keep:
        forward.remove()
        return None
    return forward


def iterations_of(runner) -> int:
    from ..hooks.auto_epochs_hook import AutoEpochsHook
    from ..hooks.lr_finder_hook import LRFinderHook
    from ..hooks.time_budget_hook import TimeBudgetHook
    # Under a time budget the anneal fills the cap: the whole cap trains.
    auto_epochs = any(isinstance(h, AutoEpochsHook) for h in runner.hooks) \
        and not any(isinstance(h, TimeBudgetHook) for h in runner.hooks)
    lr_test_steps = sum(h.num_steps for h in runner.hooks
                        if isinstance(h, LRFinderHook) and h.result is None
                        and runner.iter == 0)
    return expected_iterations(runner.max_iters, runner.iter, auto_epochs,
                               lr_test_steps)


def first_batches(dataloader, count: int) -> List:
    batches = []
    while len(batches) < count:
        before = len(batches)
        for batch in dataloader:
            batches.append(batch)
            if len(batches) == count:
                break
        if len(batches) == before:
            raise ValueError('The training dataloader is empty.')
    return batches


def training_step(runner) -> Callable:
    """One micro-step of the run's own ``train_step``, finished (a CUDA
    step is synchronised so that its time is the step's)."""
    model, wrapper = runner.model, runner.optim_wrapper
    model.train()

    def step(batch):
        with unlimited_accumulation_window(wrapper):
            model.train_step(batch, optim_wrapper=wrapper)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
    return step


def timed(step: Callable, batch) -> float:
    start = time.perf_counter()
    step(batch)
    return time.perf_counter() - start


def median_time(step: Callable, batches: Sequence) -> float:
    return statistics.median(timed(step, batch) for batch in batches)


def same_on_all_ranks(values: Sequence[float]) -> List[float]:
    """The slowest rank's times (a step waits for it), so that every rank
    takes the same decision."""
    tensor = torch.tensor(list(values), dtype=torch.float64)
    all_reduce(tensor, op='max')
    return tensor.tolist()
