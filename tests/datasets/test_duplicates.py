"""Exact and near duplicates: which pairs are found, in which order, and the
search that finds them (mmtricks/datasets/duplicates.py)."""
import io
import shutil

import numpy as np
import pytest
from PIL import Image

from mmtricks.datasets import duplicates as dup
from mmtricks.datasets import image_signatures as signatures
from mmtricks.datasets.folder import DatasetFolderError


def picture(seed, side=128):
    """A distinct photo-like grey image: detail at every scale, weaker at
    the finer ones (as in photos), plus grain."""
    rng = np.random.default_rng(seed)
    image = np.zeros((side, side), np.float32)
    for cells in (3, 6, 12, 24):
        grid = rng.normal(0, 48 / cells ** 0.5, size=(cells, cells))
        image += np.asarray(Image.fromarray(grid.astype(np.float32)).resize(
            (side, side), Image.BICUBIC))
    image += rng.normal(0, 3, size=(side, side))
    return np.clip(image + 128, 0, 255).astype(np.uint8)


def save(path, image, quality=None):
    if quality is None:
        Image.fromarray(image).save(path)
    else:
        Image.fromarray(image).save(path, quality=quality)
    return str(path)


def resized_jpeg(image, scale, quality):
    side = round(image.shape[0] * scale)
    small = Image.fromarray(image).resize((side, side), Image.BILINEAR)
    data = io.BytesIO()
    small.save(data, 'JPEG', quality=quality)
    return data.getvalue()


@pytest.fixture
def planted(tmp_path):
    """Six distinct PNGs; an exact copy of 0, a resized JPEG of 1 (75%,
    quality 60) and a re-encoded JPEG of 2 (quality 50)."""
    files = [save(tmp_path / f'{i}.png', picture(i)) for i in range(6)]
    exact = str(tmp_path / 'copy_of_0.png')
    shutil.copyfile(files[0], exact)
    near = tmp_path / 'small_1.jpg'
    near.write_bytes(resized_jpeg(picture(1), 0.75, 60))
    jpeg = save(tmp_path / 'jpeg_2.jpg', picture(2), quality=50)
    return files, exact, str(near), jpeg


def pair_set(pairs):
    return {(p.first, p.second, p.kind) for p in pairs}


def test_exact_and_resized_or_reencoded_copies_are_found(planted):
    files, exact, near, jpeg = planted
    sources = files + [exact, near, jpeg]
    splits = ['train'] * 6 + ['test', 'val', 'test']
    pairs = dup.find_duplicates(splits, dup.image_signatures(sources))
    # the copy in a later split comes second; distinct images never pair
    assert pair_set(pairs) == {(0, 6, 'exact'), (1, 7, 'near'),
                               (2, 8, 'near')}
    assert pairs[0].kind == 'exact' and pairs[0].distance == 0
    assert all(0 < p.distance <= dup.NEAR_MAX_DISTANCE for p in pairs[1:])
    assert dup.later_copies(pairs, splits) == [6, 7, 8]
    assert dup.pair_counts(pairs, splits) == {
        'exact': {'train/test': 1}, 'near': {'train/val': 1,
                                             'train/test': 1}}


def test_the_earlier_split_comes_first_whatever_the_order(planted):
    files, exact, _, _ = planted
    # the test copy is listed before its train original
    pairs = dup.find_duplicates(['test', 'train'],
                                dup.image_signatures([exact, files[0]]))
    assert pair_set(pairs) == {(1, 0, 'exact')}
    assert dup.later_copies(pairs, ['test', 'train']) == [0]
    # within one split nothing is "later"
    same = dup.find_duplicates(['val', 'val'],
                               dup.image_signatures([exact, files[0]]))
    assert dup.later_copies(same, ['val', 'val']) == []
    assert not dup.is_cross_split(same[0], ['val', 'val'])


def test_distinct_images_make_no_pair():
    images = [picture(seed) for seed in range(40)]
    pairs = dup.find_duplicates(['train'] * 40, dup.image_signatures(images))
    assert pairs == []


def test_exact_only_and_the_same_pixels_in_memory():
    image = picture(7)
    signatures = dup.image_signatures([image, image.copy(), picture(8)])
    pairs = dup.find_duplicates(['train', 'val', 'val'], signatures, -1)
    assert pair_set(pairs) == {(0, 1, 'exact')}


def test_a_damaged_file_is_named(tmp_path):
    bad = tmp_path / 'cut.png'
    bad.write_bytes(b'\x89PNG\r\n\x1a\n not really')
    with pytest.raises(DatasetFolderError, match='cut.png'):
        dup.image_signatures([str(bad)])


def test_the_hash_is_exact_integer_arithmetic():
    """The float64 DCT equals the same transform in int64 (no rounding),
    so every machine and rank computes the same bits."""
    rng = np.random.default_rng(0)
    for _ in range(5):
        thumb = rng.integers(0, 256, size=(signatures.THUMBNAIL_SIDE, ) * 2)
        rows = signatures._dct_rows(signatures.THUMBNAIL_SIDE,
                                    signatures.HASH_SIDE)
        exact = rows.astype(np.int64) @ thumb.astype(np.int64) @ \
            rows.astype(np.int64).T
        as_float = rows @ thumb.astype(np.float64) @ rows.T
        assert np.array_equal(as_float, exact.astype(np.float64))
        assert signatures.perceptual_hash(thumb.astype(np.uint8)).shape == \
            (signatures.HASH_BITS // 8, )


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    """PIL's own 16-bit to 8-bit conversion clips at 255 (a white
    thumbnail for any image): two different 16-bit images must differ."""
    hashes = []
    for seed in (0, 1):
        wide = picture(seed).astype(np.uint16) * 256
        path = tmp_path / f'{seed}.png'
        Image.fromarray(wide).save(path)
        hashes.append(dup.image_signature(str(path)).phash)
    assert np.unpackbits(hashes[0] ^ hashes[1]).sum() > 40


def test_a_resized_jpeg_copy_of_a_tiny_image_is_found():
    """A 25 px image resized to 60% (15 px) and JPEG'd keeps too little for
    the 256-bit pHash (docs/benchmarks/duplicates.md): the small images'
    pixel test finds it, and pairs none of the other tiny images."""
    images = [picture(seed, side=25) for seed in range(30)]
    copy = np.asarray(Image.open(io.BytesIO(resized_jpeg(images[3], 0.6,
                                                         50))))
    assert copy.shape == (15, 15)
    sources = images + [copy]
    pairs = dup.find_duplicates(['train'] * 30 + ['test'],
                                dup.image_signatures(sources))
    assert pair_set(pairs) == {(3, 30, 'near')}
    assert pairs[0].distance > dup.NEAR_MAX_DISTANCE  # not by the pHash
    assert pairs[0].correlation > 0.95
    # exact only: the pixel test is off too
    assert dup.find_duplicates(['train'] * 30 + ['test'],
                               dup.image_signatures(sources), -1) == []
