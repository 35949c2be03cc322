"""mmtricks: automatic hyper-parameters and proven tricks for MMPretrain.

Importing the package applies the compatibility fixes of
:mod:`mmtricks.compat` and registers every mmtricks part into MMPretrain's
registries, so ``custom_imports = dict(imports=['mmtricks'])`` in any
MMPretrain config makes them usable under ``default_scope='mmpretrain'``.
It also lets configs name the shipped ones as ``mmtricks::NAME``
(:mod:`mmtricks.recipes`).
"""
from . import compat

compat.apply_all()

from . import (datasets, hooks, models, optim, recipes,  # noqa: E402,F401
               transforms)
from .version import __version__  # noqa: E402

recipes.register_config_scheme()

__all__ = ['__version__', 'compat', 'datasets', 'hooks', 'models', 'optim',
           'recipes', 'transforms']
