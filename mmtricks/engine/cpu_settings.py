"""Torch threads and data-loader workers chosen for the machine.

The choice is a pure function of what the machine offers
(:func:`choose_cpu_settings`); :func:`apply_cpu_settings` reads the machine,
fills the config's ``num_workers='auto'`` data loaders, sets torch's threads
and returns the one log line that says what was chosen and why.

The rules, each measured on a 2-core AMD EPYC (AVX2) shared with other jobs
(``docs/speed.md``, ``docs/benchmarks/speed.md``):

- **Only the cores other jobs leave.** The machine's 1-minute load average
  at start (this process is idle then) says how many CPUs other jobs keep
  busy; its whole part is taken off. On the shared 2-core machine, with
  other jobs running, 1 thread trained MobileNetV3 at 32 px at 213-335
  images/s where 2 threads gave 32-190; on an idle one 1 and 2 threads were
  equal at 32 px (the old README advice, ``OMP_NUM_THREADS=1`` when running
  several jobs, is now the default there). The load is read once: a job
  started later on the same cores is not seen. It is a guess: the
  ``DataAwareRunner`` times the built model before training and may
  replace it (:mod:`.thread_measurement`).
- **One training process per core group.** Under ``torchrun`` each of the
  ``LOCAL_WORLD_SIZE`` processes of a machine gets ``cpus // local_world_size``
  cores. Torch's default (one thread per core *of the machine* in every
  process) oversubscribes as soon as two processes share it, and an
  oversubscribed OpenMP team spin-waits: an iteration went from 0.12 s to
  4-7 s with a second job on 2 cores.
- **Images in memory need no workers.** A bundled set or a folder cached by
  :class:`~mmtricks.datasets.FolderOrBundledDataset` costs a random crop and
  a tensor conversion per image, far less than worker processes cost on the
  cores that train (their start-up, pickling each batch through a pipe and
  the cores they take from the model): ``num_workers=0``.
- **Images decoded from files need workers**, since decoding is most of an
  iteration without them: one worker per core of this process, minus the
  one the main process trains on, at least one.

Never overridden: an ``OMP_NUM_THREADS`` set in the environment (torch read
it at import) and a data loader's explicit ``num_workers`` (only ``'auto'``
is filled). The log line says when either was kept.
"""
import os
from dataclasses import dataclass
from typing import Iterable, List, Optional

from ..cpu_facts import usable_cpus
from .config_keys import AUTO
from .config_keys import SPLIT_LOADERS as LOADERS


@dataclass(frozen=True)
class CpuSettings:
    """What :func:`choose_cpu_settings` chose.

    Attributes:
        threads: Torch intra-op threads to set; None to leave torch's as
            they are (``OMP_NUM_THREADS`` was given).
        num_workers: Data-loader worker processes of each ``'auto'`` loader.
        reason: Why, in words, for the log line.
    """
    threads: Optional[int]
    num_workers: int
    reason: str


def local_world_size(environ=None) -> int:
    """Training processes on this machine: ``LOCAL_WORLD_SIZE`` under
    ``torchrun``, else 1."""
    environ = os.environ if environ is None else environ
    value = environ.get('LOCAL_WORLD_SIZE', '1')
    try:
        size = int(value)
    except ValueError:
        raise ValueError(
            f'LOCAL_WORLD_SIZE={value!r} is not an integer: unset it, or '
            'let torchrun set it.') from None
    if size < 1:
        raise ValueError(f'LOCAL_WORLD_SIZE must be at least 1, got {size}.')
    return size


def omp_num_threads(environ=None) -> Optional[int]:
    """``OMP_NUM_THREADS`` from the environment, None when unset."""
    environ = os.environ if environ is None else environ
    value = environ.get('OMP_NUM_THREADS', '').strip()
    if not value:
        return None
    try:
        threads = int(value.split(',')[0])
    except ValueError:
        raise ValueError(
            f'OMP_NUM_THREADS={value!r} is not a number of threads: set it '
            'to a positive integer, or unset it to let mmtricks choose.'
        ) from None
    if threads < 1:
        raise ValueError(
            f'OMP_NUM_THREADS must be at least 1, got {threads}: unset it to '
            'let mmtricks choose.')
    return threads


def busy_cpus(cpus: int, load: Optional[float] = None) -> int:
    """Whole CPUs that other jobs keep busy: the integer part of the
    1-minute load average (read before this process trains), at most
    ``cpus - 1``."""
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # Windows
            return 0
    return max(0, min(cpus - 1, int(load)))


