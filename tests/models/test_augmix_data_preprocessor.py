"""AugMix's JSD loss wired through the data preprocessor and a Runner."""
import math

import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

from mmtricks.engine import build_runner
from mmtricks.models import AugMixDataPreprocessor, with_augmix_views


def samples_with_views(n, size=4):
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(n):
        s = DataSample().set_gt_label(0)
        s.set_field([rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
                     for _ in range(2)], 'augmix_views')
        samples.append(s)
    return samples


def test_views_follow_the_clean_batch_in_the_loss_order():
    samples = samples_with_views(3)
    clean = torch.zeros(3, 3, 4, 4, dtype=torch.uint8)
    tripled = with_augmix_views(clean, samples)
    assert tripled.shape == (9, 3, 4, 4)
    assert torch.equal(tripled[:3], clean)
    for i, s in enumerate(samples):
        for view in range(2):
            expected = torch.from_numpy(
                s.augmix_views[view].transpose(2, 0, 1).copy())
            assert torch.equal(tripled[3 + 3 * view + i], expected)


def test_normalised_like_the_clean_images_in_training_only():
    pre = AugMixDataPreprocessor(mean=[10, 20, 30], std=[2, 2, 2])
    samples = samples_with_views(2)
    clean = torch.full((2, 3, 4, 4), 50, dtype=torch.uint8)
    out = pre(dict(inputs=clean, data_samples=samples), training=True)
    assert out['inputs'].shape == (6, 3, 4, 4)
    assert torch.allclose(out['inputs'][0, 0], torch.full((4, 4), 20.0))
    view = torch.from_numpy(samples[0].augmix_views[0].transpose(2, 0, 1)
                            .astype(np.float32))
    assert torch.allclose(out['inputs'][2],
                          (view - torch.tensor([10., 20, 30]).view(3, 1, 1))
                          / 2)
    assert pre(dict(inputs=clean, data_samples=samples),
               training=False)['inputs'].shape == (2, 3, 4, 4)


def test_missing_views_and_batch_augments_are_clear_errors():
    with pytest.raises(ValueError, match='jsd_views=True'):
        with_augmix_views(torch.zeros(1, 3, 4, 4),
                          [DataSample().set_gt_label(0)])
    with pytest.raises(ValueError, match='batch augments'):
        AugMixDataPreprocessor(batch_augments=dict(
            augments=dict(type='Mixup', alpha=0.2)), num_classes=10)


def augmix_jsd_config(make_fast_config):
    cfg = make_fast_config(indices=64)
    cfg.train_dataloader.batch_size = 32
    pipeline = cfg.train_dataloader.dataset.pipeline
    pipeline.insert(-1, dict(type='AugMix', severity=3, width=2,
                             jsd_views=True, seed=0))
    pipeline[-1] = dict(type='PackInputs', algorithm_keys=['augmix_views'])
    cfg.data_preprocessor.type = 'AugMixDataPreprocessor'
    cfg.model.head.loss = dict(type='AugMixJSDLoss', jsd_weight=12)
    cfg.custom_hooks = []
    return cfg


def train_recording_head_rows(cfg):
    from mmengine.runner import Runner
    runner = build_runner(cfg)
    seen = []
    runner.model.head.register_forward_hook(
        lambda module, args, out: seen.append(out.shape[0])
        if module.training else None)
    runner.train()
    return runner, seen


def test_runner_trains_on_clean_plus_two_views(make_fast_config):
    runner, seen = train_recording_head_rows(
        augmix_jsd_config(make_fast_config))
    assert seen[:2] == [96, 96]  # [clean; view 1; view 2] for 32 labels
    assert runner.iter == 2
    assert isinstance(runner.model.data_preprocessor, AugMixDataPreprocessor)


def test_runner_trains_the_am_softmax_head_with_the_jsd_loss(
        make_fast_config):
    from mmengine.runner import Runner
    from mmtricks.models import AMSoftmaxClsHead
    cfg = augmix_jsd_config(make_fast_config)
    cfg.model.head = dict(type='AMSoftmaxClsHead', num_classes=10,
                          in_channels=576, margin=0.35, scale='auto',
                          loss=dict(type='AugMixJSDLoss', jsd_weight=12))
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1,
                         val_interval=1000)
    cfg.param_scheduler = []
    runner = build_runner(cfg)
    rows, losses = [], []
    runner.model.head.register_forward_hook(
        lambda module, args, out: rows.append(out.shape[0]))
    loss = runner.model.head.loss

    def recorded(feats, data_samples, **kwargs):
        out = loss(feats, data_samples, **kwargs)
        losses.append((feats[-1].shape[0], len(data_samples),
                       float(out['loss'].detach())))
        return out

    runner.model.head.loss = recorded
    before = runner.model.head.weight.detach().clone()
    runner.train()
    assert isinstance(runner.model.head, AMSoftmaxClsHead)
    assert len(losses) == 1
    feature_rows, labels, value = losses[0]
    assert (feature_rows, labels) == (96, 32)
    assert math.isfinite(value) and value > 0
    assert not torch.equal(before, runner.model.head.weight.detach())
