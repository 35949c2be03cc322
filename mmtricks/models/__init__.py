from . import batch_augments
from .batch_augments import (MixupCutMix, RandomResolutionDecrement,
                             SequentialBatchAugments)
from .distillation import (DistillationClassifier, distillation_loss,
                           kl_distillation)
from .heads import AMSoftmaxClsHead
from .losses import AugMixJSDLoss
from .pretrained_init import PretrainedIfAvailable
from .zero_gamma_init import ZeroInitLastBN, zero_init_last_bn

__all__ = [
    'AMSoftmaxClsHead', 'AugMixJSDLoss', 'DistillationClassifier',
    'MixupCutMix', 'PretrainedIfAvailable', 'RandomResolutionDecrement',
    'SequentialBatchAugments', 'ZeroInitLastBN', 'batch_augments',
    'distillation_loss', 'kl_distillation', 'zero_init_last_bn'
]
