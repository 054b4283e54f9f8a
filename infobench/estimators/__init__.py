"""Estimators of entropy, mutual information and KL divergence.

Importing this package registers every method; :func:`available` lists them.
"""

from infobench.estimators.base import Estimate, MethodInfo, available, get_method, register

# Each module registers its kernels on import.
from infobench.estimators import histogram, kde, knn, gaussian, neural, latent  # noqa: E402,F401

__all__ = ["Estimate", "MethodInfo", "available", "get_method", "register"]
