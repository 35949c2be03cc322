"""The headline benchmark's scores: per-recipe summaries of the runs, the
goals, and the one-line summary."""
import statistics
from typing import Dict, List, Optional, Sequence

from ..runs import dataset_label


def is_complete(row: Dict) -> bool:
    """Whether every planned run of a recipe's row was trained."""
    return row['runs'] == row['planned_runs']


def _spread(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def summarise(dataset: str, results: List[Dict]) -> Dict:
    """Per recipe: top-1 (mean, sd, runs), epochs, seconds; the oracle's
    best cell and whole-search cost; compute relative to that search.

    ``results`` pairs each planned run with its result, None for a run not
    trained (``--cached-only``); an oracle missing runs is reported as
    partial and priced against nothing.
    """
    by_recipe: Dict[str, List[Dict]] = {}
    planned: Dict[str, int] = {}
    for run, result in results:
        planned[run['recipe']] = planned.get(run['recipe'], 0) + 1
        if result is not None:
            by_recipe.setdefault(run['recipe'], []).append(
                dict(run, **result))
    summary = dict(dataset=dataset_label(dataset), recipes={})
    oracle = by_recipe.get('oracle')
    search_seconds = search_epochs = None
    oracle_complete = bool(oracle) and len(oracle) == planned['oracle']
    if oracle:
        search_seconds = sum(r['seconds'] for r in oracle)
        search_epochs = sum(r['epochs'] for r in oracle)
        best = max(oracle, key=lambda r: (r['top1'], -r['epochs']))
        summary['oracle_best'] = dict(lr=best['lr'], epochs=best['epochs'],
                                      top1=best['top1'])
        summary['oracle_grid'] = [dict(lr=r['lr'], epochs=r['epochs'],
                                       top1=r['top1']) for r in oracle]
    for recipe, runs in by_recipe.items():
        if recipe == 'oracle':
            top1 = [summary['oracle_best']['top1']]
            seconds, epochs = search_seconds, search_epochs
        else:
            top1 = [r['top1'] for r in runs]
            seconds = statistics.mean(r['seconds'] for r in runs)
            epochs = statistics.mean(r['epochs'] for r in runs)
        row = dict(top1=statistics.mean(top1), top1_sd=_spread(top1),
                   runs=len(runs), planned_runs=planned[recipe],
                   epochs=epochs, seconds=seconds,
                   lrs=[r['lr'] for r in runs if recipe != 'oracle'])
        if all('finder_seconds' in r for r in runs):
            row['finder_seconds'] = statistics.mean(
                r['finder_seconds'] for r in runs)
        if oracle_complete:
            row['compute_vs_oracle'] = seconds / search_seconds
            row['epochs_vs_oracle'] = epochs / search_epochs
        summary['recipes'][recipe] = row
    return summary


def goals(summary: Dict) -> Dict[str, Optional[bool]]:
    """The issue's three goals for one dataset (None: not measured)."""
    rows = summary['recipes']
    auto, stock, oracle = (rows.get(k) for k in ('auto', 'stock', 'oracle'))
    if oracle and not is_complete(oracle):
        oracle = None  # a partial search is no oracle
    return {
        'auto within 1.0 of the oracle': None if not (auto and oracle) else
        auto['top1'] >= oracle['top1'] - 1.0,
        'auto ahead of stock': None if not (auto and stock) else
        auto['top1'] > stock['top1'],
        'auto at most 1/10 of the oracle compute': None if not (
            auto and oracle) else auto['compute_vs_oracle'] <= 0.1,
    }


def one_line(summaries: List[Dict]) -> str:
    """The last line the tool prints: means over the datasets."""
    def mean_of(recipe, key='top1'):
        rows = [s['recipes'].get(recipe) for s in summaries]
        values = [r[key] for r in rows
                  if r and key in r and is_complete(r)]
        return statistics.mean(values) if values else None
    parts = []
    for recipe in ('auto', 'stock', 'oracle'):
        value = mean_of(recipe)
        if value is not None:
            parts.append(f'{recipe} {value:.2f}')
    ratio = mean_of('auto', 'compute_vs_oracle')
    text = f'summary over {len(summaries)} dataset(s): top-1 ' + \
        ', '.join(parts)
    if ratio is not None:
        text += f'; auto compute = {100 * ratio:.1f}% of the oracle search'
    return text
