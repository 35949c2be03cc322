"""The headline benchmark's scores: per-recipe summaries of the runs, the
goals, and the one-line summary.

Every recipe is scored by one rule (:mod:`benchmarks.train`): the test
top-1 of the weights it ships, val top-1 alongside. Summaries carry
``scored_on='test'``; those stored before the test split existed have no
such field and were scored on val (:mod:`.render` labels them so).
"""
import statistics
from typing import Dict, List, Optional, Sequence, Union

from ..report import SCORED_ON, scored_on_test
from ..runs import dataset_label
from ..train import is_diverged
from .plan import choose_cell

TIE = 'tie'


def is_complete(row: Dict) -> bool:
    """Whether every planned run of a recipe's row was trained."""
    return row['runs'] == row['planned_runs']


def _spread(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _scores(runs: Sequence[Dict]) -> Dict:
    test = [r['test_top1'] for r in runs]
    val = [r['val_top1'] for r in runs]
    return dict(top1=statistics.mean(test), top1_sd=_spread(test),
                test_top1=statistics.mean(test), test_top1_sd=_spread(test),
                val_top1=statistics.mean(val), val_top1_sd=_spread(val),
                seeds=sorted(r['seed'] for r in runs),
                per_seed_test_top1=[r['test_top1'] for r in
                                    sorted(runs, key=lambda r: r['seed'])])


def summarise(dataset: str, results: List) -> Dict:
    """Per recipe: test top-1 (mean, sd over seeds) with val alongside,
    epochs, seconds; the oracle's search (every cell, diverged ones marked),
    its chosen cell and its cost with and without diverged cells; compute
    relative to that search.

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
                dict(run, **dict(result, budget=run['epochs'])))
    summary = dict(dataset=dataset_label(dataset), scored_on=SCORED_ON,
                   recipes={})
    oracle = by_recipe.get('oracle')
    search = [r for r in oracle or [] if r.get('role') == 'search']
    planned_search = sum(1 for run, _ in results
                         if run.get('role') == 'search')
    search_complete = bool(search) and len(search) == planned_search
    cost = None
    if search:
        diverged = [r for r in search if is_diverged(r)]
        cost = dict(
            seconds=sum(r['seconds'] for r in search),
            epochs=sum(r['epochs'] for r in search),
            seconds_without_diverged=sum(r['seconds'] for r in search
                                         if not is_diverged(r)),
            epochs_without_diverged=sum(r['epochs'] for r in search
                                        if not is_diverged(r)),
            runs=len(search), diverged_runs=len(diverged))
        cell = choose_cell(search)
        cell_runs = [r for r in oracle if (r['lr'], r['budget']) ==
                     (cell['lr'], cell['epochs']) and
                     (r.get('role') == 'seed' or r['seed'] == cell['seed'])]
        summary['oracle_best'] = dict(lr=cell['lr'], epochs=cell['epochs'],
                                      chosen_by='val_top1',
                                      **_scores(cell_runs))
        summary['oracle_grid'] = [
            dict(lr=r['lr'], epochs=r['budget'], trained_epochs=r['epochs'],
                 seed=r['seed'],
                 test_top1=r['test_top1'], val_top1=r['val_top1'],
                 seconds=r['seconds'], diverged=is_diverged(r))
            for r in search]
        summary['oracle_search'] = cost
    for recipe, runs in by_recipe.items():
        if recipe == 'oracle':
            scores = {k: v for k, v in summary['oracle_best'].items()
                      if k not in ('lr', 'epochs', 'chosen_by')}
            seconds, epochs = cost['seconds'], cost['epochs']
        else:
            scores = _scores(runs)
            seconds = statistics.mean(r['seconds'] for r in runs)
            epochs = statistics.mean(r['epochs'] for r in runs)
        row = dict(scores, runs=len(runs), planned_runs=planned[recipe],
                   epochs=epochs, seconds=seconds,
                   lrs=[r['lr'] for r in runs if recipe != 'oracle'],
                   diverged_runs=sum(is_diverged(r) for r in runs))
        if recipe != 'oracle':
            stops = [r['best_val_epoch'] for r in runs
                     if r.get('best_val_epoch') is not None]
            row['best_val_epochs'] = stops
        if all('finder_seconds' in r for r in runs):
            row['finder_seconds'] = statistics.mean(
                r['finder_seconds'] for r in runs)
        if search_complete:
            row['compute_vs_oracle'] = seconds / cost['seconds']
            row['epochs_vs_oracle'] = epochs / cost['epochs']
            if cost['seconds_without_diverged'] > 0:
                row['compute_vs_oracle_without_diverged'] = (
                    seconds / cost['seconds_without_diverged'])
                row['epochs_vs_oracle_without_diverged'] = (
                    epochs / cost['epochs_without_diverged'])
        summary['recipes'][recipe] = row
    return summary


Goal = Optional[Union[bool, str]]


def ahead_of(auto: float, stock: float) -> Union[bool, str]:
    """Whether ``auto`` top-1 is ahead of ``stock``'s; both at 100% is a
    tie (neither can be ahead), reported as :data:`TIE`.

    Args:
        auto: The automatic recipe's mean test top-1.
        stock: The stock recipe's mean test top-1.
    """
    if auto >= 100.0 and stock >= 100.0:
        return TIE
    return auto > stock


GOALS = ('auto within 1.0 of the oracle (test)',
         'auto ahead of stock (test)',
         'auto at most 1/10 of the oracle compute (diverged cells counted)',
         'the same, diverged cells left out')


def goals(summary: Dict) -> Dict[str, Goal]:
    """The issue's three goals for one summary scored on test, and the
    compute goal without the oracle's diverged cells (None: not measured).

    Args:
        summary: One of :func:`summarise`.
    """
    if not scored_on_test(summary):
        raise ValueError('goals() scores summaries made under the test '
                         'rule; this one was scored on val (render it with '
                         'benchmarks.headline.render).')
    rows = summary['recipes']
    auto, stock, oracle = (rows.get(k) for k in ('auto', 'stock', 'oracle'))
    if oracle and not is_complete(oracle):
        oracle = None  # a partial search is no oracle
    if stock and not is_complete(stock):
        stock = None  # nor are fewer seeds than planned a fair stock
    within, ahead, compute, lean = GOALS
    return {
        within: None if not (auto and oracle) else
        auto['test_top1'] >= oracle['test_top1'] - 1.0,
        ahead: None if not (auto and stock) else
        ahead_of(auto['test_top1'], stock['test_top1']),
        compute: None if not (auto and oracle) else
        auto['compute_vs_oracle'] <= 0.1,
        lean: None if not (auto and oracle and
                           'compute_vs_oracle_without_diverged' in auto)
        else auto['compute_vs_oracle_without_diverged'] <= 0.1,
    }


def one_line(summaries: List[Dict]) -> str:
    """The last line the tool prints: means over the datasets."""
    def mean_of(recipe, key):
        rows = [s['recipes'].get(recipe) for s in summaries]
        values = [r[key] for r in rows
                  if r and key in r and is_complete(r)]
        return statistics.mean(values) if values else None
    key = 'test_top1' if all(scored_on_test(s) for s in summaries) \
        else 'top1'
    parts = []
    for recipe in ('auto', 'stock', 'oracle'):
        value = mean_of(recipe, key)
        if value is not None:
            parts.append(f'{recipe} {value:.2f}')
    ratio = mean_of('auto', 'compute_vs_oracle')
    text = (f'summary over {len(summaries)} dataset(s): '
            f'{"test" if key == "test_top1" else "val"} top-1 ' +
            ', '.join(parts))
    if ratio is not None:
        text += f'; auto compute = {100 * ratio:.1f}% of the oracle search'
    lean = mean_of('auto', 'compute_vs_oracle_without_diverged')
    if lean is not None:
        text += f' ({100 * lean:.1f}% without its diverged cells)'
    return text
