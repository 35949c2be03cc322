from .auto_epochs_hook import AutoEpochsHook
from .bn_stats import recompute_bn_statistics
from .lr_finder_hook import LRFinderHook
from .lr_range_test import SUGGESTION_RULES, suggest_lr
from .num_classes_check_hook import NumClassesCheckHook, num_classes_mismatch
from .plateau_policy import PlateauPolicy, PolicyState, decide
from .precise_bn_stats_hook import PreciseBNStatsHook
from .progressive_resizing_hook import (ProgressiveResizingHook,
                                        scale_pipeline)

__all__ = [
    'AutoEpochsHook', 'LRFinderHook', 'NumClassesCheckHook', 'PlateauPolicy',
    'PolicyState', 'PreciseBNStatsHook', 'ProgressiveResizingHook',
    'SUGGESTION_RULES', 'decide',
    'num_classes_mismatch', 'recompute_bn_statistics', 'scale_pipeline',
    'suggest_lr'
]
