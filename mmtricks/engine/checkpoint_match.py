"""Whether a checkpoint was trained on the data at hand, and on which data.

A head trained on other classes gives numbers that mean nothing, without a
word: MMEngine skips a head of another size with plain "size mismatch"
lines and leaves it random, and loads a head of the same size for other
class names as if they were these. ``mim test``, ``--resume`` (through
``DataAwareRunner``) and ``tools/deploy.py`` compare the checkpoint's
classes with the data's here first (:func:`check_checkpoint_classes`).

What a checkpoint knows about its data:

- its classes, in label order: ``meta['data_decisions']['classes']``
  (written by ``DataAwareRunner``), else MMEngine's
  ``meta['dataset_meta']['classes']``; for a checkpoint with neither (a
  model-zoo one), only its head's number of outputs, read from the weights;
- the data it was trained on: the ``data_root`` (or bundled set) of the
  training split in the config MMEngine dumps into ``meta['cfg']``. That
  text is read with :mod:`ast`, never executed: a checkpoint is untrusted
  input.
"""
import ast
import os.path as osp
import shlex
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

from ..datasets.facts import WRAPPERS, unwrap_dataset_cfg
from .recipe_config import META_KEY, RecipeConfigError

#: Class names shown in full up to this many; beyond, the first few.
SHOWN_CLASSES = 6
#: The bundled set a ``FolderOrBundledDataset`` reads when it names none.
DEFAULT_BUNDLED = 'digits'
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


@dataclass(frozen=True)
class CheckpointFacts:
    """What a checkpoint says about the classes and data it was trained on.

    Attributes:
        path: The checkpoint, as the user named it.
        classes: Class names in label order; None when it stores none.
        head_outputs: Outputs of its classifier head (rows of the last 2-D
            ``head.`` weight); None when it has no such weight.
        data_root: The training split's folder, as the training config said.
        bundled: The bundled set trained on, when no folder was.
    """
    path: str
    classes: Optional[Tuple[str, ...]] = None
    head_outputs: Optional[int] = None
    data_root: Optional[str] = None
    bundled: Optional[str] = None

    def data(self) -> Optional[str]:
        """Its training data in words, or None when unknown."""
        if self.data_root:
            return f'data_root={self.data_root!r}'
        if self.bundled:
            return f'the bundled {self.bundled} set'
        return None


