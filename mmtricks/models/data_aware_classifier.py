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
from typing import Optional

from mmpretrain.models import ImageClassifier
from mmpretrain.registry import MODELS


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

    Everything else is ``ImageClassifier``'s (same arguments, weights and
    state dict keys; a checkpoint of either loads into the other).

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
