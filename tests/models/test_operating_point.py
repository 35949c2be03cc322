"""The operating point's pure core: the setting, macro-F1 and min-recall
thresholds, ties, and the cases where argmax is kept."""
import numpy as np
import pytest

from mmtricks.models.operating_point import (
    OperatingPointError, OperatingRule, at_threshold_and_argmax,
    choose_operating_point, macro_f1_threshold, min_recall_threshold,
    predict_labels, recall_precision, resolve_setting)

CLASSES = ('functional', 'defective')


def two_class(positive_scores):
    positive_scores = np.asarray(positive_scores, dtype=float)
    return np.stack([1 - positive_scores, positive_scores], axis=1)


def test_min_recall_is_the_highest_threshold_reaching_it():
    # 10 defective: scores 0.05..0.95; 90% recall needs the 9 highest.
    pos = np.linspace(0.95, 0.05, 10)
    neg = np.full(10, 0.01)
    scores = np.concatenate([pos, neg])
    labels = np.r_[np.ones(10), np.zeros(10)].astype(bool)
    t = min_recall_threshold(scores, labels, 0.9)
    # mid-gap between the 9th (0.15) and 10th (0.05) defective score
    assert t == pytest.approx(0.10)
    assert np.mean(scores[labels] >= t) == pytest.approx(0.9)
    # a higher threshold loses recall: t is the highest
    assert np.mean(scores[labels] >= 0.151) < 0.9


def test_macro_f1_threshold_beats_argmax_on_a_low_scoring_minority():
    # The minority scores 0.2-0.4, the majority 0-0.15: argmax (0.5) finds
    # none of the minority, the threshold all of it.
    rng = np.random.default_rng(0)
    pos = rng.uniform(0.2, 0.4, 20)
    neg = rng.uniform(0.0, 0.15, 80)
    t, f1 = macro_f1_threshold(np.r_[pos, neg], np.r_[np.ones(20),
                                                       np.zeros(80)])
    assert 0.15 < t < 0.2
    assert f1 == pytest.approx(1.0)


def test_macro_f1_ties_go_to_the_threshold_nearest_argmax():
    # Separable with a wide gap: every threshold in (0.1, 0.9) is perfect.
    scores = np.r_[[0.9, 0.95], [0.05, 0.1]]
    t, f1 = macro_f1_threshold(scores, [1, 1, 0, 0])
    assert f1 == 1.0 and t == pytest.approx(0.5)
    # Two gaps tie (macro-F1 0.733 at 0.8 and at 0.3): 0.3 is nearer 0.5.
    t, f1 = macro_f1_threshold([0.9, 0.5, 0.7, 0.1], [1, 1, 0, 0])
    assert f1 == pytest.approx(11 / 15) and t == pytest.approx(0.3)


def test_tied_scores_move_together():
    # 4 defective images share one score: recall jumps from 0 to 1.
    scores = np.r_[[0.3] * 4, [0.2] * 4]
    labels = [1, 1, 1, 1, 0, 0, 0, 0]
    t = min_recall_threshold(scores, labels, 0.5)
    assert t == pytest.approx(0.25)
    assert recall_precision(predict_labels(two_class(scores), 1, t),
                            labels, 1) == (1.0, 1.0)


def test_unreachable_recall_and_no_positives_keep_argmax_with_a_warning():
    rule = OperatingRule(1, 'defective', min_recall=0.9)
    # defective scores below every functional one: 90% recall only by
    # calling everything defective
    scores = two_class(np.r_[[0.1, 0.2], [0.6, 0.7, 0.8]])
    labels = np.array([1, 1, 0, 0, 0])
    point, line, warn = choose_operating_point(scores, labels, rule)
    assert point.threshold is None and warn
    assert 'argmax kept' in line and 'every val image' in line
    point, line, warn = choose_operating_point(
        scores, np.zeros(5, int), OperatingRule(1, 'defective'))
    assert point.threshold is None and warn and "no 'defective'" in line


def test_choose_logs_recall_and_precision_against_argmax():
    scores = two_class(np.r_[[0.45, 0.4, 0.8], [0.1, 0.2, 0.3, 0.42]])
    labels = np.array([1, 1, 1, 0, 0, 0, 0])
    point, line, warn = choose_operating_point(
        scores, labels, OperatingRule(1, 'defective', min_recall=1.0))
    assert not warn
    assert point.recall == 1.0 and point.argmax_recall == pytest.approx(1/3)
    assert 'recall 100.0%' in line and 'argmax: recall 33.3%' in line
    numbers = at_threshold_and_argmax(scores, labels, 1, point.threshold)
    assert numbers['recall'] == 1.0 and numbers['argmax_recall'] < 0.5


def test_predict_labels_is_argmax_without_a_threshold():
    scores = two_class([0.3, 0.7])
    assert predict_labels(scores).tolist() == [0, 1]
    assert predict_labels(scores, 1, float('nan')).tolist() == [0, 1]
    assert predict_labels(scores, 1, 0.25).tolist() == [1, 1]
    assert predict_labels(scores, 0, 0.25).tolist() == [0, 0]


def test_setting_auto_takes_the_minority_class_on_imbalanced_data():
    rule, line = resolve_setting('auto', CLASSES, [300, 100], True)
    assert rule.class_name == 'defective' and rule.min_recall is None
    rule, line = resolve_setting('auto', CLASSES, [300, 250], False)
    assert rule is None and 'balanced' in line
    rule, line = resolve_setting('auto', list('abc'), [1, 1, 9], True)
    assert rule is None and 'applies to 2 classes' in line and '3' in line
    assert resolve_setting(None, CLASSES)[0] is None
    assert resolve_setting('argmax', CLASSES)[0] is None


def test_setting_dict_is_checked_against_the_classes():
    rule, _ = resolve_setting(dict(cls='defective', min_recall=0.9),
                              CLASSES)
    assert (rule.class_index, rule.min_recall) == (1, 0.9)
    with pytest.raises(OperatingPointError,
                       match="'cracked' is not a class.*'functional', "
                             "'defective'"):
        resolve_setting(dict(cls='cracked', min_recall=0.9), CLASSES)
    with pytest.raises(OperatingPointError, match='needs 2 classes'):
        resolve_setting(dict(cls='a'), list('abc'))
    with pytest.raises(OperatingPointError, match='min_recall'):
        resolve_setting(dict(cls='defective', min_recall=90), CLASSES)
    with pytest.raises(OperatingPointError, match='unknown: recall'):
        resolve_setting(dict(cls='defective', recall=0.9), CLASSES)
    with pytest.raises(OperatingPointError, match="must be 'auto'"):
        resolve_setting(0.3, CLASSES)