def choose_cpu_settings(cpus: int,
                        local_world_size: int = 1,
                        omp_threads: Optional[int] = None,
                        in_memory: bool = True,
                        busy: int = 0) -> CpuSettings:
    """Torch threads and data-loader workers for one training process.

    Args:
        cpus: CPUs usable by this process (:func:`usable_cpus`).
        local_world_size: Training processes sharing them.
        omp_threads: ``OMP_NUM_THREADS`` when the user set it: kept (torch
            uses it), and the cores it leaves decide the workers.
        in_memory: Whether every data loader's images are in memory
            (bundled arrays or a cached folder): then no workers.
        busy: CPUs kept busy by other jobs (:func:`busy_cpus`).
    """
    if cpus < 1 or local_world_size < 1:
        raise ValueError(f'cpus and local_world_size must be positive, got '
                         f'{cpus} and {local_world_size}.')
    busy = max(0, min(cpus - 1, busy))
    free = cpus - busy
    cores = max(1, free // local_world_size)
    share = f'{cpus} usable CPUs'
    if busy:
        share += f' - {busy} busy with other jobs (load average)'
    if local_world_size > 1:
        share += f', / {local_world_size} local processes'
    share += f' = {cores}'
    if in_memory:
        workers = 0
        why_workers = 'images in memory: no loader workers'
    else:
        workers = max(1, cores - 1)
        why_workers = (f'images decoded from files: {workers} loader '
                       f'worker{"s" if workers > 1 else ""}')
    if omp_threads is not None:
        return CpuSettings(
            None, workers, f'OMP_NUM_THREADS={omp_threads} kept (not '
            f'overridden; {share}), {why_workers}')
    return CpuSettings(cores, workers,
                       f'{cores} torch thread{"s" if cores > 1 else ""} '
                       f'({share}), {why_workers}')


def _loaders(cfg) -> Iterable:
    for name in LOADERS:
        loader = cfg.get(name)
        if loader is not None:
            yield name, loader


def _in_memory(dataset) -> bool:
    """Whether a dataset config serves its images from memory: a bundled
    set, or a folder that the dataset caches (an int ``image_size`` and
    caching not switched off; the dataset itself warns when the set does
    not fit its limit)."""
    if dataset is None:
        return False
    if dataset.get('type') in ('ConcatDataset', 'RepeatDataset',
                               'ClassBalancedDataset'):
        inner = dataset.get('datasets') or [dataset.get('dataset')]
        return all(_in_memory(d) for d in inner)
    if dataset.get('type') not in ('FolderOrBundledDataset', 'BundledDataset'):
        return False
    if dataset.get('type') == 'BundledDataset' or not dataset.get('data_root'):
        return True
    return dataset.get('image_size', 32) is not None and \
        dataset.get('cache_images', True)


def apply_cpu_settings(cfg, environ=None, cpus: Optional[int] = None,
                       load: Optional[float] = None) -> List[str]:
    """Fill every ``num_workers='auto'`` loader of ``cfg`` (and its
    ``persistent_workers``) and set torch's threads for this machine.

    Explicit ``num_workers`` values and ``OMP_NUM_THREADS`` are kept. Call
    before the Runner builds its data loaders.

    Args:
        cfg: The config (``mmengine.Config`` or dict), changed in place.
        environ: Environment to read (default ``os.environ``).
        cpus: Usable CPUs (default :func:`usable_cpus`).
        load: The machine's load from other jobs (default its 1-minute
            load average, :func:`busy_cpus`).

    Returns:
        One log line: what was chosen, and why.
    """
    import torch
    environ = os.environ if environ is None else environ
    cpus = usable_cpus() if cpus is None else cpus
    loaders = list(_loaders(cfg))
    in_memory = all(_in_memory(loader.get('dataset'))
                    for _, loader in loaders)
    # Threads change a float reduction's order: a run asked to be
    # deterministic must not take its thread count from the machine's load.
    deterministic = bool((cfg.get('randomness') or {}).get('deterministic'))
    busy = 0 if deterministic else busy_cpus(cpus, load)
    settings = choose_cpu_settings(cpus, local_world_size(environ),
                                   omp_num_threads(environ), in_memory, busy)
    filled, kept = [], []
    for name, loader in loaders:
        workers = loader.get('num_workers', 0)
        if workers == AUTO:
            loader['num_workers'] = settings.num_workers
            # Persistent workers need workers (PyTorch refuses otherwise).
            loader['persistent_workers'] = settings.num_workers > 0
            filled.append(name)
        elif isinstance(workers, str):
            raise ValueError(
                f'{name}.num_workers must be an integer or {AUTO!r}, got '
                f'{workers!r}.')
        else:
            kept.append(f'{name}.num_workers={workers}')
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    line = f'CPU settings: {settings.reason}'
    if deterministic and settings.threads is not None:
        line += ('; load average ignored (randomness.deterministic=True: '
                 'reruns use the same threads)')
    if kept:
        line += f'; kept as configured: {", ".join(kept)}'
    return [line]

