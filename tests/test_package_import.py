"""``import mmtricks`` loads the runtime package only: no plotting, no
progress bars, nothing of the benchmark harness in tools/."""
import json
import os
import subprocess
import sys

from conftest import REPO

CHECK = r'''
import json, os, sys
# Importing these now fails: mmtricks must import without them (upstream
# may try them and fall back, as torch.hub does for tqdm).
for name in ('matplotlib', 'tqdm', 'benchmarks'):
    sys.modules[name] = None
import mmtricks
tools = os.path.join(sys.argv[1], 'tools') + os.sep
print(json.dumps(dict(
    loaded=sorted(n for n, m in sys.modules.items() if m is not None and
                  n.split('.')[0] in ('matplotlib', 'tqdm', 'benchmarks')),
    from_tools=sorted(n for n, m in sys.modules.items() if
                      (getattr(m, '__file__', None) or '').startswith(tools)),
    benchmark_modules=sorted(n for n in sys.modules
                             if n.startswith('mmtricks.benchmarks')))))
'''


def test_import_mmtricks_loads_no_plotting_progress_bar_or_benchmark():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [REPO] + [p for p in os.environ.get('PYTHONPATH', '').split(
            os.pathsep) if p]))
    done = subprocess.run([sys.executable, '-c', CHECK, REPO], env=env,
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == dict(loaded=[], from_tools=[], benchmark_modules=[])


def _registering_subpackages():
    """Subpackages of mmtricks with a module that registers a part
    (``REGISTRY.register_module(...)``), read from the code."""
    import ast
    found = set()
    package = os.path.join(REPO, 'mmtricks')
    for folder, dirs, files in os.walk(package):
        dirs[:] = [d for d in dirs if d.isidentifier()]
        for name in files:
            if not name.endswith('.py'):
                continue
            with open(os.path.join(folder, name)) as f:
                tree = ast.parse(f.read())
            if any(isinstance(node, ast.Attribute) and
                   node.attr == 'register_module' for node in ast.walk(tree)):
                found.add(os.path.relpath(folder, package).split(os.sep)[0])
    return found


def test_import_mmtricks_names_every_registering_subpackage():
    # Registration is explicit: mmtricks/__init__.py imports each subpackage
    # that registers a part itself, not through another one's imports.
    # mmtricks.deploy alone waits (it needs MMDeploy; training does not).
    import ast
    with open(os.path.join(REPO, 'mmtricks', '__init__.py')) as f:
        tree = ast.parse(f.read())
    imported = {alias.name for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.level == 1
                and node.module is None for alias in node.names}
    registering = _registering_subpackages()
    assert {'datasets', 'engine', 'hooks', 'models', 'optim',
            'transforms'} <= registering
    assert registering - {'deploy'} <= imported


def test_import_mmtricks_registers_the_runner():
    from mmpretrain.registry import RUNNERS

    import mmtricks  # noqa: F401
    assert RUNNERS.get('DataAwareRunner') is not None


def test_import_mmtricks_points_to_what_it_changes_process_wide():
    # the one list of changes to other libraries (tested against a diff of
    # upstream in tests/compat/test_process_wide.py)
    import mmtricks
    assert 'mmtricks.compat.PROCESS_WIDE' in ' '.join(mmtricks.__doc__.split())
    assert 'docs/compat.md' in mmtricks.__doc__
