"""Test numbers at a 2-class model's operating point next to argmax's.

MMPretrain's metrics read ``pred_score`` (argmax), so they keep reporting
argmax; this one reads the operating point
:class:`~mmtricks.models.DataAwareClassifier` puts in each sample and
reports the class's recall and precision, and top-1, at both.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpretrain.registry import METRICS

from .operating_point import at_threshold_and_argmax

PREFIX = 'operating_point'


@METRICS.register_module()
class OperatingPointMetric(BaseMetric):
    """``operating_point/{threshold,recall,precision,top1}`` and their
    ``argmax_`` counterparts (per cent, the threshold as is), plus one log
    line; nothing for a model at argmax.

    Args:
        prefix (str): Key prefix. Defaults to ``'operating_point'``.
    """
    default_prefix = PREFIX

    def __init__(self, collect_device: str = 'cpu',
                 prefix: Optional[str] = PREFIX):
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            point = sample.get('operating_point')
            if point is None:
                # A marker, not nothing: MMEngine warns of a metric left
                # with no results on every test of a model at argmax.
                self.results.append(None)
                continue
            self.results.append(dict(
                score=np.asarray(sample['pred_score'].cpu(), np.float64),
                label=int(np.asarray(sample['gt_label'].cpu()).reshape(-1)[0]),
                point=(int(point[0]), float(point[1]))))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        results = [r for r in results if r is not None]
        if not results:
            return {}
        index, threshold = results[0]['point']
        numbers = at_threshold_and_argmax(
            np.stack([r['score'] for r in results]),
            np.array([r['label'] for r in results]), index, threshold)
        classes = (self.dataset_meta or {}).get('classes')
        name = classes[index] if classes and index < len(classes) \
            else str(index)
        MMLogger.get_current_instance().info(
            f'Operating point ({name!r} when its score >= {threshold:.4f}):'
            f' recall {100 * numbers["recall"]:.1f}%, precision '
            f'{100 * numbers["precision"]:.1f}%, top-1 '
            f'{100 * numbers["top1"]:.1f}% (argmax: recall '
            f'{100 * numbers["argmax_recall"]:.1f}%, precision '
            f'{100 * numbers["argmax_precision"]:.1f}%, top-1 '
            f'{100 * numbers["argmax_top1"]:.1f}%).')
        metrics = {k: 100.0 * v for k, v in numbers.items()}
        metrics['threshold'] = float(threshold)
        return metrics
