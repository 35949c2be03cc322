"""Where mmtricks' shipped configs are: ``configs/`` of the repository is
``mmtricks/.mim/configs`` of the package (a symlink in a checkout, a copy in
a wheel), named ``mmtricks::NAME``.

A fact about the installed package, at the bottom of the layers: the engine
reads shipped recipes from here (``backbone_candidates``), and
:mod:`mmtricks.recipes` teaches MMEngine's config loader the scheme.
"""
import os
import os.path as osp
from typing import List

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
