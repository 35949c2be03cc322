import json
import math
import subprocess
import sys
import warnings

import pytest
import torch

from conftest import hook_of, train
from mmtricks.engine import build_runner_ready_to_train
from mmtricks.hooks import LRFinderHook
from mmtricks.hooks import lr_finder_hook

FINDER = dict(type='LRFinderHook', num_steps=12, start_lr=1e-4, end_lr=5.0)


def finder_config(make_fast_config, work_dir, lr=0.1, finder=True,
                  max_epochs=2, **dataset):
    dataset.setdefault('bundled', 'lfw_faces')
    cfg = make_fast_config(work_dir=work_dir, max_epochs=max_epochs, **dataset)
    cfg.model.head.num_classes = 2
    cfg.data_preprocessor.num_classes = 2
    cfg.optim_wrapper.optimizer.lr = lr
    # warmup then cosine with a relative floor: both must follow the new LR
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0,
             end=1, convert_to_iter_based=True),
        dict(type='CosineAnnealingLR', by_epoch=True, begin=1,
             end=max_epochs, eta_min_ratio=0.01, convert_to_iter_based=True),
    ]
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h.type not in ('LRFinderHook', 'PreciseBNStatsHook',
                                          'AutoEpochsHook', 'HealthCheckHook')]
    if finder:
        cfg.custom_hooks.append(dict(FINDER))
    cfg.randomness = dict(seed=0, deterministic=True)
    return cfg


def finder_of(runner):
    return hook_of(runner, LRFinderHook)


@pytest.mark.slow
def test_run_is_bitwise_equal_to_one_started_at_the_found_lr(
        make_fast_config, tmp_path):
    tested = train(finder_config(make_fast_config, tmp_path / 'with'))
    found = finder_of(tested).result['lr']
    assert found != 0.1 and finder_of(tested).result['fallback_reason'] is None

    plain = train(finder_config(make_fast_config, tmp_path / 'plain',
                                lr=found, finder=False))
    a, b = tested.model.state_dict(), plain.model.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    lr_a = [g['lr'] for g in tested.optim_wrapper.param_groups]
    lr_b = [g['lr'] for g in plain.optim_wrapper.param_groups]
    assert lr_a == lr_b

    work = tmp_path / 'with'
    curve = json.loads((work / 'lr_finder.json').read_text())
    assert curve['lr'] == found and len(curve['lrs']) == curve['steps']
    assert (work / 'lr_finder.png').stat().st_size > 1000


@pytest.mark.slow
def test_resume_keeps_the_found_lr_without_testing_again(
        make_fast_config, tmp_path, monkeypatch):
    work = tmp_path / 'work'
    first = train(finder_config(make_fast_config, work, max_epochs=2))
    found = finder_of(first).result['lr']
    checkpoint = torch.load(work / 'epoch_2.pth', weights_only=True)
    assert checkpoint['lr_finder']['lr'] == found

    monkeypatch.setattr(LRFinderHook, 'find', lambda *a: pytest.fail(
        'the range test ran again on resume'))
    cfg = finder_config(make_fast_config, work, max_epochs=3)
    cfg.resume = True
    resumed = train(cfg)
    assert finder_of(resumed).result['lr'] == found
    assert resumed.param_schedulers[0].base_values[0] == found
    assert resumed.epoch == 3


def test_nan_loss_from_the_first_step_keeps_config_lr(make_fast_config,
                                                      tmp_path, monkeypatch):
    from mmpretrain.models import ImageClassifier
    monkeypatch.setattr(ImageClassifier, 'train_step',
                        lambda self, data, optim_wrapper: {'loss': torch.tensor(math.nan)})
    runner = build_runner_ready_to_train(finder_config(make_fast_config, tmp_path, lr=0.05))
    hook = finder_of(runner)
    hook.before_train(runner)
    assert hook.result['lr'] == 0.05
    assert 'NaN' in hook.result['fallback_reason']
    assert runner.optim_wrapper.param_groups[0]['initial_lr'] == 0.05


