"""A recipe config made concrete from the data: one folder setting, the
classes, the input size and the monitored metric, each decided once and
logged with its reason.

A shipped config leaves these to the data (``data_root``, ``num_classes``,
``image_size``, ``monitor`` at its top level) and writes the places that
depend on them as placeholders:

- ``'image_size'`` (or ``'image_size/N'``, its N-th part) in a pipeline
  step's ``scale``, ``crop_size`` or ``padding``, and in a dataset's
  ``image_size``;
- ``None`` in ``model.head.num_classes`` and
  ``data_preprocessor.num_classes``;
- ``'auto'`` in ``AutoEpochsLR``'s ``monitor``, ``CheckpointHook``'s
  ``save_best`` and ``ConciseLogProcessor``'s ``monitor``;
- ``'batch_size'`` in a dataloader's ``batch_size`` (the top-level
  ``batch_size``: ``'auto'`` chooses it from the training split's size).

:func:`apply_data_decisions` fills them in place. ``DataAwareRunner`` calls
it before it builds anything, ``tools/deploy.py`` before it exports, so
that ``--cfg-options image_size=128`` (or ``data_root=DIR``) changes every
place at once and nothing accepts a value it then ignores. Decisions are
stored in every checkpoint (``meta['data_decisions']``); a run that loads
one (``mim test``, ``--resume``, ``tools/deploy.py``) uses the size it was
trained at.
"""
import copy
import functools
import os
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from ..datasets.facts import SplitFacts, training_split_facts, \
    unwrap_dataset_cfg
from .backbone_choice import CANDIDATES_KEY, CHOSEN_KEY, settle_backbone
from .config_keys import AUTO
from .data_decisions import (DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_IMAGE_SIZE,
                             MACRO_F1, TOP1, RecipeConfigError,
                             check_batch_size, check_num_classes,
                             choose_batch_size, choose_image_size,
                             choose_monitor, class_balance)
from .size_placeholders import (SIZE_TOKEN, SPLIT_LOADERS, fill_image_size,
                                fixed_sizes, has_size_placeholders,
                                loader_dataset, size_placeholder)

BATCH_TOKEN = 'batch_size'
#: Where a checkpoint keeps the decisions it was trained under.
META_KEY = 'data_decisions'


@dataclass
class DataDecisions:
    """What the recipe decided from the data, and why (one line each)."""
    classes: Tuple[str, ...] = ()
    image_size: Optional[int] = None
    batch_size: Optional[int] = None
    monitor: Optional[str] = None
    class_balanced_sampling: bool = False
    #: The time budget's plan (engine/time_budget.py), when one was given.
    time_budget: Optional[Dict] = None
    #: The shipped recipe whose backbone trains (engine/backbone_choice.py),
    #: when the config let the recipe choose.
    backbone: Optional[str] = None
    reasons: List[str] = field(default_factory=list)

    def to_meta(self) -> Dict:
        """Plain types only: checkpoints are loaded with weights_only."""
        meta = asdict(self)
        meta['classes'] = list(self.classes)
        return meta


# ------------------------------------------------------------------ data_root
def apply_data_root(cfg) -> Optional[str]:
    """Point every split's dataset at the top-level ``data_root``.

    Returns:
        The log line, or None when ``data_root`` is not set.
    """
    root = cfg.get('data_root')
    if not root:
        return None
    root = osp.expanduser(str(root))
    if not osp.isdir(root):
        raise RecipeConfigError(
            f'data_root={root!r} is not a folder. Point it at a folder with '
            'one sub-folder of images per class (or with train/, val/ and '
            'test/ sub-folders, each holding the class sub-folders).')
    for loader in SPLIT_LOADERS:
        dataset = loader_dataset(cfg, loader)
        if dataset is None:
            continue
        own = dataset.get('data_root')
        if own and osp.abspath(osp.expanduser(own)) != osp.abspath(root):
            raise RecipeConfigError(
                f'data_root={root!r} but {loader}.dataset.data_root='
                f'{own!r}: two folders for one split. Set only data_root.')
        dataset['data_root'] = root
    return f'data: {root} (data_root; train, val and test read from it).'


