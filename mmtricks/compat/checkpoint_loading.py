"""Load every checkpoint with ``torch.load(weights_only=True)``.

Upstream bug: torch 2.6 made ``weights_only=True`` the default of
``torch.load``; mmengine 0.10.7 pickles its
``message_hub`` (``HistoryBuffer`` objects holding numpy arrays and scalars)
into every checkpoint, so ``Runner.resume``, ``load_from``, ``tools/test.py``
and mmdeploy's ``torch2onnx`` fail with "Weights only load failed"
(open-mmlab/mmengine#1655). The fix upstream projects reached for,
``weights_only=False``, lets a checkpoint run arbitrary code on load.

We keep ``weights_only=True`` and allow exactly what these checkpoints hold.
``HistoryBuffer`` pickles its statistics methods as ``getattr(HistoryBuffer,
'min')``; rather than allowing the builtin ``getattr``, a classic gadget for
reaching ``__globals__`` or ``os.system``, the pickle's ``builtins.getattr``
resolves to :func:`history_buffer_getattr`, which answers only those lookups.

Two more upstream holes, closed here:

* MMEngine's URL loaders (``http://``, ``https://``, and ``torchvision://``,
  ``open-mmlab://``, ``mmcls://`` which resolve to URLs) end in
  ``torch.hub.load_state_dict_from_url``, whose default is
  ``weights_only=False``: any ``load_from``, ``Pretrained`` init or teacher
  URL ran code from the server. Every MMEngine scheme that reads a file we
  can reach (local paths, ``file://``, HTTP(S)) now goes through
  :func:`load_checkpoint_file`, the one loader of mmtricks.
* ``HistoryBuffer.__setstate__`` writes a checkpoint's ``statistics_methods``
  into a dict shared by every ``HistoryBuffer`` of the process, so a crafted
  checkpoint could remap ``mean``, ``current`` ... for every log.
  :func:`history_buffer_setstate` refuses any entry that differs from what
  this process registered.
"""
import errno
import logging
import os
import os.path as osp
import pickle
import socket
import urllib.error
import urllib.request
from typing import Optional
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.dist import broadcast_object_list, get_dist_info
from mmengine.logging import print_log
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import checkpoint as mmengine_checkpoint

_NUMPY_CORE = 'numpy._core' if hasattr(np, '_core') else 'numpy.core'

URL_SCHEMES = ('http', 'https', 'file')


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint that ``torch.load(weights_only=True)`` refuses."""


class CheckpointReadError(RuntimeError):
    """A checkpoint file that cannot be read (damaged, not a torch file)."""


class CheckpointDownloadError(RuntimeError):
    """A checkpoint URL that could not be downloaded, network aside."""


class CheckpointUnreachableError(ConnectionError):
    """A checkpoint URL whose host cannot be reached (no network, DNS)."""


def history_buffer_getattr(obj, name: str):
    """The only ``getattr`` a checkpoint may call: a HistoryBuffer statistic.

    Raises:
        pickle.UnpicklingError: For any other object or attribute.
    """
    if obj is HistoryBuffer and isinstance(name, str) \
            and not name.startswith('_') \
            and callable(HistoryBuffer.__dict__.get(name)):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'Checkpoint refused: it asks for getattr({obj!r}, {name!r}); only '
        'HistoryBuffer statistics methods may be looked up when loading.')


def _numpy_dtype_classes():
    dtypes = getattr(np, 'dtypes', None)  # numpy >= 1.25
    if dtypes is None:
        return []
    return [
        value for name, value in vars(dtypes).items()
        if name.endswith('DType') and isinstance(value, type)
    ]


def checkpoint_safe_globals():
    """The exact allow-list, as ``torch.serialization.add_safe_globals`` takes it."""
    multiarray = getattr(np, '_core', None) or np.core
    allowed = [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        (multiarray.multiarray._reconstruct,
         f'{_NUMPY_CORE}.multiarray._reconstruct'),
        (multiarray.multiarray.scalar, f'{_NUMPY_CORE}.multiarray.scalar'),
        (history_buffer_getattr, 'builtins.getattr'),
    ]
    # Checkpoints written under numpy 1 name the old module path.
    if _NUMPY_CORE != 'numpy.core':
        allowed += [
            (multiarray.multiarray._reconstruct,
             'numpy.core.multiarray._reconstruct'),
            (multiarray.multiarray.scalar, 'numpy.core.multiarray.scalar'),
        ]
    return allowed + _numpy_dtype_classes()


# HistoryBuffer ---------------------------------------------------------------

_original_history_buffer_setstate = HistoryBuffer.__setstate__


def history_buffer_setstate(self, state: dict) -> None:
    """``HistoryBuffer.__setstate__`` that cannot remap the shared statistics.

    Upstream merges the state's ``statistics_methods`` into the class-level
    dict of every ``HistoryBuffer``. A genuine state (a checkpoint or a
    ``deepcopy``) holds exactly what this process registered, so anything
    else is refused rather than dropped: the checkpoint was tampered with.

    Raises:
        pickle.UnpicklingError: Naming the statistic that differs.
    """
    state = dict(state)
    if '_statistics_methods' in state:
        raise pickle.UnpicklingError(
            'Checkpoint refused: a HistoryBuffer state sets '
            '`_statistics_methods`, which MMEngine never saves.')
    loaded = state.pop('statistics_methods', {})
    if not isinstance(loaded, dict):
        raise pickle.UnpicklingError(
            'Checkpoint refused: a HistoryBuffer state has statistics_methods '
            f'of type {type(loaded).__name__}, not a dict.')
    self._set_default_statistics()
    registered = HistoryBuffer._statistics_methods
    for name, method in loaded.items():
        if registered.get(name) is not method:
            raise pickle.UnpicklingError(
                f'Checkpoint refused: a HistoryBuffer in it maps the '
                f'statistic {name!r} to {method!r}, but this process has '
                f'{registered.get(name)!r}; loading it would change '
                f'`{name}` for every log of the process.')
    _original_history_buffer_setstate(self, state)


# The one checkpoint loader ---------------------------------------------------

def _torch_refusal_reason(error: Exception) -> str:
    """torch's reason without its boilerplate (and its advice to drop
    ``weights_only``, which would run the file's code)."""
    boilerplate = ('Weights only load failed', 'Check the documentation',
                   'Please file an issue')
    lines = [line.strip() for line in str(error).splitlines()]
    kept = [line for line in lines
            if line and not line.startswith(boilerplate)]
    return ' '.join(kept) or str(error)


