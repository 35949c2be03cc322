"""Benchmark: the LR the finder picks against a grid of fixed LRs.

Each run trains ``configs/auto_mbv3.py`` (MobileNetV3-small from scratch,
SGD, warmup + cosine, precise BN) for the same budget on a bundled dataset;
only the initial LR differs. The finder trains with seeds 100, 101, ...
(held out from the range-test study below, which chose the default rule).

The rules are compared on range tests alone (no training, seconds each):
``curve_seeds`` seeds per dataset, each rule's suggestions scored by their
spread and by the grid's accuracy at the LR they suggest (log-linear
interpolation).
"""
import math
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np

from .report import SCORED_ON, VAL_RULE_LABEL, scored_on_test, write_report
from .runs import bundled_config, cached_train

NAME = 'lr_finder'

FINDER_SEEDS_FROM = 100

# x3 apart, 0.0027 ... 0.66. A first 9-LR grid from 1e-4 (commit 7046dde,
# docs/benchmarks/lr_finder.md) put every bundled set 35-89 points below its
# best under 0.0027, so the search starts there.
GRID = tuple(1e-4 * 3**k for k in range(3, 9))


def accuracy_at(lr: float, grid: Sequence[float], accuracies: Sequence[float]):
    """Grid accuracy interpolated log-linearly at ``lr`` (clamped to the grid)."""
    if lr is None:
        return None
    return float(np.interp(math.log(lr), np.log(grid), accuracies))


def range_test_curves(dataset: str, seeds: int, work_root: str) -> List[Dict]:
    """The range test alone (no training) on ``seeds`` seeds."""
    from mmtricks.engine import build_runner_ready_to_train
    from mmtricks.hooks import LRFinderHook
    curves = []
    for seed in range(seeds):
        cfg = bundled_config(dataset, 10, seed, osp.join(
            work_root, f'{dataset}_curve_{seed}'), finder=False)
        runner = build_runner_ready_to_train(cfg)
        result = LRFinderHook(plot=False).find(runner)
        curves.append(dict(seed=seed, **{k: result[k] for k in (
            'lrs', 'losses', 'suggestions', 'seconds', 'steps')}))
    return curves


def summarise(dataset: str, grid_runs: List[Dict], finder_runs: List[Dict],
              curves: List[Dict]):
    """The finder against the grid: test top-1 of the shipped weights, val
    alongside; the best grid LR chosen by val.

    Args:
        dataset: The dataset's label.
        grid_runs: Scored runs (``train.score_result``), one per LR.
        finder_runs: Scored runs of the finder, one per seed.
        curves: Range tests (:func:`range_test_curves`).
    """
    grid_lrs = [r['lr'] for r in grid_runs]
    grid_top1 = [r['test_top1'] for r in grid_runs]
    grid_val = [r['val_top1'] for r in grid_runs]
    best = int(np.argmax(grid_val))  # the first of equals: the lowest LR
    finder_lrs = [r['lr'] for r in finder_runs]
    finder_top1 = [r['top1'] for r in finder_runs]
    train_seconds = [r['seconds'] - r['finder_seconds'] for r in finder_runs]
    rules = {}
    for rule in curves[0]['suggestions']:
        lrs = [c['suggestions'][rule] for c in curves]
        found = [lr for lr in lrs if lr is not None]
        scored = [accuracy_at(lr, grid_lrs, grid_top1) for lr in lrs]
        on_val = [accuracy_at(lr, grid_lrs, grid_val) for lr in lrs]
        rules[rule] = dict(
            lrs=lrs,
            spread=float(max(found) / min(found)) if found else None,
            interpolated_top1=None if None in scored else float(np.mean(scored)),
            worst_top1=None if None in scored else float(np.min(scored)),
            interpolated_val_top1=None if None in on_val else float(
                np.mean(on_val)))
    return dict(
        dataset=dataset, scored_on=SCORED_ON,
        grid=[dict(lr=lr, top1=t, test_top1=t, val_top1=v,
                   diverged=bool(r.get('diverged', False)))
              for lr, t, v, r in zip(grid_lrs, grid_top1, grid_val,
                                     grid_runs)],
        best_grid_lr=grid_lrs[best], best_grid_top1=grid_top1[best],
        best_grid_val_top1=grid_val[best],
        finder_lrs=finder_lrs, finder_top1=finder_top1,
        finder_val_top1=[r['val_top1'] for r in finder_runs],
        finder_top1_mean=float(np.mean(finder_top1)),
        finder_val_top1_mean=float(np.mean([r['val_top1']
                                            for r in finder_runs])),
        gap_to_best=float(grid_top1[best] - np.mean(finder_top1)),
        finder_lr_spread=float(max(finder_lrs) / min(finder_lrs)),
        finder_time_share=float(np.mean([
            r['finder_seconds'] / t for r, t in zip(finder_runs, train_seconds)])),
        finder_steps=[r['finder_steps'] for r in finder_runs],
        fallbacks=[r['fallback'] for r in finder_runs],
        rules=rules,
        grid_seconds=float(sum(r['seconds'] for r in grid_runs)),
        curves=curves,
    )


