"""mmtricks: automatic hyper-parameters and proven tricks for MMPretrain.

Importing the package applies the compatibility fixes of
:mod:`mmtricks.compat` and registers every mmtricks part into MMPretrain's
registries (each subpackage that registers one is imported below, by name),
so ``custom_imports = dict(imports=['mmtricks'])`` in any MMPretrain config
makes them usable under ``default_scope='mmpretrain'``. Only
:mod:`mmtricks.deploy` waits to be imported: it needs MMDeploy and OpenVINO,
which training does not.
It also lets configs name the shipped ones as ``mmtricks::NAME``
(:mod:`mmtricks.recipes`).
"""
from . import compat

compat.apply_all()

from . import (datasets, engine, hooks, models, optim,  # noqa: E402,F401
               recipes, transforms)
from .version import __version__  # noqa: E402

recipes.register_config_scheme()

__all__ = ['__version__', 'compat', 'datasets', 'engine', 'hooks', 'models',
           'optim', 'recipes', 'transforms']