def load_checkpoint_file(path: str, map_location='cpu',
                         downloaded_from: Optional[str] = None):
    """``torch.load(path, weights_only=True)`` with this module's allow-list.

    Every checkpoint mmtricks (and, through the schemes :func:`apply`
    registers, MMEngine) reads from a file goes through here.

    Args:
        path (str): Local file (``~`` is expanded).
        map_location: As for :func:`torch.load`. Defaults to ``'cpu'``.
        downloaded_from (str, optional): The URL the file was downloaded
            from, named in errors.

    Raises:
        FileNotFoundError: No such file.
        UnsafeCheckpointError: The file holds objects beyond tensors and the
            MMEngine training state; loading them could run code.
        CheckpointReadError: The file is damaged or not a torch file.
    """
    path = osp.expanduser(str(path))
    name = repr(path) if downloaded_from is None else \
        f'{path!r} (downloaded from {downloaded_from})'
    again = ('delete it and run again to download it again'
             if downloaded_from else 'save or download it again')
    if not osp.isfile(path):
        raise FileNotFoundError(f'Checkpoint {name} does not exist.')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise UnsafeCheckpointError(
            f'Checkpoint {name} refused: {_torch_refusal_reason(error)}. '
            'mmtricks loads checkpoints with torch.load(weights_only=True) '
            'and an allow-list of what MMEngine checkpoints hold; this file '
            'holds something else, and unpickling it could run code from the '
            'file. Use weights from a source you trust, saved as a state_dict '
            f'or an MMEngine checkpoint (if the file is damaged instead, '
            f'{again}).'
        ) from error
    except OSError:
        raise  # names the file already (permission denied ...)
    except Exception as error:  # zip, EOF and format errors of torch.load
        raise CheckpointReadError(
            f'Cannot read checkpoint {name}: {type(error).__name__}: '
            f'{error}. If the file is damaged or not written by torch.save, '
            f'{again}.') from error


# URLs ------------------------------------------------------------------------

def is_url(source: str) -> bool:
    return urlparse(str(source)).scheme in URL_SCHEMES


def file_url_path(url: str) -> str:
    """The local path of a ``file://`` URL."""
    return urllib.request.url2pathname(urlparse(url).path)


def cached_path(url: str, model_dir: Optional[str] = None) -> str:
    """Where torch.hub (and so MMEngine) keeps the download of ``url``."""
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    return osp.join(model_dir, osp.basename(urlparse(url).path))


_UNREACHABLE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH,
                       errno.ENETDOWN, errno.EHOSTDOWN, errno.ETIMEDOUT}


def is_network_unreachable(error: BaseException) -> bool:
    """True when the host could not be reached at all: no DNS, no route,
    connection refused or reset, a timeout. An HTTP status (404, 403 ...)
    means the server answered: that is not the network."""
    if isinstance(error, urllib.error.HTTPError):
        return False
    if isinstance(error, urllib.error.URLError):
        error = error.reason
    if isinstance(error, (socket.gaierror, socket.herror, ConnectionError,
                          TimeoutError)):
        return True
    return isinstance(error, OSError) and error.errno in _UNREACHABLE_ERRNOS


