"""The :class:`Task` protocol: a distribution whose entropy or mutual information is known.

A task is a frozen dataclass (cbg-ethz/bmi's ``Task`` design): its fields are
its parameters, its ``id`` is built from them, ``sample(n, seed)`` draws from
it, and ``truth`` is the exact entropy or mutual information in nats, computed
once (closed form, or a Monte-Carlo estimate with a fixed internal seed whose
standard error is ``truth_std_err``) and cached per parameter set.

This module also holds the checks shared by the task families (covariance
matrices, number formats in ids, JSON parameters).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from infobench._validation import as_generator, check_float, check_int
from infobench.tasks._quadrature import Marginal

__all__ = ["Task", "MITask", "EntropyTask", "KLTask"]

# Every Monte-Carlo truth in the package uses this seed, so a truth is a fixed
# number (and its standard error a fixed number) for a given parameter set.
MC_SEED = 20_231_102


@dataclass(frozen=True)
class Task:
    """A distribution with a known entropy or mutual information.

    Every concrete task provides the attributes below.

    Attributes
    ----------
    id : str
        Stable identifier built from the parameters, e.g.
        ``"normal-dense-x2-y2-rho0.5"``; unique within the registry.
    kind : {"mi", "entropy", "kl"}
        What ``truth`` measures: I(X; Y), H(X) or D(P || Q).
    family : str
        The family of distributions, e.g. ``"normal"``, ``"student-t"``.
    dim_x, dim_y : int
        Dimensions of X and Y (``dim_y == 0`` for entropy and KL tasks; for KL
        tasks ``dim_x`` is the common dimension of P and Q).
    params : dict
        JSON-serialisable parameters (the dataclass fields).
    truth : float
        The exact value in nats (cached).
    truth_std_err : float
        0.0 for closed forms; the Monte-Carlo standard error otherwise.
    discrete_x, discrete_y : bool
        True where the variable is integer-valued (returned as ``int64``).
    """

    kind: ClassVar[str] = ""
    family: ClassVar[str] = ""
    discrete_x: ClassVar[bool] = False
    discrete_y: ClassVar[bool] = False

    if TYPE_CHECKING:
        # Each family provides the dimensions as a field, a class constant or a
        # property; declared here for the checker only, so that no dataclass
        # field or inherited default comes with them.
        @property
        def dim_x(self) -> int: ...

        @property
        def dim_y(self) -> int: ...

    # ------------------------------------------------------------ to override
    @property
    def id(self) -> str:  # pragma: no cover - every concrete task overrides it
        raise NotImplementedError

    def _compute_truth(self) -> tuple[float, float]:  # pragma: no cover
        """Return ``(truth, std_err)`` in nats."""
        raise NotImplementedError

    def _sample(self, n: int, rng: np.random.Generator) -> Any:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------ shared API
    @property
    def params(self) -> dict[str, Any]:
        """The dataclass fields as JSON-serialisable values (nested tasks by id and params)."""
        return {f.name: _jsonify(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @property
    def truth(self) -> float:
        """The exact entropy or mutual information in nats (cached)."""
        return _cached_truth(self)[0]

    @property
    def truth_std_err(self) -> float:
        """Standard error of ``truth``: 0.0 for closed forms, the Monte-Carlo error otherwise."""
        return _cached_truth(self)[1]

    def summary(self) -> dict[str, Any]:
        """One flat record: id, kind, family, dimensions, truth and its standard error, params."""
        return {
            "id": self.id,
            "kind": self.kind,
            "family": self.family,
            "dim_x": self.dim_x,
            "dim_y": self.dim_y,
            "truth": self.truth,
            "truth_std_err": self.truth_std_err,
            "discrete_x": self.discrete_x,
            "discrete_y": self.discrete_y,
            "params": self.params,
        }

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True)
class MITask(Task):
    """A joint distribution of (X, Y) with known mutual information I(X; Y)."""

    kind: ClassVar[str] = "mi"

    def sample(self, n: int, seed: Any) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` paired samples.

        Parameters
        ----------
        n : int
            Number of samples, ``>= 1``.
        seed : int, numpy.random.Generator or torch.Generator
            Source of randomness; the same seed gives the same samples.

        Returns
        -------
        x, y : numpy.ndarray
            Shapes ``(n, dim_x)`` and ``(n, dim_y)``; float64, or int64 for a
            discrete variable.
        """
        n = check_int("n", n, low=1)
        rng = as_generator(seed)
        x, y = self._sample(n, rng)
        return _finish(x, n, self.dim_x, self.discrete_x), _finish(y, n, self.dim_y, self.discrete_y)


@dataclass(frozen=True)
class _OneSpace(Task):
    """Tasks on one space R^dim (entropy, KL): ``dim_x = dim``, ``dim_y = 0``."""

    if TYPE_CHECKING:  # a field or a property of each family (see Task)

        @property
        def dim(self) -> int: ...

    @property
    def dim_x(self) -> int:
        return self.dim

    @property
    def dim_y(self) -> int:
        return 0


