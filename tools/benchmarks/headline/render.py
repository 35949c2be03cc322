"""The headline benchmark's report: markdown table, bar chart, and the
JSON they are rendered from (``benchmark.{json,md,png}``)."""
import os.path as osp
from typing import Dict, List, Optional

from ..lr_finder import GRID
from ..report import VAL_RULE_LABEL, short_command, write_report
from .plan import BATCH, RECIPES
from .summary import GOALS, TIE, goals, is_complete, scored_on_test

NAME = 'benchmark'


def markdown(summaries: List[Dict], overhead: Optional[Dict],
             command: str, machine: str, grid: bool = True,
             compact: bool = False) -> str:
    """The results table, the goals per dataset, the oracle's grid and the
    overhead table. Summaries stored before the test split (scored on val)
    render as they did, labelled so.

    Args:
        summaries: One per dataset (``summary.summarise``).
        overhead: The per-iteration cost, or None.
        command: The command line, quoted.
        machine: The machine, quoted.
        grid: Include the oracle's grid (docs/benchmarks: yes; README: no).
        compact: The README's form: the command without its location flags
            and the method in one sentence (docs/benchmarks/benchmark.md
            has it in full).
    """
    if all(scored_on_test(s) for s in summaries):
        text = _markdown_test_rule(summaries, command, machine, grid,
                                   compact)
    elif not any(scored_on_test(s) for s in summaries):
        text = _markdown_val_rule(summaries, command, machine)
    else:
        raise ValueError('A report mixes summaries scored on test with '
                         'summaries scored on val; re-run the val-scored '
                         'datasets.')
    if overhead:
        text += '\n' + overhead_markdown(overhead) + '\n'
    return text


def _mark(value) -> str:
    if value is None:
        return 'not run'
    if value == TIE:
        return 'tie (both 100%)'
    return 'yes' if value else 'no'


def _pct(row: Dict, key: str) -> str:
    return f'{100 * row[key]:.1f}%' if key in row else '-'


