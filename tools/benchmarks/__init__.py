"""The benchmark harness behind ``tools/benchmark.py`` (not part of mmtricks).

It lives beside the configs it trains, in the repository, and finds them
from here: ``tools/benchmarks/`` -> the repository root -> ``configs/``.
"""
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def repo_config(*parts: str) -> str:
    """Path of a config of this repository, checked to exist.

    Args:
        parts: The path under ``configs/``.
    """
    path = osp.join(REPO, 'configs', *parts)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} does not exist: the benchmark harness runs from a '
            'checkout of the mmtricks repository (tools/ beside configs/); '
            'clone the repository and run tools/benchmark.py from it.')
    return path


AUTO_MBV3 = osp.join(REPO, 'configs', 'auto_mbv3.py')
AUTO_EFFNET_LITE0 = osp.join(REPO, 'configs', 'auto_effnet_lite0.py')
