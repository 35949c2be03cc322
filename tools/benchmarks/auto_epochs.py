"""Benchmark: the automatic epoch policy against fixed cosine budgets.

For each dataset the automatic runs go first: the LR finder picks the LR
(the same for every policy, since it runs before training on the same seed
and does not depend on the budget), and ``AutoEpochsHook`` with each
candidate setting decays and stops within the largest budget as its cap.
The fixed runs then train warmup + cosine over each budget at that LR.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

from .report import SCORED_ON, VAL_RULE_LABEL, scored_on_test, write_report
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
    """The best fixed budget (chosen by val top-1 of its shipped weights),
    and each policy's test top-1 gap to it.

    Args:
        dataset: The dataset's label.
        fixed: Scored runs (``train.score_result``) by budget.
        autos: Scored runs by policy name.
    """
    best_budget = max(fixed, key=lambda e: (fixed[e]['val_top1'], -e))
    best = fixed[best_budget]
    return dict(
        dataset=dataset, scored_on=SCORED_ON,
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
    if scored_on_test(payload):
        return markdown_test_rule(payload['summaries'], payload['budgets'],
                                  payload['cap'], payload['policies'],
                                  payload['command'])
    return VAL_RULE_LABEL + '\n\n' + markdown(
        payload['summaries'], payload['budgets'], payload['cap'],
        payload['policies'], payload['command'])


def markdown_test_rule(summaries: List[Dict], budgets: Sequence[int],
                       cap: int, policies: Dict[str, dict],
                       command: str) -> str:
    """The table of runs scored on test (val alongside)."""
    lines = [
        'Automatic epochs vs fixed cosine budgets: MobileNetV3-small from '
        f'scratch, `configs/auto_mbv3.py`, LR from the finder, cap {cap} '
        f'epochs, seed 0. Command: `{command}`. Each cell: **test top-1** of '
        'the weights the run ships (a fixed budget its final weights, an '
        'automatic run its best validated ones), then in brackets val top-1 '
        'of those weights; the best val of any of its epochs, the same '
        'best-epoch selection for every row. The best fixed budget is '
        'chosen by val; the gap is on test. Time excludes the LR test. '
        'Policies: ' + '; '.join(
            f'`{n}` = `{a}`' for n, a in policies.items()) + '.', '',
        '| dataset | ' + ' | '.join(
            f'{e} ep: test (val; best val) / time' for e in budgets)
        + ' | policy | auto: epochs / test (val; best val) / time '
        '| best fixed minus auto, test (negative: auto ahead) '
        '| epochs vs best fixed |',
        '| --- ' * (len(budgets) + 5) + '|',
    ]

    def scores(r):
        best = r.get('best_val_top1')
        return (f'{r["test_top1"]:.2f} ({r["val_top1"]:.2f}; '
                f'{"-" if best is None else f"{best:.2f}"})')

    for s in summaries:
        cells = [f'{scores(s["fixed"][str(e)])} / '
                 f'{s["fixed"][str(e)]["seconds"]:.0f} s' for e in budgets]
        for i, (name, a) in enumerate(s['auto'].items()):
            fixed_cells = cells if i == 0 else [''] * len(budgets)
            lines.append(
                f'| {s["dataset"] if i == 0 else ""} | ' +
                ' | '.join(fixed_cells) +
                f' | {name} | {a["epochs"]} / {scores(a)} / '
                f'{a["seconds"] - a.get("finder_seconds", 0):.0f} s '
                f'| {a["gap_to_best"]:+.2f} | '
                f'{100 * a["epoch_share_of_best"]:.0f}% of '
                f'{s["best_budget"]} |')
    return '\n'.join(lines) + '\n'


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
                     f'epochs, test top-1 {autos[name]["test_top1"]:.2f}')
        lr = next(iter(autos.values()))['lr']
        fixed = {}
        for epochs in budgets:
            cfg = bundled_config(dataset, epochs, seed, osp.join(
                work_root, f'{dataset}_fixed_{epochs}'), lr=lr, finder=False)
            fixed[epochs] = cached_train(cache, cfg, dataset=dataset, lr=lr,
                                         epochs=epochs, seed=seed)
            progress(f'{dataset} fixed {epochs} epochs: test top-1 '
                     f'{fixed[epochs]["test_top1"]:.2f}')
        summaries.append(summarise(dataset, fixed, autos))
        write_report(out_dir, NAME, dict(
            scored_on=SCORED_ON, budgets=list(budgets), cap=cap,
            command=command,
            policies=policies, summaries=summaries), render)
    return summaries
