"""The configs ship inside the package (docs/packaging.md).

A non-editable install (``pip install --target``, no dependencies, from a
copy of the sources) is checked from an empty directory: every config is
there, ``mmtricks::NAME`` resolves as a ``_base_`` and as a config path,
``mim train mmtricks`` runs. The repository's ``configs/`` stays the source
of truth; ``mmtricks/.mim/configs`` is a symlink to it in the checkout.
"""
import filecmp
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import textwrap

import pytest
from mmengine.config import Config

from conftest import REPO

import mmtricks
from mmtricks.recipes import (CONFIG_DIR, config_path, resolve_config,
                              shipped_configs)

SOURCE_CONFIGS = osp.join(REPO, 'configs')


def repo_config_files():
    found = []
    for folder, dirs, files in os.walk(SOURCE_CONFIGS):
        dirs[:] = [d for d in dirs if d != '__pycache__']
        found += [osp.relpath(osp.join(folder, f), SOURCE_CONFIGS)
                  for f in files if not f.endswith('.pyc')]
    return sorted(found)


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """``pip install --no-deps --target`` of a copy of the sources (the
    checkout's build/ and egg-info stay untouched)."""
    root = tmp_path_factory.mktemp('packaging')
    src, site = root / 'src', root / 'site'
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc')
    shutil.copytree(osp.join(REPO, 'mmtricks'), src / 'mmtricks',
                    symlinks=True, ignore=ignore)
    shutil.copytree(SOURCE_CONFIGS, src / 'configs', ignore=ignore)
    for name in ('pyproject.toml', 'README.md'):
        shutil.copy(osp.join(REPO, name), src / name)
    result = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--no-deps',
         '--no-build-isolation', '--no-compile', '--quiet', '--target',
         str(site), str(src)],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PIP_NO_INDEX='1', PYTHONPATH=''))
    assert result.returncode == 0, result.stdout + result.stderr
    empty = root / 'empty'
    empty.mkdir()
    return site, empty


def run_in(cwd, site, code, timeout=120):
    """Run ``code`` in a fresh interpreter whose mmtricks is the installed
    one (``site`` first on sys.path, the checkout absent)."""
    env = dict(os.environ, PYTHONPATH=str(site), OMP_NUM_THREADS='1')
    result = subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                            cwd=cwd, capture_output=True, text=True,
                            env=env, timeout=timeout)
    assert result.returncode == 0, (result.stdout[-3000:]
                                    + result.stderr[-3000:])
    return result.stdout


def test_every_config_is_in_the_installed_package(installed):
    site, _ = installed
    shipped = osp.join(site, 'mmtricks', '.mim', 'configs')
    assert not osp.islink(shipped), 'the wheel must hold copies, not a link'
    files = repo_config_files()
    assert 'auto_mbv3.py' in files
    missing = [f for f in files if not osp.isfile(osp.join(shipped, f))]
    assert not missing, (
        f'configs/ files missing from the installed package: {missing}; '
        'add their pattern to [tool.setuptools.package-data] in '
        'pyproject.toml')
    differ = [f for f in files
              if not filecmp.cmp(osp.join(SOURCE_CONFIGS, f),
                                 osp.join(shipped, f), shallow=False)]
    assert not differ
    for script in ('train.py', 'test.py'):
        assert osp.isfile(osp.join(site, 'mmtricks', '.mim', 'tools', script))


