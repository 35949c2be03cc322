"""The small images' near test: coarse candidates, pixel correlation at the
smaller image's side (mmtricks/datasets/small_image_pairs.py)."""
import numpy as np
from PIL import Image

from mmtricks.datasets import small_image_pairs as small

from test_duplicates import picture  # noqa: E402


def details(*images):
    return np.stack([small.detail_thumbnail(np.asarray(Image.fromarray(
        image).resize((64, 64), Image.LANCZOS))) for image in images])


def test_the_correlation_is_pearson_at_the_smaller_side_and_0_when_flat():
    rows = details(picture(0, 25), picture(1, 25), np.full((25, 25), 90,
                                                           np.uint8))
    sides = np.array([25, 15, 25])
    r = small.pair_correlations(rows, sides, np.array([0, 0]),
                                np.array([1, 2]))
    at_15 = [np.asarray(Image.fromarray(d).resize((15, 15), Image.LANCZOS),
                        np.float64).ravel() for d in rows[:2]]
    assert np.isclose(r[0], np.corrcoef(*at_15)[0, 1], atol=1e-12)
    assert r[1] == 0.0  # a flat image correlates with nothing


def test_the_coarse_hash_is_the_block_means_above_their_mean():
    detail = np.zeros((small.DETAIL_SIDE, small.DETAIL_SIDE), np.uint8)
    detail[:, :small.DETAIL_SIDE // 2] = 200  # left half bright
    bits = np.unpackbits(small.coarse_hash(detail)).reshape(8, 8)
    assert bits[:, :4].all() and not bits[:, 4:].any()


def test_pairs_of_large_images_are_left_to_the_phash():
    image = picture(2, 25)
    rows = details(image, image, picture(3, 25))
    coarse = np.stack([small.coarse_hash(d) for d in rows])
    groups = np.arange(3)
    first, second, r = small.small_image_pairs(coarse, rows,
                                               np.array([25, 25, 25]), groups)
    assert (first.tolist(), second.tolist()) == ([0], [1]) and r[0] > 0.99
    # the same thumbnails, but every image 64 px or more: no pixel test
    assert len(small.small_image_pairs(coarse, rows, np.array([64, 80, 64]),
                                       groups)[0]) == 0
    # one group (exact duplicates) is never a near pair
    assert len(small.small_image_pairs(coarse, rows, np.array([25, 25, 25]),
                                       np.array([0, 0, 1]))[0]) == 0


def test_images_under_the_smallest_tested_side_are_left_to_the_phash():
    """At 8 px (sklearn's digits) distinct images correlate like copies:
    no pixel test under MIN_SIDE."""
    image = picture(4, 25)
    rows = details(image, image)
    coarse = np.stack([small.coarse_hash(d) for d in rows])
    for sides, pairs in (([25, small.MIN_SIDE], 1),
                         ([25, small.MIN_SIDE - 1], 0)):
        found = small.small_image_pairs(coarse, rows, np.array(sides),
                                        np.arange(2))
        assert len(found[0]) == pairs


def test_same_size_look_alikes_need_a_copys_correlation():
    """mnist's "1"s correlate at 0.93-0.98 without being copies: at the
    resized copies' threshold hundreds of them were reported."""
    base = picture(4, 28).astype(np.float64)
    noise = np.random.default_rng(0).normal(0, 1, base.shape)

    def near(scale):
        return np.clip(base + scale * noise, 0, 255).astype(np.uint8)
    rows = details(base.astype(np.uint8), near(2.0), near(8.0))
    r = small.pair_correlations(rows, np.array([28, 28, 28]),
                                np.array([0, 0]), np.array([1, 2]))
    assert r[0] >= small.SAME_SIZE_MIN_CORRELATION  # a re-encoded copy
    assert small.SMALL_MIN_CORRELATION <= r[1] < \
        small.SAME_SIZE_MIN_CORRELATION  # a look-alike
    coarse = np.stack([small.coarse_hash(d) for d in rows])
    first, second, _ = small.small_image_pairs(
        coarse, rows, np.array([28, 28, 28]), np.arange(3), max_distance=64)
    assert set(zip(first.tolist(), second.tolist())) == {(0, 1)}
    # the same pixels from a copy of another size: a resized copy, kept
    first, second, _ = small.small_image_pairs(
        coarse, rows, np.array([28, 28, 20]), np.arange(3), max_distance=64)
    assert (0, 2) in set(zip(first.tolist(), second.tolist()))
