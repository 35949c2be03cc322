"""Torch threads by measurement (engine/thread_measurement.py): the rule on
given timings, the timing loops on a fake clock, a real measurement of a
tiny model, the runs that are not measured, and rank 0's answer on every
rank."""
import mmengine.dist
import pytest
import torch
from torch import nn

from mmtricks.engine import thread_measurement
from mmtricks.engine.thread_measurement import (apply_measured_threads,
                                                choose_measured_threads,
                                                gate_counts, measure_threads,
                                                skip_reason,
                                                thread_candidates,
                                                time_thread_counts)


@pytest.fixture(autouse=True)
def torch_threads_restored():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


class FakeClock:
    """A clock that moves only when a step says how long it took."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_candidates_are_each_count_up_to_4_then_powers_of_two():
    assert thread_candidates(1) == [1]
    assert thread_candidates(2) == [1, 2]
    assert thread_candidates(6) == [1, 2, 3, 4, 6]
    assert thread_candidates(16) == [1, 2, 3, 4, 8, 16]
    assert thread_candidates(24) == [1, 2, 3, 4, 8, 16, 24]


def test_a_stale_load_average_is_overruled_by_the_timings():
    # issue 27: a pip install ended seconds before; the load average says
    # one CPU is busy, but two threads run a step x1.8 faster now.
    threads, line = choose_measured_threads(
        {1: [0.20, 0.21], 2: [0.11, 0.12]}, guess=1)
    assert threads == 2
    assert 'the fastest; the load average said 1' in line
    assert '1: 205 ms, 2: 115 ms' in line


def test_the_guess_stands_unless_another_count_is_clearly_faster():
    assert choose_measured_threads({1: [0.20], 2: [0.19]}, guess=1)[0] == 1
    assert choose_measured_threads({1: [0.20], 2: [0.19]}, guess=2)[0] == 2
    assert choose_measured_threads({1: [0.15], 2: [0.20]}, guess=2)[0] == 1
    # a guess the probe ruled out (not timed) gives way
    assert choose_measured_threads({1: [0.2]}, guess=2)[0] == 1


def test_a_count_sometimes_held_up_pays_its_delays():
    # The median (0.1 s) would take 2 threads; the mean is what a run pays.
    seconds = {1: [0.20, 0.20, 0.20], 2: [0.10, 0.10, 0.50]}
    assert choose_measured_threads(seconds, guess=2)[0] == 1


def test_the_probe_stops_at_the_first_held_up_count():
    clock, tried = FakeClock(), []
    probe_seconds = {1: 0.010, 2: 0.006, 3: 0.300, 4: 0.004}
    current = {}

    def probe():
        tried.append(current['threads'])
        clock.now += probe_seconds[current['threads']]

    kept, probed = gate_counts([1, 2, 3, 4], probe,
                               lambda n: current.update(threads=n),
                               clock=clock)
    assert kept == [1, 2]
    assert tried == [1, 2, 3]  # 4 is not tried once 3 was held up
    assert probed[3] == pytest.approx(0.3)


def test_counts_are_timed_in_rounds_a_slow_one_dropped_within_budget():
    clock, order, current = FakeClock(), [], {}
    step_seconds = {1: 0.2, 2: 0.1, 3: 0.5}

    def step():
        order.append(current['threads'])
        clock.now += step_seconds[current['threads']]

    seconds = time_thread_counts(step, [1, 2, 3],
                                 lambda n: current.update(threads=n),
                                 budget_s=10.0, repeats=3, clock=clock)
    # round 1 all; 3 is x5 the best (2) and dropped; 1 is x2 and dropped
    assert order == [1, 2, 3, 2, 2]
    assert seconds[2] == pytest.approx([0.1, 0.1, 0.1])
    assert seconds[3] == pytest.approx([0.5])
    order.clear()
    seconds = time_thread_counts(step, [1, 2], lambda n: current.update(
        threads=n), budget_s=0.25, repeats=3, drop_ratio=100, clock=clock)
    assert order == [1, 2]  # the first round spent the budget


class TinyModel(nn.Module):
    """An MMEngine-style model: ``forward(inputs, mode)``."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8),
                                  nn.ReLU(), nn.Dropout(0.5),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(8, 2))

    def forward(self, inputs, mode='tensor'):
        return self.body(inputs)


def test_a_real_measurement_leaves_the_model_and_random_state_alone():
    model = TinyModel()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    threads, line = measure_threads(model, batch=16, size=16, cores=2,
                                    guess=2, budget_s=0.5)
    assert threads in (1, 2)
    assert torch.get_num_threads() == 2  # left at the guess
    assert torch.equal(torch.get_rng_state(), rng)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(p.grad is None for p in model.parameters())
    assert line.startswith(f'{threads} thread')


