"""KL-divergence tasks: pairs of distributions P, Q with closed-form D(P || Q) in nats.

Closed forms (Kullback 1959; Gil, Alajaji & Linder 2013, "Rényi divergence
measures for commonly used univariate continuous distributions", Table 2 at
alpha -> 1):

* Gaussians ``N(m_p, S_p)``, ``N(m_q, S_q)`` on R^d:
  ``D = 1/2 [tr(S_q^-1 S_p) + (m_q - m_p)^T S_q^-1 (m_q - m_p) - d
  + log det S_q - log det S_p]``.
* Exponentials with rates ``a`` (P) and ``b`` (Q), per coordinate:
  ``D = log(a / b) + b / a - 1``.
* Laplaces with locations ``m_p, m_q`` and scales ``b_p, b_q``, per coordinate
  (``delta = |m_p - m_q|``):
  ``D = log(b_q / b_p) + delta / b_q + (b_p / b_q) exp(-delta / b_p) - 1``.
* Products of independent coordinates add up.
* An invertible map ``f`` applied to both sides keeps the divergence:
  ``D(f_# P || f_# Q) = D(P || Q)`` (the Jacobians of the two pushed-forward
  densities cancel in the log ratio).

Every task exposes the exact log density ratio ``log_ratio``; the tests check
each closed form against its Monte-Carlo mean over draws from P.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np

from infobench._validation import check_float
from infobench.tasks.base import (
    KLTask,
    check_dim,
    check_equicorrelation,
    check_positive,
    equicorrelated,
    fmt,
    gaussian_logpdf,
    set_field,
)
from infobench.tasks.transforms import get_transform

__all__ = ["GaussianKL", "ExponentialKL", "LaplaceKL", "TransformedKL"]


def _suffix(tag: str, value: float, default: float) -> str:
    return "" if value == default else f"-{tag}{fmt(value)}"


@dataclass(frozen=True)
class GaussianKL(KLTask):
    """``P = N(0, S_p)``, ``Q = N(shift 1, scale_q^2 S_q)`` on R^dim with equicorrelated ``S_p``, ``S_q``.

    Parameters
    ----------
    dim : int
    shift : float
        Every coordinate of Q's mean (P's mean is 0).
    rho_p, rho_q : float
        Unit correlations of P's and Q's covariances, in ``(-1/(dim-1), 1)``.
    scale_q : float
        Standard deviation of Q's coordinates (P's are 1).

    The divergence is the Gaussian closed form of the module docstring.
    """

    family: ClassVar[str] = "gaussian"
    dim: int
    shift: float = 1.0
    rho_p: float = 0.0
    rho_q: float = 0.0
    scale_q: float = 1.0

    def __post_init__(self):
        set_field(self, "dim", check_dim("dim", self.dim))
        set_field(self, "shift", check_float("shift", self.shift))
        set_field(self, "rho_p", check_equicorrelation(self.rho_p, self.dim, "rho_p"))
        set_field(self, "rho_q", check_equicorrelation(self.rho_q, self.dim, "rho_q"))
        set_field(self, "scale_q", check_positive("scale_q", self.scale_q))

    @property
    def id(self) -> str:
        return (
            f"kl-gaussian-d{self.dim}-shift{fmt(self.shift)}{_suffix('rhop', self.rho_p, 0.0)}"
            f"{_suffix('rhoq', self.rho_q, 0.0)}{_suffix('sq', self.scale_q, 1.0)}"
        )

    @cached_property
    def _mean_q(self) -> np.ndarray:
        return np.full(self.dim, self.shift)

    @cached_property
    def _chols(self) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.linalg.cholesky(equicorrelated(self.dim, self.rho_p)),
            np.linalg.cholesky(equicorrelated(self.dim, self.rho_q, self.scale_q)),
        )

    def _compute_truth(self):
        lp, lq = self._chols
        cov_p, cov_q = lp @ lp.T, lq @ lq.T
        diff = self._mean_q
        trace = float(np.trace(np.linalg.solve(cov_q, cov_p)))
        maha = float(diff @ np.linalg.solve(cov_q, diff))
        logdet = 2.0 * (np.log(np.diag(lq)).sum() - np.log(np.diag(lp)).sum())
        return 0.5 * (trace + maha - self.dim + logdet), 0.0

    def _sample(self, n, rng):
        lp, lq = self._chols
        p = rng.standard_normal((n, self.dim)) @ lp.T
        q = self._mean_q + rng.standard_normal((n, self.dim)) @ lq.T
        return p, q

    def _log_ratio(self, x):
        lp, lq = self._chols
        return gaussian_logpdf(x, np.zeros(self.dim), lp) - gaussian_logpdf(x, self._mean_q, lq)


@dataclass(frozen=True)
class ExponentialKL(KLTask):
    """P and Q with i.i.d. exponential coordinates of rates ``rate_p`` and ``rate_q``.

    ``D = dim [log(rate_p / rate_q) + rate_q / rate_p - 1]``. Both supports are
    the positive orthant, with a density jump at its boundary.
    """

    family: ClassVar[str] = "exponential"
    dim: int
    rate_p: float = 1.0
    rate_q: float = 2.0

    def __post_init__(self):
        set_field(self, "dim", check_dim("dim", self.dim))
        set_field(self, "rate_p", check_positive("rate_p", self.rate_p))
        set_field(self, "rate_q", check_positive("rate_q", self.rate_q))

    @property
    def id(self) -> str:
        return f"kl-exponential-d{self.dim}-ratep{fmt(self.rate_p)}-rateq{fmt(self.rate_q)}"

    def _compute_truth(self):
        a, b = self.rate_p, self.rate_q
        return self.dim * (math.log(a / b) + b / a - 1.0), 0.0

    def _sample(self, n, rng):
        shape = (n, self.dim)
        return rng.exponential(1.0 / self.rate_p, shape), rng.exponential(1.0 / self.rate_q, shape)

    def _log_ratio(self, x):
        a, b = self.rate_p, self.rate_q
        return self.dim * math.log(a / b) - (a - b) * x.sum(axis=1)


@dataclass(frozen=True)
class LaplaceKL(KLTask):
    """P = Laplace(0, scale_p)^dim, Q = Laplace(shift, scale_q)^dim (i.i.d. coordinates).

    Per coordinate, with ``delta = |shift|``:
    ``log(scale_q / scale_p) + delta / scale_q + (scale_p / scale_q) exp(-delta / scale_p) - 1``.
    """

    family: ClassVar[str] = "laplace"
    dim: int
    shift: float = 1.0
    scale_p: float = 1.0
    scale_q: float = 1.0

    def __post_init__(self):
        set_field(self, "dim", check_dim("dim", self.dim))
        set_field(self, "shift", check_float("shift", self.shift))
        set_field(self, "scale_p", check_positive("scale_p", self.scale_p))
        set_field(self, "scale_q", check_positive("scale_q", self.scale_q))

    @property
    def id(self) -> str:
        return (
            f"kl-laplace-d{self.dim}-shift{fmt(self.shift)}{_suffix('bp', self.scale_p, 1.0)}"
            f"{_suffix('bq', self.scale_q, 1.0)}"
        )

    def _compute_truth(self):
        bp, bq, delta = self.scale_p, self.scale_q, abs(self.shift)
        per = math.log(bq / bp) + delta / bq + (bp / bq) * math.exp(-delta / bp) - 1.0
        return self.dim * per, 0.0

    def _sample(self, n, rng):
        shape = (n, self.dim)
        return rng.laplace(0.0, self.scale_p, shape), rng.laplace(self.shift, self.scale_q, shape)

    def _log_ratio(self, x):
        bp, bq = self.scale_p, self.scale_q
        log_p = -np.abs(x) / bp - math.log(2.0 * bp)
        log_q = -np.abs(x - self.shift) / bq - math.log(2.0 * bq)
        return (log_p - log_q).sum(axis=1)


@dataclass(frozen=True)
class TransformedKL(KLTask):
    """An invertible map applied to both P and Q of ``base``: same divergence.

    Parameters
    ----------
    base : KLTask
    transform : str
        A name of :data:`infobench.tasks.transforms.TRANSFORMS` other than
        ``"identity"`` (``"spiral"`` needs ``dim >= 2``).

    The id reads ``"{transform}-{base id}"``.
    """

    family: ClassVar[str] = "transformed"
    base: KLTask
    transform: str

    def __post_init__(self):
        if not isinstance(self.base, KLTask):
            raise TypeError(f"base must be a KL task; got {type(self.base).__name__}")
        t = get_transform(self.transform)
        if self.transform == "identity":
            raise ValueError("transform must not be 'identity' (the task would equal its base)")
        if self.base.dim < t.min_dim:
            raise ValueError(
                f"transform={self.transform!r} needs dimension >= {t.min_dim}; the base task's dim is {self.base.dim}"
            )

    dim = property(lambda self: self.base.dim)

    @property
    def id(self) -> str:
        return f"{self.transform}-{self.base.id}"

    def _compute_truth(self):
        return self.base.truth, self.base.truth_std_err

    def _sample(self, n, rng):
        p, q = self.base._sample(n, rng)
        f = get_transform(self.transform)
        return f.forward(p), f.forward(q)

    def _log_ratio(self, x):
        # The Jacobian of the inverse map appears in both densities and cancels.
        return self.base._log_ratio(get_transform(self.transform).inverse(x))
