import math

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from mmtricks.models.losses import jensen_shannon_divergence


def test_zero_for_identical_distributions():
    p = torch.tensor([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]])
    assert float(jensen_shannon_divergence([p, p, p])) == \
        pytest.approx(0.0, abs=1e-7)


def test_matches_a_hand_computation():
    p, q = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    # disjoint supports: JS = log 2
    assert float(jensen_shannon_divergence([p, q])) == \
        pytest.approx(math.log(2), abs=1e-5)
    a = torch.tensor([[0.5, 0.5]])
    b = torch.tensor([[0.9, 0.1]])
    c = torch.tensor([[0.2, 0.8]])
    m = [(0.5 + 0.9 + 0.2) / 3, (0.5 + 0.1 + 0.8) / 3]

    def kl(x):
        return sum(xi * math.log(xi / mi) for xi, mi in zip(x, m))

    expected = (kl([0.5, 0.5]) + kl([0.9, 0.1]) + kl([0.2, 0.8])) / 3
    assert float(jensen_shannon_divergence([a, b, c])) == \
        pytest.approx(expected, rel=1e-5)


def test_positive_and_symmetric():
    torch.manual_seed(0)
    a, b, c = (torch.randn(4, 5).softmax(1) for _ in range(3))
    abc = jensen_shannon_divergence([a, b, c])
    assert abc > 0
    torch.testing.assert_close(abc, jensen_shannon_divergence([c, a, b]))
    torch.testing.assert_close(jensen_shannon_divergence([a, b]),
                               jensen_shannon_divergence([b, a]))


def test_loss_is_clean_ce_plus_weighted_jsd():
    torch.manual_seed(0)
    loss = MODELS.build(dict(type='AugMixJSDLoss', jsd_weight=12.0))
    logits = torch.randn(6, 4)
    labels = torch.tensor([0, 3])
    clean, a1, a2 = logits.chunk(3)
    expected = F.cross_entropy(clean, labels) + 12.0 * \
        jensen_shannon_divergence([x.softmax(1) for x in (clean, a1, a2)])
    torch.testing.assert_close(loss(logits, labels), expected)
    with pytest.raises(ValueError, match='multiple of 3'):
        loss(torch.randn(4, 4), labels)
    with pytest.raises(ValueError):
        MODELS.build(dict(type='AugMixJSDLoss', jsd_weight=-1))
