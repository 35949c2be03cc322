"""``tools/deploy.py --explain``: the IR's saliency output, checked against
PyTorch, and ``OpenVINOClassifier.classify(explain=True)``."""
import json
import os.path as osp
import sys

import numpy as np
import openvino as ov
import pytest

from conftest import REPO, fast_config, train
from tiny_ir import write_tiny_ir
from mmtricks.deploy import OpenVINOClassifier, read_model_info
from mmtricks.deploy.export import FP32_FILE
from mmtricks.deploy.model_info import SALIENCY_OUTPUT

sys.path.insert(0, osp.join(REPO, 'tools'))


@pytest.fixture(scope='module')
def explained(tmp_path_factory):
    """A MobileNetV3-small trained 1 epoch on digits at 64 px (2x2 maps),
    deployed with --explain: (config, checkpoint, work dir)."""
    import deploy  # tools/deploy.py
    work = tmp_path_factory.mktemp('trained')
    cfg = fast_config(work_dir=work, max_epochs=1)
    cfg.image_size = 64
    train(cfg)
    config = str(work / 'trained_config.py')
    cfg.dump(config)
    out = str(tmp_path_factory.mktemp('deployed'))
    assert deploy.main([config, str(work / 'epoch_1.pth'), '--work-dir', out,
                        '--explain', '--no-int8', '--parity-images', '64',
                        '--benchmark-seconds', '0']) == 0
    return config, str(work / 'epoch_1.pth'), out


@pytest.mark.slow
def test_ir_has_a_saliency_output_recorded_and_checked(explained):
    _, _, out = explained
    model = ov.Core().read_model(osp.join(out, FP32_FILE))
    shapes = {o.get_any_name(): list(o.get_partial_shape().to_shape())
              for o in model.outputs}
    assert shapes == {'output': [1, 10], SALIENCY_OUTPUT: [1, 10, 2, 2]}
    assert read_model_info(model)['saliency'] == 'recipro_cam'
    with open(osp.join(out, 'deploy_report.json')) as f:
        report = json.load(f)
    fp32 = report['saliency_parity']['fp32']
    # The tolerance: the predicted class's normalised map within 0.02 of
    # PyTorch's (DeployOptions.max_saliency_diff), the same peak everywhere.
    assert fp32['failures'] == [] and fp32['max_abs_diff_predicted'] < 0.02
    assert fp32['same_peak'] == 100.0 and fp32['images'] == 64
    assert report['parity']['fp32']['top1_disagreement'] == 0.0


@pytest.mark.slow
def test_classifier_returns_maps_and_overlays(explained, tmp_path):
    import cv2
    _, _, out = explained
    image = np.zeros((64, 64, 3), np.uint8)
    image[8:24, 40:56] = 255
    path = str(tmp_path / 'x.png')
    cv2.imwrite(path, image)
    clf = OpenVINOClassifier(osp.join(out, FP32_FILE))
    plain = clf.classify(path)[0]
    pred = clf.classify(path, explain=True)[0]
    assert plain.saliency is None and plain.index == pred.index
    assert pred.saliency.shape == (10, 2, 2)
    assert 0 <= pred.saliency.min() and pred.saliency.max() <= 1
    assert clf.overlay(pred).shape == (64, 64, 3)


def test_explain_on_an_ir_without_the_output_names_the_fix(tmp_path):
    xml = write_tiny_ir(str(tmp_path / 'plain.xml'))
    image = str(tmp_path / 'x.png')
    import cv2
    cv2.imwrite(image, np.zeros((8, 8, 3), np.uint8))
    clf = OpenVINOClassifier(xml)
    assert clf.info['saliency'] is None
    assert clf.classify(image)[0].saliency is None
    with pytest.raises(ValueError, match='--explain'):
        clf.classify(image, explain=True)
