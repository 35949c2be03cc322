"""Every committed table renders again from its committed JSON, through the
one writer the benchmarks share."""
import os.path as osp

import pytest

from benchmarks import auto_epochs, deploy, headline, lr_finder, pretrained
from benchmarks import tricks
from benchmarks.report import load_report, write_report
from conftest import REPO

DOCS = osp.join(REPO, 'docs', 'benchmarks')


def committed_md(name):
    with open(osp.join(DOCS, f'{name}.md')) as f:
        return f.read()


@pytest.mark.parametrize('module', [headline, lr_finder, auto_epochs, deploy],
                         ids=lambda m: m.NAME)
def test_committed_table_renders_from_its_json(module):
    payload = load_report(DOCS, module.NAME)
    assert module.render(payload) == committed_md(module.NAME)


@pytest.mark.parametrize('module', [pretrained, tricks], ids=lambda m: m.NAME)
def test_hand_annotated_tables_keep_every_rendered_row(module):
    # these two .md files carry a note added by hand after the run
    rows = [line for line in module.render(load_report(DOCS, module.NAME))
            .splitlines() if line.startswith('|')]
    assert len(rows) > 3
    text = committed_md(module.NAME)
    assert all(row in text for row in rows)


def test_writer_stores_the_json_the_markdown_is_rendered_from(tmp_path):
    payload = load_report(DOCS, 'lr_finder')
    text = write_report(str(tmp_path), 'lr_finder', payload,
                        lr_finder.render)
    assert load_report(str(tmp_path), 'lr_finder') == payload
    assert (tmp_path / 'lr_finder.md').read_text() == text == \
        lr_finder.render(payload)