# A ramp of 11 steps, lr = 10 ** (-4 + i / 2), and a curve whose 'midpoint'
# is worked out by hand: centred_smooth (window 3 for under 30 points, ends
# unsmoothed) of these 8 losses is [3, 3, 3, 8/3, 2, 1, 1/3, 0]; the minimum
# is the last point, the drop 3 and the noise (median |loss - smoothed|) 0,
# so the descent is real. Done shares (3 - s) / 3 are [0, 0, 0, 1/9, 1/3,
# 2/3, 8/9, 1]: the last below 0.2 is step 3, so the descent starts at step
# 4, and the first at or above 0.8 from there is step 6. The suggestion is
# the geometric middle of lr[4] and lr[6], lr[5] = 10 ** -1.5.
RAMP = dict(num_steps=11, start_lr=1e-4, end_lr=10.0)
CURVE_BEFORE_FAILURE = [3.0, 3.0, 3.0, 3.0, 2.0, 1.0, 0.0, 0.0]
MIDPOINT_OF_CURVE = 10 ** -1.5


class HighLRError(RuntimeError):
    pass


def scripted_train_step(monkeypatch, losses, fail_at):
    """ImageClassifier.train_step replaced: step i returns losses[i] (a
    tensor attached to a graph, as MMEngine's is) and moves a weight, step
    ``fail_at`` raises."""
    from mmpretrain.models import ImageClassifier
    steps = []

    def train_step(self, data, optim_wrapper):
        step = len(steps)
        steps.append(optim_wrapper.optimizer.param_groups[0]['lr'])
        if step == fail_at:
            raise HighLRError(f'step {step} blew up')
        with torch.no_grad():
            next(self.parameters()).add_(1.0)
        return {'loss': torch.tensor(losses[step], requires_grad=True) * 1.0}

    monkeypatch.setattr(ImageClassifier, 'train_step', train_step)
    return steps


def ramp_runner(make_fast_config, tmp_path, lr=0.05):
    cfg = finder_config(make_fast_config, tmp_path, lr=lr)
    cfg.custom_hooks[-1].update(RAMP)
    return build_runner_ready_to_train(cfg)


def test_error_at_a_high_lr_suggests_from_the_curve_before_it(
        make_fast_config, tmp_path, monkeypatch):
    fail_at = len(CURVE_BEFORE_FAILURE)
    steps = scripted_train_step(monkeypatch, CURVE_BEFORE_FAILURE, fail_at)
    runner = ramp_runner(make_fast_config, tmp_path)
    weights = {k: v.clone() for k, v in runner.model.state_dict().items()}
    hook = finder_of(runner)
    with warnings.catch_warnings():
        # the loss comes attached to a graph: no "requires_grad" warning
        warnings.filterwarnings('error', message='.*requires_grad')
        hook.before_train(runner)
    assert len(steps) == fail_at + 1
    result = hook.result
    assert result['fallback_reason'] is None, result
    assert result['steps'] == fail_at
    assert result['losses'] == CURVE_BEFORE_FAILURE
    assert result['lr'] == pytest.approx(MIDPOINT_OF_CURVE, rel=1e-9)
    assert 'HighLRError: step 8 blew up' in result['step_error']
    assert 'at lr 1 ' in result['step_error']
    # the ramp's updates are undone, failure or not
    for key, value in runner.model.state_dict().items():
        assert torch.equal(value, weights[key]), key


def test_error_too_early_for_a_curve_keeps_config_lr(make_fast_config,
                                                     tmp_path, monkeypatch):
    scripted_train_step(monkeypatch, CURVE_BEFORE_FAILURE, fail_at=3)
    runner = ramp_runner(make_fast_config, tmp_path, lr=0.05)
    hook = finder_of(runner)
    hook.before_train(runner)
    assert hook.result['lr'] == 0.05 and hook.result['steps'] == 3
    reason = hook.result['fallback_reason']
    assert 'HighLRError' in reason and '3 steps before it' in reason


