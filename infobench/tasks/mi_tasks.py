"""Mutual-information tasks beyond the Gaussian and Student-t families.

Closed forms (derivations in each class docstring): additive uniform noise,
discrete-continuous, independent pairs, and every invertible transform of a
task (same truth as its base). Gaussian mixtures (including Gaussian tasks
contaminated by outliers and class-conditional mixtures with a discrete
label) use a Monte-Carlo truth with a reported standard error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
from scipy import special

from infobench._validation import check_choice, check_float, check_int
from infobench.tasks._mixture import (
    MC_SAMPLES,
    MixtureParams,
    RandomMixtureTask,
    check_mixture,
    check_random_mixture_fields,
    mixture_digest,
    random_mixture,
    random_mixture_suffix,
    store_mixture_fields,
)
from infobench.tasks.base import MC_SEED, MITask, check_dim, check_positive, check_rho, fmt, set_field
from infobench.tasks.normal import _GaussianMI
from infobench.tasks.transforms import BIMODAL_X, BIMODAL_Y, get_transform, swiss_roll

__all__ = [
    "AdditiveUniform",
    "Transformed",
    "Bimodal",
    "SwissRoll",
    "GaussianMixture",
    "CrossMixture",
    "RandomMixture",
    "DiscreteContinuous",
    "Independent",
    "Contaminated",
    "ClassMixture",
]


@dataclass(frozen=True)
class AdditiveUniform(MITask):
    """``X ~ U(0, 1)^dim``, ``Y = X + N`` with ``N ~ U(-eps, eps)^dim`` (coordinates independent).

    Per coordinate, ``I = h(Y) - log(2 eps)`` where ``Y``'s density is the
    convolution of the two uniforms, a trapezoid. Integrating ``-p log p``
    over its two linear ramps gives

    * ``eps <= 1/2``: ``h(Y) = eps``, so ``I = eps - log(2 eps)``;
    * ``eps > 1/2``: ``h(Y) = 1/(4 eps) + log(2 eps)``, so ``I = 1/(4 eps)``,

    and the ``dim`` independent coordinates add up.
    """

    family: ClassVar[str] = "uniform-noise"
    eps: float
    dim: int = 1

    def __post_init__(self) -> None:
        set_field(self, "eps", check_positive("eps", self.eps))
        set_field(self, "dim", check_dim("dim", self.dim))

    dim_x = property(lambda self: self.dim)
    dim_y = property(lambda self: self.dim)

    @property
    def id(self) -> str:
        return f"uniform-noise-d{self.dim}-eps{fmt(self.eps)}"

    def _compute_truth(self) -> tuple[float, float]:
        e = self.eps
        per = e - math.log(2.0 * e) if e <= 0.5 else 1.0 / (4.0 * e)
        return self.dim * per, 0.0

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(0.0, 1.0, (n, self.dim))
        return x, x + rng.uniform(-self.eps, self.eps, (n, self.dim))


@dataclass(frozen=True)
class Transformed(MITask):
    """An MI task whose X and/or Y pass through invertible maps: ``(f(X), g(Y))``, same MI as ``base``.

    Parameters
    ----------
    base : MITask
    x, y : str
        Transform names for X and Y (see :data:`infobench.tasks.transforms.TRANSFORMS`):
        ``"identity"``, ``"normal-cdf"``, ``"half-cube"``, ``"asinh"``,
        ``"wiggly"`` (componentwise) or ``"spiral"`` (needs dimension >= 2).
        At least one of them is not ``"identity"``; a discrete variable
        stays untransformed.

    Notes
    -----
    ``I(f(X); g(Y)) = I(X; Y)`` for injective smooth ``f``, ``g`` (Kraskov et
    al. 2004, Phys. Rev. E 69, 066138). The id reads ``"{x}-{base}"`` when both maps agree,
    ``"{x}-x-{base}"`` / ``"{y}-y-{base}"`` when only one variable is mapped,
    ``"{x}-x-{y}-y-{base}"`` otherwise.
    """

    family: ClassVar[str] = "transformed"
    base: MITask
    x: str = "identity"
    y: str = "identity"

    def __post_init__(self) -> None:
        if not isinstance(self.base, MITask):
            raise TypeError(f"base must be an MI task; got {type(self.base).__name__}")
        for var, name, dim, discrete in (
            ("x", self.x, self.base.dim_x, self.base.discrete_x),
            ("y", self.y, self.base.dim_y, self.base.discrete_y),
        ):
            t = get_transform(name, param=var)
            if name != "identity" and discrete:
                raise ValueError(f"{var}={name!r}: the base task's {var.upper()} is discrete; only 'identity' applies")
            if dim < t.min_dim:
                raise ValueError(f"{var}={name!r} needs dimension >= {t.min_dim}; the base task's dim_{var} is {dim}")
        if self.x == "identity" and self.y == "identity":
            raise ValueError("x and y are both 'identity'; give at least one transform")

    dim_x = property(lambda self: self.base.dim_x)
    dim_y = property(lambda self: self.base.dim_y)
    discrete_x = property(lambda self: self.base.discrete_x)
    discrete_y = property(lambda self: self.base.discrete_y)

    @property
    def id(self) -> str:
        if self.x == self.y:
            prefix = self.x
        elif self.y == "identity":
            prefix = f"{self.x}-x"
        elif self.x == "identity":
            prefix = f"{self.y}-y"
        else:
            prefix = f"{self.x}-x-{self.y}-y"
        return f"{prefix}-{self.base.id}"

    def _compute_truth(self) -> tuple[float, float]:
        return self.base.truth, self.base.truth_std_err

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.base._sample(n, rng)
        return get_transform(self.x).forward(x), get_transform(self.y).forward(y)


@dataclass(frozen=True)
class Bimodal(MITask):
    """Bimodal marginals: each coordinate ``t`` of X (and of Y) becomes ``F^{-1}(Phi(t))`` for a two-component mixture ``F``.

    With a base of standard normal marginals (``DenseNormal``,
    ``SparseNormal``), X's coordinates follow ``0.4 N(-2, 0.8^2) + 0.6
    N(2.5, 1)`` and Y's ``0.5 N(-1.5, 1) + 0.5 N(3, 0.6^2)``. The map is
    strictly increasing, so the MI is the base's.
    """

    family: ClassVar[str] = "bimodal"
    base: MITask

    def __post_init__(self) -> None:
        if not isinstance(self.base, MITask):
            raise TypeError(f"base must be an MI task; got {type(self.base).__name__}")
        if self.base.discrete_x or self.base.discrete_y:
            raise ValueError("base must have continuous X and Y; bimodal marginals need continuous variables")

    dim_x = property(lambda self: self.base.dim_x)
    dim_y = property(lambda self: self.base.dim_y)

    @property
    def id(self) -> str:
        return f"bimodal-{self.base.id}"

    def _compute_truth(self) -> tuple[float, float]:
        return self.base.truth, self.base.truth_std_err

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.base._sample(n, rng)
        return BIMODAL_X(x), BIMODAL_Y(y)


@dataclass(frozen=True)
class SwissRoll(MITask):
    """X on a swiss roll in R^2, Y in (0, 1); ``I = -1/2 log(1 - rho^2)``.

    ``(U, V)`` is a standard bivariate normal with correlation ``rho``;
    ``X = swiss_roll(Phi(U))`` (2-d) and ``Y = Phi(V)``. Both maps are
    injective, so the MI is the Gaussian one (Czyż et al. 2023, "Beyond normal").
    X has no density in R^2 (it lies on a curve), which is the point.
    """

    family: ClassVar[str] = "swissroll"
    rho: float
    dim_x: ClassVar[int] = 2
    dim_y: ClassVar[int] = 1

    def __post_init__(self) -> None:
        set_field(self, "rho", check_rho(self.rho))

    @property
    def id(self) -> str:
        return f"swissroll-rho{fmt(self.rho)}"

    def _compute_truth(self) -> tuple[float, float]:
        return -0.5 * math.log1p(-(self.rho**2)), 0.0

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        u = rng.standard_normal(n)
        v = self.rho * u + math.sqrt(1.0 - self.rho**2) * rng.standard_normal(n)
        return swiss_roll(special.ndtr(u)[:, None]), special.ndtr(v)[:, None]


@dataclass(frozen=True)
class _MixtureMI(MITask):
    """A Gaussian mixture over (X, Y); truth by stratified Monte Carlo of exact log densities."""

    family: ClassVar[str] = "mixture"

    @cached_property
    def mixture(self) -> MixtureParams:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def pointwise_mi(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``log p(x, y) - log p(x) - log p(y)`` at paired rows (exact densities)."""
        mix = self.mixture
        return (
            mix.logpdf(np.hstack([x, y]))
            - mix.marginal(slice(0, self.dim_x)).logpdf(x)
            - mix.marginal(slice(self.dim_x, None)).logpdf(y)
        )

    def _compute_truth(self) -> tuple[float, float]:
        dx = self.dim_x
        return self.mixture.stratified_mean(lambda z: self.pointwise_mi(z[:, :dx], z[:, dx:]))

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        z = self.mixture.sample(n, rng)
        return z[:, : self.dim_x], z[:, self.dim_x :]


