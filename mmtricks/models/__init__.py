from . import batch_augments
from .batch_augments import (MixupCutMix, RandomResolutionDecrement,
                             SequentialBatchAugments)
from .pretrained_init import PretrainedIfAvailable

__all__ = ['MixupCutMix', 'PretrainedIfAvailable', 'RandomResolutionDecrement',
           'SequentialBatchAugments', 'batch_augments']