def test_error_in_the_first_step_is_raised(make_fast_config, tmp_path,
                                           monkeypatch):
    scripted_train_step(monkeypatch, CURVE_BEFORE_FAILURE, fail_at=0)
    runner = ramp_runner(make_fast_config, tmp_path)
    weights = {k: v.clone() for k, v in runner.model.state_dict().items()}
    with pytest.raises(HighLRError, match='step 0 blew up') as raised:
        finder_of(runner).before_train(runner)
    if sys.version_info >= (3, 11):
        assert 'not a bad learning rate' in ' '.join(raised.value.__notes__)
    for key, value in runner.model.state_dict().items():
        assert torch.equal(value, weights[key]), key


def simulate_second_rank(monkeypatch, fail_at):
    """This process plays rank 0 of 2; rank 1 reports the same losses as
    rank 0 and fails at step ``fail_at``."""
    step = [0]

    def all_reduce(tensor, op='sum'):
        assert op == 'sum'
        other_fails = step[0] == fail_at
        tensor += torch.tensor(
            [0.0 if other_fails else float(tensor[0]), float(other_fails)],
            dtype=tensor.dtype)
        step[0] += 1

    def all_gather_object(obj):
        return [obj, 'HighLRError: only on rank 1']

    monkeypatch.setattr(lr_finder_hook, 'all_reduce', all_reduce)
    monkeypatch.setattr(lr_finder_hook, 'get_world_size', lambda: 2)
    monkeypatch.setattr(lr_finder_hook, 'all_gather_object',
                        all_gather_object)


def test_error_on_another_rank_stops_this_one_too(make_fast_config,
                                                   tmp_path, monkeypatch):
    fail_at = len(CURVE_BEFORE_FAILURE)
    # this rank would go on: its step at `fail_at` does not fail
    steps = scripted_train_step(monkeypatch, CURVE_BEFORE_FAILURE + [5.0] * 3,
                                fail_at=None)
    simulate_second_rank(monkeypatch, fail_at)
    runner = ramp_runner(make_fast_config, tmp_path)
    hook = finder_of(runner)
    hook.before_train(runner)
    assert len(steps) == fail_at + 1
    assert hook.result['steps'] == fail_at
    assert hook.result['losses'] == CURVE_BEFORE_FAILURE  # averaged
    assert hook.result['lr'] == pytest.approx(MIDPOINT_OF_CURVE, rel=1e-9)
    assert 'on rank 1 (HighLRError: only on rank 1)' in \
        hook.result['step_error']


def test_first_step_error_on_another_rank_raises_here(make_fast_config,
                                                      tmp_path, monkeypatch):
    scripted_train_step(monkeypatch, CURVE_BEFORE_FAILURE, fail_at=None)
    simulate_second_rank(monkeypatch, fail_at=0)
    runner = ramp_runner(make_fast_config, tmp_path)
    with pytest.raises(RuntimeError, match='on rank 1 .*not a bad learning'):
        finder_of(runner).before_train(runner)


def test_reduce_step_counts_failed_ranks_without_their_loss(monkeypatch):
    # one process: the reduction is the identity
    assert lr_finder_hook._reduce_step(2.5, False) == (2.5, 0)
    assert lr_finder_hook._reduce_step(2.5, True) == (0.0, 1)


