"""Exact and near-duplicate images within and across train / val / test.

Two images are

- **exact** duplicates when their files hold the same bytes (BLAKE2b-128;
  for an in-memory image, the same pixels and shape). Bytes, not decoded
  pixels: a copied file is byte-identical, the check needs no full decode
  (a JPEG is read at a reduced scale for the near check), and whatever
  else looks the same (the image re-saved losslessly, its metadata
  stripped) is a near pair at distance 0;
- **near** duplicates when their perceptual hashes differ in at most
  ``max_distance`` of 256 bits (Hamming distance): a resized or
  re-encoded copy (JPEG at a lower quality) keeps the image's low spatial
  frequencies, which the hash encodes. The hash is a DCT pHash: the image
  in grey, reduced to 64x64 with Lanczos (an antialiasing filter: a copy
  at another size reduces to nearly the same thumbnail), its 16x16 lowest
  DCT coefficients, one bit each: above their median or not. Measured
  against a difference hash (dHash), 32x32 and box-filtered thumbnails and
  8x8 (64-bit) and 12x12 blocks, it separated planted resized/JPEG copies
  from distinct images best on the bundled sets (tools/benchmarks/
  duplicates.py, docs/benchmarks/duplicates.md). The DCT runs on
  integer-valued float64 (every product and sum is an integer below 2**53,
  so exact), so every rank and machine computes the same bits. Crops
  and flips are not near duplicates to this hash. A pair whose smaller
  image is under the 64 px thumbnail is also near when a coarse hash
  proposes it and its pixels correlate
  (:mod:`mmtricks.datasets.small_image_pairs`): the 256 bits of such an
  image do not survive a resized copy.

Pairs are found by multi-index hashing
(:mod:`mmtricks.datasets.hash_search`), without comparing all pairs.
"""
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .hash_search import near_pairs, pairs_sharing_key, popcount_rows
from .image_signatures import (HASH_BITS, THUMBNAIL_SIDE,  # noqa: F401
                               ImageSignature, image_signature,
                               image_signatures, perceptual_hash, thumbnail)
from .small_image_pairs import small_image_pairs

#: The splits in their order: a duplicate is "later" in the split that
#: comes after (train < val < test).
SPLIT_ORDER = ('train', 'val', 'test')
#: Largest Hamming distance (of HASH_BITS) of a near pair. Chosen by
#: tools/benchmark.py duplicates: the smallest distance that finds 95% of
#: planted resized/re-encoded copies on a tuning plant of the ELPV cells
#: (docs/benchmarks/duplicates.md).
NEAR_MAX_DISTANCE = 10


@dataclass(frozen=True)
class DuplicatePair:
    """Two images that look the same.

    ``first`` and ``second`` index the images given to
    :func:`find_duplicates`, ``first`` in the earlier split (or, in one
    split, the smaller index). ``distance`` is the Hamming distance of their
    perceptual hashes (0 for an exact pair); ``correlation``, for a pair of
    small images found by their pixels, that correlation (else None).
    """
    first: int
    second: int
    kind: str  # 'exact' or 'near'
    distance: int
    correlation: Optional[float] = None


def split_rank(split: str) -> int:
    """Place of a split in :data:`SPLIT_ORDER` (others come last)."""
    return SPLIT_ORDER.index(split) if split in SPLIT_ORDER \
        else len(SPLIT_ORDER)


def _ordered(splits: Sequence[str], first: int, second: int
             ) -> Tuple[int, int]:
    """The pair with the earlier split's image first."""
    if (split_rank(splits[second]), second) < \
            (split_rank(splits[first]), first):
        return second, first
    return first, second


def find_duplicates(splits: Sequence[str],
                    signatures: Sequence[ImageSignature],
                    max_distance: int = NEAR_MAX_DISTANCE
                    ) -> List[DuplicatePair]:
    """Every exact and near pair among the images.

    Args:
        splits: The split of each image (``'train'``, ``'val'``,
            ``'test'``).
        signatures: Each image's :class:`ImageSignature`, in the same
            order.
        max_distance: Largest Hamming distance of a near pair (of
            :data:`HASH_BITS`); negative finds exact pairs only (the small
            images' pixel test is then off too).

    Returns:
        The pairs, exact ones first, then by distance and index.
    """
    if len(splits) != len(signatures):
        raise ValueError(f'{len(splits)} splits for {len(signatures)} '
                         'signatures.')
    if not signatures:
        return []
    _, groups = np.unique(
        np.array([s.digest for s in signatures], dtype=object).astype('S16'),
        return_inverse=True)
    groups = groups.ravel()
    pairs = []
    for left, right in pairs_sharing_key(groups):
        for a, b in zip(left.tolist(), right.tolist()):
            pairs.append(DuplicatePair(*_ordered(splits, a, b), 'exact', 0))
    hashes = np.stack([s.phash for s in signatures])
    found = {(a, b): (distance, None) for a, b, distance in zip(*(
        array.tolist() for array in near_pairs(hashes, max_distance,
                                               groups)))}
    if max_distance >= 0:
        firsts, seconds, correlations = small_image_pairs(
            np.stack([s.coarse for s in signatures]),
            np.stack([s.detail for s in signatures]),
            np.array([min(s.size) for s in signatures]), groups)
        distances = popcount_rows(hashes[firsts] ^ hashes[seconds])
        for a, b, distance, correlation in zip(
                firsts.tolist(), seconds.tolist(), distances.tolist(),
                correlations.tolist()):
            found[a, b] = (found.get((a, b), (distance, ))[0],
                           round(correlation, 4))
    for (a, b), (distance, correlation) in found.items():
        pairs.append(DuplicatePair(*_ordered(splits, a, b), 'near',
                                   int(distance), correlation))
    pairs.sort(key=lambda p: (p.kind != 'exact', p.distance, p.first,
                              p.second))
    return pairs


# ------------------------------------------------------ what the pairs mean
def is_cross_split(pair: DuplicatePair, splits: Sequence[str]) -> bool:
    return splits[pair.first] != splits[pair.second]


def split_pair_name(pair: DuplicatePair, splits: Sequence[str]) -> str:
    """``'train/test'``: the pair's splits, earlier first."""
    return f'{splits[pair.first]}/{splits[pair.second]}'


def pair_counts(pairs: Sequence[DuplicatePair], splits: Sequence[str]
                ) -> Dict[str, Dict[str, int]]:
    """``{kind: {'train/test': count, ...}}``, splits in their order."""
    counts: Dict[str, Counter] = {'exact': Counter(), 'near': Counter()}
    for pair in pairs:
        counts[pair.kind][split_pair_name(pair, splits)] += 1

    def rank(name):
        first, second = name.split('/')
        return split_rank(first), split_rank(second)

    return {kind: {name: counted[name]
                   for name in sorted(counted, key=rank)}
            for kind, counted in counts.items()}


def later_copies(pairs: Sequence[DuplicatePair], splits: Sequence[str]
                 ) -> List[int]:
    """The images that have a duplicate in an earlier split (train < val <
    test), sorted: what leaves the later split when duplicates are
    dropped. An image is judged against the images as given (a test image
    whose val twin is itself dropped still leaves)."""
    return sorted({pair.second for pair in pairs
                   if split_rank(splits[pair.first]) <
                   split_rank(splits[pair.second])})
