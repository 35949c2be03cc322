import mmcv
import numpy as np
import pytest
from mmpretrain.datasets.transforms import ColorJitter

import mmtricks  # noqa: F401
from mmtricks.compat import mmcv_hue


def hue_image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)


def reference_hue(img, hue_factor):
    """Hue rotation written independently of mmcv, in int arithmetic."""
    import cv2
    h, s, v = cv2.split(cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL))
    h = ((h.astype(np.int64) + int(hue_factor * 255)) % 256).astype(np.uint8)
    return cv2.cvtColor(cv2.merge([h, s, v]), cv2.COLOR_HSV2BGR_FULL)


@pytest.mark.skipif(int(np.__version__.split('.')[0]) < 2,
                    reason='the upstream bug needs numpy >= 2')
def test_upstream_adjust_hue_overflows_on_negative_factor():
    with pytest.raises(OverflowError):
        mmcv_hue._original_adjust_hue(hue_image(), -0.3, backend='cv2')


@pytest.mark.parametrize('factor', [-0.5, -0.3, -0.01, 0.0, 0.2, 0.5])
def test_fixed_adjust_hue_matches_reference(factor):
    img = hue_image()
    np.testing.assert_array_equal(
        mmcv.adjust_hue(img, factor, backend='cv2'), reference_hue(img, factor))


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
def test_positive_factors_unchanged_from_upstream(backend):
    img = hue_image()
    np.testing.assert_array_equal(
        mmcv.adjust_hue(img, 0.25, backend=backend),
        mmcv_hue._original_adjust_hue(img, 0.25, backend=backend))


def test_pillow_backend_negative_factor_rotates_back():
    img = hue_image()
    there = mmcv.adjust_hue(img, 0.2, backend='pillow')
    assert not np.array_equal(there, img)
    assert mmcv.adjust_hue(img, -0.2, backend='pillow').shape == img.shape


def test_mmpretrain_color_jitter_with_hue_survives_many_draws():
    jitter = ColorJitter(hue=0.5)
    for seed in range(50):
        np.random.seed(seed)
        out = jitter({'img': hue_image()})['img']
        assert out.shape == (16, 16, 3)


def test_bad_arguments_keep_upstream_errors():
    with pytest.raises(ValueError, match='hue_factor'):
        mmcv.adjust_hue(hue_image(), 0.7)
    with pytest.raises(TypeError):
        mmcv.adjust_hue(np.zeros(3, np.uint8), 0.1)
