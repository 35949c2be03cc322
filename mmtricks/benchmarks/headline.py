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
- ``oracle``: what tuning by hand would find: a grid of 6 LRs x 3 epoch
  budgets with warmup + cosine on the ``auto`` recipe's model, data and
  tricks, the best by validation top-1, and the compute of the whole search.

Runs are stored in a :class:`~.run_cache.RunCache` shared with the LR
finder and epoch benchmarks, so they are trained once.
"""
import json
import os
import os.path as osp
import statistics
from typing import Callable, Dict, List, Optional, Sequence

from .common import (AUTO_MBV3, REPO, bundled_config, cached_train,
                     dataset_fields, dataset_label, quiet)
from .lr_finder import GRID

AUTO_EFFNET_LITE0 = osp.join(REPO, 'configs', 'auto_effnet_lite0.py')
STOCK_MBV3 = 'mobilenet_v3/mobilenet-v3-small_8xb16_cifar10.py'
STOCK_BATCH = 128  # the stock recipe's base batch (8 GPUs x 16)
BATCH = 64
ORACLE_BUDGETS = (10, 20, 40)
QUICK_ORACLE_BUDGETS = (5, 10, 20)
RECIPES = ('auto', 'stock', 'oracle', 'auto_effnet_lite0')


def mmpretrain_config(name: str) -> str:
    """Path of a config shipped in the installed MMPretrain package."""
    from mmengine.utils import get_installed_path
    return osp.join(get_installed_path('mmpretrain'), '.mim', 'configs', name)


def config_cap(path: str) -> int:
    from mmengine.config import Config
    return int(Config.fromfile(path).train_cfg.max_epochs)


def stock_config(dataset: str, seed: int, work_dir: str,
                 epochs: Optional[int] = None):
    """MMPretrain's CIFAR MobileNetV3-small recipe on ``dataset``."""
    from mmengine.config import Config
    fields, num_classes = dataset_fields(dataset)
    cfg = Config.fromfile(mmpretrain_config(STOCK_MBV3))
    cfg.custom_imports = dict(imports=['mmtricks'],
                              allow_failed_imports=False)
    cfg.work_dir = work_dir
    cfg.model.head.num_classes = num_classes
    cfg.model.head.topk = (1, )
    cfg.data_preprocessor.num_classes = num_classes
    cfg.data_preprocessor.to_rgb = True
    load = [dict(type='LoadImageIfPath'), dict(type='Resize', scale=(32, 32))]
    pipelines = dict(
        train=load + [p for p in cfg.train_pipeline],
        val=load + [p for p in cfg.test_pipeline])
    for name, split in (('train_dataloader', 'train'),
                        ('val_dataloader', 'val'),
                        ('test_dataloader', 'val')):
        loader = cfg[name]
        loader.batch_size = BATCH
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.dataset = dict(type='FolderOrBundledDataset', split=split,
                              image_size=32, pipeline=pipelines[
                                  'train' if split == 'train' else 'val'],
                              **fields)
    cfg.val_evaluator = cfg.test_evaluator = dict(type='Accuracy', topk=(1, ))
    cfg.optim_wrapper.optimizer.lr *= BATCH / STOCK_BATCH
    if epochs is not None:
        cfg.train_cfg.max_epochs = epochs
    return quiet(cfg, seed)


def planned_runs(recipes: Sequence[str], seeds: int,
                 budgets: Sequence[int]) -> List[Dict]:
    """Every run of one dataset: ``dict(recipe, seed, lr, epochs)``, with
    ``epochs`` the planned (largest possible) count, for the progress bar."""
    runs = []
    for recipe in recipes:
        if recipe == 'auto':
            runs += [dict(recipe=recipe, seed=s, epochs=config_cap(AUTO_MBV3))
                     for s in range(seeds)]
        elif recipe == 'auto_effnet_lite0':
            runs += [dict(recipe=recipe, seed=s,
                          epochs=config_cap(AUTO_EFFNET_LITE0))
                     for s in range(seeds)]
        elif recipe == 'stock':
            runs.append(dict(recipe=recipe, seed=0,
                             epochs=config_cap(mmpretrain_config(STOCK_MBV3))))
        elif recipe == 'oracle':
            runs += [dict(recipe=recipe, seed=0, lr=lr, epochs=e)
                     for lr in GRID for e in budgets]
        else:
            raise ValueError(f'Unknown recipe {recipe!r}; choose from '
                             f'{RECIPES}.')
    return runs


