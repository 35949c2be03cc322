"""Per-class results made visible: class balance, per-class metrics, confusion
matrix.

The numbers come from MMPretrain's metrics in the config's evaluators
(``SingleLabelMetric(average=None)``, ``ConfusionMatrix``); this module only
counts training labels, renames the per-class lists into scalars and draws
the matrix with ``ConfusionMatrix.plot``.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from ..datasets.class_balance import IMBALANCE_RATIO, class_balance

CLASSWISE_SUFFIX = '_classwise'
CONFUSION_MATRIX_KEY = 'confusion_matrix/result'


def class_counts(labels: Sequence[int], num_classes: int) -> np.ndarray:
    """Images per class (``num_classes`` entries, zeros for absent ones)."""
    return np.bincount(np.asarray(labels, dtype=np.int64),
                       minlength=num_classes)


def name_classwise_metrics(metrics: dict, classes: Sequence[str]) -> List[str]:
    """Replace each per-class list ``<name>_classwise`` of ``metrics`` by
    one scalar ``<name>/<class>`` per class, in place.

    MMEngine logs only scalars to ``scalars.json`` and prints lists as
    unrounded floats; named scalars reach both, rounded in the log.

    Args:
        metrics (dict): Evaluation results; modified in place.
        classes (sequence of str): Class names; a list of another length
            is named by class index.

    Returns:
        list[str]: The keys added.
    """
    added = []
    for key in [k for k in metrics if k.endswith(CLASSWISE_SUFFIX)]:
        values = metrics[key]
        if not isinstance(values, (list, tuple)):
            continue
        names = classes if len(classes) == len(values) else \
            [str(i) for i in range(len(values))]
        base = key[:-len(CLASSWISE_SUFFIX)]
        del metrics[key]
        for name, value in zip(names, values):
            metrics[f'{base}/{name}'] = float(value)
            added.append(f'{base}/{name}')
    return added


def save_confusion_matrix(matrix, classes: Sequence[str], path: str,
                          title: str) -> None:
    """Draw ``matrix`` (rows: true class, columns: predicted) with
    MMPretrain's ``ConfusionMatrix.plot`` and save it as ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import torch
    from mmpretrain.evaluation import ConfusionMatrix
    matrix = torch.as_tensor(matrix)
    fig = ConfusionMatrix.plot(matrix, include_values=True,
                               classes=list(classes), show=False)
    fig.axes[0].set_title(title)
    fig.savefig(path, bbox_inches='tight')
    plt.close(fig)


@HOOKS.register_module()
class PerClassReportHook(Hook):
    """Shows how each class fares, for imbalanced data above all.

    - Before training: one log line with the training split's images per
      class and whether it is imbalanced (minority/majority below
      ``imbalance_ratio``), with the reason. The verdict is also put in the
      message hub as ``train_class_balance`` for other hooks.
    - After each validation and test: the per-class lists of
      ``SingleLabelMetric(average=None)`` (``<prefix>/recall_classwise``
      ...) become scalars named by class (``<prefix>/recall/<class>``), so
      they are logged rounded and reach ``scalars.json`` (MMEngine drops
      lists from it).
    - Confusion matrix of ``ConfusionMatrix`` as a PNG in the work dir:
      ``confusion_matrix_test.png`` after a test, and
      ``confusion_matrix_val.png`` of the last validation when training
      ends.

    Runs before MMEngine's ``RuntimeInfoHook`` (priority HIGHEST) so that
    the logger sees the renamed scalars. Needs no state in checkpoints.

    Args:
        imbalance_ratio (float): Training data is reported imbalanced when
            its smallest class has fewer than this share of the images of
            its largest. Defaults to 0.5.
        save_png (bool): Write the confusion matrix PNGs. Defaults to True.
    """
    priority = 'HIGHEST'

    def __init__(self, imbalance_ratio: float = IMBALANCE_RATIO,
                 save_png: bool = True):
        if not 0.0 < imbalance_ratio <= 1.0:
            raise ValueError(
                f'imbalance_ratio must be in (0, 1], got {imbalance_ratio!r}.')
        self.imbalance_ratio = imbalance_ratio
        self.save_png = save_png
        self._last_val: Optional[Tuple[object, int]] = None

    def before_train(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        classes = _classes_of(dataset)
        if classes is None:
            return
        counts = class_counts(_labels_of(dataset), len(classes))
        imbalanced, ratio, line = class_balance(counts, classes,
                                                self.imbalance_ratio)
        runner.logger.info(line)
        runner.message_hub.update_info(
            'train_class_balance',
            dict(classes=list(classes), counts=[int(n) for n in counts],
                 ratio=ratio, imbalanced=imbalanced),
            resumed=False)

    def after_val_epoch(self, runner, metrics: Optional[Dict] = None) -> None:
        if not metrics:
            return
        name_classwise_metrics(metrics,
                               _classes_of(runner.val_dataloader.dataset))
        if CONFUSION_MATRIX_KEY in metrics:
            self._last_val = (metrics[CONFUSION_MATRIX_KEY], runner.epoch)

    def after_train(self, runner) -> None:
        if self._last_val is None:
            return
        matrix, epoch = self._last_val
        self._write(runner, matrix, runner.val_dataloader.dataset, 'val',
                    f'validation after epoch {epoch}')

    def after_test_epoch(self, runner,
                         metrics: Optional[Dict] = None) -> None:
        if not metrics:
            return
        dataset = runner.test_dataloader.dataset
        name_classwise_metrics(metrics, _classes_of(dataset))
        if CONFUSION_MATRIX_KEY in metrics:
            self._write(runner, metrics[CONFUSION_MATRIX_KEY], dataset,
                        'test', 'test')

    def _write(self, runner, matrix, dataset, split: str, title: str):
        if not self.save_png or not is_main_process():
            return
        classes = _classes_of(dataset) or \
            [str(i) for i in range(len(matrix))]
        path = osp.join(runner.work_dir, f'confusion_matrix_{split}.png')
        save_confusion_matrix(matrix, classes, path,
                              f'Confusion matrix, {title}')
        runner.logger.info(f'Confusion matrix ({title}) saved as {path}.')


def _classes_of(dataset) -> Optional[List[str]]:
    classes = getattr(dataset, 'metainfo', {}).get('classes')
    return list(classes) if classes else None


def _labels_of(dataset) -> np.ndarray:
    """Training labels; through ``get_cat_ids`` for MMEngine's dataset
    wrappers (e.g. ``ClassBalancedDataset``: the labels as repeated)."""
    if hasattr(dataset, 'get_gt_labels'):
        return np.asarray(dataset.get_gt_labels())
    return np.array([dataset.get_cat_ids(i)[0] for i in range(len(dataset))])
