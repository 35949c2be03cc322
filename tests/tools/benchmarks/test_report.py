"""Every committed table renders again from its committed JSON, through the
one writer the benchmarks share."""
import os.path as osp

import pytest

from benchmarks import auto_epochs, deploy, finetune, headline, lr_finder
from benchmarks import pretrained, tricks
from benchmarks.report import load_report, write_report
from conftest import REPO

DOCS = osp.join(REPO, 'docs', 'benchmarks')


def committed_md(name):
    with open(osp.join(DOCS, f'{name}.md')) as f:
        return f.read()


ALL = [headline, lr_finder, auto_epochs, deploy, pretrained, tricks,
       finetune]


@pytest.mark.parametrize('module', ALL, ids=lambda m: m.NAME)
def test_committed_table_renders_from_its_json(module):
    payload = load_report(DOCS, module.NAME)
    assert module.render(payload) == committed_md(module.NAME)


def test_writer_stores_the_json_the_markdown_is_rendered_from(tmp_path):
    payload = load_report(DOCS, 'lr_finder')
    text = write_report(str(tmp_path), 'lr_finder', payload,
                        lr_finder.render)
    assert load_report(str(tmp_path), 'lr_finder') == payload
    assert (tmp_path / 'lr_finder.md').read_text() == text == \
        lr_finder.render(payload)


def test_quoted_commands_name_no_file_outside_the_repository():
    """A reader has no folder of the machine a benchmark ran on: every file
    a stored command reads (a checkpoint, its config, the run cache) is a
    path in the repository, made by a command quoted before it."""
    import glob
    import re
    outside = re.compile(r"(?<![\w.~-])/[^\s'\"`;]+"
                         r'\.(?:pth|pt|py|jsonl|json|ckpt)\b')
    for path in sorted(glob.glob(osp.join(DOCS, '*.json'))):
        name = osp.splitext(osp.basename(path))[0]
        command = load_report(DOCS, name).get('command') or ''
        assert not outside.findall(command), (
            f'docs/benchmarks/{name}.json quotes {outside.findall(command)}, '
            'files of the machine it ran on: quote paths in the repository '
            '(work_dirs/...) and the commands that make them.')


@pytest.mark.parametrize('module', [headline, lr_finder, auto_epochs,
                                    pretrained, tricks],
                         ids=lambda m: m.NAME)
def test_every_table_is_scored_on_test(module):
    from benchmarks.report import SCORED_ON, VAL_RULE_LABEL
    payload = load_report(DOCS, module.NAME)
    assert payload['scored_on'] == SCORED_ON
    assert VAL_RULE_LABEL not in module.render(payload)


@pytest.mark.parametrize('module', [headline, auto_epochs, tricks],
                         ids=lambda m: m.NAME)
def test_runs_kept_from_before_the_test_split_say_they_were_scored_on_val(
        module):
    # kept apart for the datasets the re-measurement did not cover (mnist)
    from benchmarks.report import VAL_RULE_LABEL
    name = module.NAME + '_val_rule'
    payload = load_report(DOCS, name)
    assert 'scored_on' not in payload  # stored under the old rule
    text = module.render(payload)
    assert text.startswith(VAL_RULE_LABEL)
    assert committed_md(name).startswith(VAL_RULE_LABEL)


def test_render_readme_still_renders_the_committed_headline_json():
    import render_readme
    from benchmarks.report import VAL_RULE_LABEL
    payload = load_report(DOCS, 'benchmark_val_rule')
    table = render_readme.RENDERERS['benchmark'](payload)
    assert table.startswith(VAL_RULE_LABEL)
    auto = payload['summaries'][0]['recipes']['auto']
    assert f'| {payload["summaries"][0]["dataset"]} | auto | ' \
        f'{auto["top1"]:.2f}' in table
    # the README's table is the re-measured one, scored on test
    with open(render_readme.README) as f:
        rendered = render_readme.render(f.read())
    assert VAL_RULE_LABEL not in rendered
    assert '| auto | 93.33 ± 1.67 |' in rendered


