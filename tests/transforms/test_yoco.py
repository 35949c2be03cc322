from unittest import mock

import numpy as np
import pytest

from mmpretrain.registry import TRANSFORMS
from mmtricks.transforms import YOCO, join_halves, split_in_two

FLIP = dict(type='RandomFlip', prob=1.0, direction='horizontal')


def image(h=4, w=6):
    return np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)


@pytest.mark.parametrize('axis', [0, 1])
def test_split_and_join_are_inverse_also_for_odd_sides(axis):
    img = image(5, 7)
    first, second = split_in_two(img, axis)
    assert first.shape[axis] == [5, 7][axis] // 2
    assert first.shape[axis] + second.shape[axis] == img.shape[axis]
    assert np.array_equal(join_halves(first, second, axis), img)


def run(yoco, img, cut_rand):
    with mock.patch.object(np.random, 'rand', return_value=cut_rand):
        return yoco(dict(img=img.copy(), img_shape=img.shape[:2]))['img']


def test_flip_on_each_half_of_a_width_cut():
    img = image()
    yoco = TRANSFORMS.build(dict(type='YOCO', transforms=[FLIP]))
    out = run(yoco, img, cut_rand=0.9)  # >= 0.5: cut across the width
    expected = np.concatenate([img[:, :3][:, ::-1], img[:, 3:][:, ::-1]], 1)
    assert np.array_equal(out, expected)
    assert out.shape == img.shape


def test_height_cut_flipped_halves_equal_a_flipped_image():
    img = image(5, 6)
    out = run(YOCO([FLIP]), img, cut_rand=0.1)  # < 0.5: across the height
    assert np.array_equal(out, img[:, ::-1])


def test_halves_draw_independently():
    img = image()
    yoco = YOCO([dict(type='RandomFlip', prob=0.5, direction='horizontal')])
    left, right = img[:, :3], img[:, 3:]
    seen = set()
    np.random.seed(0)
    for _ in range(60):
        out = yoco(dict(img=img.copy(), img_shape=(4, 6)))['img']
        if out.shape != img.shape:
            raise AssertionError(out.shape)
        if np.array_equal(out[:, :3], left[:, ::-1]) or \
                np.array_equal(out[:, :3], left):
            seen.add((np.array_equal(out[:, :3], left[:, ::-1]),
                      np.array_equal(out[:, 3:], right[:, ::-1])))
    # width cuts show all four combinations of (left flipped, right flipped)
    assert seen == {(False, False), (False, True), (True, False),
                    (True, True)}


def test_shape_changing_transforms_are_refused_at_build_time():
    with pytest.raises(ValueError, match='keep the image size'):
        YOCO([dict(type='Resize', scale=(8, 8))])
    with pytest.raises(ValueError, match='non-empty list'):
        YOCO([])


def test_a_transform_that_changes_a_half_fails_clearly():
    def crop_one_row(results):
        results['img'] = results['img'][:1]
        return results

    yoco = YOCO([crop_one_row])
    with pytest.raises(ValueError, match='changed a half'):
        yoco(dict(img=image(), img_shape=(4, 6)))
