"""Benchmark: the recipes on small training sets (10 to 100 images a class).

From a bundled set (``digits`` by default) it writes pre-split folders, as a
user with few images would have them (``train/ val/ test/``, one sub-folder
per class): N training images per class for each N, val
``max(5, round(N / 3))`` per class (a 60/20/20 split), and one test set the
same for every N and disjoint from every train and val, so every recipe and
N is scored on the same test images. The selection has a fixed seed: the
folders are the same on every run (their names carry a digest of what they
hold, so the run cache never serves a run of other images).

Recipes on each folder (the headline benchmark's, :mod:`.headline`):

- ``auto``: ``configs/auto_mbv3.py`` as shipped (its batch chosen from the
  training split's size, the last partial batch dropped).
- ``auto_batch64``: the same with the behaviour before that change:
  ``batch_size=64`` and ``train_dataloader.drop_last=False``. ``auto``
  against it is the A/B that decides the batch rule.
- ``stock``: MMPretrain's CIFAR MobileNetV3-small recipe.
- ``oracle``: the headline's grid of LRs x epoch budgets (searched on seed
  0, its best cell by val trained on the other seeds), here with the
  headline's quick budgets to fit a CPU.

Every run is scored by the benchmarks' one rule (:mod:`.train`): test top-1
of the weights it ships, val top-1 alongside. The goal of issue 30 on small
data: no N where auto's mean test top-1 is below stock's, and no auto run
diverged.
"""
import hashlib
import json
import os
import os.path as osp
import shutil
import statistics
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from .headline import (BATCH, QUICK_ORACLE_BUDGETS, choose_cell,
                       chosen_cell_runs, planned_config, planned_runs)
from .input_size import difference, mean_sd
from .report import SCORED_ON, write_report
from .runs import cached_train, dataset_label

NAME = 'small_data'
#: Training images per class.
SIZES = (10, 20, 50, 100)
TEST_PER_CLASS = 40
SELECTION_SEED = 0
#: The folders hold the pixels the bundled set serves at this size (the
#: recipe's own choice on them is the same 32 px).
IMAGE_SIZE = 32
RECIPES = ('auto', 'auto_batch64', 'stock', 'oracle')
ORACLE_BUDGETS = QUICK_ORACLE_BUDGETS
#: The batch and loader of the recipe before the batch rule.
PREVIOUS_BATCH = 64
#: A gap of more than this many standard errors is more than seed noise.
NOISE_SE = 2.0
SPLITS = ('train', 'val', 'test')


def val_per_class(n: int) -> int:
    """Val images per class for N training images: a 60/20/20 split."""
    return max(5, round(n / 3))


def select_images(labels: Sequence[int], sizes: Sequence[int],
                  test_per_class: int = TEST_PER_CLASS,
                  seed: int = SELECTION_SEED) -> Dict:
    """Indices of the images of every folder (a pure function).

    Each class is shuffled once (``seed``); its first ``test_per_class``
    images are the test set of every N; of the rest, the first N train and
    the last :func:`val_per_class` (N) validate. So the test set is disjoint
    from every train and val, train and val of one N are disjoint, and a
    larger N's train holds a smaller N's.

    Args:
        labels: The class index of every image of the set.
        sizes: Training images per class, one folder each.
        test_per_class: Test images per class.
        seed: The selection's seed.

    Returns:
        ``dict(test=[...], folders={N: dict(train=[...], val=[...])})``,
        every list of indices sorted.

    Raises:
        ValueError: A size below 1, or a class with too few images.
    """
    sizes = sorted(set(int(n) for n in sizes))
    if not sizes or sizes[0] < 1 or test_per_class < 1:
        raise ValueError(f'sizes (training images per class) and the test '
                         f'images per class must be at least 1, got sizes '
                         f'{sizes} and {test_per_class} test images.')
    labels = np.asarray(labels)
    largest = sizes[-1]
    needed = test_per_class + largest + val_per_class(largest)
    rng = np.random.default_rng(seed)
    test: List[int] = []
    folders: Dict[int, Dict[str, List[int]]] = {
        n: dict(train=[], val=[]) for n in sizes}
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if len(members) < needed:
            raise ValueError(
                f'Class {int(cls)} has {len(members)} images, but '
                f'{test_per_class} test + {largest} train + '
                f'{val_per_class(largest)} val need {needed}: lower the '
                'largest size (--sizes) or the test images '
                '(--test-per-class).')
        order = [int(i) for i in rng.permutation(members)]
        test += order[:test_per_class]
        pool = order[test_per_class:]
        for n in sizes:
            folders[n]['train'] += pool[:n]
            folders[n]['val'] += pool[len(pool) - val_per_class(n):]
    return dict(test=sorted(test), folders={
        n: {split: sorted(idx) for split, idx in parts.items()}
        for n, parts in folders.items()})


