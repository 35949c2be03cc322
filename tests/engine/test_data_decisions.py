"""The recipe's rules from the data, called as plain functions."""
import pytest

from mmtricks.engine.data_decisions import (MACRO_F1, TOP1, RecipeConfigError,
                                            check_batch_size,
                                            check_num_classes,
                                            choose_batch_size,
                                            choose_image_size, choose_monitor,
                                            class_balance)


@pytest.mark.parametrize('sides, expected', [
    ([8] * 10, 32),            # digits: enlarged to the stride
    ([28] * 10, 32),           # mnist
    ([47, 62, 50], 32),        # below 64: never enlarged past the images
    ([64, 70, 65], 64),
    ([100, 96, 120], 96),
    ([300] * 5, 128),          # ELPV: capped by the budget
    ([30, 40, 300, 310, 320], 128),  # the median decides
])
def test_size_is_the_largest_stride_multiple_within_budget(sides, expected):
    size, reason = choose_image_size(sides)
    assert size == expected
    assert reason.startswith(f'image_size {expected}:')


def test_size_follows_the_median_not_outliers():
    # one huge image among small ones does not make the run 16x dearer
    assert choose_image_size([40] * 9 + [4000])[0] == 32


def test_budget_is_stated_and_adjustable():
    size, reason = choose_image_size([300] * 3)
    assert 'max_image_size=128' in reason and '16x' in reason
    assert choose_image_size([300] * 3, max_image_size=256)[0] == 256
    assert choose_image_size([300] * 3, max_image_size=320)[0] == 288
    with pytest.raises(ValueError, match='at least 32'):
        choose_image_size([300], max_image_size=16)
    with pytest.raises(ValueError, match='at least one'):
        choose_image_size([])


def test_monitor_is_macro_f1_only_when_imbalanced():
    imbalanced, ratio, _ = class_balance([658, 272], ['ok', 'defect'])
    assert imbalanced and ratio == pytest.approx(272 / 658)
    assert choose_monitor(imbalanced, ratio, True)[0] == MACRO_F1
    balanced = class_balance([100, 90], ['a', 'b'])
    assert choose_monitor(balanced[0], balanced[1], True)[0] == TOP1
    with pytest.raises(RecipeConfigError, match="prefix='macro'"):
        choose_monitor(True, 0.3, macro_f1_available=False)


def test_num_classes_from_data_or_checked():
    assert check_num_classes(None, ['a', 'b', 'c'], 'DIR') == 3
    assert check_num_classes(3, ['a', 'b', 'c'], 'DIR') == 3
    # The settings error deploy and the tools turn into one line.
    with pytest.raises(RecipeConfigError,
                       match=r'num_classes=5 but DIR has 3'):
        check_num_classes(5, ['a', 'b', 'c'], 'DIR')


@pytest.mark.parametrize('images, expected', [
    (130, 16),    # the 10 digits x 13: 8 steps of 16, not 2 of 64
    (80, 8),      # lfw_faces' training split
    (40, 8),      # below 8 steps even at the smallest batch
    (5, 5),       # never above the split
    (512, 64),    # exactly 8 steps at the full batch
    (511, 32),
    (1078, 64),   # digits, mnist, ELPV: the measured default unchanged
])
def test_batch_size_gives_an_epoch_enough_steps(images, expected):
    batch, reason = choose_batch_size(images)
    assert batch == expected
    assert f'batch_size {expected}' in reason and str(images) in reason


def test_batch_size_reason_names_the_dropped_remainder():
    _, reason = choose_batch_size(130)
    assert 'skips 2 image(s)' in reason and 'batch_size=N' in reason
    _, reason = choose_batch_size(512)
    assert 'skips' not in reason


def test_a_batch_larger_than_the_split_is_refused():
    check_batch_size(16, 16)
    with pytest.raises(RecipeConfigError, match='at most 15'):
        check_batch_size(16, 15)
    with pytest.raises(RecipeConfigError, match='positive integer'):
        check_batch_size('64', 100)
