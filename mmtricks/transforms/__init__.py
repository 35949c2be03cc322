from .augmix import AUGMIX_OPS, AugMix, mix_chains, sample_mixing_weights
from .loading import LoadImageIfPath, UnreadableImageError

__all__ = ['AUGMIX_OPS', 'AugMix', 'LoadImageIfPath', 'UnreadableImageError',
           'mix_chains', 'sample_mixing_weights']
