import copy
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.logging.history_buffer import HistoryBuffer

import mmtricks  # noqa: F401  (applies the fix)
from mmtricks.compat import checkpoint_loading
from mmtricks.compat.checkpoint_loading import (CheckpointReadError,
                                                UnsafeCheckpointError,
                                                history_buffer_getattr,
                                                load_checkpoint_file,
                                                load_checkpoint_from)
from untrusted_checkpoints import (BuildHistoryBuffer, Call, hub_dir,
                                   serve_folder,
                                   write_code_running_checkpoint)


def mmengine_like_checkpoint(path):
    hub = MessageHub.get_instance('compat-test')
    for step in range(3):
        hub.update_scalar('train/loss', np.float64(1.0 / (step + 1)))
        hub.update_scalar('train/lr', np.float32(0.1))
    hub.update_info('epoch_array', np.arange(4, dtype=np.int64))
    torch.save({
        'meta': {'epoch': 2, 'seed': np.int64(0)},
        'state_dict': {'w': torch.ones(2)},
        'message_hub': hub.state_dict(),
    }, path)


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    path = tmp_path / 'ckpt.pth'
    mmengine_like_checkpoint(path)
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    loss = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(loss, HistoryBuffer)
    assert loss.min() == pytest.approx(1 / 3)
    assert loss.mean() == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert checkpoint['meta']['seed'] == 0


def test_same_checkpoint_fails_without_the_fix(tmp_path):
    path = tmp_path / 'ckpt.pth'
    mmengine_like_checkpoint(path)
    code = ('import torch, sys\n'
            'try:\n'
            f'    torch.load({str(path)!r}, map_location="cpu")\n'
            'except Exception as e:\n'
            '    print(type(e).__name__, e); sys.exit(3)\n')
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True, text=True)
    assert result.returncode == 3, result.stdout + result.stderr
    assert 'Weights only load failed' in result.stdout


@pytest.mark.parametrize('payload', [
    Call(os.system, 'echo pwned'),
    Call(getattr, Call(getattr, HistoryBuffer, '__init__'), '__globals__'),
    Call(getattr, HistoryBuffer, '__init__'),
    Call(getattr, HistoryBuffer, '__class__'),
    Call(getattr, np.ndarray, 'tofile'),
    Call(getattr, Call(getattr, HistoryBuffer, 'min'), '__globals__'),
])
def test_crafted_pickles_are_refused(tmp_path, payload):
    marker = tmp_path / 'pwned'
    if isinstance(payload.args[0], str):
        payload.args = (f'touch {marker}', )
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'evil': payload}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    assert not marker.exists()


def test_history_buffer_statistics_lookup_is_allowed(tmp_path):
    path = tmp_path / 'ok.pth'
    torch.save({'f': Call(getattr, HistoryBuffer, 'max')}, path)
    assert torch.load(path, weights_only=True)['f'] is HistoryBuffer.max


def test_restricted_getattr_refuses_everything_else():
    with pytest.raises(pickle.UnpicklingError):
        history_buffer_getattr(os, 'system')
    with pytest.raises(pickle.UnpicklingError):
        history_buffer_getattr(HistoryBuffer, '__dict__')
    assert history_buffer_getattr(HistoryBuffer, 'mean') is HistoryBuffer.mean


# One loader for every path: local, file://, http(s):// and MMEngine's
# schemes --------------------------------------------------------------------

@pytest.fixture
def served(tmp_path):
    """A local HTTP server over ``tmp_path/www`` with a good and a malicious
    checkpoint, and torch.hub's cache in ``tmp_path/hub``."""
    www = tmp_path / 'www'
    www.mkdir()
    mmengine_like_checkpoint(www / 'good.pth')
    marker = tmp_path / 'pwned'
    write_code_running_checkpoint(www / 'evil.pth', marker)
    (www / 'damaged.pth').write_bytes(
        (www / 'good.pth').read_bytes()[:200])
    with hub_dir(tmp_path / 'hub') as hub, serve_folder(www) as url:
        yield dict(url=url, www=www, marker=marker, hub=hub)


