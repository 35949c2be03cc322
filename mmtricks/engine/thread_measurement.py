"""Torch threads by measurement: the run's own training step timed at each
candidate thread count before training, the fastest kept.

:mod:`.cpu_settings` guesses the threads before anything is built, from the
CPUs and the 1-minute load average. The load average lags: a ``pip install``
that ended seconds before still counts as a busy CPU for a minute, and the
README's main command then trained on one of two cores from start to end
(issue 27). What matters is how fast a step runs now, so before training
the guess is checked on the built model:

- **A probe first** (a few milliseconds of convolutions, each count from 1
  up): a count whose probe is :data:`DROP_RATIO` times one thread's is out,
  and so are the larger ones. Other jobs on the cores make a thread team
  wait for a descheduled member at every parallel region: on the shared
  2-core machine the probe took x20 to x50 and a training step x5 to x60
  longer on two threads than on one, so timing the model there would itself
  cost seconds (4-9 s without the probe, 0.5-0.7 s with it).
- **Then the step**, where more than one count is left: forward and
  backward of a copy of the model (its weights, buffers and the random
  state untouched) on random images at the input size the data decisions
  settled, in a batch sized for about :data:`STEP_SECONDS` on one thread
  (:data:`FIRST_BATCH` images or more, at most the training batch), the counts
  interleaved in rounds (a change of load hits each alike) within about
  :data:`BUDGET_SECONDS` (each count is timed once whatever it costs).
- **The choice**: the count with the fastest mean step (the mean, not the
  median: a count that is sometimes held up costs its delays) when it beats
  the guess by more than :data:`MARGIN`, else the guess: the load average
  is kept as a hint, not as the answer.

Not measured (the guess stands): a run with ``randomness.deterministic=True``
(its threads must not depend on timing: reruns must reduce in the same
order), ``OMP_NUM_THREADS`` given, one core, a model not on the CPU, or no
fixed input size. Every rank of a distributed run takes rank 0's answer
(broadcast). Like the load average, it sees the machine at the start only.
"""
import copy
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..cpu_facts import usable_cpus
from .cpu_settings import local_world_size, omp_num_threads

#: Seconds a measured step should take on one thread (sets its batch).
STEP_SECONDS = 0.2
#: Seconds of timed steps in all (more only to time each count once).
BUDGET_SECONDS = 2.0
#: Timed steps per count at most.
REPEATS = 3
#: A count this many times slower than the best is timed no more.
DROP_RATIO = 1.5
#: The fastest count replaces the guess when faster by more than this share.
MARGIN = 0.1
#: Images of the first (batch-sizing) step.
FIRST_BATCH = 8


def thread_candidates(cores: int) -> List[int]:
    """Thread counts worth timing on ``cores``: each up to 4, then powers of
    two and ``cores`` itself."""
    if cores < 1:
        raise ValueError(f'cores must be positive, got {cores}.')
    counts = {c for c in range(1, min(cores, 4) + 1)}
    power = 8
    while power < cores:
        counts.add(power)
        power *= 2
    counts.add(cores)
    return sorted(counts)


def time_thread_counts(step: Callable[[], None], counts: Sequence[int],
                       set_threads: Callable[[int], None],
                       budget_s: float = BUDGET_SECONDS,
                       repeats: int = REPEATS,
                       drop_ratio: float = DROP_RATIO,
                       clock: Callable[[], float] = time.perf_counter
                       ) -> Dict[int, List[float]]:
    """Seconds of ``step`` at each thread count, in interleaved rounds.

    Every count is timed at least once; further rounds run while the budget
    lasts, up to ``repeats`` steps a count, and a count whose fastest step
    is ``drop_ratio`` times the best count's mean is timed no more.

    Args:
        step: One training step (warmed up by the caller).
        counts: The thread counts.
        set_threads: Sets torch's threads (``torch.set_num_threads``).
    """
    seconds: Dict[int, List[float]] = {c: [] for c in counts}
    alive = list(counts)
    start = clock()
    for round_number in range(repeats):
        if round_number and clock() - start > budget_s:
            break
        for count in alive:
            set_threads(count)
            t = clock()
            step()
            seconds[count].append(clock() - t)
        best = min(statistics.mean(s) for s in seconds.values() if s)
        alive = [c for c in alive if min(seconds[c]) < drop_ratio * best]
    return seconds


