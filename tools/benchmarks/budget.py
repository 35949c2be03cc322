"""Benchmark: ``time_budget`` against its candidates and today's recipe.

Every run is a fresh ``python <MMPretrain>/tools/train.py`` process, as
``mim train`` starts it, so that its wall clock (timed here around the whole
process) counts what a user waits for: start-up, the planner's measurements,
the LR range test, training, validations and checkpoints. Rows per dataset:

- ``budget``: ``configs/auto_mbv3.py --cfg-options time_budget=B``;
- ``size N``: the same with ``image_size=N``: one candidate alone under the
  same budget (the planner then plans only its epochs, the way Ultralytics'
  ``time=`` fits epochs to the time), for the sizes the budget row could
  choose (``--sizes``);
- ``auto_mbv3``: the recipe without a budget, at its own time;
- with ``--recipes``, each other shipped recipe under the same budget:
  ``auto`` (``configs/auto.py``, which chooses the backbone too) is then
  the row judged, and ``auto_effnet_lite0`` and the ``budget`` row
  (``auto_mbv3``) are its candidates.

Each run is scored by the benchmarks' one rule: test top-1 (and macro-F1) of
the weights it ships (``best_auto_epochs.pth``), evaluated in this process.
Goals (issue 27): wall clock within +-10% of the budget; the budget row
within 1 point of the best candidate under the same budget.
"""
import glob
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

from . import shipped_config
from .report import SCORED_ON, write_report

NAME = 'budget'
TOLERANCE = 0.10


