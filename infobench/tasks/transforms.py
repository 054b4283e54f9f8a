"""Invertible maps applied to samples: they keep mutual information and shift entropy exactly.

For a diffeomorphism ``f`` applied to X alone (and ``g`` to Y alone),
``I(f(X); g(Y)) = I(X; Y)`` (Kraskov et al. 2004; Czyż et al. 2023,
"Beyond normal"), while the entropy changes by the expected
log-Jacobian, ``H(f(X)) = H(X) + E[log |det J_f(X)|]`` (Cover & Thomas,
h(AX) = h(X) + log|det A|, generalised to smooth bijections).

Componentwise maps (``t -> f(t)`` applied to each coordinate):

``normal-cdf``  ``Phi(t)``, the standard normal CDF; ``log f'(t) = log phi(t)``.
``half-cube``   ``t * sqrt(|t|)``; ``log f'(t) = log 1.5 + log|t| / 2``.
``asinh``       ``arcsinh(t)``; ``log f'(t) = -log(1 + t**2) / 2``.
``wiggly``      ``t + 0.4 sin(1.2 t) + 0.12 sin(3.1 t + 0.5)``: strictly
                increasing since ``f' >= 1 - 0.48 - 0.372 = 0.148``.

Joint map:

``spiral``      rotates each coordinate pair ``(2i, 2i+1)`` by the angle
                ``SPIRAL_SPEED * |x|**2``. The norm is kept, so the inverse
                rotates by the same angle backwards; the Jacobian is
                ``R (I + A x grad(theta)^T)`` with ``A`` skew-symmetric, whose
                determinant is ``1 + 2 c x^T A x = 1``: volume preserving.

Also here: the inverse CDF of a two-component Gaussian mixture composed with
the normal CDF (bimodal marginals) and the swiss-roll embedding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import special

__all__ = ["TRANSFORMS", "get_transform", "Transform", "MixtureQuantile", "swiss_roll"]

SPIRAL_SPEED = 0.5
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class Transform:
    """An invertible map on R^d with a tractable log-Jacobian.

    Attributes
    ----------
    name : str
    min_dim : int
        Smallest dimension the map is defined on.
    elementwise : bool
        True for maps applied to each coordinate separately (their Jacobian
        is diagonal, ``log|det J| = sum_i log f'(x_i)``).
    """

    name: str = ""
    min_dim: int = 1
    elementwise: bool = True
    log_df_bound: float | None = None  # sup |log f'| where finite (elementwise maps)

    def forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def inverse(self, y: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def log_abs_det_jacobian(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        """``log |det J_f(x)|`` at the rows of ``x``; shape ``(n,)``."""
        raise NotImplementedError

    def log_derivative(self, t: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        """``log f'(t)`` of an elementwise map, at every entry of ``t``."""
        raise NotImplementedError


class _Elementwise(Transform):
    def __init__(self, name: str, f: Callable, f_inv: Callable, log_df: Callable, log_df_bound: float | None = None):
        self.name, self.f, self.f_inv, self.log_df = name, f, f_inv, log_df
        self.log_df_bound = log_df_bound

    def forward(self, x):
        return self.f(x)

    def inverse(self, y):
        return self.f_inv(y)

    def log_derivative(self, t):
        """``log f'(t)`` elementwise."""
        return self.log_df(t)

    def log_abs_det_jacobian(self, x):
        return self.log_df(x).sum(axis=1)


class _Identity(Transform):
    name = "identity"

    def forward(self, x):
        return x

    def inverse(self, y):
        return y

    def log_derivative(self, t):
        return np.zeros_like(t)

    def log_abs_det_jacobian(self, x):
        return np.zeros(x.shape[0])


class _Spiral(Transform):
    """Rotation of each coordinate pair by ``SPIRAL_SPEED * |x|^2`` (volume preserving)."""

    name = "spiral"
    min_dim = 2
    elementwise = False

    @staticmethod
    def _rotate(x: np.ndarray, angle: np.ndarray) -> np.ndarray:
        out = np.array(x, dtype=np.float64, copy=True)
        c, s = np.cos(angle), np.sin(angle)
        pairs = x.shape[1] // 2
        a, b = x[:, 0 : 2 * pairs : 2], x[:, 1 : 2 * pairs : 2]
        out[:, 0 : 2 * pairs : 2] = c[:, None] * a - s[:, None] * b
        out[:, 1 : 2 * pairs : 2] = s[:, None] * a + c[:, None] * b
        return out

    def forward(self, x):
        return self._rotate(x, SPIRAL_SPEED * np.einsum("ij,ij->i", x, x))

    def inverse(self, y):
        # Rotations keep the norm, so the angle is known from y itself.
        return self._rotate(y, -SPIRAL_SPEED * np.einsum("ij,ij->i", y, y))

    def log_abs_det_jacobian(self, x):
        return np.zeros(x.shape[0])


def _wiggly(t):
    return t + 0.4 * np.sin(1.2 * t) + 0.12 * np.sin(3.1 * t + 0.5)


def _wiggly_inverse(y):
    # |f(t) - t| <= 0.52, so t lies in [y - 0.52, y + 0.52]; f is strictly
    # increasing, so bisection converges to machine precision in 50 halvings.
    lo, hi = y - 0.52, y + 0.52
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        below = _wiggly(mid) < y
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def _half_cube_log_df(t):
    with np.errstate(divide="ignore"):
        return math.log(1.5) + 0.5 * np.log(np.abs(t))


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        _Identity(),
        _Elementwise("normal-cdf", special.ndtr, special.ndtri, lambda t: -0.5 * t * t - _LOG_SQRT_2PI),
        _Elementwise(
            "half-cube",
            lambda t: t * np.sqrt(np.abs(t)),
            lambda s: np.sign(s) * np.abs(s) ** (2.0 / 3.0),
            _half_cube_log_df,
        ),
        _Elementwise("asinh", np.arcsinh, np.sinh, lambda t: -0.5 * np.log1p(t * t)),
        _Elementwise(
            "wiggly",
            _wiggly,
            _wiggly_inverse,
            lambda t: np.log(1.0 + 0.48 * np.cos(1.2 * t) + 0.372 * np.cos(3.1 * t + 0.5)),
            # 0.148 <= f' <= 1.852, so |log f'| <= -log(0.148) = 1.911.
            log_df_bound=1.92,
        ),
        _Spiral(),
    )
}


