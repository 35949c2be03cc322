"""Runs of ``configs/auto_mbv3.py`` on a bundled set, shared by benchmarks."""
import glob
import os
import os.path as osp
import time
from typing import Dict, Optional

from .run_cache import RunCache, file_digest, run_key

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
AUTO_MBV3 = osp.join(REPO, 'configs', 'auto_mbv3.py')


def machine_description() -> str:
    """CPU model, cores and torch version: what training times depend on."""
    import platform

    import torch
    cpu = platform.processor() or 'unknown CPU'
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f
                       if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return (f'{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, '
            f'{torch.get_num_threads()} threads')


def cosine_schedule(epochs: int):
    """Warmup over 1/15 of the budget (at least one epoch), then cosine."""
    warmup = max(1, epochs // 15)
    return [
        dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0,
             end=warmup, convert_to_iter_based=True),
        dict(type='CosineAnnealingLR', by_epoch=True, begin=warmup,
             end=epochs, eta_min_ratio=1e-4, convert_to_iter_based=True),
    ]


def offline_init_cfg(init_cfg):
    """The config's initialisers without the ImageNet download (offline)."""
    if init_cfg is None:
        return None
    kept = [c for c in (init_cfg if isinstance(init_cfg, list) else
                        [init_cfg]) if c['type'] != 'PretrainedIfAvailable']
    return kept or None


def dataset_fields(dataset: str):
    """``(dataset overrides, number of classes)`` for a bundled set's name or
    a folder of the user's images (one sub-folder per class, optionally
    pre-split into train/ and val/)."""
    if osp.isdir(dataset):
        from mmtricks.datasets import scan_class_folders
        from mmtricks.datasets.folder_or_bundled_dataset import \
            find_split_folder
        root = find_split_folder(dataset, 'train') or dataset
        classes = scan_class_folders(root)[1]
        return dict(data_root=osp.abspath(dataset)), len(classes)
    from mmtricks.datasets import BUNDLED_SOURCES, load_bundled
    if dataset not in BUNDLED_SOURCES:
        raise ValueError(
            f'{dataset!r} is neither a folder nor a bundled dataset '
            f'({", ".join(sorted(BUNDLED_SOURCES))}).')
    return dict(data_root=None, bundled=dataset), len(
        load_bundled(dataset).classes)


def dataset_label(dataset: str) -> str:
    """A short name for tables: the bundled name or the folder's name."""
    return osp.basename(osp.normpath(dataset)) if osp.isdir(dataset) \
        else dataset


def bundled_config(dataset: str, epochs: int, seed: int, work_dir: str,
                   lr: float = 0.1, finder: bool = True,
                   auto_epochs: bool = False, path: str = AUTO_MBV3,
                   auto_args: Optional[dict] = None):
    """``configs/auto_mbv3.py`` (or ``path``) from scratch on ``dataset`` (a
    bundled name or a folder), quiet and fast.

    ``auto_epochs=False`` replaces the config's automatic epoch policy (if
    any) by a fixed ``epochs`` cosine budget; ``finder=False`` removes the
    LR finder and trains at ``lr``; ``auto_args`` replace the settings of
    the config's epoch policy (those not given take the hook's defaults).
    """
    from mmengine.config import Config

    fields, num_classes = dataset_fields(dataset)
    cfg = Config.fromfile(path)
    cfg.work_dir = work_dir
    cfg.model.backbone.init_cfg = offline_init_cfg(
        cfg.model.backbone.get('init_cfg'))
    cfg.model.head.num_classes = num_classes
    cfg.data_preprocessor.num_classes = num_classes
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].dataset.update(fields)
        cfg[name].num_workers = 0
        cfg[name].persistent_workers = False
    cfg.optim_wrapper.optimizer.lr = lr
    cfg.train_cfg.max_epochs = epochs
    drop = set()
    if not finder:
        drop.add('LRFinderHook')
    if auto_epochs:
        cfg.param_scheduler = [s for s in cfg.param_scheduler
                               if s['type'] == 'LinearLR']
        if not any(h['type'] == 'AutoEpochsHook' for h in cfg.custom_hooks):
            cfg.custom_hooks.append(dict(type='AutoEpochsHook'))
        if auto_args is not None:  # the policy's settings, not the config's
            cfg.custom_hooks = [
                dict(type=h['type'], monitor=h.get('monitor', 'accuracy/top1'),
                     **auto_args) if h['type'] == 'AutoEpochsHook' else h
                for h in cfg.custom_hooks]
    else:
        drop.add('AutoEpochsHook')
        cfg.param_scheduler = cosine_schedule(epochs)
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h['type'] not in drop]
    return quiet(cfg, seed)


def quiet(cfg, seed: int):
    """No logging but warnings, no checkpoints, the given seed."""
    cfg.default_hooks.logger.interval = 10**6
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        interval=10**6, save_last=False)
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.log_level = 'WARNING'
    return cfg


def train_once(cfg) -> Dict:
    """Train; return final val top-1, wall time, epochs and finder facts."""
    from mmengine.runner import Runner

    from mmtricks.hooks import AutoEpochsHook, LRFinderHook
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    seconds = time.perf_counter() - start
    history = runner.message_hub.get_scalar('val/accuracy/top1')
    auto = next((h for h in runner.hooks if isinstance(h, AutoEpochsHook)),
                None)
    shipped_by_auto = auto is not None and auto.state.best is not None
    # `top1` is what the run ships (AutoEpochsHook restores its best weights);
    # `best_top1` the best of its validations (a selection on the validation
    # set, optimistic for every recipe).
    top1 = auto.state.best if shipped_by_auto else history.current()
    result = dict(top1=float(top1), best_top1=float(max(history.data[0])),
                  seconds=seconds, epochs=runner.epoch,
                  lr=cfg.optim_wrapper.optimizer.lr)
    if shipped_by_auto:
        result['auto_trace'] = [list(t) for t in auto.state.trace]
    finder = next((h for h in runner.hooks if isinstance(h, LRFinderHook)),
                  None)
    if finder is not None:
        found = finder.result
        result.update(lr=found['lr'], finder_seconds=found['seconds'],
                      finder_steps=found['steps'],
                      suggestions=found['suggestions'],
                      curve=dict(lrs=found['lrs'], losses=found['losses']),
                      fallback=found['fallback_reason'])
    return result


def config_digest(cfg) -> str:
    """Digest of a run's resolved config, its work dir left out."""
    import hashlib
    text = cfg.pretty_text.replace(repr(cfg.work_dir), "''")
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def policy_code_digest() -> str:
    """Digest of the hooks' source: the LR finder and epoch policy decide
    what a run does, so their code is part of the key of runs that use them."""
    here = osp.dirname(osp.dirname(osp.abspath(__file__)))
    return file_digest(sorted(glob.glob(osp.join(here, 'hooks', '*.py'))))


def cached_train(cache: Optional[RunCache], cfg, cached_only: bool = False,
                 **labels) -> Optional[Dict]:
    """``train_once(cfg)``, or its stored result from ``cache``.

    The key is the resolved config (and the hooks' code when the config
    uses the LR finder or the epoch policy); ``labels`` only make the cache
    file readable. ``cached_only`` returns None instead of training.
    """
    hooks = {h['type'] for h in cfg.get('custom_hooks', [])}
    adaptive = bool(hooks & {'LRFinderHook', 'AutoEpochsHook'})
    key = run_key(config=config_digest(cfg),
                  code=policy_code_digest() if adaptive else None, **labels)
    cache = cache if cache is not None else RunCache()
    if cached_only and key not in cache:
        return None
    return cache.get_or_run(key, lambda: train_once(cfg))
