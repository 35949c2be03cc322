import re

import numpy as np
import pytest
from PIL import Image

import mmtricks  # noqa: F401  (registers the transforms)
from mmpretrain.registry import TRANSFORMS
from mmtricks.transforms import LoadImageIfPath, UnreadableImageError


def rgb_image(height=5, width=7):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_loads_a_png_from_img_path(tmp_path):
    pixels = rgb_image()
    path = tmp_path / 'a.png'
    Image.fromarray(pixels).save(path)
    results = LoadImageIfPath()(dict(img_path=str(path), gt_label=1))
    image = results['img']
    assert image.shape == (5, 7, 3) and image.dtype == np.uint8
    # mmcv's default colour order: BGR
    np.testing.assert_array_equal(image, pixels[..., ::-1])
    assert results['img_shape'] == (5, 7)
    assert results['ori_shape'] == (5, 7)
    assert results['gt_label'] == 1


def test_grayscale_png_becomes_three_channels(tmp_path):
    pixels = rgb_image()[..., 0]
    path = tmp_path / 'gray.png'
    Image.fromarray(pixels).save(path)
    image = LoadImageIfPath()(dict(img_path=str(path)))['img']
    assert image.shape == (5, 7, 3)
    for channel in range(3):
        np.testing.assert_array_equal(image[..., channel], pixels)


def test_to_float32(tmp_path):
    path = tmp_path / 'a.png'
    Image.fromarray(rgb_image()).save(path)
    image = LoadImageIfPath(to_float32=True)(dict(img_path=str(path)))['img']
    assert image.dtype == np.float32


def test_passes_an_in_memory_image_through(tmp_path):
    pixels = rgb_image(4, 6)
    # an img_path that does not exist shows the file is not read
    results = LoadImageIfPath()(
        dict(img=pixels, img_path=str(tmp_path / 'missing.png')))
    assert results['img'] is pixels
    assert results['img_shape'] == (4, 6)
    assert results['ori_shape'] == (4, 6)


def test_expands_a_2d_array_to_three_channels():
    pixels = rgb_image(4, 6)[..., 0]
    results = LoadImageIfPath()(dict(img=pixels))
    image = results['img']
    assert image.shape == (4, 6, 3) and image.dtype == np.uint8
    for channel in range(3):
        np.testing.assert_array_equal(image[..., channel], pixels)
    assert results['img_shape'] == (4, 6)


def test_garbage_bytes_name_the_file(tmp_path):
    path = tmp_path / 'x.png'
    path.write_bytes(b'definitely not an image')
    with pytest.raises(UnreadableImageError, match=re.escape(str(path))):
        LoadImageIfPath()(dict(img_path=str(path)))


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / 'gone.png'
    with pytest.raises(UnreadableImageError, match=re.escape(str(path))):
        LoadImageIfPath()(dict(img_path=str(path)))


def test_registered_and_repr():
    transform = TRANSFORMS.build(dict(type='LoadImageIfPath',
                                      to_float32=True))
    assert isinstance(transform, LoadImageIfPath)
    assert 'to_float32=True' in repr(transform)


@pytest.mark.parametrize('keep', [0.6, 0.95, 'all but the end marker'])
def test_jpeg_cut_short_names_the_file(tmp_path, keep):
    """Training refuses a truncated JPEG (OpenVINOClassifier reads images
    the same way); PIL would load it grey-filled with LOAD_TRUNCATED_IMAGES
    and cv2.imread does."""
    import io
    buffer = io.BytesIO()
    Image.fromarray(rgb_image(32, 32)).save(buffer, 'JPEG')
    data = buffer.getvalue()
    path = tmp_path / 'cut.jpg'
    path.write_bytes(data[:-2] if isinstance(keep, str)
                     else data[:int(len(data) * keep)])
    with pytest.raises(UnreadableImageError,
                       match=re.escape(repr(str(path))) +
                       '.*replace or delete'):
        LoadImageIfPath()(dict(img_path=str(path)))


def test_read_image_is_what_the_transform_loads(tmp_path):
    from mmtricks.transforms.loading import read_image
    path = tmp_path / 'a.png'
    Image.fromarray(rgb_image()).save(path)
    np.testing.assert_array_equal(
        read_image(str(path)), LoadImageIfPath()(dict(img_path=str(path)))[
            'img'])
    with pytest.raises(ValueError, match='gone.png'):  # a ValueError too
        read_image(str(tmp_path / 'gone.png'))
