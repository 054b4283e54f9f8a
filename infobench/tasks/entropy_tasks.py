"""Entropy tasks: distributions of X with known differential entropy H(X) in nats.

Closed forms (Cover & Thomas 2006, ch. 8 and the table of differential
entropies in ch. 17; Kotz & Nadarajah 2004, "Multivariate t Distributions", for the t):

* Gaussian ``N(0, S)``: ``H = 1/2 log det(2 pi e S)``.
* Uniform on a box with sides ``w_i``: ``H = sum_i log w_i``.
* Laplace(0, b), i.i.d. coordinates: ``H = d (1 + log 2b)``.
* Exponential(rate), i.i.d. coordinates: ``H = d (1 - log rate)``.
* Multivariate Student-t with dispersion ``S`` and ``nu`` degrees of freedom:
  ``H = 1/2 log det S + d/2 log(nu pi) + lgamma(nu/2) - lgamma((nu+d)/2)
  + (nu+d)/2 [psi((nu+d)/2) - psi(nu/2)]``.

Gaussian mixtures: Monte Carlo of ``-log p`` (stratified, fixed seed; the
standard error is reported).

Transformed tasks carry an exact Jacobian term,
``H(f(X)) = H(X) + E[log |det J_f(X)|]``:

* :class:`AffineEntropy`: ``+ log |det A|``.
* :class:`TransformedEntropy` with ``spiral``: ``+ 0`` (volume preserving).
* :class:`TransformedEntropy` with a componentwise map:
  ``+ sum_i E[log f'(X_i)]``, each a 1-D integral ``int log f'(t) p_i(t) dt``
  over the marginal density of coordinate ``i``, computed by adaptive
  Gauss-Kronrod quadrature (absolute tolerance 1e-13) or, for the bounded
  oscillating ``wiggly`` map, a truncated composite Gauss-Legendre rule with
  a tail bound of 1e-10 nats (:mod:`infobench.tasks._quadrature`). The tests
  check it against the closed forms ``E[log phi(X)] = -1/2 log(2 pi) - s^2/2``
  and ``E[log 1.5 |X|^(1/2)] = log 1.5 + (log s - (gamma + log 2)/2)/2`` for
  ``X ~ N(0, s^2)``, and against Monte Carlo of ``-log p``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
from scipy import special

from infobench.tasks._mixture import (
    MixtureParams,
    RandomMixtureTask,
    as_nested_tuples,
    check_mixture,
    mixture_digest,
    store_mixture_fields,
)
from infobench.tasks._quadrature import (
    Marginal,
    expected_log_derivative,
    exponential_marginal,
    laplace_marginal,
    normal_marginal,
    normal_mixture_marginal,
    student_t_marginal,
    truncation_plan,
    uniform_marginal,
)
from infobench.tasks.base import (
    EntropyTask,
    as_matrix_tuple,
    check_dim,
    check_equicorrelation,
    check_nu,
    check_positive,
    digest,
    equicorrelated,
    fmt,
    gaussian_logpdf,
    set_field,
)
from infobench.tasks.transforms import get_transform

__all__ = [
    "GaussianEntropy",
    "GaussianCovEntropy",
    "UniformEntropy",
    "LaplaceEntropy",
    "ExponentialEntropy",
    "StudentTEntropy",
    "GaussianMixtureEntropy",
    "RandomMixtureEntropy",
    "TransformedEntropy",
    "AffineEntropy",
]

_LOG_2PI = math.log(2.0 * math.pi)


def _scale_suffix(scale: float) -> str:
    return "" if scale == 1.0 else f"-s{fmt(scale)}"


# ------------------------------------------------------------------ Gaussian
@dataclass(frozen=True)
class _GaussianEntropyBase(EntropyTask):
    family: ClassVar[str] = "gaussian"

    @cached_property
    def _cov(self) -> np.ndarray:  # pragma: no cover - subclasses override
        raise NotImplementedError

    @cached_property
    def _chol(self) -> np.ndarray:
        return np.linalg.cholesky(self._cov)

    def _compute_truth(self) -> tuple[float, float]:
        return 0.5 * (self.dim * (1.0 + _LOG_2PI) + np.linalg.slogdet(self._cov)[1]), 0.0

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, self.dim)) @ self._chol.T

    def _log_prob(self, x: np.ndarray) -> np.ndarray:
        return gaussian_logpdf(x, np.zeros(self.dim), self._chol)

    def marginal(self, i: int) -> Marginal:
        s = math.sqrt(self._cov[i, i])
        return normal_marginal(s)


@dataclass(frozen=True)
class GaussianEntropy(_GaussianEntropyBase):
    """``N(0, scale^2 [(1 - rho) I + rho 1 1^T])`` in ``dim`` dimensions (``rho=0``: isotropic)."""

    dim: int
    rho: float = 0.0
    scale: float = 1.0

    def __post_init__(self) -> None:
        set_field(self, "dim", check_dim("dim", self.dim))
        set_field(self, "rho", check_equicorrelation(self.rho, self.dim))
        set_field(self, "scale", check_positive("scale", self.scale))

    @property
    def id(self) -> str:
        return f"entropy-gaussian-d{self.dim}-rho{fmt(self.rho)}{_scale_suffix(self.scale)}"

    @cached_property
    def _cov(self) -> np.ndarray:
        return equicorrelated(self.dim, self.rho, self.scale)


@dataclass(frozen=True)
class GaussianCovEntropy(_GaussianEntropyBase):
    """``N(0, covariance)`` for any symmetric positive-definite ``covariance`` (id ends with its hash)."""

    covariance: Any

    def __post_init__(self) -> None:
        set_field(self, "covariance", as_matrix_tuple("covariance", self.covariance))

    @property
    def dim(self) -> int:
        return len(self.covariance)

    @property
    def id(self) -> str:
        return f"entropy-gaussian-cov-d{self.dim}-{digest(self.covariance)}"

    @cached_property
    def _cov(self) -> np.ndarray:
        return np.array(self.covariance, dtype=np.float64)


# ------------------------------------------------------------- i.i.d. families
@dataclass(frozen=True)
class UniformEntropy(EntropyTask):
    """Uniform on the box ``[0, w_1) x … x [0, w_d)``; ``H = sum log w_i`` (negative for small boxes)."""

    family: ClassVar[str] = "uniform"
    widths: Any

    def __post_init__(self) -> None:
        try:
            w = np.atleast_1d(np.array(self.widths, dtype=np.float64))
        except (TypeError, ValueError):
            raise TypeError(f"widths must be a sequence of positive numbers; got {self.widths!r}") from None
        if w.ndim != 1 or w.size == 0:
            raise ValueError(f"widths must be a non-empty 1-D sequence; got shape {w.shape}")
        for i, v in enumerate(w):
            check_positive(f"widths[{i}]", float(v))
        set_field(self, "widths", tuple(float(v) for v in w))

    @property
    def dim(self) -> int:
        return len(self.widths)

    @property
    def id(self) -> str:
        w = self.widths
        text = fmt(w[0]) if len(set(w)) == 1 else "_".join(fmt(v) for v in w)
        return f"entropy-uniform-d{self.dim}-w{text}"

    def _compute_truth(self) -> tuple[float, float]:
        return float(np.log(self.widths).sum()), 0.0

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.random((n, self.dim)) * np.asarray(self.widths)

    def _log_prob(self, x: np.ndarray) -> np.ndarray:
        w = np.asarray(self.widths)
        inside = ((x >= 0) & (x < w)).all(axis=1)
        return np.where(inside, -np.log(w).sum(), -np.inf)

    def marginal(self, i: int) -> Marginal:
        return uniform_marginal(self.widths[i])


@dataclass(frozen=True)
class LaplaceEntropy(EntropyTask):
    """I.i.d. Laplace(0, scale) coordinates; ``H = dim (1 + log(2 scale))``."""

    family: ClassVar[str] = "laplace"
    dim: int
    scale: float = 1.0

    def __post_init__(self) -> None:
        set_field(self, "dim", check_dim("dim", self.dim))
        set_field(self, "scale", check_positive("scale", self.scale))

    @property
    def id(self) -> str:
        return f"entropy-laplace-d{self.dim}{_scale_suffix(self.scale)}"

    def _compute_truth(self) -> tuple[float, float]:
        return self.dim * (1.0 + math.log(2.0 * self.scale)), 0.0

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.laplace(0.0, self.scale, (n, self.dim))

    def _log_prob(self, x: np.ndarray) -> np.ndarray:
        return (-math.log(2.0 * self.scale) - np.abs(x) / self.scale).sum(axis=1)

    def marginal(self, i: int) -> Marginal:
        return laplace_marginal(self.scale)


@dataclass(frozen=True)
class ExponentialEntropy(EntropyTask):
    """I.i.d. Exponential(rate) coordinates; ``H = dim (1 - log rate)``."""

    family: ClassVar[str] = "exponential"
    dim: int
    rate: float = 1.0

    def __post_init__(self) -> None:
        set_field(self, "dim", check_dim("dim", self.dim))
        set_field(self, "rate", check_positive("rate", self.rate))

    @property
    def id(self) -> str:
        suffix = "" if self.rate == 1.0 else f"-rate{fmt(self.rate)}"
        return f"entropy-exponential-d{self.dim}{suffix}"

    def _compute_truth(self) -> tuple[float, float]:
        return self.dim * (1.0 - math.log(self.rate)), 0.0

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.exponential(1.0 / self.rate, (n, self.dim))

    def _log_prob(self, x: np.ndarray) -> np.ndarray:
        lp = (math.log(self.rate) - self.rate * x).sum(axis=1)
        return np.where((x >= 0).all(axis=1), lp, -np.inf)

    def marginal(self, i: int) -> Marginal:
        return exponential_marginal(self.rate)


@dataclass(frozen=True)
class StudentTEntropy(EntropyTask):
    """Multivariate Student-t, ``nu`` degrees of freedom, dispersion ``scale^2 [(1 - rho) I + rho 1 1^T]``."""

    family: ClassVar[str] = "student-t"
    dim: int
    nu: float
    rho: float = 0.0
    scale: float = 1.0

    def __post_init__(self) -> None:
        set_field(self, "dim", check_dim("dim", self.dim))
        set_field(self, "nu", check_nu(self.nu))
        set_field(self, "rho", check_equicorrelation(self.rho, self.dim))
        set_field(self, "scale", check_positive("scale", self.scale))

    @property
    def id(self) -> str:
        return f"entropy-student-t-d{self.dim}-nu{fmt(self.nu)}-rho{fmt(self.rho)}{_scale_suffix(self.scale)}"

    @cached_property
    def _chol(self) -> np.ndarray:
        return np.linalg.cholesky(equicorrelated(self.dim, self.rho, self.scale))

    def _log_norm(self) -> float:
        """log of the density's constant: lgamma((nu+d)/2) - lgamma(nu/2) - d/2 log(nu pi) - 1/2 log det S."""
        nu, d = self.nu, self.dim
        logdet = 2.0 * np.log(np.diag(self._chol)).sum()
        return special.gammaln((nu + d) / 2) - special.gammaln(nu / 2) - 0.5 * d * math.log(nu * math.pi) - 0.5 * logdet

    def _compute_truth(self) -> tuple[float, float]:
        h = 0.5 * (self.nu + self.dim)
        return -self._log_norm() + h * (special.digamma(h) - special.digamma(0.5 * self.nu)), 0.0

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal((n, self.dim)) @ self._chol.T
        return z * np.sqrt(self.nu / rng.chisquare(self.nu, size=n))[:, None]

    def _log_prob(self, x: np.ndarray) -> np.ndarray:
        from scipy.linalg import solve_triangular

        sol = solve_triangular(self._chol, x.T, lower=True)
        maha = np.einsum("ij,ij->j", sol, sol)
        return self._log_norm() - 0.5 * (self.nu + self.dim) * np.log1p(maha / self.nu)

    def marginal(self, i: int) -> Marginal:
        return student_t_marginal(self.nu, self.scale)


