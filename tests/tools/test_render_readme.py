"""The README's result tables are rendered from docs/benchmarks/*.json."""
import json
import os.path as osp
import shutil

import pytest
import render_readme


def test_readme_tables_equal_their_json():
    assert render_readme.main(['--check']) == 0, (
        'README.md differs from docs/benchmarks/*.json: run '
        'python tools/render_readme.py')


def test_readme_has_the_headline_table():
    with open(render_readme.README) as f:
        assert '<!-- table: benchmark -->' in f.read()


def test_a_changed_number_in_the_json_changes_the_readme(tmp_path):
    # The check can fail: one number edited in the JSON shows up.
    for name in ('benchmark.json', 'input_size.json'):
        shutil.copy(osp.join(render_readme.RESULTS, name), tmp_path)
    with open(render_readme.README) as f:
        readme = f.read()
    assert render_readme.render(readme, str(tmp_path)) == readme
    payload = json.loads((tmp_path / 'benchmark.json').read_text())
    recipe = payload['summaries'][0]['recipes']['auto']
    recipe['test_top1'] = recipe['test_top1'] - 12.34
    (tmp_path / 'benchmark.json').write_text(json.dumps(payload))
    changed = render_readme.render(readme, str(tmp_path))
    assert changed != readme
    assert f'{recipe["test_top1"]:.2f}' in changed


def test_unknown_table_is_a_clear_error():
    with pytest.raises(KeyError, match='no renderer'):
        render_readme.render('<!-- table: nope -->\nx\n<!-- /table -->')
