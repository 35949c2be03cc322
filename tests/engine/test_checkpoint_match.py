"""A checkpoint is refused by ``mim test``, ``--resume`` and
``tools/deploy.py`` when it was trained on other classes than the data's
(count, names or order): MMEngine would leave a random head, or a head for
other names, and report numbers that mean nothing."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from conftest import AUTO_MBV3, REPO, fast_config
from mmtricks.engine.checkpoint_match import (CheckpointFacts, abbreviate,
                                              check_checkpoint_classes,
                                              checkpoint_facts,
                                              class_mismatch, config_data,
                                              head_outputs, names_data,
                                              read_checkpoint_facts,
                                              stored_classes, training_data,
                                              use_checkpoint_data)
from mmtricks.engine.recipe_config import META_KEY, RecipeConfigError

DIGITS = tuple(str(i) for i in range(10))
RGB = ('blue', 'green', 'red')


def facts(classes=None, head=None, data_root=None, bundled=None):
    return CheckpointFacts(path='work/epoch_3.pth', classes=classes,
                           head_outputs=head, data_root=data_root,
                           bundled=bundled)


# ----------------------------------------------------------- the comparison
def test_the_same_classes_in_the_same_order_match():
    assert class_mismatch(facts(DIGITS), list(DIGITS), 'the data') is None
    check_checkpoint_classes(facts(DIGITS), DIGITS, 'the data')


def test_another_number_of_classes_names_checkpoint_lists_and_fix():
    problem = class_mismatch(facts(RGB, data_root='/data/rgb'), DIGITS,
                             'the bundled digits set')
    assert problem.startswith("Checkpoint 'work/epoch_3.pth' was trained "
                              'on 3 classes but the bundled digits set has '
                              '10')
    assert 'checkpoint: blue, green, red' in problem
    assert 'data: 0, 1, 2, 3, 4, ... (10 in all)' in problem
    assert problem.endswith('Point data_root at the data it was trained '
                            'on: --cfg-options data_root=/data/rgb, or '
                            'train a model on this data.')
    assert '\n' not in problem
    assert '(the bundled mnist set)' in class_mismatch(
        facts(RGB, bundled='mnist'), DIGITS, 'd')
    assert '(--cfg-options data_root=DIR), or train' in class_mismatch(
        facts(RGB), DIGITS, 'd')


def test_the_same_count_with_other_names_is_a_mismatch():
    problem = class_mismatch(facts(('cat', 'dog', 'fox')), RGB,
                             "data_root='/x'")
    assert "label 0: 'cat' against 'blue'" in problem


def test_the_same_names_in_another_order_is_a_mismatch():
    problem = class_mismatch(facts(('red', 'green', 'blue')), RGB,
                             "data_root='/x'")
    assert 'same 3 classes' in problem and 'another order' in problem


def test_without_stored_names_the_head_size_is_compared():
    assert class_mismatch(facts(head=10), DIGITS, 'd') is None
    problem = class_mismatch(facts(head=1000), RGB, "data_root='/x'")
    assert 'head with 1000 outputs' in problem and 'has 3 classes' in problem
    # nothing known on either side: nothing to compare
    assert class_mismatch(facts(), RGB, 'd') is None
    assert class_mismatch(facts(RGB), (), 'd') is None


def test_a_mismatch_raises_the_recipe_error():
    with pytest.raises(RecipeConfigError, match='trained on 3 classes'):
        check_checkpoint_classes(facts(RGB), DIGITS, 'd')


def test_abbreviate():
    assert abbreviate(RGB) == 'blue, green, red'
    assert abbreviate([str(i) for i in range(100)]) == \
        '0, 1, 2, 3, 4, ... (100 in all)'


# --------------------------------------------------- what a checkpoint says
def test_head_outputs_is_the_last_head_matrix():
    stacked = {'backbone.conv.weight': torch.zeros(8, 3, 3, 3),
               'head.layers.0.fc.weight': torch.zeros(1024, 576),
               'head.layers.0.fc.bias': torch.zeros(1024),
               'head.layers.1.fc.weight': torch.zeros(7, 1024),
               'head.layers.1.fc.bias': torch.zeros(7)}
    assert head_outputs(stacked) == 7
    assert head_outputs({'module.head.fc.weight': torch.zeros(5, 16)}) == 5
    # AMSoftmaxHead: its cosine weight comes after its hidden layers
    assert head_outputs({'head.layers.0.fc.weight': torch.zeros(64, 16),
                         'head.layers.0.norm.weight': torch.zeros(64),
                         'head.weight': torch.zeros(4, 64)}) == 4
    assert head_outputs({'backbone.fc.weight': torch.zeros(5, 16)}) is None


def test_stored_classes_prefer_the_data_decisions():
    saved = dict(meta={META_KEY: dict(classes=['a', 'b']),
                       'dataset_meta': dict(classes=('x', 'y'))})
    assert stored_classes(saved) == ('a', 'b')
    assert stored_classes(dict(meta=dict(dataset_meta=dict(
        classes=('x', 'y'))))) == ('x', 'y')
    assert stored_classes(dict(state_dict={})) is None


def dumped(**options):
    """The config text MMEngine stores in meta['cfg']."""
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.merge_from_dict(options)
    return cfg.pretty_text


def test_training_data_is_read_from_the_dumped_config():
    assert training_data(dumped()) == (None, 'digits')
    assert training_data(dumped(**{
        'train_dataloader.dataset.bundled': 'mnist'})) == (None, 'mnist')
    # DataAwareRunner's dumped config: the folder in the dataset
    assert training_data(dumped(**{
        'train_dataloader.dataset.data_root': '/data/rgb'})) == \
        ('/data/rgb', None)
    assert training_data(dumped(data_root='/data/top')) == \
        ('/data/top', None)
    cfg = Config.fromfile(AUTO_MBV3)
    cfg.train_dataloader.dataset = dict(
        type='ClassBalancedDataset', oversample_thr=0.1,
        dataset=dict(cfg.train_dataloader.dataset, data_root='/data/w'))
    wrapped = cfg.pretty_text
    assert training_data(wrapped) == ('/data/w', None)
    assert training_data(None) == (None, None)
    assert training_data('not python (') == (None, None)


def test_the_dumped_config_is_never_executed(tmp_path):
    marker = tmp_path / 'ran'
    text = (f"data_root = open({str(marker)!r}, 'w').name\n"
            'train_dataloader = dict(dataset=dict('
            "type='FolderOrBundledDataset',"
            f" data_root=__import__('os').system('touch {marker}')))\n")
    assert training_data(text) == (None, 'digits')
    assert not marker.exists()


def test_checkpoint_facts_of_a_saved_checkpoint():
    saved = dict(state_dict={'head.fc.weight': torch.zeros(3, 8)},
                 meta={META_KEY: dict(classes=list(RGB)),
                       'cfg': dumped(data_root='/data/rgb')})
    found = checkpoint_facts(saved, 'c.pth')
    assert found == CheckpointFacts('c.pth', RGB, 3, '/data/rgb', None)
    assert found.data() == "data_root='/data/rgb'"


# --------------------------------------------- deploy: the checkpoint's data
def test_use_checkpoint_data_points_at_its_folder(tmp_path):
    cfg = Config.fromfile(AUTO_MBV3)
    assert not names_data(cfg)
    line = use_checkpoint_data(cfg, facts(RGB, data_root=str(tmp_path)))
    assert cfg.data_root == str(tmp_path)
    assert names_data(cfg) and config_data(cfg) == \
        f'data_root={str(tmp_path)!r}'
    assert line.startswith(f'data: {tmp_path}, the data_root ')


def test_use_checkpoint_data_refuses_a_missing_folder(tmp_path):
    cfg = Config.fromfile(AUTO_MBV3)
    with pytest.raises(RecipeConfigError,
                       match=r"data_root='/gone/rgb', which is not a folder "
                             r'here.*--cfg-options data_root=DIR'):
        use_checkpoint_data(cfg, facts(RGB, data_root='/gone/rgb'))
    assert not cfg.get('data_root')  # never the bundled default silently


def test_use_checkpoint_data_takes_its_bundled_set():
    cfg = Config.fromfile(AUTO_MBV3)
    line = use_checkpoint_data(cfg, facts(DIGITS, bundled='mnist'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.bundled == 'mnist'
    assert config_data(cfg) == 'the bundled mnist set'
    assert 'the bundled mnist set, the one' in line
    unknown = use_checkpoint_data(Config.fromfile(AUTO_MBV3), facts(DIGITS))
    assert unknown.startswith('WARNING: ') and 'does not record' in unknown


# ------------------------------------------- the runner: test, val, resume
def save_checkpoint(path, classes, head):
    meta = {META_KEY: dict(classes=list(classes))} if classes else {}
    torch.save(dict(meta=meta, state_dict={
        'head.layers.1.fc.weight': torch.zeros(head, 1024)}), str(path))
    return str(path)


@pytest.mark.parametrize('classes, head', [(RGB, 3), (None, 3),
                                           (tuple('abcdefghij'), 10)])
def test_testing_a_checkpoint_of_other_classes_is_refused(tmp_path, classes,
                                                          head):
    """``mim test CONFIG --checkpoint C`` on data of other classes:
    MMPretrain's tools/test.py sets ``load_from`` and calls
    ``runner.test()``."""
    from mmtricks.engine import build_runner
    checkpoint = save_checkpoint(tmp_path / 'rgb.pth', classes, head)
    cfg = fast_config(work_dir=tmp_path / 'work')
    cfg.load_from = checkpoint
    runner = build_runner(cfg)
    with pytest.raises(RecipeConfigError,
                       match=rf"Checkpoint '{checkpoint}'.*the bundled "
                             r'digits set'):
        runner.test()
    with pytest.raises(RecipeConfigError, match='bundled digits'):
        runner.val()


def test_resuming_a_checkpoint_of_other_classes_is_refused(tmp_path):
    from mmtricks.engine import build_runner
    cfg = fast_config(work_dir=tmp_path / 'work')
    cfg.load_from = save_checkpoint(tmp_path / 'rgb.pth', RGB, 3)
    cfg.resume = True
    with pytest.raises(RecipeConfigError, match='trained on 3 classes'):
        build_runner(cfg)
    # load_from without resume is fine-tuning: allowed, to any classes
    cfg.resume = False
    assert build_runner(cfg).data_decisions.classes == DIGITS


def test_config_data_names_the_bundled_default():
    assert config_data(Config.fromfile(AUTO_MBV3)) == \
        'the bundled digits set'


# ------------------------------------- a checkpoint DataAwareRunner trained
TRAIN = '''
import sys
sys.path.insert(0, {tests!r})
from conftest import fast_config, train
cfg = fast_config(work_dir={work!r})
cfg.data_root = {root!r}
train(cfg)
'''


def run(command, **kwargs):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                          timeout=600, env=env, **kwargs)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """One epoch on a 3-class folder, in a fresh process (as
    tests/engine/test_data_aware_runner.py): (folder, work dir, checkpoint)."""
    from test_recipe_config import write_folder
    folder = tmp_path_factory.mktemp('trained')
    root = write_folder(folder / 'data', [12, 12, 12], side=32)
    work = str(folder / 'work')
    result = run([sys.executable, '-c', TRAIN.format(
        tests=osp.join(REPO, 'tests'), work=work, root=root)])
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return root, work, osp.join(work, 'epoch_1.pth')


@pytest.mark.slow
def test_a_trained_checkpoint_says_its_classes_and_data(trained):
    root, _, checkpoint = trained
    assert read_checkpoint_facts(checkpoint) == CheckpointFacts(
        checkpoint, ('class_0', 'class_1', 'class_2'), 3, root, None)


@pytest.mark.slow
def test_mim_test_on_data_of_other_classes_fails_naming_both(trained,
                                                             tmp_path):
    root, _, checkpoint = trained
    mim = [osp.join(osp.dirname(sys.executable), 'mim'), 'test',
           'mmpretrain', AUTO_MBV3, '--checkpoint', checkpoint,
           '--work-dir', str(tmp_path / 'test')]
    refused = run(mim)  # the config's own data: the bundled digits set
    assert refused.returncode != 0
    assert (f"RecipeConfigError: Checkpoint '{checkpoint}' was trained on 3 "
            'classes but the bundled digits set has 10') in refused.stderr
    assert f'--cfg-options data_root={root}, or train' in refused.stderr
    tested = run(mim + ['--cfg-options', f'data_root={root}'])
    assert tested.returncode == 0, tested.stderr[-3000:]


@pytest.mark.slow
def test_resume_on_data_of_other_classes_is_refused(trained, tmp_path):
    from test_recipe_config import write_folder

    from mmtricks.engine import build_runner
    root, work, _ = trained
    cfg = fast_config(work_dir=work)
    cfg.resume = True  # the work dir's latest: epoch_1.pth
    cfg.data_root = write_folder(tmp_path / 'other', [12, 12, 12, 12],
                                 side=32)
    with pytest.raises(RecipeConfigError, match=r"epoch_1.pth' was trained "
                                                r'on 3 classes but '):
        build_runner(cfg)
    cfg.data_root = root
    assert build_runner(cfg).data_decisions.classes == \
        ('class_0', 'class_1', 'class_2')