def gate_counts(counts: Sequence[int], probe: Callable[[], None],
                set_threads: Callable[[int], None],
                drop_ratio: float = DROP_RATIO,
                clock: Callable[[], float] = time.perf_counter
                ) -> Tuple[List[int], Dict[int, float]]:
    """The counts, smallest first, up to the first whose ``probe`` takes
    ``drop_ratio`` times the smallest count's (held up by other jobs).

    Returns:
        ``(counts kept, seconds of the probe at each count tried)``.
    """
    seconds: Dict[int, float] = {}
    kept: List[int] = []
    for count in sorted(counts):
        set_threads(count)
        t = clock()
        probe()
        seconds[count] = clock() - t
        if kept and seconds[count] > drop_ratio * seconds[kept[0]]:
            break
        kept.append(count)
    return kept, seconds


def choose_measured_threads(seconds: Dict[int, List[float]], guess: int,
                            margin: float = MARGIN) -> Tuple[int, str]:
    """The count with the fastest mean step if it beats ``guess`` by more
    than ``margin`` (or ``guess`` was not timed), else ``guess``; and why."""
    means = {c: statistics.mean(s) for c, s in seconds.items() if s}
    fastest = min(means, key=lambda c: (means[c], c))
    timed = ', '.join(f'{c}: {means[c] * 1000:.0f} ms' for c in sorted(means))
    if guess not in means or \
            means[fastest] < (1 - margin) * means[guess]:
        chosen, why = fastest, f'the fastest; the load average said {guess}'
    elif fastest != guess:
        chosen, why = guess, (f'as the load average said: {fastest} is not '
                              f'{margin:.0%} faster')
    else:
        chosen, why = guess, 'the fastest, as the load average said'
    plural = 's' if chosen > 1 else ''
    return chosen, f'{chosen} thread{plural} ({why}; mean step {timed})'


def _probe_step() -> Callable[[], None]:
    """A few milliseconds of small convolutions: many short parallel
    regions, as in a small model's step."""
    import torch
    import torch.nn.functional as F
    generator = torch.Generator().manual_seed(0)  # the global RNG untouched
    images = torch.randn(4, 32, 32, 32, generator=generator)
    weight = torch.randn(32, 32, 3, 3, generator=generator)

    def probe():
        for _ in range(8):
            F.conv2d(images, weight, padding=1)

    return probe


def skip_reason(cfg, environ=None, cpus: Optional[int] = None
                ) -> Optional[str]:
    """Why the threads are not measured for ``cfg`` (None: measure). Read
    from the config and environment only, so every rank answers alike."""
    if bool((cfg.get('randomness') or {}).get('deterministic')):
        return 'randomness.deterministic=True: threads from the CPUs only'
    if omp_num_threads(environ) is not None:
        return 'OMP_NUM_THREADS set'
    cpus = usable_cpus() if cpus is None else cpus
    if cpus // local_world_size(environ) < 2:
        return 'one core for this process'
    return None


def training_step(model, batch: int, size: int) -> Callable[[], None]:
    """Forward and backward of a copy of ``model`` on ``batch`` random
    ``size``-pixel images (``mode='tensor'``: no data preprocessor, loss or
    labels), its gradients dropped after each step."""
    import torch
    probe = copy.deepcopy(model).train()
    images = torch.randn(batch, 3, size, size)

    def step():
        outputs = probe(images, mode='tensor')
        if isinstance(outputs, torch.Tensor):
            outputs = [outputs]
        sum(o.float().sum() for o in outputs).backward()
        probe.zero_grad(set_to_none=True)

    return step


