"""The operating point on a 2-class imbalanced set (issue 28): the recipe
as shipped (``operating_point='auto'``: the minority class's macro-F1
threshold, chosen on val at the end of training), and the
``dict(cls=..., min_recall=0.9)`` threshold chosen on the same val scores,
against argmax: the class's **test** recall and the precision it costs.

Each seed trains ``configs/auto_mbv3.py`` once (its own epoch policy and
cap); the ``auto`` threshold is the one the run's OperatingPointHook stored
in the model; the min-recall one comes from the same rule functions on the
same val scores of the same weights (no second training: the threshold
does not change the weights). The report is rewritten after every seed.
"""
import math
import os.path as osp
from typing import Callable, Dict, List, Optional

import numpy as np

from .report import SCORED_ON, write_report
from .run_cache import RunCache
from .runs import bundled_config, run_cache_key

NAME = 'operating_point'
DATASET = 'elpv_poly'
CLASS = 'defective'
MIN_RECALL = 0.9
GOAL = ('the defective class\'s test recall at the chosen threshold against '
        'argmax, with the precision it costs, over 3 seeds')


def _scores(runner, loader):
    from mmtricks.hooks.operating_point_hook import val_scores
    return val_scores(runner.model, loader)


def score_seed(runner, result: Dict, class_name: str = CLASS,
               min_recall: float = MIN_RECALL) -> Dict:
    """The operating points of a trained runner, on val and test."""
    from mmtricks.models.model_state import unwrap_model
    from mmtricks.models.operating_point import (OperatingRule,
                                                 at_threshold_and_argmax,
                                                 choose_operating_point)
    classes = list(runner.val_dataloader.dataset.metainfo['classes'])
    index = classes.index(class_name)
    val, val_labels = _scores(runner, runner.val_dataloader)
    test, test_labels = _scores(runner, runner.test_dataloader)
    stored_index, stored = unwrap_model(runner.model).operating_threshold
    points = {}
    recall_point, line, _ = choose_operating_point(
        val, val_labels, OperatingRule(index, class_name, min_recall))
    for arm, threshold, why in (
            ('auto', stored if stored_index == index else None,
             'stored by the run (operating_point=\'auto\')'),
            (f'min_recall_{min_recall:g}', recall_point.threshold, line)):
        if threshold is None:
            points[arm] = dict(threshold=None, why=why)
            continue
        points[arm] = dict(
            threshold=float(threshold), why=why,
            val={k: 100.0 * v for k, v in at_threshold_and_argmax(
                val, val_labels, index, threshold).items()},
            test={k: 100.0 * v for k, v in at_threshold_and_argmax(
                test, test_labels, index, threshold).items()})
    return dict(result, operating_points=points, classes=classes,
                val_images=int(len(val_labels)),
                test_images=int(len(test_labels)),
                test_class_images=int(np.sum(test_labels == index)))


def train_seed(cfg) -> Dict:
    from .train import train_and_score
    result, runner = train_and_score(cfg)
    return score_seed(runner, result)


def _mean_sd(values: List[float]) -> Dict:
    values = [v for v in values if v is not None]
    if not values:
        return dict(mean=None, sd=None, n=0)
    mean = float(np.mean(values))
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return dict(mean=mean, sd=sd, n=len(values))


def summarise(runs: List[Dict]) -> Dict:
    """Mean and sd over seeds of each arm's test recall, precision and
    top-1, and of their change against argmax."""
    arms = sorted({arm for r in runs for arm in r['operating_points']})
    summary = {}
    for arm in arms:
        cells = [r['operating_points'][arm] for r in runs
                 if r['operating_points'].get(arm, {}).get('test')]
        summary[arm] = {
            key: _mean_sd([c['test'][key] for c in cells])
            for key in ('recall', 'argmax_recall', 'precision',
                        'argmax_precision', 'top1', 'argmax_top1')}
        for what in ('recall', 'precision', 'top1'):
            summary[arm][f'{what}_change'] = _mean_sd(
                [c['test'][what] - c['test'][f'argmax_{what}']
                 for c in cells])
        summary[arm]['threshold'] = _mean_sd([c['threshold'] for c in cells])
    return summary


def _cell(stat: Dict, signed: bool = False) -> str:
    if stat['mean'] is None:
        return 'n/a'
    text = f'{stat["mean"]:+.1f}' if signed else f'{stat["mean"]:.1f}'
    return text + (f' ± {stat["sd"]:.1f}' if stat['sd'] is not None else '')


