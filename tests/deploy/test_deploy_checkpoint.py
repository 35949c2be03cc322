"""tools/deploy.py deploys a checkpoint on the data it was trained on,
refuses data of other classes, and leaves beside its report only IRs made
from the checkpoint the report names."""
import json
import os
import os.path as osp
import shutil
import warnings

import cv2
import openvino as ov
import pytest
import torch

from conftest import AUTO_MBV3, REPO, fast_config
from mmtricks.deploy import (DeployInputError, DeployOptions,
                             OpenVINOClassifier, deploy_checkpoint)
from mmtricks.deploy.export import INT8_FILE, stale_candidates
from mmtricks.deploy.inputs import file_sha256
from mmtricks.deploy.prepare import prepare_configs
from mmtricks.deploy.model_info import checkpoint_of

DEPLOY_CFG = osp.join(REPO, 'configs', 'deploy',
                      'classification_openvino_static.py')


def write_folder(root, names, per_class=12, side=32):
    """Digit images, one class folder per name (digit i for the i-th)."""
    from mmtricks.datasets import load_bundled
    digits = load_bundled('digits')
    for label, name in enumerate(names):
        os.makedirs(osp.join(root, name))
        for i, image in enumerate(digits.images[digits.labels == label]
                                  [:per_class]):
            cv2.imwrite(osp.join(root, name, f'{i}.png'),
                        cv2.resize(image, (side, side)))
    return str(root)


def save_checkpoint(path, data_root=None, seed=0):
    """An untrained checkpoint as DataAwareRunner writes one: weights for
    the data's classes, the decisions and the dumped config in meta
    (tests/engine/test_checkpoint_match.py checks a really trained one)."""
    from mmpretrain.registry import MODELS
    from mmtricks.engine import apply_data_decisions
    from mmtricks.engine.recipe_config import META_KEY
    cfg = fast_config(work_dir=osp.dirname(str(path)))
    cfg.data_root = data_root
    decisions = apply_data_decisions(cfg)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict(), meta={
        META_KEY: decisions.to_meta(), 'cfg': cfg.pretty_text,
        'dataset_meta': dict(classes=decisions.classes)}), str(path))
    return str(path)


@pytest.fixture(scope='module')
def rgb(tmp_path_factory):
    """A 3-class folder and a checkpoint 'trained' on it."""
    folder = tmp_path_factory.mktemp('rgb')
    root = write_folder(folder / 'data', ['blue', 'green', 'red'])
    return root, save_checkpoint(folder / 'rgb.pth', root)


# ------------------------------------------------------ the checkpoint's data
def test_without_data_root_the_checkpoint_folder_is_used(rgb):
    root, checkpoint = rgb
    lines = []
    model_cfg, _ = prepare_configs(AUTO_MBV3, DEPLOY_CFG, None, checkpoint,
                                   lines.append)
    assert model_cfg.data_root == root
    for name in ('train_dataloader', 'val_dataloader'):
        assert model_cfg[name].dataset.data_root == root
    assert model_cfg.model.head.num_classes == 3
    assert lines[0] == (f'data: {root}, the data_root {checkpoint} was '
                        'trained on (--cfg-options data_root=DIR to use '
                        'another).')


def test_a_training_folder_that_is_gone_is_refused_naming_the_setting(
        rgb, tmp_path):
    root, _ = rgb
    moved = shutil.copytree(root, tmp_path / 'moved')
    checkpoint = save_checkpoint(tmp_path / 'moved.pth', str(moved))
    shutil.rmtree(moved)
    with pytest.raises(DeployInputError,
                       match=rf"data_root='{moved}', which is not a folder "
                             r'here.*--cfg-options data_root=DIR'):
        prepare_configs(AUTO_MBV3, DEPLOY_CFG, None, checkpoint)


