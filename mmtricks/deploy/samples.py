"""The labelled images a deployment is checked and calibrated on: which
split, which of its images do what, and its images through the config's
test pipeline."""
import copy
from typing import List, Optional, Tuple

import numpy as np
import torch

from .inputs import DeployInputError

# The split the candidates are chosen on; the reported accuracy comes from
# the test split when the config has one distinct from it.
CHOICE_SPLIT = 'val'
REPORT_SPLITS = ('auto', 'val', 'test')
# Training images are drawn in this seeded order: the first ones calibrate
# INT8, the next ones (if asked for) are label-free judging images.
TRAINING_ORDER_SEED = 0


def tuning_and_judging(images: int) -> Tuple[np.ndarray, np.ndarray]:
    """Positions of the choice split's images (in the order the dataset
    lists them) that tune a candidate (even: 0, 2, 4, ...) and that judge it
    (odd: 1, 3, 5, ...). Every choice made while a candidate is built (for
    INT8: whether plain quantization is enough, NNCF accuracy control's
    search, which model is kept) looks only at the tuning images, so the
    judging images are as new to it as test images."""
    positions = np.arange(images)
    return positions[0::2], positions[1::2]


def select(batches, positions, batch_size: int = 32):
    """The ``(inputs, labels)`` batches of the images at ``positions``
    (ascending, counted across ``batches``); only those are copied."""
    wanted = np.asarray(positions, dtype=np.int64)
    inputs, labels, start = [], [], 0
    for batch_inputs, batch_labels in batches:
        count = len(batch_labels)
        local = wanted[(wanted >= start) & (wanted < start + count)] - start
        if len(local):
            index = torch.as_tensor(local)
            inputs.append(batch_inputs[index])
            labels.append(batch_labels[index])
        start += count
    if not inputs:
        return []
    inputs, labels = torch.cat(inputs), torch.cat(labels)
    return [(inputs[i:i + batch_size], labels[i:i + batch_size])
            for i in range(0, len(labels), batch_size)]


def data_classes(model_cfg) -> Tuple[str, ...]:
    """The classes of the data the deployment is checked on."""
    from ..datasets.facts import training_split_facts
    for split in ('train', CHOICE_SPLIT):
        loader = model_cfg.get(f'{split}_dataloader')
        if loader and isinstance(loader.get('dataset'), dict):
            return training_split_facts(loader['dataset']).classes
    return ()


def resolve_report_split(model_cfg, requested: str = 'auto') -> str:
    """The split whose accuracy is reported.

    ``'auto'``: the test split when ``test_dataloader`` holds another
    dataset than ``val_dataloader`` (the choice is made on val, so val's
    accuracy is biased by it), else val.
    """
    if requested not in REPORT_SPLITS:
        raise DeployInputError(
            f'report split must be one of {REPORT_SPLITS}, got {requested!r}.')
    if requested == CHOICE_SPLIT:
        return CHOICE_SPLIT
    test = (model_cfg.get('test_dataloader') or {}).get('dataset')
    val = (model_cfg.get(f'{CHOICE_SPLIT}_dataloader') or {}).get('dataset')
    distinct = bool(test) and test != val
    if requested == 'test' and not distinct:
        raise DeployInputError(
            'The config\'s test_dataloader is missing or is the validation '
            'set, so there is no independent test split to report. Give '
            'test_dataloader its own dataset (e.g. split=\'test\') or pass '
            '--report-split val.')
    return 'test' if distinct else CHOICE_SPLIT


def _dataset_cfg(model_cfg, split: str):
    loader = model_cfg.get(f'{split}_dataloader')
    if not loader:
        raise DeployInputError(
            f'The config has no {split}_dataloader; the deployment needs it '
            f'for {"the parity check" if split != "train" else "INT8 calibration"}.')
    if 'dataset' not in loader or 'type' not in loader['dataset']:
        raise DeployInputError(
            f'{split}_dataloader has no dataset with a type; the deployment '
            'builds it with the test pipeline.')
    dataset = copy.deepcopy(loader['dataset'])
    dataset['pipeline'] = copy.deepcopy(model_cfg.test_pipeline)
    return dataset


def preprocessed_batches(model_cfg, split: str, data_preprocessor,
                         limit: int, batch_size: int = 32,
                         seed: Optional[int] = None):
    """``(inputs, labels)`` batches of ``split`` through the test pipeline,
    and the dataset's class names.

    Args:
        limit (int): At most this many images: the first ones, or with
            ``seed`` a random choice of them.
    """
    from mmengine.dataset import pseudo_collate
    from mmpretrain.registry import DATASETS
    dataset = DATASETS.build(_dataset_cfg(model_cfg, split))
    indices = np.arange(len(dataset))
    if seed is not None:
        indices = np.random.default_rng(seed).permutation(indices)
    indices = indices[:limit]
    batches = []
    for start in range(0, len(indices), batch_size):
        samples = [dataset[int(i)] for i in indices[start:start + batch_size]]
        data = data_preprocessor(pseudo_collate(samples), False)
        labels = torch.cat([s.gt_label for s in data['data_samples']])
        batches.append((data['inputs'], labels))
    return batches, dataset.metainfo.get('classes')


def training_images(model_cfg, data_preprocessor, calibration: int,
                    label_free: int) -> Tuple[List[torch.Tensor], list]:
    """Training images in a fixed random order (:data:`TRAINING_ORDER_SEED`):
    the first ``calibration`` as NCHW batch-1 inputs (INT8 calibration),
    the next at most ``label_free`` as ``(inputs, labels)`` batches (images
    calibration did not see; their labels are not used)."""
    if calibration + label_free <= 0:
        return [], []
    batches, _ = preprocessed_batches(model_cfg, 'train', data_preprocessor,
                                      calibration + label_free,
                                      seed=TRAINING_ORDER_SEED)
    count = sum(len(y) for _, y in batches)
    first = select(batches, np.arange(min(calibration, count)))
    rest = np.arange(min(calibration, count), count)
    return ([x[None] for inputs, _ in first for x in inputs],
            select(batches, rest) if len(rest) else [])
