"""Hooks that connect mmtricks' rules to a run (MMPretrain's ``HOOKS``)."""
# Helpers that moved to mmtricks.optim, still importable from here.
from ..optim.lr_range import SUGGESTION_RULES, suggest_lr
from ..optim.scheduler.plateau_policy import PlateauPolicy, PolicyState, decide
from .auto_epochs_hook import AutoEpochsHook
from .channels_last_hook import ChannelsLastHook
from .bn_stats import recompute_bn_statistics
from .health_check_hook import HealthCheckHook
from .linear_probe_hook import LinearProbeHook
from .lr_finder_hook import LRFinderHook
from .mix_off_hook import MixOffHook, current_lr, mix_off_due
from .num_classes_check_hook import NumClassesCheckHook, num_classes_mismatch
from .operating_point_hook import OperatingPointHook
from .precise_bn_stats_hook import PreciseBNStatsHook
from .per_class_report_hook import PerClassReportHook  # noqa: F401
from .progressive_resizing_hook import (ProgressiveResizingHook,
                                        scale_pipeline)
from .soft_target_check_hook import SoftTargetCheckHook, soft_target_problem
from .time_budget_hook import TimeBudgetHook

__all__ = [
    'AutoEpochsHook', 'OperatingPointHook', 'ChannelsLastHook', 'HealthCheckHook', 'LinearProbeHook', 'LRFinderHook', 'MixOffHook', 'NumClassesCheckHook',
    'PlateauPolicy', 'PolicyState', 'PreciseBNStatsHook',
    'ProgressiveResizingHook', 'SUGGESTION_RULES', 'SoftTargetCheckHook',
    'TimeBudgetHook',
    'current_lr', 'decide', 'mix_off_due', 'num_classes_mismatch',
    'recompute_bn_statistics', 'scale_pipeline', 'soft_target_problem',
    'suggest_lr'
]
