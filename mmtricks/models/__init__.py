from . import batch_augments
from .batch_augments import (MixupCutMix, RandomResolutionDecrement,
                             SequentialBatchAugments)
from .heads import AMSoftmaxClsHead
from .losses import AugMixJSDLoss
from .pretrained_init import PretrainedIfAvailable

__all__ = ['AMSoftmaxClsHead', 'AugMixJSDLoss', 'MixupCutMix',
           'PretrainedIfAvailable', 'RandomResolutionDecrement',
           'SequentialBatchAugments', 'batch_augments']
