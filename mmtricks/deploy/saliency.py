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

# One rendering for the IR's consumers and the run report (models layer).
from ..models.explain.overlay import overlay, upsample  # noqa: F401

#: What ``tools/deploy.py --explain`` records in the IR's runtime info.
SALIENCY_METHOD = 'recipro_cam'
INDEX_FILE = 'saliency_index.json'


def peak_location(saliency: np.ndarray,
                  size: Tuple[int, int]) -> Tuple[int, int]:
    """``(y, x)`` pixel of an image of ``size`` where the upsampled map is
    highest."""
    upsampled = upsample(saliency, size)
    y, x = np.unravel_index(int(np.argmax(upsampled)), upsampled.shape)
    return int(y), int(x)


def explained_model(torch_model):
    """The PyTorch model wrapped to return ``(scores, saliency)``."""
    from ..models.explain import ExplainedClassifier
    return ExplainedClassifier(torch_model).eval()


def _inputs(model_cfg, split: Optional[str], images: Sequence[str],
            limit: int):
    """``(name, pipeline output)`` of each image: a split of the config's
    data or the image files ``images``, through the test pipeline."""
    from mmengine.dataset import Compose
    from mmpretrain.registry import DATASETS, TRANSFORMS

    from .samples import _dataset_cfg
    if images:
        pipeline = Compose([TRANSFORMS.build(step)
                            for step in model_cfg.test_pipeline])
        for path in list(images)[:limit]:
            yield path, pipeline(dict(img_path=path))
        return
    dataset = DATASETS.build(_dataset_cfg(model_cfg, split))
    for index in range(min(limit, len(dataset))):
        info = dataset.get_data_info(index)
        yield info.get('img_path') or f'{split}[{index}]', dataset[index]


def explain_images(torch_model, model_cfg, out_dir: str,
                   split: Optional[str] = 'val',
                   images: Sequence[str] = (),
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


def torch_saliency(torch_model, batches) -> Tuple[np.ndarray, np.ndarray]:
    """Scores ``(N, K)`` and maps ``(N, K, H, W)`` of the PyTorch model on
    ``(inputs, labels)`` batches."""
    import torch
    explained = explained_model(torch_model)
    scores, maps = [], []
    with torch.no_grad():
        for inputs, _ in batches:
            batch_scores, batch_maps = explained(inputs)
            scores.append(batch_scores.numpy())
            maps.append(batch_maps.numpy())
    return np.concatenate(scores), np.concatenate(maps)


def ir_saliency(xml: str, batches) -> np.ndarray:
    """Maps ``(N, K, H, W)`` of an IR's saliency output on the batches, at
    the precision the IR records."""
    from .latency import static_input_model
    from .model_info import SALIENCY_OUTPUT, compile_recorded
    from .openvino_core import shared_core
    core = shared_core()
    model = core.read_model(xml)
    compiled, maps = {}, []
    for inputs, _ in batches:
        shape = tuple(inputs.shape)
        if shape not in compiled:
            compiled[shape] = compile_recorded(
                core, static_input_model(model, shape))
        result = compiled[shape](inputs.numpy())
        maps.append(result[compiled[shape].output(SALIENCY_OUTPUT)])
    return np.concatenate(maps)


def saliency_report(scores: np.ndarray, reference: np.ndarray,
                    candidate: np.ndarray) -> Dict:
    """The candidate's maps against the reference's: the largest absolute
    difference on each image's predicted class (by the reference's scores;
    the map a user is shown) and over all classes (a class the model all
    but rules out has a near-flat map, which normalising stretches: its
    difference is reported, not checked), and the share of images whose
    predicted-class map peaks in the same cell."""
    predicted = np.asarray(scores).argmax(axis=1)
    rows = np.arange(len(predicted))
    ref, cand = reference[rows, predicted], candidate[rows, predicted]
    same_peak = ref.reshape(len(rows), -1).argmax(1) == \
        cand.reshape(len(rows), -1).argmax(1)
    return dict(images=int(len(rows)),
                max_abs_diff_predicted=float(np.max(np.abs(ref - cand))),
                max_abs_diff_all=float(np.max(np.abs(reference - candidate))),
                same_peak=float(100.0 * np.mean(same_peak)))


def saliency_checks(torch_model, files: Dict[str, str], batches,
                    max_diff: float) -> Dict[str, Dict]:
    """Every IR candidate's maps against PyTorch on ``batches``; the FP32
    IR's are checked (``failures``: its predicted-class maps differ by more
    than ``max_diff``), BF16 and INT8 are reported (their scores move by
    design; the accuracy rule judges them)."""
    scores, reference = torch_saliency(torch_model, batches)
    checks = {}
    for name, xml in files.items():
        if not str(xml).endswith('.xml'):
            continue
        checks[name] = saliency_report(scores, reference,
                                       ir_saliency(xml, batches))
        worst = checks[name]['max_abs_diff_predicted']
        checks[name]['failures'] = [
            f'predicted-class maps differ by up to {worst:.2e} (tolerance '
            f'{max_diff})'] if name == 'fp32' and worst > max_diff else []
    return checks
