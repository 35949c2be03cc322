import numpy as np
import pytest
from mmpretrain.registry import TRANSFORMS

from mmtricks.transforms import (AUGMIX_OPS, AugMix, mix_chains,
                                 sample_mixing_weights)


def image(seed=0, shape=(32, 32, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_mix_chains_is_the_convex_formula_exactly():
    original = np.full((2, 2, 3), 10, np.uint8)
    chains = [np.full((2, 2, 3), v, np.uint8) for v in (100, 200, 50)]
    weights, m = [0.5, 0.25, 0.25], 0.25
    out = mix_chains(original, chains, weights, m)
    expected = 0.25 * 10 + 0.75 * (0.5 * 100 + 0.25 * 200 + 0.25 * 50)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.full((2, 2, 3), expected,
                                               np.float32))
    # equal inputs are a fixed point: the weights sum to 1
    same = mix_chains(original, [original] * 3, weights, m)
    np.testing.assert_array_equal(same, original.astype(np.float32))


def test_sampled_weights_are_on_the_simplex():
    random = np.random.default_rng(0)
    for width in (1, 3, 7):
        weights, m = sample_mixing_weights(random, width, alpha=1.0)
        assert weights.shape == (width, ) and (weights >= 0).all()
        assert weights.sum() == pytest.approx(1.0, abs=1e-12)
        assert 0.0 <= m <= 1.0


def test_output_is_a_convex_mix_of_the_original_and_the_chains():
    augmix = TRANSFORMS.build(dict(type='AugMix', severity=5, width=3,
                                   seed=1))
    chains = []
    chain = augmix.chain
    augmix.chain = lambda img: chains.append(chain(img)) or chains[-1]
    img = image()
    out = augmix.transform(dict(img=img.copy()))['img']
    assert out.shape == img.shape and out.dtype == img.dtype
    stack = np.stack([img] + chains).astype(np.float32)
    assert len(chains) == 3
    assert (out >= stack.min(0) - 0.5).all() and \
        (out <= stack.max(0) + 0.5).all()
    assert not np.array_equal(out, img)


def test_every_op_keeps_shape_and_dtype():
    img = image(shape=(20, 24, 3))
    random = np.random.default_rng(0)
    for name, op in AUGMIX_OPS.items():
        out = op(img.copy(), 0.5, random, 128)
        assert out.shape == img.shape and out.dtype == np.uint8, name


def test_deterministic_under_a_seed():
    img = image()
    a = AugMix(severity=5, seed=3).transform(dict(img=img.copy()))['img']
    b = AugMix(severity=5, seed=3).transform(dict(img=img.copy()))['img']
    c = AugMix(severity=5, seed=4).transform(dict(img=img.copy()))['img']
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # without a seed it follows numpy's global stream (seeded per worker)
    np.random.seed(0)
    d = AugMix(severity=5).transform(dict(img=img.copy()))['img']
    np.random.seed(0)
    e = AugMix(severity=5).transform(dict(img=img.copy()))['img']
    np.testing.assert_array_equal(d, e)


def test_jsd_views_keep_the_clean_image():
    img = image()
    results = AugMix(jsd_views=True, seed=0).transform(dict(img=img.copy()))
    np.testing.assert_array_equal(results['img'], img)
    views = results['augmix_views']
    assert len(views) == 2 and not np.array_equal(views[0], views[1])
    assert all(v.shape == img.shape and v.dtype == img.dtype for v in views)


@pytest.mark.parametrize('bad', [
    dict(severity=0), dict(severity=11), dict(severity=2.5), dict(width=0),
    dict(depth=0), dict(depth=-2), dict(alpha=0), dict(alpha=-1.0)])
def test_bad_arguments_are_refused(bad):
    with pytest.raises(ValueError):
        AugMix(**bad)
