"""``pkg_resources`` for openmim, mmengine and mmdeploy.

Upstream: setuptools 81 removed ``pkg_resources``; ``mim`` (openmim 0.3.9)
imports it at start-up and mmengine/mmdeploy import it to locate installed
OpenMMLab packages, failing with ``ModuleNotFoundError: No module named
'pkg_resources'``. The fix is the ``setuptools<81`` pin in our
``pyproject.toml``; this check turns a broken environment into a message that
says so, and silences the deprecation banner that every import prints.
"""
import warnings

FIX = "pip install 'setuptools<81'"


def check_pkg_resources() -> None:
    """Import ``pkg_resources`` or raise an ImportError naming the fix."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            'ignore', message='pkg_resources is deprecated',
            category=UserWarning)
        warnings.filterwarnings('ignore', category=DeprecationWarning)
        try:
            import pkg_resources  # noqa: F401
        except ImportError as error:
            raise ImportError(
                'pkg_resources is missing (setuptools >= 81 removed it); '
                f'mim, mmengine and mmdeploy need it: {FIX}') from error


def apply() -> None:
    warnings.filterwarnings(
        'ignore', message='pkg_resources is deprecated', category=UserWarning)
    try:
        check_pkg_resources()
    except ImportError as error:
        warnings.warn(str(error), stacklevel=2)
