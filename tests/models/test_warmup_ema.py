import math

import pytest
import torch
from mmengine.model import ExponentialMovingAverage
from torch import nn

from conftest import hook_of
from mmtricks.engine import build_runner
from mmtricks.models import WarmupExponentialMovingAverage, ema_warmup_momentum


def toy_model(value: float) -> nn.Linear:
    model = nn.Linear(3, 2)
    set_params(model, value)
    return model


def set_params(model: nn.Module, value: float) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)


def averaged_values(ema) -> torch.Tensor:
    return torch.cat([p.flatten() for p in ema.module.parameters()])


def test_warmup_momentum_exact_values():
    assert ema_warmup_momentum(0) == 1.0
    assert ema_warmup_momentum(1) == pytest.approx(2 ** -0.75, abs=1e-12)
    assert ema_warmup_momentum(3) == pytest.approx(2 ** -1.5, abs=1e-12)
    assert ema_warmup_momentum(9999) == pytest.approx(1e-3, rel=1e-12)
    assert ema_warmup_momentum(2, gamma=2.0, power=1.0) == 0.5
    assert ema_warmup_momentum(8, gamma=1.0, power=1 / 3) == pytest.approx(
        9 ** (-1 / 3), abs=1e-12)
    assert ema_warmup_momentum(10 ** 12) < 1e-8


def test_warmup_momentum_is_decreasing_and_floored_by_momentum():
    ema = WarmupExponentialMovingAverage(toy_model(0.0), momentum=0.001)
    momenta = [ema.momentum_at(t) for t in range(0, 20000, 97)]
    assert all(a >= b for a, b in zip(momenta, momenta[1:]))
    assert ema.momentum_at(0) == 1.0
    assert ema.momentum_at(100) == pytest.approx(101 ** -0.75)
    # the warmup crosses the floor at t = 1000 ** (4/3) - 1 = 9999
    assert ema.momentum_at(20000) == 0.001
    assert ema.momentum_at(10 ** 9) == 0.001


@pytest.mark.parametrize('bad_args, name', [
    (dict(momentum=0.0), 'momentum'),
    (dict(momentum=1.0), 'momentum'),
    (dict(warmup_gamma=0.0), 'warmup_gamma'),
    (dict(warmup_power=-0.5), 'warmup_power'),
    (dict(interval=0), 'interval'),
])
def test_bad_arguments_fail_at_build_naming_the_argument(bad_args, name):
    with pytest.raises(ValueError, match=name):
        WarmupExponentialMovingAverage(toy_model(0.0), **bad_args)


def test_warmup_momentum_rejects_negative_steps():
    with pytest.raises(ValueError, match='steps'):
        ema_warmup_momentum(-1)


@pytest.mark.parametrize('interval', [1, 2])
def test_updates_follow_the_hand_computed_recursion(interval):
    start, target, momentum, calls = 2.0, -1.0, 0.05, 12
    model = toy_model(start)
    ema = WarmupExponentialMovingAverage(
        model, momentum=momentum, interval=interval)
    ema.update_parameters(model)  # MMEngine's first call copies
    set_params(model, target)
    expected = start
    for steps in range(1, calls + 1):
        ema.update_parameters(model)
        if steps % interval == 0:
            warmup = (1 + steps // interval) ** -0.75
            m = max(momentum, warmup)
            expected = (1 - m) * expected + m * target
    assert int(ema.steps) == calls + 1
    values = averaged_values(ema)
    assert torch.allclose(values, torch.full_like(values, expected),
                          atol=1e-6)
    # once the warmup is below the floor the plain recursion takes over
    assert max(momentum, (1 + calls // interval) ** -0.75) > momentum
    assert ema.momentum_at(10 ** 6) == momentum


def test_power_one_is_the_running_mean_of_the_snapshots():
    snapshots = [3.0, -1.0, 4.0, 1.0, -5.0, 9.0]
    model = toy_model(snapshots[0])
    ema = WarmupExponentialMovingAverage(
        model, momentum=1e-4, warmup_gamma=1.0, warmup_power=1.0)
    for value in snapshots:
        set_params(model, value)
        ema.update_parameters(model)
    values = averaged_values(ema)
    mean = sum(snapshots) / len(snapshots)
    assert torch.allclose(values, torch.full_like(values, mean), atol=1e-6)


def test_warmup_tracks_a_moved_model_where_the_plain_ema_stays_at_init():
    """The collapse: decay 0.999 keeps 0.999 ** 50 = 95% of the init."""
    init, target, steps = 0.5, -3.0, 50
    remaining = {}
    for name, ema_type in (('plain', ExponentialMovingAverage),
                           ('warmup', WarmupExponentialMovingAverage)):
        model = toy_model(init)
        ema = ema_type(model, momentum=0.001)
        ema.update_parameters(model)
        set_params(model, target)
        for _ in range(steps):
            ema.update_parameters(model)
        values = averaged_values(ema)
        remaining[name] = ((values - target).abs().max() /
                           abs(init - target)).item()
    assert remaining['plain'] == pytest.approx(0.999 ** steps, rel=1e-4)
    assert remaining['plain'] > 0.9
    assert remaining['warmup'] < 0.05
    expected = math.prod(1 - (1 + t) ** -0.75 for t in range(1, steps + 1))
    assert remaining['warmup'] == pytest.approx(expected, rel=1e-3)


def test_builds_through_ema_hook_in_an_mmpretrain_runner(make_fast_config):
    from mmengine.hooks import EMAHook, Hook

    class FirstIterWeights(Hook):
        """Keeps the raw weights after the first iteration (the EMA's
        starting point: its first update copies them)."""

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            if runner.iter == 0:
                self.weights = [p.detach().clone()
                                for p in runner.model.parameters()]

    cfg = make_fast_config()
    cfg.custom_hooks = list(cfg.custom_hooks) + [
        dict(type='EMAHook', ema_type='WarmupExponentialMovingAverage',
             momentum=0.001)
    ]
    runner = build_runner(cfg)
    first = FirstIterWeights()
    runner.register_hook(first, priority='LOWEST')
    runner.train()

    ema = hook_of(runner, EMAHook).ema_model
    assert type(ema) is WarmupExponentialMovingAverage
    assert ema.momentum == 0.001
    assert int(ema.steps) == runner.iter

    def flat(params):
        return torch.cat([p.detach().flatten() for p in params])

    raw = flat(runner.model.parameters())
    start = flat(first.weights)
    averaged = flat(ema.module.parameters())
    # how far the EMA still is from the trained weights, as a fraction of
    # the path trained since its start (a plain 0.999 EMA would be at ~1)
    lag = ((averaged - raw).norm() / (start - raw).norm()).item()
    assert lag < 0.5, lag
