"""time_budget on the recipe: planned before training, stored, kept."""
import time

import pytest
from mmengine.config import Config

import mmtricks.engine.time_budget as module
from mmtricks.engine.budget_plan import BudgetPlan
from mmtricks.engine.recipe_config import RecipeConfigError
from mmtricks.engine.time_budget import plan_time_budget, requested_budget_s

from conftest import AUTO_MBV3


def lfw_config(tmp_path, **settings):
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.model.backbone.init_cfg = None
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].dataset.bundled = 'lfw_faces'
        cfg[name].num_workers = 0
        cfg[name].persistent_workers = False
    cfg.merge_from_dict(settings)
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
    assert cfg.max_image_size == 64 and cfg.train_cfg.max_epochs == 33


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
    assert runner.max_epochs == plan['max_epochs'] >= 12
    finder = next(h for h in runner.hooks if isinstance(h, LRFinderHook))
    assert finder.num_steps == plan['finder_steps']
    assert any(isinstance(h, TimeBudgetHook) for h in runner.hooks)
    assert any('time budget 0.5 min' in r
               for r in runner.data_decisions.reasons)
    runner.train()
    assert time.monotonic() - start < 30 * 1.1
    saved = load_checkpoint_file(f'{cfg.work_dir}/best_auto_epochs.pth')
    assert saved['meta']['data_decisions']['time_budget'] == plan