@dataclass(frozen=True)
class GaussianMixture(_MixtureMI):
    """Any Gaussian mixture over (X, Y): ``sum_k w_k N(m_k, S_k)`` on R^(dim_x + dim_y).

    Parameters
    ----------
    weights : sequence of K floats > 0 summing to 1
    means : array-like (K, dim_x + dim_y)
    covariances : array-like (K, dim_x + dim_y, dim_x + dim_y), each SPD
    dim_x : int
        The first ``dim_x`` coordinates are X.

    The truth is a Monte-Carlo average over 2^18 stratified points with a
    fixed seed; ``truth_std_err`` reports its standard error. The id ends with
    a hash of the parameters.
    """

    weights: Any
    means: Any
    covariances: Any
    dim_x: int

    def __post_init__(self) -> None:
        d = store_mixture_fields(self).dim
        set_field(
            self,
            "dim_x",
            check_int("dim_x", self.dim_x, low=1, high=d - 1, context=f" (the mixture has dimension {d})"),
        )

    @property
    def dim_y(self) -> int:
        return len(self.means[0]) - self.dim_x

    @property
    def id(self) -> str:
        return f"mixture-x{self.dim_x}-y{self.dim_y}-{mixture_digest(self)}"

    @cached_property
    def mixture(self) -> MixtureParams:
        return check_mixture(self.weights, self.means, self.covariances)


