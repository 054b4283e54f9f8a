"""Gaussian and Student-t mutual-information tasks, and the 20-d "staircase".

For jointly Gaussian (X, Y) with covariance ``S``,

    I(X; Y) = 1/2 [log det S_xx + log det S_yy - log det S]     (Cover & Thomas 2006, ch. 8)

and for the multivariate Student-t with dispersion ``S`` and ``nu`` degrees of
freedom (Arellano-Valle, Contreras-Reyes & Genton 2013, Scand. J. Stat. 40,
42-62; Czyż et al. 2023, "Beyond normal: on the evaluation of mutual
information estimators", NeurIPS)

    I(X; Y) = I_gauss(S) + c(nu, m, n),
    c = log B(nu/2, m/2) - log B((nu+n)/2, m/2)
        + (nu+m)/2 psi((nu+m)/2) + (nu+n)/2 psi((nu+n)/2)
        - (nu+m+n)/2 psi((nu+m+n)/2) - nu/2 psi(nu/2),

with ``m = dim_x`` and ``n = dim_y``. It follows from the entropy of the
multivariate t, ``H = 1/2 log det S + d/2 log(nu pi) + lgamma(nu/2) -
lgamma((nu+d)/2) + (nu+d)/2 [psi((nu+d)/2) - psi(nu/2)]``, whose marginals are
t distributions with the same ``nu``. The correction is positive even for a
block-diagonal ``S``: X and Y share the random scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
from scipy import special

from infobench._validation import check_float, check_int
from infobench.tasks.base import (
    MITask,
    as_matrix_tuple,
    check_dim,
    check_equicorrelation,
    check_nu,
    check_rho,
    digest,
    equicorrelated,
    fmt,
    gaussian_mi_from_cov,
    set_field,
)

__all__ = ["DenseNormal", "SparseNormal", "Normal", "Staircase", "StudentT", "staircase", "student_t_correction"]


@dataclass(frozen=True)
class _GaussianMI(MITask):
    """Base of the Gaussian tasks: zero mean, a covariance matrix, closed-form MI."""

    family: ClassVar[str] = "normal"

    def covariance_matrix(self) -> np.ndarray:
        """The joint covariance of (X, Y), shape ``(dim_x + dim_y, dim_x + dim_y)``."""
        return self._cov.copy()

    @cached_property
    def _cov(self) -> np.ndarray:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    @cached_property
    def _chol(self) -> np.ndarray:
        return np.linalg.cholesky(self._cov)

    def _compute_truth(self) -> tuple[float, float]:
        return gaussian_mi_from_cov(self._cov, self.dim_x), 0.0

    def _draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, self._cov.shape[0])) @ self._chol.T

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        z = self._draw(n, rng)
        return z[:, : self.dim_x], z[:, self.dim_x :]


@dataclass(frozen=True)
class DenseNormal(_GaussianMI):
    """Gaussian (X, Y) with unit variances and every pair of the ``dim_x + dim_y`` coordinates correlated by ``rho``.

    Parameters
    ----------
    dim_x, dim_y : int
        Dimensions, >= 1.
    rho : float
        Common correlation; the matrix is positive definite for
        ``-1/(d-1) < rho < 1`` with ``d = dim_x + dim_y``.

    Examples
    --------
    >>> t = DenseNormal(1, 1, rho=0.75)
    >>> round(t.truth, 4)   # -1/2 log(1 - 0.75^2)
    0.4133
    """

    dim_x: int
    dim_y: int
    rho: float

    def __post_init__(self) -> None:
        set_field(self, "dim_x", check_dim("dim_x", self.dim_x))
        set_field(self, "dim_y", check_dim("dim_y", self.dim_y))
        set_field(self, "rho", check_equicorrelation(self.rho, self.dim_x + self.dim_y))

    @property
    def id(self) -> str:
        return f"normal-dense-x{self.dim_x}-y{self.dim_y}-rho{fmt(self.rho)}"

    @cached_property
    def _cov(self) -> np.ndarray:
        return equicorrelated(self.dim_x + self.dim_y, self.rho)


@dataclass(frozen=True)
class SparseNormal(_GaussianMI):
    """Gaussian (X, Y) with unit variances where only the pairs (X_i, Y_i), ``i < n_pairs``, are correlated.

    ``I = -n_pairs/2 * log(1 - rho^2)``: every other coordinate is independent
    noise. ``n_pairs=None`` means ``min(dim_x, dim_y)``; ``rho=0`` gives
    independent X and Y.
    """

    dim_x: int
    dim_y: int
    rho: float
    n_pairs: int | None = None

    def __post_init__(self) -> None:
        set_field(self, "dim_x", check_dim("dim_x", self.dim_x))
        set_field(self, "dim_y", check_dim("dim_y", self.dim_y))
        set_field(self, "rho", check_rho(self.rho))
        most = min(self.dim_x, self.dim_y)
        pairs = (
            most
            if self.n_pairs is None
            else check_int("n_pairs", self.n_pairs, low=1, high=most, context=" (min(dim_x, dim_y))")
        )
        set_field(self, "n_pairs", pairs)

    @property
    def id(self) -> str:
        return f"normal-sparse-x{self.dim_x}-y{self.dim_y}-pairs{self.n_pairs}-rho{fmt(self.rho)}"

    @cached_property
    def _cov(self) -> np.ndarray:
        assert self.n_pairs is not None  # resolved in __post_init__
        cov = np.eye(self.dim_x + self.dim_y)
        idx = np.arange(self.n_pairs)
        cov[idx, self.dim_x + idx] = cov[self.dim_x + idx, idx] = self.rho
        return cov


@dataclass(frozen=True)
class Normal(_GaussianMI):
    """Gaussian (X, Y) with any joint covariance given by the user.

    Parameters
    ----------
    covariance : array-like, shape (dim_x + dim_y, dim_x + dim_y)
        Symmetric positive definite; stored as nested tuples.
    dim_x : int
        The first ``dim_x`` coordinates are X, the rest Y (at least one each).

    The id ends with a hash of the matrix, e.g. ``normal-cov-x1-y2-3f2a...``.
    """

    covariance: Any
    dim_x: int

    def __post_init__(self) -> None:
        cov = as_matrix_tuple("covariance", self.covariance)
        d = len(cov)
        if d < 2:
            raise ValueError(f"covariance must be at least 2x2 (X and Y need one dimension each); got shape ({d}, {d})")
        set_field(self, "dim_x", check_int("dim_x", self.dim_x, low=1, high=d - 1, context=f" (covariance is {d}x{d})"))
        set_field(self, "covariance", cov)

    @property
    def dim_y(self) -> int:
        return len(self.covariance) - self.dim_x

    @property
    def id(self) -> str:
        return f"normal-cov-x{self.dim_x}-y{self.dim_y}-{digest(self.covariance)}"

    @cached_property
    def _cov(self) -> np.ndarray:
        return np.array(self.covariance, dtype=np.float64)


@dataclass(frozen=True)
class Staircase(_GaussianMI):
    """``dim`` independent Gaussian pairs (X_i, Y_i), each correlated by the same ``rho``, so that I = ``mi`` exactly.

    ``mi = -dim/2 * log(1 - rho^2)``, i.e. ``rho = sqrt(1 - exp(-2 mi / dim))``.
    The truth is ``mi`` itself (the determinant formula agrees to ~1e-15).
    """

    family: ClassVar[str] = "staircase"
    mi: float
    dim: int = 20

    def __post_init__(self) -> None:
        set_field(self, "mi", check_float("mi", self.mi, low=0.0))
        set_field(self, "dim", check_dim("dim", self.dim))

    @property
    def dim_x(self) -> int:
        return self.dim

    @property
    def dim_y(self) -> int:
        return self.dim

    @property
    def rho(self) -> float:
        """The per-pair correlation ``sqrt(1 - exp(-2 mi / dim))``."""
        return math.sqrt(-math.expm1(-2.0 * self.mi / self.dim))

    @property
    def id(self) -> str:
        return f"staircase-d{self.dim}-mi{fmt(self.mi)}"

    @cached_property
    def _cov(self) -> np.ndarray:
        return SparseNormal(self.dim, self.dim, self.rho)._cov

    def _compute_truth(self) -> tuple[float, float]:
        return self.mi, 0.0


def staircase(mi: float, dim: int = 20) -> Staircase:
    """The staircase task with ``dim``-d X and Y and mutual information ``mi`` nats."""
    return Staircase(mi, dim)


def student_t_correction(nu: float, dim_x: int, dim_y: int) -> float:
    """The Student-t part of I(X; Y), independent of the dispersion (see the module docstring).

    With ``F(x) = x psi(x) - lgamma(x)``, ``h = nu/2``, ``a = dim_x/2``,
    ``b = dim_y/2``: ``c = F(h+a) + F(h+b) - F(h+a+b) - F(h)``. For large
    ``nu`` the four terms (each ~ h log h) cancel to a value ~ 1/nu^2, so there
    the Taylor series of F around h is summed instead; its orders 0 and 1
    cancel exactly, leaving

        c = sum_{k>=2} F^(k)(h)/k! [a^k + b^k - (a+b)^k],
        F^(k)(x) = x psi^(k)(x) + (k-1) psi^(k-1)(x),

    which converges geometrically with ratio (a+b)/h (used for (a+b)/h <= 1/4).
    """
    h, a, b = 0.5 * nu, 0.5 * dim_x, 0.5 * dim_y
    if nu >= 100.0 and (a + b) / h <= 0.25:
        total = 0.0
        for k in range(2, 40):
            coef = a**k + b**k - (a + b) ** k
            fk = h * special.polygamma(k, h) + (k - 1) * special.polygamma(k - 1, h)
            term = fk * coef / math.factorial(k)
            total += term
            if abs(term) <= 1e-17 * abs(total):
                break
        return float(total)

    def f(x: float) -> float:
        return x * special.digamma(x) - special.gammaln(x)

    return float(f(h + a) + f(h + b) - f(h + a + b) - f(h))


@dataclass(frozen=True)
class StudentT(MITask):
    """Multivariate Student-t (X, Y) with ``nu`` degrees of freedom and the dispersion of a Gaussian task.

    ``(X, Y) = Z / sqrt(W / nu)`` with ``Z ~ N(0, S)`` and ``W ~ chi^2_nu``
    independent, where ``S`` is the covariance of ``dispersion`` (a
    :class:`DenseNormal`, :class:`SparseNormal`, :class:`Normal` or
    :class:`Staircase`). ``I = I_gauss(S) + c(nu, dim_x, dim_y)``.

    Parameters
    ----------
    dispersion : Gaussian MI task
    nu : float
        Degrees of freedom, >= 0.1 (heavier tails for small ``nu``; below 0.1 the
        samples overflow float64).

    Examples
    --------
    >>> t = StudentT(SparseNormal(1, 1, rho=0.0), nu=3)   # uncorrelated, still dependent
    >>> t.truth > 0
    True
    """

    family: ClassVar[str] = "student-t"
    dispersion: _GaussianMI
    nu: float

    def __post_init__(self) -> None:
        if not isinstance(self.dispersion, _GaussianMI):
            raise TypeError(
                "dispersion must be a Gaussian MI task (DenseNormal, SparseNormal, Normal or Staircase); "
                f"got {type(self.dispersion).__name__}"
            )
        set_field(self, "nu", check_nu(self.nu))

    @property
    def dim_x(self) -> int:
        return self.dispersion.dim_x

    @property
    def dim_y(self) -> int:
        return self.dispersion.dim_y

    @property
    def id(self) -> str:
        return f"student-t-nu{fmt(self.nu)}-{self.dispersion.id.removeprefix('normal-')}"

    def _compute_truth(self) -> tuple[float, float]:
        gauss = gaussian_mi_from_cov(self.dispersion._cov, self.dim_x)
        return gauss + student_t_correction(self.nu, self.dim_x, self.dim_y), 0.0

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        z = self.dispersion._draw(n, rng)
        w = rng.chisquare(self.nu, size=n)
        xy = z * np.sqrt(self.nu / w)[:, None]
        return xy[:, : self.dim_x], xy[:, self.dim_x :]
