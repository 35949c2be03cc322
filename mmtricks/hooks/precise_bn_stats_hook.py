import itertools
import time
from typing import Optional

from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import HOOKS

from ..models.model_state import unwrap_model
from .bn_stats import recompute_bn_statistics

DATA_BATCH = Optional[dict]


@HOOKS.register_module()
class PreciseBNStatsHook(Hook):
    """Recompute BN statistics with the current weights before they are used.

    The BN running averages lag behind the weights and, with a small BN
    momentum on a small dataset, can make the model collapse in eval mode
    (see :mod:`mmtricks.hooks.bn_stats`). This hook recomputes them from
    ``num_samples`` training images at the end of every training epoch (every
    validation interval for iteration-based loops), before the checkpoint is
    saved and validation runs, so that validation, the saved checkpoints and
    every decision taken from them see the model as it really is.

    Compared with MMPretrain's ``PreciseBNHook``: no gradient graph is built,
    dropout stays off, no progress bar is printed, and iteration-based loops
    follow their validation interval. Its priority must be higher than
    ``CheckpointHook`` and ``EMAHook`` (``'ABOVE_NORMAL'`` by default).

    Args:
        num_samples (int): Training images to average over (on each rank,
            rounded up to whole batches). Defaults to 1024.
        max_epoch_fraction (float): Use at most this share of an epoch's
            batches (at least one), which bounds the cost on small datasets
            to about a tenth of an epoch's compute (forward passes only).
            Defaults to 0.25.
        interval (int): Epochs between recomputations for epoch-based loops;
            for iteration-based loops the loop's ``val_interval`` is used.
            Defaults to 1.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 num_samples: int = 1024,
                 max_epoch_fraction: float = 0.25,
                 interval: int = 1) -> None:
        if num_samples < 1 or interval < 1:
            raise ValueError('num_samples and interval must be positive, got '
                             f'{num_samples} and {interval}.')
        if not 0.0 < max_epoch_fraction <= 1.0:
            raise ValueError('max_epoch_fraction must be in (0, 1], got '
                             f'{max_epoch_fraction}.')
        self.num_samples = num_samples
        self.max_epoch_fraction = max_epoch_fraction
        self.interval = interval

    def after_train_epoch(self, runner) -> None:
        if isinstance(runner.train_loop, EpochBasedTrainLoop) and \
                self.every_n_epochs(runner, self.interval):
            self.refresh(runner)

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        loop = runner.train_loop
        if isinstance(loop, EpochBasedTrainLoop):
            return
        if self.every_n_train_iters(runner, loop.val_interval) or \
                self.is_last_train_iter(runner):
            self.refresh(runner)

    def refresh(self, runner) -> None:
        model = unwrap_model(runner.model)
        loader = runner.train_loop.dataloader
        num_batches = min(-(-self.num_samples // loader.batch_size),
                          int(len(loader) * self.max_epoch_fraction))
        num_batches = max(num_batches, 1)

        def forward(data):
            data = model.data_preprocessor(data, False)
            model(**data, mode='tensor')

        start = time.perf_counter()
        used = recompute_bn_statistics(
            model, itertools.islice(loader, num_batches), forward)
        sync_ema_buffers(runner, model)
        runner.logger.info(
            f'BN statistics recomputed from {used} batches '
            f'({time.perf_counter() - start:.2f} s).')


def sync_ema_buffers(runner, model) -> None:
    """Give MMEngine's EMA model the recomputed BN statistics.

    With ``update_buffers=False`` (EMAHook's default) the EMA model's buffers
    are copies of the model's from the last training iteration, and EMAHook
    swaps them into every checkpoint's ``state_dict``: without this, the
    saved (and best) checkpoints would hold older statistics than the ones
    validation used.
    """
    from mmengine.hooks import EMAHook
    for hook in runner.hooks:
        ema = getattr(hook, 'ema_model', None) if isinstance(hook, EMAHook) \
            else None
        if ema is not None and not ema.update_buffers:
            for average, source in zip(ema.module.buffers(), model.buffers()):
                average.data.copy_(source.data)