def test_upstream_http_loader_runs_code_from_the_server(served):
    """Why the http scheme is replaced: MMEngine's own loader (through
    torch.hub.load_state_dict_from_url, weights_only=False) runs the pickle."""
    checkpoint_loading._original_load_from_http(served['url'] + '/evil.pth')
    assert served['marker'].exists()


@pytest.mark.parametrize('how', ['file', 'file_url', 'http'])
def test_code_running_checkpoint_is_refused(served, how):
    path = served['www'] / 'evil.pth'
    source = dict(file=str(path), file_url=path.as_uri(),
                  http=served['url'] + '/evil.pth')[how]
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint_from(source)
    message = str(info.value)
    assert 'posix.system' in message and 'weights_only=True' in message
    assert (source if how == 'http' else str(path)) in message
    assert not served['marker'].exists()


@pytest.mark.parametrize('scheme, models_getter', [
    ('http', None),
    ('torchvision://', 'get_torchvision_models'),
    ('open-mmlab://', 'get_external_models'),
    ('mmcls://', 'get_mmcls_models'),
])
def test_every_mmengine_url_scheme_is_refused(served, monkeypatch, scheme,
                                              models_getter):
    """load_from / Pretrained / resume all go through MMEngine's
    CheckpointLoader; every scheme that resolves to a URL is guarded."""
    url = served['url'] + '/evil.pth'
    name = url
    if models_getter:
        monkeypatch.setattr(mmengine_checkpoint, models_getter,
                            lambda: {'evil_model': url})
        name = scheme + 'evil_model'
    model = torch.nn.Linear(2, 2)
    with pytest.raises(UnsafeCheckpointError):
        mmengine_checkpoint.load_checkpoint(model, name)
    assert not served['marker'].exists()


def test_mmengine_local_and_file_url_schemes_are_refused(served):
    path = served['www'] / 'evil.pth'
    for name in (str(path), path.as_uri()):
        with pytest.raises(UnsafeCheckpointError):
            mmengine_checkpoint._load_checkpoint(name)
    assert not served['marker'].exists()


def test_mmengine_schemes_resolve_to_the_guarded_loaders():
    """Fence on MMEngine's private scheme table: fails if another import
    registers an unguarded loader over ours."""
    loader = mmengine_checkpoint.CheckpointLoader
    for name, expected in [
            ('/tmp/a.pth', checkpoint_loading.load_from_local),
            ('file:///tmp/a.pth', checkpoint_loading.load_from_file_url),
            ('http://example.org/a.pth', checkpoint_loading.load_from_http),
            ('https://example.org/a.pth', checkpoint_loading.load_from_http)]:
        assert loader._get_checkpoint_loader(name) is expected, name
    assert mmengine_checkpoint.load_from_http is \
        checkpoint_loading.load_from_http


def test_good_checkpoint_over_http_is_downloaded_once_and_loads(served):
    url = served['url'] + '/good.pth'
    checkpoint = mmengine_checkpoint._load_checkpoint(url)
    assert torch.equal(checkpoint['state_dict']['w'], torch.ones(2))
    cached = os.path.join(served['hub'], 'checkpoints', 'good.pth')
    assert os.path.isfile(cached)
    os.remove(served['www'] / 'good.pth')  # the cache answers from now on
    assert load_checkpoint_from(url)['meta']['epoch'] == 2


def test_damaged_download_names_the_file_and_the_url(served):
    url = served['url'] + '/damaged.pth'
    with pytest.raises(CheckpointReadError) as info:
        load_checkpoint_from(url)
    cached = os.path.join(served['hub'], 'checkpoints', 'damaged.pth')
    assert cached in str(info.value) and url in str(info.value)
    assert 'delete it' in str(info.value)


def test_missing_local_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))


