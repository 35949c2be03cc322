import json
import math

import pytest
import torch

from conftest import hook_of, train
from mmtricks.engine import build_runner_ready_to_train
from mmtricks.hooks import LRFinderHook

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