def refuse_clash(setting: str, requested, fixed: Dict[str, object],
                 fix: str) -> None:
    """Refuse a top-level ``setting`` that a place in the config fixes at
    another value (``fixed``: where -> value), where it would not apply.
    ``fix`` is the second remedy (``{fixed}`` is that place's value)."""
    clash = {where: value for where, value in fixed.items()
             if value != requested}
    if clash:
        where, value = next(iter(clash.items()))
        raise RecipeConfigError(
            f'{setting}={requested} but {where} is fixed at {value}, so '
            f"{setting} would not apply there. Write it as '{setting}' (the "
            f'top-level {setting}) or {fix.format(fixed=value)}.')


# ----------------------------------------------------------------- batch size
def _decide_batch_size(cfg, facts: Callable[[], SplitFacts],
                       from_checkpoint: bool) -> Tuple[Optional[int], str]:
    """Fill the loaders' ``batch_size='batch_size'`` placeholders from the
    top-level ``batch_size`` (``'auto'``: from the training split's size)."""
    loaders = {name: cfg[name] for name in SPLIT_LOADERS
               if isinstance(cfg.get(name), dict)}
    placeholders = [loader for loader in loaders.values()
                    if loader.get('batch_size') == BATCH_TOKEN]
    if not placeholders:
        return None, ''
    requested = cfg.get('batch_size', AUTO)
    fixed = {name: loader['batch_size'] for name, loader in loaders.items()
             if loader.get('batch_size') != BATCH_TOKEN}
    train_images = None if from_checkpoint else sum(facts().counts)
    if requested in (AUTO, None):
        if from_checkpoint:  # deploying: no training, any batch validates
            size, reason = DEFAULT_MAX_BATCH_SIZE, ''
        else:
            size, reason = choose_batch_size(train_images)
    else:
        refuse_clash(BATCH_TOKEN, requested,
                     {f'{name}.batch_size': v for name, v in fixed.items()},
                     'set only one of the two')
        size, reason = requested, f'batch_size {requested}: set in the config.'
    train = loaders.get('train_dataloader')
    if train is not None and not from_checkpoint:
        try:
            check_batch_size(
                size if train.get('batch_size') == BATCH_TOKEN
                else train['batch_size'], train_images)
        except ValueError as error:
            raise RecipeConfigError(str(error)) from None
    for loader in placeholders:
        loader['batch_size'] = size
    cfg['batch_size'] = size
    return size, reason


# ---------------------------------------------------------------- the decider
def stored_decisions(checkpoint: Optional[str]) -> Optional[Dict]:
    """The decisions a checkpoint was trained under, or None (no checkpoint,
    or one written by a plain Runner)."""
    if not checkpoint:
        return None
    path = osp.abspath(osp.expanduser(str(checkpoint)))
    if not osp.isfile(path):
        return None
    stat = os.stat(path)
    # A run asks up to four times (backbone, budget plan, size, classes);
    # the file is read once while it stays the same file.
    return copy.deepcopy(_stored_decisions(path, stat.st_mtime_ns,
                                           stat.st_size))


@functools.lru_cache(maxsize=4)
def _stored_decisions(path: str, mtime_ns: int, size: int
                      ) -> Optional[Dict]:
    from ..compat.checkpoint_loading import load_checkpoint_file
    saved = load_checkpoint_file(path, map_location='cpu')
    meta = saved.get('meta') if isinstance(saved, dict) else None
    return (meta or {}).get(META_KEY)


def checkpoint_to_load(cfg) -> Optional[str]:
    """The checkpoint the run will load: ``load_from``, or with ``resume``
    the work dir's latest (as MMEngine finds it)."""
    if cfg.get('load_from'):
        return cfg['load_from']
    if cfg.get('resume') and cfg.get('work_dir'):
        from mmengine.runner.checkpoint import find_latest_checkpoint
        return find_latest_checkpoint(cfg['work_dir'])
    return None


