"""Estimators of entropy, mutual information and KL divergence.

Importing this package registers every method; :func:`available` lists them.
Each public module of this package registers its own kernels with
:func:`register` when it is imported, and every public module is imported
here, so adding a method means adding its module (and its test), nothing else.
Modules whose names start with ``_`` are shared helpers and register nothing;
:mod:`infobench.estimators.engine` and :mod:`infobench.estimators.conditions`
register nothing either: they name the parts of the neighbour engine and of the
conditions catalogue that other packages use.
"""

import importlib
import pkgutil

from infobench.estimators.base import Estimate, MethodInfo, available, get_method, register

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["Estimate", "MethodInfo", "available", "get_method", "register"]
