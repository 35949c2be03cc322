import os.path as osp
import shutil

import pytest

from benchmarks.run_cache import RunCache, run_key
from conftest import REPO


SCORED = dict(top1=97.5, test_top1=97.5, val_top1=98.0)


def test_a_stored_run_is_not_trained_again(tmp_path):
    path = str(tmp_path / 'runs.jsonl')
    calls = []

    def train():
        calls.append(1)
        return dict(SCORED)

    key = run_key(dataset='digits', lr=0.1, epochs=10, seed=0)
    assert RunCache(path).get_or_run(key, train) == SCORED
    again = RunCache(path)  # a new process reading the same file
    assert key in again
    assert again.get_or_run(key, train) == SCORED
    assert len(calls) == 1
    other = run_key(dataset='digits', lr=0.3, epochs=10, seed=0)
    again.get_or_run(other, train)
    assert len(calls) == 2


def test_a_run_stored_without_test_top1_is_trained_again(tmp_path):
    """Runs scored before the test split (val top-1 only) are not served:
    their number is not the one the benchmarks report now."""
    import json
    path = tmp_path / 'runs.jsonl'
    key = run_key(dataset='digits', lr=0.1, epochs=10, seed=0)
    path.write_text(json.dumps(dict(key=key, result=dict(top1=99.0))) + '\n')
    cache = RunCache(str(path))
    assert key not in cache
    calls = []
    assert cache.get_or_run(key, lambda: calls.append(1) or dict(SCORED)) \
        == SCORED and calls == [1]
    assert RunCache(str(path)).get_or_run(key, None) == SCORED  # appended
    with pytest.raises(ValueError, match='lacks'):
        RunCache(None).get_or_run('other', lambda: dict(top1=99.0))


def test_key_ignores_field_order_but_not_values():
    assert run_key(a=1, b=2) == run_key(b=2, a=1)
    assert run_key(a=1, b=2) != run_key(a=1, b=3)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_module_files_follow_every_import_statement(tmp_path):
    from benchmarks.run_cache import module_files
    pkg = tmp_path / 'pkg'
    write(pkg / '__init__.py', 'from . import hooks\n')
    write(pkg / 'hooks' / '__init__.py', 'from .policy import decide\n')
    # imported inside a function: code the run may execute, so it counts
    write(pkg / 'hooks' / 'policy.py',
          'def decide():\n    from pkg.engine.helper import f\n')
    write(pkg / 'engine' / '__init__.py', '')
    write(pkg / 'engine' / 'helper.py', 'import os\nf = 1\n')
    write(pkg / 'deploy' / '__init__.py', 'from ..hooks import policy\n')
    files = module_files(str(pkg), ['pkg'])
    assert [osp.relpath(f, tmp_path) for f in files] == [
        'pkg/__init__.py', 'pkg/engine/__init__.py', 'pkg/engine/helper.py',
        'pkg/hooks/__init__.py', 'pkg/hooks/policy.py']
    with_deploy = module_files(str(pkg), ['pkg', 'pkg.deploy'])
    assert str(pkg / 'deploy' / '__init__.py') in with_deploy


def test_mmtricks_runs_import_everything_but_deploy():
    from benchmarks.run_cache import module_files
    files = {osp.relpath(f, REPO) for f in module_files(
        osp.join(REPO, 'mmtricks'), ['mmtricks'])}
    assert {'mmtricks/__init__.py',
            'mmtricks/optim/scheduler/plateau_policy.py',
            'mmtricks/models/zero_gamma_init.py',
            'mmtricks/datasets/bundled_dataset.py'} <= files
    assert not any(f.startswith('mmtricks/deploy/') for f in files)


@pytest.fixture
def repo_copy(tmp_path):
    """A copy of mmtricks' package with a README and tests beside it."""
    shutil.copytree(osp.join(REPO, 'mmtricks'), tmp_path / 'mmtricks',
                    ignore=shutil.ignore_patterns('__pycache__'))
    write(tmp_path / 'README.md', 'mmtricks\n')
    write(tmp_path / 'tests' / 'test_x.py', 'def test_x():\n    pass\n')
    return tmp_path


def append(path, text='\n# changed\n'):
    with open(path, 'a') as f:
        f.write(text)


def test_code_key_changes_with_any_imported_module_only(repo_copy):
    from mmengine.config import Config

    from benchmarks.runs import code_digest
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'auto_mbv3.py'))
    package = str(repo_copy / 'mmtricks')

    def key():
        return code_digest(cfg, package_dir=package)

    before = key()
    for untouched in ('README.md', 'tests/test_x.py',
                      'mmtricks/deploy/latency.py',
                      'mmtricks/deploy/__init__.py'):
        append(repo_copy / untouched)
        assert key() == before, f'{untouched} retrains every run'
    for imported in ('mmtricks/models/zero_gamma_init.py',
                     'mmtricks/datasets/folder.py',
                     'mmtricks/optim/scheduler/plateau_policy.py'):
        append(repo_copy / imported)
        assert key() != before, f'{imported} changed, old runs reused'
        before = key()
    # a config that imports the deploy code is keyed by it
    cfg.custom_imports = dict(imports=['mmtricks', 'mmtricks.deploy'])
    before = key()
    append(repo_copy / 'mmtricks' / 'deploy' / 'latency.py')
    assert key() != before


def test_config_key_follows_the_base_chain(tmp_path):
    from mmengine.config import Config

    from benchmarks.runs import config_digest
    write(tmp_path / 'base.py', 'optimizer = dict(type="SGD", lr=0.1)\n')
    write(tmp_path / 'child.py', '_base_ = ["./base.py"]\nwork_dir = "w"\n')

    def key():
        return config_digest(Config.fromfile(str(tmp_path / 'child.py')))

    before = key()
    append(tmp_path / 'base.py', '# a comment changes nothing the run does\n')
    assert key() == before
    write(tmp_path / 'base.py', 'optimizer = dict(type="SGD", lr=0.2)\n')
    assert key() != before


def test_a_process_keys_runs_by_the_code_it_imported(monkeypatch):
    """A file edited during a long benchmark must not key runs trained
    with the code imported before the edit."""
    from mmengine.config import Config

    from benchmarks import runs
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'auto_mbv3.py'))
    cfg.work_dir = 'work'
    monkeypatch.setattr(runs, '_PROCESS_CODE', {})
    first = runs.run_cache_key(cfg, seed=0)
    monkeypatch.setattr(runs, 'code_digest', lambda cfg: 'edited since')
    assert runs.run_cache_key(cfg, seed=0) == first
