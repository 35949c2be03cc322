from .augmix import AUGMIX_OPS, AugMix, mix_chains, sample_mixing_weights
from .loading import LoadImageIfPath, UnreadableImageError
from .random_erasing_preset import (RANDOM_ERASING_PRESETS,
                                    RandomErasingPreset, random_erasing_args)
from .yoco import YOCO, join_halves, split_in_two

__all__ = ['AUGMIX_OPS', 'AugMix', 'LoadImageIfPath', 'RANDOM_ERASING_PRESETS',
           'RandomErasingPreset', 'UnreadableImageError', 'YOCO',
           'join_halves', 'mix_chains', 'random_erasing_args',
           'sample_mixing_weights', 'split_in_two']