@dataclass(frozen=True)
class CrossMixture(_MixtureMI):
    """An "X"-shaped 1x1 mixture: ``1/2 N(0, [[1, rho], [rho, 1]]) + 1/2 N(0, [[1, -rho], [-rho, 1]])``.

    X and Y are uncorrelated (so the Gaussian/CCA estimate is 0) yet
    dependent; the truth is Monte Carlo.
    """

    rho: float
    dim_x: ClassVar[int] = 1
    dim_y: ClassVar[int] = 1

    def __post_init__(self) -> None:
        set_field(self, "rho", check_rho(self.rho))

    @property
    def id(self) -> str:
        return f"mixture-cross-rho{fmt(self.rho)}"

    @cached_property
    def mixture(self) -> MixtureParams:
        r = self.rho
        return check_mixture([0.5, 0.5], np.zeros((2, 2)), [[[1, r], [r, 1]], [[1, -r], [-r, 1]]])


@dataclass(frozen=True)
class RandomMixture(RandomMixtureTask, _MixtureMI):
    """A reproducible random Gaussian mixture over (X, Y) with ``n_components`` components.

    Components (drawn from ``seed``): Dirichlet(3, ..., 3) weights, means
    ``N(0, separation^2 I)``, covariances ``A A^T / (2d) + diag(U(0.2, 1))``.
    X and Y depend through the shared component and the within-component
    correlations; the truth is Monte Carlo.
    """

    dim_x: int
    dim_y: int
    n_components: int = 3
    seed: int = 0
    separation: float = 2.0
    dim_fields: ClassVar[tuple[str, ...]] = ("dim_x", "dim_y")

    @property
    def id(self) -> str:
        return f"mixture-random-x{self.dim_x}-y{self.dim_y}-{self.mixture_suffix}"


