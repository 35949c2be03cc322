import pytest
import torch

from conftest import hook_of, train
from mmtricks.hooks import AutoEpochsHook
from mmtricks.hooks.plateau_policy import lr_scale_at

AGGRESSIVE = dict(type='AutoEpochsHook', patience=1, stop_patience=1,
                  warmup=1, min_scale=0.01, min_delta=0.5,
                  force_decay_at=1.0)


def auto_config(make_fast_config, work_dir, max_epochs, lr=0.1, **hook):
    cfg = make_fast_config(work_dir=work_dir, max_epochs=max_epochs,
                           bundled='lfw_faces')
    cfg.model.head.num_classes = 2
    cfg.data_preprocessor.num_classes = 2
    cfg.optim_wrapper.optimizer.lr = lr
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.1,
                                by_epoch=True, begin=0, end=1,
                                convert_to_iter_based=True)]
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h.type not in ('LRFinderHook', 'AutoEpochsHook')]
    cfg.custom_hooks.append(dict(AGGRESSIVE, **hook))
    cfg.randomness = dict(seed=0, deterministic=True)
    # MMEngine does not restore RNG streams on resume: take random crops and
    # dropout out so that an interrupted run can be compared bit for bit.
    cfg.model.head.dropout_rate = 0.0
    cfg.train_dataloader.dataset.pipeline = cfg.test_pipeline
    return cfg


def by_iterations(cfg, max_iters, val_interval=3):
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                         val_interval=val_interval)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        interval=val_interval, by_epoch=False)
    cfg.param_scheduler = []
    return cfg


def auto_hook(runner):
    return hook_of(runner, AutoEpochsHook)


@pytest.mark.slow
@pytest.mark.parametrize('mode', [
    dict(), dict(mode='anneal', patience=1, min_anneal=3)])
def test_resumed_run_decides_like_an_uninterrupted_one(make_fast_config,
                                                       tmp_path, mode):
    # A cap the policy stops before: lfw_faces trains on 80 images (2
    # iterations an epoch), the anneal mode stops at epoch 12.
    cap = 16
    whole = train(auto_config(make_fast_config, tmp_path / 'whole', cap,
                              **mode))
    state = auto_hook(whole).state
    assert state.stopped and whole.epoch < cap, state.trace
    stop_epoch = whole.epoch

    interrupted_at = 3
    assert interrupted_at < stop_epoch
    train(auto_config(make_fast_config, tmp_path / 'parts', interrupted_at,
                      **mode))
    cfg = auto_config(make_fast_config, tmp_path / 'parts', cap, **mode)
    cfg.resume = True
    resumed = train(cfg)
    assert resumed.epoch == stop_epoch
    assert auto_hook(resumed).state.trace == state.trace
    assert [g['lr'] for g in resumed.optim_wrapper.param_groups] == \
        [g['lr'] for g in whole.optim_wrapper.param_groups]


@pytest.mark.slow
def test_final_weights_are_the_best_validated(make_fast_config, tmp_path):
    runner = train(auto_config(make_fast_config, tmp_path, 12))
    hook = auto_hook(runner)
    for key, value in runner.model.state_dict().items():
        assert torch.equal(value, hook.best_weights[key]), key
    saved = torch.load(tmp_path / 'best_auto_epochs.pth', weights_only=True)
    assert torch.equal(saved['state_dict']['head.layers.1.fc.weight'],
                       hook.best_weights['head.layers.1.fc.weight'])


@pytest.mark.slow
def test_diverged_run_stops_instead_of_training_on(make_fast_config,
                                                   tmp_path):
    cfg = auto_config(make_fast_config, tmp_path, 12, lr=1e4,
                      patience=50, stop_patience=50)
    runner = train(cfg)
    state = auto_hook(runner).state
    assert runner.epoch < 12
    assert 'NaN' in state.reason


def test_missing_metric_names_the_available_ones(make_fast_config, tmp_path):
    cfg = auto_config(make_fast_config, tmp_path, 2, monitor='accuracy/top5')
    with pytest.raises(KeyError, match='accuracy/top1'):
        train(cfg)


