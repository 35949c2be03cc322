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
