"""The headline benchmark: the automatic recipe against stock and an oracle.

Recipes, each trained on a bundled set or a folder of the user's images:

- ``auto``: ``configs/auto_mbv3.py`` as shipped (LR range test, automatic
  epochs with its cap, the tricks it switches on), from scratch (no
  download here).
- ``auto_effnet_lite0``: ``configs/auto_effnet_lite0.py`` as shipped,
  fine-tuned from the ImageNet weights in the package.
- ``stock``: MMPretrain's own small-image MobileNetV3 recipe
  (``mobilenet-v3-small_8xb16_cifar10.py``: SGD 0.1 at batch 128,
  multi-step decay over 200 epochs), changed only in what must change: the
  dataset and its loader (BGR images, so ``to_rgb=True``), the number of
  classes (top-1 only), and the LR scaled linearly to our batch of 64.
- ``oracle``: what tuning by hand would find: a grid of 6 LRs x 4 epoch
  budgets (the longest is auto's cap) with warmup + cosine on the ``auto``
  recipe's model, data and tricks, searched on seed 0; the cell with the
  best validation top-1 is then trained on the other seeds. Its compute is
  the whole search, with and without its diverged cells.

Every recipe runs on the same seeds and is scored by one rule
(:mod:`benchmarks.train`): test top-1 of the weights it ships, val top-1
alongside.

Runs are stored in a :class:`~benchmarks.run_cache.RunCache` shared with the LR
finder and epoch benchmarks, so they are trained once.
"""
import os
from typing import Callable, Dict, Optional, Sequence

from .. import AUTO_MBV3
from ..runs import dataset_label
from .plan import (BATCH, ORACLE_BUDGETS, QUICK_ORACLE_BUDGETS, RECIPES,
                   STOCK_MBV3, choose_cell, chosen_cell_runs, config_cap,
                   mmpretrain_config, planned_config, planned_runs,
                   stock_config, train_planned)
from .render import NAME, markdown, overhead_markdown, plot, render, write
from .summary import (GOALS, TIE, ahead_of, goals, is_complete, one_line,
                      summarise)
from .timing import measure_overhead, time_hook_events


def run_benchmark(datasets: Sequence[str], recipes: Sequence[str],
                  seeds: int, budgets: Sequence[int], out_dir: str,
                  work_root: str, command: str, machine: str, cache,
                  overhead: Optional[Dict] = None,
                  progress: Optional[Callable[[int, str], None]] = None,
                  cached_only: bool = False):
    """Train (or fetch from ``cache``) every planned run on each dataset;
    write the report after each dataset; return the summaries.

    Args:
        datasets: Bundled names or folders.
        recipes: Names from :data:`RECIPES`.
        seeds: Seeds of every recipe (auto, stock, the oracle's cell).
        budgets: The oracle's epoch budgets.
        out_dir: Where the report goes.
        work_root: Where the runs' work dirs go.
        command: The command line, quoted in the report.
        machine: The machine, quoted in the report.
        cache: A :class:`~..run_cache.RunCache`, or None.
        overhead: The per-iteration cost to report, if measured.
        progress: Called with (planned epochs, message) after each run.
        cached_only: Train nothing: runs the cache lacks are "not run".
    """
    os.makedirs(out_dir, exist_ok=True)
    summaries = []
    for dataset in datasets:
        def train(run):
            unchosen = run.get('role') == 'seed' and run['lr'] is None
            result = None if unchosen else train_planned(
                dataset, run, work_root, cache, cached_only)
            if progress:
                score = ('not run' if result is None else
                         f'test top-1 {result["test_top1"]:.2f} (val '
                         f'{result["val_top1"]:.2f})')
                cell = '' if run.get('lr') is None else \
                    f' lr {run["lr"]:.2g} {run["epochs"]} ep'
                progress(run['epochs'], f'{dataset_label(dataset)} '
                         f'{run["recipe"]}{cell} seed {run["seed"]}: '
                         f'{score}')
            return run, result

        plan = planned_runs(recipes, seeds, budgets)
        # The oracle's seed runs wait for its search: their cell is chosen
        # on the search's val top-1.
        results = [train(run) for run in plan if run.get('role') != 'seed']
        search = [dict(r, seed=run['seed'], lr=run['lr'],
                       budget=run['epochs']) for run, r in results
                  if run.get('role') == 'search' and r is not None]
        planned_search = sum(run.get('role') == 'search' for run in plan)
        seed_runs = [run for run in plan if run.get('role') == 'seed']
        if seed_runs and search and len(search) == planned_search:
            seed_runs = chosen_cell_runs(seed_runs, choose_cell(search))
        results += [train(run) for run in seed_runs]
        if cached_only and all(r is None for _, r in results):
            raise LookupError(
                f'The run cache holds none of the runs planned for '
                f'{dataset_label(dataset)}: a run is keyed by its config and '
                'the code it imports, so runs trained before a change to '
                'either are not reused. Run without --cached-only to train '
                'them, or check --cache names the file that holds them.')
        summary = summarise(dataset, results)
        if 'oracle' in recipes:
            summary.update(oracle_budgets=list(budgets),
                           auto_cap=config_cap(AUTO_MBV3))
        summaries.append(summary)
        write(summaries, overhead, out_dir, command, machine, budgets, seeds)
    return summaries