# ------------------------------------------------------------ reading facts
def stored_classes(saved: dict) -> Optional[Tuple[str, ...]]:
    """The class names a loaded checkpoint stores, in label order."""
    meta = saved.get('meta') if isinstance(saved, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    for owner in (meta.get(META_KEY), meta.get('dataset_meta')):
        names = owner.get('classes') if isinstance(owner, dict) else None
        if names:
            return tuple(str(name) for name in names)
    return None


def head_outputs(state_dict: dict) -> Optional[int]:
    """The classifier head's number of outputs, from the weights alone:
    rows of the last 2-D weight under ``head.`` (the final layer of
    MMPretrain's linear, stacked and margin heads; state dicts keep the
    order the layers were made in)."""
    outputs = None
    for key, value in state_dict.items():
        key = key[len('module.'):] if key.startswith('module.') else key
        if key.startswith('head.') and key.endswith('weight') and \
                len(getattr(value, 'shape', ())) == 2:
            outputs = int(value.shape[0])
    return outputs


def _keywords(node) -> Dict[str, ast.AST]:
    """The items of a ``dict(...)`` call or ``{...}`` display."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id == 'dict':
        return {k.arg: k.value for k in node.keywords if k.arg}
    if isinstance(node, ast.Dict):
        return {k.value: v for k, v in zip(node.keys, node.values)
                if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return {}


def _literal(node):
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return None


def training_data(cfg_text: Optional[str]
                  ) -> Tuple[Optional[str], Optional[str]]:
    """``(data_root, bundled set)`` of the training split a dumped config
    (MMEngine's ``meta['cfg']``) reads; ``(None, None)`` when it does not
    say. Parsed with :mod:`ast`, not executed."""
    if not isinstance(cfg_text, str):
        return None, None
    try:
        tree = ast.parse(cfg_text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None, None
    top = {node.targets[0].id: node.value for node in tree.body
           if isinstance(node, ast.Assign) and len(node.targets) == 1
           and isinstance(node.targets[0], ast.Name)}
    dataset = _keywords(_keywords(top.get('train_dataloader')).get(
        'dataset'))
    while _literal(dataset.get('type')) in WRAPPERS and 'dataset' in dataset:
        dataset = _keywords(dataset['dataset'])
    root = _literal(dataset.get('data_root')) or _literal(
        top.get('data_root'))
    if isinstance(root, str) and root:
        return root, None
    kind = _literal(dataset.get('type'))
    if kind == 'FolderOrBundledDataset':
        return None, _literal(dataset.get('bundled')) or DEFAULT_BUNDLED
    if kind == 'BundledDataset':
        return None, _literal(dataset.get('name')) or DEFAULT_BUNDLED
    return None, None


def checkpoint_facts(saved: dict, path: str) -> CheckpointFacts:
    """:class:`CheckpointFacts` of a loaded checkpoint."""
    if not isinstance(saved, dict):
        return CheckpointFacts(path=str(path))
    state_dict = saved.get('state_dict', saved)
    meta = saved.get('meta') if isinstance(saved.get('meta'), dict) else {}
    root, bundled = training_data(meta.get('cfg'))
    return CheckpointFacts(
        path=str(path), classes=stored_classes(saved),
        head_outputs=head_outputs(state_dict)
        if isinstance(state_dict, dict) else None,
        data_root=root, bundled=bundled)


def read_checkpoint_facts(path: str) -> CheckpointFacts:
    """Load ``path`` (a file or URL, through mmtricks' guarded loader)
    and return its :class:`CheckpointFacts`."""
    from ..compat.checkpoint_loading import load_checkpoint_from
    return checkpoint_facts(load_checkpoint_from(path, map_location='cpu'),
                            path)


# --------------------------------------------------------------- comparison
def abbreviate(classes: Sequence[str], shown: int = SHOWN_CLASSES) -> str:
    """``a, b, c`` in full, or the first names and how many in all."""
    names = [str(c) for c in classes]
    if len(names) <= shown:
        return ', '.join(names)
    return ', '.join(names[:shown - 1]) + f', ... ({len(names)} in all)'


def class_difference(checkpoint: CheckpointFacts,
                     data_classes: Sequence[str], data: str
                     ) -> Optional[str]:
    """How ``checkpoint``'s classes differ from ``data_classes``, as the
    end of a sentence about the checkpoint (both lists abbreviated), or
    None when its head fits them.

    Names, count and order must all match (a label index means the class
    at that place). A checkpoint that stores no names is compared by its
    head's number of outputs; one with neither passes.

    Args:
        checkpoint: What the checkpoint says (:func:`checkpoint_facts`).
        data_classes: The data's classes, in label order.
        data: The data in words, e.g. ``data_root='/images'``.
    """
    data_classes = tuple(str(c) for c in data_classes)
    if not data_classes:
        return None
    theirs = checkpoint.classes
    if theirs is not None:
        if theirs == data_classes:
            return None
        lists = (f'checkpoint: {abbreviate(theirs)}; data: '
                 f'{abbreviate(data_classes)}')
        if len(theirs) != len(data_classes):
            what = (f'was trained on {len(theirs)} classes but {data} has '
                    f'{len(data_classes)} ({lists})')
        elif sorted(theirs) == sorted(data_classes):
            what = (f'has the same {len(theirs)} classes as {data} in '
                    f'another order, so its label indices name other '
                    f'classes ({lists})')
        else:
            first = next(i for i, (a, b) in enumerate(zip(theirs,
                                                          data_classes))
                         if a != b)
            what = (f'was trained on other classes than {data} has (label '
                    f'{first}: {theirs[first]!r} against '
                    f'{data_classes[first]!r}; {lists})')
    elif checkpoint.head_outputs is not None:
        if checkpoint.head_outputs == len(data_classes):
            return None
        what = (f'has a head with {checkpoint.head_outputs} outputs but '
                f'{data} has {len(data_classes)} classes '
                f'({abbreviate(data_classes)})')
    else:
        return None
    return what


def class_mismatch(checkpoint: CheckpointFacts, data_classes: Sequence[str],
                   data: str) -> Optional[str]:
    """Why ``checkpoint``'s head cannot classify ``data_classes``: one line
    naming the checkpoint, both class lists and the fix; None when it
    can (see :func:`class_difference`)."""
    what = class_difference(checkpoint, data_classes, data)
    if what is None:
        return None
    if checkpoint.data_root:
        fix = ('Point data_root at the data it was trained on: '
               f'--cfg-options data_root={shlex.quote(checkpoint.data_root)}')
    elif checkpoint.bundled:
        fix = (f'Use the data it was trained on (the bundled '
               f'{checkpoint.bundled} set), or for a folder '
               '--cfg-options data_root=DIR')
    else:
        fix = ('Point data_root at the data it was trained on '
               '(--cfg-options data_root=DIR)')
    return (f'Checkpoint {checkpoint.path!r} {what}: its results would mean '
            f'nothing. {fix}, or train a model on this data.')


def check_checkpoint_classes(checkpoint: CheckpointFacts,
                             data_classes: Sequence[str], data: str) -> None:
    """Raise :class:`RecipeConfigError` with :func:`class_mismatch`'s
    line when the checkpoint does not fit the data's classes."""
    problem = class_mismatch(checkpoint, data_classes, data)
    if problem:
        raise RecipeConfigError(problem)


# --------------------------------------------------------- the config's data
def _datasets(cfg):
    for loader in LOADERS:
        dataloader = cfg.get(loader)
        if dataloader and isinstance(dataloader.get('dataset'), dict):
            yield unwrap_dataset_cfg(dataloader['dataset'])


def config_data(cfg) -> str:
    """The data ``cfg``'s training split reads, in words."""
    dataset = next(_datasets(cfg), {})
    root = cfg.get('data_root') or dataset.get('data_root')
    if root:
        return f'data_root={str(root)!r}'
    if dataset.get('type') == 'FolderOrBundledDataset':
        return f'the bundled {dataset.get("bundled", DEFAULT_BUNDLED)} set'
    if dataset.get('type') == 'BundledDataset':
        return f'the bundled {dataset.get("name", DEFAULT_BUNDLED)} set'
    return f'the config\'s {dataset.get("type", "training")} data'


def names_data(cfg) -> bool:
    """Whether ``cfg`` names a folder for any split (``data_root``)."""
    return bool(cfg.get('data_root')) or any(
        d.get('data_root') for d in _datasets(cfg))


def use_checkpoint_data(cfg, checkpoint: CheckpointFacts) -> str:
    """Point ``cfg`` (which names no folder) at the data ``checkpoint`` was
    trained on: its ``data_root``, or its bundled set for every split.

    Returns:
        The log line saying which data is used.

    Raises:
        RecipeConfigError: The folder the checkpoint names is not there.
    """
    if checkpoint.data_root:
        root = osp.expanduser(checkpoint.data_root)
        if not osp.isdir(root):
            raise RecipeConfigError(
                f'Checkpoint {checkpoint.path!r} was trained on data_root='
                f'{checkpoint.data_root!r}, which is not a folder here. Pass '
                'the folder it was trained on (or one with the same class '
                'folders): --cfg-options data_root=DIR.')
        cfg['data_root'] = root
        return (f'data: {root}, the data_root {checkpoint.path} was trained '
                'on (--cfg-options data_root=DIR to use another).')
    if checkpoint.bundled:
        for dataset in _datasets(cfg):
            if dataset.get('type') == 'FolderOrBundledDataset':
                dataset['bundled'] = checkpoint.bundled
            elif dataset.get('type') == 'BundledDataset':
                dataset['name'] = checkpoint.bundled
        return (f'data: the bundled {checkpoint.bundled} set, the one '
                f'{checkpoint.path} was trained on (--cfg-options '
                'data_root=DIR to use a folder).')
    return (f'WARNING: {checkpoint.path} does not record the data it was '
            f'trained on; using {config_data(cfg)} from the config. Pass '
            '--cfg-options data_root=DIR to use its own.')


__all__ = [
    'CheckpointFacts', 'abbreviate', 'check_checkpoint_classes',
    'checkpoint_facts', 'class_difference', 'class_mismatch', 'config_data',
    'head_outputs', 'names_data', 'read_checkpoint_facts', 'stored_classes',
    'training_data', 'use_checkpoint_data'
]
