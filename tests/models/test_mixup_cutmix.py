from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmpretrain.registry import BATCH_AUGMENTS
from mmtricks.models.batch_augments import (MixupCutMix, blend_images,
                                            cutmix_box, lam_from_box,
                                            minmax_box, mix_targets,
                                            paste_box, smooth_one_hot)


def test_smooth_one_hot_puts_eps_over_k_everywhere():
    targets = smooth_one_hot(torch.tensor([2, 0]), num_classes=4,
                             smoothing=0.1)
    assert torch.allclose(targets, torch.tensor(
        [[0.025, 0.025, 0.925, 0.025], [0.925, 0.025, 0.025, 0.025]]))
    assert torch.allclose(targets.sum(1), torch.ones(2))


def test_mix_targets_rows_sum_to_one_and_split_mass_by_lam():
    a = smooth_one_hot(torch.tensor([1, 3]), 5, 0.2)
    b = smooth_one_hot(torch.tensor([3, 1]), 5, 0.2)
    mixed = mix_targets(a, b, 0.7)
    assert torch.allclose(mixed.sum(1), torch.ones(2))
    # class 1 of row 0: 0.7 * (0.8 + 0.04) + 0.3 * 0.04
    assert mixed[0, 1].item() == pytest.approx(0.7 * 0.84 + 0.3 * 0.04)
    assert mixed[0, 3].item() == pytest.approx(0.7 * 0.04 + 0.3 * 0.84)
    assert mixed[0, 0].item() == pytest.approx(0.04)
    per_row = mix_targets(a, b, torch.tensor([1.0, 0.0]))
    assert torch.allclose(per_row, torch.stack([a[0], b[1]]))


def test_cutmix_box_inside_the_image_has_area_one_minus_lam():
    box = cutmix_box((10, 10), lam=0.64, center_yx=(5, 5))
    assert box == (2, 8, 2, 8)  # sides int(10 * 0.6) = 6
    assert lam_from_box(box, (10, 10)) == pytest.approx(0.64)


def test_cutmix_box_is_clipped_and_lam_follows_the_clipped_area():
    box = cutmix_box((10, 20), lam=0.64, center_yx=(0, 19))
    # sides 6 x 12 centred on the corner: rows 0:3, columns 13:20
    assert box == (0, 3, 13, 20)
    assert lam_from_box(box, (10, 20)) == 1 - 3 * 7 / 200


def test_minmax_box_and_paste():
    box = minmax_box((2, 3), (1, 0))
    assert box == (1, 3, 0, 3)
    a, b = torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 4, 4)
    pasted = paste_box(a, b, box)
    assert pasted.sum() == 6 and pasted[0, 0, 1:3, 0:3].eq(1).all()
    assert a.sum() == 0  # input untouched
    assert lam_from_box(box, (4, 4)) == 1 - 6 / 16
    assert torch.allclose(blend_images(a, b, 0.25), torch.full_like(a, 0.75))


def batch(n=4, classes=3, size=8):
    torch.manual_seed(0)
    images = torch.randn(n, 3, size, size)
    labels = torch.arange(n) % classes
    return images, F.one_hot(labels, classes)


def test_mixup_batch_equals_the_formula_with_a_known_lam():
    images, scores = batch()
    augment = MixupCutMix(mixup_alpha=0.2, cutmix_alpha=0.0,
                          label_smoothing=0.1)
    with mock.patch.object(np.random, 'beta', return_value=0.3):
        mixed, targets = augment(images, scores)
    assert torch.allclose(mixed, 0.3 * images + 0.7 * images.flip(0))
    smooth = scores.float() * 0.9 + 0.1 / 3
    assert torch.allclose(targets, 0.3 * smooth + 0.7 * smooth.flip(0))
    assert torch.allclose(targets.sum(1), torch.ones(4))


