import math

import numpy as np
import pytest

from mmtricks.optim.lr_range import (SUGGESTION_RULES, centred_smooth,
                                     exponential_ramp, has_diverged,
                                     suggest_lr)


def synthetic_curve(num_steps, noise=0.0, seed=0, spike_at=None):
    """Plateau at 2.3, descent between lr 1e-2 and 1e-1, blow-up after 1."""
    lrs = exponential_ramp(1e-5, 10.0, num_steps)
    x = np.log10(lrs)
    descent = 1.5 / (1 + np.exp(-(x + 1.5) * 6))   # centred at lr ~0.03
    blowup = np.where(x > 0, (x * 8) ** 2, 0.0)
    losses = 2.3 - descent + blowup
    losses += np.random.default_rng(seed).normal(0, noise, num_steps)
    if spike_at is not None:
        losses[spike_at] += 1.0
    return lrs, losses


def test_ramp_is_geometric_between_the_ends():
    lrs = exponential_ramp(1e-4, 1.0, 5)
    np.testing.assert_allclose(lrs, [1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    with pytest.raises(ValueError):
        exponential_ramp(1.0, 1e-4, 5)


def test_divergence_rule():
    assert not has_diverged([2.0, 1.5, 1.0, 1.2])
    assert has_diverged([2.0, 1.0, 1.0] + [50.0] * 10)
    assert has_diverged([2.0, 1.0, float('nan')])
    assert has_diverged([2.0, float('inf')])


def test_divergence_rule_works_for_negative_losses():
    # fastai's `loss > 4 * best` calls this diverged at once (-0.5 > -20).
    falling = [-1.0, -2.0, -3.0, -4.0, -5.0, -4.8]
    assert not has_diverged(falling)
    assert has_diverged(falling + [40.0] * 10)


def test_centred_smoothing_has_no_lag():
    ramp = np.arange(21, dtype=float)
    np.testing.assert_allclose(centred_smooth(ramp, window=5), ramp)
    assert centred_smooth([1.0, 1.0, 1.0])[1] == 1.0


# A known curve, each rule's answer worked out by hand from its definition.
# lr_i = 10 ** (-4 + i / 4), i = 0..10. 11 points: centred_smooth's window
# is max(3, (11 // 10) | 1) = 3, the ends unsmoothed, so
#   loss     = [3, 3, 3, 3, 3,   1,   0,   0, 0, 3, 9]
#   smoothed = [3, 3, 3, 3, 7/3, 4/3, 1/3, 0, 1, 4, 9].
# The minimum is at i = 7, the drop 3; the noise, the median of |loss -
# smoothed| over i <= 7 = [0, 0, 0, 0, 2/3, 1/3, 1/3, 0], is 0: a real descent.
# - midpoint: done = (3 - smoothed) / 3 = [0, 0, 0, 0, 2/9, 5/9, 8/9, 1]; the
#   last below 0.2 is i = 3, so begin = 4; the first at or above 0.8 from
#   there is i = 6. Geometric middle of lr_4 and lr_6: lr_5 = 10 ** -2.75.
# - steepest: the log-lr steps are equal, so the slopes up to i = 7 are
#   proportional to the central differences [0 (edge), 0, 0, -2/3, -5/3,
#   -2, -4/3, -2/3 (edge, (0 - 1/3) * 2)]: the steepest is i = 5,
#   lr_5 = 10 ** -2.75.
# - minimum: lr_7 / 10 = 10 ** (-4 + 7/4 - 1) = 10 ** -3.25.
# - valley: the longest strictly descending run of smoothed values is
#   3, 7/3, 4/3, 1/3, 0 (5 points), from the first 3 (i = 0, the earliest
#   start of that length) to i = 7: sqrt(lr_0 * lr_7) = 10 ** -3.125.
KNOWN_LRS = 10 ** (-4 + np.arange(11) / 4)
KNOWN_LOSSES = [3, 3, 3, 3, 3, 1, 0, 0, 0, 3, 9]
KNOWN_ANSWERS = {'midpoint': 10 ** -2.75, 'steepest': 10 ** -2.75,
                 'minimum': 10 ** -3.25, 'valley': 10 ** -3.125}


@pytest.mark.parametrize('rule', sorted(SUGGESTION_RULES))
def test_every_rule_gives_its_answer_on_a_known_curve(rule):
    lr = suggest_lr(KNOWN_LRS, KNOWN_LOSSES, rule)
    assert lr == pytest.approx(KNOWN_ANSWERS[rule], rel=1e-9), rule


def test_known_answers_cover_every_rule():
    assert set(KNOWN_ANSWERS) == set(SUGGESTION_RULES)


def test_midpoint_ignores_noise_and_an_early_spike():
    for seed in range(5):
        lrs, losses = synthetic_curve(40, noise=0.05, seed=seed, spike_at=3)
        lr = suggest_lr(lrs, losses, 'midpoint')
        assert 0.01 <= lr <= 0.1, (seed, lr)


@pytest.mark.parametrize('rule', ['midpoint', 'minimum'])
def test_answer_is_stable_across_budgets(rule):
    """Users report 100 vs 1000 steps moving fastai's answer 40x."""
    answers = [suggest_lr(*synthetic_curve(n), rule=rule)
               for n in (30, 100, 300)]
    assert max(answers) / min(answers) < 2.0, answers


def test_no_descent_gives_no_answer():
    lrs = exponential_ramp(1e-5, 10.0, 40)
    flat = 2.3 + np.random.default_rng(0).normal(0, 0.01, 40)
    rising = np.linspace(2.3, 5.0, 40)
    for losses in (flat, rising):
        for rule in SUGGESTION_RULES:
            assert suggest_lr(lrs, losses, rule) is None, rule


def test_nan_from_the_first_step_gives_no_answer():
    lrs = exponential_ramp(1e-5, 10.0, 10)
    losses = [math.nan] * 10
    for rule in SUGGESTION_RULES:
        assert suggest_lr(lrs, losses, rule) is None


def test_nan_tail_is_cut_not_fatal():
    lrs, losses = synthetic_curve(60)
    losses[-10:] = np.nan
    assert 0.003 <= suggest_lr(lrs, losses, 'midpoint') <= 0.3


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match='midpoint'):
        suggest_lr([1, 2, 3], [1, 1, 1], 'magic')
