"""tools/deploy.py end to end on a tiny trained model."""
import json
import os
import warnings
import os.path as osp
import sys

import numpy as np
import openvino as ov
import pytest

from conftest import REPO, fast_config, train
from mmtricks.deploy import OpenVINOClassifier, read_model_info
from mmtricks.deploy.export import FP32_FILE, INT8_FILE
from mmtricks.deploy.report import candidates_of
from mmtricks.deploy.model_info import recorded_precision
from mmtricks.deploy.precision import (RUNTIME_PRECISION, bf16_supported,
                                       choose_precision)

sys.path.insert(0, osp.join(REPO, 'tools'))


@pytest.fixture(scope='session')
def trained(tmp_path_factory):
    """A MobileNetV3-small trained 2 epochs on digits: (config, checkpoint)."""
    work_dir = tmp_path_factory.mktemp('trained')
    cfg = fast_config(work_dir=work_dir, max_epochs=2)
    train(cfg)
    config = osp.join(work_dir, 'trained_config.py')
    cfg.dump(config)
    return config, osp.join(work_dir, 'epoch_2.pth')


@pytest.fixture(scope='session')
def deployed(trained, tmp_path_factory):
    """``tools/deploy.py`` (every candidate) run once on the trained model."""
    import deploy  # tools/deploy.py
    config, checkpoint = trained
    work_dir = str(tmp_path_factory.mktemp('deployed'))
    code = deploy.main([config, checkpoint, '--work-dir', work_dir,
                        '--calibration-images', '64',
                        '--benchmark-seconds', '0.2'])
    assert code == 0
    return work_dir


def report_of(work_dir):
    with open(osp.join(work_dir, 'deploy_report.json')) as f:
        return json.load(f)


def test_fp32_ir_predicts_what_pytorch_predicts(deployed):
    parity = report_of(deployed)['parity']['fp32']
    # Tolerance: the same top-1 class on every validation image, softmax
    # scores within 1e-4 (FP32 IR compiled at f32).
    assert parity['images'] == 359
    assert parity['top1_disagreement'] == 0.0
    assert parity['candidate_top1'] == parity['reference_top1']
    assert parity['max_abs_score_diff'] < 1e-4


def test_writes_onnx_irs_and_reports(deployed):
    report = report_of(deployed)
    for name in ('end2end.onnx', FP32_FILE, INT8_FILE, 'end2end.bin',
                 'deploy_report.md'):
        assert osp.isfile(osp.join(deployed, name)), name
    assert not [n for n in os.listdir(deployed) if n.startswith('.staging')]
    assert report['recommended'] in report['parity']
    assert report['files'][report['recommended']].endswith('.xml')
    assert set(report['benchmark']) >= {'pytorch', 'fp32', 'int8'}
    for timing in report['benchmark'].values():
        assert timing['latency']['median_ms'] > 0
        assert timing['throughput']['fps'] > 0
    # INT8 really is quantized.
    ops = {op.get_type_name() for op in
           ov.Core().read_model(osp.join(deployed, INT8_FILE)).get_ops()}
    assert 'FakeQuantize' in ops or 'FakeConvert' in ops


def test_opset_gives_native_hardswish(deployed):
    import onnx
    model = onnx.load(osp.join(deployed, 'end2end.onnx'))
    assert model.opset_import[0].version >= 14
    assert 'HardSwish' in {node.op_type for node in model.graph.node}


@pytest.mark.parametrize('name', [FP32_FILE, INT8_FILE])
def test_ir_runtime_info_holds_what_a_consumer_needs(deployed, name):
    model = ov.Core().read_model(osp.join(deployed, name))
    info = read_model_info(model)
    assert info['class_names'] == [str(i) for i in range(10)]
    assert info['mean'] == pytest.approx([123.675, 116.28, 103.53])
    assert info['std'] == pytest.approx([58.395, 57.12, 57.375])
    assert info['to_rgb'] is True
    assert info['input_size'] == (32, 32)
    # The keys OpenVINO's Model API reads.
    assert model.get_rt_info(['model_info', 'model_type']).astype(str) == \
        'Classification'
    assert model.get_rt_info(['model_info', 'labels']).astype(str) == \
        '0 1 2 3 4 5 6 7 8 9'


