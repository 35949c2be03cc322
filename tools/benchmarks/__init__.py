"""The benchmark harness behind ``tools/benchmark.py`` (not part of mmtricks).

It is a repository tool: it writes its reports into the checkout
(``docs/benchmarks/``, under :data:`REPO`). The configs it trains come from
the imported mmtricks package (``mmtricks/.mim/configs``, see
``docs/packaging.md``), so a non-editable install trains exactly the configs
its users get; in a checkout they are the repository's ``configs/``.
"""
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def shipped_config(*parts: str) -> str:
    """Path of a config mmtricks ships, checked to exist.

    Args:
        parts: The path under ``configs/``, e.g. ``'auto_mbv3.py'`` or
            ``'deploy', 'classification_openvino_static.py'``.
    """
    from mmtricks.recipes import config_path
    return config_path('/'.join(parts))


_SHIPPED = dict(AUTO_MBV3='auto_mbv3.py',
                AUTO_EFFNET_LITE0='auto_effnet_lite0.py')


def __getattr__(name: str) -> str:
    # AUTO_MBV3, AUTO_EFFNET_LITE0: looked up when first used, so that
    # importing the harness does not import mmtricks (torch, MMPretrain).
    if name in _SHIPPED:
        return shipped_config(_SHIPPED[name])
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
