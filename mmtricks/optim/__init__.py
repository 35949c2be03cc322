from .presets import NO_BIAS_DECAY
from .sam import frozen_bn_running_stats, sam_perturbations
from .sam_optim_wrapper import SAMAmpOptimWrapper, SAMOptimWrapper

__all__ = ['NO_BIAS_DECAY', 'SAMAmpOptimWrapper', 'SAMOptimWrapper',
           'frozen_bn_running_stats', 'sam_perturbations']
