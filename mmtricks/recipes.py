"""mmtricks' configs, shipped inside the package (OpenMMLab's ``.mim`` layout).

The repository's ``configs/`` is the source of truth. ``mmtricks/.mim/configs``
is a symlink to it in a checkout and a copy in a built wheel (package data,
``pyproject.toml``), so an installed mmtricks carries every config at the
same relative path: ``configs/auto_mbv3.py`` of the repository is
``mmtricks::auto_mbv3.py`` of the package.

After ``import mmtricks``:

* ``_base_ = ['mmtricks::auto_mbv3.py']`` in any config resolves to the
  shipped file (MMEngine 0.10.7 alone refuses it: its ``pkg::path`` only
  knows OpenMMLab's own packages and wants a folder in the path);
* :func:`config_path` gives the file, for ``Config.fromfile``;
* ``mim train mmtricks auto_mbv3.py`` / ``mim test mmtricks ...`` find the
  config in the package and run MMPretrain's train/test script with mmtricks
  imported first (``mmtricks/.mim/tools``), see ``docs/packaging.md``.
"""
import os
import os.path as osp
import runpy
import sys
from typing import List, Optional, Sequence

SCHEME = 'mmtricks::'
CONFIG_DIR = osp.join(osp.dirname(osp.abspath(__file__)), '.mim', 'configs')


def shipped_configs() -> List[str]:
    """Every config the package ships, as ``/``-separated paths under
    :data:`CONFIG_DIR` (``auto_mbv3.py``, ``deploy/...``), sorted."""
    found = []
    for folder, _, files in os.walk(CONFIG_DIR, followlinks=True):
        for name in files:
            if name.endswith('.py'):
                rel = osp.relpath(osp.join(folder, name), CONFIG_DIR)
                found.append(rel.replace(os.sep, '/'))
    return sorted(found)


def config_path(name: str) -> str:
    """The file of a shipped config.

    Args:
        name (str): Its path under ``configs/``, with or without the
            ``mmtricks::`` prefix: ``'auto_mbv3.py'``,
            ``'mmtricks::auto_mbv3.py'``,
            ``'deploy/classification_openvino_static.py'``.

    Returns:
        str: The absolute path of the config inside the installed package.

    Raises:
        FileNotFoundError: no such shipped config (the message lists them), or
            the package was installed without its configs.
    """
    rel = name[len(SCHEME):] if name.startswith(SCHEME) else name
    path = osp.normpath(osp.join(CONFIG_DIR, rel))
    if osp.isfile(path) and path.startswith(osp.normpath(CONFIG_DIR) + os.sep):
        return path
    if not osp.isdir(CONFIG_DIR):
        raise FileNotFoundError(
            f'{CONFIG_DIR} does not exist: this mmtricks was installed '
            'without its configs. Install it from a wheel or a checkout of '
            'the repository (`pip install .`), which ship them.')
    raise FileNotFoundError(
        f'mmtricks ships no config {rel!r} (asked for {name!r}). Shipped: '
        f'{", ".join(shipped_configs())}. A config of your own is a path, '
        'not mmtricks::NAME.')


def resolve_config(path_or_name: str) -> str:
    """A config argument of a tool: ``mmtricks::NAME`` becomes the shipped
    file (:func:`config_path`); anything else is a path, returned as is."""
    if path_or_name.startswith(SCHEME):
        return config_path(path_or_name)
    return path_or_name


# `_base_ = ['mmtricks::NAME']` -----------------------------------------------

def get_cfg_path(cfg_path: str, filename: str):
    """``Config._get_cfg_path`` that also knows ``mmtricks::NAME``.

    A shipped config is returned with scope None, as a relative ``_base_``
    would be: the configs run under ``default_scope='mmpretrain'``, where
    ``import mmtricks`` registered its parts. Everything else goes to
    MMEngine unchanged.
    """
    if cfg_path.startswith(SCHEME):
        return config_path(cfg_path), None
    return _original_get_cfg_path(cfg_path, filename)


_original_get_cfg_path = None


def register_config_scheme() -> None:
    """Teach MMEngine's config loader ``mmtricks::NAME`` (idempotent)."""
    global _original_get_cfg_path
    from .compat.private_mmengine import (original_config_get_cfg_path,
                                          replace_config_get_cfg_path)
    current = original_config_get_cfg_path()
    if current is get_cfg_path:
        return
    _original_get_cfg_path = current
    replace_config_get_cfg_path(get_cfg_path)


# mim train/test mmtricks -----------------------------------------------------

def run_mmpretrain_tool(script: str,
                        argv: Optional[Sequence[str]] = None) -> None:
    """Run MMPretrain's ``tools/<script>`` (shipped in its ``.mim``) in this
    process, mmtricks imported, so that a config whose ``_base_`` names
    ``mmtricks::...`` loads. ``mim train mmtricks`` runs this through
    ``mmtricks/.mim/tools/train.py``.

    Args:
        script (str): ``'train.py'`` or ``'test.py'``.
        argv (list[str], optional): The script's arguments; default: this
            process's (``sys.argv[1:]``).
    """
    import mmpretrain
    path = osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'tools', script)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} does not exist: mmtricks runs MMPretrain\'s own '
            f'tools/{script}, which MMPretrain ships in its package. '
            'Reinstall mmpretrain (pip install --force-reinstall '
            'mmpretrain==1.2.0).')
    sys.argv = [path] + list(sys.argv[1:] if argv is None else argv)
    runpy.run_path(path, run_name='__main__')
