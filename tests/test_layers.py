"""Imports only point down, with no loops: checked on the code's own imports
(``tools/layers.py`` reads them with ``ast``), and docs/layers.md's table is
drawn from the same graph."""
import layers

GRAPH = layers.import_graph()


def test_every_module_is_on_a_layer():
    unplaced = layers.unplaced(GRAPH)
    assert not unplaced, (
        f'add these to LAYERS in tools/layers.py: {unplaced}')


def test_no_import_points_up():
    upward = layers.upward_imports(GRAPH)
    assert not upward, 'imports that point up:\n' + '\n'.join(
        f'{a} (layer {layers.layer_of(a)}) -> {b} (layer '
        f'{layers.layer_of(b)})' for a, b in upward)


def test_no_modules_import_each_other():
    loops = layers.import_loops(GRAPH)
    assert not loops, 'import loops:\n' + '\n'.join(
        ' -> '.join(loop) for loop in loops)


def test_docs_layers_table_is_drawn_from_the_code():
    with open(layers.DOC, encoding='utf-8') as f:
        text = f.read()
    assert layers.render_doc(text, GRAPH) == text, (
        'docs/layers.md differs from the code: run python tools/layers.py')


def write(path, text=''):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_check_finds_an_upward_import_a_loop_and_an_unplaced_module(
        tmp_path):
    pkg = tmp_path / 'mmtricks'
    write(pkg / '__init__.py', 'from . import compat, hooks\n')
    write(pkg / 'compat' / '__init__.py')
    # an upward import, made inside a function: still an import
    write(pkg / 'compat' / 'fix.py',
          'def f():\n    from ..deploy.model_info import read\n')
    write(pkg / 'deploy' / '__init__.py')
    write(pkg / 'deploy' / 'model_info.py', 'read = 1\n')
    # a loop inside one layer, through the package's face
    write(pkg / 'hooks' / '__init__.py', 'from .a import A\n')
    write(pkg / 'hooks' / 'a.py', 'from mmtricks.hooks.b import B\nA = 1\n')
    write(pkg / 'hooks' / 'b.py', 'from . import a\nB = 1\n')
    write(pkg / 'newpart' / '__init__.py')
    graph = layers.import_graph(str(tmp_path))
    assert graph['mmtricks.compat.fix'] == {'mmtricks.deploy.model_info'}
    assert layers.upward_imports(graph) == [
        ('mmtricks.compat.fix', 'mmtricks.deploy.model_info')]
    assert layers.import_loops(graph) == [
        ['mmtricks.hooks.a', 'mmtricks.hooks.b', 'mmtricks.hooks.a']]
    assert layers.unplaced(graph) == ['mmtricks.newpart']
    found = layers.problems(graph)
    assert len(found) == 3
    assert 'mmtricks.compat.fix (layer 0) imports mmtricks.deploy.model_info'\
        in found[1]


def test_downward_and_sideways_imports_pass(tmp_path):
    pkg = tmp_path / 'mmtricks'
    write(pkg / '__init__.py', 'from . import engine\n')
    write(pkg / 'engine' / '__init__.py', 'from .runner import R\n')
    write(pkg / 'engine' / 'runner.py',
          'from ..hooks import H\nfrom .settings import S\nR = 1\n')
    write(pkg / 'engine' / 'settings.py',
          'import mmtricks.compat.fix\nS = 1\n')
    write(pkg / 'hooks' / '__init__.py', 'H = 1\n')
    write(pkg / 'compat' / '__init__.py')
    write(pkg / 'compat' / 'fix.py')
    graph = layers.import_graph(str(tmp_path))
    assert graph['mmtricks.engine.runner'] == {'mmtricks.hooks',
                                               'mmtricks.engine.settings'}
    assert layers.problems(graph) == []
