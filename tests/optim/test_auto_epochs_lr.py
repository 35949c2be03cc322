"""AutoEpochsLR without a Runner: an optimizer, the schedulers, steps."""
import io
import math

import pytest
import torch
from mmengine.optim import LinearLR, OptimWrapper

from mmtricks.optim import AutoEpochsLR

EPOCH = 4  # iterations per epoch


def optim_wrapper(lr=0.1):
    model = torch.nn.Linear(2, 2)
    return OptimWrapper(torch.optim.SGD(model.parameters(), lr=lr))


def lrs(wrapper):
    return [g['lr'] for g in wrapper.param_groups]


def auto(wrapper, end_epochs=20, **policy):
    return AutoEpochsLR.build_iter_from_epoch(
        wrapper, begin=0, end=end_epochs, by_epoch=True, epoch_length=EPOCH,
        **policy)


def iterate(wrapper, schedulers, iterations):
    """Step like ParamSchedulerHook; return the LR each iteration used."""
    used = []
    for _ in range(iterations):
        used.append(lrs(wrapper)[0])
        wrapper.step()
        for scheduler in schedulers:
            scheduler.step()
    return used


def test_before_any_decision_it_leaves_the_warmup_untouched():
    alone = optim_wrapper()
    warmup = LinearLR.build_iter_from_epoch(alone, start_factor=0.1,
                                            begin=0, end=2, by_epoch=True,
                                            epoch_length=EPOCH)
    expected = iterate(alone, [warmup], 12)

    chained = optim_wrapper()
    schedulers = [LinearLR.build_iter_from_epoch(
        chained, start_factor=0.1, begin=0, end=2, by_epoch=True,
        epoch_length=EPOCH), auto(chained)]
    assert iterate(chained, schedulers, 12) == expected  # bitwise
    assert expected[0] == pytest.approx(0.01)
    assert expected[-1] == pytest.approx(0.1)


def test_a_decay_applies_at_the_validation_that_decides_it():
    wrapper = optim_wrapper()
    scheduler = auto(wrapper, warmup=0, patience=1, factor=0.5,
                     min_delta=1.0)
    iterate(wrapper, [scheduler], EPOCH)
    assert scheduler.step_validation({'accuracy/top1': 50.0}) == \
        ('none', '')
    iterate(wrapper, [scheduler], EPOCH)
    action, _ = scheduler.step_validation({'accuracy/top1': 50.5})
    assert action == 'decay'
    assert lrs(wrapper) == [0.05]
    assert iterate(wrapper, [scheduler], EPOCH) == [0.05] * EPOCH


def test_anneal_follows_a_half_cosine_every_iteration():
    wrapper = optim_wrapper()
    scheduler = auto(wrapper, mode='anneal', warmup=0, patience=1,
                     min_delta=1.0, min_scale=0.01, min_anneal=3,
                     anneal_ratio=1.0)
    for metric in (50.0, 50.0):  # no improvement at epoch 2: anneal
        iterate(wrapper, [scheduler], EPOCH)
        action, _ = scheduler.step_validation({'accuracy/top1': metric})
    assert action == 'anneal'
    used = iterate(wrapper, [scheduler], 3 * EPOCH)
    # Written out here, not taken from the implementation: from 0.1 to
    # 0.1 x 0.01 over 3 epochs (max(min_anneal, 1.0 x 2 epochs)).
    expected = [0.1 * (0.01 + 0.99 * 0.5 *
                       (1 + math.cos(math.pi * i / (3 * EPOCH))))
                for i in range(3 * EPOCH)]
    assert used == pytest.approx(expected, rel=1e-12)
    assert lrs(wrapper)[0] == pytest.approx(0.001, rel=1e-12)
    action, reason = scheduler.step_validation({'accuracy/top1': 50.0})
    assert action == 'stop' and scheduler.stopped, reason


def test_state_dict_loads_safely_and_continues_bitwise():
    def run(split):
        wrapper = optim_wrapper()
        scheduler = auto(wrapper, mode='anneal', warmup=0, patience=1,
                         min_delta=1.0)
        metrics = iter([50.0, 50.0, 50.0, 50.0])
        used = []
        for epoch in range(4):
            if epoch == split:  # save and load, as a resumed run does
                buffer = io.BytesIO()
                torch.save(dict(optim=wrapper.state_dict(),
                                scheduler=scheduler.state_dict()), buffer)
                buffer.seek(0)
                saved = torch.load(buffer, weights_only=True)
                wrapper = optim_wrapper()
                scheduler = auto(wrapper, mode='anneal', warmup=0,
                                 patience=1, min_delta=1.0)
                wrapper.load_state_dict(saved['optim'])
                scheduler.load_state_dict(saved['scheduler'])
            used += iterate(wrapper, [scheduler], EPOCH)
            scheduler.step_validation({'accuracy/top1': next(metrics)})
        return used, scheduler.state

    whole, state = run(split=None)
    assert len(set(whole)) > 4  # it annealed
    resumed, resumed_state = run(split=3)  # mid-anneal
    assert resumed == whole and resumed_state == state


