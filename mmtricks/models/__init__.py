from .heads import AMSoftmaxClsHead
from .pretrained_init import PretrainedIfAvailable

__all__ = ['AMSoftmaxClsHead', 'PretrainedIfAvailable']