def train_command(dataset: str, work_dir: str, seed: int,
                  options: Sequence[str],
                  recipe: str = 'auto_mbv3.py') -> List[str]:
    import mmpretrain
    train = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools',
                     'train.py')
    data = [f'{loader}.dataset.bundled={dataset}' for loader in
            ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    return [sys.executable, train, shipped_config(recipe),
            '--work-dir', work_dir, '--cfg-options',
            f'randomness.seed={seed}', *data, *options]


def planned(log_text: str) -> Dict:
    """The plan the run logged: size, epochs (None without a budget)."""
    found = re.search(r'time budget [\d.]+ min: image_size at most (\d+), '
                      r'(\d+) epochs', log_text)
    size = re.search(r'Data decision: image_size (\d+)', log_text)
    stopped = re.findall(r'stopping at epoch (\d+)', log_text)
    return dict(size=int(size.group(1)) if size else None,
                planned_epochs=int(found.group(2)) if found else None,
                epochs=int(stopped[-1]) if stopped else None)


def score(work_dir: str, recipe: str = 'auto_mbv3.py') -> Dict[str, float]:
    """Test top-1 and macro-F1 of the weights the run shipped."""
    from mmengine.config import Config

    from mmtricks.engine import build_runner
    cfg = Config.fromfile(osp.join(work_dir, recipe))
    cfg.load_from = osp.join(work_dir, 'best_auto_epochs.pth')
    cfg.work_dir = osp.join(work_dir, 'scoring')
    cfg.pop('time_budget', None)
    metrics = build_runner(cfg).test()
    return dict(test_top1=float(metrics['accuracy/top1']),
                test_macro_f1=float(metrics['macro/f1-score']))


def run_one(dataset: str, row: str, budget: Optional[float], seed: int,
            work_root: str, options: Sequence[str],
            recipe: str = 'auto_mbv3.py') -> Dict:
    work = osp.join(work_root, dataset, f'{row.replace(" ", "_")}_'
                    f'{budget or "none"}_s{seed}')
    command = train_command(dataset, work, seed, options, recipe)
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.monotonic() - start
    logs = sorted(glob.glob(osp.join(work, '*', '*.log')))
    text = open(logs[-1]).read() if logs else ''
    out = dict(dataset=dataset, row=row, budget_min=budget, seed=seed,
               wall_s=round(wall, 1), exit_code=result.returncode,
               **planned(text))
    backbone = re.search(r'Chosen backbone (\S+)', text)
    if backbone:
        out['backbone'] = backbone.group(1)
    if result.returncode != 0:
        out['error'] = (result.stdout + result.stderr)[-600:]
        return out
    out.update(score(work, recipe))
    return out


#: Rows of the other recipes under a budget (``--recipes``).
RECIPE_ROWS = {'auto.py': 'auto', 'auto_effnet_lite0.py': 'auto_effnet_lite0'}
#: The row judged in a cell: ``auto`` when it ran, else ``budget``.
CHOOSERS = ('auto', 'budget')


def plan_runs(datasets, budgets, sizes, seeds, recipes=(),
              unbudgeted=True, first_seed: int = 0,
              budget_row: bool = True) -> List[tuple]:
    runs = []
    for dataset in datasets:
        for seed in range(first_seed, first_seed + seeds):
            if unbudgeted:
                runs.append((dataset, 'auto_mbv3', None, seed, []))
            for budget in budgets:
                for recipe in recipes:
                    runs.append((dataset, RECIPE_ROWS[recipe], budget, seed,
                                 [f'time_budget={budget}'], recipe))
                if budget_row:
                    runs.append((dataset, 'budget', budget, seed,
                                 [f'time_budget={budget}']))
                for size in sizes.get(dataset, ()):
                    runs.append((dataset, f'size {size}', budget, seed,
                                 [f'time_budget={budget}',
                                  f'image_size={size}']))
    return runs


def summarise(rows: List[Dict]) -> Dict:
    """Per dataset and budget: the wall-clock error and the gap to the
    best single candidate (test top-1)."""
    cells = {}
    for row in rows:
        if row.get('budget_min') is None or 'test_top1' not in row:
            continue
        key = f'{row["dataset"]} {row["budget_min"]:g} min' + (
            f', seed {row["seed"]}' if row.get('seed') else '')
        cell = cells.setdefault(key, [])  # one seed's rows are a cell
        cell.append(row)
    out = {}
    for key, cell in cells.items():
        judged = [r for name in CHOOSERS for r in cell if r['row'] == name]
        if not judged:
            continue
        budget = judged[0]
        cell = dict(candidates=[r for r in cell if r is not budget])
        wall_error = budget['wall_s'] / (60 * budget['budget_min']) - 1
        best = max(cell['candidates'], key=lambda r: r['test_top1'],
                   default=None)
        out[key] = dict(
            row=budget['row'], wall_error=round(wall_error, 3),
            wall_ok=abs(wall_error) <= TOLERANCE,
            best_candidate=best and best['row'],
            gap_to_best=None if best is None else
            round(budget['test_top1'] - best['test_top1'], 2))
    return out


def render(payload: Dict) -> str:
    lines = [
        'time_budget vs its candidates and `configs/auto_mbv3.py` without a '
        'budget. Every run is a fresh `tools/train.py` process (as `mim '
        'train`), wall clock timed around it; test top-1 and macro-F1 of the '
        'shipped weights (best validated). '
        f'Machine: {payload["machine"]}. Command: `{payload["command"]}`.'
        + (f' {payload["note"]}' if payload.get('note') else ''),
        '',
        '| dataset | budget | row | seed | image size | epochs (planned) | '
        'wall clock | vs budget | test top-1 | macro-F1 |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for r in payload['rows']:
        budget = r['budget_min']
        versus = '' if budget is None else \
            f'{100 * (r["wall_s"] / (60 * budget) - 1):+.0f}%'
        result = (f'{r["test_top1"]:.2f} | {r["test_macro_f1"]:.2f}'
                  if 'test_top1' in r else f'failed (exit {r["exit_code"]}) |')
        lines.append(
            f'| {r["dataset"]} | {"-" if budget is None else f"{budget:g} min"}'
            f' | {r["row"]} | {r["seed"]} | {r["size"]} | {r["epochs"]} '
            f'({r["planned_epochs"] or "-"}) | {r["wall_s"]:.0f} s | '
            f'{versus} | {result} |')
    lines += ['', 'Goals per cell (wall clock within +-10% of the budget; '
              'the row that chooses (auto where it ran, else budget) within '
              '1 point of the best candidate):', '']
    for key, cell in payload['summary'].items():
        gap = cell['gap_to_best']
        lines.append(
            f'- {key}: {cell.get("row", "budget")}: wall clock '
            f'{100 * cell["wall_error"]:+.0f}% '
            f'({"met" if cell["wall_ok"] else "missed"})' +
            ('' if gap is None else
             f'; vs best candidate ({cell["best_candidate"]}) {gap:+.2f} '
             f'points ({"met" if gap >= -1 else "missed"})'))
    return '\n'.join(lines) + '\n'


def run_benchmark(datasets, budgets, sizes: Dict[str, Sequence[int]],
                  seeds: int, out_dir: str, work_dir: str, command: str,
                  machine: str, progress=print, recipes=(),
                  unbudgeted=True, name: str = NAME,
                  first_seed: int = 0, budget_row: bool = True) -> Dict:
    rows = []
    for run in plan_runs(datasets, budgets, sizes, seeds, recipes,
                         unbudgeted, first_seed, budget_row):
        rows.append(run_one(*run[:4], work_dir, *run[4:]))
        progress(rows[-1])
        payload = dict(scored_on=SCORED_ON, command=command,
                       machine=machine, rows=rows, summary=summarise(rows))
        write_report(out_dir, name, payload, render)
    return payload
