"""Fit the new head on the frozen pretrained features before fine-tuning
(LP-FT); the fit itself is :mod:`mmtricks.models.heads.linear_probe`."""
import time
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.dist import broadcast, broadcast_object_list
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS
from torch import nn

from ..models.heads.linear_probe import L2_GRID, fit_linear_probe
from ..models.model_state import unwrap_model
from .bn_stats import only_batch_norms_training
from .training_state import TrainingStateSnapshot

CHECKPOINT_KEY = 'linear_probe'


def linear_head_layer(model: nn.Module) -> nn.Linear:
    """The head's one linear layer (MMPretrain's ``LinearClsHead.fc``); a
    clear error for heads the probe cannot initialise."""
    layer = getattr(getattr(model, 'head', None), 'fc', None)
    if not isinstance(layer, nn.Linear):
        raise ValueError(
            'LinearProbeHook fits a head with one linear layer `head.fc` '
            f'(LinearClsHead); {type(getattr(model, "head", None)).__name__} '
            'has none: remove LinearProbeHook from custom_hooks.')
    return layer


def averaged_head_layers(runner) -> List[nn.Linear]:
    """The head layers of the averaged copies hooks keep of the model
    (MMEngine's ``EMAHook.ema_model``, made before training): they must
    start from the fitted head too, or they average towards a random one."""
    layers = []
    for hook in runner.hooks:
        copy = getattr(getattr(hook, 'ema_model', None), 'module', None)
        if copy is not None:
            layers.append(linear_head_layer(copy))
    return layers


@torch.no_grad()
def head_inputs(model: nn.Module, loader,
                max_images: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """What the head sees for up to ``max_images`` images of ``loader``
    (its ``pre_logits``) and their labels. BN normalises with each batch's
    statistics, as in the training steps the head will take; dropout and
    the like are off; no batch augments (mixup) apply. The caller restores
    the BN buffers this changes."""
    features, labels, seen = [], [], 0
    with only_batch_norms_training(model):
        for data in loader:
            data = model.data_preprocessor(data, False)
            feats = model.head.pre_logits(model.extract_feat(data['inputs']))
            features.append(feats.float().cpu())
            labels.append(torch.cat([s.gt_label.view(-1)[:1]
                                     for s in data['data_samples']]).cpu())
            seen += len(labels[-1])
            if seen >= max_images:
                break
    return torch.cat(features)[:max_images], torch.cat(labels)[:max_images]


@HOOKS.register_module()
class LinearProbeHook(Hook):
    """Before training, replace the new head's random weights by a linear
    classifier fitted on the pretrained backbone's features of the training
    images (the L2 strength chosen on val), so that fine-tuning starts from
    a head that already separates the classes.

    Runs once, after the LR range test: the test finds the LR as the
    recipe does, from the random head (from a fitted head the loss has no
    descent left to find, and the test gives no answer); not on resume (the
    head is in the checkpoint). Everything the feature pass changes (BN
    statistics, RNG streams, loader state) is restored: the run differs from
    one without the hook in the head's starting weights only (an averaged
    copy of the model, MMEngine's ``EMAHook.ema_model``, gets the same
    head). Under DDP each rank fits on its own images and rank 0's head is
    broadcast.

    Args:
        max_images (int): Training (and val) images whose features are
            used, at most. Defaults to 10000.
    """

    # After LRFinderHook ('VERY_HIGH', 10), whose snapshot would undo it.
    priority = 'HIGH'

    def __init__(self, max_images: int = 10000) -> None:
        if max_images < 1:
            raise ValueError(f'max_images must be positive, got {max_images}.')
        self.max_images = max_images
        self.result: Optional[Dict] = None

    def before_train(self, runner) -> None:
        if runner.iter > 0:
            return
        model = unwrap_model(runner.model)
        layer = linear_head_layer(model)
        start = time.perf_counter()
        snapshot = TrainingStateSnapshot(runner)
        try:
            features, labels = head_inputs(model, runner.train_dataloader,
                                           self.max_images)
            val_loop = getattr(runner, 'val_loop', None)
            val = head_inputs(model, val_loop.dataloader, self.max_images) \
                if val_loop is not None else (None, None)
        finally:
            snapshot.restore()
        probe = fit_linear_probe(features, labels, layer.out_features, *val)
        weight = probe.weight.to(layer.weight)
        bias = probe.bias.to(layer.weight)
        broadcast(weight, 0)
        broadcast(bias, 0)
        for target in [layer] + averaged_head_layers(runner):
            with torch.no_grad():
                target.weight.copy_(weight)
                if target.bias is not None:
                    target.bias.copy_(bias)
        # Rank 0's record with its head: every rank logs and stores the same.
        results = [dict(images=len(labels), l2=probe.l2,
                        train_loss=probe.train_loss, val_loss=probe.val_loss,
                        val_top1=probe.val_top1,
                        seconds=time.perf_counter() - start,
                        l2_grid=list(L2_GRID))]
        broadcast_object_list(results, 0)
        self.result = results[0]
        runner.logger.info(self.describe(self.result))

    @staticmethod
    def describe(result: Dict) -> str:
        chosen = f'L2 {result["l2"]:g}'
        if result['val_loss'] is not None:
            chosen += (f' chosen on val (val loss {result["val_loss"]:.3f}, '
                       f'top-1 {result["val_top1"]:.1f}%)')
        return (f'Linear probe: the head fitted on the frozen features of '
                f'{result["images"]} training images, {chosen}, in '
                f'{result["seconds"]:.1f} s; fine-tuning starts from it.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.result is not None:
            checkpoint[CHECKPOINT_KEY] = self.result

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.result = checkpoint.get(CHECKPOINT_KEY, self.result)
