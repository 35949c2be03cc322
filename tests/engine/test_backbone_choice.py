"""configs/auto.py: the recipe chooses the backbone, logs why, stores it,
and every later use of the checkpoint takes it back."""
import os.path as osp

import pytest
from mmengine.config import Config

import mmtricks.engine.backbone_choice as choice_module
import mmtricks.engine.time_budget as budget_module
from mmtricks.engine.backbone_choice import (CANDIDATES_KEY, CHOSEN_KEY,
                                             settle_backbone)
from mmtricks.engine.budget_plan import SizeTiming
from mmtricks.engine.recipe_config import (RecipeConfigError,
                                           apply_data_decisions)
from mmtricks.engine.time_budget import plan_time_budget

from conftest import REPO, bundled_config

AUTO = osp.join(REPO, 'configs', 'auto.py')


def auto_config(tmp_path, **settings):
    return bundled_config(AUTO, tmp_path / 'work', **settings)


def without_packaged_weights(monkeypatch):
    real = choice_module.pretrained_weights_present
    monkeypatch.setattr(
        choice_module, 'pretrained_weights_present',
        lambda model: False if model['backbone']['type'] ==
        'EfficientNetLite' else real(model))


def test_without_a_budget_the_packaged_weights_are_chosen(tmp_path):
    cfg = auto_config(tmp_path)
    decisions = apply_data_decisions(cfg)
    assert decisions.backbone == cfg[CHOSEN_KEY] == 'auto_effnet_lite0.py'
    assert cfg[CANDIDATES_KEY] is None
    assert cfg.model.backbone.type == 'EfficientNetLite'
    assert cfg.data_preprocessor.mean == [127.0, 127.0, 127.0]
    assert cfg.train_cfg.max_epochs == 20  # its recipe's cap
    # its fine-tuning LR, not auto_mbv3's from-scratch 0.1, when the LR
    # range test gives no answer
    assert cfg.optim_wrapper.optimizer.lr == 0.01
    assert decisions.reasons[0].startswith('backbone auto_effnet_lite0.py')
    assert decisions.to_meta()['backbone'] == 'auto_effnet_lite0.py'


def test_without_the_weights_the_first_candidate_trains(tmp_path,
                                                        monkeypatch):
    without_packaged_weights(monkeypatch)
    cfg = auto_config(tmp_path)
    assert apply_data_decisions(cfg).backbone == 'auto_mbv3.py'
    assert cfg.model.backbone.type == 'MobileNetV3'
    assert cfg.train_cfg.max_epochs == 60
    assert cfg.optim_wrapper.optimizer.lr == 0.1


def test_a_model_the_user_changed_is_refused_not_replaced(tmp_path):
    cfg = auto_config(tmp_path, model=dict(head=dict(loss=dict(
        label_smooth_val=0.2))))
    with pytest.raises(RecipeConfigError,
                       match='backbone_candidates=None` to train your model'):
        apply_data_decisions(cfg)
    cfg = auto_config(tmp_path, backbone_candidates=None,
                      model=dict(head=dict(loss=dict(label_smooth_val=0.2))))
    assert apply_data_decisions(cfg).backbone is None


def test_an_epoch_cap_and_an_lr_the_user_set_are_kept(tmp_path):
    cfg = auto_config(tmp_path, train_cfg=dict(max_epochs=7),
                      optim_wrapper=dict(optimizer=dict(lr=0.05)))
    apply_data_decisions(cfg)
    assert cfg.model.backbone.type == 'EfficientNetLite'
    assert cfg.train_cfg.max_epochs == 7
    assert cfg.optim_wrapper.optimizer.lr == 0.05


def test_the_checkpoints_backbone_is_taken_back(tmp_path, monkeypatch):
    # the rule would choose EfficientNet-Lite0 here; the checkpoint says not
    cfg = auto_config(tmp_path)
    line = settle_backbone(cfg, dict(backbone='auto_mbv3.py'), prior=False)
    assert cfg.model.backbone.type == 'MobileNetV3'
    assert 'the one the checkpoint was trained with' in line
    cfg = auto_config(tmp_path)
    assert settle_backbone(cfg, None, prior=False) is None
    assert cfg[CANDIDATES_KEY]  # left for the budget or the prior
    with pytest.raises(RecipeConfigError, match='auto_lite9.py'):
        settle_backbone(auto_config(tmp_path),
                        dict(backbone='auto_lite9.py'))


def fake_timings(step_s_by_backbone):
    def timed(probe, sizes, batch, keep_going):
        step_s = step_s_by_backbone[probe.model.backbone.type]
        return [SizeTiming(size, step_s * size / 32, 0.0005)
                for size in sizes]
    return timed


