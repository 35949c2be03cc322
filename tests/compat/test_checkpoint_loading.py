import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.logging.history_buffer import HistoryBuffer

import mmtricks  # noqa: F401  (applies the fix)
from mmtricks.compat.checkpoint_loading import history_buffer_getattr


class Call:
    """Pickles as ``func(*args)``: the shape of a malicious checkpoint."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


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
