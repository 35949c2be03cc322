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
import os.path as osp
import runpy
import sys
from typing import Optional, Sequence

from .shipped_configs import (CONFIG_DIR, SCHEME, config_path,  # noqa: F401
                              resolve_config, shipped_configs)


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