def train_planned(dataset: str, run: Dict, work_root: str, cache,
                  cached_only: bool = False) -> Optional[Dict]:
    """Train (or fetch from ``cache``) one planned run; with
    ``cached_only``, None for a run the cache does not hold."""
    name = dataset_label(dataset)
    recipe, seed = run['recipe'], run['seed']
    work = osp.join(work_root, f'{name}_{recipe}_{seed}_'
                    f'{run.get("lr", "")}_{run["epochs"]}')
    if recipe == 'oracle':
        cfg = bundled_config(dataset, run['epochs'], 0, work, lr=run['lr'],
                             finder=False)
        return cached_train(cache, cfg, cached_only, dataset=dataset,
                            lr=run['lr'], epochs=run['epochs'], seed=0)
    if recipe == 'stock':
        cfg = stock_config(dataset, seed, work)
        return cached_train(cache, cfg, cached_only, dataset=dataset,
                            recipe='stock', seed=seed)
    path = AUTO_MBV3 if recipe == 'auto' else AUTO_EFFNET_LITE0
    cfg = bundled_config(dataset, run['epochs'], seed, work,
                         auto_epochs=True, path=path)
    return cached_train(cache, cfg, cached_only, dataset=dataset,
                        recipe=recipe, seed=seed)


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


