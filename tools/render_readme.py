"""Render the README's result tables from ``docs/benchmarks/*.json``.

A table in the README sits between two markers naming its JSON::

    <!-- table: benchmark -->
    ...rendered, never edited by hand...
    <!-- /table -->

``python tools/render_readme.py`` rewrites every such block from its JSON;
``--check`` exits 1 (naming the table) when the README differs, which
``tests/tools/test_render_readme.py`` runs, so no number in the README can
drift from the stored results.
"""
import argparse
import os.path as osp
import re
import sys
from typing import Callable, Dict

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from benchmarks import REPO  # noqa: E402
from benchmarks.headline.render import markdown as headline_markdown  # noqa: E402
from benchmarks.input_size import render as input_size_markdown  # noqa: E402
from benchmarks.report import load_report  # noqa: E402

RESULTS = osp.join(REPO, 'docs', 'benchmarks')
README = osp.join(REPO, 'README.md')
BLOCK = re.compile(r'(<!-- table: (\w+) -->\n)(.*?)(<!-- /table -->)', re.S)


def _headline(payload: Dict) -> str:
    # The README shows results and goals; the oracle's grid and the
    # per-iteration cost stay in docs/benchmarks/benchmark.md.
    return headline_markdown(payload['summaries'], None, payload['command'],
                             payload['machine'], grid=False, compact=True)


def _input_size(payload: Dict) -> str:
    return input_size_markdown(payload, compact=True)


RENDERERS: Dict[str, Callable[[Dict], str]] = {
    'benchmark': _headline, 'input_size': _input_size}


def render(text: str, results_dir: str = RESULTS) -> str:
    """``text`` with every table block re-rendered from its JSON.

    Args:
        text: README content.
        results_dir: Where the ``NAME.json`` files are.
    """
    def one(match):
        name = match.group(2)
        if name not in RENDERERS:
            raise KeyError(f'README names table {name!r}, which has no '
                           f'renderer; known: {sorted(RENDERERS)}')
        body = RENDERERS[name](load_report(results_dir, name))
        return match.group(1) + body + match.group(4)
    return BLOCK.sub(one, text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true',
                        help='exit 1 if the README differs from the JSON')
    args = parser.parse_args(argv)
    with open(README) as f:
        text = f.read()
    rendered = render(text)
    if args.check:
        if rendered != text:
            print('README.md tables differ from docs/benchmarks/*.json: run '
                  'python tools/render_readme.py')
            return 1
        return 0
    with open(README, 'w') as f:
        f.write(rendered)
    return 0


if __name__ == '__main__':
    sys.exit(main())
