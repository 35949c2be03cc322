import socket

import pytest
import torch
import torch.distributed as torch_dist
from torch import nn

import mmtricks  # noqa: F401
from mmtricks.compat import cpu_distributed

cpu_only = pytest.mark.skipif(torch.cuda.is_available(),
                              reason='checks the CPU-only code path')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def single_rank_env(monkeypatch):
    for key, value in dict(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
                           MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=str(free_port())).items():
        monkeypatch.setenv(key, value)
    yield
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


@cpu_only
def test_upstream_launcher_fails_without_cuda(single_rank_env):
    with pytest.raises((RuntimeError, AssertionError)):
        cpu_distributed._original_init_dist_pytorch('gloo')
    assert not torch_dist.is_initialized()


@cpu_only
def test_launcher_starts_gloo_even_when_nccl_asked(single_rank_env):
    from mmengine.dist import init_dist
    init_dist('pytorch', backend='nccl')
    assert torch_dist.is_initialized()
    assert torch_dist.get_backend() == 'gloo'


@cpu_only
def test_ddp_wraps_cpu_model_given_device_ids(single_rank_env):
    from mmengine.model import MMDistributedDataParallel
    torch_dist.init_process_group('gloo')
    with pytest.raises(ValueError):
        wrapper = MMDistributedDataParallel.__new__(MMDistributedDataParallel)
        cpu_distributed._original_ddp_init(wrapper, nn.Linear(2, 2),
                                           device_ids=[0])
    wrapped = MMDistributedDataParallel(module=nn.Linear(2, 2),
                                        device_ids=[0])
    assert wrapped.device_ids is None
    assert wrapped(torch.ones(1, 2)).shape == (1, 2)


@pytest.mark.parametrize('requested, cuda, chosen', [
    (None, True, 'nccl'),      # left to mmtricks: the fast one on GPUs
    (None, False, 'gloo'),
    ('gloo', True, 'gloo'),    # a named backend is used as named
    ('nccl', True, 'nccl'),
    ('mpi', False, 'mpi'),
    ('nccl', False, 'gloo'),   # cannot start without CUDA
])
def test_backend_choice(requested, cuda, chosen):
    assert cpu_distributed.choose_backend(requested, cuda) == chosen


@cpu_only
def test_launcher_without_a_backend_starts_gloo_quietly(single_rank_env,
                                                        monkeypatch):
    from mmengine.dist import init_dist
    notices = []
    monkeypatch.setattr(cpu_distributed, 'print_log',
                        lambda msg, **kw: notices.append(msg))
    init_dist('pytorch', backend=None)
    assert torch_dist.get_backend() == 'gloo'
    assert notices == []


def test_launcher_with_cuda_and_no_backend_starts_nccl(monkeypatch):
    started = []
    monkeypatch.setattr(cpu_distributed, 'has_accelerator', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(cpu_distributed, '_original_init_dist_pytorch',
                        lambda backend, init_backend, **kw:
                        started.append(backend))
    cpu_distributed.init_dist_pytorch(None)
    cpu_distributed.init_dist_pytorch('gloo')
    assert started == ['nccl', 'gloo']


@pytest.mark.parametrize('config', ['auto_mbv3.py', 'auto_effnet_lite0.py',
                                    'paper_mbv3.py'])
def test_shipped_configs_leave_the_backend_to_mmtricks(config):
    from mmengine.config import Config
    from conftest import REPO
    cfg = Config.fromfile(f'{REPO}/configs/{config}')
    assert cfg.env_cfg.dist_cfg.backend is None
