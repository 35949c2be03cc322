import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmpretrain.registry import MODELS
from mmtricks.models.batch_augments import (MixupCutMix,
                                            RandomResolutionDecrement,
                                            SequentialBatchAugments,
                                            decremented_size)


def test_decremented_size_rounds_and_keeps_one_pixel():
    assert decremented_size((32, 24), 0.5) == (16, 12)
    assert decremented_size((224, 224), 0.5) == (112, 112)
    assert decremented_size((7, 3), 0.1) == (1, 1)


def test_downscales_with_probability_p_under_a_seed():
    augment = RandomResolutionDecrement(prob=0.3, scale=0.5)
    images = torch.randn(2, 3, 32, 32)
    scores = F.one_hot(torch.tensor([0, 1]), 2)
    np.random.seed(1)
    expected_low = np.random.rand(200) < 0.3
    np.random.seed(1)
    sizes = [tuple(augment(images, scores)[0].shape[-2:]) for _ in range(200)]
    assert sizes == [(16, 16) if low else (32, 32) for low in expected_low]
    assert 40 <= expected_low.sum() <= 80


def test_downscaled_batch_is_the_area_average_and_labels_pass_through():
    augment = RandomResolutionDecrement(prob=1.0, scale=0.5)
    images = torch.arange(16.).view(1, 1, 4, 4)
    scores = torch.tensor([[0, 1]])
    low, out_scores = augment(images, scores)
    # antialiased bilinear at exactly 1/2 averages each 2x2 block
    assert torch.allclose(low, F.avg_pool2d(images, 2))
    assert torch.equal(out_scores, scores.float())


@pytest.mark.parametrize('kwargs', [dict(scale=1.0), dict(scale=0.0),
                                    dict(scale=-0.5), dict(prob=1.2)])
def test_bad_arguments_fail_at_build_time(kwargs):
    with pytest.raises(ValueError):
        RandomResolutionDecrement(**kwargs)


def test_chained_after_mixing_inside_the_data_preprocessor():
    preprocessor = MODELS.build(dict(
        type='ClsDataPreprocessor', num_classes=3,
        batch_augments=dict(augments=dict(
            type='SequentialBatchAugments', augments=[
                dict(type='MixupCutMix', mixup_alpha=0.2, cutmix_alpha=0.0,
                     label_smoothing=0.3),
                dict(type='RandomResolutionDecrement', prob=1.0, scale=0.5),
            ]))))
    chain = preprocessor.batch_augments.augments[0]
    assert isinstance(chain, SequentialBatchAugments)
    assert isinstance(chain.augments[0], MixupCutMix)
    from mmpretrain.structures import DataSample
    data = dict(inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)
                        for _ in range(4)],
                data_samples=[DataSample().set_gt_label(i % 3)
                              for i in range(4)])
    out = preprocessor(data, training=True)
    assert out['inputs'].shape == (4, 3, 16, 16)
    scores = torch.stack([s.gt_score for s in out['data_samples']])
    assert torch.allclose(scores.sum(1), torch.ones(4))
    assert scores.min() >= 0.1 - 1e-6  # eps / K = 0.3 / 3 everywhere
    evaluated = preprocessor(data, training=False)
    assert evaluated['inputs'].shape == (4, 3, 32, 32)


def test_sequential_needs_a_list():
    with pytest.raises(ValueError, match='non-empty list'):
        SequentialBatchAugments([])
