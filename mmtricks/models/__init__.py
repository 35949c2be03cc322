from .heads import AMSoftmaxClsHead
from .losses import AugMixJSDLoss
from .pretrained_init import PretrainedIfAvailable

__all__ = ['AMSoftmaxClsHead', 'AugMixJSDLoss', 'PretrainedIfAvailable']
