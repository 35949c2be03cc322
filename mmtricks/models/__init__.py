from .distillation import (DistillationClassifier, distillation_loss,
                           kl_distillation)
from .pretrained_init import PretrainedIfAvailable
from .zero_gamma_init import ZeroInitLastBN, zero_init_last_bn

__all__ = [
    'DistillationClassifier', 'PretrainedIfAvailable', 'ZeroInitLastBN',
    'distillation_loss', 'kl_distillation', 'zero_init_last_bn'
]
