"""Every private torch attribute mmtricks uses, in one place.

See ``docs/private_upstream.md``; ``tests/compat/test_private_upstream.py``
fails loudly when torch renames one.
"""
DATALOADER_ITERATOR = '_iterator'
SHUTDOWN_WORKERS = '_shutdown_workers'


def restart_persistent_workers(dataloader) -> None:
    """Drop a DataLoader's persistent worker pool so the next epoch starts a
    fresh one (workers hold a copy of the dataset and their RNG seed; torch
    has no public way to restart them)."""
    iterator = getattr(dataloader, DATALOADER_ITERATOR, None)
    if iterator is not None:
        getattr(iterator, SHUTDOWN_WORKERS)()
        setattr(dataloader, DATALOADER_ITERATOR, None)


# torch.compile's bookkeeping (engine/compile_settings.py logs it) ----------
DYNAMO_UTILS = 'torch._dynamo.utils'
#: compile_times() entries that hold compiling (forward and the lazily
#: compiled backward), in seconds.
COMPILE_TIME_ENTRIES = ('_compile.compile_inner', 'backward._backward_impl')


def dynamo_graph_count() -> int:
    """Graphs dynamo has compiled in this process (recompiles included):
    ``torch._dynamo.utils.counters``; torch has no public count."""
    from torch._dynamo.utils import counters
    return int(counters['stats']['unique_graphs'])


def dynamo_compile_seconds() -> float:
    """Seconds this process has spent compiling (dynamo, AOTAutograd and
    the backend): ``torch._dynamo.utils.compile_times``."""
    from torch._dynamo.utils import compile_times
    names, values = compile_times(repr='csv', aggregate=True)
    return sum(float(value) for name, value in zip(names, values)
               if name in COMPILE_TIME_ENTRIES)
