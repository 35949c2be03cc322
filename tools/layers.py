"""mmtricks' layers, and the imports between them as the code has them.

Imports only point down. :data:`LAYERS` lists the layers from the bottom up;
a module may import its own layer and those below, never one above, and no
modules may import each other in a loop (inside one layer too). The edges are
read from the code itself (``ast``: every ``import``, also those inside
functions), never kept by hand, so ``tests/test_layers.py`` fails as soon as
an import points up or closes a loop.

``python tools/layers.py`` rewrites the table in ``docs/layers.md`` from the
code; ``--check`` exits 1 when that table is stale or the rule is broken,
naming each offending import.
"""
import argparse
import ast
import os
import os.path as osp
import re
import sys
from typing import Dict, Iterator, List, Optional, Set, Tuple

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PACKAGE = 'mmtricks'
DOC = osp.join(REPO, 'docs', 'layers.md')

# Bottom first. Each entry is a module or package of mmtricks (a package
# takes its submodules along); what each layer is for is in docs/layers.md.
LAYERS: Tuple[Tuple[str, ...], ...] = (
    ('mmtricks.compat', 'mmtricks.cpu_facts', 'mmtricks.shipped_configs',
     'mmtricks.version'),
    ('mmtricks.datasets', 'mmtricks.transforms', 'mmtricks.models'),
    ('mmtricks.optim',),
    ('mmtricks.hooks',),
    ('mmtricks.engine',),
    ('mmtricks.deploy',),
    ('mmtricks', 'mmtricks.recipes'),
)

Edge = Tuple[str, str]


def module_files(root: str = REPO) -> Dict[str, str]:
    """Every module of the package: dotted name -> file. Folders whose name
    is no identifier (``.mim``, which holds scripts and configs) are skipped.
    """
    found = {}
    top = osp.join(root, PACKAGE)
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d.isidentifier())
        parts = osp.relpath(folder, root).split(os.sep)
        for name in sorted(files):
            if not name.endswith('.py'):
                continue
            stem = name[:-3]
            dotted = '.'.join(parts if stem == '__init__' else parts + [stem])
            found[dotted] = osp.join(folder, name)
    return found


def _imported(tree: ast.AST, module: str, is_package: bool,
              modules: Set[str]) -> Iterator[str]:
    """The modules of ``modules`` that ``tree`` imports, as Python resolves
    the names (``from .x import y`` is module ``x.y`` when that exists)."""
    package = module if is_package else module.rpartition('.')[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split('.')
                base_parts = base_parts[:len(base_parts) - node.level + 1]
                base = '.'.join(base_parts + ([node.module] if node.module
                                              else []))
            else:
                base = node.module or ''
            candidates = [f'{base}.{alias.name}' if f'{base}.{alias.name}'
                          in modules else base for alias in node.names]
        else:
            continue
        for name in candidates:
            while name and name not in modules:
                name = name.rpartition('.')[0]
            if name:
                yield name


def import_graph(root: str = REPO) -> Dict[str, Set[str]]:
    """Module -> the mmtricks modules it imports (itself left out)."""
    files = module_files(root)
    modules = set(files)
    graph = {}
    for module, path in files.items():
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), path)
        is_package = path.endswith('__init__.py')
        graph[module] = set(_imported(tree, module, is_package,
                                      modules)) - {module}
    return graph


def layer_of(module: str) -> Optional[int]:
    """Index in :data:`LAYERS` (0 = bottom) of the entry that holds
    ``module`` (the longest that matches), or None if no entry does."""
    best, best_len = None, -1
    for index, entries in enumerate(LAYERS):
        for entry in entries:
            # The bare package name is its __init__ only, not everything.
            matches = module == entry or (
                entry != PACKAGE and module.startswith(entry + '.'))
            if matches and len(entry) > best_len:
                best, best_len = index, len(entry)
    return best


def unplaced(graph: Dict[str, Set[str]]) -> List[str]:
    """Modules that no entry of :data:`LAYERS` holds."""
    return sorted(m for m in graph if layer_of(m) is None)


