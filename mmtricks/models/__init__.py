from .pretrained_init import PretrainedIfAvailable

__all__ = ['PretrainedIfAvailable']
