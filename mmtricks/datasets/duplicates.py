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
  and flips are not near duplicates to this hash.

Pairs within ``max_distance`` are found by multi-index hashing (Norouzi et
al., 2012): by the pigeonhole principle, two hashes within ``d`` bits agree
exactly on at least one of ``d + 1`` disjoint pieces, so only the images
that share a piece are compared. Sorting the ``n`` images by each piece
costs ``O((d + 1) n log n)``; comparing the ``C`` candidates that share a
piece costs ``O(C)`` (numpy, no Python loop over images or pairs). For
distinct photos ``C`` is a small multiple of the pairs found; it grows
towards ``n**2 / 2`` only when most images are alike (then most pairs are
reported anyway).
"""
import hashlib
import io
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import (Dict, Iterator, List, Optional, Sequence, Tuple, Union)

import numpy as np
from PIL import Image

from ..cpu_facts import usable_cpus
from .folder import DatasetFolderError

#: The splits in their order: a duplicate is "later" in the split that
#: comes after (train < val < test).
SPLIT_ORDER = ('train', 'val', 'test')
#: Side of the grey thumbnail the hash is computed from.
THUMBNAIL_SIDE = 64
#: The DCT coefficients kept: the lowest HASH_SIDE x HASH_SIDE.
HASH_SIDE = 16
HASH_BITS = HASH_SIDE * HASH_SIDE
#: Largest Hamming distance (of HASH_BITS) of a near pair. Chosen by
#: tools/benchmark.py duplicates: the smallest distance that finds 95% of
#: planted resized/re-encoded copies on a tuning plant of the ELPV cells
#: (docs/benchmarks/duplicates.md).
NEAR_MAX_DISTANCE = 10
#: A JPEG is decoded at the smallest scale (1/2, 1/4, 1/8) that keeps at
#: least this side: the thumbnail is the same, the decode up to 60x cheaper.
DRAFT_SIDE = 4 * THUMBNAIL_SIDE
#: Candidate pairs compared at once (bounds the memory of the search).
PAIR_BATCH = 1 << 22

ImageSource = Union[str, np.ndarray]


@dataclass(frozen=True)
class ImageSignature:
    """What the checks read from one image.

    Attributes:
        digest: BLAKE2b-128 of the file's bytes (of an array: its shape,
            dtype and pixels).
        phash: The perceptual hash, :data:`HASH_BITS` bits packed into
            uint8.
        size: ``(width, height)`` of the image as stored.
        mode: PIL's mode of the image as stored (``'L'``, ``'RGB'``,
            ``'RGBA'``, ``'P'``, ``'I;16'``...).
    """
    digest: bytes
    phash: np.ndarray
    size: Tuple[int, int]
    mode: str


@dataclass(frozen=True)
class DuplicatePair:
    """Two images that look the same.

    ``first`` and ``second`` index the images given to
    :func:`find_duplicates`, ``first`` in the earlier split (or, in one
    split, the smaller index). ``distance`` is the Hamming distance of their
    perceptual hashes (0 for an exact pair).
    """
    first: int
    second: int
    kind: str  # 'exact' or 'near'
    distance: int


def _dct_rows(size: int, count: int) -> np.ndarray:
    """The first ``count`` rows of the orthonormal DCT-II of ``size``
    points, scaled by 4096 and rounded: integers, so that the transform
    of integer pixels is exact in float64 (no rounding that another
    machine could do otherwise)."""
    points = np.arange(size)
    rows = [np.full(size, np.sqrt(1.0 / size))]
    rows += [np.sqrt(2.0 / size) * np.cos(np.pi * (2 * points + 1) * k /
                                          (2 * size))
             for k in range(1, count)]
    return np.rint(np.array(rows) * 4096.0)


_DCT = _dct_rows(THUMBNAIL_SIDE, HASH_SIDE)


def perceptual_hash(thumbnail: np.ndarray) -> np.ndarray:
    """The pHash of a ``THUMBNAIL_SIDE`` square uint8 grey thumbnail:
    each of the lowest ``HASH_SIDE`` x ``HASH_SIDE`` DCT coefficients above
    their median or not, packed into ``HASH_BITS / 8`` uint8."""
    pixels = np.asarray(thumbnail, dtype=np.float64)
    # Integers below 2**53 at every step (4096 * 255 * 64 * 4096 * 64):
    # exact whatever the summation order of the BLAS.
    low = (_DCT @ pixels @ _DCT.T).ravel()
    ordered = np.sort(low)
    middle = len(low) // 2
    twice_median = ordered[middle - 1] + ordered[middle]
    return np.packbits(2.0 * low > twice_median)


def _grey(image: Image.Image) -> Image.Image:
    """``image`` as 8-bit grey; 16-bit and float images are scaled by
    their range (PIL's own conversion clips them at 255)."""
    if image.mode in ('I', 'F') or image.mode.startswith('I;16'):
        pixels = np.asarray(image, dtype=np.float64)
        low, high = float(pixels.min()), float(pixels.max())
        scaled = (pixels - low) * (255.0 / (high - low)) if high > low \
            else np.zeros_like(pixels)
        return Image.fromarray(np.rint(scaled).astype(np.uint8))
    return image.convert('L')


def thumbnail(image: Image.Image) -> np.ndarray:
    """The grey ``THUMBNAIL_SIDE`` square thumbnail the hash reads."""
    grey = _grey(image).resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE),
                               Image.LANCZOS)
    return np.asarray(grey, dtype=np.uint8)