@dataclass(frozen=True)
class EntropyTask(_OneSpace):
    """A distribution of X with known differential entropy H(X).

    Besides ``sample`` it exposes the exact log density ``log_prob`` (used for
    Monte-Carlo truths and to check the closed forms).
    """

    kind: ClassVar[str] = "entropy"

    def sample(self, n: int, seed: Any) -> np.ndarray:
        """Draw ``n`` samples of X: a float64 array of shape ``(n, dim_x)``.

        ``seed`` (int, numpy or torch Generator) makes the draw reproducible.
        """
        n = check_int("n", n, low=1)
        rng = as_generator(seed)
        return _finish(self._sample(n, rng), n, self.dim_x, self.discrete_x)

    def log_prob(self, x: Any) -> np.ndarray:
        """Exact log density (nats) at the rows of ``x`` (shape ``(n, dim)``); returns shape ``(n,)``."""
        return self._log_prob(_rows(x, self.dim))

    def _log_prob(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def marginal(self, i: int) -> Marginal | None:
        """The density of coordinate ``i`` (an ``infobench.tasks._quadrature.Marginal``), or ``None``.

        Used to integrate the Jacobian term of componentwise transforms by
        quadrature; families without a tractable marginal return ``None``.
        """
        return None


@dataclass(frozen=True)
class KLTask(_OneSpace):
    """Two distributions P and Q on R^dim with known divergence D(P || Q).

    ``sample(n, seed)`` returns ``(p, q)``: ``n`` independent draws from each.
    ``log_ratio`` is the exact ``log p(x) - log q(x)``; its mean over draws
    from P is the Monte-Carlo check of the closed form.
    """

    kind: ClassVar[str] = "kl"

    def sample(self, n: int, seed: Any) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` samples from P and ``n`` from Q: two float64 arrays of shape ``(n, dim)``.

        ``seed`` (int, numpy or torch Generator) makes the draw reproducible.
        """
        n = check_int("n", n, low=1)
        rng = as_generator(seed)
        p, q = self._sample(n, rng)
        return _finish(p, n, self.dim, False), _finish(q, n, self.dim, False)

    def log_ratio(self, x: Any) -> np.ndarray:
        """Exact ``log p(x) - log q(x)`` (nats) at the rows of ``x`` (shape ``(n, dim)``); returns shape ``(n,)``."""
        return self._log_ratio(_rows(x, self.dim))

    def _log_ratio(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - every concrete task overrides it
        raise NotImplementedError


@functools.lru_cache(maxsize=4096)
def _cached_truth(task: Task) -> tuple[float, float]:
    # Keyed by the task itself (frozen dataclasses hash by their fields), so two
    # equal tasks built separately share one computation.
    value, se = task._compute_truth()
    value, se = float(value), float(se)
    if not (math.isfinite(value) and math.isfinite(se)):  # pragma: no cover - a bug, never user input
        raise FloatingPointError(f"task {task.id}: truth {value} ± {se} is not finite")
    return value, se


def _rows(x: Any, dim: int) -> np.ndarray:
    """``x`` as a float64 ``(n, dim)`` array (a 1-D array is a column when ``dim == 1``) or ``ValueError``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1 and dim == 1:
        x = x.reshape(-1, 1)
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"x must have shape (n, {dim}); got shape {x.shape}")
    return x


def _finish(a: np.ndarray, n: int, dim: int, discrete: bool) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.int64 if discrete else np.float64)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.shape != (n, dim):  # pragma: no cover - a bug in a sampler
        raise RuntimeError(f"sampler returned shape {a.shape}, expected {(n, dim)}")
    return a


# ------------------------------------------------------------------ helpers
def _jsonify(value: Any) -> Any:
    if isinstance(value, Task):
        return {"id": value.id, "family": value.family, "params": value.params}
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_jsonify(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


def fmt(value: float) -> str:
    """Shortest round-trip text of a number for ids: 0.5 -> "0.5", 2.0 -> "2"."""
    text = repr(float(value) + 0.0)  # + 0.0 turns -0.0 into 0.0: equal tasks, equal ids
    return text[:-2] if text.endswith(".0") else text


def digest(*arrays: Any) -> str:
    """A short stable hash of numeric arrays, for ids of user-given matrices."""
    payload = json.dumps([np.asarray(a, dtype=np.float64).round(15).tolist() for a in arrays])
    return hashlib.sha1(payload.encode()).hexdigest()[:10]


def as_matrix_tuple(name: str, value: Any, *, size: int | None = None) -> tuple[tuple[float, ...], ...]:
    """Check a finite, square, symmetric, positive-definite matrix; return it as nested tuples.

    Tuples keep tasks hashable (the truth cache is keyed by the task).
    """
    m = check_spd(name, value, size=size)
    return tuple(tuple(float(v) for v in row) for row in m)


def check_spd(name: str, value: Any, *, size: int | None = None) -> np.ndarray:
    """Return ``value`` as a float64 symmetric positive-definite matrix or raise ``ValueError``."""
    try:
        m = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a square matrix of real numbers; got {type(value).__name__}") from None
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square matrix; got shape {m.shape}")
    if size is not None and m.shape[0] != size:
        raise ValueError(f"{name} must have shape ({size}, {size}); got shape {m.shape}")
    if not np.isfinite(m).all():
        raise ValueError(f"{name} must contain only finite numbers; got {float(m[~np.isfinite(m)][0])!r}")
    scale = float(np.abs(m).max())
    if not np.allclose(m, m.T, rtol=0.0, atol=1e-12 * max(scale, 1e-300)):
        i, j = np.unravel_index(np.argmax(np.abs(m - m.T)), m.shape)
        raise ValueError(
            f"{name} must be symmetric; got entry [{i},{j}]={float(m[i, j])!r} but [{j},{i}]={float(m[j, i])!r}"
        )
    m = 0.5 * (m + m.T)
    try:
        np.linalg.cholesky(m)
    except np.linalg.LinAlgError:
        low = float(np.linalg.eigvalsh(m)[0])
        raise ValueError(f"{name} must be positive definite; its smallest eigenvalue is {low:.3g}") from None
    return m


def check_dim(name: str, value: Any) -> int:
    """A dimension: an integer >= 1."""
    return check_int(name, value, low=1)


def check_rho(value: Any, name: str = "rho") -> float:
    """A correlation in the open interval (-1, 1)."""
    return check_float(name, value, low=-1.0, high=1.0, low_open=True, high_open=True)


def check_equicorrelation(rho: Any, d: int, name: str = "rho") -> float:
    """A common correlation for a ``d``-dim equicorrelated matrix: ``-1/(d-1) < rho < 1`` (positive definite)."""
    rho = check_float(name, rho)
    low = -1.0 / (d - 1) if d > 1 else -1.0
    if not low < rho < 1.0:
        raise ValueError(
            f"{name} must be in ({low:.4g}, 1) for an equicorrelated covariance of dimension d={d} "
            f"(positive definite iff -1/(d-1) < {name} < 1); got {rho!r}"
        )
    return rho


def equicorrelated(d: int, rho: float, scale: float = 1.0) -> np.ndarray:
    """``scale^2 [(1 - rho) I + rho 1 1^T]``: unit correlation ``rho`` between every pair."""
    return scale**2 * ((1.0 - rho) * np.eye(d) + rho * np.ones((d, d)))


NU_MIN = 0.1


def check_nu(value: Any) -> float:
    """Student-t degrees of freedom: finite and >= 0.1.

    The scale ``sqrt(nu / W)`` with ``W ~ chi^2_nu`` is sampled in float64;
    below ``nu = 0.1`` the chi-square draw underflows to 0 often enough
    (~1e-3 of draws at ``nu = 0.02``) that samples overflow to inf.
    """
    nu = check_float("nu", value, low=0.0, low_open=True)
    if nu < NU_MIN:
        raise ValueError(
            f"nu must be >= {NU_MIN} (smaller degrees of freedom draw scales beyond the float64 range); got {value!r}"
        )
    return nu


def check_positive(name: str, value: Any) -> float:
    """A finite number > 0."""
    return check_float(name, value, low=0.0, low_open=True)


def set_field(obj: Any, name: str, value: Any) -> None:
    """Normalise a field of a frozen dataclass in ``__post_init__``."""
    object.__setattr__(obj, name, value)


def gaussian_logpdf(z: np.ndarray, mean: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """Log density of N(mean, L L^T) at the rows of ``z``, from the Cholesky factor ``L``."""
    d = chol.shape[0]
    # A product with the (small, well-conditioned) inverse factor is several
    # times faster than a triangular solve on (d, n) right-hand sides; einsum
    # (single-threaded C loop) stays fast for small d even when BLAS threads
    # compete for busy cores.
    sol = np.einsum("nj,kj->nk", z - mean, np.linalg.inv(chol))
    maha = np.einsum("ij,ij->i", sol, sol)
    logdet = 2.0 * np.log(np.diag(chol)).sum()
    return -0.5 * (d * math.log(2.0 * math.pi) + logdet + maha)


def gaussian_mi_from_cov(cov: np.ndarray, dim_x: int) -> float:
    """I(X; Y) = 1/2 (log det S_xx + log det S_yy - log det S) for jointly Gaussian (X, Y)."""
    ld = np.linalg.slogdet
    return 0.5 * (ld(cov[:dim_x, :dim_x])[1] + ld(cov[dim_x:, dim_x:])[1] - ld(cov)[1])
