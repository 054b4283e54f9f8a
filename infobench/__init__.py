"""infobench: measure information.

Estimators of entropy, mutual information and KL divergence (all in nats,
never clipped), tasks with known ground truth to benchmark them, reference
generators and sample-quality scores.

Examples
--------
>>> import numpy as np, infobench
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=5000)
>>> y = 0.75 * x + np.sqrt(1 - 0.75**2) * rng.normal(size=5000)
>>> est = infobench.mutual_information(x, y, method="ksg", k=3)
>>> round(est.value, 1)   # truth: -0.5 * log(1 - 0.75**2) = 0.413
0.4
"""

from __future__ import annotations

from typing import Any

from infobench.diagnostics import Diagnostic, DiagnosticWarning, InfobenchWarning
from infobench.estimators.base import Estimate, run_method

__version__ = "0.1.0"
__all__ = [
    "Estimate",
    "Diagnostic",
    "DiagnosticWarning",
    "InfobenchWarning",
    "entropy",
    "mutual_information",
    "kl_divergence",
    "__version__",
]


def entropy(x: Any, method: str = "knn", **params: Any) -> Estimate:
    """Estimate the (differential or discrete) entropy H(X) in nats.

    Parameters
    ----------
    x : array-like, torch.Tensor, pandas DataFrame or Series
        Samples in rows; 1-D means one variable. Integer, boolean or
        categorical data is treated as discrete by the methods that support it.
    method : str
        A registered entropy method (``infobench.estimators.available("entropy")``).
    **params
        Method parameters; unknown names raise ``ValueError``.

    Returns
    -------
    Estimate
        ``value`` in nats, never clipped.
    """
    return run_method("entropy", method, (x,), params)


def mutual_information(x: Any, y: Any, method: str = "ksg", **params: Any) -> Estimate:
    """Estimate the mutual information I(X; Y) in nats from paired samples.

    Parameters
    ----------
    x, y : array-like, torch.Tensor, pandas DataFrame or Series
        Paired samples with the same number of rows; each may be multivariate.
    method : str
        A registered MI method (``infobench.estimators.available("mi")``).
    **params
        Method parameters; unknown names raise ``ValueError``.

    Returns
    -------
    Estimate
        ``value`` in nats; may be negative (bias), never clipped.
    """
    return run_method("mi", method, (x, y), params)


def kl_divergence(p: Any, q: Any, method: str = "knn", **params: Any) -> Estimate:
    """Estimate D(P || Q) in nats from samples ``p`` ~ P and ``q`` ~ Q.

    Parameters
    ----------
    p, q : array-like, torch.Tensor, pandas DataFrame or Series
        Samples from P and from Q with the same dimension (row counts may differ).
    method : str
        A registered KL method (``infobench.estimators.available("kl")``).
    **params
        Method parameters; unknown names raise ``ValueError``.
    """
    return run_method("kl", method, (p, q), params)
