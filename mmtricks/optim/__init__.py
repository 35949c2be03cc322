from .presets import NO_BIAS_DECAY
from .sam import frozen_bn_running_stats, sam_perturbations
from .sam_optim_wrapper import SAMAmpOptimWrapper, SAMOptimWrapper
from .scheduler import (AutoEpochsLR, AutoEpochsParamScheduler,
                        ProgressiveResizingLR)

__all__ = ['AutoEpochsLR', 'AutoEpochsParamScheduler', 'NO_BIAS_DECAY',
           'ProgressiveResizingLR', 'SAMAmpOptimWrapper', 'SAMOptimWrapper',
           'frozen_bn_running_stats', 'sam_perturbations']
