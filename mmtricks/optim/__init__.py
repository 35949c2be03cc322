from .sam import frozen_bn_running_stats, sam_perturbations
from .sam_optim_wrapper import SAMAmpOptimWrapper, SAMOptimWrapper

__all__ = ['SAMAmpOptimWrapper', 'SAMOptimWrapper', 'frozen_bn_running_stats',
           'sam_perturbations']
