"""The time budget's rule, on made-up step times."""
import pytest

from mmtricks.engine.budget_plan import (MAX_EPOCHS, BudgetTooSmall, RunShape,
                                         FINDER_STEPS, SizeTiming,
                                         epoch_seconds, plan_budget)

SHAPE = RunShape(train_steps=10, eval_images=200)


def timings(*sizes, per_pixel=2e-4):
    """Step time growing with the side squared, as convolutions do."""
    return [SizeTiming(size, per_pixel * size * size, per_pixel * size *
                       size / 100) for size in sizes]


def test_the_largest_size_that_gets_the_needed_epochs_wins():
    found = timings(32, 64, 96, 128)
    budget = 600.0
    plan = plan_budget(budget, 10, found, SHAPE, needed_epochs=40)
    fits = {t.size: (budget * 0.95 - 10) / epoch_seconds(t, SHAPE)
            for t in found}
    expected = max(size for size, epochs in fits.items() if epochs >= 40)
    assert plan.image_size == expected < 128
    assert plan.max_epochs >= 40
    assert f'{expected + 32} px would get' in plan.reason


def test_the_plan_ends_inside_the_budget():
    found = timings(32, 64, 96)
    plan = plan_budget(300.0, 20, found, SHAPE)
    step = next(t for t in found if t.size == plan.image_size).train_step_s
    total = 20 + plan.finder_steps * step + plan.max_epochs * plan.epoch_s
    assert total <= 300.0


def test_short_of_the_needed_epochs_the_smallest_size_trains_longest():
    plan = plan_budget(60.0, 5, timings(32, 64), SHAPE, needed_epochs=40,
                       min_epochs=5)
    assert plan.image_size == 32 and 5 <= plan.max_epochs < 40
    assert 'under the 40' in plan.reason


def test_a_budget_too_small_is_refused_naming_one_that_would_do():
    found = timings(32, 64)
    with pytest.raises(BudgetTooSmall, match=r'time_budget=(\d+)') as error:
        plan_budget(20.0, 5, found, SHAPE, min_epochs=12)
    minutes = int(error.value.args[0].split('at least time_budget=')[1]
                  .split(' ')[0])
    plan = plan_budget(minutes * 60.0, 5, found, SHAPE, min_epochs=12)
    assert plan.max_epochs >= 12


def test_epochs_are_capped():
    plan = plan_budget(36000.0, 0, timings(32), SHAPE)
    assert plan.max_epochs == MAX_EPOCHS


@pytest.mark.parametrize('budget_s', [60.0, 600.0, 36000.0])
def test_the_range_test_keeps_its_steps_and_the_plan_pays_for_them(budget_s):
    """A budget-scaled step count (15-30 steps) made the LR move x78."""
    found = [SizeTiming(32, 0.02, 1e-5)]
    plan = plan_budget(budget_s, 0, found, SHAPE, min_epochs=1)
    assert plan.finder_steps == FINDER_STEPS == 50
    left = budget_s * 0.95 - FINDER_STEPS * 0.02
    assert plan.max_epochs == min(MAX_EPOCHS, int(
        left // epoch_seconds(found[0], SHAPE)))
    assert 'LR range test 50 steps (1 s)' in plan.reason


def test_nothing_measured_is_an_error():
    with pytest.raises(ValueError):
        plan_budget(60.0, 0, [], SHAPE)


def test_an_epoch_counts_its_measured_checkpoint_writes():
    shape = RunShape(train_steps=10, eval_images=100)
    light = SizeTiming(64, 0.1, 0.001, checkpoint_s=0.2)
    heavy = SizeTiming(64, 0.1, 0.001, checkpoint_s=2.2)
    assert epoch_seconds(heavy, shape) - epoch_seconds(light, shape) == \
        pytest.approx(2.0)
    plan = plan_budget(300, 0, [heavy], shape)
    assert 'checkpoints 2.2 s' in plan.reason