def download_checkpoint(url: str, model_dir: Optional[str] = None) -> str:
    """Download ``url`` into the torch.hub cache unless it is there already.

    torch.hub writes a ``.partial`` file and renames it when complete, so an
    interrupted download never leaves a truncated checkpoint in the cache.

    Raises:
        CheckpointUnreachableError: The host cannot be reached.
        CheckpointDownloadError: Anything else (HTTP error, disk full,
            permission denied), naming the URL and the cache file.
    """
    path = cached_path(url, model_dir)
    if osp.isfile(path):
        return path
    try:
        os.makedirs(osp.dirname(path), exist_ok=True)
        torch.hub.download_url_to_file(url, path, progress=False)
    except Exception as error:
        detail = f'{type(error).__name__}: {error}'
        if is_network_unreachable(error):
            raise CheckpointUnreachableError(
                f'Cannot reach {url} ({detail}).') from error
        raise CheckpointDownloadError(
            f'Cannot download checkpoint {url} to {path} ({detail}). Fix the '
            'URL, or free space / fix permissions in the download folder '
            '(`model_dir`, or the TORCH_HOME environment variable), or '
            f'download the file yourself and give its path.') from error
    return path


def fetch_checkpoint(url: str, model_dir: Optional[str] = None) -> str:
    """The local file for a checkpoint URL, the same outcome on every rank.

    ``file://`` is read in place. For HTTP(S), rank 0 downloads and tells
    every rank how it went (MMEngine's ``load_from_http`` leaves the other
    ranks waiting at a barrier when rank 0 fails); ranks on other machines
    then download their own copy.

    Raises:
        CheckpointUnreachableError, CheckpointDownloadError: As
            :func:`download_checkpoint`, on every rank.
    """
    if urlparse(url).scheme == 'file':
        return file_url_path(url)
    rank, world_size = get_dist_info()
    outcome = [None]
    if rank == 0:
        try:
            download_checkpoint(url, model_dir)
            outcome[0] = ('ok', '')
        except CheckpointUnreachableError as error:
            outcome[0] = ('unreachable', str(error))
            first_error = error
        except CheckpointDownloadError as error:
            outcome[0] = ('failed', str(error))
            first_error = error
    if world_size > 1:
        broadcast_object_list(outcome, src=0)
    status, message = outcome[0]
    if status != 'ok':
        if rank == 0:
            raise first_error
        error_type = CheckpointUnreachableError \
            if status == 'unreachable' else CheckpointDownloadError
        raise error_type(f'On rank 0: {message}')
    return download_checkpoint(url, model_dir)


def load_checkpoint_from(source: str, map_location='cpu',
                         model_dir: Optional[str] = None):
    """Load a checkpoint from a path or an ``http(s)://``/``file://`` URL.

    Args:
        source (str): Local path or URL.
        map_location: As for :func:`torch.load`. Defaults to ``'cpu'``.
        model_dir (str, optional): Download folder for HTTP(S). Defaults to
            torch.hub's ``<hub dir>/checkpoints``, as MMEngine.
    """
    source = str(source)
    if not is_url(source):
        return load_checkpoint_file(source, map_location)
    path = fetch_checkpoint(source, model_dir)
    return load_checkpoint_file(path, map_location, downloaded_from=source)


# MMEngine's CheckpointLoader schemes, through the loader above --------------

_original_load_from_http = mmengine_checkpoint.load_from_http


def load_from_local(filename, map_location=None):
    """MMEngine's ``''`` (local path) scheme."""
    return load_checkpoint_file(filename, map_location)


def load_from_file_url(filename, map_location=None):
    """``file://`` URLs, which MMEngine would treat as a missing local path."""
    return load_checkpoint_file(file_url_path(filename), map_location)


def load_from_http(filename, map_location=None, model_dir=None,
                   progress=False):
    """MMEngine's ``http://``/``https://`` scheme (same arguments)."""
    return load_checkpoint_from(filename, map_location, model_dir)


GUARDED_SCHEMES = {
    '': load_from_local,
    'file://': load_from_file_url,
    'http://': load_from_http,
    'https://': load_from_http,
}


def _warn_if_weights_only_forced_off() -> None:
    if os.getenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '0').lower() in (
            '1', 'y', 'yes', 'true'):
        print_log(
            'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD is set: torch.load calls that '
            'do not pass weights_only (in other libraries) may run code from '
            'a checkpoint. mmtricks\' loaders pass weights_only=True anyway; '
            'unset the variable.', logger='current', level=logging.WARNING)


def apply() -> None:
    torch.serialization.add_safe_globals(checkpoint_safe_globals())
    HistoryBuffer.__setstate__ = history_buffer_setstate
    loader = mmengine_checkpoint.CheckpointLoader
    for prefix, scheme_loader in GUARDED_SCHEMES.items():
        loader.register_scheme(prefix, scheme_loader, force=True)
    # torchvision://, modelzoo://, open-mmlab:// and mmcls:// call it by its
    # module-level name (and it is the only caller of upstream's load_url).
    mmengine_checkpoint.load_from_http = load_from_http
    _warn_if_weights_only_forced_off()
