"""Benchmark: the automatic epoch policy against fixed cosine budgets.

Every run starts from the LR the finder picks (the finder runs in each, on
the same seed, so it picks the same LR); the fixed runs follow warmup +
cosine over their budget, the automatic run warms up and then lets
``AutoEpochsHook`` decay and stop within the largest budget as its cap.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence

from .common import bundled_config, train_once


def summarise(dataset: str, fixed: Dict[int, Dict], auto: Dict) -> Dict:
    best_budget = max(fixed, key=lambda e: (fixed[e]['top1'], -e))
    best = fixed[best_budget]
    return dict(
        dataset=dataset,
        fixed={str(e): r for e, r in fixed.items()},
        auto=auto,
        best_budget=best_budget,
        gap_to_best=float(best['top1'] - auto['top1']),
        epoch_share_of_best=float(auto['epochs'] / best_budget),
    )


def markdown(summaries: List[Dict], budgets: Sequence[int], cap: int,
             command: str) -> str:
    lines = [
        'Automatic epochs vs fixed cosine budgets: MobileNetV3-small from '
        f'scratch, `configs/auto_mbv3.py`, LR from the finder, cap {cap} '
        f'epochs. Command: `{command}`. Top-1 is what each run ships: the '
        'final weights of a fixed budget, the best validated weights of the '
        'automatic run (best-of-validations of the fixed runs in brackets: '
        'the same selection on the validation set).', '',
        '| dataset | ' + ' | '.join(f'{e} ep: top-1 / time' for e in budgets)
        + ' | auto: epochs / top-1 / time | gap to best fixed | epochs vs best fixed |',
        '| --- ' * (len(budgets) + 4) + '|',
    ]
    for s in summaries:
        cells = [f'{s["fixed"][str(e)]["top1"]:.2f} '
                 f'({s["fixed"][str(e)]["best_top1"]:.2f}) / '
                 f'{s["fixed"][str(e)]["seconds"]:.0f} s' for e in budgets]
        a = s['auto']
        lines.append(
            f'| {s["dataset"]} | ' + ' | '.join(cells) +
            f' | {a["epochs"]} / {a["top1"]:.2f} / {a["seconds"]:.0f} s '
            f'| {s["gap_to_best"]:+.2f} | {100 * s["epoch_share_of_best"]:.0f}% '
            f'of {s["best_budget"]} |')
    return '\n'.join(lines) + '\n'


def run_benchmark(datasets, budgets, cap, out_dir, work_root, command,
                  progress=print, seed=0):
    os.makedirs(out_dir, exist_ok=True)
    summaries = []
    for dataset in datasets:
        fixed = {}
        for epochs in budgets:
            cfg = bundled_config(dataset, epochs, seed, osp.join(
                work_root, f'{dataset}_fixed_{epochs}'))
            fixed[epochs] = train_once(cfg)
            progress(f'{dataset} fixed {epochs} epochs: top-1 '
                     f'{fixed[epochs]["top1"]:.2f}')
        cfg = bundled_config(dataset, cap, seed,
                             osp.join(work_root, f'{dataset}_auto'),
                             auto_epochs=True)
        auto = train_once(cfg)
        progress(f'{dataset} auto: {auto["epochs"]} epochs, top-1 '
                 f'{auto["top1"]:.2f}')
        summaries.append(summarise(dataset, fixed, auto))
        with open(osp.join(out_dir, 'auto_epochs.json'), 'w') as f:
            json.dump(dict(budgets=list(budgets), cap=cap, command=command,
                           summaries=summaries), f, indent=1)
        with open(osp.join(out_dir, 'auto_epochs.md'), 'w') as f:
            f.write(markdown(summaries, budgets, cap, command))
    return summaries
