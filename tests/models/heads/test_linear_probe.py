"""The linear probe's fit: a convex problem, solved deterministically, its
L2 strength chosen by val cross-entropy."""
import pytest
import torch

from mmtricks.models.heads.linear_probe import (L2_GRID,
                                                fit_logistic_regression,
                                                fit_linear_probe)


def blobs(seed=0, per_class=20, classes=3, dims=16, spread=0.5):
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dims, generator=generator) * 3
    labels = torch.arange(classes).repeat_interleave(per_class)
    features = centres[labels] + spread * torch.randn(
        len(labels), dims, generator=generator)
    return features, labels


def test_separable_classes_are_separated_and_the_fit_is_deterministic():
    features, labels = blobs()
    weight, bias, loss = fit_logistic_regression(features, labels, 3, 1e-3)
    assert weight.shape == (3, 16) and bias.shape == (3, )
    assert torch.equal((features @ weight.T + bias).argmax(1), labels)
    assert loss < 0.1
    again = fit_logistic_regression(features, labels, 3, 1e-3)
    assert torch.equal(weight, again[0]) and torch.equal(bias, again[1])


def test_a_stronger_l2_gives_smaller_weights():
    features, labels = blobs()
    weak = fit_logistic_regression(features, labels, 3, 1e-4)[0]
    strong = fit_logistic_regression(features, labels, 3, 1e-1)[0]
    assert strong.norm() < 0.5 * weak.norm()


def test_val_cross_entropy_chooses_the_strength():
    features, labels = blobs()
    # val like train: the most confident head (weakest L2) loses least
    clean = fit_linear_probe(features, labels, 3, *blobs(seed=0))
    assert clean.l2 == min(L2_GRID) and clean.val_top1 == 100.0
    # val labels unrelated to the features: the least confident head wins
    val_features, _ = blobs(seed=1)
    shuffled = torch.randint(0, 3, (len(val_features), ),
                             generator=torch.Generator().manual_seed(2))
    noisy = fit_linear_probe(features, labels, 3, val_features, shuffled)
    assert noisy.l2 == max(L2_GRID)
    assert noisy.val_loss > clean.val_loss


def test_without_val_the_middle_strength():
    features, labels = blobs()
    probe = fit_linear_probe(features, labels, 3)
    assert probe.l2 == sorted(L2_GRID)[len(L2_GRID) // 2]
    assert probe.val_loss is None


@pytest.mark.parametrize('features, labels, l2', [
    (torch.zeros(4, 2), torch.zeros(3), 0.1),
    (torch.zeros(4), torch.zeros(4), 0.1),
    (torch.zeros(0, 2), torch.zeros(0), 0.1),
    (torch.zeros(4, 2), torch.zeros(4), -1.0),
])
def test_bad_inputs_are_refused(features, labels, l2):
    with pytest.raises(ValueError):
        fit_logistic_regression(features, labels, 2, l2)
