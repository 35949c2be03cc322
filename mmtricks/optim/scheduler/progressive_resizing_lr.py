"""The LR change of progressive resizing, as an MMEngine scheduler."""
from typing import Optional, Sequence

from mmengine.optim import _ParamScheduler
from mmpretrain.registry import PARAM_SCHEDULERS

from .resizing_stages import check_stages, switch_epochs


@PARAM_SCHEDULERS.register_module()
class ProgressiveResizingLR(_ParamScheduler):
    """Multiply the LR by ``lr_mult`` when full resolution starts.

    The epoch follows from ``stages`` and the budget exactly as in
    :class:`~mmtricks.hooks.ProgressiveResizingHook` (give both the same
    ``stages``; the hook checks that they agree). Chainable, so it composes
    with warmup and decay schedulers; stepped per epoch, and its step count
    is in its state dict, so a resumed run changes the LR once, at the same
    epoch.

    Args:
        optimizer (Optimizer or OptimWrapper): The wrapped optimizer.
        stages (list[dict]): The hook's stages. Defaults to
            ``[dict(until=0.5, scale=0.5)]``.
        lr_mult (float): LR multiplier at the switch to full size, > 0.
        begin (int): Must be 0.
        end (int): The epoch budget (MMEngine's default: ``max_epochs``).
        by_epoch (bool): Must be True.
        last_step (int): See MMEngine's schedulers. Defaults to -1.
        verbose (bool): Log every change. Defaults to False.
    """

    def __init__(self,
                 optimizer,
                 stages: Optional[Sequence[dict]] = None,
                 lr_mult: float = 1.0,
                 begin: int = 0,
                 end: int = int(1e9),
                 by_epoch: bool = True,
                 last_step: int = -1,
                 verbose: bool = False):
        if not lr_mult > 0:
            raise ValueError(f'lr_mult must be > 0, got {lr_mult}.')
        if not by_epoch or begin != 0:
            raise ValueError(
                'ProgressiveResizingLR changes the LR between epochs: use '
                'by_epoch=True, begin=0 and no convert_to_iter_based.')
        self.stages = check_stages(
            stages if stages is not None else [dict(until=0.5, scale=0.5)])
        self.lr_mult = float(lr_mult)
        self.switch_epoch = switch_epochs(self.stages, end)[-1]
        super().__init__(optimizer, 'lr', begin=begin, end=end,
                         last_step=last_step, by_epoch=by_epoch,
                         verbose=verbose)

    def _get_value(self):
        """Chainable: ``lr_mult`` times the current LR at the switch."""
        mult = self.lr_mult if self.last_step == self.switch_epoch else 1.0
        return [group['lr'] * mult if mult != 1.0 else group['lr']
                for group in self.optimizer.param_groups]
