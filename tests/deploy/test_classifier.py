"""OpenVINOClassifier lists and reads images as training does."""
import io
import os
import re

import numpy as np
import openvino as ov
import pytest
from PIL import Image

from mmtricks.deploy import OpenVINOClassifier
from mmtricks.deploy.classifier import list_images
from mmtricks.deploy.model_info import build_model_info, write_model_info
from tiny_ir import write_tiny_ir


@pytest.fixture(scope='module')
def tiny_ir(tmp_path_factory):
    """A 3-class IR of an 8x8 input (the mean colour's softmax)."""
    return write_tiny_ir(str(tmp_path_factory.mktemp('ir') / 'tiny.xml'),
                         inference_precision='f32')


def jpeg_bytes(size=(32, 32)):
    pixels = np.random.default_rng(0).integers(0, 256, (*size, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, 'JPEG')
    return buffer.getvalue()


def write_png(path, value=0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(path)


def test_folder_skips_hidden_files_and_folders(tmp_path, tiny_ir):
    write_png(tmp_path / 'a.png')
    write_png(tmp_path / 'sub' / 'b.png')
    write_png(tmp_path / '.c.png')                   # hidden file
    write_png(tmp_path / '.thumbnails' / 'd.png')    # in a hidden folder
    write_png(tmp_path / '__MACOSX' / 'e.png')       # macOS zip metadata
    # macOS AppleDouble: not an image whatever its extension
    (tmp_path / '._a.png').write_bytes(b'\x00\x05\x16\x07' * 8)
    expected = [str(tmp_path / 'a.png'), str(tmp_path / 'sub' / 'b.png')]
    assert list_images(str(tmp_path)) == expected
    predictions = OpenVINOClassifier(tiny_ir).classify(str(tmp_path))
    assert [p.path for p in predictions] == expected


def test_a_folder_of_hidden_files_only_is_an_error(tmp_path):
    (tmp_path / '._a.png').write_bytes(b'\x00\x05\x16\x07')
    with pytest.raises(ValueError, match='No images.*hidden'):
        list_images(str(tmp_path))


def test_truncated_jpeg_is_an_error_naming_the_file(tmp_path, tiny_ir):
    data = jpeg_bytes()
    (tmp_path / 'good.jpg').write_bytes(data)
    cut = tmp_path / 'cut.jpg'
    cut.write_bytes(data[:int(len(data) * 0.6)])  # cut mid-scan
    classifier = OpenVINOClassifier(tiny_ir)
    assert len(classifier.classify(str(tmp_path / 'good.jpg'))) == 1
    for given in (str(tmp_path), str(cut), [str(cut)]):
        with pytest.raises(ValueError) as error:
            classifier.classify(given)
        message = str(error.value)
        assert re.search(re.escape(repr(str(cut))) + '.*replace or delete',
                         message)
        assert '\n' not in message


def test_reads_the_pixels_training_reads(tmp_path):
    """The classifier decodes as LoadImageIfPath does (BGR, same pixels)."""
    from mmtricks.deploy.classifier import read_bgr
    from mmtricks.transforms import LoadImageIfPath
    path = tmp_path / 'x.jpg'
    path.write_bytes(jpeg_bytes((5, 7)))
    trained_on = LoadImageIfPath()(dict(img_path=str(path)))['img']
    np.testing.assert_array_equal(read_bgr(str(path)), trained_on)


def test_classify_predicts_at_the_irs_operating_point(tmp_path):
    """A 2-class IR (softmax of the mean colour's first two channels) whose
    runtime info holds a threshold on class 'b': an image scoring 0.27 for
    'b' is 'a' by argmax and 'b' at a threshold of 0.2."""
    from mmtricks.deploy.model_info import operating_point_extra
    param = ov.opset13.parameter([1, 3, 8, 8], ov.Type.f32, name='input')
    pooled = ov.opset13.reduce_mean(param, [2, 3], keep_dims=False)
    two = ov.opset13.slice(pooled, np.array([0]), np.array([2]),
                           np.array([1]), np.array([1]))
    irs = {}
    for name, extra in (('argmax', {}),
                        ('point', operating_point_extra(1, 0.2))):
        model = ov.Model([ov.opset13.softmax(two, 1)], [param], name)
        write_model_info(model, build_model_info(['a', 'b'], [0] * 3,
                                                 [1] * 3, False, 'standard'),
                         ['a', 'b'], extra, inference_precision='f32')
        irs[name] = str(tmp_path / f'{name}.xml')
        ov.save_model(model, irs[name])
    image = np.zeros((8, 8, 3), np.uint8)
    image[..., 0] = 1  # BGR read, fed as is (to_rgb False): channel 0 = 1
    path = str(tmp_path / 'x.png')
    Image.fromarray(image[..., ::-1]).save(path)  # PIL writes RGB
    # softmax([1, 0]) = [0.73, 0.27]
    assert OpenVINOClassifier(irs['argmax']).classify(path)[0].label == 'a'
    found = OpenVINOClassifier(irs['point']).classify(path)[0]
    assert (found.label, found.index) == ('b', 1)
    assert found.score == pytest.approx(0.269, abs=1e-3)