def test_data_of_other_classes_is_refused(rgb, tmp_path):
    root, checkpoint = rgb
    # the bundled digits set, chosen by the user: 10 classes
    with pytest.raises(DeployInputError,
                       match=r'trained on 3 classes but the bundled digits '
                             r'set has 10.*blue, green, red'):
        prepare_configs(AUTO_MBV3, DEPLOY_CFG,
                        {'train_dataloader.dataset.bundled': 'digits'},
                        checkpoint)
    # the same count, other names
    other = write_folder(tmp_path / 'cmy', ['cyan', 'magenta', 'yellow'])
    with pytest.raises(DeployInputError,
                       match=r"label 0: 'blue' against 'cyan'"):
        prepare_configs(AUTO_MBV3, DEPLOY_CFG, dict(data_root=other),
                        checkpoint)
    # its own folder, named by the user: fine
    prepare_configs(AUTO_MBV3, DEPLOY_CFG, dict(data_root=root), checkpoint)


def test_the_tool_exits_2_with_the_mismatch(rgb, tmp_path, capsys):
    import sys
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import deploy  # tools/deploy.py
    _, checkpoint = rgb
    code = deploy.main([AUTO_MBV3, checkpoint, '--work-dir',
                        str(tmp_path / 'out'), '--cfg-options',
                        'train_dataloader.dataset.bundled=digits'])
    assert code == 2
    assert 'trained on 3 classes' in capsys.readouterr().err


# ------------------------------------------- stale candidates, provenance
def test_only_irs_deploy_wrote_are_stale(tmp_path):
    from test_model_info import save_ir
    save_ir(tmp_path, 'end2end_int8.xml', 'a' * 64)
    save_ir(tmp_path, 'end2end_bf16.xml', info=False)  # not deploy's
    save_ir(tmp_path, 'mine.xml', 'a' * 64)  # not a deploy file name
    assert stale_candidates(str(tmp_path), ['end2end.xml']) == \
        [str(tmp_path / INT8_FILE)]
    assert stale_candidates(str(tmp_path), [INT8_FILE]) == []


@pytest.mark.slow
def test_redeploy_without_int8_leaves_no_ir_of_the_earlier_checkpoint(
        tmp_path):
    """Deploy A with INT8, then B with --no-int8 into the same work dir:
    A's end2end_int8.xml must not stay beside B's report."""
    first = save_checkpoint(tmp_path / 'a.pth', seed=0)
    second = save_checkpoint(tmp_path / 'b.pth', seed=1)
    work_dir = tmp_path / 'deploy'
    quick = dict(parity_images=16, benchmark_seconds=0,
                 calibration_images=16, accuracy_control=False)
    deploy_checkpoint(AUTO_MBV3, first, str(work_dir), DEPLOY_CFG,
                      DeployOptions(**quick))
    earlier = tmp_path / 'earlier'
    earlier.mkdir()
    for ext in ('.xml', '.bin'):
        shutil.copy(work_dir / f'end2end_int8{ext}', earlier)
    (work_dir / 'notes.txt').write_text('mine')
    report = deploy_checkpoint(AUTO_MBV3, second, str(work_dir), DEPLOY_CFG,
                               DeployOptions(int8=False, **quick))
    assert not (work_dir / INT8_FILE).exists()
    assert not (work_dir / 'end2end_int8.bin').exists()
    assert (work_dir / 'notes.txt').read_text() == 'mine'
    assert report['removed_stale'] == [INT8_FILE]
    sha = file_sha256(second)
    with open(work_dir / 'deploy_report.json') as f:
        saved = json.load(f)
    assert saved['checkpoint'] == second
    assert saved['checkpoint_sha256'] == sha
    markdown = (work_dir / 'deploy_report.md').read_text()
    assert f'(sha256 {sha[:12]})' in markdown
    assert 'Removed, left by an earlier deploy: end2end_int8.xml' in markdown
    for path in saved['files'].values():
        if path.endswith('.xml'):
            assert checkpoint_of(ov.Core().read_model(path)) == \
                (osp.abspath(second), sha)
    # A's INT8 copied back by hand: the classifier says what it is
    for ext in ('.xml', '.bin'):
        shutil.copy(earlier / f'end2end_int8{ext}', work_dir)
    with pytest.warns(UserWarning, match=r'made from .*a\.pth.*another '
                                         r'checkpoint'):
        OpenVINOClassifier(str(work_dir / INT8_FILE))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        OpenVINOClassifier(str(work_dir / 'end2end.xml'))