def image_signature(source: ImageSource) -> ImageSignature:
    """The :class:`ImageSignature` of an image file or an in-memory image
    (``(H, W)`` or ``(H, W, C)`` uint8).

    Raises:
        DatasetFolderError: The file cannot be read or decoded (named).
    """
    if isinstance(source, np.ndarray):
        array = np.ascontiguousarray(source)
        digest = hashlib.blake2b(
            f'{array.shape}{array.dtype}'.encode() + array.tobytes(),
            digest_size=16).digest()
        image = Image.fromarray(array)
        return ImageSignature(digest, perceptual_hash(thumbnail(image)),
                              image.size, image.mode)
    try:
        with open(source, 'rb') as f:
            data = f.read()
        digest = hashlib.blake2b(data, digest_size=16).digest()
        with Image.open(io.BytesIO(data)) as image:
            size, mode = image.size, image.mode
            image.draft('L', (DRAFT_SIDE, DRAFT_SIDE))
            phash = perceptual_hash(thumbnail(image))
    except Exception as error:  # PIL raises many types for bad files
        raise DatasetFolderError(
            f'Image file {source!r} cannot be read for the duplicate check '
            f'({type(error).__name__}: {error}): the file is damaged or not '
            'an image. Replace or delete it.') from error
    return ImageSignature(digest, phash, (int(size[0]), int(size[1])), mode)


def image_signatures(sources: Sequence[ImageSource],
                     threads: Optional[int] = None) -> List[ImageSignature]:
    """:func:`image_signature` of every source, in order; files are read
    by a pool of threads (default: one per usable CPU; PIL decodes
    without the GIL), in-memory images by one (too small to gain)."""
    if threads is None:
        threads = usable_cpus() if any(isinstance(s, str) for s in sources) \
            else 1
    threads = max(1, min(threads, len(sources) or 1))
    if threads == 1:
        return [image_signature(source) for source in sources]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(image_signature, sources, chunksize=64))


# ------------------------------------------------------------- the search
def _popcount_rows(bits: np.ndarray) -> np.ndarray:
    """Set bits of each row of a uint8 array."""
    if hasattr(np, 'bitwise_count'):  # numpy >= 2.0
        return np.bitwise_count(bits).sum(axis=1, dtype=np.int64)
    table = np.array([bin(value).count('1') for value in range(256)],
                     dtype=np.int64)
    return table[bits].sum(axis=1)


