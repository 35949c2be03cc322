"""The classifier of mmtricks' recipe configs: MMPretrain's
``ImageClassifier`` that refuses to be built before the data has decided.

The recipes (``configs/auto_mbv3.py`` ...) leave the number of classes to
the data (``num_classes = None``) and the input size to the data or the
checkpoint (``'image_size'``). ``DataAwareRunner`` fills both before it
builds anything, and the run dumps the filled config into its work dir.
MMPretrain's ``get_model``, ``init_model`` and
``ImageClassificationInferencer`` build the model from the config alone,
before they load the checkpoint that holds the decisions, so given the
shipped config they met ``LinearClsHead(num_classes=None)`` and failed with
``TypeError: '<=' not supported between instances of 'NoneType' and
'int'``. This class turns that into an error that names the config to use.
"""
from typing import List, Optional, Tuple

import torch
from mmpretrain.models import ImageClassifier
from mmpretrain.registry import MODELS

from .operating_point import predict_labels

#: The state dict entry of the operating point: ``[class index, threshold]``
#: (``[-1, -1]``: argmax; not NaN, which compares unequal to itself). A checkpoint written before it loads as argmax.
OPERATING_POINT_KEY = 'operating_point'
ARGMAX = [-1.0, -1.0]


class DataDecisionsMissingError(ValueError):
    """A recipe config built into a model before the data decided its
    settings."""


def missing_decisions(head: Optional[dict]) -> Optional[str]:
    """The setting of ``head`` still left to the data, if any."""
    if isinstance(head, dict) and 'num_classes' in head and \
            head['num_classes'] in (None, 'auto'):
        return f'model.head.num_classes is {head["num_classes"]!r}'
    return None


@MODELS.register_module()
class DataAwareClassifier(ImageClassifier):
    """:class:`~mmpretrain.models.ImageClassifier`, built only once the
    settings a recipe leaves to the data are decided.

    Everything else is ``ImageClassifier``'s (same arguments and weights;
    a checkpoint of either loads into the other), plus an operating point:
    the buffer ``operating_point`` (``[class index, threshold]``) that
    :class:`~mmtricks.hooks.OperatingPointHook` chooses on val for 2
    classes. With it ``predict`` sets ``pred_label`` at the threshold
    (argmax without; a checkpoint that lacks it loads as argmax).

    Raises:
        DataDecisionsMissingError: ``head.num_classes`` is still None: the
            config is a recipe that reads it from the data, and it is built
            outside ``DataAwareRunner``. The message names the config to use
            instead (the one the training run wrote into its work dir) and
            how to apply a checkpoint's decisions to this one.
    """

    def __init__(self, backbone: dict, head: Optional[dict] = None,
                 **kwargs):
        missing = missing_decisions(head)
        if missing:
            raise DataDecisionsMissingError(
                f'{missing}: this recipe config leaves the classes (and the '
                'input size) to the data, which DataAwareRunner reads before '
                'it builds the model. MMPretrain\'s get_model, init_model and '
                'ImageClassificationInferencer build it from the config '
                'alone: give them the config the training run wrote into its '
                'work dir, which holds those decisions (work_dirs/NAME/'
                'NAME.py, e.g. ImageClassificationInferencer('
                '\'work_dirs/auto_mbv3/auto_mbv3.py\', pretrained='
                '\'work_dirs/auto_mbv3/best_auto_epochs.pth\')), or first '
                'apply the checkpoint\'s decisions to this config: '
                'mmtricks.engine.apply_data_decisions(cfg, checkpoint=CKPT, '
                'from_checkpoint=True).')
        super().__init__(backbone, head=head, **kwargs)
        # A buffer, so the checkpoint carries it and every upstream path
        # that loads one (mim test, MMPretrain's inferencers, MMDeploy's
        # PyTorch model) predicts at it.
        self.register_buffer(OPERATING_POINT_KEY,
                             torch.tensor(ARGMAX))

    @property
    def operating_threshold(self) -> Tuple[Optional[int], Optional[float]]:
        """``(class index, threshold)`` of a 2-class operating point, or
        ``(None, None)``: argmax."""
        index, threshold = (float(v) for v in self.operating_point)
        if index < 0 or not 0.0 <= threshold <= 1.0:
            return None, None
        return int(index), threshold

    def set_operating_point(self, class_index: Optional[int],
                            threshold: Optional[float]) -> None:
        """Predict ``class_index`` when its score is at least
        ``threshold`` (None: argmax again)."""
        value = ARGMAX if class_index is None or \
            threshold is None else [float(class_index), float(threshold)]
        self.operating_point.copy_(torch.tensor(value))

    def predict(self, inputs: torch.Tensor, data_samples=None, **kwargs
                ) -> List:
        """MMPretrain's predictions; with an operating point, ``pred_label``
        at its threshold (``pred_score`` unchanged, so the stock metrics
        stay argmax's) and the point in each sample's metainfo."""
        samples = super().predict(inputs, data_samples, **kwargs)
        index, threshold = self.operating_threshold
        if index is None or not samples or \
                samples[0].pred_score.numel() != 2:
            return samples
        scores = torch.stack([s.pred_score for s in samples])
        labels = predict_labels(scores.detach().float().cpu().numpy(),
                                index, threshold)
        for sample, label in zip(samples, labels):
            sample.set_pred_label(int(label))
            sample.set_metainfo(dict(operating_point=(index, threshold)))
        return samples

    def _load_from_state_dict(self, state_dict, prefix, local_metadata,
                              strict, missing_keys, unexpected_keys,
                              error_msgs):
        # Checkpoints from before the operating point (and ImageClassifier's)
        # load as argmax, strictly too.
        key = prefix + OPERATING_POINT_KEY
        if key not in state_dict:
            state_dict = dict(state_dict)
            state_dict[key] = torch.tensor(ARGMAX)
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