def _markdown_test_rule(summaries: List[Dict], command: str,
                        machine: str, grid: bool = True,
                        compact: bool = False) -> str:
    preface = (
        f'Command: `{short_command(command)}`. Machine: {machine}. Test '
        'top-1 of the weights each recipe ships (mean ± sd over seeds), val '
        'alongside; compute against the oracle\'s whole search on seed 0: '
        'time (epochs).') if compact else (
        f'Command: `{command}`. Machine: {machine}. Every recipe is scored '
        'the same way: it may use val however it likes to decide (auto its '
        'epochs and weights, the oracle its cell, stock nothing: its final '
        'epoch), and **test top-1** is that of the weights it ships, on '
        'images no recipe chose on (mean ± sd over seeds); val top-1 of '
        'the same weights alongside. Time is wall time including the LR '
        'test; compute is relative to the oracle\'s whole search on seed 0 '
        '(time, and epochs in brackets), with its diverged cells and '
        'without them; the chosen cell\'s runs on the other seeds measure '
        'it and are not part of its cost.')
    lines = [
        preface, '',
        '| dataset | recipe | test top-1 | val top-1 | seeds | epochs '
        '| time | compute vs oracle search | without its diverged cells |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ]
    for s in summaries:
        for recipe, r in s['recipes'].items():
            detail = ''
            if recipe == 'oracle':
                b, c = s['oracle_best'], s['oracle_search']
                detail = (f' (cell by val: lr {b["lr"]:.2g}, {b["epochs"]} '
                          f'ep; search {c["runs"]} runs, '
                          f'{c["diverged_runs"]} diverged)')
            if not is_complete(r):
                detail += (f', PARTIAL: {r["runs"]} of '
                           f'{r["planned_runs"]} runs')
            sd = f' ± {r["test_top1_sd"]:.2f}' if len(r['seeds']) > 1                 else ''
            vsd = f' ± {r["val_top1_sd"]:.2f}' if len(r['seeds']) > 1                 else ''
            compute = '' if 'compute_vs_oracle' not in r else (
                f'{_pct(r, "compute_vs_oracle")} '
                f'({_pct(r, "epochs_vs_oracle")})')
            lean = '' if 'compute_vs_oracle' not in r else (
                f'{_pct(r, "compute_vs_oracle_without_diverged")} '
                f'({_pct(r, "epochs_vs_oracle_without_diverged")})')
            lines.append(
                f'| {s["dataset"]} | {recipe}{detail} '
                f'| {r["test_top1"]:.2f}{sd} | {r["val_top1"]:.2f}{vsd} '
                f'| {len(r["seeds"])} | {r["epochs"]:.0f} '
                f'| {r["seconds"]:.0f} s | {compute} | {lean} |')
    lines += ['', '| dataset | ' + ' | '.join(GOALS) + ' |',
              '| --- ' * (len(GOALS) + 1) + '|']
    for s in summaries:
        lines.append(f'| {s["dataset"]} | ' + ' | '.join(
            _mark(v) for v in goals(s).values()) + ' |')
    if grid:
        for s in summaries:
            lines += _grid_lines(s)
    return '\n'.join(lines) + '\n'


def _grid_lines(summary: Dict) -> List[str]:
    grid = summary.get('oracle_grid')
    if not grid:
        return []
    lrs = sorted({g['lr'] for g in grid})
    budgets = sorted({g['epochs'] for g in grid})
    cells = {(g['lr'], g['epochs']): g for g in grid}
    c = summary['oracle_search']
    short = ''
    if summary.get('auto_cap') and max(budgets) < summary['auto_cap']:
        short = (f' Its longest budget ({max(budgets)} epochs) is shorter '
                 f'than auto\'s cap ({summary["auto_cap"]}): a smaller '
                 'search than the claim\'s.')
    lines = ['', f'Oracle search on {summary["dataset"]} (seed 0): test '
             'top-1 (val) per LR and budget; "diverged" marks a cell whose '
             'loss went non-finite or whose val top-1 stayed at chance '
             f'(the majority class). Search: {c["seconds"]:.0f} s, '
             f'{c["epochs"]} epochs over {c["runs"]} runs; without its '
             f'{c["diverged_runs"]} diverged: '
             f'{c["seconds_without_diverged"]:.0f} s, '
             f'{c["epochs_without_diverged"]} epochs.' + short, '',
             '| epochs | ' + ' | '.join(f'lr {lr:.2g}' for lr in lrs) + ' |',
             '| --- ' * (len(lrs) + 1) + '|']
    for e in budgets:
        row = []
        for lr in lrs:
            g = cells.get((lr, e))
            row.append('-' if g is None else
                       f'{g["test_top1"]:.2f} ({g["val_top1"]:.2f})' +
                       (' diverged' if g['diverged'] else ''))
        lines.append(f'| {e} | ' + ' | '.join(row) + ' |')
    return lines


def _val_rule_goals(summary: Dict) -> Dict[str, Optional[bool]]:
    """The goals as they were computed on val (old payloads)."""
    rows = summary['recipes']
    auto, stock, oracle = (rows.get(k) for k in ('auto', 'stock', 'oracle'))
    if oracle and not is_complete(oracle):
        oracle = None
    return {
        'auto within 1.0 of the oracle': None if not (auto and oracle) else
        auto['top1'] >= oracle['top1'] - 1.0,
        'auto ahead of stock': None if not (auto and stock) else
        auto['top1'] > stock['top1'],
        'auto at most 1/10 of the oracle compute': None if not (
            auto and oracle) else auto['compute_vs_oracle'] <= 0.1,
    }


def _markdown_val_rule(summaries: List[Dict], command: str,
                       machine: str) -> str:
    lines = [
        VAL_RULE_LABEL, '',
        f'Command: `{command}`. Machine: {machine}. Top-1 is what each recipe '
        'ships (mean ± sd over seeds where more than one ran); time is wall '
        'time including the LR test; compute is relative to the oracle\'s '
        'whole search (time, and epochs in brackets).', '',
        '| dataset | recipe | val top-1 | runs | epochs | time | compute vs oracle search |',
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
    lines += ['', '| dataset | ' + ' | '.join(_val_rule_goals(summaries[0]))
              + ' |', '| --- ' * 4 + '|']
    for s in summaries:
        marks = ['not run' if v is None else ('yes' if v else 'no')
                 for v in _val_rule_goals(s).values()]
        lines.append(f'| {s["dataset"]} | ' + ' | '.join(marks) + ' |')
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
                ys.append(row['top1'])
                errs.append(row['top1_sd'])
        ax.bar(xs, ys, width, yerr=errs, label=recipe, capsize=2)
    ax.set_xticks(range(len(summaries)))
    ax.set_xticklabels([s['dataset'] for s in summaries])
    low = min(r['top1'] for s in summaries for r in s['recipes'].values())
    ax.set_ylim(max(0, low - 5), 100)
    ax.set_ylabel('test top-1 (%)' if all(scored_on_test(s)
                                          for s in summaries)
                  else 'val top-1 (%)')
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
        seeds: Seeds of every recipe (auto, stock, the oracle's cell).
    """
    write_report(out_dir, NAME, dict(
        command=command, machine=machine, scored_on='test',
        oracle_budgets=list(budgets), oracle_lrs=list(GRID), seeds=seeds,
        summaries=summaries,
        overhead=overhead), render)
    plot(summaries, osp.join(out_dir, f'{NAME}.png'))
