"""A corpus of bad input folders, each built in tmp_path.

Every case ends in the correct result or in a one-line error that names the
file at fault, for both readers of a folder: training (the split facts the
recipe reads first, then the dataset with its start-up checks and image
cache) and ``OpenVINOClassifier.classify(folder)``.
"""
import io
import os
import re
import warnings

import numpy as np
import openvino as ov
import pytest
from PIL import Image

import mmtricks  # noqa: F401  (registers the datasets and transforms)
from mmpretrain.registry import DATASETS
from mmtricks.datasets.facts import training_split_facts
from mmtricks.deploy import OpenVINOClassifier
from mmtricks.deploy.model_info import build_model_info, write_model_info

PLAIN = {f'{cls}/{i}.png': cls for cls in ('green', 'red') for i in range(3)}


def write_png(path, value=0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(path)


def jpeg_bytes():
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, 'JPEG')
    return buffer.getvalue()


def ok(extra=None, warns=None):
    """Correct behaviour: the plain samples plus ``extra`` ({relative path:
    class}); ``warns``: a path a warning must name."""
    return ('ok', dict(PLAIN, **(extra or {})), warns)


def lists(*extra):
    """classify(folder) classifies the plain images and ``extra``."""
    return ('ok', sorted(list(PLAIN) + list(extra)), None)


def error(path):
    """A one-line error that names ``path``."""
    return ('error', str(path), None)


# Each case damages a folder of green/ and red/ (3 PNGs each) and returns
# what training and classify(folder) must do.
CASES = {}


def case(build):
    CASES[build.__name__] = build
    return build


@case
def symlink_loop_to_the_root(root):
    os.symlink('..', root / 'red' / 'loop')
    return dict(training=ok(warns=root / 'red' / 'loop'), classify=lists())


@case
def symlink_loop_to_its_own_folder(root):
    os.symlink('.', root / 'red' / 'self')
    return dict(training=ok(warns=root / 'red' / 'self'), classify=lists())


@case
def symlink_into_another_class(root):
    os.symlink(root / 'green', root / 'red' / 'greens')
    # classify does not follow links to folders: nothing is listed twice
    return dict(training=error(root / 'red' / 'greens'), classify=lists())


@case
def one_outside_folder_linked_twice(root):
    write_png(root.parent / 'extra' / 'e.png')
    os.symlink(root.parent / 'extra', root / 'red' / 'a')
    os.symlink(root.parent / 'extra', root / 'red' / 'b')
    return dict(training=ok({'red/a/e.png': 'red'}, warns=root / 'red' / 'b'),
                classify=lists())


@case
def dangling_symlink(root):
    os.symlink(root / 'nowhere.png', root / 'red' / 'gone.png')
    return dict(training=error(root / 'red' / 'gone.png'),
                classify=error(root / 'red' / 'gone.png'))


@case
def hidden_image(root):
    write_png(root / 'red' / '.secret.png')
    write_png(root / 'red' / '.cache' / 'thumb.png')
    return dict(training=ok(), classify=lists())


@case
def apple_double_junk(root):
    for name in ('red/._0.png', 'green/._1.png'):
        (root / name).write_bytes(b'\x00\x05\x16\x07' + b'\x00' * 60)
    write_png(root / '__MACOSX' / 'red' / '._0.png')
    return dict(training=ok(), classify=lists())


@case
def jpeg_truncated_mid_scan(root):
    data = jpeg_bytes()
    bad = root / 'red' / 'cut.jpg'
    bad.write_bytes(data[:int(len(data) * 0.6)])
    return dict(training=error(bad), classify=error(bad))


@case
def jpeg_with_a_corrupt_header(root):
    bad = root / 'green' / 'head.jpg'
    bad.write_bytes(jpeg_bytes()[:30])  # PIL: 'Truncated File Read'
    return dict(training=error(bad), classify=error(bad))


@case
def empty_image_file(root):
    (root / 'red' / 'empty.png').write_bytes(b'')
    return dict(training=error(root / 'red' / 'empty.png'),
                classify=error(root / 'red' / 'empty.png'))


@case
def text_with_an_image_extension(root):
    (root / 'green' / 'notes.jpg').write_text('not a photo')
    return dict(training=error(root / 'green' / 'notes.jpg'),
                classify=error(root / 'green' / 'notes.jpg'))


@case
def folder_named_like_an_image(root):
    write_png(root / 'red' / 'album.png' / 'inside.png')
    return dict(training=ok({'red/album.png/inside.png': 'red'}),
                classify=lists('red/album.png/inside.png'))


@case
def upper_case_extension(root):
    write_png(root / 'green' / 'UPPER.PNG')
    return dict(training=ok({'green/UPPER.PNG': 'green'}),
                classify=lists('green/UPPER.PNG'))


@pytest.fixture(scope='module')
def classifier(tmp_path_factory):
    param = ov.opset13.parameter([1, 3, 8, 8], ov.Type.f32, name='input')
    pooled = ov.opset13.reduce_mean(param, [2, 3], keep_dims=False)
    model = ov.Model([ov.opset13.softmax(pooled, 1)], [param], 'tiny')
    write_model_info(model, build_model_info(['a', 'b', 'c'], [0] * 3,
                                             [1] * 3, False, 'standard'),
                     ['a', 'b', 'c'], inference_precision='f32')
    xml = str(tmp_path_factory.mktemp('ir') / 'tiny.xml')
    ov.save_model(model, xml)
    return OpenVINOClassifier(xml)


@pytest.fixture(params=sorted(CASES))
def bad_folder(request, tmp_path):
    root = tmp_path / 'data'
    for i, rel in enumerate(PLAIN):
        write_png(root / rel, value=20 * i)
    return root, CASES[request.param](root)


def assert_names_the_file(raised, path):
    message = str(raised)
    assert '\n' not in message, message
    assert path in message, message


def train_on(root):
    """What training reads, in its order: the split facts, then the
    dataset (its checks; the cache decodes every image)."""
    cfg = dict(type='FolderOrBundledDataset', data_root=str(root),
               split='all', pipeline=[dict(type='LoadImageIfPath')])
    facts = training_split_facts(cfg)
    dataset = DATASETS.build(cfg)
    classes = dataset.metainfo['classes']
    labels = {os.path.relpath(info['img_path'], root):
              classes[info['gt_label']]
              for info in (dataset.get_data_info(i)
                           for i in range(len(dataset)))}
    assert sum(facts.counts) == len(labels)
    return labels


def test_training(bad_folder):
    root, expected = bad_folder
    outcome, want, warns = expected['training']
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        if outcome == 'error':
            with pytest.raises(ValueError) as raised:
                train_on(root)
            assert_names_the_file(raised.value, want)
            return
        assert train_on(root) == want
    if warns:
        assert any(re.search(re.escape(str(warns)), str(w.message))
                   for w in caught)


def test_classify_folder(bad_folder, classifier):
    root, expected = bad_folder
    outcome, want, _ = expected['classify']
    if outcome == 'error':
        with pytest.raises(ValueError) as raised:
            classifier.classify(str(root))
        assert_names_the_file(raised.value, want)
        return
    listed = [os.path.relpath(p.path, root)
              for p in classifier.classify(str(root))]
    assert listed == want