def _pairs_sharing_key(keys: np.ndarray,
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
        for left, right in _pairs_sharing_key(keys):
            distance = _popcount_rows(hashes[left] ^ hashes[right])
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


def _split_rank(split: str) -> int:
    return SPLIT_ORDER.index(split) if split in SPLIT_ORDER \
        else len(SPLIT_ORDER)


def _ordered(splits: Sequence[str], first: int, second: int
             ) -> Tuple[int, int]:
    """The pair with the earlier split's image first."""
    if (_split_rank(splits[second]), second) < \
            (_split_rank(splits[first]), first):
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
            :data:`HASH_BITS`); negative finds exact pairs only.

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
    for left, right in _pairs_sharing_key(groups):
        for a, b in zip(left.tolist(), right.tolist()):
            pairs.append(DuplicatePair(*_ordered(splits, a, b), 'exact', 0))
    hashes = np.stack([s.phash for s in signatures])
    for a, b, distance in zip(*(array.tolist() for array in near_pairs(
            hashes, max_distance, groups))):
        pairs.append(DuplicatePair(*_ordered(splits, a, b), 'near',
                                   int(distance)))
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
        return _split_rank(first), _split_rank(second)

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
                   if _split_rank(splits[pair.first]) <
                   _split_rank(splits[pair.second])})


# -------------------------------------------------------------- statistics
def _size_name(size: Tuple[int, int]) -> str:
    return f'{size[0]}x{size[1]}'


def image_statistics(splits: Sequence[str],
                     signatures: Sequence[ImageSignature]) -> Dict:
    """Counts of image sizes (``'WxH'``) and PIL modes, per split and over
    all (``'all'``), most common first; and the smallest, median and
    largest width and height over all."""
    def summary(chosen):
        sizes = Counter(_size_name(signatures[i].size) for i in chosen)
        modes = Counter(signatures[i].mode for i in chosen)
        return dict(images=len(chosen), sizes=dict(sizes.most_common()),
                    modes=dict(modes.most_common()))

    by_split: Dict[str, List[int]] = {}
    for index, split in enumerate(splits):
        by_split.setdefault(split, []).append(index)
    stats = {split: summary(by_split[split])
             for split in sorted(by_split, key=_split_rank)}
    stats['all'] = summary(range(len(signatures)))
    if signatures:
        widths = np.array([s.size[0] for s in signatures])
        heights = np.array([s.size[1] for s in signatures])
        stats['all'].update(
            width=dict(min=int(widths.min()), median=int(np.median(widths)),
                       max=int(widths.max())),
            height=dict(min=int(heights.min()),
                        median=int(np.median(heights)),
                        max=int(heights.max())))
    return stats


def statistics_line(stats: Dict) -> str:
    """One log line of :func:`image_statistics`."""
    every = stats['all']
    total = every['images']
    parts = ', '.join(f'{split} {summary["images"]:,}'
                      for split, summary in stats.items() if split != 'all')
    if not total:
        return 'Images: none.'
    if len(every['sizes']) == 1:
        sizes = f'all {next(iter(every["sizes"]))}'
    else:
        common, times = next(iter(every['sizes'].items()))
        sizes = (f'{len(every["sizes"]):,} sizes from '
                 f'{every["width"]["min"]}x{every["height"]["min"]} to '
                 f'{every["width"]["max"]}x{every["height"]["max"]} '
                 f'(median {every["width"]["median"]}x'
                 f'{every["height"]["median"]}; most common {common}: '
                 f'{times:,})')
    modes = ', '.join(f'{mode} {count:,}'
                      for mode, count in every['modes'].items())
    mixed = ''
    if len(every['modes']) > 1:
        mixed = ('; mixed: training reads each as 3-channel colour (alpha '
                 'dropped)')
    return f'Images: {total:,} ({parts}); {sizes}; modes {modes}{mixed}.'
