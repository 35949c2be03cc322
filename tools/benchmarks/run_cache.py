"""Finished training runs, stored once and shared between benchmarks.

The LR-finder grid, the fixed budgets of the epoch benchmark and the oracle
of the headline benchmark train many of the same runs (same config,
dataset, LR, budget and seed). A :class:`RunCache` keys each result by
everything that defines the run: the resolved config (its whole ``_base_``
chain included) and the source of every mmtricks module the run imports,
so a changed recipe or a changed part is never served an old result, a
change to code the run never imports (``mmtricks/deploy/``, tests, docs)
retrains nothing, and an interrupted benchmark resumes where it stopped.
"""
import ast
import hashlib
import json
import os
import os.path as osp
from typing import Callable, Dict, Iterable, List, Optional


def file_digest(paths: Iterable[str], root: Optional[str] = None) -> str:
    """Short SHA-256 over the contents of ``paths`` (in the given order);
    with ``root``, each file's path relative to it is hashed too (a moved
    module is another program)."""
    digest = hashlib.sha256()
    for path in paths:
        if root is not None:
            digest.update(osp.relpath(path, root).encode() + b'\0')
        with open(path, 'rb') as f:
            digest.update(f.read())
        digest.update(b'\0')
    return digest.hexdigest()[:12]


def run_key(**fields) -> str:
    """Canonical text of a run's defining fields (order does not matter)."""
    return json.dumps(fields, sort_keys=True, default=str)


def _module_file(base: str, name: str) -> Optional[str]:
    """The source file of module ``name`` under ``base``, None if ``name``
    is no module there (e.g. a class imported with ``from x import Name``)."""
    path = osp.join(base, *name.split('.'))
    if osp.isfile(osp.join(path, '__init__.py')):
        return osp.join(path, '__init__.py')
    if osp.isfile(path + '.py'):
        return path + '.py'
    return None


def _imported_names(tree: ast.AST, module: str, is_package: bool
                    ) -> List[str]:
    """Absolute names every import statement of a module may load, those
    inside functions included (code the run may execute)."""
    package = module if is_package else module.rpartition('.')[0]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split('.')
                parts = parts[:len(parts) - (node.level - 1)]
                source = '.'.join(parts + ([node.module] if node.module
                                           else []))
            else:
                source = node.module
            names.append(source)
            names += [f'{source}.{alias.name}' for alias in node.names]
    return names


def module_files(package_dir: str, roots: Iterable[str]) -> List[str]:
    """Source files of the modules ``roots`` import, transitively, within
    the package at ``package_dir`` (found by reading the import statements,
    without importing anything). Importing ``a.b.c`` also runs the
    ``__init__`` of ``a`` and ``a.b``, so those count too.

    Args:
        package_dir: The top-level package's folder, e.g. ``.../mmtricks``.
        roots: Module names the run imports, e.g. ``['mmtricks']``.

    Returns:
        Sorted paths of the files.
    """
    package_dir = osp.abspath(package_dir)
    base, top = osp.split(package_dir)
    seen: Dict[str, str] = {}
    todo = [r for r in roots if r == top or r.startswith(top + '.')]
    while todo:
        name = todo.pop()
        parts = name.split('.')
        for i in range(1, len(parts) + 1):  # parents run first
            module = '.'.join(parts[:i])
            if module in seen:
                continue
            path = _module_file(base, module)
            if path is None:
                continue
            seen[module] = path
            with open(path, 'rb') as f:
                tree = ast.parse(f.read(), filename=path)
            todo += [n for n in _imported_names(
                tree, module, path.endswith('__init__.py'))
                if n == top or n.startswith(top + '.')]
    return sorted(seen.values())


class RunCache:
    """Results of training runs in a JSON-lines file, one run per line.

    A stored result lacking one of ``required`` fields was scored under an
    older rule (before the test split: no ``test_top1``): it is not served,
    and the run is trained again (the new result is appended and wins).

    Args:
        path (str, optional): The file; None keeps results in memory only.
        required (sequence of str): Fields a stored result must carry to be
            reused. Defaults to the scoring rule's (``train.SCORE_FIELDS``).
    """

    def __init__(self, path: Optional[str] = None,
                 required: Optional[Iterable[str]] = None):
        if required is None:
            from .train import SCORE_FIELDS
            required = SCORE_FIELDS
        self.required = tuple(required)
        self.path = path
        self.results: Dict[str, dict] = {}
        if path and osp.exists(path):
            with open(path) as f:
                for line in f:
                    if line.strip():
                        entry = json.loads(line)
                        if self._current(entry['result']):
                            self.results[entry['key']] = entry['result']

    def _current(self, result: dict) -> bool:
        return all(field in result for field in self.required)

    def __contains__(self, key: str) -> bool:
        return key in self.results

    def get_or_run(self, key: str, train: Callable[[], dict]) -> dict:
        """The stored result of ``key``, or ``train()``'s, stored first.

        Args:
            key: The run's key (:func:`run_key`).
            train: Trains the run and returns its result.
        """
        if key not in self.results:
            result = train()
            if not self._current(result):
                missing = [f for f in self.required if f not in result]
                raise ValueError(
                    f'A run\'s result lacks {missing}: train() must score '
                    'it as benchmarks.train.score_result does.')
            self.results[key] = result
            if self.path:
                os.makedirs(osp.dirname(osp.abspath(self.path)), exist_ok=True)
                with open(self.path, 'a') as f:
                    f.write(json.dumps(dict(key=key, result=result)) + '\n')
        return self.results[key]
