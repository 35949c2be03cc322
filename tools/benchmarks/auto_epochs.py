"""Benchmark: the automatic epoch policy against fixed cosine budgets.

For each dataset the automatic runs go first: the LR finder picks the LR
(the same for every policy, since it runs before training on the same seed
and does not depend on the budget), and ``AutoEpochsHook`` with each
candidate setting decays and stops within the largest budget as its cap.
The fixed runs then train warmup + cosine over each budget at that LR.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

from .report import write_report
from .runs import bundled_config, cached_train

NAME = 'auto_epochs'

# Candidate policies compared by the benchmark (AutoEpochsHook arguments).
POLICIES = {
    'step': dict(mode='step'),
    'anneal': dict(mode='anneal'),
    'step_p5': dict(mode='step', patience=5),
    'anneal_p5': dict(mode='anneal', patience=5, min_anneal=5),
    'anneal_p5_x2': dict(mode='anneal', patience=5, min_anneal=5,
                         anneal_ratio=2.0),
}


def summarise(dataset: str, fixed: Dict[int, Dict],
              autos: Dict[str, Dict]) -> Dict:
    best_budget = max(fixed, key=lambda e: (fixed[e]['top1'], -e))
    best = fixed[best_budget]
    return dict(
        dataset=dataset,
        fixed={str(e): r for e, r in fixed.items()},
        best_budget=best_budget,
        auto={name: dict(
            run, gap_to_best=float(best['top1'] - run['top1']),
            epoch_share_of_best=float(run['epochs'] / best_budget))
            for name, run in autos.items()},
    )


def render(payload: Dict) -> str:
    """The markdown of an ``auto_epochs.json`` payload.

    Args:
        payload: What :func:`run_benchmark` stores as JSON.
    """
    return markdown(payload['summaries'], payload['budgets'], payload['cap'],
                    payload['policies'], payload['command'])


def markdown(summaries: List[Dict], budgets: Sequence[int], cap: int,
             policies: Dict[str, dict], command: str) -> str:
    lines = [
        'Automatic epochs vs fixed cosine budgets: MobileNetV3-small from '
        f'scratch, `configs/auto_mbv3.py`, LR from the finder, cap {cap} '
        f'epochs. Command: `{command}`. Top-1 is what each run ships: the '
        'final weights of a fixed budget, the best validated weights of an '
        'automatic run (best-of-validations of the fixed runs in brackets: '
        'the same selection on the validation set). Time excludes the LR '
        'test. Policies: ' + '; '.join(
            f'`{n}` = `{a}`' for n, a in policies.items()) + '.', '',
        '| dataset | ' + ' | '.join(f'{e} ep: top-1 / time' for e in budgets)
        + ' | policy | auto: epochs / top-1 / time | gap to best fixed '
        '| epochs vs best fixed |',
        '| --- ' * (len(budgets) + 5) + '|',
    ]
    for s in summaries:
        cells = [f'{s["fixed"][str(e)]["top1"]:.2f} '
                 f'({s["fixed"][str(e)]["best_top1"]:.2f}) / '
                 f'{s["fixed"][str(e)]["seconds"]:.0f} s' for e in budgets]
        for i, (name, a) in enumerate(s['auto'].items()):
            fixed_cells = cells if i == 0 else [''] * len(budgets)
            lines.append(
                f'| {s["dataset"] if i == 0 else ""} | ' +
                ' | '.join(fixed_cells) +
                f' | {name} | {a["epochs"]} / {a["top1"]:.2f} / '
                f'{a["seconds"] - a.get("finder_seconds", 0):.0f} s '
                f'| {a["gap_to_best"]:+.2f} | '
                f'{100 * a["epoch_share_of_best"]:.0f}% of '
                f'{s["best_budget"]} |')
    return '\n'.join(lines) + '\n'


def run_benchmark(datasets, budgets, cap, out_dir, work_root, command,
                  progress=print, seed=0, policies: Optional[dict] = None,
                  cache=None):
    policies = policies or POLICIES
    summaries = []
    for dataset in datasets:
        autos = {}
        for name, args in policies.items():
            cfg = bundled_config(dataset, cap, seed,
                                 osp.join(work_root, f'{dataset}_auto_{name}'),
                                 auto_epochs=True, auto_args=args)
            autos[name] = cached_train(cache, cfg, dataset=dataset,
                                       policy=name, cap=cap, seed=seed)
            progress(f'{dataset} auto ({name}): {autos[name]["epochs"]} '
                     f'epochs, top-1 {autos[name]["top1"]:.2f}')
        lr = next(iter(autos.values()))['lr']
        fixed = {}
        for epochs in budgets:
            cfg = bundled_config(dataset, epochs, seed, osp.join(
                work_root, f'{dataset}_fixed_{epochs}'), lr=lr, finder=False)
            fixed[epochs] = cached_train(cache, cfg, dataset=dataset, lr=lr,
                                         epochs=epochs, seed=seed)
            progress(f'{dataset} fixed {epochs} epochs: top-1 '
                     f'{fixed[epochs]["top1"]:.2f}')
        summaries.append(summarise(dataset, fixed, autos))
        write_report(out_dir, NAME, dict(
            budgets=list(budgets), cap=cap, command=command,
            policies=policies, summaries=summaries), render)
    return summaries
