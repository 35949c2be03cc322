import pytest
import torch
from mmengine.hooks import Hook

from mmtricks.engine import build_runner
from mmtricks.hooks import ProgressiveResizingHook, scale_pipeline

PIPELINE = [
    dict(type='LoadImageIfPath'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='PackInputs'),
]
BASE_LR = 0.05
LR_MULT = 0.1
STAGES = [dict(until=0.34, scale=0.5)]


def test_scale_pipeline_scales_resize_and_crop_sizes_only():
    scaled = scale_pipeline(PIPELINE, 0.5)
    assert scaled[1] == dict(type='Resize', scale=(16, 16))
    assert scaled[2] == dict(type='RandomCrop', crop_size=16, padding=2)
    assert scaled[0] == PIPELINE[0] and scaled[3] == PIPELINE[3]
    assert PIPELINE[1]['scale'] == (32, 32)  # the input is not modified
    rrc = scale_pipeline([dict(type='mmpretrain.RandomResizedCrop',
                               scale=224, crop_ratio_range=(0.08, 1.0))],
                         0.57)
    assert rrc[0]['scale'] == 128 and rrc[0]['crop_ratio_range'] == (0.08, 1)


def test_pipeline_without_resize_or_crop_is_refused():
    with pytest.raises(ValueError, match='no resize or crop'):
        scale_pipeline([dict(type='PackInputs')], 0.5)


@pytest.mark.parametrize('stages, match', [
    ([], 'at least one stage'),
    ([dict(until=0.5)], 'dict\\(until'),
    ([dict(until=0.5, scale=0.5, batch_mult=2)], 'dict\\(until'),
    ([dict(until=0.5, scale=0.0)], 'scale'),
    ([dict(until=0.5, scale=1.5)], 'scale'),
    ([dict(until=1.0, scale=0.5)], 'until'),
    ([dict(until=0.5, scale=0.5), dict(until=0.4, scale=0.7)], 'until'),
])
def test_invalid_stages_are_refused_at_build(stages, match):
    with pytest.raises(ValueError, match=match):
        ProgressiveResizingHook(stages=stages)


def test_invalid_lr_mult_is_refused():
    from mmengine.optim import OptimWrapper

    from mmtricks.optim import ProgressiveResizingLR
    wrapper = OptimWrapper(torch.optim.SGD(
        torch.nn.Linear(1, 1).parameters(), lr=0.1))
    with pytest.raises(ValueError, match='lr_mult'):
        ProgressiveResizingLR(wrapper, lr_mult=0, end=4)


def test_scheduler_and_hook_with_other_stages_are_refused(make_fast_config,
                                                          tmp_path):
    cfg = resizing_config(make_fast_config, tmp_path, max_epochs=3)
    cfg.param_scheduler[0].stages = [dict(until=0.5, scale=0.5)]
    with pytest.raises(ValueError, match='same `stages`'):
        build_runner(cfg).train()


class InputRecorder(Hook):
    """Image size and LR of every training iteration, by epoch."""

    def __init__(self):
        self.seen = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        height, width = data_batch['inputs'][0].shape[-2:]
        lr = runner.optim_wrapper.param_groups[0]['lr']
        self.seen.append((runner.epoch, (height, width), lr))


def resizing_config(make_fast_config, work_dir, max_epochs):
    cfg = make_fast_config(work_dir=work_dir, max_epochs=max_epochs,
                           indices=64)
    # Constant LR but for the switch: the change is exact.
    cfg.param_scheduler = [dict(type='ProgressiveResizingLR', stages=STAGES,
                                lr_mult=LR_MULT)]
    cfg.optim_wrapper.optimizer.lr = BASE_LR
    cfg.train_dataloader.dataset.pipeline = PIPELINE
    cfg.custom_hooks = [dict(type='ProgressiveResizingHook', stages=STAGES)]
    return cfg


def run(cfg):
    runner = build_runner(cfg)
    recorder = InputRecorder()
    runner.register_hook(recorder, priority='LOWEST')
    runner.train()
    return recorder.seen


def by_epoch(seen):
    epochs = {}
    for epoch, size, lr in seen:
        epochs.setdefault(epoch, set()).add((size, round(lr, 12)))
    return epochs


def test_low_res_then_full_res_with_scaled_lr_and_resume(make_fast_config,
                                                         tmp_path):
    work = tmp_path / 'run'
    seen = run(resizing_config(make_fast_config, work, max_epochs=3))
    low, full = ((16, 16), BASE_LR), ((32, 32), round(BASE_LR * LR_MULT, 12))
    assert by_epoch(seen) == {0: {low}, 1: {full}, 2: {full}}

    # Resumed before the switch: the switch (and its LR change) happens.
    cfg = resizing_config(make_fast_config, tmp_path / 'resume1', 3)
    cfg.resume, cfg.load_from = True, str(work / 'epoch_1.pth')
    assert by_epoch(run(cfg)) == {1: {full}, 2: {full}}

    # Resumed after it: full size, LR from the checkpoint, not scaled twice.
    cfg = resizing_config(make_fast_config, tmp_path / 'resume2', 3)
    cfg.resume, cfg.load_from = True, str(work / 'epoch_2.pth')
    assert by_epoch(run(cfg)) == {2: {full}}


def test_each_dataset_of_a_concat_keeps_its_own_pipeline():
    """A ConcatDataset's datasets each get their own pipeline scaled, and
    their own back at full size (all got the first dataset's)."""
    import logging
    from types import SimpleNamespace

    from mmengine.registry import DefaultScope
    from mmengine.runner import EpochBasedTrainLoop
    from mmpretrain.registry import DATASETS

    def resize_to(size):
        return [dict(type='LoadImageIfPath'),
                dict(type='Resize', scale=(size, size)),
                dict(type='PackInputs')]

    concat = dict(type='ConcatDataset', datasets=[
        dict(type='BundledDataset', name='digits', split='val',
             pipeline=resize_to(size)) for size in (32, 16)])
    # The scope a Runner sets: the pipelines' transforms are MMPretrain's.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(concat)
        full = [inner.pipeline for inner in dataset.datasets]
        loop = EpochBasedTrainLoop.__new__(EpochBasedTrainLoop)  # no runner
        loop.dataloader = torch.utils.data.DataLoader(dataset)
        runner = SimpleNamespace(
            train_loop=loop, max_epochs=2, epoch=0, param_schedulers=None,
            cfg=dict(train_dataloader=dict(dataset=concat)),
            logger=logging.getLogger('test'))
        hook = ProgressiveResizingHook(stages=[dict(until=0.5, scale=0.5)])
        hook.before_train(runner)

        def sizes():
            return [inner[0]['inputs'].shape[-1] for inner in dataset.datasets]

        hook.before_train_epoch(runner)
        assert sizes() == [16, 8]
        runner.epoch = 1
        hook.before_train_epoch(runner)
        assert [inner.pipeline for inner in dataset.datasets] == full
        assert sizes() == [32, 16]
