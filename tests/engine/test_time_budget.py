"""time_budget on the recipe: planned before training, stored, kept."""
import time

import pytest
from mmengine.config import Config

import mmtricks.engine.time_budget as module
from mmtricks.engine.budget_plan import BudgetPlan, epoch_ceiling
from mmtricks.engine.recipe_config import RecipeConfigError
from mmtricks.engine.time_budget import plan_time_budget, requested_budget_s

from conftest import AUTO_MBV3, bundled_config


def lfw_config(tmp_path, recipe=AUTO_MBV3, **settings):
    cfg = bundled_config(recipe, tmp_path / 'work', **settings)
    cfg.model.backbone.init_cfg = None
    return cfg


@pytest.mark.parametrize('bad', [0, -1, True, '15', [15]])
def test_a_budget_that_is_not_a_positive_number_is_refused(bad):
    with pytest.raises(RecipeConfigError, match='time_budget'):
        requested_budget_s(Config(dict(time_budget=bad)))
    assert requested_budget_s(Config(dict(time_budget=None))) is None
    assert requested_budget_s(Config(dict(time_budget=1.5))) == 90.0


def test_without_a_budget_nothing_changes(tmp_path):
    cfg = lfw_config(tmp_path)
    before = cfg.to_dict()
    assert plan_time_budget(cfg) is None
    assert cfg.to_dict() == before


def test_a_resumed_plan_is_taken_back_without_measuring(tmp_path,
                                                        monkeypatch):
    def measuring(*args, **kwargs):
        raise AssertionError('measured again on resume')
    monkeypatch.setattr(module, 'time_sizes', measuring)
    cfg = lfw_config(tmp_path, time_budget=10)
    stored = BudgetPlan(budget_s=300.0, image_size=64, max_epochs=33,
                        finder_steps=20, epoch_s=3.0, reason='').to_meta()
    plan = plan_time_budget(cfg, stored)
    assert (plan.image_size, plan.max_epochs, plan.budget_s) == \
        (64, 33, 600.0)
    assert cfg.max_image_size == 64
    assert cfg.train_cfg.max_epochs == epoch_ceiling(33) == 50
    hook = next(h for h in cfg.custom_hooks if h['type'] == 'TimeBudgetHook')
    assert hook['planned_epochs'] == 33


def test_too_small_a_budget_is_refused_before_training(tmp_path):
    cfg = lfw_config(tmp_path, time_budget=0.05)  # 3 s
    with pytest.raises(RecipeConfigError, match='at least time_budget='):
        plan_time_budget(cfg)


@pytest.mark.slow
def test_a_budgeted_run_ends_by_its_deadline_and_stores_its_plan(
        tmp_path, monkeypatch):
    import mmtricks.hooks.time_budget_hook as clock
    monkeypatch.setattr(clock, 'FRESH_PROCESS_S', 0.0)  # not pytest's start
    from mmtricks.compat.checkpoint_loading import load_checkpoint_file
    from mmtricks.engine import build_runner
    from mmtricks.hooks import LRFinderHook, TimeBudgetHook
    cfg = lfw_config(tmp_path, time_budget=0.5)
    start = time.monotonic()
    runner = build_runner(cfg)
    plan = runner.data_decisions.time_budget
    assert plan['image_size'] == 32  # lfw_faces is 25 px
    assert runner.max_epochs == epoch_ceiling(plan['max_epochs'])
    assert plan['max_epochs'] >= 12
    finder = next(h for h in runner.hooks if isinstance(h, LRFinderHook))
    assert finder.num_steps == plan['finder_steps']
    assert any(isinstance(h, TimeBudgetHook) for h in runner.hooks)
    assert any('time budget 0.5 min' in r
               for r in runner.data_decisions.reasons)
    runner.train()
    assert time.monotonic() - start < 30 * 1.1
    saved = load_checkpoint_file(f'{cfg.work_dir}/best_auto_epochs.pth')
    assert saved['meta']['data_decisions']['time_budget'] == plan


TWO_RANK_WORKER = '''
import json, os, sys
from mmengine.config import Config
import mmtricks  # noqa: F401  (CPU process groups)
from mmtricks.engine.budget_plan import BudgetPlan, BudgetTooSmall
from mmtricks.engine.recipe_config import RecipeConfigError
from mmtricks.engine.time_budget import _planned_on_rank_0

rank = int(os.environ['RANK'])
cfg = Config(dict(launcher='pytorch', env_cfg=dict(dist_cfg=dict(backend=None))))


def plan(world_size):
    if sys.argv[1] == 'refuse':
        raise BudgetTooSmall('time_budget=0.1 min is too small')
    # each rank would measure its own times: a different size
    return BudgetPlan(budget_s=60.0, image_size=32 * (rank + 1),
                      max_epochs=10 + world_size, finder_steps=15,
                      epoch_s=1.0, reason='')


try:
    got = _planned_on_rank_0(cfg, plan)
    print('RESULT', json.dumps([rank, got.image_size, got.max_epochs]))
except RecipeConfigError as error:
    print('REFUSED', rank, error)
'''