@dataclass(frozen=True)
class Contaminated(_MixtureMI):
    """A Gaussian task with outliers: ``(1 - eps) N(0, S) + eps N(0, outlier_scale^2 I)``.

    Parameters
    ----------
    base : Gaussian MI task (``DenseNormal``, ``SparseNormal``, ``Normal``)
        Its covariance ``S`` is the inliers'.
    eps : float
        Fraction of outliers, in ``(0, 1)``.
    outlier_scale : float
        Standard deviation of every coordinate of the outliers, which carry no
        dependence between X and Y.

    The MI is not the base's (the mixture mixes a dependent and an
    independent part, and the label itself links X and Y); the truth is
    stratified Monte Carlo of the exact log densities with its standard
    error. The id reads ``"outliers-eps{eps}-s{outlier_scale}-{base id}"``.
    """

    family: ClassVar[str] = "outliers"
    base: _GaussianMI
    eps: float = 0.05
    outlier_scale: float = 10.0

    def __post_init__(self) -> None:
        if not isinstance(self.base, _GaussianMI):
            raise TypeError(
                f"base must be a Gaussian MI task (DenseNormal, SparseNormal, Normal); got {type(self.base).__name__}"
            )
        set_field(self, "eps", check_float("eps", self.eps, low=0.0, high=1.0, low_open=True, high_open=True))
        set_field(self, "outlier_scale", check_positive("outlier_scale", self.outlier_scale))

    dim_x = property(lambda self: self.base.dim_x)
    dim_y = property(lambda self: self.base.dim_y)

    @property
    def id(self) -> str:
        return f"outliers-eps{fmt(self.eps)}-s{fmt(self.outlier_scale)}-{self.base.id}"

    @cached_property
    def mixture(self) -> MixtureParams:
        d = self.dim_x + self.dim_y
        covs = [self.base.covariance_matrix(), self.outlier_scale**2 * np.eye(d)]
        return check_mixture([1.0 - self.eps, self.eps], np.zeros((2, d)), covs)


