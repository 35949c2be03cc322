"""How long one training step and one image forward take on this machine,
for the config's own model, at a candidate input size.

The time budget's planner (:mod:`.time_budget`) measures each size in a few
real steps (forward, loss, backward, the recipe's optimizer) of a freshly
built copy of the model, in the layout training will use, on the threads
already set for the run. Images in memory make the model the cost that
matters; the measurement counts against the budget like everything else.
"""
import copy
import tempfile
import time
from typing import Callable, Iterable, List

import torch

from .budget_plan import SizeTiming
from .config_keys import config_hook

#: Steps per size: the first builds the kernels (oneDNN primitives) and is
#: not counted; the fastest of the rest is the estimate (others running on
#: the machine only ever add time).
WARMUP_STEPS = 1
TIMED_STEPS = 2
#: Checkpoints an epoch writes: MMEngine's CheckpointHook's every epoch,
#: and the best weights on the epochs validation improves (save_best and
#: AutoEpochsHook's best_auto_epochs.pth: most epochs early on, few late).
CHECKPOINTS_PER_EPOCH = 2


def build_timing_model(cfg) -> torch.nn.Module:
    """The config's classifier, built without loading any weights."""
    from mmpretrain.registry import MODELS
    model_cfg = copy.deepcopy(cfg['model'])
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    backbone = model_cfg.get('backbone') or {}
    backbone['init_cfg'] = None
    model_cfg['init_cfg'] = None
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(model_cfg)


def _uses_channels_last(cfg) -> bool:
    hook = config_hook(cfg, 'ChannelsLastHook')
    return hook is not None and hook.get('enabled', True)


def checkpoint_seconds(model: torch.nn.Module,
                       optimizer: torch.optim.Optimizer) -> float:
    """An epoch's checkpoint writes: one ``torch.save`` of the weights and
    the optimizer's state (a temporary file), times
    :data:`CHECKPOINTS_PER_EPOCH`. EfficientNet-Lite0's take about four
    times MobileNetV3-small's."""
    with tempfile.TemporaryFile() as file:
        start = time.perf_counter()
        torch.save(dict(state_dict=model.state_dict(),
                        optimizer=optimizer.state_dict()), file)
        file.flush()
        return CHECKPOINTS_PER_EPOCH * (time.perf_counter() - start)


def time_sizes(cfg, sizes: Iterable[int], batch_size: int,
               keep_going: Callable[[SizeTiming], bool] = lambda t: True
               ) -> List[SizeTiming]:
    """Measure ``sizes`` in increasing order, stopping after the first
    whose timing ``keep_going`` rejects (larger ones cost more)."""
    from mmpretrain.structures import DataSample
    model = build_timing_model(cfg)
    channels_last = _uses_channels_last(cfg)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    num_classes = int(cfg['model']['head']['num_classes'])
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(batch_size) % num_classes
    samples = [DataSample().set_gt_label(int(label)) for label in labels]
    timings, checkpoint_s = [], None
    for size in sorted(sizes):
        inputs = torch.randn(batch_size, 3, size, size, generator=generator)
        if channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        model.train()
        step_s = []
        for _ in range(WARMUP_STEPS + TIMED_STEPS):
            start = time.perf_counter()
            optimizer.zero_grad()
            losses = model(inputs, samples, mode='loss')
            sum(losses.values()).backward()
            optimizer.step()
            step_s.append(time.perf_counter() - start)
        model.eval()
        infer_s = []
        with torch.no_grad():
            for _ in range(WARMUP_STEPS + 1):
                start = time.perf_counter()
                model(inputs, mode='tensor')
                infer_s.append(time.perf_counter() - start)
        if checkpoint_s is None:  # after a step: the momentum exists
            checkpoint_s = checkpoint_seconds(model, optimizer)
        timing = SizeTiming(size=size,
                            train_step_s=min(step_s[WARMUP_STEPS:]),
                            infer_image_s=min(infer_s[WARMUP_STEPS:]) /
                            batch_size, checkpoint_s=checkpoint_s)
        timings.append(timing)
        if not keep_going(timing):
            break
    return timings
