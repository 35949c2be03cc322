"""Progressive resizing: train at low resolution first, then at full size.

fast.ai's practice (Howard, DAWNBench 2018; "progressive resizing"), and
the low-then-high-resolution schedule of Touvron et al., "Fixing the
train-test resolution discrepancy" (FixRes), NeurIPS 2019: early epochs at a
fraction of the image size are several times cheaper and learn the coarse
features; the last epochs at full size, with a smaller LR, adapt them.
"""
from copy import deepcopy
from numbers import Number
from typing import List, Optional, Sequence

from mmcv.transforms import Compose
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import HOOKS

from ..compat.private_torch import restart_persistent_workers
from ..optim.scheduler import ProgressiveResizingLR
from ..optim.scheduler.resizing_stages import (check_stages, stage_index,
                                               switch_epochs)

#: Size arguments of the resize/crop transforms this hook rescales.
SIZE_KEYS = {
    'Resize': ('scale', ),
    'ResizeEdge': ('scale', ),
    'RandomResizedCrop': ('scale', ),
    'EfficientNetRandomCrop': ('scale', ),
    'RandomCrop': ('crop_size', 'padding'),
    'CenterCrop': ('crop_size', ),
    'EfficientNetCenterCrop': ('crop_size', ),
}


def transform_name(transform_cfg: dict) -> str:
    kind = transform_cfg.get('type', '')
    kind = getattr(kind, '__name__', kind)
    return str(kind).rsplit('.', 1)[-1]


def scale_size(size, scale: float):
    """``size`` (int, or a tuple/list of ints, or None) times ``scale``."""
    if size is None:
        return None
    if isinstance(size, (tuple, list)):
        return type(size)(scale_size(s, scale) for s in size)
    if isinstance(size, Number) and not isinstance(size, bool):
        return max(1, int(round(size * scale)))
    raise TypeError(f'Cannot rescale size {size!r}.')


def scale_pipeline(pipeline: Sequence[dict], scale: float) -> List[dict]:
    """A copy of the pipeline config with every resize/crop size scaled.

    Raises:
        ValueError: when no transform of :data:`SIZE_KEYS` is in it.
    """
    scaled, found = [], False
    for transform in pipeline:
        transform = deepcopy(dict(transform))
        for key in SIZE_KEYS.get(transform_name(transform), ()):
            if key in transform:
                transform[key] = scale_size(transform[key], scale)
                found = True
        scaled.append(transform)
    if not found:
        raise ValueError(
            'ProgressiveResizingHook found no resize or crop transform '
            f'({", ".join(SIZE_KEYS)}) with a size in the train pipeline '
            f'{[transform_name(t) for t in pipeline]}; pass `pipeline=` '
            'with the full-resolution train pipeline to rescale.')
    return scaled