# HistoryBuffer: a checkpoint cannot remap the statistics of every buffer ----

def tampered_buffer_checkpoint(path, statistics_methods):
    state = dict(_max_length=10, _log_history=np.array([1.0, 2.0, 3.0]),
                 _count_history=np.array([1, 1, 1]),
                 statistics_methods=statistics_methods)
    torch.save({'message_hub': {'log_scalars': {
        'loss': BuildHistoryBuffer(state)}}}, path)


@pytest.fixture
def restore_statistics_methods():
    saved = dict(HistoryBuffer._statistics_methods)
    yield
    HistoryBuffer._statistics_methods.clear()
    HistoryBuffer._statistics_methods.update(saved)


@pytest.mark.parametrize('tampered', [
    {'mean': HistoryBuffer.max},   # remaps a statistic the logs use
    {'current': HistoryBuffer.min},
    {'sneaky': HistoryBuffer.max},  # a name this process never registered
])
def test_tampered_history_buffer_cannot_remap_statistics(
        tmp_path, tampered, restore_statistics_methods):
    before = dict(HistoryBuffer._statistics_methods)
    path = tmp_path / 'tampered.pth'
    tampered_buffer_checkpoint(path, tampered)
    with pytest.raises(UnsafeCheckpointError, match=next(iter(tampered))):
        load_checkpoint_file(path)
    assert HistoryBuffer._statistics_methods == before
    other = HistoryBuffer([1.0, 2.0, 6.0], [1, 1, 1])
    assert other.mean() == pytest.approx(3.0)
    assert other.statistics('mean') == pytest.approx(3.0)
    assert other.statistics('current') == pytest.approx(6.0)


def test_upstream_setstate_lets_a_checkpoint_remap_mean(
        tmp_path, monkeypatch, restore_statistics_methods):
    """Why __setstate__ is guarded: upstream's writes the shared dict."""
    monkeypatch.setattr(HistoryBuffer, '__setstate__',
                        checkpoint_loading._original_history_buffer_setstate)
    path = tmp_path / 'tampered.pth'
    tampered_buffer_checkpoint(path, {'mean': HistoryBuffer.max})
    torch.load(path, weights_only=True)
    other = HistoryBuffer([1.0, 2.0, 6.0], [1, 1, 1])
    assert other.statistics('mean') == pytest.approx(6.0)


def test_history_buffer_state_setting_the_class_dict_is_refused(tmp_path):
    path = tmp_path / 'tampered.pth'
    state = dict(_max_length=10, _log_history=np.array([1.0]),
                 _count_history=np.array([1]),
                 _statistics_methods={'mean': HistoryBuffer.max})
    torch.save({'b': BuildHistoryBuffer(state)}, path)
    with pytest.raises(UnsafeCheckpointError, match='_statistics_methods'):
        load_checkpoint_file(path)


def test_genuine_buffers_still_round_trip(tmp_path, monkeypatch):
    """A real checkpoint and a deepcopy (MessageHub.load_state_dict) carry
    exactly this process's statistics, custom ones included."""
    path = tmp_path / 'ckpt.pth'
    mmengine_like_checkpoint(path)
    loss = load_checkpoint_file(path)['message_hub']['log_scalars'][
        'train/loss']
    assert loss.statistics('mean') == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)

    def median(buffer):
        return float(np.median(buffer._log_history))
    monkeypatch.setitem(HistoryBuffer._statistics_methods, 'median', median)
    buffer = HistoryBuffer([1.0, 5.0, 6.0], [1, 1, 1])
    assert copy.deepcopy(buffer).statistics('median') == 5.0


@pytest.mark.parametrize('value, warned', [('1', True), ('0', False)])
def test_forcing_weights_only_off_is_warned(monkeypatch, value, warned):
    logged = []
    monkeypatch.setattr(checkpoint_loading, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', value)
    checkpoint_loading.apply()
    assert bool([m for m in logged
                 if 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' in m]) == warned
