"""The headline benchmark's plan: its recipes (described in
:mod:`benchmarks.headline`), their configs, and the runs of one dataset."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from .. import AUTO_EFFNET_LITE0, AUTO_MBV3
from ..lr_finder import GRID
from ..runs import (bundled_config, cached_train, dataset_fields,
                    dataset_label, quiet)

STOCK_MBV3 = 'mobilenet_v3/mobilenet-v3-small_8xb16_cifar10.py'
STOCK_BATCH = 128  # the stock recipe's base batch (8 GPUs x 16)
BATCH = 64
# The longest budget is auto's cap (configs/auto_mbv3.py, 60): the oracle
# may train as long as the automatic recipe may.
ORACLE_BUDGETS = (10, 20, 40, 60)
QUICK_ORACLE_BUDGETS = (5, 10, 20)
RECIPES = ('auto', 'stock', 'oracle', 'auto_effnet_lite0')


def mmpretrain_config(name: str) -> str:
    """Path of a config shipped in the installed MMPretrain package."""
    from mmengine.utils import get_installed_path
    return osp.join(get_installed_path('mmpretrain'), '.mim', 'configs', name)


def config_cap(path: str) -> int:
    """The epoch cap (``max_epochs``) of the config at ``path``."""
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
                        ('test_dataloader', 'test')):
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
    ``epochs`` the planned (largest possible) count, for the progress bar.

    ``auto``, ``auto_effnet_lite0`` and ``stock`` run on seeds
    ``0 .. seeds-1``. The ``oracle`` searches its grid (every LR x budget)
    on seed 0 (``role='search'``), then trains the cell it chose (by val
    top-1) on the other seeds (``role='seed'``, its ``lr`` and ``epochs``
    filled in by :func:`chosen_cell_runs` once the search is done), so its
    reported top-1 is a mean over the same seeds as the others'.
    """
    if seeds < 1:
        raise ValueError(f'seeds must be at least 1, got {seeds}.')
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
            cap = config_cap(mmpretrain_config(STOCK_MBV3))
            runs += [dict(recipe=recipe, seed=s, epochs=cap)
                     for s in range(seeds)]
        elif recipe == 'oracle':
            runs += [dict(recipe=recipe, role='search', seed=0, lr=lr,
                          epochs=e) for lr in GRID for e in budgets]
            runs += [dict(recipe=recipe, role='seed', seed=s, lr=None,
                          epochs=max(budgets)) for s in range(1, seeds)]
        else:
            raise ValueError(f'Unknown recipe {recipe!r}; choose from '
                             f'{RECIPES}.')
    return runs


def choose_cell(search: Sequence[Dict]) -> Dict:
    """The oracle's cell, ``dict(lr, epochs, seed)``: the best val top-1 of
    its search (ties: the smaller budget, then the smaller LR). Test top-1
    plays no part.

    Args:
        search: The search runs, each its result with the planned ``lr`` and
            budget (``budget``; ``epochs`` where absent).
    """
    def budget(r):
        return r.get('budget', r['epochs'])
    best = max(search, key=lambda r: (r['val_top1'], -budget(r), -r['lr']))
    return dict(lr=best['lr'], epochs=budget(best), seed=best['seed'])


def chosen_cell_runs(runs: Sequence[Dict], cell: Dict) -> List[Dict]:
    """``runs`` with the oracle's seed runs set to ``cell``'s LR and budget.

    Args:
        runs: From :func:`planned_runs`.
        cell: From :func:`choose_cell`.
    """
    return [dict(r, lr=cell['lr'], epochs=cell['epochs'])
            if r.get('role') == 'seed' else r for r in runs]


def planned_config(dataset: str, run: Dict, work_root: str
                   ) -> Tuple[object, Dict]:
    """The config of one planned run and the labels of its cache entry.

    Args:
        dataset: A bundled name or a folder.
        run: One of :func:`planned_runs`.
        work_root: The parent of the run's work dir.
    """
    name = dataset_label(dataset)
    recipe, seed = run['recipe'], run['seed']
    work = osp.join(work_root, f'{name}_{recipe}_{seed}_'
                    f'{run.get("lr", "")}_{run["epochs"]}')
    if recipe == 'oracle':
        if run['lr'] is None:
            raise ValueError('An oracle seed run needs the chosen cell: '
                             'fill it in with chosen_cell_runs.')
        cfg = bundled_config(dataset, run['epochs'], seed, work, lr=run['lr'],
                             finder=False)
        return cfg, dict(dataset=dataset, lr=run['lr'],
                         epochs=run['epochs'], seed=seed)
    if recipe == 'stock':
        return stock_config(dataset, seed, work), dict(
            dataset=dataset, recipe='stock', seed=seed)
    path = AUTO_MBV3 if recipe == 'auto' else AUTO_EFFNET_LITE0
    cfg = bundled_config(dataset, run['epochs'], seed, work,
                         auto_epochs=True, path=path)
    return cfg, dict(dataset=dataset, recipe=recipe, seed=seed)


def train_planned(dataset: str, run: Dict, work_root: str, cache,
                  cached_only: bool = False) -> Optional[Dict]:
    """Train (or fetch from ``cache``) one planned run; with
    ``cached_only``, None for a run the cache does not hold.

    Args:
        dataset: A bundled name or a folder.
        run: One of :func:`planned_runs`.
        work_root: The parent of the run's work dir.
        cache: A :class:`~..run_cache.RunCache`, or None.
        cached_only: Train nothing.
    """
    cfg, labels = planned_config(dataset, run, work_root)
    return cached_train(cache, cfg, cached_only, **labels)
