"""DataAwareRunner: decisions made before the Runner is built, logged, stored
in every checkpoint, and reused by a run that loads one.

The training runs in a fresh Python process: in the full suite, a Runner
trained in-process after the compat, dataset and in-process OpenVINO/NNCF
deployment tests crashed the interpreter (SIGSEGV, not reproduced by any
two of those groups alone), which would hide every later result.
"""
import json
import os.path as osp
import subprocess
import sys
import textwrap

import torch
from mmengine.config import Config

from conftest import AUTO_MBV3, REPO
from mmtricks.compat.checkpoint_loading import load_checkpoint_file
from mmtricks.engine import apply_data_decisions
from mmtricks.engine.recipe_config import META_KEY

from test_recipe_config import write_folder

TRAIN = textwrap.dedent('''
    import json, sys
    sys.path.insert(0, {tests!r})
    from conftest import fast_config, train
    from mmtricks.engine import DataAwareRunner
    cfg = fast_config(work_dir={work!r})
    cfg.data_root = {root!r}  # the only data setting
    runner = train(cfg)
    print(json.dumps(dict(
        runner_type=type(runner).__name__,
        num_classes=runner.model.head.num_classes,
        side=int(runner.train_dataloader.dataset[0]['inputs'].shape[-1]),
        reasons=runner.data_decisions.reasons,
        config=runner.cfg.filename, log_dir=runner.log_dir)))
''')


def train_in_subprocess(root, work):
    code = TRAIN.format(tests=osp.join(REPO, 'tests'), work=str(work),
                        root=root)
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_trains_on_a_folder_from_one_setting_and_stores_decisions(tmp_path):
    root = write_folder(tmp_path / 'data', [45, 15], side=70)
    work = tmp_path / 'work'
    run = train_in_subprocess(root, work)
    assert run['runner_type'] == 'DataAwareRunner'
    assert run['num_classes'] == 2
    assert run['side'] == 64
    saved = torch.load(osp.join(work, 'epoch_1.pth'), weights_only=True)
    stored = saved['meta'][META_KEY]
    assert stored['image_size'] == 64
    assert stored['classes'] == ['class_0', 'class_1']
    assert stored['reasons'] == run['reasons']
    # the work dir's config builds the same run again, nothing left to decide
    dumped = Config.fromfile(osp.join(work, osp.basename(run['config'])))
    assert dumped.runner_type == 'DataAwareRunner'
    assert dumped.image_size == 64 and dumped.num_classes == 2
    log = open(osp.join(run['log_dir'], osp.basename(run['log_dir']) +
                        '.log')).read()
    assert 'Data decision: image_size 64: the training images' in log
    # upstream's noise is hidden on the run's logger (compat/upstream_noise)
    assert 'paramwise_options' not in log
    assert '"FileClient" will be deprecated' not in log


def test_a_run_loading_a_checkpoint_uses_its_size(tmp_path):
    root = write_folder(tmp_path / 'data', [45, 15], side=70)
    work = tmp_path / 'work'
    train_in_subprocess(root, work)
    checkpoint = osp.join(work, 'epoch_1.pth')
    # as `mim test CONFIG --checkpoint ...` builds it, with a budget that
    # would now choose 32 px: the checkpoint's 64 px wins, said so
    test_cfg = Config.fromfile(AUTO_MBV3)
    test_cfg.merge_from_dict(dict(data_root=root, max_image_size=32,
                                  load_from=checkpoint))
    decisions = apply_data_decisions(test_cfg)
    assert decisions.image_size == 64
    assert test_cfg.test_pipeline[1]['scale'] == (64, 64)
    assert checkpoint in decisions.reasons[2]
    # an explicit size still wins over the checkpoint's
    explicit = Config.fromfile(AUTO_MBV3)
    explicit.merge_from_dict(dict(data_root=root, image_size=32,
                                  load_from=checkpoint))
    assert apply_data_decisions(explicit).image_size == 32
    # deploying takes every decision from the checkpoint, classes included
    moved = Config.fromfile(AUTO_MBV3)
    decisions = apply_data_decisions(moved, checkpoint=checkpoint,
                                     from_checkpoint=True)
    assert moved.model.head.num_classes == 2
    assert decisions.image_size == 64


BUSY = textwrap.dedent('''
    import sys
    sys.path.insert(0, {tests!r})
    from conftest import fast_config, train
    from mmtricks.engine.work_dir_lock import WorkDirBusyError, work_dir_lock
    cfg = fast_config(work_dir={work!r}, bundled='lfw_faces')
    with open({work!r} + '/auto_mbv3.py', 'w') as f:
        f.write('# the first run\\'s config')
    with work_dir_lock({work!r}):  # as if another run trained there
        try:
            train(cfg)
        except WorkDirBusyError as error:
            print('refused:', error)
''')


def test_a_second_training_in_a_busy_work_dir_is_refused(tmp_path):
    # The lock is held by another open file description, which conflicts
    # with the runner's own as a second process's would.
    code = BUSY.format(tests=osp.join(REPO, 'tests'), work=str(tmp_path))
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert 'refused: Work dir' in result.stdout, result.stdout[-2000:]
    assert not list(tmp_path.glob('*.pth'))
    # The first run's dumped config is not overwritten by the refused one.
    assert (tmp_path / 'auto_mbv3.py').read_text() == \
        "# the first run's config"


ATOMIC = textwrap.dedent('''
    import sys
    sys.path.insert(0, {tests!r})
    import mmengine.runner.runner as upstream
    from conftest import fast_config, train
    runner = train(fast_config(work_dir={work!r}, bundled='lfw_faces'))

    def killed_mid_write(checkpoint, filename, **kwargs):
        with open(filename, 'wb') as f:
            f.write(b'half a checkpoint')
        raise KeyboardInterrupt('killed')

    upstream.save_checkpoint = killed_mid_write
    try:
        runner.save_checkpoint({work!r}, 'epoch_1.pth')
    except KeyboardInterrupt:
        print('interrupted')
''')


def test_a_checkpoint_write_cut_short_leaves_the_last_one_whole(tmp_path):
    code = ATOMIC.format(tests=osp.join(REPO, 'tests'), work=str(tmp_path))
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert 'interrupted' in result.stdout
    saved = load_checkpoint_file(str(tmp_path / 'epoch_1.pth'))
    assert 'state_dict' in saved