def render(payload: Dict) -> str:
    """The markdown of an ``lr_finder.json`` payload.

    Args:
        payload: What :func:`run_benchmark` stores as JSON.
    """
    if scored_on_test(payload):
        return markdown_test_rule(payload['summaries'], payload['epochs'],
                                  payload['command'])
    return VAL_RULE_LABEL + '\n\n' + markdown(
        payload['summaries'], payload['epochs'], payload['command'])


def _rules_table(summaries: List[Dict], score: str) -> List[str]:
    """The suggestion rules' table: ``score`` read off the grid at each
    rule's LR (mean, worst) and the LR's spread over seeds."""
    seeds = len(summaries[0]['curves'])
    lines = ['', f'Suggestion rules on range tests alone ({seeds} seeds per '
             f'dataset, seeds 0+): {score} read off the grid at the '
             'suggested LR (mean, worst) and the spread of the LR over '
             'seeds:', '',
             '| dataset | ' + ' | '.join(summaries[0]['rules']) + ' |',
             '| --- ' * (len(summaries[0]['rules']) + 1) + '|']
    for s in summaries:
        cells = []
        for rule in s['rules'].values():
            top1 = rule['interpolated_top1']
            cells.append('no answer' if top1 is None else
                         f'{top1:.2f}, {rule["worst_top1"]:.2f} / '
                         f'x{rule["spread"]:.2f}')
        lines.append(f'| {s["dataset"]} | ' + ' | '.join(cells) + ' |')
    return lines


