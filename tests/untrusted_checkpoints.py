"""Checkpoints an attacker would hand out, and a local server to hand them out.

Shared by the tests that show every load path refuses them (no internet is
needed: the server listens on 127.0.0.1 in a thread).
"""
import contextlib
import functools
import http.server
import os
import shlex
import threading

import torch
from mmengine.logging.history_buffer import HistoryBuffer


class Call:
    """Pickles as ``func(*args)``: the shape of a malicious checkpoint."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


class BuildHistoryBuffer:
    """Pickles as a HistoryBuffer built from ``state``, as a tampered
    checkpoint would hold it (the real one always saves this process's
    statistics methods)."""

    def __init__(self, state):
        self.state = state

    def __reduce__(self):
        return HistoryBuffer, (), self.state


def write_code_running_checkpoint(path, marker, state_dict=None):
    """A checkpoint that runs ``touch marker`` when unpickled without
    ``weights_only``; otherwise a normal ``{'state_dict': ...}``."""
    torch.save({'state_dict': state_dict or {},
                'meta': {'note': Call(os.system,
                                      f'touch {shlex.quote(str(marker))}')}},
               path)
    return path


class QuietHandler(http.server.SimpleHTTPRequestHandler):

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve_folder(folder):
    """``http://127.0.0.1:PORT`` serving ``folder`` for the block."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever,
                              kwargs=dict(poll_interval=0.05), daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def hub_dir(path):
    """torch.hub's cache (MMEngine's and ours) under ``path``."""
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(path))
    try:
        yield str(path)
    finally:
        torch.hub.set_dir(previous)
