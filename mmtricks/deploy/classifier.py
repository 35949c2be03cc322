"""Classify image files with an IR written by ``tools/deploy.py``.

Preprocessing comes from the IR's runtime info (see :mod:`.model_info`), so
the model file is all a consumer needs::

    from mmtricks.deploy import OpenVINOClassifier
    clf = OpenVINOClassifier('work_dirs/deploy/end2end.xml')
    clf.classify('photo.jpg')       # [Prediction(path, label, score, index)]
    clf.classify('folder/')         # every image under the folder
    # An IR deployed with --explain also gives Recipro-CAM maps:
    p = clf.classify('photo.jpg', explain=True)[0]  # p.saliency: (K, h, w)
    cv2.imwrite('seen.png', clf.overlay(p))  # predicted class's map

A damaged image (e.g. a JPEG cut short) is an error naming the file, as in
training; hidden files and folders are skipped, as in training.
"""
import os
import os.path as osp
from typing import List, NamedTuple, Optional, Sequence, Union

import cv2
import numpy as np

from ..datasets.folder import (IMAGE_EXTENSIONS, is_hidden,
                               is_visible_image_file)
from ..transforms.loading import read_image
from ..models.operating_point import predict_labels
from .latency import static_input_model
from .model_info import (SALIENCY_OUTPUT, compile_recorded,
                         read_model_info, warn_if_stale)
from .openvino_core import shared_core


class Prediction(NamedTuple):
    path: str
    label: str
    score: float
    index: int
    #: ``(classes, h, w)`` maps in [0, 1] with ``explain=True``, else None.
    saliency: Optional[np.ndarray] = None


def read_bgr(path: str) -> np.ndarray:
    """A BGR uint8 image decoded as training decodes it: a damaged file
    (e.g. a JPEG cut short) is an error naming it, never a guess."""
    return read_image(path, 'color')


def resize_for_network(image: np.ndarray, size: Sequence[int],
                       resize_type: str) -> np.ndarray:
    """Bring an HWC image to ``size`` (height, width) as the pipeline did."""
    height, width = size
    if resize_type == 'crop':
        scale = max(height / image.shape[0], width / image.shape[1])
        resized = cv2.resize(
            image, (max(width, round(image.shape[1] * scale)),
                    max(height, round(image.shape[0] * scale))),
            interpolation=cv2.INTER_LINEAR)
        top = (resized.shape[0] - height) // 2
        left = (resized.shape[1] - width) // 2
        return resized[top:top + height, left:left + width]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def to_network_input(images: Sequence[np.ndarray], info: dict) -> np.ndarray:
    """BGR uint8 images to the normalised NCHW float batch the IR takes."""
    batch = []
    for image in images:
        image = resize_for_network(image, info['input_size'],
                                   info['resize_type'])
        if info['to_rgb']:
            image = image[..., ::-1]
        image = (image.astype(np.float32) - np.float32(info['mean'])) / \
            np.float32(info['std'])
        batch.append(image.transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(batch))


def list_images(path: str) -> List[str]:
    """``[path]`` for a file; for a folder, its image files and those of
    its sub-folders, sorted, hidden ones skipped as the training data scan
    skips them (:func:`mmtricks.datasets.folder.is_hidden`). Links to
    folders are not followed."""
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'No image file or folder at {path!r}.')
    found = []
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if not is_hidden(d)]
        found.extend(osp.join(root, f) for f in files
                     if is_visible_image_file(f))
    if not found:
        raise ValueError(f'No images ({", ".join(IMAGE_EXTENSIONS)}; hidden '
                         f'files skipped) found under {path!r}.')
    return sorted(found)


class OpenVINOClassifier:
    """An OpenVINO IR classifier with its own preprocessing.

    Args:
        model_path (str): The ``.xml`` written by ``tools/deploy.py``.
        device (str): OpenVINO device. Defaults to ``'CPU'``.
        batch_size (int): Images per inference call. Defaults to 16.
    """

    def __init__(self, model_path: str, device: str = 'CPU',
                 batch_size: int = 16):
        if not osp.isfile(model_path):
            raise FileNotFoundError(
                f'No OpenVINO model at {model_path!r}. Make one with '
                '`python tools/deploy.py CONFIG CHECKPOINT --work-dir DIR`.')
        self.core = shared_core()
        self.model = self.core.read_model(model_path)
        self.info = read_model_info(self.model)
        # An IR left beside another checkpoint's deploy report: said so.
        warn_if_stale(model_path, self.model)
        self.class_names = self.info['class_names']
        self.device = device
        self.batch_size = batch_size
        self._compiled = {}

    def _compiled_for(self, batch: int):
        if batch not in self._compiled:
            height, width = self.info['input_size']
            model = static_input_model(self.model, (batch, 3, height, width))
            # At the precision tools/deploy.py checked (the IR records it).
            self._compiled[batch] = compile_recorded(self.core, model,
                                                     self.device)
        return self._compiled[batch]

    def scores(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Class scores (softmax) for BGR uint8 images."""
        batch = to_network_input(images, self.info)
        compiled = self._compiled_for(len(batch))
        return compiled(batch)[compiled.output(0)]

    def scores_and_saliency(self, images: Sequence[np.ndarray]):
        """Class scores ``(N, K)`` and saliency maps ``(N, K, h, w)`` for
        BGR uint8 images, from an IR deployed with ``--explain``."""
        if not self.info.get('saliency'):
            raise ValueError(
                f'This IR has no {SALIENCY_OUTPUT!r} output, so it cannot '
                'explain its predictions: deploy it again with `python '
                'tools/deploy.py CONFIG CHECKPOINT --work-dir DIR '
                '--explain`.')
        batch = to_network_input(images, self.info)
        compiled = self._compiled_for(len(batch))
        results = compiled(batch)
        return (results[compiled.output(0)],
                results[compiled.output(SALIENCY_OUTPUT)])

    def classify(self, path: Union[str, Sequence[str]],
                 explain: bool = False) -> List[Prediction]:
        """Top-1 class of an image file, every image in a folder, or a
        list (a 2-class IR with an operating point in its runtime info:
        the class at that threshold, not argmax); with ``explain``, each
        prediction carries its per-class saliency maps (an IR deployed with
        ``--explain``)."""
        paths = list_images(path) if isinstance(path, str) else list(path)
        predictions = []
        for start in range(0, len(paths), self.batch_size):
            chunk = paths[start:start + self.batch_size]
            images = [read_bgr(p) for p in chunk]
            if explain:
                scores, maps = self.scores_and_saliency(images)
            else:
                scores, maps = self.scores(images), [None] * len(chunk)
            # At the IR's operating point (2 classes), else argmax.
            labels = predict_labels(scores, *self.info['operating_point'])
            for p, row, saliency, index in zip(chunk, scores, maps, labels):
                index = int(index)
                predictions.append(Prediction(p, self.class_names[index],
                                              float(row[index]), index,
                                              saliency))
        return predictions

    def overlay(self, prediction: Prediction,
                class_index: Optional[int] = None) -> np.ndarray:
        """A BGR image: the saliency map of ``class_index`` (default: the
        predicted class) blended onto the image as the network saw it."""
        from .saliency import overlay
        if prediction.saliency is None:
            raise ValueError('This prediction has no saliency maps: classify '
                             'with explain=True.')
        image = resize_for_network(read_bgr(prediction.path),
                                   self.info['input_size'],
                                   self.info['resize_type'])
        index = prediction.index if class_index is None else class_index
        return overlay(image, prediction.saliency[index])
