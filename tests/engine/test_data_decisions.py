"""The recipe's rules from the data, called as plain functions."""
import pytest

from mmtricks.engine.data_decisions import (MACRO_F1, TOP1, check_num_classes,
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
    with pytest.raises(ValueError, match="prefix='macro'"):
        choose_monitor(True, 0.3, macro_f1_available=False)


def test_num_classes_from_data_or_checked():
    assert check_num_classes(None, ['a', 'b', 'c'], 'DIR') == 3
    assert check_num_classes(3, ['a', 'b', 'c'], 'DIR') == 3
    with pytest.raises(ValueError, match=r'num_classes=5 but DIR has 3'):
        check_num_classes(5, ['a', 'b', 'c'], 'DIR')
