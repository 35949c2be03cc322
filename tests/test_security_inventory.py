"""docs/security.md lists every place that loads a checkpoint or a pickle.

An AST scan of ``mmtricks/`` and ``tools/`` finds every call that loads a
checkpoint, a pickle or a model file; each must have its row
(``file:function``) in the table of docs/security.md, so a new load path
cannot appear without saying how it is guarded. Every ``torch.load`` must pass
``weights_only=True``.
"""
import ast
import os
import os.path as osp
import re

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SCANNED = ('mmtricks', 'tools')
DOC = osp.join(REPO, 'docs', 'security.md')

# Loads named by their full dotted call.
LOAD_CALLS = {
    'torch.load', 'torch.jit.load', 'torch.hub.load',
    'pickle.load', 'pickle.loads', 'pickle.Unpickler',
    'np.load', 'numpy.load', 'joblib.load', 'marshal.load', 'marshal.loads',
    'shelve.open', 'dill.load', 'dill.loads', 'cloudpickle.load',
    'cloudpickle.loads', 'yaml.load', 'yaml.unsafe_load', 'mmengine.load',
    'fileio.load', 'Runner.from_cfg', 'RUNNERS.build',
}
# Loads named by the last part of the call, whatever object they hang on.
LOAD_FUNCTIONS = {
    # MMEngine's checkpoint loading, and what resolves URLs
    'load_checkpoint', '_load_checkpoint', '_load_checkpoint_with_prefix',
    'load_from_http', 'load_url', 'load_state_dict_from_url',
    'download_url_to_file', 'register_scheme',
    # mmtricks' own loader
    'load_checkpoint_file', 'load_checkpoint_from', 'fetch_checkpoint',
    'download_checkpoint', 'build_runner',
    # MMDeploy (loads the checkpoint), OpenVINO and ONNX Runtime model files
    'torch2onnx', 'read_model', 'convert_model', 'InferenceSession',
}
UNSAFE_MODULES = {'pickle', 'dill', 'cloudpickle', 'joblib', 'marshal',
                  'shelve'}


def dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return '.'.join(reversed(parts))


class LoadFinder(ast.NodeVisitor):

    def __init__(self):
        self.scope, self.found, self.torch_loads = [], [], []

    def _scoped(self, node):
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def where(self) -> str:
        return '.'.join(self.scope) or '<module>'

    def visit_Call(self, node):
        name = dotted(node.func)
        if name in LOAD_CALLS or name.rsplit('.', 1)[-1] in LOAD_FUNCTIONS:
            self.found.append((self.where(), name, node.lineno))
        if name == 'torch.load':
            self.torch_loads.append((self.where(), node))
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        if (node.module or '').split('.')[0] in UNSAFE_MODULES:
            names = ', '.join(a.name for a in node.names)
            self.found.append((self.where(), f'from {node.module} import '
                               f'{names}', node.lineno))


def scanned_files():
    for top in SCANNED:
        for folder, _, files in os.walk(osp.join(REPO, top)):
            for name in sorted(files):
                if name.endswith('.py'):
                    path = osp.join(folder, name)
                    yield osp.relpath(path, REPO).replace(os.sep, '/'), path


def find_loads():
    """{``file:function``: [(call, line), ...]} and the torch.load calls."""
    loads, torch_loads = {}, []
    for rel, path in scanned_files():
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), filename=rel)
        finder = LoadFinder()
        finder.visit(tree)
        for where, call, line in finder.found:
            loads.setdefault(f'{rel}:{where}', []).append((call, line))
        torch_loads += [(f'{rel}:{where}', node)
                        for where, node in finder.torch_loads]
    return loads, torch_loads


def documented_rows():
    with open(DOC, encoding='utf-8') as f:
        text = f.read()
    return set(re.findall(r'^\|\s*`((?:mmtricks|tools)/[\w/]+\.py:[\w.<>]+)`',
                          text, flags=re.M))


def test_every_load_path_is_in_docs_security_md():
    loads, _ = find_loads()
    assert loads, 'the scan found nothing: the patterns are broken'
    missing = {where: calls for where, calls in loads.items()
               if where not in documented_rows()}
    assert not missing, (
        'New checkpoint/pickle/model load paths: add a row for each to the '
        'table in docs/security.md saying what it loads and how it is '
        f'guarded (weights_only=True through mmtricks.compat.'
        f'checkpoint_loading): {missing}')


def test_no_stale_rows_in_docs_security_md():
    loads, _ = find_loads()
    stale = documented_rows() - set(loads)
    assert not stale, (
        f'docs/security.md lists load paths that no longer load (or moved): '
        f'{sorted(stale)}; update the table.')


def test_every_torch_load_passes_weights_only_true():
    _, torch_loads = find_loads()
    assert torch_loads
    unsafe = [where for where, node in torch_loads
              if not any(k.arg == 'weights_only' and
                         isinstance(k.value, ast.Constant) and
                         k.value.value is True for k in node.keywords)]
    assert not unsafe, (
        f'torch.load without weights_only=True in {unsafe}: pass it (or use '
        'mmtricks.compat.checkpoint_loading.load_checkpoint_file).')


def test_mmtricks_calls_torch_load_only_in_the_one_loader():
    """Every checkpoint mmtricks reads goes through
    ``checkpoint_loading.load_checkpoint_file`` (its allow-list, its
    errors naming the file and the fix), never a ``torch.load`` of its own.
    """
    _, torch_loads = find_loads()
    elsewhere = [where for where, _ in torch_loads
                 if where.startswith('mmtricks/') and where !=
                 'mmtricks/compat/checkpoint_loading.py:load_checkpoint_file']
    assert not elsewhere, (
        f'torch.load in {elsewhere}: call mmtricks.compat.'
        'checkpoint_loading.load_checkpoint_file instead.')


def test_the_scan_sees_a_new_load():
    """The guard itself can fail: a pickle.load in new code is found."""
    finder = LoadFinder()
    finder.visit(ast.parse(
        'import pickle\n'
        'def read(path):\n'
        '    with open(path, "rb") as f:\n'
        '        return pickle.load(f)\n'
        'class A:\n'
        '    def b(self):\n'
        '        return torch.load(p)\n'
        'from dill import loads\n'))
    assert [(w, c) for w, c, _ in finder.found] == [
        ('read', 'pickle.load'), ('A.b', 'torch.load'),
        ('<module>', 'from dill import loads')]
