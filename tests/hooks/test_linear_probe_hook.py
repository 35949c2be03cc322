"""LinearProbeHook: the head starts from a linear probe on the frozen
features, and nothing else about the run changes."""
import math
import os.path as osp

import pytest
import torch
from torch import nn

from mmtricks.compat.checkpoint_loading import load_checkpoint_file
from mmtricks.engine import build_runner
from mmtricks.hooks import LinearProbeHook
from mmtricks.hooks.linear_probe_hook import (CHECKPOINT_KEY,
                                              linear_head_layer)
from mmtricks.models.heads.linear_probe import L2_GRID

from conftest import REPO, hook_of, train

# A pretrained backbone's recipe (its head is one linear layer); the tests
# start it from random weights (fast_config), which the probe treats alike.
AUTO_EFFNET_LITE0 = osp.join(REPO, 'configs', 'auto_effnet_lite0.py')


def probe_config(make_fast_config, **kwargs):
    cfg = make_fast_config(path=AUTO_EFFNET_LITE0, **kwargs)
    cfg.custom_hooks = list(cfg.custom_hooks) + [dict(type='LinearProbeHook')]
    return cfg


def test_the_head_is_fitted_and_nothing_else_changes(make_fast_config):
    runner = build_runner(probe_config(make_fast_config))
    # what Runner.train() builds before its before_train hooks
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    model = runner.model
    head = linear_head_layer(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    hook = hook_of(runner, LinearProbeHook)

    hook.before_train(runner)

    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {'head.fc.weight', 'head.fc.bias'}
    assert torch.equal(torch.get_rng_state(), rng)
    assert model.training  # the modes the run had
    result = hook.result
    assert result['l2'] in L2_GRID and result['val_top1'] is not None
    # better than the uniform guess on the images it was fitted to
    classes = head.out_features
    assert result['train_loss'] < math.log(classes)


def test_runs_after_the_lr_range_test_and_fits_the_ema_copy_too(
        make_fast_config):
    cfg = probe_config(make_fast_config)
    cfg.custom_hooks.append(dict(type='EMAHook', momentum=0.001))
    cfg.custom_hooks.append(dict(type='LRFinderHook', num_steps=5))
    runner = build_runner(cfg)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    order = [type(h).__name__ for h in runner.hooks]
    # the range test's snapshot restores the head: the probe comes after
    assert order.index('LRFinderHook') < order.index('LinearProbeHook')
    runner.call_hook('before_run')  # EMAHook makes its copy here
    hook_of(runner, LinearProbeHook).before_train(runner)
    ema = next(h for h in runner.hooks if type(h).__name__ == 'EMAHook')
    head = linear_head_layer(runner.model)
    ema_head = linear_head_layer(ema.ema_model.module)
    assert torch.equal(head.weight, ema_head.weight)
    assert torch.equal(head.bias, ema_head.bias)


def test_a_run_with_the_probe_trains_and_keeps_its_record(make_fast_config):
    runner = train(probe_config(make_fast_config))
    checkpoint = load_checkpoint_file(f'{runner.work_dir}/epoch_1.pth')
    assert checkpoint[CHECKPOINT_KEY]['images'] > 0


def test_a_head_without_one_linear_layer_is_refused():
    model = nn.Module()
    model.head = nn.Identity()
    with pytest.raises(ValueError, match='remove LinearProbeHook'):
        linear_head_layer(model)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        LinearProbeHook(max_images=0)
