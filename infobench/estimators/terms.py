r"""Per-point terms of the k-nearest-neighbour estimators, as pure functions.

Every kNN estimate in infobench is the mean of per-point terms computed
from neighbour distances or counts; this module holds those formulas, once.
The estimators of :mod:`infobench.estimators.knn` and the sample-quality
scores of :mod:`infobench.quality` both call them (the functional core of
the torchmetrics pattern: the searches live in
:mod:`infobench.estimators._neighbors`, the formulas here, the validation and
the :class:`~infobench.estimators.base.Estimate` wrappers in the callers).

Inputs may be numpy arrays or torch tensors (CPU or CUDA); the terms come
back as float64 of the same kind. Nothing here validates: the callers do,
and they reject zero distances (``log 0``) before calling.
"""

from __future__ import annotations

import math
from typing import TypeVar, cast

import numpy as np
import torch
from scipy.special import digamma as _scipy_digamma

from infobench._validation import renamed_function
from infobench.estimators._neighbors import log_unit_ball_volume

# every formula takes numpy arrays (the CPU paths) or tensors (any device), and returns the same kind
ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)

__all__ = [
    "digamma64",
    "log64",
    "kl_entropy_terms",
    "knn_entropy_terms",
    "ksg_terms",
    "ross_terms",
    "wkv_kl_terms",
]


def digamma64(v: ArrayT) -> ArrayT:
    """Digamma in float64 of a numpy array or tensor; integer counts go through a table."""
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "iu" and v.size and v.max() < v.size:
            return cast(np.ndarray, _scipy_digamma(np.arange(v.max() + 1, dtype=np.float64))[v])
        return cast(np.ndarray, _scipy_digamma(v.astype(np.float64)))
    if v.dtype.is_floating_point or v.numel() == 0 or int(v.max()) >= v.numel():
        return cast(ArrayT, torch.special.digamma(v.to(torch.float64)))
    return cast(ArrayT, torch.special.digamma(torch.arange(int(v.max()) + 1, dtype=torch.float64, device=v.device))[v])


def log64(v: ArrayT) -> ArrayT:
    """Natural logarithm in float64 of a numpy array or tensor."""
    terms: ArrayT = np.log(v, dtype=np.float64) if isinstance(v, np.ndarray) else torch.log(v.to(torch.float64))
    return terms


def knn_entropy_terms(log_dist: ArrayT, n: int, d: int, k: int, metric: str = "euclidean") -> ArrayT:
    r"""Kozachenko–Leonenko terms: their mean is the entropy estimate in nats.

    Kraskov, Stögbauer & Grassberger (2004), eq. (20), the k-th-neighbour
    form of Kozachenko & Leonenko (1987):

    .. math::

        t_i = \psi(N) - \psi(k) + \log V_d + d \log r_i ,

    with :math:`r_i` the distance from :math:`x_i` to its k-th nearest
    neighbour and :math:`V_d` the volume of the unit ball of ``metric``
    (:math:`\pi^{d/2}/\Gamma(d/2+1)` euclidean, :math:`2^d` max-norm).

    Parameters
    ----------
    log_dist : array or tensor, shape (n,)
        :math:`\log r_i`.
    n, d, k : int
        Sample size the distances were computed in, dimension, neighbour order.
    metric : {"euclidean", "chebyshev"}
    """
    const = float(_scipy_digamma(n) - _scipy_digamma(k)) + log_unit_ball_volume(d, metric)
    return const + d * log_dist


#: Deprecated name of :func:`knn_entropy_terms` ("kl" is Kullback-Leibler elsewhere), kept one release.
kl_entropy_terms = renamed_function("kl_entropy_terms", knn_entropy_terms)


def wkv_kl_terms(log_nu: ArrayT, log_rho: ArrayT, n: int, m: int, d: int) -> ArrayT:
    r"""Wang–Kulkarni–Verdú terms: their mean is the estimate of :math:`D(P\|Q)` in nats.

    Wang, Kulkarni & Verdú (2009), eq. (5) with :math:`k_i = l_i = k` (the
    digamma terms cancel):

    .. math::

        t_i = d \log \frac{\nu_k(i)}{\rho_k(i)} + \log \frac{m}{n - 1} ,

    :math:`\rho_k(i)` the distance from :math:`p_i` to its k-th nearest
    neighbour among the other :math:`n - 1` points of P, :math:`\nu_k(i)` to
    its k-th nearest among the :math:`m` points of Q.

    Parameters
    ----------
    log_nu, log_rho : array or tensor, shape (n,)
    n, m, d : int
        Sizes of the P and Q samples, dimension.
    """
    terms: ArrayT = d * (log_nu - log_rho) + math.log(m / (n - 1))
    return terms


def ksg_terms(nx: ArrayT, ny: ArrayT, n: int, k: int, variant: int = 1) -> ArrayT:
    r"""Kraskov–Stögbauer–Grassberger terms: their mean is the MI estimate in nats.

    Variant 1, Kraskov et al. (2004) eq. (8):
    :math:`t_i = \psi(k) + \psi(N) - \psi(n_x(i) + 1) - \psi(n_y(i) + 1)`
    with strict counts inside the joint k-th-neighbour distance.
    Variant 2, eq. (9):
    :math:`t_i = \psi(k) - 1/k + \psi(N) - \psi(n_x(i)) - \psi(n_y(i))`
    with ``<=`` counts inside the per-marginal extents.

    Parameters
    ----------
    nx, ny : integer array or tensor, shape (n,)
        Marginal neighbour counts (self excluded).
    n, k : int
    variant : {1, 2}
    """
    terms: ArrayT
    if variant == 1:
        terms = float(_scipy_digamma(k) + _scipy_digamma(n)) - digamma64(nx + 1) - digamma64(ny + 1)
        return terms
    terms = float(_scipy_digamma(k) - 1.0 / k + _scipy_digamma(n)) - digamma64(nx) - digamma64(ny)
    return terms


def ross_terms(n: int, k_i: ArrayT, n_label: ArrayT, m: ArrayT) -> ArrayT:
    r"""Ross (2014) discrete–continuous MI terms, eq. (2).

    :math:`t_i = \psi(N) + \psi(k_i) - \psi(N_{x_i}) - \psi(m_i)` with
    :math:`N_{x_i}` the number of points sharing :math:`x_i`'s discrete value,
    :math:`k_i = \min(k, N_{x_i} - 1)` and :math:`m_i` the number of points
    (itself included) strictly within the k-th same-value neighbour distance.

    Parameters
    ----------
    n : int
        Points used (singleton values dropped).
    k_i, n_label, m : integer arrays or tensors, shape (n,)
    """
    terms: ArrayT = float(_scipy_digamma(n)) + digamma64(k_i) - digamma64(n_label) - digamma64(m)
    return terms
