"""The headline benchmark's report: markdown table, bar chart, and the
JSON they are rendered from (``benchmark.{json,md,png}``)."""
import os.path as osp
from typing import Dict, List, Optional

from ..lr_finder import GRID
from ..report import write_report
from .plan import BATCH, RECIPES
from .summary import goals, is_complete

NAME = 'benchmark'


def markdown(summaries: List[Dict], overhead: Optional[Dict],
             command: str, machine: str) -> str:
    """The results table, the goals per dataset and the overhead table."""
    lines = [
        f'Command: `{command}`. Machine: {machine}. Top-1 is what each recipe '
        'ships (mean ± sd over seeds where more than one ran); time is wall '
        'time including the LR test; compute is relative to the oracle\'s '
        'whole search (time, and epochs in brackets).', '',
        '| dataset | recipe | top-1 | runs | epochs | time | compute vs oracle search |',
        '| --- | --- | --- | --- | --- | --- | --- |',
    ]
    for s in summaries:
        for recipe, r in s['recipes'].items():
            detail = ''
            if recipe == 'oracle':
                b = s['oracle_best']
                detail = f' (best: lr {b["lr"]:.2g}, {b["epochs"]} ep)'
                if not is_complete(r):
                    detail += (f', PARTIAL: {r["runs"]} of '
                               f'{r["planned_runs"]} runs')
            compute = '' if 'compute_vs_oracle' not in r else (
                f'{100 * r["compute_vs_oracle"]:.1f}% '
                f'({100 * r["epochs_vs_oracle"]:.1f}%)')
            sd = f' ± {r["top1_sd"]:.2f}' if r['runs'] > 1 and \
                recipe != 'oracle' else ''
            lines.append(
                f'| {s["dataset"]} | {recipe}{detail} | {r["top1"]:.2f}{sd} '
                f'| {r["runs"]} | {r["epochs"]:.0f} | {r["seconds"]:.0f} s '
                f'| {compute} |')
    lines += ['', '| dataset | ' + ' | '.join(goals(summaries[0])) + ' |',
              '| --- ' * 4 + '|']
    for s in summaries:
        marks = ['not run' if v is None else ('yes' if v else 'no')
                 for v in goals(s).values()]
        lines.append(f'| {s["dataset"]} | ' + ' | '.join(marks) + ' |')
    if overhead:
        lines += ['', overhead_markdown(overhead)]
    return '\n'.join(lines) + '\n'


def _hook_time_lines(overhead: Dict) -> List[str]:
    by_hook = overhead.get('hook_seconds_per_iter')
    if not by_hook:
        return []
    plain = overhead['seconds_per_iter']['plain']
    total = sum(by_hook.values())
    parts = ', '.join(f'{name} {1e3 * sec:.3f} ms'
                      for name, sec in sorted(by_hook.items(),
                                              key=lambda kv: -kv[1]))
    return ['', f'Time inside mmtricks\' hooks (timed in them, training '
            f'events, the LR test apart): {1e3 * total:.3f} ms per '
            f'iteration, {100 * total / plain:.2f}% of the iteration '
            f'without them ({parts}).']


def overhead_markdown(overhead: Dict) -> str:
    """The per-iteration cost of mmtricks as a table and two sentences."""
    return '\n'.join([
        f'Cost of mmtricks per training iteration on {overhead["dataset"]} '
        f'(batch {BATCH}, 32 px; the median of {overhead["iters"]} '
        'iterations after warm-up, the fastest of '
        f'{overhead.get("repeats", 1)} turns; one process alone):', '',
        '| recipe | s / iteration | vs auto_mbv3 without mmtricks hooks |',
        '| --- | --- | --- |',
    ] + [f'| {name} | {sec:.4f} | '
         f'{100 * (sec / overhead["seconds_per_iter"]["plain"] - 1):+.1f}% |'
         for name, sec in overhead['seconds_per_iter'].items()
    ] + _hook_time_lines(overhead) + [
        '', f'Apart from that: the LR test took {overhead["lr_test_seconds"]:.1f} s '
        f'once per run; precise BN statistics take '
        f'{overhead["precise_bn_seconds"]:.2f} s per validation; SAM (not in '
        'the auto recipe) doubles the forward and backward passes by design.'])


def plot(summaries: List[Dict], path: str) -> None:
    """A bar chart of each recipe's top-1 per dataset, saved to ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    recipes = [r for r in RECIPES
               if any(r in s['recipes'] for s in summaries)]
    width = 0.8 / len(recipes)
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(summaries), 3.6), dpi=100)
    for i, recipe in enumerate(recipes):
        xs, ys, errs = [], [], []
        for j, s in enumerate(summaries):
            row = s['recipes'].get(recipe)
            if row and (recipe != 'oracle' or is_complete(row)):
                xs.append(j + (i - (len(recipes) - 1) / 2) * width)
                ys.append(s['recipes'][recipe]['top1'])
                errs.append(s['recipes'][recipe]['top1_sd'])
        ax.bar(xs, ys, width, yerr=errs, label=recipe, capsize=2)
    ax.set_xticks(range(len(summaries)))
    ax.set_xticklabels([s['dataset'] for s in summaries])
    low = min(r['top1'] for s in summaries for r in s['recipes'].values())
    ax.set_ylim(max(0, low - 5), 100)
    ax.set_ylabel('top-1 (%)')
    ax.legend(fontsize=8, loc='lower right')
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def render(payload: Dict) -> str:
    """The markdown of a ``benchmark.json`` payload.

    Args:
        payload: What :func:`write` stores as JSON.
    """
    return markdown(payload['summaries'], payload['overhead'],
                    payload['command'], payload['machine'])


def write(summaries: List[Dict], overhead: Optional[Dict], out_dir: str,
          command: str, machine: str, budgets, seeds: int) -> None:
    """``benchmark.json``, ``benchmark.md`` and ``benchmark.png`` in
    ``out_dir``.

    Args:
        summaries: One per dataset (``summary.summarise``).
        overhead: The per-iteration cost (``timing.measure_overhead``), or
            None when not measured.
        out_dir: The folder.
        command: The command line, quoted in the table.
        machine: The machine, quoted in the table.
        budgets: The oracle's epoch budgets.
        seeds: Seeds of the automatic recipes.
    """
    write_report(out_dir, NAME, dict(
        command=command, machine=machine, oracle_budgets=list(budgets),
        oracle_lrs=list(GRID), seeds=seeds, summaries=summaries,
        overhead=overhead), render)
    plot(summaries, osp.join(out_dir, f'{NAME}.png'))
