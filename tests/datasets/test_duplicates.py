"""Exact and near duplicates: which pairs are found, in which order, and the
search that finds them (mmtricks/datasets/duplicates.py)."""
import io
import itertools
import shutil

import numpy as np
import pytest
from PIL import Image

from mmtricks.datasets import duplicates as dup
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
        thumb = rng.integers(0, 256, size=(dup.THUMBNAIL_SIDE, ) * 2)
        rows = dup._dct_rows(dup.THUMBNAIL_SIDE, dup.HASH_SIDE)
        exact = rows.astype(np.int64) @ thumb.astype(np.int64) @ \
            rows.astype(np.int64).T
        as_float = rows @ thumb.astype(np.float64) @ rows.T
        assert np.array_equal(as_float, exact.astype(np.float64))
        assert dup.perceptual_hash(thumb.astype(np.uint8)).shape == \
            (dup.HASH_BITS // 8, )


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
    first, second, distance = dup.near_pairs(hashes, max_distance)
    assert set(zip(first.tolist(), second.tolist(), distance.tolist())) == \
        brute_force(hashes, max_distance)


def test_pairs_sharing_a_key_in_small_batches():
    keys = np.array([3, 1, 3, 2, 1, 3, 3, 7])
    expected = {(i, j) for i, j in itertools.combinations(range(8), 2)
                if keys[i] == keys[j]}
    for batch in (1, 2, 5, 1 << 20):
        found = [tuple(sorted(p))
                 for left, right in dup._pairs_sharing_key(keys, batch)
                 for p in zip(left.tolist(), right.tolist())]
        assert sorted(found) == sorted(expected)


def test_size_and_mode_counts(tmp_path):
    files = [save(tmp_path / 'a.png', picture(0, 40)),
             save(tmp_path / 'b.png', picture(1, 40))]
    rgba = Image.fromarray(picture(2, 30)).convert('RGBA')
    rgba.save(tmp_path / 'c.png')
    files.append(str(tmp_path / 'c.png'))
    splits = ['train', 'train', 'test']
    stats = dup.image_statistics(splits, dup.image_signatures(files))
    assert stats['train'] == dict(images=2, sizes={'40x40': 2},
                                  modes={'L': 2})
    assert stats['all']['modes'] == {'L': 2, 'RGBA': 1}
    assert stats['all']['width'] == dict(min=30, median=40, max=40)
    line = dup.statistics_line(stats)
    assert line.startswith('Images: 3 (train 2, test 1); 2 sizes from '
                           '30x30 to 40x40')
    assert 'modes L 2, RGBA 1; mixed' in line


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
