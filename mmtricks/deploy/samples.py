"""The labelled images a deployment is checked and calibrated on: which
split, and its images through the config's test pipeline."""
import copy
from typing import Optional, Tuple

import numpy as np
import torch

from .inputs import DeployInputError

# The split the candidates are chosen on; the reported accuracy comes from
# the test split when the config has one distinct from it.
CHOICE_SPLIT = 'val'
REPORT_SPLITS = ('auto', 'val', 'test')


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