def markdown(summaries: List[Dict], overhead: Optional[Dict],
             command: str, machine: str) -> str:
    lines = [
        f'Command: `{command}`. Machine: {machine}. Top-1 is what each recipe '
        'ships (mean ± sd over seeds where more than one ran); time is wall '
        'time including the LR test; compute is relative to the oracle\'s '
        'whole search (time, and epochs in brackets).', '',
        '| dataset | recipe | top-1 | runs | epochs | time | compute vs oracle search |',
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
    lines += ['', '| dataset | ' + ' | '.join(goals(summaries[0])) + ' |',
              '| --- ' * 4 + '|']
    for s in summaries:
        marks = ['not run' if v is None else ('yes' if v else 'no')
                 for v in goals(s).values()]
        lines.append(f'| {s["dataset"]} | ' + ' | '.join(marks) + ' |')
    if overhead:
        lines += ['', overhead_markdown(overhead)]
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
                ys.append(s['recipes'][recipe]['top1'])
                errs.append(s['recipes'][recipe]['top1_sd'])
        ax.bar(xs, ys, width, yerr=errs, label=recipe, capsize=2)
    ax.set_xticks(range(len(summaries)))
    ax.set_xticklabels([s['dataset'] for s in summaries])
    low = min(r['top1'] for s in summaries for r in s['recipes'].values())
    ax.set_ylim(max(0, low - 5), 100)
    ax.set_ylabel('top-1 (%)')
    ax.legend(fontsize=8, loc='lower right')
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


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


def run_benchmark(datasets: Sequence[str], recipes: Sequence[str],
                  seeds: int, budgets: Sequence[int], out_dir: str,
                  work_root: str, command: str, machine: str, cache,
                  overhead: Optional[Dict] = None,
                  progress: Optional[Callable[[int, str], None]] = None,
                  cached_only: bool = False):
    os.makedirs(out_dir, exist_ok=True)
    summaries = []
    for dataset in datasets:
        results = []
        for run in planned_runs(recipes, seeds, budgets):
            result = train_planned(dataset, run, work_root, cache,
                                   cached_only)
            results.append((run, result))
            if progress:
                progress(run['epochs'], f'{dataset_label(dataset)} '
                         f'{run["recipe"]}: ' + ('not run' if result is None
                                                 else f'top-1 {result["top1"]:.2f}'))
        summaries.append(summarise(dataset, results))
        write(summaries, overhead, out_dir, command, machine, budgets, seeds)
    return summaries


def write(summaries, overhead, out_dir, command, machine, budgets, seeds):
    with open(osp.join(out_dir, 'benchmark.json'), 'w') as f:
        json.dump(dict(command=command, machine=machine,
                       oracle_budgets=list(budgets), oracle_lrs=list(GRID),
                       seeds=seeds, summaries=summaries, overhead=overhead),
                  f, indent=1)
    with open(osp.join(out_dir, 'benchmark.md'), 'w') as f:
        f.write(markdown(summaries, overhead, command, machine))
    plot(summaries, osp.join(out_dir, 'benchmark.png'))


TRAIN_EVENTS = ('before_train_epoch', 'before_train_iter',
                'after_train_iter', 'after_train_epoch')


def time_hook_events(hooks, events: Sequence[str] = TRAIN_EVENTS
                     ) -> Dict[str, float]:
    """Make each hook add the wall time of its ``events`` to the returned
    dict, by hook class: the cost of the hooks themselves, which a
    whole-iteration comparison cannot resolve when runs of one config
    differ by several per cent."""
    import functools
    import time
    spent: Dict[str, float] = {}

    def timed(method, name):
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start
        return wrapper

    for hook in hooks:
        name = type(hook).__name__
        spent.setdefault(name, 0.0)
        for event in events:
            # MMEngine calls `getattr(hook, event)(runner, ...)`, so an
            # instance attribute takes the class method's place.
            setattr(hook, event, timed(getattr(hook, event), name))
    return spent


def _iteration_seconds(cfg, warmup: int = 5):
    """Median seconds per training iteration, the mean seconds per
    iteration spent inside mmtricks' own hooks (by hook), and the trained
    runner."""
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    spent = time_hook_events(
        h for h in runner.hooks if type(h).__module__.startswith('mmtricks.'))
    runner.train()
    times = runner.message_hub.get_scalar('train/time').data[0][warmup:]
    per_iter = {name: sec / runner.iter for name, sec in spent.items()}
    return float(statistics.median(times)), per_iter, runner


def _iteration_based(cfg, iters: int):
    cfg.train_cfg = dict(by_epoch=False, max_iters=iters, val_interval=10**6)
    cfg.param_scheduler = []
    return cfg


def measure_overhead(dataset: str, work_root: str, iters: int = 60,
                     repeats: int = 3,
                     lr_test_seconds: float = float('nan')) -> Dict:
    """Seconds per training iteration of the auto recipe with and without
    mmtricks' hooks, and of the stock recipe; precise BN timed apart.

    The recipes take turns ``repeats`` times and each keeps its fastest
    median: one-off runs on a shared CPU differ by several per cent. The
    time inside mmtricks' hooks is measured in them (fewest of the turns),
    which resolves what the whole-iteration comparison cannot.
    """
    import time

    from mmtricks.hooks import PreciseBNStatsHook

    def auto(hooks: bool):
        cfg = bundled_config(dataset, 1, 0, osp.join(work_root, 'overhead'),
                             finder=False, auto_epochs=True)
        if not hooks:
            cfg.custom_hooks = []
        return _iteration_based(cfg, iters)

    def stock():
        return _iteration_based(stock_config(
            dataset, 0, osp.join(work_root, 'overhead_stock')), iters)

    builders = dict(plain=lambda: auto(hooks=False),
                    auto=lambda: auto(hooks=True), stock=stock)
    seconds = {name: float('inf') for name in builders}
    in_hooks = trained_auto = None
    for _ in range(repeats):
        for name, build in builders.items():
            median, by_hook, runner = _iteration_seconds(build())
            seconds[name] = min(seconds[name], median)
            if name != 'auto':
                continue
            trained_auto = runner
            if in_hooks is None or sum(by_hook.values()) < sum(
                    in_hooks.values()):
                in_hooks = by_hook
    precise = next(h for h in trained_auto.hooks
                   if isinstance(h, PreciseBNStatsHook))
    start = time.perf_counter()
    precise.refresh(trained_auto)
    return dict(dataset=dataset_label(dataset), iters=iters, repeats=repeats,
                seconds_per_iter=seconds, hook_seconds_per_iter=in_hooks,
                lr_test_seconds=lr_test_seconds,
                precise_bn_seconds=time.perf_counter() - start)
