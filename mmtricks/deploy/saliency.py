"""Saliency maps made readable: a map upsampled onto its image, its peak,
and the PyTorch run behind ``tools/explain.py`` (overlay PNGs and an index
for a split of the config's data or a folder of images).

The maps are Recipro-CAM's (:mod:`mmtricks.models.explain`), ``(H, W)`` per
class at the backbone's last stride, in [0, 1]. They are shown on the image
the network saw (after the test pipeline's resize or crop), where their
coordinates mean something.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

#: Share of the blended overlay taken by the colour-mapped saliency.
OVERLAY_ALPHA = 0.5
INDEX_FILE = 'saliency_index.json'


def upsample(saliency: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """An ``(h, w)`` map resized (bilinear) to ``size`` = (height, width)."""
    height, width = size
    return cv2.resize(np.asarray(saliency, dtype=np.float32),
                      (width, height), interpolation=cv2.INTER_LINEAR)


def peak_location(saliency: np.ndarray,
                  size: Tuple[int, int]) -> Tuple[int, int]:
    """``(y, x)`` pixel of an image of ``size`` where the upsampled map is
    highest."""
    upsampled = upsample(saliency, size)
    y, x = np.unravel_index(int(np.argmax(upsampled)), upsampled.shape)
    return int(y), int(x)


def overlay(image_bgr: np.ndarray, saliency: np.ndarray,
            alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """The map (jet colours, red = high) blended onto a BGR uint8 image."""
    upsampled = upsample(saliency, image_bgr.shape[:2])
    heat = cv2.applyColorMap(
        np.uint8(np.clip(upsampled, 0, 1) * 255), cv2.COLORMAP_JET)
    image = image_bgr if image_bgr.ndim == 3 else cv2.cvtColor(
        image_bgr, cv2.COLOR_GRAY2BGR)
    return cv2.addWeighted(heat, alpha, image[..., :3], 1 - alpha, 0)


def explained_model(torch_model):
    """The PyTorch model wrapped to return ``(scores, saliency)``."""
    from ..models.explain import ExplainedClassifier
    return ExplainedClassifier(torch_model).eval()


def _inputs(model_cfg, split: Optional[str], images: Optional[str],
            limit: int):
    """``(name, pipeline output)`` of each image: a split of the config's
    data (through the test pipeline) or the image files under a folder."""
    from mmengine.dataset import Compose
    from mmpretrain.registry import DATASETS, TRANSFORMS

    from .classifier import list_images
    from .samples import _dataset_cfg
    if images:
        pipeline = Compose([TRANSFORMS.build(step)
                            for step in model_cfg.test_pipeline])
        for path in list_images(images)[:limit]:
            yield path, pipeline(dict(img_path=path))
        return
    dataset = DATASETS.build(_dataset_cfg(model_cfg, split))
    for index in range(min(limit, len(dataset))):
        info = dataset.get_data_info(index)
        yield info.get('img_path') or f'{split}[{index}]', dataset[index]


def explain_images(torch_model, model_cfg, out_dir: str,
                   split: Optional[str] = 'val', images: Optional[str] = None,
                   limit: int = 100, batch_size: int = 16,
                   class_names: Sequence[str] = ()) -> List[Dict]:
    """Overlay PNGs of the predicted class's map for each image, and
    ``saliency_index.json`` listing them; returns the index entries."""
    import torch
    from mmengine.dataset import pseudo_collate
    explained = explained_model(torch_model)
    pre = torch_model.data_preprocessor
    os.makedirs(out_dir, exist_ok=True)
    entries, chunk = [], []

    def flush():
        data = pre(pseudo_collate([s for _, s in chunk]), False)
        with torch.no_grad():
            scores, maps = explained(data['inputs'])
        for (name, sample), row, sal in zip(chunk, scores.numpy(),
                                            maps.numpy()):
            entries.append(_write_one(out_dir, len(entries), name, sample,
                                      row, sal, class_names))
        chunk.clear()

    for item in _inputs(model_cfg, split, images, limit):
        chunk.append(item)
        if len(chunk) == batch_size:
            flush()
    if chunk:
        flush()
    with open(osp.join(out_dir, INDEX_FILE), 'w') as f:
        json.dump(entries, f, indent=1)
    return entries


def _write_one(out_dir: str, number: int, name: str, sample: Dict,
               scores: np.ndarray, maps: np.ndarray,
               class_names: Sequence[str]) -> Dict:
    """One overlay (on the BGR image the network saw) and its entry."""
    image = sample['inputs'].numpy().transpose(1, 2, 0)  # BGR, resized
    predicted = int(np.argmax(scores))
    label = sample['data_samples'].get('gt_label')
    label = int(label[0]) if label is not None and len(label) else None

    def named(index):
        if index is None:
            return None
        return str(class_names[index]) if index < len(class_names) \
            else str(index)

    file = f'{number:05d}_pred-{named(predicted)}.png'
    cv2.imwrite(osp.join(out_dir, file),
                overlay(np.ascontiguousarray(image), maps[predicted]))
    return dict(path=name, label=named(label), prediction=named(predicted),
                score=float(scores[predicted]),
                peak_yx=list(peak_location(maps[predicted], image.shape[:2])),
                overlay=file)
