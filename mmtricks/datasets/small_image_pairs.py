"""Near pairs of small images: a coarse hash proposes, the pixels decide.

The 256-bit pHash reads DCT frequencies up to 8 cycles per image. An image
under its 64 px thumbnail (a 25 px face, a 28 px digit) has few of them, and
a copy resized to 50-80% (12-22 px) and JPEG'd keeps fewer: the hashes of
such a copy and its source differ in up to 112 of 256 bits (52 at the
median on lfw_faces), as much as two distinct images. For every pair whose
smaller image is under :data:`SMALL_SIDE` (``min(width, height)``; at least
:data:`MIN_SIDE`), two steps:

1. **candidates**: a 64-bit hash, the 8x8 block means of the image each
   above their mean or not (what a 13 px copy keeps), pairs within
   :data:`COARSE_MAX_DISTANCE` bits, by the same multi-index search;
2. **verification**: the Pearson correlation of the two images' grey
   pixels, both reduced (Lanczos) to the smaller image's own side (at most
   :data:`DETAIL_SIDE`): a near pair when it is at least
   :data:`SMALL_MIN_CORRELATION`. At the smaller image's size the copy
   loses nothing its source has there, while two distinct images keep what
   tells them apart.

Both thresholds were chosen on a tuning plant of resized / re-encoded copies
of the bundled 25-28 px sets (another seed, other source images than the
evaluation plant; tools/benchmarks/duplicates.py): 95% of each set's copies
reach the correlation, 99% of those the coarse distance. Limits: a flat
image (no pixel variance) correlates with nothing (only its pHash finds
it). Two images of the same size must correlate at
:data:`SAME_SIZE_MIN_CORRELATION`: a re-encoded copy keeps the pixels,
and look-alikes that are not copies (on mnist, hundreds of "1"s) stay out;
a low-contrast copy only re-encoded can then be missed.
"""
from typing import Tuple

import numpy as np
from PIL import Image

from .hash_search import near_pairs

#: Pairs whose smaller image has a side under this get the pixel test (the
#: pHash's thumbnail side).
SMALL_SIDE = 64
#: Pairs whose smaller image has a side under this are left to the pHash:
#: the smallest copy the tuning plant held (25 px at 50%: 12 px); at 8 px
#: distinct images correlate like copies (sklearn's digits: 694 pairs).
MIN_SIDE = 12
#: Side of the grey thumbnail kept for the pixel test.
DETAIL_SIDE = 32
#: Largest Hamming distance (of 64 bits) of a candidate pair. Chosen by
#: tools/benchmark.py duplicates on its tuning plant of small images.
COARSE_MAX_DISTANCE = 4
#: Smallest pixel correlation of a near pair of small images (same tuning).
SMALL_MIN_CORRELATION = 0.9582
#: Smallest pixel correlation of a near pair of small images of the SAME
#: size: a re-encoded copy keeps its source's pixels (JPEG q30-70 copies of
#: mnist: 0.995 and up), while distinct images drawn alike do not (mnist's
#: "1"s: 0.93-0.98, hundreds of pairs at the resized copies' threshold).
SAME_SIZE_MIN_CORRELATION = 0.99
#: Pairs whose pixels are compared at once (bounds the memory).
PAIR_CHUNK = 4096


def detail_thumbnail(thumbnail: np.ndarray) -> np.ndarray:
    """The ``DETAIL_SIDE`` square uint8 grey thumbnail of the pHash's
    thumbnail, what the pixel test reads."""
    return np.asarray(Image.fromarray(np.asarray(thumbnail, np.uint8)).resize(
        (DETAIL_SIDE, DETAIL_SIDE), Image.LANCZOS), dtype=np.uint8)


def coarse_hash(detail: np.ndarray) -> np.ndarray:
    """The 64-bit hash of a detail thumbnail: its 8x8 block means, each
    above their mean or not (integers: exact), packed into 8 uint8."""
    block = DETAIL_SIDE // 8
    sums = np.asarray(detail, np.int64).reshape(8, block, 8, block).sum(
        axis=(1, 3)).ravel()
    return np.packbits(64 * sums > sums.sum())