def get_transform(name: str, *, param: str = "transform") -> Transform:
    """Look a transform up by name; an unknown name raises ``ValueError`` listing the valid ones."""
    if not isinstance(name, str) or name not in TRANSFORMS:
        raise ValueError(f"{param} must be one of {sorted(TRANSFORMS)}; got {name!r}")
    return TRANSFORMS[name]


@dataclass(frozen=True)
class MixtureQuantile:
    """``t -> F^{-1}(Phi(t))`` for the CDF ``F`` of a 1-D Gaussian mixture.

    Applied to a standard normal variable it produces the mixture as its
    marginal (bimodal for well separated components); it is strictly
    increasing for any input, so it keeps mutual information whatever the
    input's scale.

    The equation ``F(s) = Phi(t)`` is solved in log space (``log_ndtr``), on
    the lower tail for ``t <= 0`` and the upper tail for ``t > 0``, so that no
    precision is lost far in the tails, by Newton's method safeguarded with
    bisection. Every component's own quantile is ``m_k + s_k t``, so the root
    lies between the smallest and the largest of them: the starting bracket.
    """

    weights: tuple[float, ...]
    means: tuple[float, ...]
    stds: tuple[float, ...]

    def _log_tail(self, s, sign):
        """``log F(s)`` (sign=+1) or ``log(1 - F(s))`` (sign=-1) and its derivative's log-magnitude."""
        w = np.log(np.asarray(self.weights))[:, None]
        m = np.asarray(self.means)[:, None]
        sd = np.asarray(self.stds)[:, None]
        z = sign * (s - m) / sd
        log_tail = np.logaddexp.reduce(w + special.log_ndtr(z), axis=0)
        log_dens = np.logaddexp.reduce(w - 0.5 * z * z - np.log(sd) - 0.5 * math.log(2 * math.pi), axis=0)
        return log_tail, log_dens

    @cached_property
    def _grid(self) -> tuple[np.ndarray, np.ndarray]:
        t = np.linspace(-10.0, 10.0, 2001)
        quantiles = np.asarray(self.means)[:, None] + np.asarray(self.stds)[:, None] * t
        lo, hi = quantiles.min(axis=0), quantiles.max(axis=0)
        return t, self._solve(t, lo, hi, 0.5 * (lo + hi))

    def __call__(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        flat = t.reshape(-1)
        quantiles = np.asarray(self.means)[:, None] + np.asarray(self.stds)[:, None] * flat
        lo, hi = quantiles.min(axis=0), quantiles.max(axis=0)
        # The exact solutions on a fine grid of t bracket the root (the map is
        # increasing) and interpolate a start a few Newton steps from it.
        grid_t, grid_s = self._grid
        inside = (flat > grid_t[0]) & (flat < grid_t[-1])
        j = np.clip(np.searchsorted(grid_t, flat), 1, grid_t.size - 1)
        lo = np.where(inside, grid_s[j - 1], lo)
        hi = np.where(inside, grid_s[j], hi)
        frac = (flat - grid_t[j - 1]) / (grid_t[j] - grid_t[j - 1])
        start = np.where(inside, lo + frac * (hi - lo), 0.5 * (lo + hi))
        return self._solve(flat, lo, hi, start).reshape(t.shape)

    def _solve(self, flat, lo, hi, s):
        sign = np.where(flat > 0, -1.0, 1.0)
        target = special.log_ndtr(sign * flat)
        lo, hi, s = lo.copy(), hi.copy(), s.copy()
        active = np.ones(flat.shape, dtype=bool)
        for _ in range(200):
            if not active.any():
                break
            idx = np.flatnonzero(active)
            si, sg = s[idx], sign[idx]
            log_tail, log_dens = self._log_tail(si, sg)
            g = log_tail - target[idx]
            # sign * g < 0: the root is to the right of s.
            right = sg * g < 0
            lo[idx] = np.where(right, si, lo[idx])
            hi[idx] = np.where(right, hi[idx], si)
            # d/ds log F_sign(s) = sign * f(s) / F_sign(s)
            step = g / (sg * np.exp(log_dens - log_tail))
            new = si - step
            outside = ~((new > lo[idx]) & (new < hi[idx])) | ~np.isfinite(new)
            new = np.where(outside, 0.5 * (lo[idx] + hi[idx]), new)
            # Newton converges quadratically: once a Newton step is below
            # 1e-9, the point it lands on is exact to rounding.
            tol = 1e-9 * (1.0 + np.abs(si))
            done = (~outside & (np.abs(step) <= tol)) | (hi[idx] - lo[idx] <= 1e-6 * tol)
            s[idx] = new
            active[idx] = ~done
        return s


# Two bimodal marginals (one for X, one for Y) with different shapes.
BIMODAL_X = MixtureQuantile(weights=(0.4, 0.6), means=(-2.0, 2.5), stds=(0.8, 1.0))
BIMODAL_Y = MixtureQuantile(weights=(0.5, 0.5), means=(-1.5, 3.0), stds=(1.0, 0.6))


def swiss_roll(u: np.ndarray) -> np.ndarray:
    """Embed ``u`` in (0, 1) (shape ``(n, 1)``) on a swiss roll in R^2.

    ``t = 1.5 pi (1 + 2u)``, ``x = (t cos t, t sin t)``: an injective smooth
    map onto a 1-D curve, so ``I(swiss_roll(U); Y) = I(U; Y)`` (the
    parametrisation of scikit-learn's ``make_swiss_roll``).
    """
    t = 1.5 * np.pi * (1.0 + 2.0 * u[:, 0])
    return np.column_stack([t * np.cos(t), t * np.sin(t)])
