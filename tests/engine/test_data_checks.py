"""The data checks before training: duplicates across splits warned about,
refused or dropped from the later split, and the image statistics
(mmtricks/engine/data_checks.py, wired into DataAwareRunner)."""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from mmengine.config import Config
from mmpretrain.registry import DATASETS
from PIL import Image

from conftest import REPO
from mmtricks.engine.data_checks import (FILE_NAME, CrossSplitDuplicateError,
                                         run_data_checks)

sys.path.insert(0, osp.join(REPO, 'tests', 'datasets'))
from test_duplicates import picture, resized_jpeg  # noqa: E402

SPLITS = ('train', 'val', 'test')


def write_split_folder(root, per_class=3, side=128):
    """train/, val/ and test/ of two classes, distinct images; then an exact
    copy of train/a/0.png in test/a/ and a resized JPEG of train/b/0.png in
    val/b/. Returns the two copies' paths."""
    seed = 0
    for split in SPLITS:
        for label in ('a', 'b'):
            os.makedirs(root / split / label)
            for i in range(per_class):
                Image.fromarray(picture(seed, side)).save(
                    root / split / label / f'{i}.png')
                seed += 1
    exact = root / 'test' / 'a' / 'copy.png'
    shutil.copyfile(root / 'train' / 'a' / '0.png', exact)
    near = root / 'val' / 'b' / 'small.jpg'
    original = np.asarray(Image.open(root / 'train' / 'b' / '0.png'))
    near.write_bytes(resized_jpeg(original, 0.75, 60))
    return str(exact), str(near)


def folder_config(root, work_dir, **settings):
    cfg = Config(dict(work_dir=str(work_dir), **settings))
    for split in SPLITS:
        cfg[f'{split}_dataloader'] = dict(dataset=dict(
            type='FolderOrBundledDataset', data_root=str(root), split=split,
            pipeline=[]))
    return cfg


def served(dataset_cfg):
    dataset = DATASETS.build(dict(dataset_cfg, check_images=False,
                                  cache_images=False))
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


@pytest.fixture
def data(tmp_path):
    exact, near = write_split_folder(tmp_path / 'data')
    return tmp_path / 'data', exact, near


def test_warn_by_default_in_one_line(data, tmp_path):
    root, _, _ = data
    checks = run_data_checks(folder_config(root, tmp_path / 'work'))
    (level, duplicates), (_, images) = checks.lines('WORK/data_checks.json')
    assert level == 'warning'
    assert duplicates.startswith(
        'Duplicates: 2 pairs (1 exact, 1 near; train/val 1, train/test 1) '
        "across splits, 0 within a split; kept (cross_split_duplicates"
        "='warn')")
    assert duplicates.endswith(': WORK/data_checks.json')
    assert images == ('Images: 20 (train 6, val 7, test 7); 2 sizes from '
                      '96x96 to 128x128 (median 128x128; most common '
                      '128x128: 19); modes L 20.')
    detail = checks.detail['duplicates']
    assert detail['counts'] == {'exact': {'train/test': 1},
                                'near': {'train/val': 1}}
    assert [(p['kind'], p['first']['split'], p['second']['split'])
            for p in detail['pairs']] == [('exact', 'train', 'test'),
                                          ('near', 'train', 'val')]
    # nothing is written before the run trains (DataAwareRunner writes it)
    assert not osp.exists(tmp_path / 'work' / FILE_NAME)


def test_error_names_the_pairs_file_and_the_fix(data, tmp_path):
    root, exact, _ = data
    cfg = folder_config(root, tmp_path / 'work',
                        cross_split_duplicates='error')
    with pytest.raises(CrossSplitDuplicateError) as error:
        run_data_checks(cfg)
    path = str(tmp_path / 'work' / FILE_NAME)
    message = str(error.value)
    assert f'listed in {path}' in message
    assert exact in message
    assert "cross_split_duplicates='drop'" in message
    listed = json.load(open(path))['duplicates']['pairs']
    assert {p['second']['image'] for p in listed} >= {exact}