def markdown_test_rule(summaries: List[Dict], epochs: int,
                       command: str) -> str:
    """The tables of runs scored on test (val alongside)."""
    lines = [
        f'LR finder vs a grid of fixed LRs: MobileNetV3-small from scratch, '
        f'{epochs} epochs, `configs/auto_mbv3.py`, grid on seed 0, finder '
        f'seeds {FINDER_SEEDS_FROM}+. Command: `{command}`. Top-1 is **test** '
        'top-1 of the final weights (val top-1 of the same weights in '
        'brackets); the best grid LR is chosen by val, the gap is on test.',
        '',
        '| dataset | finder LR (per seed) | LR spread | finder test (val) '
        '| best grid LR (by val) | its test (val) | best grid minus finder, '
        'test (negative: finder ahead) | finder time / training |',
        '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ]
    for s in summaries:
        lines.append(
            f'| {s["dataset"]} | {", ".join(f"{lr:.3g}" for lr in s["finder_lrs"])} '
            f'| x{s["finder_lr_spread"]:.2f} | {s["finder_top1_mean"]:.2f} '
            f'({s["finder_val_top1_mean"]:.2f}) '
            f'| {s["best_grid_lr"]:.3g} | {s["best_grid_top1"]:.2f} '
            f'({s["best_grid_val_top1"]:.2f}) '
            f'| {s["gap_to_best"]:+.2f} | {100 * s["finder_time_share"]:.1f}% |')
    lines += ['', 'Grid test top-1 (val) by LR; "diverged": a non-finite '
              'loss or val at chance:', '',
              '| dataset | ' + ' | '.join(f'{lr:.2g}' for lr in GRID) + ' |',
              '| --- ' * (len(GRID) + 1) + '|']
    for s in summaries:
        lines.append(f'| {s["dataset"]} | ' + ' | '.join(
            f'{g["test_top1"]:.1f} ({g["val_top1"]:.1f})' +
            (' diverged' if g['diverged'] else '') for g in s['grid']) + ' |')
    return '\n'.join(lines + _rules_table(summaries, 'test top-1')) + '\n'


def markdown(summaries: List[Dict], epochs: int, command: str) -> str:
    lines = [
        f'LR finder vs a grid of fixed LRs: MobileNetV3-small from scratch, '
        f'{epochs} epochs, `configs/auto_mbv3.py`, finder seeds '
        f'{FINDER_SEEDS_FROM}+. Command: `{command}`.', '',
        '| dataset | finder LR (per seed) | LR spread | finder top-1 | best grid LR | best grid top-1 | gap | finder time / training |',
        '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ]
    for s in summaries:
        lines.append(
            f'| {s["dataset"]} | {", ".join(f"{lr:.3g}" for lr in s["finder_lrs"])} '
            f'| x{s["finder_lr_spread"]:.2f} | {s["finder_top1_mean"]:.2f} '
            f'| {s["best_grid_lr"]:.3g} | {s["best_grid_top1"]:.2f} '
            f'| {s["gap_to_best"]:+.2f} | {100 * s["finder_time_share"]:.1f}% |')
    lines += ['', 'Grid top-1 by LR:', '',
              '| dataset | ' + ' | '.join(f'{lr:.2g}' for lr in GRID) + ' |',
              '| --- ' * (len(GRID) + 1) + '|']
    for s in summaries:
        lines.append(f'| {s["dataset"]} | ' + ' | '.join(
            f'{g["top1"]:.1f}' for g in s['grid']) + ' |')
    return '\n'.join(lines + _rules_table(summaries, 'top-1')) + '\n'


def run_benchmark(datasets, epochs, seeds, out_dir, work_root, command,
                  progress=print, cache=None, curve_seeds=6):
    summaries = []
    for dataset in datasets:
        grid_runs = []
        for lr in GRID:
            cfg = bundled_config(dataset, epochs, 0,
                                 osp.join(work_root, f'{dataset}_grid_{lr:.2g}'),
                                 lr=lr, finder=False)
            grid_runs.append(cached_train(cache, cfg, dataset=dataset,
                                          lr=lr, epochs=epochs, seed=0))
            progress(f'{dataset} grid lr={lr:.3g}: test top-1 '
                     f'{grid_runs[-1]["test_top1"]:.2f}')
        curves = range_test_curves(dataset, curve_seeds, work_root)
        progress(f'{dataset}: {curve_seeds} range tests done')
        finder_runs = []
        for seed in range(FINDER_SEEDS_FROM, FINDER_SEEDS_FROM + seeds):
            cfg = bundled_config(dataset, epochs, seed,
                                 osp.join(work_root, f'{dataset}_finder_{seed}'))
            finder_runs.append(cached_train(cache, cfg, dataset=dataset,
                                            finder=True, epochs=epochs,
                                            seed=seed))
            progress(f'{dataset} finder seed={seed}: lr='
                     f'{finder_runs[-1]["lr"]:.3g} test top-1 '
                     f'{finder_runs[-1]["test_top1"]:.2f}')
        summaries.append(summarise(dataset, grid_runs, finder_runs, curves))
        write_report(out_dir, NAME, dict(scored_on=SCORED_ON,
                                         epochs=epochs, seeds=seeds,
                                         command=command,
                                         summaries=summaries), render)
    return summaries
