import numpy as np
import pytest

from mmtricks.deploy.parity import parity_failures, parity_report


def test_report_counts_top1_and_disagreement():
    reference = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    candidate = np.array([[0.8, 0.2], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
    labels = np.array([0, 1, 0, 0])
    report = parity_report(reference, candidate, labels)
    assert report['images'] == 4
    assert report['reference_top1'] == pytest.approx(75.0)
    assert report['candidate_top1'] == pytest.approx(50.0)
    assert report['top1_disagreement'] == pytest.approx(25.0)
    assert report['max_abs_score_diff'] == pytest.approx(0.2)


def test_mismatched_arrays_are_refused():
    with pytest.raises(ValueError, match='same images'):
        parity_report(np.zeros((3, 2)), np.zeros((4, 2)), np.zeros(3))


def test_failures_name_each_broken_tolerance():
    report = dict(reference_top1=90.0, candidate_top1=89.0,
                  top1_disagreement=2.0, max_abs_score_diff=0.01)
    failures = parity_failures(report, max_top1_drop=0.5,
                               max_disagreement=0.5, max_score_diff=1e-3)
    assert len(failures) == 3
    assert 'dropped by 1.00 points' in failures[0]
    assert parity_failures(report, 1.0, 2.0, 0.01) == []


def test_both_sides_predict_at_the_operating_point():
    """At a threshold of 0.3 on class 1 both models call the second image 1
    (argmax: 0), so top-1 is counted as the deployed model predicts."""
    reference = np.array([[0.9, 0.1], [0.65, 0.35], [0.2, 0.8]])
    candidate = np.array([[0.9, 0.1], [0.66, 0.34], [0.2, 0.8]])
    labels = np.array([0, 1, 1])
    argmax = parity_report(reference, candidate, labels)
    at_point = parity_report(reference, candidate, labels, (1, 0.3))
    assert argmax['reference_top1'] == pytest.approx(200 / 3)
    assert at_point['reference_top1'] == at_point['candidate_top1'] == 100.0
    assert at_point['disagreements'] == 0