def test_drop_leaves_the_later_copy_out_and_keeps_train(data, tmp_path):
    root, exact, near = data
    cfg = folder_config(root, tmp_path / 'work',
                        cross_split_duplicates='drop')
    train_before = served(cfg.train_dataloader.dataset)
    checks = run_data_checks(cfg)
    assert served(cfg.train_dataloader.dataset) == train_before
    assert 'indices' not in cfg.train_dataloader.dataset
    val, test = (served(cfg[f'{s}_dataloader'].dataset)
                 for s in ('val', 'test'))
    assert near not in val and len(val) == 6
    assert exact not in test and len(test) == 6
    level, line = checks.lines('X')[0]
    assert level == 'warning'
    assert ('dropped the later copy of each from its split (val 1, test 1 '
            "images; cross_split_duplicates='drop'") in line
    assert checks.detail['duplicates']['dropped'] == {'val': [near],
                                                      'test': [exact]}
    # the config now serves no duplicate: checking it again finds none
    assert run_data_checks(cfg).lines('X')[0][1].startswith(
        'Duplicates: no pair across splits')


def test_a_test_loader_reading_val_is_checked_once(data, tmp_path):
    root, _, near = data
    cfg = folder_config(root, tmp_path / 'work',
                        cross_split_duplicates='drop')
    cfg.test_dataloader.dataset.split = 'val'
    checks = run_data_checks(cfg)
    assert checks.detail['duplicates']['same_images_as'] == {'test': 'val'}
    assert checks.detail['duplicates']['counts']['exact'] == {}
    assert near not in served(cfg.test_dataloader.dataset)
    assert 'test reads the same images as val' in checks.lines('X')[0][1]


def test_off_reads_nothing_and_bad_settings_are_refused(tmp_path):
    cfg = folder_config(tmp_path / 'missing', tmp_path / 'work',
                        cross_split_duplicates='off')
    assert run_data_checks(cfg).lines('X') == [
        ('info', "Data checks: off (cross_split_duplicates='off').")]
    for setting, value in (('cross_split_duplicates', 'remove'),
                           ('near_duplicate_distance', 300),
                           ('near_duplicate_distance', 2.5)):
        cfg = folder_config(tmp_path / 'missing', tmp_path / 'work',
                            **{setting: value})
        with pytest.raises(ValueError, match=setting):
            run_data_checks(cfg)


def test_exact_only_with_distance_minus_one(data, tmp_path):
    root, _, _ = data
    cfg = folder_config(root, tmp_path / 'work', near_duplicate_distance=-1)
    assert run_data_checks(cfg).detail['duplicates']['counts'] == {
        'exact': {'train/test': 1}, 'near': {}}


def test_the_shipped_config_on_digits_has_no_leak():
    from mmtricks.engine import apply_data_decisions
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'auto_mbv3.py'))
    apply_data_decisions(cfg)
    checks = run_data_checks(cfg)
    assert checks.detail['duplicates']['cross_split_pairs'] == 0
    assert checks.lines('X')[1] == (
        'info', 'Images: 1,797 (train 1,079, val 359, test 359); all 8x8; '
        'modes L 1,797.')


TRAIN = textwrap.dedent('''
    import sys
    sys.path.insert(0, {tests!r})
    from conftest import fast_config, train
    cfg = fast_config(work_dir={work!r})
    cfg.data_root = {root!r}
    cfg.cross_split_duplicates = 'drop'
    runner = train(cfg)
    print(runner.log_dir)
''')


@pytest.mark.slow
def test_a_training_run_logs_the_checks_and_drops(data, tmp_path):
    root, exact, near = data
    work = tmp_path / 'work'
    code = TRAIN.format(tests=osp.join(REPO, 'tests'), work=str(work),
                        root=str(root))
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    log_dir = result.stdout.strip().splitlines()[-1]
    log = open(osp.join(log_dir, osp.basename(log_dir) + '.log')).read()
    path = osp.join(work, FILE_NAME)
    lines = [line for line in log.splitlines() if 'Duplicates:' in line]
    assert len(lines) == 1 and 'WARNING' in lines[0]
    assert 'dropped the later copy' in lines[0] and lines[0].endswith(path)
    assert sum('Images: 20 (train 6, val 7, test 7)' in line
               for line in log.splitlines()) == 1
    assert json.load(open(path))['duplicates']['dropped'] == {
        'val': [near], 'test': [exact]}
    # the work dir's config serves val and test without the copies
    dumped = Config.fromfile(osp.join(work, 'auto_mbv3.py'))
    assert near not in served(dumped.val_dataloader.dataset)
    assert exact not in served(dumped.test_dataloader.dataset)