def measure_threads(model, batch: int, size: int, cores: int, guess: int,
                    budget_s: float = BUDGET_SECONDS) -> Tuple[int, str]:
    """Probe each candidate count up to ``cores``, time a training step of
    ``model`` at those the probe leaves, and choose (the module's notes).
    The random state is kept.

    Returns:
        ``(threads, reason)``; torch's threads are left at ``guess``.
    """
    import torch
    set_threads = torch.set_num_threads
    try:
        with torch.random.fork_rng(devices=[]):
            probe = _probe_step()
            set_threads(1)
            probe()  # its kernels' first call
            kept, probed = gate_counts(thread_candidates(cores), probe,
                                       set_threads)
            held = '' if len(kept) == len(probed) else (
                f'{max(probed)} threads held up by other jobs (a probe '
                f'x{probed[max(probed)] / probed[1]:.0f} slower than on '
                'one)')
            if len(kept) == 1:
                return 1, f'1 thread: {held}'
            images = min(batch, FIRST_BATCH)
            step = training_step(model, images, size)
            set_threads(1)
            step()  # warms the allocator and the kernels' first calls
            t = time.perf_counter()
            step()
            per_image = max(time.perf_counter() - t, 1e-6) / images
            if images < batch and STEP_SECONDS / per_image > images:
                images = int(min(batch, STEP_SECONDS / per_image))
                step = training_step(model, images, size)
            seconds = time_thread_counts(step, kept, set_threads, budget_s)
    finally:
        set_threads(guess)
    threads, why = choose_measured_threads(seconds, guess)
    return threads, (f'{why}, {images} images at {size} px'
                     + (f'; {held}' if held else ''))


def _timing_model(model, cfg):
    """What to time: a fresh build of the config's model where it has one
    (a copy of the run's model would carry its forward hooks, a user's
    feature hook or a test's recorder, into the timed steps), else the
    model itself (copied by :func:`training_step`)."""
    if isinstance(cfg.get('model'), dict):
        from .step_timing import build_timing_model
        return build_timing_model(cfg)
    return model


def apply_measured_threads(model, cfg, batch: Optional[int],
                           size: Optional[int], environ=None,
                           cpus: Optional[int] = None) -> Optional[str]:
    """Set torch's threads by measurement before training (rank 0 measures,
    every rank takes its answer) and return the log line; None when the
    guess stands unmeasured for a reason that needs no line.

    Args:
        model: The built model (in a distributed wrapper or not).
        cfg: The run's config (``randomness``).
        batch: The training batch size; size: the input side (None: not
            fixed, nothing to time).
    """
    import torch
    from mmengine.dist import broadcast_object_list, get_rank
    from mmengine.model import is_model_wrapper
    if skip_reason(cfg, environ, cpus) is not None:
        return None  # cpu_settings' line says why the threads are what
    if is_model_wrapper(model):
        model = model.module
    device = next(iter(model.parameters()), torch.empty(0)).device
    if device.type != 'cpu' or not isinstance(batch, int) or \
            not isinstance(size, int):
        return None
    cpus = usable_cpus() if cpus is None else cpus
    cores = cpus // local_world_size(environ)
    guess = torch.get_num_threads()
    answer: List = [None, None]
    if get_rank() == 0:
        start = time.perf_counter()
        try:
            threads, why = measure_threads(_timing_model(model, cfg), batch,
                                           size, cores, guess)
            why += f'; measured in {time.perf_counter() - start:.1f} s'
        except Exception as error:  # noqa: BLE001
            # The other ranks wait at the broadcast: they must get an
            # answer, and a model the probe cannot run still trains.
            threads, why = guess, (
                f'{guess} (the load-average guess; a step could not be '
                f'timed: {type(error).__name__}: {error})')
        answer = [threads, why]
    broadcast_object_list(answer, src=0)
    threads, why = answer
    torch.set_num_threads(threads)
    return f'CPU threads by measurement: {why}'


__all__ = ['apply_measured_threads', 'choose_measured_threads',
           'gate_counts', 'measure_threads', 'skip_reason',
           'thread_candidates', 'time_thread_counts', 'training_step']
