"""OperatingPointMetric: test numbers at the stored point next to
argmax's, nothing for a model at argmax."""
import pytest
import torch

from mmtricks.models.operating_point_metric import OperatingPointMetric


def sample(defective_score, label, point=(1, 0.3)):
    result = dict(pred_score=torch.tensor([1 - defective_score,
                                           defective_score]),
                  gt_label=torch.tensor([label]))
    if point is not None:
        result['operating_point'] = point
    return result


def test_reports_the_point_next_to_argmax():
    metric = OperatingPointMetric()
    metric.dataset_meta = dict(classes=['functional', 'defective'])
    metric.process(None, [sample(0.4, 1), sample(0.35, 1), sample(0.8, 1),
                          sample(0.1, 0), sample(0.32, 0)])
    result = metric.evaluate(5)
    assert result['operating_point/recall'] == pytest.approx(100.0)
    assert result['operating_point/argmax_recall'] == pytest.approx(100 / 3)
    assert result['operating_point/precision'] == pytest.approx(75.0)
    assert result['operating_point/argmax_precision'] == pytest.approx(100.0)
    assert result['operating_point/threshold'] == pytest.approx(0.3)


def test_nothing_at_argmax_and_no_warning(monkeypatch):
    """A balanced 2-class run keeps argmax: no numbers, and not MMEngine's
    'got empty self.results' warning on every test."""
    import mmengine.evaluator.metric as upstream
    said = []
    monkeypatch.setattr(upstream, 'print_log',
                        lambda message, *a, **k: said.append(message))
    metric = OperatingPointMetric()
    metric.process(None, [sample(0.4, 1, point=None)])
    assert metric.evaluate(1) == {}
    assert not [m for m in said if 'empty' in m]
