import math

import pytest

from mmtricks.optim.scheduler.plateau_policy import (ANNEAL, DECAY, NONE,
                                                     STOP, PlateauPolicy,
                                                     PolicyState,
                                                     anneal_length,
                                                     cosine_anneal, decide,
                                                     is_collapsed, lr_scale_at)

POLICY = PlateauPolicy(patience=2, factor=0.1, min_scale=0.01,
                       stop_patience=2, min_delta=0.1, warmup=1,
                       force_decay_at=1.0)


def run(metrics, policy=POLICY, budget=100):
    state, actions = PolicyState(), []
    for step, metric in enumerate(metrics, start=1):
        state, action, _ = decide(policy, state, step, metric, budget)
        actions.append(action)
        if action == STOP:
            break
    return state, actions


def test_no_decision_during_warmup_even_when_flat():
    policy = PlateauPolicy(patience=1, warmup=3, force_decay_at=1.0)
    _, actions = run([50, 50, 50], policy)
    assert actions == [NONE, NONE, NONE]


def test_decays_after_patience_then_stops_at_the_floor():
    state, actions = run([10, 20, 20, 20, 20, 20, 20, 20, 20])
    # 2 flat -> decay to 0.1, 2 flat -> decay to 0.01 (floor), 2 flat -> stop
    assert actions == [NONE, NONE, NONE, DECAY, NONE, DECAY, NONE, STOP]
    assert state.scale == pytest.approx(0.01) and state.drops == 2
    assert state.best == 20 and state.best_step == 2 and state.stopped


def test_improvements_reset_the_wait():
    _, actions = run([10, 20, 20, 30, 30, 40, 40, 50])
    assert DECAY not in actions and STOP not in actions


def test_small_changes_are_not_improvements():
    state, _ = run([10, 20, 20.05, 20.09])
    assert state.best == 20 and state.best_step == 2


def test_forced_decay_at_share_of_budget():
    policy = PlateauPolicy(patience=10, warmup=0, force_decay_at=0.5)
    _, actions = run([10, 20, 30, 40, 50, 60], policy, budget=10)
    assert actions.index(DECAY) == 4  # step 5 = 50% of 10


def test_nan_metric_stops():
    state, actions = run([10, 20, math.nan])
    assert actions[-1] == STOP and 'NaN' in state.reason


def test_collapse_is_not_a_plateau():
    state = PolicyState()
    for step in range(1, 10):
        state, action, reason = decide(POLICY, state, step, 10.0, 100,
                                       collapsed=True)
        assert action == NONE and 'collapsed' in reason
    assert state.wait == 0 and state.scale == 1.0


def test_state_round_trips_through_a_dict():
    state, _ = run([10, 20, 20, 20])
    assert PolicyState.from_dict(state.to_dict()) == state


def test_collapse_detector():
    assert is_collapsed([100, 0, 0], [34, 33, 33])
    assert not is_collapsed([40, 30, 30], [34, 33, 33])
    assert not is_collapsed([100, 0], [99.5, 0.5])  # the labels are one class
    assert not is_collapsed([0, 0], [0, 0])


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        PlateauPolicy(factor=1.5)
    with pytest.raises(ValueError):
        PlateauPolicy(patience=0)


ANNEALING = PlateauPolicy(patience=2, min_scale=0.01, min_delta=0.1,
                          warmup=1, force_decay_at=1.0, mode='anneal',
                          anneal_ratio=0.5, min_anneal=2)


def test_anneal_starts_at_the_plateau_and_stops_when_it_ends():
    # best at step 4, flat at 5 and 6 -> anneal over max(2, 0.5 * 6) = 3
    state, actions = run([10, 20, 30, 40, 40, 40, 50, 60, 70, 80], ANNEALING)
    assert actions == [NONE] * 5 + [ANNEAL, NONE, NONE, STOP]
    assert (state.anneal_start, state.anneal_end) == (6.0, 9.0)
    assert state.stopped and 'anneal' in state.reason
    assert state.best == 70 and state.best_step == 9
    assert [round(t[2], 6) for t in state.trace] == \
        [1.0] * 6 + [round(lr_scale_at(ANNEALING, state, s), 6)
                     for s in (7, 8, 9)]
    assert state.trace[-1][2] == pytest.approx(0.01)


def test_anneal_is_a_half_cosine_to_the_floor():
    assert cosine_anneal(0.0, 1.0, 0.01) == 1.0
    assert cosine_anneal(0.5, 1.0, 0.01) == pytest.approx(0.505)
    assert cosine_anneal(1.0, 1.0, 0.01) == pytest.approx(0.01)
    assert cosine_anneal(7.0, 1.0, 0.01) == pytest.approx(0.01)  # clamped
    state = PolicyState(anneal_start=10.0, anneal_end=20.0)
    assert lr_scale_at(ANNEALING, state, 9.5) == 1.0
    assert lr_scale_at(ANNEALING, state, 12.5) == \
        pytest.approx(cosine_anneal(0.25, 1.0, 0.01))


def test_anneal_fits_in_the_budget():
    assert anneal_length(ANNEALING, step=10, budget=100) == 5
    assert anneal_length(ANNEALING, step=2, budget=100) == 2  # min_anneal
    assert anneal_length(ANNEALING, step=98, budget=100) == 2
    # a plateau never seen: the forced start still leaves room to anneal
    policy = PlateauPolicy(patience=50, warmup=0, mode='anneal',
                           force_decay_at=0.5, anneal_ratio=1.0)
    state, actions = run(range(10, 200, 10), policy, budget=12)
    assert actions[5] == ANNEAL and state.anneal_end == 12.0


def test_bad_anneal_settings_are_refused():
    with pytest.raises(ValueError, match='mode'):
        PlateauPolicy(mode='cosine')
    with pytest.raises(ValueError, match='anneal_ratio'):
        PlateauPolicy(mode='anneal', anneal_ratio=0)