def test_classifier_entry_matches_the_training_pipeline(deployed, trained,
                                                         tmp_path):
    """Preprocessing from IR metadata == the mmpretrain test pipeline."""
    import cv2
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmpretrain.registry import DATASETS
    from mmtricks.engine import apply_data_decisions
    config, _ = trained
    cfg = Config.fromfile(config)
    apply_data_decisions(cfg)
    dataset = DATASETS.build(dict(cfg.val_dataloader.dataset,
                                  pipeline=[dict(type='LoadImageIfPath')]))
    folder = tmp_path / 'images'
    folder.mkdir()
    for i in range(20):
        cv2.imwrite(str(folder / f'{i:02d}.png'), dataset[i]['img'])
    classifier = OpenVINOClassifier(osp.join(deployed, FP32_FILE))
    predictions = classifier.classify(str(folder))
    assert len(predictions) == 20

    from mmtricks.deploy.samples import preprocessed_batches
    from mmpretrain.models import ClsDataPreprocessor
    pre = ClsDataPreprocessor(**{k: v for k, v in cfg.data_preprocessor.items()
                                 if k != 'type'})
    cfg.test_pipeline = cfg.val_dataloader.dataset.pipeline
    batches, _ = preprocessed_batches(cfg, 'val', pre, 20)
    direct = classifier._compiled_for(20)(batches[0][0].numpy())[0]
    assert [p.index for p in predictions] == list(np.argmax(direct, axis=1))
    scores = np.array([p.score for p in predictions])
    np.testing.assert_allclose(scores, direct.max(axis=1), atol=1e-5)
    assert {p.label for p in predictions} <= set(classifier.class_names)


def test_each_candidate_records_the_precision_it_was_checked_at(deployed):
    report = report_of(deployed)
    core = ov.Core()
    expected = {'fp32', 'int8'} | ({'bf16'} if bf16_supported(core) else
                                   set())
    assert set(report['parity']) == expected
    if 'bf16' not in expected:
        assert 'no BF16' in report['skipped']['bf16']
    for name in expected:
        model = core.read_model(report['files'][name])
        assert recorded_precision(model) == RUNTIME_PRECISION[name]


def test_recommendation_is_the_rule_applied_to_the_report(deployed):
    report = report_of(deployed)
    decision = choose_precision(candidates_of(report),
                                report['accuracy_tolerance'],
                                report['confidence'], report['min_speedup'])
    assert report['recommended'] == decision.name
    assert report['recommendation'] == decision.reason
    assert set(report['speedups']) == set(report['parity'])
    quantization = report['int8_quantization']
    assert quantization['mode'] in ('ptq', 'accuracy control')
    assert quantization['ptq']['val']['images'] == report['images']
    with open(osp.join(deployed, 'deploy_report.md')) as f:
        markdown = f.read()
    assert f'recommended: **{report["recommended"]}**' in markdown


def test_tuning_and_judging_images_are_val_halves_the_report_counts(
        deployed):
    report = report_of(deployed)
    roles = report['image_roles']
    assert (roles['tuning']['images'], roles['judging']['images']) == \
        (180, 179)
    assert roles['calibration']['images'] == 64
    assert 'label_free' not in roles  # --label-free-images 0
    acceptance = report['acceptance']
    # INT8 is judged on the images its choices never saw; FP32 (and BF16,
    # which nothing tunes) on all of val.
    assert acceptance['int8']['judged_on'] == 'val, odd positions'
    assert acceptance['int8']['judging']['images'] == 179
    assert acceptance['fp32']['judging']['images'] == 359
    for checked in acceptance.values():
        judging = checked['judging']
        assert judging['lost'] + judging['gained'] <= \
            judging['disagreements']
        assert checked['bound'] >= 0
    # 179 judging images cannot show 1 point: INT8 is not recommended,
    # and one line says how many images would.
    assert report['recommended'] != 'int8'
    assert any(line.startswith('int8: 179 judging images cannot show')
               and '299 judging images' in line
               for line in report['unshown'])
    with open(osp.join(deployed, 'deploy_report.md')) as f:
        markdown = f.read()
    assert '- tuning: 180 val images (even positions)' in markdown
    assert '| int8 | f32 | val, odd positions |' in markdown