def _scored(test, val, epochs=10, lr=0.1, **extra):
    from benchmarks.train import score_result
    result = score_result(val, test, [0, 1], [1.0], [(epochs, val)], 10.0,
                          epochs, lr)
    result.update(extra)
    return result


def test_auto_epochs_picks_the_best_budget_by_val_and_reports_test():
    fixed = {10: _scored(99.0, 95.0, 10), 30: _scored(96.0, 98.0, 30)}
    autos = dict(anneal=_scored(97.0, 99.0, 20, finder_seconds=1.0))
    summary = auto_epochs.summarise('digits', fixed, autos)
    assert summary['best_budget'] == 30  # by val, though 10 wins on test
    assert summary['auto']['anneal']['gap_to_best'] == pytest.approx(-1.0)
    text = auto_epochs.render(dict(
        scored_on='test', budgets=[10, 30], cap=30, command='cmd',
        policies=dict(anneal={}), summaries=[summary]))
    assert 'Scored on val' not in text and '**test top-1**' in text
    assert '| anneal | 20 / 97.00 (99.00; 99.00) / 9 s | -1.00 |' in text


def test_lr_finder_picks_the_best_grid_lr_by_val_and_reports_test():
    from benchmarks.lr_finder import GRID
    grid = [_scored(90.0, 90.0, lr=lr) for lr in GRID]
    grid[1] = _scored(99.0, 91.0, lr=GRID[1])  # best on test only
    grid[2] = _scored(95.0, 97.0, lr=GRID[2])
    finder = [_scored(94.0, 96.0, lr=0.02, finder_seconds=1.0,
                      finder_steps=10, fallback=None)]
    curves = [dict(suggestions=dict(midpoint=0.02))]
    summary = lr_finder.summarise('digits', grid, finder, curves)
    assert summary['best_grid_lr'] == GRID[2]
    assert summary['gap_to_best'] == pytest.approx(1.0)  # on test
    text = lr_finder.render(dict(scored_on='test', epochs=10, seeds=1,
                                 command='cmd', summaries=[summary]))
    assert '| 94.00 (96.00) | 0.0243 | 95.00 (97.00) | +1.00 |' in text


def test_tricks_pretrained_and_bag_of_tricks_report_test_with_val():
    from benchmarks import bag_of_tricks
    results = [dict(_scored(97.0, 98.0), row='stock', dataset='digits'),
               dict(_scored(98.0, 97.0), row='+ zero-gamma',
                    dataset='digits')]
    text = tricks.render(dict(scored_on='test', command='cmd',
                              results=results))
    assert '| + zero-gamma | 98.00 (+1.00) [97.00] / 10 s |' in text
    runs = dict(pretrained=_scored(99.0, 98.0), scratch=_scored(90.0, 92.0))
    text = pretrained.render(dict(
        scored_on='test', cap=10, image_size=32, command='cmd',
        summaries=[pretrained.summarise('digits', runs)]))
    assert '| digits | 99.00 (98.00) / 10 / 10 s / 0.1 | 90.00 (92.00)' \
        in text and '+9.00 |' in text
    text = bag_of_tricks.render(dict(
        scored_on='test', dataset='digits', epochs=10, seeds=[0],
        command='cmd', results=dict(recipe=[_scored(97.0, 98.0)])))
    assert '| recipe (all three parts) | 97.00 | 97.00 | 98.00 | 10 |' in text


def test_short_command_leaves_out_only_where_things_go():
    from benchmarks.report import short_command
    assert short_command(
        'python tools/benchmark.py headline --data lfw_faces digits '
        '--cache /w/c.jsonl --out=/w/o --work-dir /w/d --no-overhead') == \
        'python tools/benchmark.py headline --data lfw_faces digits ' \
        '--no-overhead'
