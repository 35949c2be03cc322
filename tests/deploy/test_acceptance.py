"""The acceptance bounds: exact, and honest in coverage (a true drop above
the tolerance is accepted at most alpha of the time, in every regime)."""
import numpy as np
import pytest
from scipy.stats import binom

from mmtricks.deploy.acceptance import (disagreement_bound, drop_bound,
                                        faster_beyond_spread, images_to_show,
                                        paired_drop_bound, rate_upper_bound)


def test_clopper_pearson_matches_the_rule_of_three():
    # No event in n trials: the 95% one-sided bound is 1 - 0.05^(1/n),
    # about 3/n.
    for n in (50, 300, 1000):
        assert rate_upper_bound(0, n, 0.95) == pytest.approx(
            1 - 0.05 ** (1 / n))
    assert rate_upper_bound(5, 5, 0.95) == 1.0


def test_no_disagreement_on_few_images_proves_little():
    # 215 images that all agree: the drop may still be over a point.
    assert paired_drop_bound(0, 215, 0.95) > 1.0
    assert disagreement_bound(0, 215, 0.975) > 1.0
    assert drop_bound(0, 215) > 1.0


def test_two_images_are_not_within_one_point():
    # The case: val said "within 1 point" on 215 images.
    assert drop_bound(lost=3, labelled=215) > 1.0
    # 2 of 200 images lost: a point estimate of exactly 1 point.
    assert drop_bound(lost=2, labelled=200) > 1.0


def test_no_lost_image_on_enough_images_is_within_one_point():
    assert drop_bound(lost=0, labelled=359) < 1.0
    assert drop_bound(lost=1, labelled=500) < 1.0


def test_agreement_on_many_unlabelled_images_accepts():
    assert drop_bound(lost=1, labelled=215, disagreements=1,
                      unlabelled=2000) < 1.0


def test_a_single_bound_is_stated_at_the_full_confidence():
    # Bonferroni only when two bounds are combined.
    assert drop_bound(0, 300) == pytest.approx(
        paired_drop_bound(0, 300, 0.95))
    assert drop_bound(0, 300, 50, 100) == pytest.approx(
        paired_drop_bound(0, 300, 0.975))


def test_images_to_show_is_where_the_bound_meets_tolerance():
    n = images_to_show(1.0, 0.95)
    assert n == 299
    assert drop_bound(0, n) <= 1.0 < drop_bound(0, n - 1)


def acceptance_rate(n, lost_p, gained_p):
    """Exact probability that a candidate losing ``lost_p`` and gaining
    ``gained_p`` of the images (multinomial) is accepted at 1 point."""
    accepted = 0.0
    for lost in range(0, n + 1):
        if drop_bound(lost, n) > 1.0:
            break
        accepted += binom.pmf(lost, n, lost_p)
    return accepted


@pytest.mark.parametrize('n', [150, 196, 299, 380, 500, 1000])
@pytest.mark.parametrize('drop, flip_rate', [
    (0.0101, 0.0101), (0.011, 0.011), (0.015, 0.02), (0.015, 0.06)])
def test_a_drop_beyond_tolerance_is_rarely_accepted(n, drop, flip_rate):
    # A true drop just over the 1-point tolerance: a share of images flips,
    # more of them right -> wrong than wrong -> right. Accepting must happen
    # in at most 5% of draws, also when every flip is a loss (an accurate
    # model): there Agresti-Min's adjusted Wald bound, at a stated 97.5%,
    # accepts 14% of the time on 196 images.
    lost_p = (flip_rate + drop) / 2
    gained_p = (flip_rate - drop) / 2
    assert acceptance_rate(n, lost_p, gained_p) <= 0.05


def test_a_drop_beyond_tolerance_is_rarely_accepted_by_simulation():
    # The combined bound (labelled and unlabelled), drawn.
    rng = np.random.default_rng(0)
    n, m, drop = 300, 1000, 0.011
    accepted = 0
    draws = 2000
    for _ in range(draws):
        lost = rng.binomial(n, drop)
        disagreements = rng.binomial(m, drop)
        accepted += drop_bound(lost, n, disagreements, m) <= 1.0
    assert accepted / draws <= 0.05


def test_speed_must_beat_the_spread_of_the_rounds():
    # 3 rounds each: every candidate round must beat every reference one.
    assert faster_beyond_spread([1.00, 1.02, 1.05], [0.90, 0.93, 0.95])
    assert not faster_beyond_spread([1.00, 1.02, 1.05], [0.90, 0.95, 1.01])
    assert not faster_beyond_spread([], [0.5])
    # 5 rounds each: one candidate round slowed by another job into the
    # reference's range (1.06) does not hide a x2 speed-up; slowed beyond
    # all of it (1.30, 5 pairs the other way) it does; two equal models are
    # not faster.
    reference = [1.00, 1.02, 1.05, 1.08, 1.10]
    assert faster_beyond_spread(reference, [0.50, 0.52, 0.55, 0.56, 1.06])
    assert not faster_beyond_spread(reference,
                                    [0.50, 0.52, 0.55, 0.56, 1.30])
    assert not faster_beyond_spread(reference, reference)
    assert not faster_beyond_spread(reference,
                                    [0.98, 1.01, 1.03, 1.07, 1.09])


def test_equally_fast_models_pass_the_speed_rule_at_most_alpha():
    # Exchangeable rounds: every ordering of the 10 rounds equally likely.
    import itertools
    passed = total = 0
    values = list(range(10))
    for chosen in itertools.combinations(values, 5):
        candidate = list(chosen)
        reference = [v for v in values if v not in chosen]
        passed += faster_beyond_spread(reference, candidate)
        total += 1
    assert passed / total <= 0.05
