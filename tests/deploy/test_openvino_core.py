"""OpenVINO's CPU plugin leaves a dangling alternate signal stack when two
``Core`` objects are unloaded in the order they were made; the next signal
handled on it is a SIGSEGV. mmtricks shares one ``Core`` and can repair the
stack (mmtricks/deploy/openvino_core.py says why)."""
import ast
import os.path as osp
import signal
import subprocess
import sys
import textwrap

from conftest import REPO

from mmtricks.deploy.openvino_core import (is_mapped, repair_signal_stack,
                                           shared_core, signal_stack)

TWO_CORES_UNLOADED_IN_ORDER = textwrap.dedent('''
    import gc, os, signal
    import numpy as np, openvino as ov, torch
    from mmtricks.deploy.openvino_core import (
        is_mapped, repair_signal_stack, signal_stack)
    model = ov.convert_model(torch.nn.Linear(4, 2),
                             example_input=torch.zeros(1, 4))

    def compiled():
        core = ov.Core()
        net = core.compile_model(model, 'CPU')
        net(np.zeros((1, 4), np.float32))
        return core, net

    first = compiled()
    second = compiled()
    del first
    gc.collect()
    del second
    gc.collect()
    stack = signal_stack()
    print('dangling' if stack and not is_mapped(stack[0]) else 'mapped',
          flush=True)
    if REPAIR:
        print('repaired' if repair_signal_stack() else 'nothing to repair',
              flush=True)
    # A Python handler, as PyTorch's DataLoader installs for SIGCHLD.
    signal.signal(signal.SIGUSR1, lambda *args: None)
    os.kill(os.getpid(), signal.SIGUSR1)
    print('signal handled', flush=True)
''')


def run_script(repair: bool) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, '-c',
         f'REPAIR = {repair}\n' + TWO_CORES_UNLOADED_IN_ORDER],
        capture_output=True, text=True, timeout=300)


def test_upstream_leaves_a_dangling_signal_stack_that_kills_on_a_signal():
    """The upstream defect, fenced: when OpenVINO fixes it this fails, and
    shared_core and repair_signal_stack can go."""
    done = run_script(repair=False)
    assert 'dangling' in done.stdout, done.stdout + done.stderr[-2000:]
    assert done.returncode == -signal.SIGSEGV, (done.returncode,
                                                done.stdout)
    assert 'signal handled' not in done.stdout


def test_repair_gives_back_a_stack_the_signal_can_use():
    done = run_script(repair=True)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert 'dangling\nrepaired\nsignal handled' in done.stdout


def test_nothing_to_repair_on_a_sound_stack():
    shared_core()  # the plugin's own stack stays mapped while it lives
    stack = signal_stack()
    assert stack is None or is_mapped(stack[0])
    assert repair_signal_stack() is False
    assert shared_core() is shared_core()


def test_mmtricks_makes_no_core_of_its_own():
    """Every Core in mmtricks is shared_core(): two of ours can then never
    be unloaded out of order."""
    offenders = []
    package = osp.join(REPO, 'mmtricks')
    for folder, _, files in __import__('os').walk(package):
        for name in files:
            path = osp.join(folder, name)
            if not name.endswith('.py') or name == 'openvino_core.py':
                continue
            with open(path) as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and \
                        isinstance(node.func, ast.Attribute) and \
                        node.func.attr == 'Core':
                    offenders.append(f'{osp.relpath(path, REPO)}:'
                                     f'{node.lineno}')
    assert not offenders, ('ov.Core() outside shared_core(): '
                           f'{offenders}')