def test_bad_settings_are_refused():
    wrapper = optim_wrapper()
    with pytest.raises(ValueError, match='begin=0'):
        AutoEpochsLR(wrapper, begin=1, end=10, by_epoch=False)
    scheduler = auto(wrapper)
    with pytest.raises(KeyError, match='accuracy/top1'):
        scheduler.step_validation({'accuracy/top5': 1.0})
    with pytest.raises(ValueError, match='mode'):
        auto(optim_wrapper(), mode='cosine')


def test_a_resumed_run_keeps_its_own_cap():
    # `mim train --resume --cfg-options train_cfg.max_epochs=...` extends
    # the budget: the cap is config, not state.
    saved = auto(optim_wrapper(), end_epochs=2).state_dict()
    resumed = auto(optim_wrapper(), end_epochs=3)
    resumed.load_state_dict(saved)
    assert resumed.budget == 3


def test_move_cap_stays_between_the_last_validation_and_the_configured_cap():
    wrapper = optim_wrapper()
    scheduler = auto(wrapper, end_epochs=20)
    scheduler.move_cap(30)
    assert scheduler.budget == 20
    scheduler.move_cap(12)
    assert scheduler.budget == 12
    scheduler.move_cap(18)  # the machine got faster again
    assert scheduler.budget == 18
    iterate(wrapper, [scheduler], 3 * EPOCH)
    scheduler.step_validation({'accuracy/top1': 50.0})
    scheduler.move_cap(1)
    assert scheduler.budget == 4  # after the validation at epoch 3


def annealing_to_epoch_20():
    """A scheduler whose anneal, to the cap of 20 epochs, began at epoch 2."""
    wrapper = optim_wrapper()
    scheduler = auto(wrapper, end_epochs=20, mode='anneal', warmup=0,
                     patience=1, min_delta=1.0, anneal_ratio=20.0)
    iterate(wrapper, [scheduler], EPOCH)
    scheduler.step_validation({'accuracy/top1': 50.0})
    iterate(wrapper, [scheduler], EPOCH)
    scheduler.step_validation({'accuracy/top1': 50.0})  # plateau: anneal
    assert scheduler.state.anneal_end == 20
    return wrapper, scheduler


def test_move_cap_compresses_an_anneal_under_way_and_moves_the_lr_at_once():
    """A deadline that came closer: the anneal must still reach the floor
    by the new cap, from the LR it is at (not a later jump)."""
    wrapper, scheduler = annealing_to_epoch_20()
    iterate(wrapper, [scheduler], 2 * EPOCH)  # at epoch 4 of the anneal
    scheduler.move_cap(10)
    assert scheduler.budget == 10 and scheduler.state.anneal_end == 10
    expected = 0.1 * scheduler.scale_at(scheduler.position)
    assert lrs(wrapper)[0] == pytest.approx(expected)
    used = iterate(wrapper, [scheduler], 6 * EPOCH)
    # reaches the floor at the new cap, never rising on the way
    assert all(b <= a + 1e-12 for a, b in zip(used, used[1:]))
    assert lrs(wrapper)[0] == pytest.approx(0.1 * scheduler.policy.min_scale)


def test_move_cap_stretches_an_anneal_back_continuously():
    wrapper, scheduler = annealing_to_epoch_20()
    scheduler.move_cap(10)
    iterate(wrapper, [scheduler], 2 * EPOCH)
    scheduler.move_cap(16)
    assert scheduler.state.anneal_end == 16
    assert lrs(wrapper)[0] == pytest.approx(
        0.1 * scheduler.scale_at(scheduler.position))
    iterate(wrapper, [scheduler], 12 * EPOCH)
    assert lrs(wrapper)[0] == pytest.approx(0.1 * scheduler.policy.min_scale)


def test_a_moved_cap_is_not_restored_from_a_checkpoint():
    """The cap is the config's (and the time budget hook's) to set."""
    scheduler = auto(optim_wrapper(), end_epochs=20)
    scheduler.move_cap(12)
    state = scheduler.state_dict()
    fresh = auto(optim_wrapper(), end_epochs=20)
    fresh.load_state_dict(state)
    assert fresh.budget == fresh.configured_budget == 20
