"""Pairs of bit strings within a Hamming distance, found without comparing
all pairs: multi-index hashing (Norouzi et al., 2012). By the pigeonhole
principle, two hashes within ``d`` bits agree exactly on at least one of
``d + 1`` disjoint pieces, so only the images that share a piece are
compared. Sorting the ``n`` images by each piece costs
``O((d + 1) n log n)``; comparing the ``C`` candidates that share a piece
costs ``O(C)`` (numpy, no Python loop over images or pairs). For distinct
photos ``C`` is a small multiple of the pairs found; it grows towards
``n**2 / 2`` only when most images are alike (then most pairs are reported
anyway).
"""
from typing import Iterator, List, Optional, Tuple

import numpy as np

#: Candidate pairs compared at once (bounds the memory of the search).
PAIR_BATCH = 1 << 22


def popcount_rows(bits: np.ndarray) -> np.ndarray:
    """Set bits of each row of a uint8 array."""
    if hasattr(np, 'bitwise_count'):  # numpy >= 2.0
        return np.bitwise_count(bits).sum(axis=1, dtype=np.int64)
    table = np.array([bin(value).count('1') for value in range(256)],
                     dtype=np.int64)
    return table[bits].sum(axis=1)


def pairs_sharing_key(keys: np.ndarray,
                       batch: int = PAIR_BATCH
                       ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """Every pair ``(i, j)`` of indices with ``keys[i] == keys[j]``, ``i``
    first in a stable sort by key, in batches of at most about ``batch``
    pairs. Vectorised: sort once, then each image is paired with the
    images after it in its run of equal keys."""
    count = len(keys)
    if count < 2:
        return
    order = np.argsort(keys, kind='stable')
    ordered = keys[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], count]
    run_end = np.repeat(ends, ends - starts)
    partners = run_end - np.arange(count) - 1
    members = np.flatnonzero(partners)
    if not len(members):
        return
    partners = partners[members]
    total = np.cumsum(partners)
    cuts = np.searchsorted(total, np.arange(batch, int(total[-1]), batch),
                           side='right')
    for part in np.split(np.arange(len(members)), cuts):
        if not len(part):
            continue
        firsts, counts = members[part], partners[part]
        left = np.repeat(firsts, counts)
        starts_at = np.repeat(np.cumsum(counts) - counts, counts)
        right = left + 1 + (np.arange(int(counts.sum())) - starts_at)
        yield order[left], order[right]


def _piece_keys(hashes: np.ndarray, pieces: int) -> List[np.ndarray]:
    """Each image's value of each of ``pieces`` disjoint runs of its hash
    bits, as int64."""
    bits = np.unpackbits(hashes, axis=1).astype(np.int64)
    edges = np.linspace(0, bits.shape[1], pieces + 1).round().astype(int)
    keys = []
    for start, end in zip(edges[:-1], edges[1:]):
        if end - start > 62:  # fewer pieces than 5 of 256 bits: fold
            width = end - start
            folded = np.zeros(len(bits), dtype=np.int64)
            for offset in range(0, width, 62):
                part = bits[:, start + offset:min(end, start + offset + 62)]
                weights = 1 << np.arange(part.shape[1], dtype=np.int64)
                folded = folded * 1_000_003 + part @ weights
            keys.append(folded)
        else:
            weights = 1 << np.arange(end - start, dtype=np.int64)
            keys.append(bits[:, start:end] @ weights)
    return keys


def near_pairs(hashes: np.ndarray, max_distance: int,
               groups: Optional[np.ndarray] = None
               ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of hashes at most ``max_distance`` bits apart.

    Args:
        hashes: ``(n, bytes)`` uint8 packed hashes.
        max_distance: Largest Hamming distance of a pair.
        groups: Optional ``(n,)`` ids; pairs within one id are left out
            (the exact duplicates).

    Returns:
        ``(first, second, distance)`` arrays, ``first < second``, sorted.
    """
    count = len(hashes)
    empty = (np.zeros(0, np.int64), ) * 3
    if count < 2 or max_distance < 0:
        return empty
    pieces = min(max_distance + 1, hashes.shape[1] * 8)
    found = []
    for keys in _piece_keys(hashes, pieces):
        for left, right in pairs_sharing_key(keys):
            distance = popcount_rows(hashes[left] ^ hashes[right])
            keep = distance <= max_distance
            if groups is not None:
                keep &= groups[left] != groups[right]
            if keep.any():
                first = np.minimum(left[keep], right[keep])
                second = np.maximum(left[keep], right[keep])
                found.append((first * count + second, distance[keep]))
    if not found:
        return empty
    codes = np.concatenate([code for code, _ in found])
    distances = np.concatenate([distance for _, distance in found])
    codes, where = np.unique(codes, return_index=True)
    return codes // count, codes % count, distances[where]
