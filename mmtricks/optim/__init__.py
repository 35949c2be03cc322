from .lr_range import SUGGESTION_RULES, suggest_lr
from .presets import NO_BIAS_DECAY
from .sam import frozen_bn_running_stats, sam_perturbations
from .sam_optim_wrapper import SAMAmpOptimWrapper, SAMOptimWrapper
from .scheduler import (AutoEpochsLR, AutoEpochsParamScheduler,
                        PlateauPolicy, PolicyState, ProgressiveResizingLR,
                        decide)

__all__ = ['AutoEpochsLR', 'AutoEpochsParamScheduler', 'NO_BIAS_DECAY',
           'PlateauPolicy', 'PolicyState', 'ProgressiveResizingLR',
           'SAMAmpOptimWrapper', 'SAMOptimWrapper', 'SUGGESTION_RULES',
           'decide', 'frozen_bn_running_stats', 'sam_perturbations',
           'suggest_lr']
