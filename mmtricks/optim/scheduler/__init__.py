from .auto_epochs_lr import AutoEpochsLR, AutoEpochsParamScheduler
from .progressive_resizing_lr import ProgressiveResizingLR

__all__ = ['AutoEpochsLR', 'AutoEpochsParamScheduler',
           'ProgressiveResizingLR']
