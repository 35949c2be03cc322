"""The run report: the pure pieces, the page of a tiny real run (written by
the runner at the end of training and testing, every section present,
every image loading in headless Chromium), and a failure that warns
instead of failing the run.

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

import numpy as np
import pytest

from conftest import AUTO_MBV3, REPO
from mmtricks.engine import end_of_run_report
from mmtricks.engine.label_noise import confidently_wrong, overlay
from mmtricks.engine.report_curves import per_epoch, policy_marks
from mmtricks.engine.report_sections import (SECTIONS, markdown_tables,
                                             operating_point_section)
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


def test_confidently_wrong_ranks_the_wrong_by_loss():
    scores = np.array([[0.9, 0.1],    # right
                       [0.3, 0.7],    # wrong, loss -log 0.3
                       [0.01, 0.99],  # wrong, loss -log 0.01: first
                       [0.6, 0.4]])   # wrong (label 1), loss -log 0.4
    labels = np.array([0, 0, 0, 1])
    assert confidently_wrong(scores, labels) == [2, 1, 3]
    assert confidently_wrong(scores, labels, limit=1) == [2]
    assert confidently_wrong(scores[:1], labels[:1]) == []


def test_overlay_puts_the_image_beside_its_map():
    grey = np.full((8, 6, 1), 100, np.uint8)
    both = overlay(grey, np.array([[0.0, 1.0]]))
    assert both.shape == (8, 12, 3)
    assert (both[:, :6] == 100).all()
    # jet: red on the right (high), blue on the left (low)
    assert both[4, 11, 2] > both[4, 11, 0]
    assert both[4, 6, 0] > both[4, 6, 2]


def test_curves_read_the_policy_marks_and_average_each_epoch():
    log = ['... AutoEpochs: at epoch 7, no plateau yet at 75% of the budget;'
           ' annealing the LR to 0.005 x initial over the next 3 steps.',
           '... AutoEpochs: stopping at epoch 10 of 40: ...']
    assert policy_marks(log) == (7, 10)
    assert policy_marks(['nothing']) == (None, None)
    scalars = [dict(loss=1.0, lr=0.1, epoch=1, iter=5),
               dict(loss=3.0, lr=0.2, epoch=1, iter=10),
               {'accuracy/top1': 50.0, 'step': 1},
               dict(loss=0.5, lr=0.3, epoch=2, iter=15)]
    assert per_epoch(scalars) == {1: dict(loss=2.0, lr=0.2),
                                  2: dict(loss=0.5, lr=0.3)}


def test_deploy_markdown_tables_become_html_tables():
    text = '# Title\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n\nafter\n'
    html = markdown_tables(text)
    assert '<table><tr><th>a</th><th>b</th></tr>' in html
    assert '<td>1</td><td>2</td>' in html and '<p>after</p>' in html


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


def test_the_operating_point_shows_val_choice_and_test_numbers():
    point = dict(class_index=1, class_name='defective', threshold=0.3,
                 rule='macro-F1', recall=0.9, precision=0.8)
    test = {'accuracy/top1': 90.0, 'operating_point/recall': 95.0,
            'operating_point/argmax_recall': 62.0}
    html = operating_point_section(dict(meta=dict(operating_point=point),
                                        scalars=[test]))
    assert '<td>class_name</td><td>defective</td>' in html
    assert '<td>argmax_recall</td><td class="n">62.00</td>' in html
    assert '<td>recall</td><td class="n">95.00</td>' in html
    assert 'class="missing"' in operating_point_section(
        dict(meta={}, scalars=[]))


def test_a_report_that_fails_warns_and_the_run_goes_on(tmp_path,
                                                       monkeypatch):
    class Logger:
        def __init__(self):
            self.lines = []

        def warning(self, line):
            self.lines.append(('warning', line))

        def info(self, line):
            self.lines.append(('info', line))

    class Loader:
        dataset = []  # not a dataset: the gallery fails too
        batch_size = 2

    class Runner:
        work_dir = str(tmp_path)
        cfg = {}
        trained_here = True
        logger = Logger()
        model = None
        val_dataloader = Loader()

    def broken(*args, **kwargs):
        raise OSError('disk full')
    monkeypatch.setattr(end_of_run_report, 'write_report', broken)
    end_of_run_report.write_end_of_run_report(Runner, 'val')
    levels = [level for level, _ in Runner.logger.lines]
    assert levels == ['warning', 'warning'], Runner.logger.lines
    assert 'tools/report.py' in Runner.logger.lines[1][1]
    assert 'disk full' in Runner.logger.lines[1][1]


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
