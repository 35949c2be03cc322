"""Threads and loader workers chosen for the machine."""
import pytest
import torch
from mmengine.config import Config

from mmtricks.engine.cpu_settings import (apply_cpu_settings, busy_cpus,
                                          choose_cpu_settings,
                                          local_world_size, omp_num_threads)


@pytest.fixture(autouse=True)
def fake_threads(monkeypatch):
    """torch's thread count, faked: changing the real one in the middle of
    the suite, after OpenVINO and NNCF had run in the same process, was
    followed by a crash (SIGSEGV) of the next test."""
    threads = {'n': 1}
    monkeypatch.setattr(torch, 'get_num_threads', lambda: threads['n'])
    monkeypatch.setattr(torch, 'set_num_threads',
                        lambda n: threads.__setitem__('n', int(n)))


def test_one_process_uses_every_core_and_no_workers_for_memory():
    s = choose_cpu_settings(2, in_memory=True)
    assert (s.threads, s.num_workers) == (2, 0)


def test_processes_share_the_cores():
    """torchrun with 2 local processes on 2 cores: one thread each, never
    torch's default of one per core of the machine in every process."""
    s = choose_cpu_settings(2, local_world_size=2)
    assert s.threads == 1
    s = choose_cpu_settings(16, local_world_size=4, in_memory=False)
    assert (s.threads, s.num_workers) == (4, 3)
    assert '16 usable CPUs, / 4 local processes = 4' in s.reason


def test_cores_busy_with_other_jobs_are_left_to_them():
    """On 2 shared cores, 1 thread beat 2 by x1.8-6.7 (docs/speed.md)."""
    s = choose_cpu_settings(2, busy=1)
    assert s.threads == 1
    assert '1 busy with other jobs' in s.reason
    assert choose_cpu_settings(2, busy=5).threads == 1  # never 0
    assert choose_cpu_settings(8, busy=2, in_memory=False).num_workers == 5


def test_busy_cpus_from_the_load_average():
    assert busy_cpus(2, load=0.7) == 0
    assert busy_cpus(2, load=1.3) == 1
    assert busy_cpus(2, load=6.2) == 1
    assert busy_cpus(16, load=3.9) == 3
    assert 0 <= busy_cpus(2) <= 1  # reads the machine's


def test_files_get_workers_but_never_none():
    assert choose_cpu_settings(1, in_memory=False).num_workers == 1
    assert choose_cpu_settings(2, in_memory=False).num_workers == 1
    assert choose_cpu_settings(8, in_memory=False).num_workers == 7


def test_omp_num_threads_is_kept_and_said():
    s = choose_cpu_settings(2, omp_threads=1)
    assert s.threads is None
    assert 'OMP_NUM_THREADS=1 kept' in s.reason


@pytest.mark.parametrize('bad', [dict(cpus=0), dict(cpus=2,
                                                    local_world_size=0)])
def test_bad_counts(bad):
    with pytest.raises(ValueError, match='positive'):
        choose_cpu_settings(**bad)


def test_environment_parsing():
    assert local_world_size({}) == 1
    assert local_world_size({'LOCAL_WORLD_SIZE': '3'}) == 3
    assert omp_num_threads({}) is None
    assert omp_num_threads({'OMP_NUM_THREADS': '4'}) == 4
    with pytest.raises(ValueError, match='OMP_NUM_THREADS'):
        omp_num_threads({'OMP_NUM_THREADS': 'lots'})
    with pytest.raises(ValueError, match='LOCAL_WORLD_SIZE'):
        local_world_size({'LOCAL_WORLD_SIZE': 'x'})


def config(num_workers='auto', **dataset):
    dataset = dict(dict(type='FolderOrBundledDataset', data_root=None),
                   **dataset)
    return Config(dict(
        train_dataloader=dict(num_workers=num_workers,
                              persistent_workers=True, dataset=dataset),
        val_dataloader=dict(num_workers='auto', persistent_workers=True,
                            dataset=dataset)))


def test_apply_fills_auto_and_sets_threads():
    cfg = config()
    torch.set_num_threads(1)
    lines = apply_cpu_settings(cfg, environ={}, cpus=2, load=0.0)
    assert cfg.train_dataloader.num_workers == 0
    assert cfg.train_dataloader.persistent_workers is False
    assert torch.get_num_threads() == 2
    apply_cpu_settings(config(), environ={}, cpus=2, load=1.5)
    assert torch.get_num_threads() == 1
    apply_cpu_settings(cfg, environ={}, cpus=2, load=0.0)
    assert cfg.val_dataloader.num_workers == 0
    assert torch.get_num_threads() == 2
    assert len(lines) == 1 and '2 torch threads' in lines[0]


def test_a_deterministic_run_takes_its_threads_from_the_cpus_not_the_load():
    """Threads change the order of float reductions: two runs of one
    deterministic config under different loads must compute alike."""
    cfg = config()
    cfg.randomness = dict(seed=0, deterministic=True)
    lines = apply_cpu_settings(cfg, environ={}, cpus=2, load=1.5)
    assert torch.get_num_threads() == 2
    assert 'load average ignored' in lines[0]
    cfg.randomness.deterministic = False
    apply_cpu_settings(cfg, environ={}, cpus=2, load=1.5)
    assert torch.get_num_threads() == 1


def test_apply_keeps_explicit_workers_and_omp():
    cfg = config(num_workers=3)
    torch.set_num_threads(1)
    lines = apply_cpu_settings(cfg, environ={'OMP_NUM_THREADS': '1'}, cpus=2,
                               load=0.0)
    assert cfg.train_dataloader.num_workers == 3
    assert cfg.train_dataloader.persistent_workers is True
    assert cfg.val_dataloader.num_workers == 0
    assert torch.get_num_threads() == 1
    assert 'OMP_NUM_THREADS=1 kept' in lines[0]
    assert 'kept as configured: train_dataloader.num_workers=3' in lines[0]


def test_uncached_folder_gets_workers():
    cfg = config(data_root='/data', image_size=None)
    apply_cpu_settings(cfg, environ={}, cpus=4, load=0.0)
    assert cfg.train_dataloader.num_workers == 3
    assert cfg.train_dataloader.persistent_workers is True
    cfg = config(data_root='/data', image_size=64)  # cached
    apply_cpu_settings(cfg, environ={}, cpus=4, load=0.0)
    assert cfg.train_dataloader.num_workers == 0
    cfg = config(data_root='/data', image_size=64, cache_images=False)
    apply_cpu_settings(cfg, environ={}, cpus=4, load=0.0)
    assert cfg.train_dataloader.num_workers == 3


def test_bad_num_workers_string():
    with pytest.raises(ValueError, match="integer or 'auto'"):
        apply_cpu_settings(config(num_workers='many'), environ={}, cpus=2,
                           load=0.0)


def test_auto_config_loads_with_auto_workers():
    cfg = Config.fromfile('configs/auto_mbv3.py')
    lines = apply_cpu_settings(cfg, environ={}, cpus=2, load=0.0)
    assert all(isinstance(cfg[n].num_workers, int)
               for n in ('train_dataloader', 'val_dataloader',
                         'test_dataloader'))
    assert lines[0].startswith('CPU settings:')