def folder_name(name: str, n: int, parts: Dict[str, List[int]],
                image_size: int) -> str:
    """``NAME_nN_DIGEST``: the digest covers the images' indices and size,
    so another selection never reuses a folder (nor its cached runs)."""
    text = json.dumps(dict(name=name, image_size=image_size,
                           parts={s: parts[s] for s in SPLITS}))
    return f'{name}_n{n}_{hashlib.sha256(text.encode()).hexdigest()[:8]}'


def _write_split_folder(folder: str, parts: Dict[str, List[int]], images,
                        labels, classes, name: str) -> None:
    import cv2
    width = len(str(len(labels) - 1))
    for split in SPLITS:
        for index in parts[split]:
            target = osp.join(folder, split, classes[labels[index]])
            os.makedirs(target, exist_ok=True)
            image = images[index]
            pixels = image[..., 0] if np.all(image == image[..., :1]) \
                else cv2.cvtColor(np.ascontiguousarray(image),
                                  cv2.COLOR_RGB2BGR)
            path = osp.join(target, f'{name}_{index:0{width}d}.png')
            if not cv2.imwrite(path, np.ascontiguousarray(pixels)):
                raise OSError(f'Could not write {path}.')


def write_folders(name: str, root: str, sizes: Sequence[int],
                  test_per_class: int = TEST_PER_CLASS,
                  seed: int = SELECTION_SEED,
                  image_size: int = IMAGE_SIZE) -> Dict[int, Dict]:
    """Write the folder of every size under ``root`` (a folder already
    there is reused: its name says what it holds); per size its path and
    images per split and class.

    Args:
        name: A bundled set (``digits``, ``mnist``).
        root: Where the folders go.
        sizes: Training images per class.
        test_per_class: Test images per class.
        seed: The selection's seed.
        image_size: Side of the images written.
    """
    from mmtricks.datasets.bundled_dataset import load_rgb_images
    from mmtricks.datasets.sources import BUNDLED_SOURCES
    if name not in BUNDLED_SOURCES:
        raise ValueError(f'{name!r} is not a bundled set: give one of '
                         f'{", ".join(sorted(BUNDLED_SOURCES))} (--data).')
    images, labels, classes = load_rgb_images(name, image_size)
    selection = select_images(labels, sizes, test_per_class, seed)
    written = {}
    for n, parts in selection['folders'].items():
        parts = dict(parts, test=selection['test'])
        folder = osp.join(root, folder_name(name, n, parts, image_size))
        if not osp.isdir(folder):
            # Whole or not at all: a killed write leaves only the .partial.
            partial = folder + '.partial'
            shutil.rmtree(partial, ignore_errors=True)
            _write_split_folder(partial, parts, images, labels, classes,
                                name)
            os.replace(partial, folder)
        written[n] = dict(folder=folder, **{
            split: len(parts[split]) // len(classes) for split in SPLITS},
            classes=len(classes))
    return written


def plan(sizes: Sequence[int], recipes: Sequence[str], seeds: int,
         budgets: Sequence[int],
         oracle_sizes: Optional[Sequence[int]] = None) -> List[Dict]:
    """Every run, with ``n`` (training images per class) added to the
    headline's runs (:func:`~.headline.planned_runs`); the oracle only at
    ``oracle_sizes`` (default: every size)."""
    unknown = [r for r in recipes if r not in RECIPES]
    if unknown:
        raise ValueError(f'Unknown recipe(s) {unknown}; choose from '
                         f'{RECIPES}.')
    oracle_sizes = sizes if oracle_sizes is None else oracle_sizes
    # planned once per recipe: each reads its config's epoch cap
    per_recipe = {recipe: planned_runs(
        ['auto' if recipe == 'auto_batch64' else recipe], seeds, budgets)
        for recipe in recipes}
    return [dict(run, recipe=recipe, n=n) for n in sizes
            for recipe in recipes
            if recipe != 'oracle' or n in oracle_sizes
            for run in per_recipe[recipe]]


def run_config(folder: str, run: Dict, work_root: str):
    """The config of one planned run and its cache labels: the headline's
    (:func:`~.headline.planned_config`), and for ``auto_batch64`` the auto
    recipe with the batch and loader it had before the batch rule."""
    if run['recipe'] != 'auto_batch64':
        return planned_config(folder, run, work_root)
    cfg, labels = planned_config(folder, dict(run, recipe='auto'), work_root)
    cfg.batch_size = PREVIOUS_BATCH
    cfg.train_dataloader.drop_last = False
    cfg.work_dir = osp.join(work_root, f'{dataset_label(folder)}_'
                            f'auto_batch64_{run["seed"]}')
    return cfg, dict(labels, recipe='auto_batch64')


def run_record(run: Dict, result: Dict) -> Dict:
    """What the report keeps of one run: scores, epochs, wall time,
    divergence, the LR range test's share of the run's wall time, batch."""
    finder = result.get('finder_seconds')
    decisions = result.get('data_decisions') or {}
    return dict(
        n=run['n'], recipe=run['recipe'], seed=run['seed'],
        role=run.get('role'),
        budget=run['epochs'] if run['recipe'] == 'oracle' else None,
        lr=result['lr'], test_top1=result['test_top1'],
        val_top1=result['val_top1'], epochs=result['epochs'],
        seconds=result['seconds'], diverged=bool(result['diverged']),
        finder_seconds=finder,
        finder_share=None if finder is None else
        finder / result['seconds'],
        batch_size=BATCH if run['recipe'] == 'stock' else
        decisions.get('batch_size'))


def train_size(folder: str, runs: Sequence[Dict], work_root: str, cache,
               progress: Optional[Callable[[int, str], None]] = None
               ) -> List[Dict]:
    """Train (or fetch from ``cache``) the runs of one folder, as the
    headline does: the oracle's seed runs wait for its search, which
    chooses their cell by val top-1; return their records."""
    label = dataset_label(folder)

    def train(run):
        cfg, labels = run_config(folder, run, work_root)
        record = run_record(run, cached_train(cache, cfg, **labels))
        if progress:
            cell = '' if run['recipe'] != 'oracle' else \
                f' lr {run["lr"]:.2g} {run["epochs"]} ep'
            progress(run['epochs'], f'{label} {run["recipe"]}{cell} seed '
                     f'{run["seed"]}: test top-1 {record["test_top1"]:.2f} '
                     f'(val {record["val_top1"]:.2f}), '
                     f'{record["epochs"]} epochs, {record["seconds"]:.0f} s'
                     + (' DIVERGED' if record['diverged'] else ''))
        return record

    records = [train(run) for run in runs if run.get('role') != 'seed']
    seed_runs = [run for run in runs if run.get('role') == 'seed']
    search = [r for r in records if r['role'] == 'search']
    if seed_runs:
        cell = choose_cell(search)
        records += [train(run) for run in chosen_cell_runs(seed_runs, cell)]
    return records


# ------------------------------------------------------------------ summary
def _cell(runs: List[Dict]) -> Dict:
    shares = [r['finder_share'] for r in runs
              if r['finder_share'] is not None]
    return dict(
        seeds=sorted(r['seed'] for r in runs),
        test_top1=mean_sd([r['test_top1'] for r in runs]),
        val_top1=mean_sd([r['val_top1'] for r in runs]),
        epochs=statistics.fmean(r['epochs'] for r in runs),
        seconds=statistics.fmean(r['seconds'] for r in runs),
        diverged=sum(r['diverged'] for r in runs),
        finder_share=statistics.fmean(shares) if shares else None,
        batch_sizes=sorted({r['batch_size'] for r in runs
                            if r['batch_size'] is not None}))


def _oracle_cell(runs: List[Dict]) -> Optional[Dict]:
    search = [r for r in runs if r['role'] == 'search']
    if not search:
        return None
    chosen = choose_cell(search)
    # the chosen cell: its search run (seed 0) and its seed runs
    shipped = [r for r in runs
               if (r['lr'], r['budget']) == (chosen['lr'], chosen['epochs'])]
    return dict(_cell(shipped), lr=chosen['lr'], budget=chosen['epochs'],
                search_runs=len(search),
                search_diverged=sum(r['diverged'] for r in search),
                search_seconds=sum(r['seconds'] for r in search))


def summarise(records: Sequence[Dict]) -> Dict:
    """The report's numbers from the run records (a pure function): per
    size and recipe the test and val top-1 (mean, sd over seeds), epochs,
    wall time, diverged runs, the LR test's share; the goal; the batch
    rule's A/B."""
    cells: Dict[str, Dict[str, Dict]] = {}
    sizes = sorted({r['n'] for r in records})
    for n in sizes:
        row = {}
        for recipe in RECIPES:
            runs = [r for r in records if r['n'] == n and
                    r['recipe'] == recipe]
            if not runs:
                continue
            cell = _oracle_cell(runs) if recipe == 'oracle' else _cell(runs)
            if cell is not None:
                row[recipe] = cell
        cells[str(n)] = row
    return dict(cells=cells, goal=goal(cells), batch_rule=batch_rule(cells))


GOAL = ('no size where auto\'s mean test top-1 is below stock\'s, and no '
        'auto run diverged')


def goal(cells: Dict[str, Dict[str, Dict]]) -> Dict:
    """The issue's goal on small data, per size and overall: ``met`` is
    None when some size lacks auto or stock (not measured).

    Args:
        cells: :func:`summarise`'s ``cells``.
    """
    per_size = {}
    for n, row in cells.items():
        auto, stock = row.get('auto'), row.get('stock')
        if auto is None or stock is None:
            per_size[n] = dict(met=None)
            continue
        gap = difference(stock['test_top1'], auto['test_top1'])
        below = gap['gap'] < 0
        per_size[n] = dict(gap_to_stock=gap['gap'], se=gap['se'],
                           below_stock=below,
                           auto_diverged=auto['diverged'],
                           met=not below and auto['diverged'] == 0)
    verdicts = [v['met'] for v in per_size.values()]
    met = None if not verdicts or None in verdicts else all(verdicts)
    return dict(goal=GOAL, met=met, per_size=per_size)


def batch_rule(cells: Dict[str, Dict[str, Dict]]) -> Dict:
    """``auto`` against ``auto_batch64`` per size: the gap in mean test
    top-1 (auto minus batch 64), its standard error, and whether it is
    beyond :data:`NOISE_SE` standard errors either way. ``holds``: auto is
    nowhere behind beyond noise (None where the A/B did not run).

    Args:
        cells: :func:`summarise`'s ``cells``.
    """
    per_size = {}
    for n, row in cells.items():
        auto, before = row.get('auto'), row.get('auto_batch64')
        if auto is None or before is None:
            continue
        gap = difference(before['test_top1'], auto['test_top1'])
        beyond = abs(gap['gap']) > NOISE_SE * gap['se']
        verdict = ('within noise' if not beyond else
                   'auto ahead' if gap['gap'] > 0 else 'auto behind')
        per_size[n] = dict(gap=gap['gap'], se=gap['se'], verdict=verdict,
                           val_gap=auto['val_top1']['mean'] -
                           before['val_top1']['mean'],
                           auto_batch_sizes=auto['batch_sizes'],
                           auto_diverged=auto['diverged'],
                           batch64_diverged=before['diverged'])
    holds = None if not per_size else all(
        v['verdict'] != 'auto behind' for v in per_size.values())
    return dict(per_size=per_size, holds=holds)


# ------------------------------------------------------------------- render
def _score(cell: Optional[Dict]) -> str:
    if cell is None:
        return 'not run'
    test, val = cell['test_top1'], cell['val_top1']
    text = f'{test["mean"]:.2f} ± {test["sd"]:.2f} ({val["mean"]:.2f})'
    if cell['diverged']:
        text += f' **{cell["diverged"]} diverged**'
    return text


def _met(value) -> str:
    return 'not measured' if value is None else 'met' if value else \
        '**missed**'


def render(payload: Dict) -> str:
    """The markdown of a ``small_data.json`` payload."""
    summary = payload['summary']
    cells = summary['cells']
    sizes = sorted(cells, key=int)
    recipes = [r for r in RECIPES if r in payload['recipes']]
    selection = payload['selection']
    budgets = ', '.join(str(b) for b in payload['oracle_budgets'])
    no_oracle = [n for n in payload['sizes']
                 if n not in payload['oracle_sizes']]
    lines = [
        f'# The recipes on small training sets ({payload["dataset"]})', '',
        f'Pre-split folders (`train/ val/ test/`, a sub-folder per class) '
        f'written from the bundled `{payload["dataset"]}` at '
        f'{selection["image_size"]} px: N training images per class, val '
        'max(5, round(N/3)) per class (a 60/20/20 split), and one test set '
        f'of {selection["test_per_class"]} images per class, the same for '
        'every N and disjoint from every train and val (selection seed '
        f'{selection["seed"]}). Every recipe is scored on those test '
        'images: test top-1 of the weights it ships, mean ± sd over '
        f'{payload["seeds"]} seeds, val top-1 (mean) in brackets. '
        '"Diverged": a non-finite loss or val top-1 at chance.', '',
        '- `auto`: `configs/auto_mbv3.py` as shipped (batch chosen from the '
        'training split: 64, halved until an epoch has 8 steps, at least '
        '8; last partial batch dropped).',
        '- `auto_batch64`: the same with `batch_size=64` and '
        '`train_dataloader.drop_last=False` (the behaviour before the batch '
        'rule).',
        '- `stock`: MMPretrain\'s CIFAR MobileNetV3-small recipe (200 '
        'epochs, batch 64), as in the headline benchmark.',
        f'- `oracle`: the headline\'s grid of 6 LRs x epoch budgets '
        f'{budgets} (its quick budgets, to fit a CPU; the full grid goes to '
        '60), searched on seed 0, the best cell by val trained on the other '
        'seeds. Its time is the whole search.'
        + (f' Not run at N = {", ".join(map(str, no_oracle))} (CPU budget).'
           if no_oracle else ''), '',
        '| N per class | train / val / test images | ' +
        ' | '.join(f'`{r}`' for r in recipes) + ' |',
        '| --- | --- |' + ' --- |' * len(recipes)]
    for n in sizes:
        folder = selection['folders'][n]
        k = folder['classes']
        lines.append(
            f'| {n} | {k * folder["train"]} / {k * folder["val"]} / '
            f'{k * folder["test"]} | ' +
            ' | '.join(_score(cells[n].get(r)) for r in recipes) + ' |')
    result = summary['goal']
    lines += ['', f'**Goal ({result["goal"]}): {_met(result["met"])}.**', '']
    for n in sizes:
        v = result['per_size'][n]
        if v['met'] is None:
            lines.append(f'- N={n}: not measured (auto or stock not run).')
            continue
        lines.append(
            f'- N={n}: auto minus stock {v["gap_to_stock"]:+.2f} '
            f'(SE {v["se"]:.2f}), {v["auto_diverged"]} auto run(s) diverged: '
            f'{_met(v["met"])}.')
    ab = summary['batch_rule']
    if ab['per_size']:
        lines += [
            '', '## The batch rule: auto vs auto_batch64', '',
            f'Gap = mean test top-1 of auto minus auto_batch64 over the '
            f'seeds, SE = sqrt(sd_a²/n_a + sd_b²/n_b); beyond noise: |gap| '
            f'> {NOISE_SE:g} SE.', '',
            '| N per class | auto\'s batch | gap (test) | SE | verdict | '
            'gap (val) | diverged (auto / batch 64) |',
            '| --- | --- | --- | --- | --- | --- | --- |']
        for n in sorted(ab['per_size'], key=int):
            v = ab['per_size'][n]
            lines.append(
                f'| {n} | {", ".join(map(str, v["auto_batch_sizes"]))} | '
                f'{v["gap"]:+.2f} | {v["se"]:.2f} | {v["verdict"]} | '
                f'{v["val_gap"]:+.2f} | {v["auto_diverged"]} / '
                f'{v["batch64_diverged"]} |')
        lines += ['', '**' + ('Auto is nowhere behind batch 64 beyond noise.'
                              if ab['holds'] else
                              'Auto is behind batch 64 beyond noise at some '
                              'N.') + '**']
    lines += ['', '## Cost', '',
              'Epochs trained (mean over seeds; the oracle: its shipped '
              'cell), wall time per run (the oracle: its whole search), and '
              'the LR range test\'s share of a run\'s wall time.', '',
              '| N per class | recipe | batch | epochs | time | LR test '
              'share |', '| --- | --- | --- | --- | --- | --- |']
    for n in sizes:
        for r in recipes:
            cell = cells[n].get(r)
            if cell is None:
                continue
            seconds = cell.get('search_seconds', cell['seconds'])
            share = '-' if cell['finder_share'] is None else \
                f'{100 * cell["finder_share"]:.1f}%'
            what = r if r != 'oracle' else (
                f'oracle (lr {cell["lr"]:.2g}, {cell["budget"]} ep; '
                f'{cell["search_runs"]} search runs, '
                f'{cell["search_diverged"]} diverged)')
            lines.append(
                f'| {n} | {what} | '
                f'{", ".join(map(str, cell["batch_sizes"])) or "-"} | '
                f'{cell["epochs"]:.1f} | {seconds:.0f} s | {share} |')
    lines += ['', f'Machine: {payload["machine"]}.'
              + (f' {payload["note"]}' if payload.get('note') else ''),
              f'Command: `{payload["command"]}`.']
    return '\n'.join(lines) + '\n'


def run_benchmark(dataset: str, sizes: Sequence[int],
                  recipes: Sequence[str], seeds: int,
                  budgets: Sequence[int], oracle_sizes: Sequence[int],
                  out_dir: str, work_root: str, command: str, machine: str,
                  cache=None, test_per_class: int = TEST_PER_CLASS,
                  selection_seed: int = SELECTION_SEED, note: str = '',
                  progress: Optional[Callable[[int, str], None]] = None
                  ) -> Dict:
    """Write the folders, train every planned run (smallest N first),
    write the report after each N; return the payload.

    Args:
        dataset: A bundled set.
        sizes: Training images per class.
        recipes: Names from :data:`RECIPES`.
        seeds: Seeds of every recipe.
        budgets: The oracle's epoch budgets.
        oracle_sizes: The sizes the oracle runs at.
        out_dir: Where NAME.json and NAME.md go.
        work_root: The folders and the runs' work dirs.
        command, machine, note: Quoted in the report.
        cache: A :class:`~.run_cache.RunCache`, or None.
        test_per_class: Test images per class.
        selection_seed: The folders' selection seed.
        progress: Called with (planned epochs, message) after each run.
    """
    sizes = sorted(sizes)
    folders = write_folders(dataset, osp.join(work_root, 'data'), sizes,
                            test_per_class, selection_seed)
    runs = plan(sizes, recipes, seeds, budgets, oracle_sizes)
    payload = dict(
        name=NAME, scored_on=SCORED_ON, dataset=dataset, sizes=sizes,
        recipes=list(recipes), seeds=seeds, oracle_budgets=list(budgets),
        oracle_sizes=[n for n in sizes if n in oracle_sizes],
        command=command, machine=machine, note=note,
        omp_num_threads=os.environ.get('OMP_NUM_THREADS'),
        selection=dict(seed=selection_seed, test_per_class=test_per_class,
                       image_size=IMAGE_SIZE, folders={
                           str(n): dict(f, folder=osp.basename(f['folder']))
                           for n, f in folders.items()}),
        runs=[])
    for n in sizes:
        payload['runs'] += train_size(
            folders[n]['folder'], [r for r in runs if r['n'] == n],
            work_root, cache, progress)
        payload['summary'] = summarise(payload['runs'])
        write_report(out_dir, NAME, payload, render)
    return payload
