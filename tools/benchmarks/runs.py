"""Runs of ``configs/auto_mbv3.py`` on a bundled set or a folder, shared by
benchmarks: their configs, and training them through the run cache."""
import os
import os.path as osp
from typing import Dict, Optional, Tuple

from . import shipped_config
from .run_cache import RunCache, file_digest, module_files, run_key
from .train import train_once


def machine_description() -> str:
    """CPU model, cores and torch version: what training times depend on."""
    import platform

    import torch

    from mmtricks.cpu_facts import cpu_info
    cpu = cpu_info().model or platform.processor() or 'unknown CPU'
    return (f'{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, '
            f'{torch.get_num_threads()} threads')


def cosine_schedule(epochs: int):
    """Warmup over 1/15 of the budget (at least one epoch), then cosine."""
    if epochs < 2:
        raise ValueError(f'A fixed budget of {epochs} epoch(s) leaves no '
                         'epoch for the cosine after the one-epoch warmup: '
                         'give at least 2 epochs.')
    warmup = max(1, epochs // 15)
    return [
        dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0,
             end=warmup, convert_to_iter_based=True),
        dict(type='CosineAnnealingLR', by_epoch=True, begin=warmup,
             end=epochs, eta_min_ratio=1e-4, convert_to_iter_based=True),
    ]


def initialisers(init_cfg) -> list:
    """A model part's ``init_cfg`` (None, one dict or a list) as a list."""
    if init_cfg is None:
        return []
    return list(init_cfg) if isinstance(init_cfg, list) else [init_cfg]


def without_initialiser(init_cfg, type_name: str):
    """``init_cfg`` without its initialisers of ``type_name`` (None when
    none is left)."""
    kept = [c for c in initialisers(init_cfg) if c['type'] != type_name]
    return kept or None


def offline_init_cfg(init_cfg):
    """The config's initialisers without the ImageNet download (offline)."""
    return without_initialiser(init_cfg, 'PretrainedIfAvailable')


def dataset_fields(dataset: str):
    """``(dataset overrides, number of classes)`` for a bundled set's name or
    a folder of the user's images (one sub-folder per class, optionally
    pre-split into train/ and val/)."""
    if osp.isdir(dataset):
        from mmtricks.datasets import scan_class_folders
        from mmtricks.datasets.folder_or_bundled_dataset import \
            find_split_folder
        root = find_split_folder(dataset, 'train') or dataset
        test = find_split_folder(dataset, 'test')
        if test is not None and not osp.isdir(test):
            # Found now, not after hours of training: every run is scored
            # on test, and val (which chose the weights) is never test.
            raise ValueError(
                f'{dataset} is split into train/ and val/ but has no test/: '
                'the benchmark reports test top-1 of images no recipe chose '
                f'on. Add {osp.join(dataset, "test")}/<class>/..., or put '
                'all images into one folder of class sub-folders, which is '
                'split train / val / test.')
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
                   lr: Optional[float] = None, finder: bool = True,
                   auto_epochs: bool = False, path: Optional[str] = None,
                   auto_args: Optional[dict] = None):
    """``configs/auto_mbv3.py`` (or ``path``) from scratch on ``dataset`` (a
    bundled name or a folder), quiet and fast.

    ``auto_epochs=False`` replaces the config's automatic epoch policy (if
    any) by a fixed ``epochs`` cosine budget; ``finder=False`` removes the
    LR finder and trains at ``lr`` (None: the config's own LR, also what
    trains when the range test gives no answer); ``auto_args`` replace the
    settings of the config's epoch policy (those not given take the hook's
    defaults).
    """
    from mmengine.config import Config

    fields, num_classes = dataset_fields(dataset)
    cfg = Config.fromfile(path or shipped_config('auto_mbv3.py'))
    cfg.work_dir = work_dir
    cfg.model.backbone.init_cfg = offline_init_cfg(
        cfg.model.backbone.get('init_cfg'))
    cfg.model.head.num_classes = num_classes
    cfg.data_preprocessor.num_classes = num_classes
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].dataset.update(fields)
        cfg[name].num_workers = 0
        cfg[name].persistent_workers = False
    if lr is not None:
        cfg.optim_wrapper.optimizer.lr = lr
    cfg.train_cfg.max_epochs = epochs
    drop = set()
    if not finder:
        drop.add('LRFinderHook')
    if auto_epochs:
        # The warmup and, where the config has one, the scheduler that
        # holds the automatic epoch policy (AutoEpochsLR).
        cfg.param_scheduler = [s for s in cfg.param_scheduler
                               if s['type'] in ('LinearLR', POLICY_SCHEDULER)]
        if not any(h['type'] == 'AutoEpochsHook' for h in cfg.custom_hooks):
            cfg.custom_hooks.append(dict(type='AutoEpochsHook'))
        if auto_args is not None:  # the policy's settings, not the config's
            _set_policy(cfg, auto_args)
    else:
        drop.add('AutoEpochsHook')
        cfg.param_scheduler = cosine_schedule(epochs)
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h['type'] not in drop]
    return quiet(cfg, seed)