@pytest.mark.slow
@pytest.mark.dist
@pytest.mark.parametrize('case', ['plan', 'refuse'])
def test_every_rank_takes_rank_0s_plan(tmp_path, case):
    import json
    import os
    import subprocess
    import sys
    script = tmp_path / 'worker.py'
    script.write_text(TWO_RANK_WORKER)
    result = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node',
         # one port per case: the previous case's may still be in TIME_WAIT
         '2', '--master_port', str(29743 + (case == 'refuse')), str(script),
         case],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    output = result.stdout + result.stderr
    if case == 'refuse':
        assert output.count('REFUSED') == 2, output[-3000:]
        assert 'time_budget=0.1 min is too small' in output
        return
    results = sorted(json.loads(line.split('RESULT ', 1)[1])
                     for line in output.splitlines() if 'RESULT ' in line)
    assert results == [[0, 32, 12], [1, 32, 12]], output[-3000:]


def test_a_compile_is_kept_out_of_the_budget_when_it_will_happen():
    from mmtricks.engine.budget_plan import RunShape, SizeTiming
    from mmtricks.engine.compile_settings import MIN_COMPILE_S
    from mmtricks.engine.time_budget import compile_reserve_s
    timings = [SizeTiming(64, 0.5, 0.002)]
    shape = RunShape(train_steps=20, eval_images=100)
    long = BudgetPlan(budget_s=3600.0, image_size=64, max_epochs=200,
                      finder_steps=50, epoch_s=10.0, reason='')
    short = BudgetPlan(budget_s=120.0, image_size=64, max_epochs=12,
                       finder_steps=15, epoch_s=10.0, reason='')
    assert compile_reserve_s(False, long, timings, shape) == 0.0
    assert compile_reserve_s(True, short, timings, shape) == MIN_COMPILE_S
    # 'auto' compiles (and so spends a compile) only when it could pay
    assert compile_reserve_s('auto', long, timings, shape) == MIN_COMPILE_S
    assert compile_reserve_s('auto', short, timings, shape) == 0.0


def test_compile_auto_expects_the_whole_cap_under_a_budget():
    """The anneal fills a budgeted cap: 'auto' must not count on the epoch
    policy stopping at half of it."""
    from types import SimpleNamespace

    from mmtricks.engine.compile_settings import iterations_of
    from mmtricks.hooks import AutoEpochsHook, TimeBudgetHook
    hooks = [AutoEpochsHook()]
    runner = SimpleNamespace(hooks=hooks, max_iters=1000, iter=0)
    assert iterations_of(runner) == 500
    hooks.append(TimeBudgetHook(budget_s=60.0))
    assert iterations_of(runner) == 1000


def test_candidates_are_timed_on_the_measured_threads(tmp_path, monkeypatch):
    """The load average's guess lags (a job that just ended still counts):
    sizes timed on it made epochs run twice as fast as planned."""
    import torch

    import mmtricks.engine.thread_measurement as threads_module
    from mmtricks.engine.budget_plan import SizeTiming
    threads = {'n': 1}
    monkeypatch.setattr(torch, 'get_num_threads', lambda: threads['n'])
    monkeypatch.setattr(torch, 'set_num_threads',
                        lambda n: threads.__setitem__('n', int(n)))
    monkeypatch.setattr(threads_module, 'skip_reason', lambda *a: None)
    monkeypatch.setattr(threads_module, 'measure_threads',
                        lambda *a, **k: (2, 'measured'))
    seen = []

    def timed(probe, sizes, batch, keep_going):
        seen.append(torch.get_num_threads())
        return [SizeTiming(32, 0.01, 0.0001)]
    monkeypatch.setattr(module, 'time_sizes', timed)
    plan_time_budget(lfw_config(tmp_path, time_budget=2))
    assert seen == [2]


def test_sizes_are_timed_with_the_models_checkpoint_cost(tmp_path):
    """EfficientNet-Lite0's checkpoints cost more than MobileNetV3-small's:
    a constant made its planned epochs too short."""
    from mmtricks.engine.step_timing import time_sizes
    cfg = lfw_config(tmp_path)
    cfg.model.head.num_classes = 2
    timings = time_sizes(cfg, [32, 64], batch_size=4)
    assert timings[0].checkpoint_s == timings[1].checkpoint_s > 0


@pytest.mark.parametrize('recipe, cap, keeps_going', [
    ('auto_mbv3.py', 60, False),          # needs 40 epochs from scratch
    ('auto_effnet_lite0.py', 20, True),   # its fine-tuning needs its 20
])
def test_a_size_must_give_the_epochs_the_recipe_needs(
        tmp_path, monkeypatch, recipe, cap, keeps_going):
    import os.path as osp

    from mmtricks.engine.budget_plan import SizeTiming, epoch_seconds
    cfg = lfw_config(tmp_path, osp.join(osp.dirname(AUTO_MBV3), recipe),
                     time_budget=10)
    assert cfg.train_cfg.max_epochs == cap
    answers = []

    def timed(probe, sizes, batch, keep_going):
        # a size whose epochs take 1/25 of the budget: 25 epochs fit
        # (evaluation is the cost, so the range test's steps are cheap)
        shape = module._run_shape(probe, batch)
        infer_s = (600 * 0.9 / 25 - shape.train_steps * 0.01 - 0.3) / \
            shape.eval_images
        timing = SizeTiming(32, 0.01, infer_s, checkpoint_s=0.3)
        assert 24 <= 600 * 0.9 / epoch_seconds(timing, shape) <= 26
        answers.append(keep_going(timing))
        return [timing]
    monkeypatch.setattr(module, 'time_sizes', timed)
    monkeypatch.setattr(module, '_threads_by_measurement', lambda *a: None)
    module.measure_and_plan(cfg, 600)
    assert answers == [keeps_going]
