"""One OpenVINO ``Core`` for the process, and a guard for the signal stack.

Why: OpenVINO's CPU plugin (2025.x to 2026.4 at least, ``intel_cpu``'s
``SigAltStackSetup``) gives the thread that loads it a new alternate signal
stack, remembering the one before, and on unload restores that one only if
its own is still current, unmapping its own in any case. Two ``Core``
objects unloaded in the order they were made (A, B, del A, del B) therefore
leave the thread's alternate stack pointing at A's unmapped memory. The next
signal whose handler runs on the alternate stack kills the process with
SIGSEGV (the kernel cannot write the signal frame): every Python handler
does (CPython installs them with ``SA_ONSTACK``), such as the SIGCHLD
handler of PyTorch's DataLoader when a child process exits, or Ctrl-C. That
was the project's "unexplained" crash: train with DataLoader workers,
deploy, then anything that reaps a child (``tests/deploy/
test_openvino_core.py`` reproduces it in a few lines).

So mmtricks makes every ``Core`` it needs through :func:`shared_core` (one
per process, never unloaded before exit: nothing to restore out of order),
and :func:`repair_signal_stack` puts a mapped stack back where a ``Core``
made elsewhere left a dangling one.
"""
import ctypes
import ctypes.util
import functools
import mmap
import threading
from typing import Optional, Tuple

SS_DISABLE = 2  # <signal.h>
# Replacement stacks are kept for the life of the process: the kernel writes
# signal frames into them.
_kept_stacks = []
_lock = threading.Lock()


class _StackT(ctypes.Structure):
    _fields_ = [('ss_sp', ctypes.c_void_p), ('ss_flags', ctypes.c_int),
                ('ss_size', ctypes.c_size_t)]


@functools.lru_cache(maxsize=None)
def _libc():
    return ctypes.CDLL(ctypes.util.find_library('c') or None,
                       use_errno=True)


@functools.lru_cache(maxsize=None)
def shared_core():
    """The process's ``openvino.Core``: every mmtricks deploy stage, backend
    wrapper and classifier compiles through it (the module docstring says
    why one)."""
    import openvino as ov
    return ov.Core()


def signal_stack() -> Optional[Tuple[int, int]]:
    """The calling thread's alternate signal stack as ``(address, size)``,
    or None when it has none (or the platform cannot say)."""
    try:
        current = _StackT()
        if _libc().sigaltstack(None, ctypes.byref(current)) != 0:
            return None
    except (AttributeError, OSError):
        return None
    if current.ss_flags & SS_DISABLE or not current.ss_sp:
        return None
    return int(current.ss_sp), int(current.ss_size)


def is_mapped(address: int, maps: str = '/proc/self/maps') -> bool:
    """Whether ``address`` lies in a mapping of this process."""
    try:
        with open(maps) as f:
            for line in f:
                start, end = line.split(None, 1)[0].split('-')
                if int(start, 16) <= address < int(end, 16):
                    return True
    except OSError:
        return True  # cannot tell: assume the kernel's view is fine
    return False


def repair_signal_stack() -> bool:
    """Give the calling thread a fresh alternate signal stack if its
    current one is unmapped (what an out-of-order ``Core`` unload leaves).

    Returns:
        bool: Whether a dangling stack was replaced.
    """
    current = signal_stack()
    if current is None or is_mapped(current[0]):
        return False
    with _lock:
        size = max(current[1], 64 * 1024)
        memory = mmap.mmap(-1, size)
        address = ctypes.addressof(ctypes.c_char.from_buffer(memory))
        _kept_stacks.append(memory)
        replacement = _StackT(address, 0, size)
        if _libc().sigaltstack(ctypes.byref(replacement), None) != 0:
            # Better no alternate stack (handlers run on the thread's own
            # stack) than a dangling one.
            _libc().sigaltstack(ctypes.byref(_StackT(None, SS_DISABLE, 0)),
                                None)
    return True


__all__ = ['is_mapped', 'repair_signal_stack', 'shared_core',
           'signal_stack']
