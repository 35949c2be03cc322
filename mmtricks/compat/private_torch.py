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
