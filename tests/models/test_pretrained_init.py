import errno
import logging
import pickle
import socket
import urllib.error

import pytest
import torch
from mmpretrain.registry import MODELS

import mmtricks  # noqa: F401
from mmtricks.compat.checkpoint_loading import (CheckpointDownloadError,
                                                CheckpointReadError)
from mmtricks.models import pretrained_init
from mmtricks.models.pretrained_init import PretrainedIfAvailable
from untrusted_checkpoints import (hub_dir, serve_folder,
                                   write_code_running_checkpoint)


def small_backbone(init_cfg=None):
    return MODELS.build(dict(type='MobileNetV3', arch='small',
                             init_cfg=init_cfg))


def save_classifier_checkpoint(path):
    """A checkpoint in MMPretrain's model-zoo form: keys under 'backbone.'."""
    torch.manual_seed(123)
    source = small_backbone()
    state = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    state['head.fc.weight'] = torch.zeros(3, 3)
    torch.save({'state_dict': state, 'meta': {}}, path)
    return source.state_dict()


def assert_same_state(module, expected):
    for key, value in module.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_local_file_loads_backbone(tmp_path):
    path = tmp_path / 'mbv3.pth'
    expected = save_classifier_checkpoint(path)
    model = small_backbone(dict(type='PretrainedIfAvailable',
                                checkpoint=str(path), prefix='backbone'))
    model.init_weights()
    assert_same_state(model, expected)


def test_url_is_downloaded_from_a_local_server(tmp_path):
    """The real download code, from an HTTP server into a fresh cache."""
    www = tmp_path / 'www'
    www.mkdir()
    expected = save_classifier_checkpoint(www / 'mbv3.pth')
    cache = tmp_path / 'cache'
    with serve_folder(www) as url:
        model = small_backbone(dict(type='PretrainedIfAvailable',
                                    checkpoint=url + '/mbv3.pth',
                                    prefix='backbone',
                                    model_dir=str(cache)))
        model.init_weights()
    assert_same_state(model, expected)
    assert (cache / 'mbv3.pth').is_file()


def test_file_url_is_read_in_place(tmp_path):
    path = tmp_path / 'mbv3.pth'
    expected = save_classifier_checkpoint(path)
    cache = tmp_path / 'cache'
    model = small_backbone(dict(type='PretrainedIfAvailable',
                                checkpoint=path.as_uri(), prefix='backbone',
                                model_dir=str(cache)))
    model.init_weights()
    assert_same_state(model, expected)
    assert not cache.exists()


def test_unreachable_url_warns_once_and_keeps_random_init(tmp_path,
                                                           monkeypatch):
    logged = []
    monkeypatch.setattr(pretrained_init, 'print_log',
                        lambda msg, **kw: logged.append((msg, kw)))
    torch.manual_seed(0)
    model = small_backbone(dict(type='PretrainedIfAvailable',
                                checkpoint='http://127.0.0.1:9/mbv3.pth',
                                prefix='backbone',
                                model_dir=str(tmp_path)))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.init_weights()
    warnings = [msg for msg, kw in logged
                if kw.get('level') == logging.WARNING]
    assert len(warnings) == 1
    assert 'Pretrained weights not available' in warnings[0]
    assert 'init_cfg.checkpoint' in warnings[0]
    # init_weights still ran the backbone's own initialisation
    assert any(not torch.equal(before[k], v)
               for k, v in model.state_dict().items())