def test_configs_load_from_an_empty_directory(installed):
    site, empty = installed
    (empty / 'my_config.py').write_text(textwrap.dedent("""\
        _base_ = ['mmtricks::auto_mbv3.py']
        batch_size = 16
        train_dataloader = dict(batch_size=batch_size)
        optim_wrapper = dict(optimizer=dict(lr=0.05))
        """))
    (empty / 'my_lite0.py').write_text(
        "_base_ = ['mmtricks::auto_effnet_lite0.py']\n")
    out = run_in(empty, site, """
        import json, os.path as osp
        import mmtricks
        from mmengine.config import Config
        from mmtricks.recipes import config_path
        recipe = Config.fromfile(config_path('mmtricks::auto_mbv3.py'))
        mine = Config.fromfile('my_config.py')
        lite0 = Config.fromfile('my_lite0.py')
        deploy = Config.fromfile(config_path(
            'mmtricks::deploy/classification_openvino_dynamic-batch.py'))
        print(json.dumps(dict(
            package=osp.dirname(mmtricks.__file__),
            recipe_file=recipe.filename,
            recipe=recipe.to_dict(),
            mine=dict(lr=mine.optim_wrapper.optimizer.lr,
                      momentum=mine.optim_wrapper.optimizer.momentum,
                      batch=mine.train_dataloader.batch_size,
                      hooks=[h['type'] for h in mine.custom_hooks],
                      backbone=mine.model.backbone.type,
                      scope=mine.default_scope),
            lite0=dict(backbone=lite0.model.backbone.type,
                       hooks=[h['type'] for h in lite0.custom_hooks]),
            deploy=deploy.to_dict())))
        """)
    got = json.loads(out.strip().splitlines()[-1])
    # The interpreter used the installed copy, not the checkout.
    assert got['package'] == osp.join(str(site), 'mmtricks')
    assert got['recipe_file'].startswith(str(site))
    # The shipped recipe is the repository's, value for value.
    here = Config.fromfile(osp.join(SOURCE_CONFIGS, 'auto_mbv3.py'))
    assert got['recipe'] == json.loads(json.dumps(here.to_dict()))
    # A user's config based on it: own values win, the rest is the recipe's
    # (mmpretrain::_base_ of the recipe resolved inside the install too).
    assert got['mine'] == dict(
        lr=0.05, momentum=here.optim_wrapper.optimizer.momentum, batch=16,
        hooks=[h['type'] for h in here.custom_hooks],
        backbone='MobileNetV3', scope='mmpretrain')
    # Relative _base_ between shipped configs (auto_effnet_lite0 ->
    # ./auto_mbv3.py, deploy/dynamic -> ./static) resolve in the package.
    lite0 = Config.fromfile(osp.join(SOURCE_CONFIGS, 'auto_effnet_lite0.py'))
    assert got['lite0']['backbone'] == lite0.model.backbone.type
    assert 'LRFinderHook' in got['lite0']['hooks']
    dynamic = Config.fromfile(osp.join(
        SOURCE_CONFIGS, 'deploy', 'classification_openvino_dynamic-batch.py'))
    assert got['deploy'] == json.loads(json.dumps(dynamic.to_dict()))


