from .backbones import EfficientNetLite
from .efficientnet_lite_weights import (convert_efficientnet_lite_weights,
                                        packaged_weights_path)
from .packaged_init import PackagedEfficientNetLite
from .pretrained_init import PretrainedIfAvailable

__all__ = ['EfficientNetLite', 'PackagedEfficientNetLite',
           'PretrainedIfAvailable', 'convert_efficientnet_lite_weights',
           'packaged_weights_path']
