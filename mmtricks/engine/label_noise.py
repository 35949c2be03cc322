"""Label-noise candidates: the val/test images the trained model gets most
confidently wrong, with the Recipro-CAM map of the class it predicted.

An image of a held-out split is out of sample: a high loss on it (the
model puts almost no probability on its label) points either at a hard
image or at a wrong label. Both are worth a look; the report's gallery
(:mod:`~mmtricks.engine.run_report`) shows them ranked by that loss, the
image beside its overlay.

Written by the runner at the end of training (val) and of testing (test)
as ``label_noise/<split>.json`` and one PNG per image in the work dir.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np

from ..models.explain.overlay import as_bgr, overlay

FOLDER = 'label_noise'
#: Images shown per split: enough to spot a pattern, small enough to look
#: at each.
GALLERY_SIZE = 12
# A score of exactly 0 would make the loss infinite.
MIN_SCORE = 1e-12


def confidently_wrong(scores: np.ndarray, labels: np.ndarray,
                      limit: int = GALLERY_SIZE) -> List[int]:
    """Indices of the misclassified rows (argmax != label), highest loss
    (``-log score[label]``) first, at most ``limit``."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    rows = np.arange(len(labels))
    wrong = np.flatnonzero(scores.argmax(axis=1) != labels)
    loss = -np.log(np.maximum(scores[rows, labels], MIN_SCORE))
    return [int(i) for i in wrong[np.argsort(-loss[wrong], kind='stable')]
            ][:limit]


def beside(image_bgr: np.ndarray, saliency: np.ndarray) -> np.ndarray:
    """The image and its overlay side by side (the gallery's PNG)."""
    return np.hstack([as_bgr(image_bgr), overlay(image_bgr, saliency)])


def _score_split(model, dataset, batch_size: int):
    """Scores ``(N, K)``, labels ``(N,)`` and predicted-class maps
    ``(N, h, w)`` of every image of ``dataset``, in its order."""
    import torch
    from mmengine.dataset import pseudo_collate

    from ..models.explain import ExplainedClassifier
    explained = ExplainedClassifier(model).eval()
    scores, labels, maps = [], [], []
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            batch = pseudo_collate([dataset[i] for i in range(
                start, min(start + batch_size, len(dataset)))])
            data = model.data_preprocessor(batch, False)
            batch_scores, batch_maps = explained(data['inputs'])
            predicted = batch_scores.argmax(dim=1)
            rows = torch.arange(len(predicted))
            scores.append(batch_scores.float().cpu().numpy())
            maps.append(batch_maps[rows, predicted].float().cpu().numpy())
            labels.extend(int(s.gt_label.reshape(-1)[0])
                          for s in data['data_samples'])
    return np.concatenate(scores), np.array(labels), np.concatenate(maps)


def write_label_noise(model, dataset, work_dir: str, split: str,
                      batch_size: int = 32,
                      limit: int = GALLERY_SIZE) -> str:
    """Score ``dataset`` with ``model``, write the most confidently wrong
    images' overlays and ``<split>.json`` under ``work_dir/label_noise``;
    returns the JSON's path."""
    import cv2
    model = getattr(model, 'module', model)  # a DDP-wrapped model
    was_training = model.training
    try:
        scores, labels, maps = _score_split(model, dataset, batch_size)
    finally:
        model.train(was_training)
    names = list((dataset.metainfo or {}).get('classes') or ())
    folder = osp.join(work_dir, FOLDER)
    os.makedirs(folder, exist_ok=True)
    entries = []
    for rank, index in enumerate(confidently_wrong(scores, labels, limit)):
        sample = dataset[index]
        image = sample['inputs'].numpy().transpose(1, 2, 0)
        file = f'{split}_{rank:02d}.png'
        cv2.imwrite(osp.join(folder, file), beside(image, maps[index]))
        predicted = int(scores[index].argmax())
        entries.append(dict(
            index=int(index), image=_image_name(dataset, index, split),
            label=_named(names, labels[index]),
            prediction=_named(names, predicted),
            confidence=float(scores[index, predicted]),
            loss=float(-np.log(max(scores[index, labels[index]],
                                   MIN_SCORE))),
            overlay=file))
    detail = dict(split=split, images=int(len(labels)),
                  map_size=[int(n) for n in maps.shape[1:]],
                  wrong=int((scores.argmax(axis=1) != labels).sum()),
                  method='recipro_cam of the predicted class; ranked by '
                  'loss -log p(label)', candidates=entries)
    path = osp.join(folder, f'{split}.json')
    with open(path, 'w') as f:
        json.dump(detail, f, indent=1)
    return path


def read_label_noise(work_dir: str, split: str) -> Dict:
    """``label_noise/<split>.json`` of a work dir, or {} when absent."""
    path = osp.join(work_dir, FOLDER, f'{split}.json')
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def _named(names: Sequence[str], index: int) -> str:
    return str(names[index]) if 0 <= index < len(names) else str(index)


def _image_name(dataset, index: int, split: str) -> str:
    info = dataset.get_data_info(index) or {}
    return str(info.get('img_path') or f'{split}[{index}]')