def test_import_mmtricks_does_not_import_matplotlib():
    code = ('import sys, mmtricks; '
            'print("matplotlib" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == 'False'


def test_batch_size_one_keeps_config_lr(make_fast_config, tmp_path):
    cfg = finder_config(make_fast_config, tmp_path, lr=0.05)
    cfg.train_dataloader.batch_size = 1
    runner = build_runner_ready_to_train(cfg)
    hook = finder_of(runner)
    hook.before_train(runner)
    assert hook.result['lr'] == 0.05
    assert 'batch size 1' in hook.result['fallback_reason']


def test_accumulating_finder_may_outlast_a_short_run(make_fast_config,
                                                    tmp_path):
    # 12 steps x 2 micro-batches on a run of 4 iterations: MMEngine's last
    # short window must not apply to the test (it raised a zero loss factor).
    cfg = finder_config(make_fast_config, tmp_path, max_epochs=1)
    cfg.train_cfg = dict(by_epoch=False, max_iters=4, val_interval=4)
    cfg.param_scheduler = []
    cfg.optim_wrapper.accumulative_counts = 2
    runner = build_runner_ready_to_train(cfg)
    hook = finder_of(runner)
    hook.before_train(runner)
    assert hook.result['fallback_reason'] is None, hook.result
    assert hook.result['steps'] >= 5
    wrapper = runner.optim_wrapper
    assert (wrapper._inner_count, wrapper._max_counts) == (0, 4)


def test_answer_does_not_depend_on_the_run_length(make_fast_config,
                                                 tmp_path):
    results = []
    for epochs in (2, 30):
        runner = build_runner_ready_to_train(finder_config(
            make_fast_config, tmp_path / str(epochs), max_epochs=epochs))
        results.append(finder_of(runner).find(runner))
    short, long = results
    assert short['training_iters'] != long['training_iters']
    assert short['losses'] == long['losses'] and short['lr'] == long['lr']


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        LRFinderHook(start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match='rule'):
        LRFinderHook(rule='magic')
    with pytest.raises(ValueError):
        LRFinderHook(lr_bounds=(1.0, 0.1))


TWO_RANK_WORKER = '''
import json, os, sys
from types import SimpleNamespace
import torch
import torch.distributed as dist
from mmengine.optim import OptimWrapper
from mmtricks.hooks import LRFinderHook

rank, fail_at = int(os.environ['RANK']), int(sys.argv[1])
dist.init_process_group('gloo')


class Toy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)
        self.steps = 0

    def train_step(self, data, optim_wrapper):
        self.steps += 1
        if rank == 1 and self.steps - 1 == fail_at:
            raise ValueError('rank 1 fails')
        loss = self.linear(data).pow(2).mean()
        optim_wrapper.update_params(loss)
        return {'loss': loss}


model = Toy()
runner = SimpleNamespace(
    model=model, train_dataloader=[torch.ones(4, 2)],
    optim_wrapper=OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)))
hook = LRFinderHook(num_steps=10)
try:
    losses, error = hook._ramp(runner, [1e-3] * 10)
    print(json.dumps(dict(steps=len(losses), error=error)))
except Exception as raised:
    print(json.dumps(dict(raised=type(raised).__name__)))
dist.destroy_process_group()
'''


def run_two_ranks(fail_at):
    import os
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = str(s.getsockname()[1])
    procs = [subprocess.Popen(
        [sys.executable, '-c', TWO_RANK_WORKER, str(fail_at)],
        env=dict(os.environ, RANK=str(rank), WORLD_SIZE='2',
                 MASTER_ADDR='127.0.0.1', MASTER_PORT=port,
                 OMP_NUM_THREADS='1'),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for rank in range(2)]
    results = []
    try:
        for proc in procs:
            # a rank left waiting in a collective would never exit
            out, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err[-3000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            proc.kill()
    return results


@pytest.mark.slow
@pytest.mark.dist
def test_two_gloo_ranks_stop_together_when_one_fails():
    later, first = run_two_ranks(fail_at=3), run_two_ranks(fail_at=0)
    assert later[0] == later[1]
    assert later[0]['steps'] == 3 and 'on rank 1' in later[0]['error']
    assert first == [dict(raised='RuntimeError'), dict(raised='ValueError')]
