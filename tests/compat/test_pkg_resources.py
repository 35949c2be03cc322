import subprocess
import sys
from importlib.metadata import version

from mmtricks.compat.pkg_resources_check import check_pkg_resources


def test_setuptools_still_ships_pkg_resources():
    major = int(version('setuptools').split('.')[0])
    assert major < 81, 'mim needs pkg_resources: pin setuptools<81'
    check_pkg_resources()


def test_mim_starts():
    result = subprocess.run([sys.executable, '-m', 'mim', '--version'],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_missing_pkg_resources_names_the_fix(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_pkg_resources(name, *args, **kwargs):
        if name == 'pkg_resources':
            raise ModuleNotFoundError("No module named 'pkg_resources'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', no_pkg_resources)
    monkeypatch.delitem(sys.modules, 'pkg_resources', raising=False)
    try:
        check_pkg_resources()
    except ImportError as error:
        assert "setuptools<81" in str(error)
    else:
        raise AssertionError('expected an ImportError')
