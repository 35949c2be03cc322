from .mix_math import (blend_images, cutmix_box, lam_from_box, minmax_box,
                       mix_targets, paste_box, smooth_one_hot, smooth_scores)
from .mixup_cutmix import MixupCutMix
from .resolution_decrement import (RandomResolutionDecrement,
                                   decremented_size, downscale)
from .sequential import SequentialBatchAugments

__all__ = [
    'MixupCutMix', 'RandomResolutionDecrement', 'SequentialBatchAugments',
    'blend_images', 'cutmix_box', 'decremented_size', 'downscale',
    'lam_from_box', 'minmax_box', 'mix_targets', 'paste_box',
    'smooth_one_hot', 'smooth_scores'
]
from .tree import (batch_augment_slots, is_label_mixing, switch_off_mixing,
                   target_smoothing)

__all__ += ['batch_augment_slots', 'is_label_mixing', 'switch_off_mixing',
            'target_smoothing']
