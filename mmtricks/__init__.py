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

Some of this changes other libraries for the whole process (a user's
MMDetection run with ``custom_imports=['mmtricks']`` included): every such
change, with why and whether ``MMTRICKS_KEEP_UPSTREAM`` can leave it out, is
listed in :data:`mmtricks.compat.PROCESS_WIDE` (docs/compat.md). Beyond
that list and the parts it registers, mmtricks changes nothing outside its
own runs.
"""
from . import compat

compat.apply_all()

from . import (datasets, engine, hooks, models, optim,  # noqa: E402,F401
               recipes, transforms)
from .version import __version__  # noqa: E402

recipes.register_config_scheme()

__all__ = ['__version__', 'compat', 'datasets', 'engine', 'hooks', 'models',
           'optim', 'recipes', 'transforms']
