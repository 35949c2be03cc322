import json
import os.path as osp

import numpy as np
import pytest

from conftest import train
from mmtricks.datasets.class_balance import class_balance
from mmtricks.hooks.per_class_report_hook import (PerClassReportHook,
                                                  class_counts,
                                                  name_classwise_metrics,
                                                  save_confusion_matrix)


def test_class_counts_keep_absent_classes():
    np.testing.assert_array_equal(class_counts([0, 2, 2], 4), [1, 0, 2, 0])


def test_per_class_lists_become_scalars_named_by_class():
    metrics = {'accuracy/top1': 70.0,
               'class/recall_classwise': [90.0, 40.0],
               'class/precision_classwise': [80.0, 60.0],
               'confusion_matrix/result': [[9, 1], [6, 4]]}
    added = name_classwise_metrics(metrics, ['functional', 'defective'])
    assert metrics == {'accuracy/top1': 70.0,
                       'class/recall/functional': 90.0,
                       'class/recall/defective': 40.0,
                       'class/precision/functional': 80.0,
                       'class/precision/defective': 60.0,
                       'confusion_matrix/result': [[9, 1], [6, 4]]}
    assert list(metrics)[0] == 'accuracy/top1'
    assert len(added) == 4
    # Names that do not fit the list: named by index, nothing dropped.
    metrics = {'class/recall_classwise': [1.0, 2.0, 3.0]}
    name_classwise_metrics(metrics, ['a', 'b'])
    assert metrics == {'class/recall/0': 1.0, 'class/recall/1': 2.0,
                       'class/recall/2': 3.0}


def test_confusion_matrix_png(tmp_path):
    path = str(tmp_path / 'cm.png')
    save_confusion_matrix([[9, 1], [6, 4]], ['functional', 'defective'],
                          path, 'Confusion matrix, test')
    with open(path, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_bad_ratio_is_refused():
    with pytest.raises(ValueError, match='imbalance_ratio must be in'):
        PerClassReportHook(imbalance_ratio=0.0)


@pytest.mark.slow
def test_shipped_config_reports_per_class_and_saves_matrices(
        make_fast_config):
    cfg = make_fast_config(bundled='lfw_faces')
    cfg.model.head.num_classes = cfg.data_preprocessor.num_classes = 2
    # Top-1 stays first: save_best and the epoch policy monitor it.
    assert cfg.val_evaluator[0] == dict(type='Accuracy', topk=(1, ))
    # test adds the 2-class operating point's numbers (OperatingPointMetric)
    assert cfg.test_evaluator[:len(cfg.val_evaluator)] == cfg.val_evaluator
    assert any(h.type == 'PerClassReportHook' for h in cfg.custom_hooks)
    runner = train(cfg)
    metrics = runner.test()
    work_dir = cfg.work_dir
    for split in ('val', 'test'):
        assert osp.isfile(osp.join(work_dir, f'confusion_matrix_{split}.png'))
    for key in ('class/recall/face', 'class/recall/non_face',
                'macro/f1-score', 'macro/recall'):
        assert key in metrics
    assert not any(k.endswith('_classwise') for k in metrics)
    # Per-class values reach scalars.json (MMEngine drops lists from it).
    with open(osp.join(runner.log_dir, 'vis_data', 'scalars.json')) as f:
        val_rows = [json.loads(line) for line in f
                    if 'accuracy/top1' in line]
    assert 'class/recall/non_face' in val_rows[-1]
    assert isinstance(val_rows[-1]['class/f1-score/face'], float)
    balance = runner.message_hub.get_info('train_class_balance')
    assert balance == dict(classes=['face', 'non_face'], counts=[40, 40],
                           ratio=1.0, imbalanced=False)


class _Wrapped:
    """A dataset seen through a wrapper: no get_gt_labels, only get_cat_ids
    (as MMEngine's ClassBalancedDataset, which repeats rare classes)."""
    metainfo = dict(classes=('functional', 'defective'))

    def __init__(self, labels):
        self.labels = labels

    def __len__(self):
        return len(self.labels)

    def get_cat_ids(self, index):
        return [self.labels[index]]


class _Logger:
    def __init__(self):
        self.lines = []

    def info(self, line):
        self.lines.append(line)


def test_before_train_reports_the_labels_trained_on():
    from types import SimpleNamespace

    from mmengine.logging import MessageHub
    runner = SimpleNamespace(
        train_dataloader=SimpleNamespace(
            dataset=_Wrapped([0] * 30 + [1] * 10)),
        logger=_Logger(),
        message_hub=MessageHub.get_instance('test_per_class_report_hook'))
    PerClassReportHook().before_train(runner)
    assert runner.logger.lines == [class_balance(
        [30, 10], ('functional', 'defective'))[2]]
    assert runner.message_hub.get_info('train_class_balance') == dict(
        classes=['functional', 'defective'], counts=[30, 10],
        ratio=pytest.approx(1 / 3), imbalanced=True)