# ------------------------------------------------------------------ mixtures
@dataclass(frozen=True)
class _MixtureEntropy(EntropyTask):
    family: ClassVar[str] = "mixture"

    @cached_property
    def mixture(self) -> MixtureParams:  # pragma: no cover - subclasses override
        raise NotImplementedError

    def _compute_truth(self) -> tuple[float, float]:
        mean, se = self.mixture.stratified_mean(self.mixture.logpdf)
        return -mean, se

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.mixture.sample(n, rng)

    def _log_prob(self, x: np.ndarray) -> np.ndarray:
        return self.mixture.logpdf(x)

    def marginal(self, i: int) -> Marginal:
        mix = self.mixture
        return normal_mixture_marginal(mix.weights, mix.means[:, i], np.sqrt(mix.covs[:, i, i]))


@dataclass(frozen=True)
class GaussianMixtureEntropy(_MixtureEntropy):
    """Any Gaussian mixture ``sum_k w_k N(m_k, S_k)``; Monte-Carlo truth (id ends with a hash)."""

    weights: Any
    means: Any
    covariances: Any

    def __post_init__(self) -> None:
        store_mixture_fields(self)

    @property
    def dim(self) -> int:
        return len(self.means[0])

    @property
    def id(self) -> str:
        return f"entropy-mixture-d{self.dim}-{mixture_digest(self)}"

    @cached_property
    def mixture(self) -> MixtureParams:
        return check_mixture(self.weights, self.means, self.covariances)