POLICY_SCHEDULER = 'AutoEpochsLR'


def _set_policy(cfg, auto_args: dict) -> None:
    """Replace the automatic epoch policy's settings by ``auto_args``, where
    the config keeps them: in its ``AutoEpochsLR`` scheduler if it has one,
    else in its ``AutoEpochsHook``."""
    policy = [s for s in cfg.param_scheduler
              if s['type'] == POLICY_SCHEDULER]
    if policy:
        kept = ('type', 'monitor', 'by_epoch', 'convert_to_iter_based',
                'begin', 'end')
        cfg.param_scheduler = [
            dict({k: s[k] for k in kept if k in s}, **auto_args)
            if s['type'] == POLICY_SCHEDULER else s
            for s in cfg.param_scheduler]
        return
    cfg.custom_hooks = [
        dict(type=h['type'], monitor=h.get('monitor', 'accuracy/top1'),
             **auto_args) if h['type'] == 'AutoEpochsHook' else h
        for h in cfg.custom_hooks]


def quiet(cfg, seed: int):
    """No logging but warnings, no periodic checkpoints, the given seed.

    The config's best checkpoint (``save_best``) is kept: a recipe may ship
    it (the automatic epochs load it back at the end of training).
    """
    cfg.default_hooks.logger.interval = 10**6
    old = cfg.default_hooks.get('checkpoint') or {}
    best = {k: old[k] for k in ('save_best', 'rule') if k in old}
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        interval=10**6, save_last=False,
                                        **best)
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.log_level = 'WARNING'
    return cfg


def config_digest(cfg) -> str:
    """Digest of a run's resolved config, its work dir left out."""
    import hashlib
    text = cfg.pretty_text.replace(repr(cfg.work_dir), "''")
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _package_dir(name: str) -> str:
    import importlib.util
    spec = importlib.util.find_spec(name)
    return osp.dirname(spec.origin)


def code_digest(cfg, package_dir: Optional[str] = None) -> str:
    """Digest of the code a run of ``cfg`` executes that is ours: every
    mmtricks module it imports (``import mmtricks`` and the config's
    ``custom_imports``, followed through their import statements), the
    harness's training step (:mod:`.train`), and the versions of the
    upstream packages. Code it never imports (``mmtricks/deploy/``) and
    anything outside the package (tests, docs) are not part of it.

    Args:
        cfg: The run's config.
        package_dir: mmtricks' folder (default: the imported package's).
    """
    import mmengine
    import mmpretrain
    import torch
    imports = cfg.get('custom_imports', {}).get('imports', [])
    if isinstance(imports, str):
        imports = [imports]
    package = package_dir or _package_dir('mmtricks')
    files = module_files(package, ['mmtricks', *imports])
    from . import train
    return file_digest(files + [osp.abspath(train.__file__)],
                       root=osp.dirname(package)) + '/' + '/'.join(
        (torch.__version__, mmengine.__version__, mmpretrain.__version__))


# The code a process runs is the code it imported: its digest is taken
# once per set of imports, so a file edited during a long benchmark keys
# no run with code that run did not execute.
_PROCESS_CODE: Dict[Tuple[str, ...], str] = {}


def run_cache_key(cfg, **labels) -> str:
    """The run cache's key of training ``cfg``: its resolved config and the
    code it executes (:func:`code_digest`, taken once per process); ``labels``
    only make the cache file readable.

    Args:
        cfg: The run's config.
        labels: Readable fields (dataset, LR, epochs, seed, ...).
    """
    imports = cfg.get('custom_imports', {}).get('imports', [])
    imports = tuple(sorted([imports] if isinstance(imports, str)
                           else imports))
    if imports not in _PROCESS_CODE:
        _PROCESS_CODE[imports] = code_digest(cfg)
    return run_key(config=config_digest(cfg), code=_PROCESS_CODE[imports],
                   **labels)


def cached_train(cache: Optional[RunCache], cfg, cached_only: bool = False,
                 **labels) -> Optional[Dict]:
    """``train_once(cfg)``, or its stored result from ``cache``.

    The key is :func:`run_cache_key`; ``labels`` only make the cache file
    readable. ``cached_only`` returns None instead of training.
    """
    key = run_cache_key(cfg, **labels)
    cache = cache if cache is not None else RunCache()
    if cached_only and key not in cache:
        return None
    return cache.get_or_run(key, lambda: train_once(cfg))
