"""The acceptance bounds: exact where they can be, and honest in coverage
(a true drop above the tolerance is accepted at most alpha of the time)."""
import numpy as np
import pytest

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
    assert paired_drop_bound(0, 0, 215, 0.975) > 0.5
    assert disagreement_bound(0, 215, 0.975) > 1.0
    assert drop_bound(0, 0, 215, 0, 0) > 0.5


def test_two_images_are_not_within_one_point():
    # The case: val said "within 1 point" on 215 images.
    assert drop_bound(lost=3, gained=1, labelled=215, disagreements=4,
                      unlabelled=0) > 1.0


def test_agreement_on_many_unlabelled_images_accepts():
    assert drop_bound(lost=1, gained=1, labelled=215, disagreements=1,
                      unlabelled=2000) < 1.0


def test_images_to_show_is_where_the_label_free_bound_meets_tolerance():
    n = images_to_show(1.0, 0.95)
    assert disagreement_bound(0, n, 0.975) <= 1.0 < \
        disagreement_bound(0, n - 1, 0.975)


@pytest.mark.parametrize('drop, flip_rate', [
    (0.011, 0.011), (0.015, 0.02), (0.015, 0.06)])
def test_a_drop_beyond_tolerance_is_rarely_accepted(drop, flip_rate):
    # A true drop just over the 1-point tolerance: a share of images flips,
    # more of them right -> wrong than wrong -> right. Accepting must happen
    # in at most ~5% of draws. (With every flip a loss, a plain Wald bound,
    # which reads 0 or 1 flipped image as certainty, accepts 16%.)
    rng = np.random.default_rng(0)
    n = 300
    lost_p = (flip_rate + drop) / 2
    gained_p = (flip_rate - drop) / 2
    accepted = 0
    draws = 2000
    for _ in range(draws):
        lost, gained, _ = rng.multinomial(
            n, [lost_p, gained_p, 1 - lost_p - gained_p])
        accepted += drop_bound(lost, gained, n, lost + gained, 0) <= 1.0
    assert accepted / draws <= 0.06


def test_speed_must_beat_the_spread_of_the_rounds():
    assert faster_beyond_spread([1.00, 1.02, 1.05], [0.90, 0.93, 0.95])
    assert not faster_beyond_spread([1.00, 1.02, 1.05], [0.90, 0.95, 1.01])
    assert not faster_beyond_spread([], [0.5])