@dataclass(frozen=True)
class RandomMixtureEntropy(RandomMixtureTask, _MixtureEntropy):
    """A reproducible random Gaussian mixture in ``dim`` dimensions (see :class:`RandomMixture`)."""

    dim: int
    n_components: int = 3
    seed: int = 0
    separation: float = 2.0
    dim_fields: ClassVar[tuple[str, ...]] = ("dim",)

    @property
    def id(self) -> str:
        return f"entropy-mixture-random-d{self.dim}-{self.mixture_suffix}"


# --------------------------------------------------------------- transformed
def _base_tail_check(base: EntropyTask, transform: str) -> None:
    # E[log phi(X)] = -E[X^2]/2 - ..., finite only with a finite second moment.
    if transform == "normal-cdf" and isinstance(base, StudentTEntropy) and base.nu <= 2:
        raise ValueError(
            f"transform 'normal-cdf' needs a finite second moment; the base Student-t has nu={base.nu!r} <= 2"
        )


@dataclass(frozen=True)
class TransformedEntropy(EntropyTask):
    """``Y = f(X)`` for an invertible ``f``; ``H(Y) = H(X) + E[log |det J_f(X)|]`` exactly.

    Parameters
    ----------
    base : EntropyTask
    transform : str
        ``"spiral"`` (volume preserving, needs ``dim >= 2``, any base) or a
        componentwise map ``"normal-cdf"``, ``"half-cube"``, ``"asinh"``,
        ``"wiggly"`` (needs a base with marginal densities: Gaussian,
        uniform, Laplace, exponential, Student-t, mixtures).
    """

    family: ClassVar[str] = "transformed"
    base: EntropyTask
    transform: str

    def __post_init__(self) -> None:
        if not isinstance(self.base, EntropyTask):
            raise TypeError(f"base must be an entropy task; got {type(self.base).__name__}")
        t = get_transform(self.transform)
        if self.transform == "identity":
            raise ValueError("transform 'identity' changes nothing; use the base task itself")
        if self.base.dim < t.min_dim:
            raise ValueError(
                f"transform {self.transform!r} needs dimension >= {t.min_dim}; the base has dim {self.base.dim}"
            )
        if t.elementwise and self.base.marginal(0) is None:
            raise ValueError(
                f"transform {self.transform!r} is componentwise and needs the base's marginal densities; "
                f"{type(self.base).__name__} has none (use 'spiral' or AffineEntropy)"
            )
        _base_tail_check(self.base, self.transform)
        if t.elementwise and t.log_df_bound is not None:
            for i in range(self.base.dim):
                marginal = self.base.marginal(i)
                assert marginal is not None  # checked above for coordinate 0; a family has all or none
                truncation_plan(marginal, t.log_df_bound)

    @property
    def dim(self) -> int:
        return self.base.dim

    @property
    def id(self) -> str:
        return f"entropy-{self.transform}-{self.base.id.removeprefix('entropy-')}"

    def jacobian_term(self) -> float:
        """``E[log |det J_f(X)|]`` in nats (0 for the spiral; quadrature per coordinate otherwise)."""
        t = get_transform(self.transform)
        if not t.elementwise:
            return 0.0
        total = 0.0
        for i in range(self.dim):
            marginal = self.base.marginal(i)
            assert marginal is not None  # a componentwise map needs the marginals (__post_init__)
            total += expected_log_derivative(t.log_derivative, marginal, t.log_df_bound)
        return total

    def _compute_truth(self) -> tuple[float, float]:
        return self.base.truth + self.jacobian_term(), self.base.truth_std_err

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return get_transform(self.transform).forward(self.base._sample(n, rng))

    def _log_prob(self, y: np.ndarray) -> np.ndarray:
        t = get_transform(self.transform)
        x = t.inverse(y)
        with np.errstate(divide="ignore"):
            return self.base._log_prob(x) - t.log_abs_det_jacobian(x)


