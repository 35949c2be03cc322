"""Saliency overlays and peaks (mmtricks.deploy.saliency)."""
import numpy as np

from mmtricks.deploy.saliency import overlay, peak_location, upsample


def test_peak_is_found_in_image_pixels_of_the_map_cell():
    saliency = np.zeros((3, 3), np.float32)
    saliency[2, 0] = 1.0  # bottom-left cell of a 96x96 image
    y, x = peak_location(saliency, (96, 96))
    assert 64 <= y < 96 and 0 <= x < 32


def test_upsample_keeps_the_range_and_takes_the_image_size():
    saliency = np.random.default_rng(0).random((4, 5)).astype(np.float32)
    big = upsample(saliency, (40, 50))
    assert big.shape == (40, 50)
    assert big.min() >= saliency.min() - 1e-6
    assert big.max() <= saliency.max() + 1e-6


def test_overlay_is_red_where_the_map_is_high_and_blue_where_low():
    image = np.full((32, 32, 3), 128, np.uint8)
    saliency = np.zeros((2, 2), np.float32)
    saliency[0, 1] = 1.0
    shown = overlay(image, saliency).astype(int)
    assert shown.shape == (32, 32, 3) and shown.dtype != object
    hot, cold = shown[2, 29], shown[29, 2]  # BGR
    assert hot[2] > hot[0] and cold[0] > cold[2]
