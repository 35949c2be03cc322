import pytest

from mmtricks.datasets.class_balance import IMBALANCE_RATIO, class_balance


def test_elpv_poly_training_split_is_reported_imbalanced():
    # elpv_poly's training split: 658 functional, 272 defective.
    imbalanced, ratio, line = class_balance([658, 272],
                                            ('functional', 'defective'))
    assert imbalanced and ratio == pytest.approx(272 / 658)
    assert line.startswith(
        'Training split: 930 images (functional 658, defective 272): '
        'imbalanced (minority/majority 0.41 < 0.5)')
    # The reason: the trivial answer's top-1, and what to read instead.
    assert "always answering 'functional' would score 70.8% top-1" in line
    assert "recall (of 'defective'" in line
    assert '\n' not in line


@pytest.mark.parametrize('counts, imbalanced', [
    ([40, 40], False),
    ([100, 50], False),   # exactly the threshold: balanced
    ([100, 49], True),
    ([10] * 9 + [4], True),
])
def test_imbalance_rule_is_minority_over_majority(counts, imbalanced):
    classes = [f'c{i}' for i in range(len(counts))]
    assert class_balance(counts, classes)[0] is imbalanced
    assert IMBALANCE_RATIO == 0.5


def test_many_classes_fit_one_line():
    counts = list(range(5, 25))
    _, _, line = class_balance(counts, [f'c{i}' for i in range(20)])
    assert '20 classes, smallest c0 5, largest c19 24' in line