def test_no_validation_is_a_clear_error(make_fast_config, tmp_path):
    cfg = auto_config(make_fast_config, tmp_path, 2)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    with pytest.raises(ValueError, match='validation'):
        train(cfg)


@pytest.mark.slow
def test_decides_once_per_validation_with_val_interval(make_fast_config,
                                                       tmp_path):
    cfg = auto_config(make_fast_config, tmp_path, 8)
    cfg.train_cfg.val_interval = 2
    runner = train(cfg)
    steps = [step for step, *_ in auto_hook(runner).state.trace]
    assert steps and all(step % 2 == 0 for step in steps), steps


@pytest.mark.slow
def test_iteration_based_validation(make_fast_config, tmp_path):
    runner = train(by_iterations(auto_config(make_fast_config, tmp_path, 2),
                                 max_iters=30))
    trace = auto_hook(runner).state.trace
    assert [step for step, *_ in trace] == \
        list(range(3, 3 * len(trace) + 1, 3))
    assert trace[-1][3] == 'stop' or runner.iter == 30


def test_anneal_by_iterations_ends_where_it_said(make_fast_config, tmp_path):
    runner = train(by_iterations(auto_config(
        make_fast_config, tmp_path, 2, mode='anneal', min_anneal=6,
        anneal_ratio=0.1), max_iters=60))
    state = auto_hook(runner).state
    assert state.anneal_end - state.anneal_start == 6, state.trace
    assert state.stopped and runner.iter == state.anneal_end
    assert runner.optim_wrapper.param_groups[0]['lr'] == \
        pytest.approx(0.1 * lr_scale_at(auto_hook(runner).policy, state,
                                        runner.iter - 1))


class WeightsRecorder:
    """Records the model's weights after each validation, at a priority."""

    def __init__(self, priority):
        from mmengine.hooks import Hook

        recorder = self

        class _Hook(Hook):
            def after_val_epoch(self, runner, metrics=None):
                recorder.seen[runner.epoch] = {
                    k: v.clone() for k, v in runner.model.state_dict().items()}

        self.hook = _Hook()
        self.hook.priority = priority
        self.seen = {}


@pytest.mark.slow
def test_ema_weights_are_the_ones_judged_and_shipped(make_fast_config,
                                                     tmp_path):
    from mmengine.runner import Runner
    cfg = auto_config(make_fast_config, tmp_path, 6)
    cfg.custom_hooks.append(dict(type='EMAHook', momentum=0.5))
    runner = Runner.from_cfg(cfg)
    validated = WeightsRecorder('VERY_HIGH')  # before EMAHook swaps back
    raw = WeightsRecorder('VERY_LOW')         # after it
    runner.register_hook(validated.hook, validated.hook.priority)
    runner.register_hook(raw.hook, raw.hook.priority)
    runner.train()

    hook = auto_hook(runner)
    best = hook.state.best_step
    key = 'head.layers.1.fc.weight'
    assert not torch.equal(validated.seen[best][key], raw.seen[best][key])
    for name, value in runner.model.state_dict().items():
        assert torch.equal(value, validated.seen[best][name]), name


@pytest.mark.slow
def test_anneal_mode_follows_the_cosine_every_iteration(make_fast_config,
                                                        tmp_path):
    cfg = auto_config(make_fast_config, tmp_path, 12, mode='anneal',
                      patience=1, anneal_ratio=1.0, min_anneal=3)
    runner = train(cfg)
    state = auto_hook(runner).state
    assert state.stopped and state.anneal_end == runner.epoch, state.trace
    # MMEngine logs an iteration's LR before hooks set it: shifted by one.
    logged = runner.message_hub.get_scalar('train/lr').data[0][1:]
    per_epoch = len(runner.train_dataloader)
    start = int(state.anneal_start) * per_epoch
    annealed = logged[start:]
    assert len(annealed) == (state.anneal_end - state.anneal_start) * \
        per_epoch - 1
    assert annealed[0] == logged[start - 1]  # from the plateau's LR
    assert all(a > b for a, b in zip(annealed, annealed[1:]))
    assert annealed[-1] < 0.2 * annealed[0]
