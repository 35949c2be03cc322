"""tools/benchmark.py operating-point: the table renders from its JSON,
with means over seeds and a seed whose rule kept argmax shown as such."""
import os.path as osp

import pytest

from benchmarks import operating_point as bench
from benchmarks.report import load_report
from conftest import REPO


def cell(recall, argmax_recall, precision, argmax_precision):
    numbers = dict(recall=recall, argmax_recall=argmax_recall,
                   precision=precision, argmax_precision=argmax_precision,
                   top1=80.0, argmax_top1=81.0)
    return dict(threshold=0.3, why='', val=numbers, test=numbers)


def payload():
    runs = [dict(seed=s, epochs=20, operating_points=dict(
        auto=cell(80.0 + s, 60.0, 60.0, 70.0),
        min_recall_0_9=dict(threshold=None, why='unreachable')),
        test_images=310, test_class_images=90, val_images=310)
        for s in (0, 1)]
    result = dict(dataset='elpv_poly', goal=bench.GOAL, command='python x',
                  machine='m', cap=60, seeds_planned=3, runs=runs,
                  **{'class': 'defective'})
    result['summary'] = bench.summarise(runs)
    return result


def test_summary_is_the_mean_change_against_argmax():
    summary = payload()['summary']['auto']
    assert summary['recall']['mean'] == pytest.approx(80.5)
    assert summary['recall_change']['mean'] == pytest.approx(20.5)
    assert summary['precision_change']['mean'] == pytest.approx(-10.0)
    assert summary['recall']['n'] == 2


def test_render_shows_both_arms_and_an_argmax_seed():
    text = bench.render(payload())
    assert ('| auto | 0.300 ± 0.000 | 80.5 ± 0.7 | 60.0 ± 0.0 | '
            '+20.5 ± 0.7 |') in text
    assert 'argmax (unreachable)' in text
    assert '2 seed(s) of 3 planned' in text


def test_committed_table_renders_from_its_json():
    path = osp.join(REPO, 'docs', 'benchmarks', f'{bench.NAME}.json')
    if not osp.isfile(path):
        pytest.skip('not run yet')
    stored = load_report(osp.dirname(path), bench.NAME)
    with open(path[:-len('.json')] + '.md') as f:
        assert bench.render(stored) == f.read()
