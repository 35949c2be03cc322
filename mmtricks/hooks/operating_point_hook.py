"""Chooses a 2-class model's operating point on val at the end of training,
on the weights that ship, and stores it in the model and the shipped
checkpoint (the rules: :mod:`mmtricks.models.operating_point`)."""
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmengine.dist import (barrier, broadcast_object_list, collect_results,
                           is_main_process)
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from ..compat.checkpoint_loading import load_checkpoint_file
from ..models.data_aware_classifier import (OPERATING_POINT_KEY,
                                            DataAwareClassifier)
from ..models.model_state import unwrap_model
from ..models.operating_point import (OperatingRule, choose_operating_point,
                                      resolve_setting)
from .auto_epochs_hook import SHIPPED_NAME

#: The config's top-level setting.
SETTING = 'operating_point'
#: Where a checkpoint's meta keeps the chosen point and its val numbers.
META_KEY = 'operating_point'
#: Message-hub key of PerClassReportHook's training class balance.
BALANCE_KEY = 'train_class_balance'


def val_scores(model, dataloader) -> Tuple[np.ndarray, np.ndarray]:
    """Softmax scores ``(N, K)`` and labels of ``model`` on a loader, every
    rank's images gathered (each image once)."""
    model.eval()
    scores: List[np.ndarray] = []
    labels: List[int] = []
    with torch.no_grad():
        for batch in dataloader:
            for sample in model.val_step(batch):
                scores.append(sample.pred_score.float().cpu().numpy())
                labels.append(int(sample.gt_label.reshape(-1)[0]))
    gathered = collect_results(list(zip(scores, labels)),
                               len(dataloader.dataset))
    shared = [gathered]
    broadcast_object_list(shared)
    pairs = shared[0]
    return np.stack([s for s, _ in pairs]), np.array([y for _, y in pairs])


def store_in_checkpoint(path: str, point_meta: dict, value: List[float]
                        ) -> None:
    """Write the point into a checkpoint file, in place (the hard link of
    the best checkpoint AutoEpochsHook ships sees it too)."""
    saved = load_checkpoint_file(path, map_location='cpu')
    saved['state_dict'][OPERATING_POINT_KEY] = torch.tensor(value)
    saved.setdefault('meta', {})[META_KEY] = point_meta
    with open(path, 'r+b') as f:  # same file: no second copy on disk
        f.truncate(0)
        torch.save(saved, f)


@HOOKS.register_module()
class OperatingPointHook(Hook):
    """At the end of training, the threshold the config's
    ``operating_point`` asks for, on val scores of the final (shipped)
    weights: logged in one line (val recall and precision of the class at
    it and at argmax), set in the model and stored in ``work_dir/``
    ``best_auto_epochs.pth`` (its ``operating_point`` buffer and
    ``meta['operating_point']``), so ``mim test`` and ``tools/deploy.py``
    apply it.

    The setting is checked against the classes before training, so a
    wrong class name costs no run.

    After :class:`AutoEpochsHook` (both LOWEST: list this one after it),
    which loads the best weights back into the model.

    Args:
        operating_point: The setting; None reads the config's top-level
            ``operating_point`` (absent: ``'auto'``).
    """
    priority = 'LOWEST'

    def __init__(self, operating_point=None):
        self.setting = operating_point
        self.rule: Optional[OperatingRule] = None
        self.point = None

    def _setting(self, runner):
        if self.setting is not None:
            return self.setting
        cfg = getattr(runner, 'cfg', None) or {}
        return cfg.get(SETTING, 'auto')

    def before_train(self, runner) -> None:
        if runner.val_loop is None:
            self.rule = None
            if self._setting(runner) not in (None, 'argmax', 'auto'):
                runner.logger.warning(
                    f'{SETTING}: no val split to choose it on: argmax.')
            return
        classes = (runner.val_dataloader.dataset.metainfo or {}).get(
            'classes') or ()
        balance = runner.message_hub.get_info(BALANCE_KEY) or {}
        counts = balance.get('counts')
        imbalanced = bool(balance.get('imbalanced', False))
        if counts is None and len(classes) == 2:
            labels = np.asarray(
                runner.train_dataloader.dataset.get_gt_labels())
            counts = np.bincount(labels, minlength=2).tolist()
            from ..datasets.class_balance import class_balance
            imbalanced = class_balance(counts, classes)[0]
        self.rule, line = resolve_setting(self._setting(runner), classes,
                                          counts, imbalanced, SETTING)
        runner.logger.info(line)

    def after_train(self, runner) -> None:
        if self.rule is None:
            return
        model = unwrap_model(runner.model)
        if not isinstance(model, DataAwareClassifier):
            runner.logger.warning(
                f'{SETTING}: the model is a {type(model).__name__}, which '
                'cannot hold a threshold: argmax kept. Use '
                "model.type='DataAwareClassifier'.")
            return
        scores, labels = val_scores(runner.model,
                                    runner.val_dataloader)
        point, line, warn = choose_operating_point(scores, labels,
                                                   self.rule, SETTING)
        self.point = point
        (runner.logger.warning if warn else runner.logger.info)(line)
        if point.threshold is None:
            return
        model.set_operating_point(point.class_index, point.threshold)
        shipped = osp.join(runner.work_dir, SHIPPED_NAME)
        if is_main_process():
            if osp.isfile(shipped):
                store_in_checkpoint(shipped, point.to_meta(),
                                    [float(point.class_index),
                                     float(point.threshold)])
                runner.logger.info(f'{SETTING}: stored in {shipped}.')
            else:
                runner.logger.warning(
                    f'{SETTING}: no {SHIPPED_NAME} in the work dir (no '
                    'AutoEpochsHook?), so only the model in memory holds '
                    'it; save a checkpoint of it to keep it.')
        barrier()