@dataclass(frozen=True)
class AffineEntropy(EntropyTask):
    """``Y = A X`` for an invertible matrix ``A``; ``H(Y) = H(X) + log |det A|``.

    The id ends with a hash of ``A``.
    """

    family: ClassVar[str] = "transformed"
    base: EntropyTask
    matrix: Any

    def __post_init__(self) -> None:
        if not isinstance(self.base, EntropyTask):
            raise TypeError(f"base must be an entropy task; got {type(self.base).__name__}")
        try:
            a = np.array(self.matrix, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"matrix must be a square matrix of real numbers; got {type(self.matrix).__name__}"
            ) from None
        d = self.base.dim
        if a.shape != (d, d):
            raise ValueError(f"matrix must have shape ({d}, {d}) to match the base; got shape {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError("matrix must contain only finite numbers")
        cond = np.linalg.cond(a)
        if not np.isfinite(cond) or cond > 1e12:
            raise ValueError(f"matrix must be invertible; its condition number is {cond:.3g}")
        set_field(self, "matrix", as_nested_tuples(a))

    @property
    def dim(self) -> int:
        return self.base.dim

    @property
    def id(self) -> str:
        return f"entropy-affine-{digest(self.matrix)}-{self.base.id.removeprefix('entropy-')}"

    @cached_property
    def _a(self) -> np.ndarray:
        return np.array(self.matrix, dtype=np.float64)

    def _compute_truth(self) -> tuple[float, float]:
        return self.base.truth + np.linalg.slogdet(self._a)[1], self.base.truth_std_err

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.base._sample(n, rng) @ self._a.T

    def _log_prob(self, y: np.ndarray) -> np.ndarray:
        return self.base._log_prob(np.linalg.solve(self._a, y.T).T) - np.linalg.slogdet(self._a)[1]
