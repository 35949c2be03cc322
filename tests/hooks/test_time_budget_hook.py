"""TimeBudgetHook: the deadline kept after each validation (fake clock)."""
import logging
from types import SimpleNamespace

import pytest

import mmtricks.hooks.time_budget_hook as module
from mmtricks.hooks.time_budget_hook import (STATE_KEY, TimeBudgetHook,
                                             epochs_that_fit)


def test_epochs_that_fit():
    assert epochs_that_fit(5, 10.0, 95.0, 40) == 14
    assert epochs_that_fit(5, 10.0, 1000.0, 40) == 40
    assert epochs_that_fit(5, 10.0, -3.0, 40) == 5


class FakeScheduler:
    def __init__(self, budget):
        self.budget = self.limit = budget

    def move_cap(self, budget):
        self.budget = min(self.limit, budget)


def epoch(hook, runner, clock, seconds):
    """One epoch of ``seconds`` (training, checkpoint, validation)."""
    hook.before_train_epoch(runner)
    clock['now'] += seconds
    runner.epoch += 1
    hook.after_val_epoch(runner)


def fake_run(monkeypatch, budget_epochs=40):
    clock = {'now': 0.0}
    monkeypatch.setattr(module.time, 'monotonic', lambda: clock['now'])
    monkeypatch.setattr(module, 'budget_seconds', lambda: 10.0)
    scheduler = FakeScheduler(budget_epochs)
    monkeypatch.setattr(module.AutoEpochsHook, 'scheduler',
                        staticmethod(lambda runner: scheduler))
    runner = SimpleNamespace(
        epoch=0, max_epochs=budget_epochs, logger=logging.getLogger('test_time_budget'),
        train_loop=SimpleNamespace(stop_training=False))
    return clock, scheduler, runner


def test_slower_epochs_bring_the_cap_forward(monkeypatch):
    clock, scheduler, runner = fake_run(monkeypatch)
    hook = TimeBudgetHook(budget_s=210.0, reserve=0.0)
    hook.before_train(runner)  # 200 s left (10 s spent)
    epoch(hook, runner, clock, 10.0)
    epoch(hook, runner, clock, 10.0)  # 10 s an epoch, not the plan's
    assert scheduler.budget == 20  # 2 done + 180 s / 10 s
    assert not runner.train_loop.stop_training


def test_epochs_that_get_faster_again_get_the_cap_back(monkeypatch):
    """A machine loaded for the first epochs, then free: the cap must not
    stay where the slow epochs put it (runs ended at 65% of the budget)."""
    clock, scheduler, runner = fake_run(monkeypatch, budget_epochs=40)
    hook = TimeBudgetHook(budget_s=310.0, reserve=0.0)
    hook.before_train(runner)  # 300 s left
    for _ in range(3):
        epoch(hook, runner, clock, 20.0)
    assert scheduler.budget == 3 + 240 // 20
    for _ in range(5):
        epoch(hook, runner, clock, 4.0)
    assert scheduler.budget == 40  # capped at the plan


def test_faster_epochs_than_planned_fill_the_budget(monkeypatch):
    """The run starts at the planned cap and, when epochs take less than
    the plan priced, gets more of them up to its max_epochs (a 15-minute
    run capped at its plan ended at 81% of the budget)."""
    clock, scheduler, runner = fake_run(monkeypatch, budget_epochs=45)
    hook = TimeBudgetHook(budget_s=310.0, reserve=0.0, planned_epochs=30)
    hook.before_train(runner)  # 300 s left: planned at 10 s an epoch
    assert scheduler.budget == 30
    for _ in range(3):
        epoch(hook, runner, clock, 8.0)
    assert scheduler.budget == 3 + (300 - 24) // 8 == 37
    for _ in range(5):
        epoch(hook, runner, clock, 4.0)
    assert scheduler.budget == 45  # the run's max_epochs


def test_a_resumed_run_keeps_its_moved_cap(monkeypatch):
    clock, scheduler, runner = fake_run(monkeypatch, budget_epochs=45)
    scheduler.budget, runner.epoch = 37, 3  # as the checkpoint left it
    hook = TimeBudgetHook(budget_s=310.0, reserve=0.0, planned_epochs=30)
    hook.before_train(runner)
    assert scheduler.budget == 37


def test_no_epoch_left_stops_training(monkeypatch):
    clock, scheduler, runner = fake_run(monkeypatch)
    hook = TimeBudgetHook(budget_s=60.0, reserve=0.0)
    hook.before_train(runner)  # 50 s left
    for _ in range(3):
        epoch(hook, runner, clock, 15.0)  # 5 s left
    assert runner.train_loop.stop_training


def test_a_resumed_run_keeps_the_time_already_spent(monkeypatch):
    clock, scheduler, runner = fake_run(monkeypatch)
    hook = TimeBudgetHook(budget_s=100.0, reserve=0.0)
    saved = {}
    hook.before_save_checkpoint(runner, saved)
    assert saved[STATE_KEY]['spent_s'] == 10.0
    resumed = TimeBudgetHook(budget_s=100.0, reserve=0.0)
    resumed.after_load_checkpoint(runner, {STATE_KEY: {'spent_s': 70.0}})
    resumed.before_train(runner)
    assert resumed.deadline == pytest.approx(100.0 - 70.0 - 10.0)


def test_bad_arguments():
    with pytest.raises(ValueError):
        TimeBudgetHook(budget_s=0)
    with pytest.raises(ValueError):
        TimeBudgetHook(budget_s=10, reserve=1.0)
    with pytest.raises(ValueError):
        TimeBudgetHook(budget_s=10, planned_epochs=0)


def test_a_young_process_counts_its_start_up_an_old_one_does_not(
        monkeypatch):
    """mim train's imports are part of its budget; a notebook that has been
    open for an hour has not spent the hour."""
    monkeypatch.setattr(module, 'process_seconds', lambda: 8.0)
    assert module.start_budget_clock() == 8.0
    assert module.budget_seconds() == pytest.approx(8.0, abs=1.0)
    monkeypatch.setattr(module, 'process_seconds', lambda: 3600.0)
    assert module.start_budget_clock() == 0.0
    assert module.budget_seconds() < 1.0
