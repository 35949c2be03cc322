from .bn_stats import recompute_bn_statistics
from .precise_bn_stats_hook import PreciseBNStatsHook

__all__ = ['PreciseBNStatsHook', 'recompute_bn_statistics']
from .num_classes_check_hook import NumClassesCheckHook, num_classes_mismatch

__all__ += ['NumClassesCheckHook', 'num_classes_mismatch']
from .lr_finder_hook import LRFinderHook
from .lr_range_test import SUGGESTION_RULES, suggest_lr

__all__ += ['LRFinderHook', 'SUGGESTION_RULES', 'suggest_lr']
from .auto_epochs_hook import AutoEpochsHook
from .plateau_policy import PlateauPolicy, PolicyState, decide

__all__ += ['AutoEpochsHook', 'PlateauPolicy', 'PolicyState', 'decide']