@dataclass(frozen=True)
class ClassMixture(MITask):
    """A discrete label X uniform on ``{0, ..., m-1}`` (int64); ``Y | X = c`` a Gaussian mixture of its own.

    Class ``c``'s conditional is the random mixture of
    :func:`infobench.tasks._mixture.random_mixture` drawn with seed
    ``seed * 1000 + c`` (``n_components`` components in ``dim_y``
    dimensions, means ``N(0, separation^2 I)``), so the classes overlap.

    ``I(X; Y) = E[log p(Y | X) - log p(Y)]`` with ``p(y) = 1/m sum_c p(y | c)``;
    the truth is stratified Monte Carlo of these exact log densities, class
    by class (``2^18 / m`` points each); its standard error is
    ``sqrt(sum_c se_c^2) / m``. It lies in ``[0, log m]``.
    """

    family: ClassVar[str] = "discrete-continuous"
    m: int
    dim_y: int = 1
    n_components: int = 2
    seed: int = 0
    separation: float = 2.0
    dim_x: ClassVar[int] = 1
    discrete_x: ClassVar[bool] = True

    def __post_init__(self) -> None:
        set_field(self, "m", check_int("m", self.m, low=2))
        set_field(self, "dim_y", check_dim("dim_y", self.dim_y))
        check_random_mixture_fields(self)

    @property
    def id(self) -> str:
        return f"class-mixture-m{self.m}-y{self.dim_y}-{random_mixture_suffix(self)}"

    @cached_property
    def classes(self) -> tuple[MixtureParams, ...]:
        """The conditional mixture of Y for each class."""
        return tuple(
            check_mixture(*random_mixture(self.dim_y, self.n_components, self.seed * 1000 + c, self.separation))
            for c in range(self.m)
        )

    @cached_property
    def marginal_y(self) -> MixtureParams:
        """The mixture of Y: every class's components with weight ``w_ck / m``."""
        cls = self.classes
        return check_mixture(
            np.concatenate([c.weights for c in cls]) / self.m,
            np.concatenate([c.means for c in cls]),
            np.concatenate([c.covs for c in cls]),
        )

    def pointwise_mi(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``log p(y | x) - log p(y)`` at paired rows (exact densities)."""
        labels = np.asarray(x).reshape(-1)
        out = -self.marginal_y.logpdf(y)
        for c, mix in enumerate(self.classes):
            at = labels == c
            out[at] += mix.logpdf(y[at])
        return out

    def _compute_truth(self) -> tuple[float, float]:
        mean = var = 0.0
        for c, mix in enumerate(self.classes):

            def log_ratio(y: np.ndarray, mix: MixtureParams = mix) -> np.ndarray:
                return mix.logpdf(y) - self.marginal_y.logpdf(y)

            m_c, se_c = mix.stratified_mean(
                log_ratio,
                total=MC_SAMPLES // self.m,
                seed=MC_SEED + c,
            )
            mean += m_c / self.m
            var += (se_c / self.m) ** 2
        return mean, math.sqrt(var)

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = rng.integers(0, self.m, size=n)
        y = np.empty((n, self.dim_y))
        for c, mix in enumerate(self.classes):
            at = x == c
            y[at] = mix.sample(int(at.sum()), rng)
        return x[:, None], y


@dataclass(frozen=True)
class DiscreteContinuous(MITask):
    """``X`` uniform on ``{0, ..., m-1}`` (int64), ``Y | X ~ U(X, X + 2)``.

    ``Y`` has density ``1/(2m)`` on ``[0, 1)`` and ``[m, m+1)`` and ``1/m`` on
    ``[1, m)``; given ``Y`` in the middle, X is one of two values, otherwise
    known. Hence ``I = H(X) - H(X | Y) = log m - (1 - 1/m) log 2``
    (0 for ``m = 1``).
    """

    family: ClassVar[str] = "discrete-continuous"
    m: int
    dim_x: ClassVar[int] = 1
    dim_y: ClassVar[int] = 1
    discrete_x: ClassVar[bool] = True

    def __post_init__(self) -> None:
        set_field(self, "m", check_int("m", self.m, low=1))

    @property
    def id(self) -> str:
        return f"discrete-continuous-m{self.m}"

    def _compute_truth(self) -> tuple[float, float]:
        return math.log(self.m) - (1.0 - 1.0 / self.m) * math.log(2.0), 0.0

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = rng.integers(0, self.m, size=n)
        return x[:, None], (x + rng.uniform(0.0, 2.0, size=n))[:, None]


_INDEPENDENT_MARGINALS = ("normal", "uniform", "laplace")


@dataclass(frozen=True)
class Independent(MITask):
    """Independent X and Y with i.i.d. coordinates (``I = 0``).

    ``marginal``: ``"normal"`` (N(0, 1)), ``"uniform"`` (U(0, 1)) or
    ``"laplace"`` (Laplace(0, 1)). Estimators' bias shows directly.
    """

    family: ClassVar[str] = "independent"
    dim_x: int
    dim_y: int
    marginal: str = "normal"

    def __post_init__(self) -> None:
        set_field(self, "dim_x", check_dim("dim_x", self.dim_x))
        set_field(self, "dim_y", check_dim("dim_y", self.dim_y))
        check_choice("marginal", self.marginal, _INDEPENDENT_MARGINALS)

    @property
    def id(self) -> str:
        return f"independent-{self.marginal}-x{self.dim_x}-y{self.dim_y}"

    def _compute_truth(self) -> tuple[float, float]:
        return 0.0, 0.0

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        draws: dict[str, Callable[[tuple[int, int]], np.ndarray]] = {
            "normal": rng.standard_normal,
            "uniform": rng.random,
            "laplace": lambda size: rng.laplace(0.0, 1.0, size),
        }
        draw = draws[self.marginal]
        return draw((n, self.dim_x)), draw((n, self.dim_y))
