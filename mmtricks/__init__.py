"""mmtricks: automatic hyper-parameters and proven tricks for MMPretrain.

Importing the package applies the compatibility fixes of
:mod:`mmtricks.compat` and registers every mmtricks part into MMPretrain's
registries, so ``custom_imports = dict(imports=['mmtricks'])`` in any
MMPretrain config makes them usable under ``default_scope='mmpretrain'``.
"""
from . import compat

compat.apply_all()

from . import datasets, hooks, models, optim, transforms  # noqa: E402,F401
from .version import __version__  # noqa: E402

__all__ = ['__version__', 'compat', 'datasets', 'hooks', 'models', 'optim',
           'transforms']
