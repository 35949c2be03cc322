"""The multi-index search of hashes within a Hamming distance
(mmtricks/datasets/hash_search.py)."""
import itertools

import numpy as np
import pytest

from mmtricks.datasets import hash_search


def brute_force(hashes, max_distance):
    found = set()
    for i, j in itertools.combinations(range(len(hashes)), 2):
        distance = int(np.unpackbits(hashes[i] ^ hashes[j]).sum())
        if distance <= max_distance:
            found.add((i, j, distance))
    return found


@pytest.mark.parametrize('max_distance', [0, 3, 10, 40])
def test_the_multi_index_search_finds_what_brute_force_finds(max_distance):
    rng = np.random.default_rng(max_distance)
    hashes = rng.integers(0, 256, size=(150, 32), dtype=np.uint8)
    # planted neighbours at 0..2*max_distance bits, and a clump of alike
    # hashes (one shared piece for many images)
    for k in range(40):
        source, target = rng.choice(150, 2, replace=False)
        hashes[target] = hashes[source]
        flips = rng.choice(256, rng.integers(0, 2 * max_distance + 1),
                           replace=False)
        for bit in flips:
            hashes[target, bit // 8] ^= 1 << (bit % 8)
    first, second, distance = hash_search.near_pairs(hashes, max_distance)
    assert set(zip(first.tolist(), second.tolist(), distance.tolist())) == \
        brute_force(hashes, max_distance)


def test_pairs_sharing_a_key_in_small_batches():
    keys = np.array([3, 1, 3, 2, 1, 3, 3, 7])
    expected = {(i, j) for i, j in itertools.combinations(range(8), 2)
                if keys[i] == keys[j]}
    for batch in (1, 2, 5, 1 << 20):
        found = [tuple(sorted(p))
                 for left, right in hash_search.pairs_sharing_key(keys, batch)
                 for p in zip(left.tolist(), right.tolist())]
        assert sorted(found) == sorted(expected)