def _threshold_cell(stat: Dict) -> str:
    if stat['mean'] is None:
        return 'argmax'
    return f'{stat["mean"]:.3f}' + (f' ± {stat["sd"]:.3f}'
                                    if stat['sd'] is not None else '')


def render(payload: Dict) -> str:
    runs, summary = payload['runs'], payload['summary']
    lines = [
        f'# Operating point on {payload["dataset"]} ({payload["class"]!r})',
        '',
        f'Goal: {payload["goal"]}.',
        '',
        f'Command: `{payload["command"]}`',
        '',
        f'Machine: {payload["machine"]}. {payload.get("note", "")}',
        '',
        f'{len(runs)} seed(s) of {payload["seeds_planned"]} planned; '
        f'recipe `configs/auto_mbv3.py` at its own epoch policy (cap '
        f'{payload["cap"]}), scored on **test** (the threshold is chosen on '
        'val). Per cent; mean ± sd over seeds.',
        '',
        '| arm | threshold | test recall | argmax recall | change | test '
        'precision | argmax precision | change | top-1 change |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ]
    for arm, s in summary.items():
        lines.append(
            f'| {arm} | {_threshold_cell(s["threshold"])} '
            f'| {_cell(s["recall"])} | {_cell(s["argmax_recall"])} | '
            f'{_cell(s["recall_change"], True)} | {_cell(s["precision"])} | '
            f'{_cell(s["argmax_precision"])} | '
            f'{_cell(s["precision_change"], True)} | '
            f'{_cell(s["top1_change"], True)} |')
    lines += ['', '## Per seed', '',
              '| seed | epochs | arm | threshold | val recall (argmax) | '
              'test recall (argmax) | test precision (argmax) | test top-1 '
              '(argmax) |',
              '| --- | --- | --- | --- | --- | --- | --- | --- |']
    for run in runs:
        for arm, p in run['operating_points'].items():
            if p.get('test') is None:
                lines.append(f'| {run["seed"]} | {run["epochs"]} | {arm} | '
                             f'argmax ({p["why"]}) | | | | |')
                continue
            v, t = p['val'], p['test']
            lines.append(
                f'| {run["seed"]} | {run["epochs"]} | {arm} | '
                f'{p["threshold"]:.3f} | {v["recall"]:.1f} '
                f'({v["argmax_recall"]:.1f}) | {t["recall"]:.1f} '
                f'({t["argmax_recall"]:.1f}) | {t["precision"]:.1f} '
                f'({t["argmax_precision"]:.1f}) | {t["top1"]:.1f} '
                f'({t["argmax_top1"]:.1f}) |')
    if runs:
        r = runs[0]
        lines += ['', f'Test: {r["test_images"]} images, '
                  f'{r["test_class_images"]} {payload["class"]!r}; val: '
                  f'{r["val_images"]} images.']
    return '\n'.join(lines) + '\n'


def run_benchmark(seeds: List[int], cap: int, out: str, work_dir: str,
                  command: str, machine: str,
                  cache: Optional[RunCache] = None, note: str = '',
                  progress: Optional[Callable] = None) -> Dict:
    """Train each seed (or take it from ``cache``), score its operating
    points, rewrite the report after each."""
    cache = cache if cache is not None else RunCache()
    runs = []
    payload = {}
    for seed in seeds:
        cfg = bundled_config(DATASET, cap, seed,
                             osp.join(work_dir, f'{DATASET}_{seed}'),
                             auto_epochs=True)
        key = run_cache_key(cfg, benchmark=NAME, dataset=DATASET, seed=seed)
        result = cache.get_or_run(key, lambda: train_seed(cfg))
        runs.append(dict(result, seed=seed))
        payload = dict(
            dataset=DATASET, **{'class': CLASS}, goal=GOAL, command=command,
            machine=machine, note=note, cap=cap, seeds_planned=len(seeds),
            scored_on=SCORED_ON,
            runs=[{k: v for k, v in r.items()
                   if k in ('seed', 'epochs', 'seconds', 'test_top1',
                            'val_top1', 'operating_points', 'classes',
                            'val_images', 'test_images', 'test_class_images',
                            'lr')} for r in runs])
        payload['summary'] = summarise(payload['runs'])
        write_report(out, NAME, payload, render)
        if progress is not None:
            progress(f'seed {seed}: {math.floor(result["seconds"])} s')
    return payload
