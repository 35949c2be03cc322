"""tools/deploy.py refuses bad input clearly and never loses a saved model."""
import os
import os.path as osp

import pytest
import torch

from conftest import AUTO_MBV3, REPO, fast_config
from mmtricks.deploy import (DeployInputError, DeployOptions, ParityError,
                             deploy_checkpoint)

DEPLOY_CFG = osp.join(REPO, 'configs', 'deploy',
                      'classification_openvino_static.py')
QUICK = DeployOptions(parity_images=16, benchmark_seconds=0)


@pytest.fixture(scope='module')
def untrained(tmp_path_factory):
    """A freshly initialised MobileNetV3-small checkpoint and its config."""
    from mmpretrain.registry import MODELS
    from mmtricks.engine import apply_data_decisions
    folder = tmp_path_factory.mktemp('untrained')
    cfg = fast_config(work_dir=folder)
    apply_data_decisions(cfg)  # as the work dir's config holds them
    config = str(folder / 'config.py')
    cfg.dump(config)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    checkpoint = str(folder / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(
                        classes=[str(i) for i in range(10)]))), checkpoint)
    return config, checkpoint


def test_missing_checkpoint(untrained, tmp_path):
    config, _ = untrained
    with pytest.raises(DeployInputError, match='does not exist'):
        deploy_checkpoint(config, str(tmp_path / 'nope.pth'),
                          str(tmp_path / 'out'), DEPLOY_CFG, QUICK)


def test_checkpoint_for_another_number_of_classes(untrained, tmp_path):
    config, checkpoint = untrained
    with pytest.raises(DeployInputError,
                       match=r'model.head.num_classes.*10 classes'):
        deploy_checkpoint(config, checkpoint, str(tmp_path / 'out'),
                          DEPLOY_CFG, QUICK,
                          cfg_options={'model.head.num_classes': 3})


def test_config_without_test_pipeline(untrained, tmp_path):
    from mmengine.config import Config
    config, checkpoint = untrained
    cfg = Config.fromfile(config)
    cfg.test_pipeline = None
    for name in ('val_dataloader', 'test_dataloader'):
        cfg[name].dataset.pipeline = None
    bad = str(tmp_path / 'no_pipeline.py')
    cfg.dump(bad)
    with pytest.raises(DeployInputError, match='no test pipeline'):
        deploy_checkpoint(bad, checkpoint, str(tmp_path / 'out'), DEPLOY_CFG,
                          QUICK)


def test_unwritable_work_dir(untrained, tmp_path):
    config, checkpoint = untrained
    a_file = tmp_path / 'a_file'
    a_file.write_text('')  # no folder can be made under a file, even by root
    with pytest.raises(DeployInputError, match='Cannot write'):
        deploy_checkpoint(config, checkpoint, str(a_file / 'out'),
                          DEPLOY_CFG, QUICK)


def test_failed_run_keeps_the_existing_model(untrained, tmp_path):
    config, checkpoint = untrained
    work_dir = tmp_path / 'out'
    work_dir.mkdir()
    (work_dir / 'end2end.xml').write_text('the model shipped last week')
    impossible = DeployOptions(parity_images=16, benchmark_seconds=0,
                               max_score_diff=-1.0)
    with pytest.raises(ParityError, match='does not match PyTorch'):
        deploy_checkpoint(config, checkpoint, str(work_dir), DEPLOY_CFG,
                          impossible)
    assert (work_dir / 'end2end.xml').read_text() == \
        'the model shipped last week'
    failed = work_dir / 'failed_deploy'
    assert (failed / 'end2end.xml').is_file()
    assert (failed / 'deploy_report.json').is_file()
    assert not [p for p in os.listdir(work_dir) if p.startswith('.staging')]


def test_unreadable_image_names_the_file(tmp_path):
    from mmtricks.deploy.classifier import read_bgr
    bad = tmp_path / 'broken.jpg'
    bad.write_bytes(b'not a jpeg')
    with pytest.raises(ValueError, match='broken.jpg'):
        read_bgr(str(bad))


def test_tool_exits_non_zero_with_the_message(untrained, tmp_path, capsys):
    import sys
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import deploy
    config, _ = untrained
    code = deploy.main([config, str(tmp_path / 'missing.pth'),
                        '--work-dir', str(tmp_path / 'out')])
    assert code == 2
    assert 'does not exist' in capsys.readouterr().err


def test_auto_mbv3_config_has_what_deployment_needs():
    from mmengine.config import Config
    from mmtricks.deploy.inputs import inference_pipeline
    pipeline = inference_pipeline(Config.fromfile(AUTO_MBV3))
    assert pipeline[-1]['type'] == 'PackInputs'


def test_num_classes_that_contradict_the_data_is_one_line(untrained,
                                                          tmp_path, capsys):
    """A num_classes the data contradicts ends tools/deploy.py with the
    recipe's one-line error, not a traceback."""
    import sys
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import deploy
    _, checkpoint = untrained
    code = deploy.main([AUTO_MBV3, checkpoint, '--work-dir',
                        str(tmp_path / 'out'), '--cfg-options',
                        'num_classes=5'])
    assert code == 2
    error = capsys.readouterr().err
    assert 'num_classes=5 but' in error and 'has 10 classes' in error