def _decide_image_size(cfg, facts: Callable[[], SplitFacts],
                       stored: Optional[Dict], checkpoint: Optional[str]
                       ) -> Tuple[Optional[int], str]:
    requested = cfg.get('image_size', AUTO)
    placeholders = has_size_placeholders(cfg)
    fixed = fixed_sizes(cfg)
    if requested not in (AUTO, None):
        if isinstance(requested, bool) or not isinstance(requested, int) \
                or requested < 1:
            raise RecipeConfigError(
                f"image_size must be 'auto' or a positive integer, got "
                f'{requested!r}.')
        refuse_clash(SIZE_TOKEN, requested, fixed,
                     'set image_size={fixed}')
        return requested, f'image_size {requested}: set in the config.'
    if not placeholders:
        sides = sorted(set(fixed.values()))
        if not sides:
            return None, ('image_size: the config\'s pipelines set no size; '
                          'images keep their own.')
        return sides[-1], (f'image_size {sides[-1]}: fixed by the config\'s '
                           'pipelines.')
    if stored and stored.get('image_size'):
        size = int(stored['image_size'])
        return size, (f'image_size {size}: the size {checkpoint} was trained '
                      'at (set image_size=N to override).')
    facts_now = facts()
    max_size = cfg.get('max_image_size', DEFAULT_MAX_IMAGE_SIZE)
    return choose_image_size(facts_now.short_sides, max_size)


def _decide_monitor(cfg, facts: Callable[[], SplitFacts],
                    stored: Optional[Dict] = None
                    ) -> Tuple[Optional[str], List[str]]:
    targets = _monitor_placeholders(cfg)
    requested = cfg.get('monitor', AUTO)
    if not targets:
        return None, []
    if requested not in (AUTO, None):
        monitor, reason = requested, f'monitor {requested}: set in the config.'
    elif stored and stored.get('monitor'):
        monitor = stored['monitor']
        reason = f'monitor {monitor}: the one the checkpoint was trained on.'
    else:
        found = facts()
        imbalanced, ratio, _ = class_balance(found.counts, found.classes)
        monitor, reason = choose_monitor(imbalanced, ratio,
                                         _reports_macro_f1(cfg))
    for owner, key in targets:
        owner[key] = monitor
    return monitor, [reason]


def _monitor_placeholders(cfg) -> List[Tuple[dict, str]]:
    targets = [(s, 'monitor') for s in cfg.get('param_scheduler') or []
               if isinstance(s, dict) and s.get('monitor') == AUTO]
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if isinstance(checkpoint, dict) and checkpoint.get('save_best') == AUTO:
        targets.append((checkpoint, 'save_best'))
    log_processor = cfg.get('log_processor')
    if isinstance(log_processor, dict) and \
            log_processor.get('monitor') == AUTO:
        targets.append((log_processor, 'monitor'))  # ConciseLogProcessor
    return targets


def _reports_macro_f1(cfg) -> bool:
    evaluators = cfg.get('val_evaluator') or []
    if isinstance(evaluators, dict):
        evaluators = [evaluators]
    return any(e.get('type') == 'SingleLabelMetric' and
               e.get('average', 'macro') == 'macro' and
               e.get('prefix') == 'macro' for e in evaluators)


def _apply_class_balanced_sampling(cfg, facts: Callable[[], SplitFacts]
                                   ) -> Tuple[bool, Optional[str]]:
    requested = cfg.get('class_balanced_sampling', False)
    if requested in (False, None):
        return False, None
    if requested not in (True, AUTO):
        raise RecipeConfigError(
            "class_balanced_sampling must be True, False or 'auto', got "
            f'{requested!r}.')
    found = facts()
    imbalanced, ratio, _ = class_balance(found.counts, found.classes)
    if requested == AUTO and not imbalanced:
        return False, (f'class-balanced sampling off: the classes are '
                       f'balanced enough (minority/majority {ratio:.2f}).')
    loader = cfg['train_dataloader']
    if loader['dataset'].get('type') == 'ClassBalancedDataset':
        return True, 'class-balanced sampling: set in the config.'
    threshold = 1.0 / len(found.classes)
    loader['dataset'] = dict(type='ClassBalancedDataset',
                             oversample_thr=threshold,
                             dataset=loader['dataset'])
    return True, (
        f'class-balanced sampling: images of a class with under '
        f'1/{len(found.classes)} of the training split are repeated '
        f'sqrt(share deficit) times per epoch (MMEngine ClassBalancedDataset,'
        f' oversample_thr={threshold:.3g}; minority/majority {ratio:.2f}).')


