"""Gaussian mixtures: parameter checks, exact log densities, sampling and stratified Monte Carlo.

Mixtures have no closed-form entropy or mutual information, so their truths
are Monte-Carlo averages of exact log densities,
``H = -E[log p(Z)]`` and ``I = E[log p(x, y) - log p(x) - log p(y)]``.
The sample is stratified by component (``n_k`` proportional to ``w_k``, the
estimate ``sum_k w_k mean_k``), which removes the variance due to the
component draw; its standard error is ``sqrt(sum_k w_k^2 var_k / n_k)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from infobench._validation import check_float, check_int
from infobench.tasks.base import MC_SEED, check_dim, check_spd, digest, fmt, gaussian_logpdf, set_field

# 2^18 points: a standard error of a few 1e-3 nats for the mixtures in the
# suites, in about a tenth of a second for the dimensions used there.
MC_SAMPLES = 1 << 18


@dataclass(frozen=True)
class MixtureParams:
    """Validated mixture parameters as arrays: weights (K,), means (K, d), Cholesky factors (K, d, d)."""

    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray
    chols: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def marginal(self, idx: np.ndarray | slice) -> MixtureParams:
        """The mixture of the coordinates ``idx`` (a Gaussian mixture with the sub-blocks)."""
        covs = self.covs[:, idx][:, :, idx]
        return MixtureParams(self.weights, self.means[:, idx], covs, np.linalg.cholesky(covs))

    def logpdf(self, z: np.ndarray) -> np.ndarray:
        """``log sum_k w_k N(z; m_k, S_k)`` at the rows of ``z``."""
        parts = np.stack([gaussian_logpdf(z, m, c) for m, c in zip(self.means, self.chols)])
        parts += np.log(self.weights)[:, None]
        if len(parts) == 1:
            return parts[0]
        top = parts.max(axis=0)
        return top + np.log(np.exp(parts - top).sum(axis=0))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        labels = rng.choice(len(self.weights), size=n, p=self.weights)
        z = rng.standard_normal((n, self.dim))
        return self.means[labels] + np.einsum("nij,nj->ni", self.chols[labels], z)

    def stratified_mean(
        self, g: Callable[[np.ndarray], np.ndarray], total: int = MC_SAMPLES, seed: int = MC_SEED
    ) -> tuple[float, float]:
        """Stratified Monte-Carlo estimate of ``E[g(Z)]`` and its standard error."""
        rng = np.random.default_rng(seed)
        mean = var = 0.0
        for w, m, c in zip(self.weights, self.means, self.chols):
            nk = max(2, int(math.ceil(total * w)))
            vals = g(m + np.einsum("nj,kj->nk", rng.standard_normal((nk, self.dim)), c))
            mean += w * vals.mean()
            var += w * w * vals.var(ddof=1) / nk
        return float(mean), float(math.sqrt(var))


def check_mixture(weights: Any, means: Any, covariances: Any) -> MixtureParams:
    """Validate mixture parameters (``ValueError``/``TypeError`` naming the parameter) and return arrays."""
    try:
        w = np.array(weights, dtype=np.float64)
        m = np.array(means, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("weights and means must be arrays of real numbers") from None
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"weights must be a non-empty 1-D sequence; got shape {w.shape}")
    if not np.isfinite(w).all() or (w <= 0).any():
        raise ValueError(f"weights must be finite and > 0; got {w.tolist()}")
    if abs(w.sum() - 1.0) > 1e-9:
        raise ValueError(f"weights must sum to 1; got sum {float(w.sum())!r}")
    k = w.size
    if m.ndim != 2 or m.shape[0] != k or m.shape[1] == 0:
        raise ValueError(f"means must have shape ({k}, d) (one row per weight); got shape {m.shape}")
    if not np.isfinite(m).all():
        raise ValueError("means must contain only finite numbers")
    d = m.shape[1]
    if len(covariances) != k:
        raise ValueError(f"covariances must hold {k} matrices (one per weight); got {len(covariances)}")
    covs = np.stack([check_spd(f"covariances[{i}]", c, size=d) for i, c in enumerate(covariances)])
    return MixtureParams(w, m, covs, np.linalg.cholesky(covs))


def as_nested_tuples(a: np.ndarray) -> Any:
    """Arrays to nested tuples of floats (hashable, JSON-friendly task fields)."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return float(a)
    return tuple(as_nested_tuples(v) for v in a)


def random_mixture(
    dim: int, n_components: int, seed: int, separation: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A reproducible random mixture: Dirichlet(3) weights, N(0, separation^2) means, random SPD covariances."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(n_components, 3.0))
    means = separation * rng.standard_normal((n_components, dim))
    covs = []
    for _ in range(n_components):
        a = rng.standard_normal((dim, dim))
        # A random correlated part plus a diagonal floor keeps every component
        # well conditioned (eigenvalues >= 0.2) at any dimension.
        covs.append(0.5 * a @ a.T / dim + np.diag(rng.uniform(0.2, 1.0, dim)))
    return weights, means, np.stack(covs)


def check_random_mixture_fields(task: Any) -> None:
    """Validate and normalise the ``n_components``, ``seed``, ``separation`` fields of a random-mixture task."""
    set_field(task, "n_components", check_int("n_components", task.n_components, low=1))
    set_field(task, "seed", check_int("seed", task.seed, low=0))
    set_field(task, "separation", check_float("separation", task.separation, low=0.0))


def random_mixture_suffix(task: Any) -> str:
    """The id part ``k{K}-s{seed}[-sep{separation}]`` of a random-mixture task."""
    sep = "" if task.separation == 2.0 else f"-sep{fmt(task.separation)}"
    return f"k{task.n_components}-s{task.seed}{sep}"


class RandomMixtureTask:
    """The random Gaussian mixture of a task on R^d: checks of its fields, its id part, the mixture itself.

    The entropy task (one space R^dim) and the MI task (X's coordinates, then
    Y's) share this one implementation, so that equal parameters give the
    same mixture. A task lists its dimension fields in ``dim_fields`` (d is
    their sum) and declares, after them, the fields ``n_components``,
    ``seed`` and ``separation`` (see :func:`random_mixture`).
    """

    dim_fields: ClassVar[tuple[str, ...]] = ()
    n_components: int
    seed: int
    separation: float

    def __post_init__(self) -> None:
        for name in self.dim_fields:
            set_field(self, name, check_dim(name, getattr(self, name)))
        check_random_mixture_fields(self)

    @property
    def mixture_suffix(self) -> str:
        """The id part ``k{K}-s{seed}[-sep{separation}]``."""
        return random_mixture_suffix(self)

    @cached_property
    def mixture(self) -> MixtureParams:
        d = sum(int(getattr(self, name)) for name in self.dim_fields)
        return check_mixture(*random_mixture(d, self.n_components, self.seed, self.separation))


def store_mixture_fields(task: Any) -> MixtureParams:
    """Validate the ``weights``, ``means``, ``covariances`` fields of a generic mixture task and store them as tuples."""
    mix = check_mixture(task.weights, task.means, task.covariances)
    for name, value in (("weights", mix.weights), ("means", mix.means), ("covariances", mix.covs)):
        set_field(task, name, as_nested_tuples(value))
    return mix


def mixture_digest(task: Any) -> str:
    """The id part ``k{K}-{hash}`` of a generic mixture task."""
    return f"k{len(task.weights)}-{digest(task.weights, task.means, np.ravel(task.covariances))}"