@pytest.mark.parametrize('effnet_step_s, chosen', [
    (0.05, 'auto_effnet_lite0.py'),  # gets its 20 epochs: fine-tunes
    (3.0, 'auto_mbv3.py'),           # would get under 20: scratch trains
])
def test_a_budget_chooses_by_the_measured_plans(tmp_path, monkeypatch,
                                                effnet_step_s, chosen):
    monkeypatch.setattr(budget_module, 'time_sizes', fake_timings(
        dict(MobileNetV3=0.05, EfficientNetLite=effnet_step_s)))
    monkeypatch.setattr(budget_module, '_threads_by_measurement',
                        lambda *a: None)
    cfg = auto_config(tmp_path, time_budget=2)
    plan = plan_time_budget(cfg)
    assert cfg[CHOSEN_KEY] == chosen and cfg[CANDIDATES_KEY] is None
    assert f'Chosen backbone {chosen}' in plan.reason
    assert 'Also measured' in plan.reason
    assert apply_data_decisions(cfg).backbone == chosen


def test_a_budget_no_candidate_fits_is_refused_with_each_reason(
        tmp_path, monkeypatch):
    monkeypatch.setattr(budget_module, 'time_sizes', fake_timings(
        dict(MobileNetV3=5.0, EfficientNetLite=9.0)))
    monkeypatch.setattr(budget_module, '_threads_by_measurement',
                        lambda *a: None)
    with pytest.raises(RecipeConfigError, match='at least time_budget='):
        plan_time_budget(auto_config(tmp_path, time_budget=1))


@pytest.mark.slow
def test_train_then_test_and_deploy_config_follow_the_choice(
        tmp_path, monkeypatch):
    """Trained with EfficientNet-Lite0 (the packaged weights), tested with
    configs/auto.py on a machine where the rule would now choose
    MobileNetV3: the checkpoint's backbone is built, and loads."""
    from mmtricks.compat.checkpoint_loading import load_checkpoint_file
    from mmtricks.engine import build_runner
    cfg = auto_config(tmp_path, train_cfg=dict(max_epochs=1))
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h.type not in ('LRFinderHook', 'AutoEpochsHook')]
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0)]
    runner = build_runner(cfg)
    runner.train()
    assert runner.data_decisions.backbone == 'auto_effnet_lite0.py'
    checkpoint = osp.join(cfg.work_dir, 'epoch_1.pth')
    saved = load_checkpoint_file(checkpoint)
    assert saved['meta']['data_decisions']['backbone'] == \
        'auto_effnet_lite0.py'
    dumped = Config.fromfile(osp.join(cfg.work_dir, 'auto.py'))
    assert dumped[CANDIDATES_KEY] is None
    assert dumped.model.backbone.type == 'EfficientNetLite'

    without_packaged_weights(monkeypatch)
    test_cfg = auto_config(tmp_path, load_from=checkpoint,
                           work_dir=str(tmp_path / 'test'))
    tester = build_runner(test_cfg)
    assert tester.cfg.model.backbone.type == 'EfficientNetLite'
    assert tester.data_decisions.backbone == 'auto_effnet_lite0.py'
    assert 'accuracy/top1' in tester.test()

    from mmtricks.deploy.prepare import prepare_configs
    deployed, _ = prepare_configs(
        AUTO, osp.join(REPO, 'configs', 'deploy',
                       'classification_openvino_static.py'),
        checkpoint=checkpoint, log=lambda line: None)
    assert deployed.model.backbone.type == 'EfficientNetLite'


def test_every_rank_builds_the_backbone_rank_0_planned(tmp_path,
                                                       monkeypatch):
    """Under torchrun only rank 0 measures: the others take its plan, and
    must build the backbone it names, not the one their own rule picks."""
    from mmtricks.engine.budget_plan import BudgetPlan, epoch_ceiling
    rank_0s = BudgetPlan(budget_s=120.0, image_size=32, max_epochs=50,
                         finder_steps=15, epoch_s=2.0, reason='rank 0',
                         backbone='auto_effnet_lite0.py')
    monkeypatch.setattr(budget_module, '_planned_on_rank_0',
                        lambda cfg, plan: rank_0s)
    cfg = auto_config(tmp_path, time_budget=2)
    assert plan_time_budget(cfg) is rank_0s
    assert cfg.model.backbone.type == 'EfficientNetLite'
    assert cfg[CHOSEN_KEY] == 'auto_effnet_lite0.py'
    assert cfg[CANDIDATES_KEY] is None
    assert cfg.train_cfg.max_epochs == epoch_ceiling(50)  # the headroom