def _never_measured(*args, **kwargs):
    raise AssertionError('measured')


@pytest.mark.parametrize('cfg, environ, reason', [
    (dict(randomness=dict(deterministic=True)), {}, 'deterministic'),
    ({}, {'OMP_NUM_THREADS': '2'}, 'OMP_NUM_THREADS'),
    ({}, {'LOCAL_WORLD_SIZE': '2'}, 'one core'),
])
def test_runs_whose_threads_are_not_measured(monkeypatch, cfg, environ,
                                             reason):
    # A deterministic run keeps threads that depend on the CPUs alone.
    monkeypatch.setattr(thread_measurement, 'measure_threads',
                        _never_measured)
    torch.set_num_threads(1)
    assert reason in skip_reason(cfg, environ, cpus=2)
    assert apply_measured_threads(TinyModel(), cfg, 16, 16, environ,
                                  cpus=2) is None
    assert torch.get_num_threads() == 1


def test_every_rank_takes_rank_0s_answer(monkeypatch):
    # Rank 1 does not measure; it sets what rank 0 broadcast.
    monkeypatch.setattr(thread_measurement, 'measure_threads',
                        _never_measured)
    monkeypatch.setattr(mmengine.dist, 'get_rank', lambda: 1)
    sent = []

    def broadcast(objects, src):
        sent.append(src)
        objects[:] = [2, '2 threads (from rank 0)']

    monkeypatch.setattr(mmengine.dist, 'broadcast_object_list', broadcast)
    torch.set_num_threads(1)
    line = apply_measured_threads(TinyModel(), {}, 16, 16, {}, cpus=2)
    assert sent == [0]
    assert torch.get_num_threads() == 2
    assert line == 'CPU threads by measurement: 2 threads (from rank 0)'


def test_rank_0_measures_and_broadcasts_its_answer(monkeypatch):
    monkeypatch.setattr(thread_measurement, 'measure_threads',
                        lambda *a, **k: (2, '2 threads (the fastest)'))
    sent = []
    monkeypatch.setattr(mmengine.dist, 'broadcast_object_list',
                        lambda objects, src: sent.append(list(objects)))
    torch.set_num_threads(1)
    line = apply_measured_threads(TinyModel(), {}, 16, 16, {}, cpus=2)
    assert sent[0][0] == 2
    assert torch.get_num_threads() == 2
    assert line.startswith('CPU threads by measurement: 2 threads (the '
                           'fastest); measured in ')


def test_a_step_that_cannot_be_timed_keeps_the_guess(monkeypatch):
    def broken(*args, **kwargs):
        raise TypeError('forward() got an unexpected keyword argument')

    monkeypatch.setattr(thread_measurement, 'measure_threads', broken)
    torch.set_num_threads(1)
    line = apply_measured_threads(TinyModel(), {}, 16, 16, {}, cpus=2)
    assert torch.get_num_threads() == 1
    assert 'could not be timed: TypeError' in line


def test_the_runner_measures_before_training(monkeypatch, tmp_path):
    from conftest import fast_config

    from mmtricks.engine import build_runner, data_aware_runner
    calls = []

    class Measured(Exception):
        pass

    def measured(model, cfg, batch, size):
        calls.append((batch, size))
        raise Measured

    monkeypatch.setattr(data_aware_runner, 'apply_measured_threads',
                        measured)
    runner = build_runner(fast_config(work_dir=tmp_path,
                                      bundled='lfw_faces'))
    with pytest.raises(Measured):
        runner.train()
    assert calls == [(runner.data_decisions.batch_size,
                      runner.data_decisions.image_size)]


def test_the_runs_model_and_its_hooks_are_not_what_is_timed(monkeypatch):
    """A forward hook on the run's model (a user's feature hook, a test's
    recorder) saw the timed steps' batches of 8 random images."""
    from mmengine.config import Config

    from conftest import AUTO_MBV3
    from mmtricks.engine.step_timing import build_timing_model
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.model.head.num_classes = 2
    cfg.model.backbone.init_cfg = None
    model = build_timing_model(cfg)
    seen = []
    model.head.register_forward_hook(lambda *args: seen.append(1))
    timed = []
    monkeypatch.setattr(
        thread_measurement, 'measure_threads',
        lambda m, *a, **k: (timed.append(m), m(torch.randn(2, 3, 32, 32),
                                              mode='tensor'))[0] and
        (1, 'measured'))
    monkeypatch.setattr(mmengine.dist, 'broadcast_object_list',
                        lambda objects, src: None)
    apply_measured_threads(model, cfg, 16, 32, {}, cpus=2)
    assert timed and timed[0] is not model and not seen
