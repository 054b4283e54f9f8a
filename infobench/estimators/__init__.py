"""Estimators of entropy, mutual information and KL divergence.

Importing this package registers every method; :func:`available` lists them.
"""

from infobench.estimators.base import Estimate, MethodInfo, available, get_method, register

# Each module registers its kernels on import.
from infobench.estimators import histogram, kde, knn, gaussian, neural  # noqa: E402,F401
from infobench.estimators import auto  # noqa: E402,F401  (after the methods it chooses from)

__all__ = ["Estimate", "MethodInfo", "available", "get_method", "register"]
