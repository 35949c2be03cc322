"""Configs of benchmark runs."""
from mmengine.config import Config

from benchmarks.runs import _set_policy, quiet


def test_quiet_keeps_the_best_checkpoint_a_recipe_may_ship():
    cfg = Config(dict(default_hooks=dict(
        logger=dict(type='LoggerHook', interval=10),
        checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2,
                        save_best='accuracy/top1', rule='greater'))))
    hook = quiet(cfg, 3).default_hooks.checkpoint
    assert (hook.save_best, hook.rule, hook.interval, hook.save_last) == (
        'accuracy/top1', 'greater', 10**6, False)
    assert cfg.randomness.seed == 3
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    assert 'save_best' not in quiet(cfg, 0).default_hooks.checkpoint


def test_policy_settings_go_where_the_config_keeps_the_policy():
    # in an AutoEpochsLR scheduler, where the config has one
    cfg = Config(dict(param_scheduler=[
        dict(type='LinearLR', end=2),
        dict(type='AutoEpochsLR', monitor='accuracy/top1', mode='anneal',
             patience=5, by_epoch=True, convert_to_iter_based=True)],
        custom_hooks=[dict(type='AutoEpochsHook')]))
    _set_policy(cfg, dict(mode='step', patience=3))
    assert cfg.param_scheduler[1] == dict(
        type='AutoEpochsLR', monitor='accuracy/top1', by_epoch=True,
        convert_to_iter_based=True, mode='step', patience=3)
    assert cfg.custom_hooks == [dict(type='AutoEpochsHook')]
    # else in the AutoEpochsHook
    cfg = Config(dict(param_scheduler=[dict(type='LinearLR', end=2)],
                      custom_hooks=[dict(type='AutoEpochsHook',
                                         mode='anneal', patience=5)]))
    _set_policy(cfg, dict(mode='step'))
    assert cfg.custom_hooks == [dict(type='AutoEpochsHook',
                                     monitor='accuracy/top1', mode='step')]


def test_a_budget_too_short_for_warmup_and_cosine_is_a_clear_error():
    import pytest

    from benchmarks.runs import cosine_schedule
    with pytest.raises(ValueError, match='at least 2 epochs'):
        cosine_schedule(1)
    assert [s['end'] for s in cosine_schedule(2)] == [1, 2]