def test_missing_local_file_is_an_error(tmp_path):
    init = PretrainedIfAvailable(checkpoint=str(tmp_path / 'nope.pth'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        init(small_backbone())


# Only an unreachable network falls back; everything else names the file ---

def failing_download(error):
    def download(url, dst, *args, **kwargs):
        raise error
    return download


def init_from(url, model_dir):
    return PretrainedIfAvailable(checkpoint=url, prefix='backbone',
                                 model_dir=str(model_dir))


@pytest.mark.parametrize('error', [
    urllib.error.URLError(socket.gaierror(-3, 'Temporary failure in name '
                                              'resolution')),
    urllib.error.URLError(OSError(errno.ENETUNREACH,
                                  'Network is unreachable')),
    urllib.error.URLError(TimeoutError('timed out')),
    ConnectionResetError(errno.ECONNRESET, 'Connection reset by peer'),
], ids=['dns', 'no-route', 'timeout', 'reset'])
def test_network_unreachable_falls_back_with_one_warning(tmp_path,
                                                         monkeypatch, error):
    logged = []
    monkeypatch.setattr(pretrained_init, 'print_log',
                        lambda msg, **kw: logged.append((msg, kw)))
    monkeypatch.setattr(torch.hub, 'download_url_to_file',
                        failing_download(error))
    model = small_backbone()
    init_from('https://example.org/w/mbv3.pth', tmp_path)(model)
    warnings = [msg for msg, kw in logged
                if kw.get('level') == logging.WARNING]
    assert len(warnings) == 1
    assert str(tmp_path / 'mbv3.pth') in warnings[0]  # where to put it


@pytest.mark.parametrize('error, expected', [
    (OSError(errno.ENOSPC, 'No space left on device'), 'No space left'),
    (PermissionError(errno.EACCES, 'Permission denied'), 'Permission denied'),
    (urllib.error.URLError(FileNotFoundError(2, 'No such file')),
     'No such file'),
], ids=['disk-full', 'permission', 'not-a-network-error'])
def test_other_download_failures_are_errors_naming_url_and_file(
        tmp_path, monkeypatch, error, expected):
    monkeypatch.setattr(torch.hub, 'download_url_to_file',
                        failing_download(error))
    url = 'https://example.org/w/mbv3.pth'
    with pytest.raises(CheckpointDownloadError) as info:
        init_from(url, tmp_path)(small_backbone())
    message = str(info.value)
    assert url in message and str(tmp_path / 'mbv3.pth') in message
    assert expected in message


def test_http_error_from_the_server_is_an_error(tmp_path):
    (tmp_path / 'www').mkdir()
    with serve_folder(tmp_path / 'www') as url:
        with pytest.raises(CheckpointDownloadError, match='404'):
            init_from(url + '/missing.pth', tmp_path / 'cache')(
                small_backbone())


def test_real_disk_error_is_not_mistaken_for_no_network(tmp_path):
    """A download folder that cannot be created (a file is in the way)."""
    www = tmp_path / 'www'
    www.mkdir()
    save_classifier_checkpoint(www / 'mbv3.pth')
    (tmp_path / 'blocker').write_text('a file, not a folder')
    with serve_folder(www) as url:
        with pytest.raises(CheckpointDownloadError, match='blocker'):
            init_from(url + '/mbv3.pth', tmp_path / 'blocker' / 'cache')(
                small_backbone())


def test_damaged_download_is_an_error_naming_url_and_file(tmp_path):
    www = tmp_path / 'www'
    www.mkdir()
    save_classifier_checkpoint(www / 'mbv3.pth')
    (www / 'mbv3.pth').write_bytes((www / 'mbv3.pth').read_bytes()[:500])
    with serve_folder(www) as url:
        with pytest.raises(CheckpointReadError) as info:
            init_from(url + '/mbv3.pth', tmp_path / 'cache')(small_backbone())
    message = str(info.value)
    assert url in message and str(tmp_path / 'cache' / 'mbv3.pth') in message
    assert 'delete' in message


@pytest.mark.parametrize('how', ['http', 'local'])
def test_code_running_checkpoint_is_refused(tmp_path, how):
    www = tmp_path / 'www'
    www.mkdir()
    marker = tmp_path / 'pwned'
    write_code_running_checkpoint(www / 'mbv3.pth', marker)
    with hub_dir(tmp_path / 'hub'), serve_folder(www) as url:
        source = url + '/mbv3.pth' if how == 'http' else str(www / 'mbv3.pth')
        with pytest.raises(pickle.UnpicklingError) as info:
            init_from(source, tmp_path / 'cache')(small_backbone())
    assert 'weights_only=True' in str(info.value)
    assert source in str(info.value)
    assert not marker.exists()
