"""What ``import mmtricks`` and ``import mmtricks.deploy`` leave changed in
other libraries is exactly :data:`mmtricks.compat.PROCESS_WIDE`: found by
diffing upstream before and after the import in a fresh process
(upstream_changes.py), not read from the list itself."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from conftest import REPO

from mmtricks.compat.process_wide import (IMPORT_DEPLOY, IMPORT_MMTRICKS,
                                          KEEP_UPSTREAM_ENV, OPT_OUTS,
                                          PROCESS_WIDE, kept_upstream)

SCRIPT = osp.join(osp.dirname(osp.abspath(__file__)), 'upstream_changes.py')
BOTH = (IMPORT_MMTRICKS, IMPORT_DEPLOY)


def listed(applied_on, kept=()):
    return {name for change in PROCESS_WIDE
            if change.applied_on in applied_on and change.fix not in kept
            for name in change.replaces}


def launch(*args, keep_upstream=None):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join(
        [REPO] + [p for p in os.environ.get('PYTHONPATH', '').split(
            os.pathsep) if p]))
    env.pop(KEEP_UPSTREAM_ENV, None)
    if keep_upstream is not None:
        env[KEEP_UPSTREAM_ENV] = keep_upstream
    return subprocess.Popen(
        [sys.executable, '-W', 'ignore', SCRIPT, *args], env=env, cwd=REPO,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result(process):
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope='module')
def diffs(tmp_path_factory):
    """What ``import mmtricks``, then ``import mmtricks.deploy``, change
    upstream, by default and with every opt-out (fresh processes, the two
    runs side by side)."""
    modules = tmp_path_factory.mktemp('upstream') / 'modules.json'
    modules.write_text(json.dumps(result(launch('modules',
                                                'mmtricks.deploy'))))
    processes = {keep: launch('diff', str(modules), 'mmtricks',
                              'mmtricks.deploy', keep_upstream=keep)
                 for keep in (None, 'all')}
    found = {keep: result(p) for keep, p in processes.items()}
    return dict(mmtricks=set(found[None]['mmtricks']),
                deploy=set(found[None]['mmtricks.deploy']),
                mmtricks_all_kept=set(found['all']['mmtricks']),
                deploy_all_kept=set(found['all']['mmtricks.deploy']))


@pytest.mark.slow
def test_import_mmtricks_changes_exactly_what_is_listed(diffs):
    assert diffs['mmtricks'] == listed((IMPORT_MMTRICKS, ))
    # training never needs torch's ONNX exporter changed, nor MMLogger
    assert 'torch.onnx.export' not in diffs['mmtricks']
    assert not {name for name in diffs['mmtricks']
                if name.startswith('mmengine.logging.logger.MMLogger')}


@pytest.mark.slow
def test_import_mmtricks_deploy_adds_exactly_its_listed_changes(diffs):
    assert diffs['deploy'] == listed(BOTH)
    assert 'torch.onnx.export' not in diffs['deploy']


@pytest.mark.slow
def test_keep_upstream_all_leaves_only_what_cannot_be_opted_out(diffs):
    assert diffs['mmtricks_all_kept'] == listed((IMPORT_MMTRICKS, ),
                                                kept=OPT_OUTS)
    assert diffs['deploy_all_kept'] == listed(BOTH, kept=OPT_OUTS)
    assert listed(BOTH, kept=OPT_OUTS) < listed(BOTH)


def test_every_change_says_why_and_checkpoint_loading_cannot_be_kept():
    assert all(change.why for change in PROCESS_WIDE)
    assert {change.applied_on for change in PROCESS_WIDE} == set(BOTH)
    assert 'checkpoint_loading' not in OPT_OUTS
    assert kept_upstream('') == frozenset()
    assert kept_upstream(' mmcv_hue, cpu_distributed ') == {
        'mmcv_hue', 'cpu_distributed'}
    assert kept_upstream('all') == OPT_OUTS
    with pytest.raises(ValueError, match=r'checkpoint_loading \(always'):
        kept_upstream('mmcv_hue,checkpoint_loading')
    with pytest.raises(ValueError, match=r'mmcv-hue \(no such fix\)'):
        kept_upstream('mmcv-hue')


def test_docs_list_every_process_wide_change():
    with open(osp.join(REPO, 'docs', 'compat.md'), encoding='utf-8') as f:
        doc = f.read()
    for change in PROCESS_WIDE:
        assert f'`{change.fix}`' in doc, change.fix
        for name in change.replaces:
            assert f'`{name}`' in doc, name
    assert KEEP_UPSTREAM_ENV in doc