def test_cutmix_batch_pastes_the_box_and_weights_labels_by_its_area():
    images, scores = batch(size=10)
    augment = MixupCutMix(mixup_alpha=0.0, cutmix_alpha=1.0)
    with mock.patch.object(np.random, 'beta', return_value=0.64), \
            mock.patch.object(np.random, 'randint', side_effect=[9, 9]):
        mixed, targets = augment(images, scores)
    box = (6, 10, 6, 10)  # 6x6 around (9, 9), clipped to 4x4
    lam = 1 - 16 / 100
    expected = images.clone()
    expected[..., 6:10, 6:10] = images.flip(0)[..., 6:10, 6:10]
    assert torch.equal(mixed, expected)
    assert cutmix_box((10, 10), 0.64, (9, 9)) == box
    assert torch.allclose(targets, lam * scores + (1 - lam) * scores.flip(0))


def test_switch_prob_picks_cutmix_or_mixup():
    images, scores = batch()
    always_cutmix = MixupCutMix(switch_prob=1.0)
    never_cutmix = MixupCutMix(switch_prob=0.0)
    assert always_cutmix.draw((8, 8))[0] == 'cutmix'
    assert never_cutmix.draw((8, 8))[0] == 'mixup'


def test_minmax_box_sides_stay_in_bounds_and_inside_the_image():
    augment = MixupCutMix(mixup_alpha=0, cutmix_alpha=0,
                          cutmix_minmax=(0.25, 0.5))
    np.random.seed(0)
    for _ in range(200):
        kind, lam, (y0, y1, x0, x1) = augment.draw((16, 32))
        assert kind == 'cutmix'
        assert 4 <= y1 - y0 <= 8 and 8 <= x1 - x0 <= 16
        assert 0 <= y0 and y1 <= 16 and 0 <= x0 and x1 <= 32
        assert lam == 1 - (y1 - y0) * (x1 - x0) / (16 * 32)


def test_unmixed_and_switched_off_batches_keep_smoothing():
    images, scores = batch()
    smooth = scores.float() * 0.8 + 0.2 / 3
    never = MixupCutMix(prob=0.0, label_smoothing=0.2)
    out, targets = never(images, scores)
    assert torch.equal(out, images) and torch.allclose(targets, smooth)
    off = MixupCutMix(label_smoothing=0.2)
    off.mix_enabled = False
    out, targets = off(images, scores)
    assert torch.equal(out, images) and torch.allclose(targets, smooth)


def test_elem_mode_mixes_each_image_with_its_own_lam():
    images, scores = batch()
    augment = MixupCutMix(mixup_alpha=1.0, cutmix_alpha=0.0, mode='elem')
    lams = [0.1, 0.2, 0.3, 0.4]
    with mock.patch.object(np.random, 'beta', side_effect=lams):
        mixed, targets = augment(images, scores)
    lam = torch.tensor(lams)
    assert torch.allclose(
        mixed, lam.view(-1, 1, 1, 1) * images +
        (1 - lam.view(-1, 1, 1, 1)) * images.flip(0))
    assert torch.allclose(targets, lam[:, None] * scores +
                          (1 - lam[:, None]) * scores.flip(0))


def test_builds_from_the_registry():
    augment = BATCH_AUGMENTS.build(dict(type='MixupCutMix', label_smoothing=0.1))
    assert isinstance(augment, MixupCutMix)


@pytest.mark.parametrize('kwargs, words', [
    (dict(mixup_alpha=-0.1), 'mixup_alpha'),
    (dict(cutmix_alpha=-1), 'cutmix_alpha'),
    (dict(mixup_alpha=0, cutmix_alpha=0), 'Both'),
    (dict(prob=1.5), 'prob'),
    (dict(switch_prob=-0.1), 'switch_prob'),
    (dict(label_smoothing=1.0), 'label_smoothing'),
    (dict(cutmix_minmax=(0.8, 0.2)), 'cutmix_minmax'),
    (dict(cutmix_minmax=(0.2, )), 'cutmix_minmax'),
    (dict(mode='pair'), 'mode'),
])
def test_bad_arguments_fail_at_build_time(kwargs, words):
    with pytest.raises(ValueError, match=words):
        MixupCutMix(**kwargs)
