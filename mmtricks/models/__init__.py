from . import batch_augments
from .augmix_data_preprocessor import (AugMixDataPreprocessor,
                                       with_augmix_views)
from .backbones import EfficientNetLite
from .batch_augments import (MixupCutMix, RandomResolutionDecrement,
                             SequentialBatchAugments)
from .data_aware_classifier import (DataAwareClassifier,
                                    DataDecisionsMissingError)
from .distillation import (DistillationClassifier, distillation_loss,
                           kl_distillation)
from .efficientnet_lite_weights import (convert_efficientnet_lite_weights,
                                        packaged_weights_path)
from .heads import AMSoftmaxClsHead
from .losses import AugMixJSDLoss
from .model_state import cloned_state_dict, unwrap_model
from .operating_point_metric import OperatingPointMetric
from .packaged_init import PackagedEfficientNetLite
from .pretrained_init import PretrainedIfAvailable
from .warmup_ema import WarmupExponentialMovingAverage, ema_warmup_momentum
from .zero_gamma_init import ZeroInitLastBN, zero_init_last_bn

__all__ = [
    'AMSoftmaxClsHead', 'DataAwareClassifier', 'OperatingPointMetric',
    'DataDecisionsMissingError',
    'AugMixDataPreprocessor', 'with_augmix_views', 'AugMixJSDLoss', 'DistillationClassifier',
    'EfficientNetLite', 'MixupCutMix', 'PackagedEfficientNetLite',
    'PretrainedIfAvailable', 'RandomResolutionDecrement',
    'SequentialBatchAugments', 'ZeroInitLastBN', 'batch_augments',
    'convert_efficientnet_lite_weights', 'distillation_loss',
    'kl_distillation', 'packaged_weights_path', 'zero_init_last_bn',
    'WarmupExponentialMovingAverage', 'ema_warmup_momentum',
    'cloned_state_dict', 'unwrap_model'
]