def upward_imports(graph: Dict[str, Set[str]]) -> List[Edge]:
    """Imports of a module from a higher layer than the importer's."""
    return sorted((a, b) for a, targets in graph.items() for b in targets
                  if None not in (layer_of(a), layer_of(b))
                  and layer_of(b) > layer_of(a))


def import_loops(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """One loop (``[a, b, ..., a]``) for each group of modules that import
    each other, directly or through others (Tarjan's strongly connected
    components, iteratively)."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(set(group))
    return [_one_loop(graph, group) for group in groups]


def _one_loop(graph: Dict[str, Set[str]], group: Set[str]) -> List[str]:
    # Shortest way back to the first member, inside the group.
    first = min(group)
    paths = {first: [first]}
    frontier = [first]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & group):
                if target == first:
                    return paths[node] + [first]
                if target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    raise AssertionError(f'no loop through {first}')


def problems(graph: Dict[str, Set[str]]) -> List[str]:
    """One line per broken rule; empty when the layering holds."""
    lines = [f'{m} is on no layer: add it to LAYERS in tools/layers.py'
             for m in unplaced(graph)]
    lines += [f'{a} (layer {layer_of(a)}) imports {b}, of layer '
              f'{layer_of(b)} above it' for a, b in upward_imports(graph)]
    lines += ['import loop: ' + ' -> '.join(loop)
              for loop in import_loops(graph)]
    return lines


def _short(entry: str) -> str:
    if entry == PACKAGE:
        return 'mmtricks/__init__.py'
    path = entry.replace('.', '/')
    is_package = osp.isdir(osp.join(REPO, path))
    return path + ('/' if is_package else '.py')


def _entry_of(module: str) -> str:
    entries = LAYERS[layer_of(module)]
    return max((e for e in entries if module == e or (
        e != PACKAGE and module.startswith(e + '.'))), key=len)


def render(graph: Dict[str, Set[str]]) -> str:
    """The layer table, top layer first: each part with the parts of other
    layers that it imports, as measured."""
    rows = ['| layer | part | imports (read from the code) |',
            '| --- | --- | --- |',
            f'| {len(LAYERS)} | tools/ (scripts, not a package) | any layer |']
    for number in range(len(LAYERS) - 1, -1, -1):
        for entry in LAYERS[number]:
            members = [m for m in graph if _entry_of(m) == entry]
            targets = sorted({_entry_of(t) for m in members for t in graph[m]}
                             - {entry}, key=lambda e: (-layer_of(e), e))
            imports = ', '.join(f'{_short(t)} ({layer_of(t)})'
                                for t in targets) or '-'
            rows.append(f'| {number} | {_short(entry)} | {imports} |')
    return '\n'.join(rows) + '\n'


BLOCK = re.compile(r'(<!-- table: layers -->\n)(.*?)(<!-- /table -->)', re.S)


def render_doc(text: str, graph: Dict[str, Set[str]]) -> str:
    """``text`` (docs/layers.md) with its table block rendered anew."""
    if not BLOCK.search(text):
        raise ValueError(f'{DOC} has no "<!-- table: layers -->" block')
    return BLOCK.sub(lambda m: m.group(1) + render(graph) + m.group(3), text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true',
                        help='exit 1 if an import points up or loops, or '
                        'docs/layers.md is stale; write nothing')
    args = parser.parse_args(argv)
    graph = import_graph()
    broken = problems(graph)
    for line in broken:
        print(line)
    with open(DOC, encoding='utf-8') as f:
        text = f.read()
    rendered = render_doc(text, graph)
    if args.check:
        if rendered != text:
            print('docs/layers.md differs from the code: run '
                  'python tools/layers.py')
        return 1 if broken or rendered != text else 0
    with open(DOC, 'w', encoding='utf-8') as f:
        f.write(rendered)
    return 1 if broken else 0


if __name__ == '__main__':
    sys.exit(main())
