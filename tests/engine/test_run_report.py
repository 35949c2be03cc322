"""The run report: the page of an empty work dir, of one with a deploy
report, and of a tiny real run (written by the runner at the end of
training and testing, every section present, every image loading in
headless Chromium); tools/report.py.

MMTRICKS_REPORT_SCREENSHOT=docs/report.png also writes the page's
screenshot there (how docs/report.png is made).
"""
import json
import os
import os.path as osp
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import AUTO_MBV3, REPO
from mmtricks.engine.report_sections import SECTIONS
from mmtricks.engine.run_report import render_report

sys.path.insert(0, osp.join(REPO, 'tools'))
import report as report_tool  # noqa: E402  (tools/report.py)

SCREENSHOT_ENV = 'MMTRICKS_REPORT_SCREENSHOT'
BROKEN = re.compile(r'data-broken-images="(\d+)"')

# The recipe as a user runs it (LR range test, AutoEpochs, operating point,
# per-class report), trimmed to 3 epochs of lfw_faces at 64 px.
TRAIN_AND_TEST = textwrap.dedent('''
    from mmengine.config import Config
    from mmtricks.engine import build_runner
    cfg = Config.fromfile({config!r})
    cfg.work_dir = {work!r}
    cfg.model.backbone.init_cfg = None
    cfg.train_cfg.max_epochs = 3
    cfg.image_size = 64
    cfg.default_hooks.logger.interval = 5
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].dataset.bundled = 'lfw_faces'
        cfg[name].num_workers = 0
        cfg[name].persistent_workers = False
    runner = build_runner(cfg)
    runner.train()
    runner.test()
''')


def test_an_empty_work_dir_has_every_section_saying_why(tmp_path):
    html = render_report(str(tmp_path))
    for key, heading, _ in SECTIONS:
        start = html.index(f'<section id="{key}"><h2>{heading}</h2>')
        section = html[start:html.index('</section>', start)]
        assert 'class="missing"' in section, heading
    assert '<img' not in html


def test_a_deploy_report_below_the_work_dir_is_shown(tmp_path):
    deploy = tmp_path / 'deploy'
    deploy.mkdir()
    (deploy / 'deploy_report.json').write_text(json.dumps(dict(
        recommended='bf16', recommendation='the fastest shown within 1 point',
        warnings=['int8 not requested'])))
    (deploy / 'deploy_report.md').write_text(
        '| model | latency |\n| --- | --- |\n| **bf16** | 0.5 |\n')
    html = render_report(str(tmp_path))
    section = html[html.index('<section id="deploy">'):]
    assert 'Recommended: <b>bf16</b>' in section
    assert '<li>int8 not requested</li>' in section
    assert '<td>bf16</td><td>0.5</td>' in section
    # --deploy DIR elsewhere: found there, not below the work dir
    elsewhere = render_report(str(deploy), deploy_dirs=[str(deploy)])
    assert 'Recommended: <b>bf16</b>' in elsewhere


def test_report_tool_refuses_a_missing_work_dir(tmp_path, capsys):
    assert report_tool.main([str(tmp_path / 'nothing')]) == 2
    assert 'not a folder' in capsys.readouterr().err


@pytest.fixture(scope='module')
def reported_run(tmp_path_factory):
    """A tiny run trained and tested in a fresh process (see
    test_data_aware_runner.py for why); its work dir and stdout+stderr."""
    work = str(tmp_path_factory.mktemp('report') / 'work')
    code = TRAIN_AND_TEST.format(config=AUTO_MBV3, work=work)
    env = dict(os.environ, OMP_NUM_THREADS='1')
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return work, output


@pytest.mark.slow
def test_train_and_test_write_the_report_with_every_section(reported_run):
    work, output = reported_run
    path = osp.join(work, 'report.html')
    assert output.count(f'Run report: {path}') == 2  # after train and test
    with open(path, encoding='utf-8') as f:
        html = f.read()
    for key, heading, _ in SECTIONS:
        assert f'<section id="{key}">' in html, heading
    # Nothing outside the page: every image inline, no link or script out.
    assert not re.search(r'(src|href)="(?!data:|#)', html)
    for split in ('val', 'test'):
        with open(osp.join(work, 'label_noise', f'{split}.json')) as f:
            gallery = json.load(f)
        assert gallery['candidates'], f'no wrong {split} image to show'
        assert html.count(f'{split}: {gallery["wrong"]} of '
                          f'{gallery["images"]} images wrong') == 1
    assert 'No test metrics' not in html and 'No val metrics' not in html
    assert 'AutoEpochs started the anneal at epoch' in html
    assert html.count('<img ') >= 8  # LR, curves, 2 matrices, galleries


@pytest.mark.slow
def test_the_report_loads_every_image_in_chromium(reported_run):
    if report_tool.find_chromium() is None:
        pytest.skip('chromium is not installed (Debian: apt-get install '
                    'chromium); .ci/run installs it when it can')
    work, _ = reported_run
    path = osp.join(work, 'report.html')
    dom = report_tool.dump_dom(path)
    assert BROKEN.findall(dom) == ['0'], BROKEN.findall(dom)
    for key, _, _ in SECTIONS:
        assert f'id="{key}"' in dom
    # The check itself sees a broken image.
    with open(path, encoding='utf-8') as f:
        html = f.read()
    spoiled = osp.join(work, 'spoiled.html')
    with open(spoiled, 'w', encoding='utf-8') as f:
        f.write(html.replace('data:image/png;base64,',
                             'data:image/png;base64,AAAA', 1))
    assert BROKEN.findall(report_tool.dump_dom(spoiled)) == ['1']
    if os.environ.get(SCREENSHOT_ENV):
        report_tool.screenshot(path, os.environ[SCREENSHOT_ENV])