def _apply_num_classes(cfg, facts: Callable[[], SplitFacts]
                       ) -> Tuple[Tuple[str, ...], Optional[str]]:
    owners = [owner for owner in (cfg.get('model', {}).get('head'),
                                  cfg.get('data_preprocessor'),
                                  cfg.get('model', {}).get(
                                      'data_preprocessor'))
              if isinstance(owner, dict) and 'num_classes' in owner
              and owner['num_classes'] is None]
    if not owners:
        return (), None
    found = facts()
    count = check_num_classes(cfg.get('num_classes'), found.classes,
                              found.source)
    for owner in owners:
        owner['num_classes'] = count
    cfg['num_classes'] = count
    names = ', '.join(list(found.classes)[:10]) + \
        (', ...' if len(found.classes) > 10 else '')
    return found.classes, (f'classes: {count} from {found.source} '
                           f'({names}).')


def apply_data_decisions(cfg, checkpoint: Optional[str] = None,
                         from_checkpoint: bool = False) -> DataDecisions:
    """Fill ``cfg``'s data placeholders in place from the data (and from
    the checkpoint it will load, for the size); return the decisions.

    Args:
        cfg: An MMEngine config (modified in place).
        checkpoint: The checkpoint this run loads; by default the config's
            ``load_from`` (or the work dir's latest with ``resume``).
        from_checkpoint: Take every decision the checkpoint stored (classes
            included) without reading the data: deploying a trained model,
            possibly where its training images are not.
    """
    lines = []
    root_line = apply_data_root(cfg)
    if root_line:
        lines.append(root_line)
    checkpoint = checkpoint or checkpoint_to_load(cfg)
    cache: Dict[str, SplitFacts] = {}
    stored = stored_decisions(checkpoint) if from_checkpoint else None
    if cfg.get(CANDIDATES_KEY):
        line = settle_backbone(cfg, stored if from_checkpoint
                               else stored_decisions(checkpoint))
        lines.append(line)
    if stored and stored.get('classes'):
        cache['train'] = SplitFacts(
            classes=tuple(stored['classes']),
            counts=(1, ) * len(stored['classes']), short_sides=(),
            source=f'{checkpoint} (the classes it was trained on)')

    def facts() -> SplitFacts:
        if 'train' not in cache:
            loader = cfg.get('train_dataloader')
            if not loader or 'dataset' not in loader:
                raise RecipeConfigError(
                    'The recipe reads classes, sizes and balance from the '
                    'training split, but the config has no '
                    'train_dataloader.dataset.')
            dataset = copy.deepcopy(loader['dataset'])
            inner = unwrap_dataset_cfg(dataset)
            if size_placeholder(inner.get('image_size')) is not None:
                inner['image_size'] = None
            cache['train'] = training_split_facts(dataset)
        return cache['train']

    classes, line = _apply_num_classes(cfg, facts)
    if line:
        lines.append(line)
    if stored is None and has_size_placeholders(cfg) and \
            cfg.get('image_size', AUTO) in (AUTO, None):
        stored = stored_decisions(checkpoint)
    size, reason = _decide_image_size(cfg, facts, stored, checkpoint)
    if size is not None:
        fill_image_size(cfg, size)
        cfg['image_size'] = size
    lines.append(reason)
    batch_size, line = _decide_batch_size(cfg, facts, from_checkpoint)
    if line:
        lines.append(line)
    monitor, reasons = _decide_monitor(
        cfg, facts, stored if from_checkpoint else None)
    lines += reasons
    balanced, line = _apply_class_balanced_sampling(cfg, facts)
    if line:
        lines.append(line)
    return DataDecisions(classes=tuple(classes), image_size=size,
                         batch_size=batch_size, monitor=monitor,
                         class_balanced_sampling=balanced,
                         backbone=cfg.get(CHOSEN_KEY), reasons=lines)


__all__ = ['AUTO', 'DataDecisions', 'META_KEY', 'RecipeConfigError',
           'apply_data_decisions', 'fill_image_size', 'fixed_sizes',
           'size_placeholder', 'stored_decisions', 'MACRO_F1', 'TOP1']
