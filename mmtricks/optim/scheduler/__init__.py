from .auto_epochs_lr import AutoEpochsLR, AutoEpochsParamScheduler
from .plateau_policy import PlateauPolicy, PolicyState, decide
from .progressive_resizing_lr import ProgressiveResizingLR

__all__ = ['AutoEpochsLR', 'AutoEpochsParamScheduler', 'PlateauPolicy',
           'PolicyState', 'ProgressiveResizingLR', 'decide']