@pytest.mark.slow
def test_forced_precision_and_test_split(trained, tmp_path, capsys,
                                         monkeypatch):
    """--precision bf16 without timings: the rule would keep FP32, so the
    forced choice is shipped with a warning; a config with its own test
    split gets its accuracy reported there (the choice stays on val).

    BF16 is declared available so that its candidate is made and checked
    on any CPU (without BF16, OpenVINO runs it at f32 and the loaders
    warn)."""
    import importlib

    import deploy  # tools/deploy.py
    from mmengine.config import Config
    module = importlib.import_module('mmtricks.deploy.options')
    monkeypatch.setattr(module, 'bf16_supported', lambda core: True)
    config, checkpoint = trained
    cfg = Config.fromfile(config)
    cfg.test_dataloader = dict(
        cfg.val_dataloader,
        dataset=dict(cfg.val_dataloader.dataset, val_ratio=0.1))
    with_test = str(tmp_path / 'with_test.py')
    cfg.dump(with_test)
    work_dir = str(tmp_path / 'out')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # this CPU may lack BF16
        code = deploy.main([with_test, checkpoint, '--work-dir', work_dir,
                            '--precision', 'bf16', '--calibration-images',
                            '32', '--benchmark-seconds', '0'])
    assert code == 0
    report = report_of(work_dir)
    assert report['recommended'] == 'bf16'
    assert set(report['parity']) == {'fp32', 'bf16', 'int8'}
    assert recorded_precision(ov.Core().read_model(
        report['files']['bf16'])) == 'bf16'
    # Without timings the rule keeps FP32 (bf16 may or may not be shown
    # within the tolerance on this 2-epoch model).
    assert 'The rule would ship fp32' in report['warnings'][0] or \
        'overrides the rule, which would ship fp32' in report['warnings'][0]
    assert 'WARNING: --precision bf16' in capsys.readouterr().out
    assert report['choice_split'] == 'val' and report['images'] == 359
    assert report['report_split'] == 'test'
    assert report['report_images'] == 179  # stratified 10% of digits
    assert set(report['reported_parity']) == set(report['parity'])
    assert report['reported_parity']['bf16']['images'] == 179


@pytest.mark.slow
def test_int8_that_loses_accuracy_is_retried_with_accuracy_control(
        trained, tmp_path, monkeypatch):
    """Plain INT8 calibrated on blank images loses most of top-1; the tool
    retries with NNCF accuracy control (real calibration, val's tuning
    half as its metric) and keeps that model as the INT8 candidate. The
    label-free training images make the 179 judging images able to show 1
    point, without which accuracy control is not worth trying."""
    import importlib

    import torch

    import deploy  # tools/deploy.py

    module = importlib.import_module('mmtricks.deploy.quantize')
    real = module.quantize_int8

    def blank_calibration(model, calibration, log):
        return real(model, [torch.zeros_like(x) for x in calibration], log)

    monkeypatch.setattr(module, 'quantize_int8', blank_calibration)
    config, checkpoint = trained
    work_dir = str(tmp_path / 'out')
    assert deploy.main([config, checkpoint, '--work-dir', work_dir,
                        '--calibration-images', '32',
                        '--label-free-images', '600',
                        '--benchmark-seconds', '0']) == 0
    report = report_of(work_dir)
    quantization = report['int8_quantization']
    plain_lost = quantization['ptq']['tuning']['lost']
    assert plain_lost > 1  # the loss that must trigger the retry
    assert quantization['mode'] == 'accuracy control'
    assert report['parity']['int8'] == quantization['accuracy_control']['val']
    assert quantization['accuracy_control']['tuning']['lost'] < plain_lost
    assert report['image_roles']['label_free']['images'] == 600
    assert report['acceptance']['int8']['label_free']['images'] == 600
    assert 'accuracy control' in quantization['summary']
    # The kept model is the file shipped as INT8, and it is still INT8.
    model = ov.Core().read_model(report['files']['int8'])
    assert model.get_rt_info(['mmtricks', 'quantization']).astype(str) == \
        'nncf accuracy control'
    assert quantization['fake_quantize']['accuracy_control'] > 0
    assert not osp.exists(osp.join(work_dir, 'end2end_int8_controlled.xml'))


def test_accuracy_control_bound_reaches_the_options(tmp_path, monkeypatch,
                                                     capsys):
    """``--accuracy-control-iterations`` is passed on, not dropped."""
    import mmtricks.deploy

    import deploy  # tools/deploy.py
    seen = []

    def spy(config, checkpoint, work_dir, deploy_cfg, options, **kwargs):
        seen.append(options)
        raise mmtricks.deploy.DeployInputError('stop here')

    monkeypatch.setattr(mmtricks.deploy, 'deploy_checkpoint', spy)
    config = osp.join(REPO, 'configs', 'auto_mbv3.py')
    argv = [config, 'unused.pth', '--work-dir', str(tmp_path)]
    assert deploy.main(argv + ['--accuracy-control-iterations', '3']) == 2
    assert deploy.main(argv) == 2
    assert [o.accuracy_control_iterations for o in seen] == [3, 10]
    assert 'stop here' in capsys.readouterr().err