def _pixels(details: np.ndarray, side: int) -> np.ndarray:
    """Each detail thumbnail reduced to ``side`` square (Lanczos), a row
    of int64 pixels."""
    if side == DETAIL_SIDE:
        return details.reshape(len(details), -1).astype(np.int64)
    return np.stack([np.asarray(Image.fromarray(d).resize(
        (side, side), Image.LANCZOS), dtype=np.int64).ravel()
        for d in details])


def pair_correlations(details: np.ndarray, sides: np.ndarray,
                      first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The pixel correlation of each pair ``(first[k], second[k])``, at the
    smaller image's side (at most :data:`DETAIL_SIDE`; at least 4); 0 when
    an image is flat. Sums of integer pixels are exact and IEEE division
    and square root are correctly rounded: every machine computes the same
    value.

    Args:
        details: ``(n, DETAIL_SIDE, DETAIL_SIDE)`` uint8 detail thumbnails.
        sides: ``(n,)`` each image's ``min(width, height)``.
    """
    pair_sides = np.clip(np.minimum(sides[first], sides[second]), 4,
                         DETAIL_SIDE)
    result = np.zeros(len(first))
    for side in np.unique(pair_sides):
        chosen = np.flatnonzero(pair_sides == side)
        images, where = np.unique(np.r_[first[chosen], second[chosen]],
                                  return_inverse=True)
        pixels = _pixels(details[images], int(side))
        count = pixels.shape[1]
        sums = pixels.sum(axis=1)
        # count * sum of squares - sum**2: count**2 times the variance
        spread = np.sqrt((count * np.einsum('ij,ij->i', pixels, pixels) -
                          sums * sums).astype(np.float64))
        left, right = where[:len(chosen)], where[len(chosen):]
        for start in range(0, len(chosen), PAIR_CHUNK):
            a = left[start:start + PAIR_CHUNK]
            b = right[start:start + PAIR_CHUNK]
            products = np.einsum('ij,ij->i', pixels[a], pixels[b])
            together = (count * products - sums[a] * sums[b]).astype(
                np.float64)
            scale = spread[a] * spread[b]
            result[chosen[start:start + PAIR_CHUNK]] = np.divide(
                together, scale, out=np.zeros_like(together),
                where=scale > 0)
    return result


def small_image_pairs(coarse: np.ndarray, details: np.ndarray,
                      sides: np.ndarray, groups: np.ndarray,
                      max_distance: int = COARSE_MAX_DISTANCE,
                      min_correlation: float = SMALL_MIN_CORRELATION
                      ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Near pairs with a small image, by the two steps above.

    Args:
        coarse: ``(n, 8)`` uint8 coarse hashes.
        details: ``(n, DETAIL_SIDE, DETAIL_SIDE)`` uint8.
        sides: ``(n,)`` each image's ``min(width, height)``.
        groups: ``(n,)`` ids; pairs within one id (exact duplicates) are
            left out.

    Returns:
        ``(first, second, correlation)``, ``first < second``.
    """
    sides = np.asarray(sides)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    tested = np.flatnonzero(sides >= MIN_SIDE)
    small = sides < SMALL_SIDE
    if not small[tested].any() or max_distance < 0:
        return empty
    first, second, _ = near_pairs(coarse[tested], max_distance,
                                  np.asarray(groups)[tested])
    first, second = tested[first], tested[second]
    keep = small[first] | small[second]
    first, second = first[keep], second[keep]
    correlation = pair_correlations(details, sides, first, second)
    needed = np.where(sides[first] == sides[second],
                      max(min_correlation, SAME_SIZE_MIN_CORRELATION),
                      min_correlation)
    keep = correlation >= needed
    return first[keep], second[keep], correlation[keep]
