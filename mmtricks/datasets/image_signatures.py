"""What the duplicate check reads from each image: the file's digest, a
perceptual hash, the size and mode (:mod:`mmtricks.datasets.duplicates`
says what they are for and how they were chosen)."""
import hashlib
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from ..cpu_facts import usable_cpus
from .folder import DatasetFolderError
from .small_image_pairs import coarse_hash, detail_thumbnail

#: Side of the grey thumbnail the hash is computed from.
THUMBNAIL_SIDE = 64
#: The DCT coefficients kept: the lowest HASH_SIDE x HASH_SIDE.
HASH_SIDE = 16
HASH_BITS = HASH_SIDE * HASH_SIDE
#: A JPEG is decoded at the smallest scale (1/2, 1/4, 1/8) that keeps at
#: least this side: the thumbnail is the same, the decode up to 60x cheaper.
DRAFT_SIDE = 4 * THUMBNAIL_SIDE

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
        coarse: The 64-bit coarse hash (8 uint8) and
        detail: the ``DETAIL_SIDE`` square grey thumbnail of
            :mod:`~mmtricks.datasets.small_image_pairs`.
    """
    digest: bytes
    phash: np.ndarray
    size: Tuple[int, int]
    mode: str
    coarse: np.ndarray
    detail: np.ndarray


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


def low_frequencies(thumbnail: np.ndarray) -> np.ndarray:
    """The lowest ``HASH_SIDE`` x ``HASH_SIDE`` DCT coefficients of a
    ``THUMBNAIL_SIDE`` square uint8 grey thumbnail (scaled integers)."""
    pixels = np.asarray(thumbnail, dtype=np.float64)
    # Integers below 2**53 at every step (4096 * 255 * 64 * 4096 * 64):
    # exact whatever the summation order of the BLAS.
    return _DCT @ pixels @ _DCT.T


def perceptual_hash(thumbnail: np.ndarray,
                    low: Optional[np.ndarray] = None) -> np.ndarray:
    """The pHash of a ``THUMBNAIL_SIDE`` square uint8 grey thumbnail
    (``low``: its :func:`low_frequencies`, when already computed): each of
    the lowest ``HASH_SIDE`` x ``HASH_SIDE`` DCT coefficients above their
    median or not, packed into ``HASH_BITS / 8`` uint8."""
    if low is None:
        low = low_frequencies(thumbnail)
    low = low.ravel()
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


def _signature(digest: bytes, image: Image.Image, size: Tuple[int, int],
               mode: str) -> ImageSignature:
    grey = thumbnail(image)
    low = low_frequencies(grey)
    detail = detail_thumbnail(grey)
    return ImageSignature(digest, perceptual_hash(grey, low),
                          (int(size[0]), int(size[1])), mode,
                          coarse_hash(detail), detail)


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
        return _signature(digest, image, image.size, image.mode)
    try:
        with open(source, 'rb') as f:
            data = f.read()
        digest = hashlib.blake2b(data, digest_size=16).digest()
        with Image.open(io.BytesIO(data)) as image:
            size, mode = image.size, image.mode
            image.draft('L', (DRAFT_SIDE, DRAFT_SIDE))
            signature = _signature(digest, image, size, mode)
    except Exception as error:  # PIL raises many types for bad files
        raise DatasetFolderError(
            f'Image file {source!r} cannot be read for the duplicate check '
            f'({type(error).__name__}: {error}): the file is damaged or not '
            'an image. Replace or delete it.') from error
    return signature


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