@pytest.mark.slow
def test_mim_train_mmtricks_from_an_empty_directory(installed):
    """``mim train mmtricks CONFIG`` finds the shipped recipe by name and
    trains a user config based on ``mmtricks::`` (one epoch, ~1 min)."""
    site, empty = installed
    work = empty / 'work'
    (empty / 'mine.py').write_text(textwrap.dedent("""\
        _base_ = ['mmtricks::auto_mbv3.py']
        model = dict(backbone=dict(init_cfg=None))
        train_cfg = dict(max_epochs=1)
        custom_hooks = [dict(type='NumClassesCheckHook')]
        """))
    options = ['--cfg-options', 'train_dataloader.dataset.bundled=lfw_faces',
               'val_dataloader.dataset.bundled=lfw_faces',
               'test_dataloader.dataset.bundled=lfw_faces',
               'model.head.num_classes=2', 'data_preprocessor.num_classes=2']
    for split in ('train', 'val', 'test'):
        options += [f'{split}_dataloader.num_workers=0',
                    f'{split}_dataloader.persistent_workers=False']
    env = dict(os.environ, PYTHONPATH=str(site), OMP_NUM_THREADS='1')
    result = subprocess.run(
        [sys.executable, '-m', 'mim', 'train', 'mmtricks', 'mine.py',
         '--work-dir', str(work), *options],
        cwd=empty, capture_output=True, text=True, env=env, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert osp.join(str(site), 'mmtricks', '.mim', 'tools', 'train.py') \
        in output
    assert osp.isfile(work / 'epoch_1.pth')
    # The recipe by name, found inside the package (stopped where the
    # dataset is built: no such bundled set).
    result = subprocess.run(
        [sys.executable, '-m', 'mim', 'train', 'mmtricks', 'auto_mbv3.py',
         '--work-dir', str(empty / 'by_name'), '--cfg-options',
         'train_dataloader.dataset.bundled=no_such_set',
         'model.backbone.init_cfg=None'],
        cwd=empty, capture_output=True, text=True, env=env, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert osp.join(str(site), 'mmtricks', '.mim', 'configs',
                    'auto_mbv3.py') in output
    assert 'no_such_set' in output


# In the checkout (no install) ------------------------------------------------

def test_the_checkout_links_the_package_configs_to_configs():
    assert osp.islink(CONFIG_DIR)
    assert osp.samefile(CONFIG_DIR, SOURCE_CONFIGS)
    assert shipped_configs() == sorted(
        f.replace(os.sep, '/') for f in repo_config_files()
        if f.endswith('.py'))


def test_base_on_the_shipped_recipe(tmp_path):
    path = tmp_path / 'mine.py'
    path.write_text("_base_ = ['mmtricks::auto_mbv3.py']\nimage_size = 32\n"
                    "optim_wrapper = dict(optimizer=dict(lr=0.01))\n")
    cfg = Config.fromfile(str(path))
    assert cfg.optim_wrapper.optimizer.lr == 0.01
    assert cfg.model.backbone.type == 'MobileNetV3'
    # other packages' `pkg::` still go to MMEngine
    assert cfg.default_scope == 'mmpretrain'


def test_unknown_shipped_config_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no config 'auto_mbv4.py'"
                       r".*auto_mbv3.py"):
        config_path('mmtricks::auto_mbv4.py')
    with pytest.raises(FileNotFoundError, match='ships no config'):
        config_path('mmtricks::../pyproject.toml')
    path = tmp_path / 'mine.py'
    path.write_text("_base_ = ['mmtricks::auto_mbv4.py']\n")
    with pytest.raises(FileNotFoundError, match='ships no config'):
        Config.fromfile(str(path))


def test_tool_arguments_resolve_shipped_names():
    assert resolve_config('mmtricks::auto_mbv3.py') == config_path(
        'auto_mbv3.py')
    assert resolve_config('configs/auto_mbv3.py') == 'configs/auto_mbv3.py'


def test_registration_is_idempotent():
    from mmtricks import recipes
    before = Config._get_cfg_path
    recipes.register_config_scheme()
    assert Config._get_cfg_path is before is recipes.get_cfg_path


def test_deploy_tool_takes_a_shipped_config_name(tmp_path, capsys):
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import deploy
    missing = str(tmp_path / 'missing.pth')
    code = deploy.main(['mmtricks::auto_mbv3.py', missing,
                        '--work-dir', str(tmp_path / 'out')])
    assert code == 2  # the checkpoint: the config was found
    assert 'missing.pth' in capsys.readouterr().err
    code = deploy.main(['mmtricks::auto_mbv4.py', missing,
                        '--work-dir', str(tmp_path / 'out')])
    assert code == 2
    assert 'ships no config' in capsys.readouterr().err


def test_benchmarks_take_configs_from_the_package():
    import benchmarks
    assert benchmarks.AUTO_MBV3 == config_path('auto_mbv3.py')
    assert osp.dirname(benchmarks.AUTO_MBV3) == CONFIG_DIR
    assert benchmarks.shipped_config('deploy',
                                     'classification_openvino_static.py') \
        .startswith(osp.dirname(mmtricks.__file__))
