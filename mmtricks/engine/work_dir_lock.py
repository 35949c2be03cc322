"""One training run per work dir.

Two runs in one ``--work-dir`` overwrite each other's checkpoints, and the
first links the second's model as its shipped weights. A run holds an
advisory lock on ``work_dir/.train.lock`` while it trains; a second run
is refused with the first one's process id and command. The kernel drops
the lock when its process ends, however it ends (SIGKILL included), so a
killed run never blocks its own ``--resume``; the file stays and only
describes the last holder.
"""
import json
import os
import os.path as osp
import socket
import sys
import time
from contextlib import contextmanager
from typing import Iterator, Optional

try:
    import fcntl
except ImportError:  # Windows: no flock; training is not locked there
    fcntl = None

LOCK_NAME = '.train.lock'


class WorkDirBusyError(RuntimeError):
    """Another process is training in this work dir."""


def _holder(handle) -> str:
    handle.seek(0)
    try:
        info = json.loads(handle.read() or '{}')
    except ValueError:
        info = {}
    if not info:
        return 'another process'
    started = time.strftime('%Y-%m-%d %H:%M:%S',
                            time.localtime(info.get('started', 0)))
    return (f'process {info.get("pid")} on {info.get("host")}, started '
            f'{started}: {info.get("command")}')


def _try_lock(handle) -> bool:
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def busy_with(work_dir: str) -> Optional[str]:
    """Who trains in ``work_dir`` now, or None when nobody does."""
    path = osp.join(work_dir, LOCK_NAME)
    if fcntl is None or not osp.isfile(path):
        return None
    with open(path, 'a+') as handle:
        if _try_lock(handle):
            return None  # closing the file releases the probe's lock
        return _holder(handle)


@contextmanager
def work_dir_lock(work_dir: str) -> Iterator[None]:
    """Hold ``work_dir``'s training lock for the ``with`` block.

    Raises:
        WorkDirBusyError: another process holds it; names that process.
    """
    if fcntl is None:
        yield
        return
    os.makedirs(work_dir, exist_ok=True)
    handle = open(osp.join(work_dir, LOCK_NAME), 'a+')
    try:
        if not _try_lock(handle):
            raise WorkDirBusyError(
                f'Work dir {work_dir} is in use by another training run '
                f'({_holder(handle)}). Wait for it to finish or stop it, or '
                'train into another --work-dir.')
        handle.seek(0)
        handle.truncate()
        json.dump(dict(pid=os.getpid(), host=socket.gethostname(),
                       started=time.time(), command=' '.join(sys.argv)),
                  handle)
        handle.flush()
        yield
    finally:
        handle.close()  # releases the lock


__all__ = ['LOCK_NAME', 'WorkDirBusyError', 'busy_with', 'work_dir_lock']