@HOOKS.register_module()
class ProgressiveResizingHook(Hook):
    """Low-resolution epochs first, then full resolution.

    Before each training epoch the train dataset's pipeline is set to the
    stage's: the full-resolution train pipeline with every resize/crop size
    (:data:`SIZE_KEYS`) times the stage's ``scale``. Validation and test
    pipelines are not touched. A smaller LR for full resolution is the job
    of the run's LR schedulers: add
    ``dict(type='ProgressiveResizingLR', stages=..., lr_mult=...)`` (same
    ``stages``) to ``param_scheduler``; the hook checks that the stages
    agree.

    The stage follows from the epoch alone, so every rank decides the same
    and a resumed run lands in the right stage.

    The batch size is kept. A DataLoader's batch size cannot be changed
    after it is built, and MMEngine fixes the iteration count from
    ``len(train_dataloader)`` when the run starts: ``max_iters``,
    ``convert_to_iter_based`` schedulers' begin/end, the logger's ETA and
    iteration-based checkpoints and resume would all disagree with a
    rebuilt loader of another batch size. To use the memory freed at low
    resolution, raise the batch size (and LR) for the whole run instead.

    Stages are fractions of ``max_epochs``. With AutoEpochsHook,
    ``max_epochs`` is the budget cap, so the switch is at that fraction of
    the cap; when the run stops earlier than the switch a warning says the
    model never trained at full resolution.

    Args:
        stages (list[dict]): ``dict(until=f, scale=s)`` each: train at ``s``
            times the image size until epoch ``round(f * max_epochs)``;
            ``until`` increasing in (0, 1), ``scale`` in (0, 1]. Full size
            follows the last stage. Defaults to
            ``[dict(until=0.5, scale=0.5)]``.
        pipeline (list[dict], optional): Full-resolution train pipeline to
            rescale (for every dataset a ``ConcatDataset`` joins). Defaults
            to the config's ``train_dataloader.dataset.pipeline`` (each
            joined dataset's own).
    """

    priority = 'NORMAL'

    def __init__(self,
                 stages: Optional[Sequence[dict]] = None,
                 pipeline: Optional[Sequence[dict]] = None):
        self.stages = check_stages(
            stages if stages is not None else [dict(until=0.5, scale=0.5)])
        self.pipeline = None if pipeline is None else list(pipeline)
        if pipeline is not None:  # refused at build when it has no size
            for stage in self.stages:
                scale_pipeline(pipeline, stage['scale'])
        #: Per stage, the pipeline of each dataset the loader reads.
        self.stage_pipelines: List[List[Compose]] = []
        self.ends: List[int] = []
        self._full_pipelines: List = []
        self._current: Optional[int] = None

    # runner events -------------------------------------------------------

    def before_train(self, runner) -> None:
        """Check the loop and the LR scheduler's stages; build the stage
        pipelines.

        Args:
            runner (Runner): The runner.
        """
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            raise ValueError(
                'ProgressiveResizingHook changes resolution between epochs '
                'and needs `train_cfg=dict(by_epoch=True, ...)`.')
        self.ends = switch_epochs(self.stages, runner.max_epochs)
        self._check_lr_schedulers(runner)
        datasets = pipeline_datasets(runner.train_loop.dataloader.dataset)
        if self.pipeline is not None:
            sources = [self.pipeline] * len(datasets)
        else:
            sources = config_pipelines(
                runner.cfg.get('train_dataloader', {}))
        if len(sources) != len(datasets):
            raise ValueError(
                f'ProgressiveResizingHook found {len(sources)} train '
                f'pipeline(s) in `train_dataloader.dataset` but the loader '
                f'reads {len(datasets)} dataset(s); pass `pipeline=` '
                'explicitly.')
        self.stage_pipelines = [
            [Compose(scale_pipeline(source, stage['scale']))
             for source in sources] for stage in self.stages]
        # Each dataset's own full-resolution pipeline, restored at the end.
        self._full_pipelines = [d.pipeline for d in datasets]
        self._current = None

    def before_train_epoch(self, runner) -> None:
        """Set the epoch's stage pipeline.

        Args:
            runner (Runner): The runner.
        """
        stage = stage_index(runner.epoch, self.ends)
        if stage != self._current:
            self._set_pipeline(runner, stage)

    def after_train(self, runner) -> None:
        """Warn when training stopped before full resolution.

        Args:
            runner (Runner): The runner.
        """
        if self.ends and runner.epoch < self.ends[-1]:
            runner.logger.warning(
                f'ProgressiveResizing: training stopped at epoch '
                f'{runner.epoch}, before full resolution (epoch '
                f'{self.ends[-1]}); the model never trained at full size. '
                'Move the stages earlier (smaller `until`).')

    # helpers --------------------------------------------------------------

    def _check_lr_schedulers(self, runner) -> None:
        schedulers = runner.param_schedulers or []
        if isinstance(schedulers, dict):
            schedulers = [s for group in schedulers.values() for s in group]
        for scheduler in schedulers:
            if isinstance(scheduler, ProgressiveResizingLR) and \
                    scheduler.stages != self.stages:
                raise ValueError(
                    f'ProgressiveResizingLR switches at the stages '
                    f'{scheduler.stages}, ProgressiveResizingHook at '
                    f'{self.stages}: give both the same `stages`.')

    def _set_pipeline(self, runner, stage: int) -> None:
        full = stage == len(self.ends)
        pipelines = self._full_pipelines if full else \
            self.stage_pipelines[stage]
        loader = runner.train_loop.dataloader
        for dataset, pipeline in zip(pipeline_datasets(loader.dataset),
                                     pipelines):
            dataset.pipeline = pipeline
        # Persistent workers hold a copy of the dataset: restart them.
        restart_persistent_workers(loader)
        self._current = stage
        size = 'full' if full else f'x{self.stages[stage]["scale"]:g}'
        runner.logger.info(
            f'ProgressiveResizing: epoch {runner.epoch + 1} trains at '
            f'{size} resolution.')


def config_pipelines(loader_cfg: dict) -> List[List[dict]]:
    """The train pipeline configs inside (possibly wrapped) dataset configs:
    one, or each dataset's a ``ConcatDataset`` joins."""
    def inner(dataset) -> List[List[dict]]:
        if 'pipeline' in dataset:
            return [list(dataset['pipeline'])]
        if 'dataset' in dataset:
            return inner(dataset['dataset'])
        if dataset.get('datasets'):
            return [p for d in dataset['datasets'] for p in inner(d)]
        raise ValueError(
            'ProgressiveResizingHook cannot find the train pipeline in '
            '`train_dataloader.dataset`; pass `pipeline=` explicitly.')
    return inner(loader_cfg.get('dataset', {}))


def pipeline_datasets(dataset) -> list:
    """The built datasets holding a pipeline inside (possibly wrapped)
    ``dataset``: one, or each a ``ConcatDataset`` joins, in order."""
    if hasattr(dataset, 'pipeline'):
        return [dataset]
    if hasattr(dataset, 'datasets'):
        return [d for inner in dataset.datasets
                for d in pipeline_datasets(inner)]
    if hasattr(dataset, 'dataset'):
        return pipeline_datasets(dataset.dataset)
    raise RuntimeError(
        f'Cannot set the pipeline of {type(dataset).__name__}.')
