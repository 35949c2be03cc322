from .loading import LoadImageIfPath, UnreadableImageError
from .random_erasing_preset import (RANDOM_ERASING_PRESETS,
                                    RandomErasingPreset, random_erasing_args)
from .yoco import YOCO, join_halves, split_in_two

__all__ = ['LoadImageIfPath', 'UnreadableImageError',
           'RANDOM_ERASING_PRESETS', 'RandomErasingPreset',
           'random_erasing_args', 'YOCO', 'join_halves', 'split_in_two']
