"""Label-noise candidates: ranking by out-of-sample loss, the overlay."""
import numpy as np

from mmtricks.engine.label_noise import beside, confidently_wrong


def test_confidently_wrong_ranks_the_wrong_by_loss():
    scores = np.array([[0.9, 0.1],    # right
                       [0.3, 0.7],    # wrong, loss -log 0.3
                       [0.01, 0.99],  # wrong, loss -log 0.01: first
                       [0.6, 0.4]])   # wrong (label 1), loss -log 0.4
    labels = np.array([0, 0, 0, 1])
    assert confidently_wrong(scores, labels) == [2, 1, 3]
    assert confidently_wrong(scores, labels, limit=1) == [2]
    assert confidently_wrong(scores[:1], labels[:1]) == []


def test_overlay_puts_the_image_beside_its_map():
    grey = np.full((8, 6, 1), 100, np.uint8)
    both = beside(grey, np.array([[0.0, 1.0]]))
    assert both.shape == (8, 12, 3)
    assert (both[:, :6] == 100).all()
    # jet: red on the right (high), blue on the left (low)
    assert both[4, 11, 2] > both[4, 11, 0]
    assert both[4, 6, 0] > both[4, 6, 2]
