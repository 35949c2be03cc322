from typing import Optional

from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import HOOKS

from ..models.model_state import unwrap_model
from ..models.batch_augments.tree import (batch_augment_slots,
                                          is_label_mixing, switch_off_mixing)


def mix_off_due(lr: float, peak_lr: float, remaining: int,
                lr_ratio: Optional[float] = None,
                off_last: Optional[int] = None) -> bool:
    """Whether training is in its final phase, where mixing stops.

    True when the LR has decayed to ``lr_ratio`` of its peak or below (a
    cosine tail, or the plateau policy's low-LR phase), or when ``remaining``
    steps (epochs or iterations, the current one included) are at most
    ``off_last``. A criterion set to None is not used.
    """
    decayed = lr_ratio is not None and peak_lr > 0 and \
        lr <= lr_ratio * peak_lr
    near_end = off_last is not None and remaining <= off_last
    return decayed or near_end


def current_lr(optim_wrapper) -> float:
    """The largest LR over the param groups (same on every rank)."""
    return max(lr for key, lrs in optim_wrapper.get_lr().items()
               if not key.endswith('base_lr') for lr in lrs)


@HOOKS.register_module()
class MixOffHook(Hook):
    """Stop mixup/CutMix for the final phase of training.

    Mixed images are harder than the test images; training the last part
    on clean images closes that gap (timm's ``mixup_off_epoch``; Bag of
    Tricks trains longer with mixup). One trigger serves fixed budgets and
    the automatic epochs (``AutoEpochsLR``) alike: mixing stops for good once the LR (read
    from the optimizer before each iteration) is at most ``lr_ratio`` of the
    highest LR seen so far, or once at most ``off_epochs`` epochs
    (``off_iters`` iterations) remain. Under a cosine schedule the LR
    criterion is the schedule's tail (0.05: the last ~14%); under
    AutoEpochsLR, whose budget is only a cap, it is the low-LR phase after
    the plateau decays (with ``factor=0.1``: after the second decay).

    Only label-mixing batch augments are switched off: ``MixupCutMix``
    keeps smoothing its targets, MMPretrain's ``Mixup``/``CutMix``/
    ``ResizeMix`` are dropped, others (``RandomResolutionDecrement``) stay.
    The peak LR and the switch are saved in checkpoints and re-applied on
    resume; LR and epoch are the same on every rank, so is the decision.

    Args:
        lr_ratio (float, optional): LR share of its peak in (0, 1) at or
            below which mixing stops. None disables it. Defaults to 0.05.
        off_epochs (int, optional): Mix-free epochs at the end of an
            epoch-based budget. Defaults to None.
        off_iters (int, optional): Mix-free iterations at the end of an
            iteration-based budget. Defaults to None.
    """

    priority = 'NORMAL'

    def __init__(self,
                 lr_ratio: Optional[float] = 0.05,
                 off_epochs: Optional[int] = None,
                 off_iters: Optional[int] = None):
        if lr_ratio is not None and not 0 < lr_ratio < 1:
            raise ValueError(f'lr_ratio must be in (0, 1) or None, got '
                             f'{lr_ratio!r}.')
        for name, value in (('off_epochs', off_epochs),
                            ('off_iters', off_iters)):
            if value is not None and (not isinstance(value, int) or
                                      value < 1):
                raise ValueError(f'{name} must be an int >= 1 or None, got '
                                 f'{value!r}.')
        if off_epochs is not None and off_iters is not None:
            raise ValueError('Set off_epochs (epoch-based training) or '
                             'off_iters (iteration-based), not both.')
        if lr_ratio is None and off_epochs is None and off_iters is None:
            raise ValueError('MixOffHook needs a trigger: lr_ratio, '
                             'off_epochs or off_iters.')
        self.lr_ratio = lr_ratio
        self.off_epochs = off_epochs
        self.off_iters = off_iters
        self.peak_lr = 0.0
        self.off = False
        self.switched_at: Optional[tuple] = None

    # runner events -------------------------------------------------------

    def before_train(self, runner) -> None:
        by_epoch = isinstance(runner.train_loop, EpochBasedTrainLoop)
        if self.off_epochs is not None and not by_epoch:
            raise ValueError('off_epochs needs epoch-based training; this '
                             'run is iteration-based: use off_iters.')
        if self.off_iters is not None and by_epoch:
            raise ValueError('off_iters needs iteration-based training; '
                             'this run is epoch-based: use off_epochs.')
        preprocessor = self._preprocessor(runner)
        if not any(is_label_mixing(augment)
                   for _, _, augment in batch_augment_slots(preprocessor)):
            raise ValueError(
                'MixOffHook found no mixing batch augment: set '
                "model.train_cfg=dict(augments=dict(type='MixupCutMix', ...)) "
                'or remove the hook.')
        if self.off:  # resumed after the switch
            switch_off_mixing(preprocessor)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.off:
            return
        lr = current_lr(runner.optim_wrapper)
        self.peak_lr = max(self.peak_lr, lr)
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            unit, step, remaining, off_last = (
                'epoch', runner.epoch, runner.max_epochs - runner.epoch,
                self.off_epochs)
        else:
            unit, step, remaining, off_last = (
                'iter', runner.iter, runner.max_iters - runner.iter,
                self.off_iters)
        if mix_off_due(lr, self.peak_lr, remaining, self.lr_ratio, off_last):
            self.off = True
            self.switched_at = (unit, step)
            count = switch_off_mixing(self._preprocessor(runner))
            runner.logger.info(
                f'MixOff: {count} mixing batch augment(s) off from {unit} '
                f'{step} (iter {runner.iter}); LR {lr:.4g} = '
                f'{lr / self.peak_lr:.3g} x peak, {remaining} {unit}(s) '
                'left.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['mix_off'] = dict(peak_lr=self.peak_lr, off=self.off,
                                     switched_at=self.switched_at)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get('mix_off')
        if saved is not None:
            self.peak_lr = float(saved['peak_lr'])
            self.off = bool(saved['off'])
            self.switched_at = saved['switched_at'] and \
                tuple(saved['switched_at'])

    @staticmethod
    def _preprocessor(runner):
        return unwrap_model(runner.model).data_preprocessor
