"""The standard sample-quality scores: FID (and its bias-free extrapolation), KID,
precision / recall / density / coverage, and memorization.

All computations run in float64. Distances are Euclidean in feature space;
neighbour searches and ball tests run on the estimators' exact engine
(:mod:`infobench.estimators._neighbors`: tiles, no ``n x n`` matrix, radii
and ball tests from the same exact distance).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np
import torch
from scipy.linalg.blas import dtrmm, strmm

from infobench._validation import as_generator, check_float, check_int
from infobench.quality._conditions import NEIGHBOUR_CONDITIONS
from infobench.quality._core import (
    GROUPS,
    Context,
    Outcome,
    Params,
    ScoreSpec,
    as_features,
    declare_param,
    neighbor_need,
    register_group,
    same_dim,
)
from infobench.quality._linalg import SINGLE_PRECISION, symmetric_eigenvalues

__all__ = [
    "frechet_distance",
    "fid",
    "fid_infinity",
    "kid",
    "prdc",
    "memorization",
    "mean_cov",
]


# ------------------------------------------------------------------ FID
def _numpy64(x: Any) -> np.ndarray:
    return x.detach().to(torch.float64).cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, np.float64)


def mean_cov(x: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (divisor ``n - 1``) of the rows of ``x``, as float64 numpy arrays.

    The ``d x d`` linear algebra of FID runs in numpy: on a busy machine
    torch's thread pool made each 64 x 64 product 100x slower than numpy's.
    """
    a = _numpy64(x)
    mu = a.mean(0)
    ac = a - mu
    return mu, (ac.T @ ac) / (a.shape[0] - 1)


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """Fréchet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    ``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^{1/2})`` (Dowson & Landau
    1982; Heusel et al. 2017, eq. 6). The trace term is computed without a
    general matrix square root: ``tr((S1 S2)^{1/2}) = sum_i sqrt(l_i)`` where
    ``l_i`` are the eigenvalues of the symmetric PSD matrix ``R^T S2 R``
    (similar to ``S1 S2``) for a factor ``S1 = R R^T``: the Cholesky factor
    when ``S1`` is positive definite, else ``S1^{1/2}`` from the symmetric
    eigendecomposition of ``S1``. Eigenvalues that rounding pushes below zero
    (both matrices are PSD) are set to zero before the square root; the
    distance itself is returned as computed, never clipped.

    Parameters
    ----------
    mu1, mu2 : array-like of shape (d,)
    sigma1, sigma2 : array-like of shape (d, d), symmetric PSD

    Returns
    -------
    float
        Squared-distance units of the features.
    """
    mu1, mu2, s1, s2 = (np.asarray(torch.as_tensor(v, dtype=torch.float64).cpu()) for v in (mu1, mu2, sigma1, sigma2))
    if mu1.ndim != 1 or s1.shape != (mu1.shape[0],) * 2 or mu2.shape != mu1.shape or s2.shape != s1.shape:
        raise ValueError(
            f"frechet_distance needs mu1, mu2 of shape (d,) and sigma1, sigma2 of shape (d, d); got "
            f"{mu1.shape}, {s1.shape}, {mu2.shape}, {s2.shape}"
        )
    if not all(np.isfinite(v).all() for v in (mu1, mu2, s1, s2)):
        raise ValueError("frechet_distance inputs contain NaN or inf")
    return _frechet(mu1, s1, mu2, s2)


def _frechet(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray, single: bool = False) -> float:
    """:func:`frechet_distance` of checked float64 arrays; ``single``: ``R^T S2 R`` and its eigenvalues in float32.

    The Cholesky factor ``R`` is float64 either way (a covariance with
    eigenvalues spread over 7 decades has no float32 factor).
    """
    s1 = (s1 + s1.T) / 2
    # Any factor S1 = R R^T gives the same spectrum: R^T S2 R is similar to S1 S2.
    # Cholesky is much cheaper than an eigendecomposition; a singular S1 (fewer
    # samples than dimensions) falls back to the symmetric square root.
    try:
        chol = np.linalg.cholesky(s1)
        # R^T S2 R with two triangular products (half the work of general ones)
        if single:
            c32, m32 = chol.astype(np.float32), s2.astype(np.float32)
            m = strmm(1.0, c32, strmm(1.0, c32, m32, side=1, lower=1), side=0, lower=1, trans_a=1)
        else:
            m = dtrmm(1.0, chol, dtrmm(1.0, chol, s2, side=1, lower=1), side=0, lower=1, trans_a=1)
    except np.linalg.LinAlgError:
        w1, v1 = np.linalg.eigh(s1)
        root1 = (v1 * np.sqrt(np.clip(w1, 0.0, None))) @ v1.T
        m = root1 @ s2 @ root1
    lam = symmetric_eigenvalues((m + m.T) / 2, single)
    tr_sqrt = np.sqrt(np.clip(lam, 0.0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_sqrt)


def _fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    return frechet_distance(*mean_cov(real), *mean_cov(fake))


def fid(real: Any, fake: Any, *, device: Any = "auto") -> float:
    """Fréchet Inception-style distance between two feature sets (Heusel et al. 2017), float64.

    Parameters
    ----------
    real, fake : array-like of shape (n, d) and (m, d)
        Features, rows are samples.

    Returns
    -------
    float
        ``frechet_distance`` of the two sets' means and unbiased covariances.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> round(fid(rng.normal(size=(4000, 2)), rng.normal(size=(4000, 2)) + [1.0, 0.0]), 1)
    1.0
    """
    r, f = as_features(real, "real", device=device), as_features(fake, "fake", device=device)
    same_dim(r, f, "real", "fake")
    return _fid(r, f)


def fid_sizes(n: int, params) -> np.ndarray:
    """The distinct generated-sample sizes (at least 2) of the FID-infinity fit for n samples."""
    return _sizes(n, params.fid_points, params.fid_min_fraction)


def _sizes(n: int, points: int, min_fraction: float) -> np.ndarray:
    sizes = np.unique(np.round(np.linspace(min_fraction * n, n, points)).astype(np.int64))
    return sizes[sizes >= 2]


# The FID-infinity fit uses no sample size below FID_INF_MIN_PER_DIM * d.
FID_INF_MIN_PER_DIM = 4
# A fit explaining less of the spread of FID(N) than this is reported as poor.
FID_INF_MIN_R2 = 0.5
# FD-infinity's interval comes from split replicates, whose halves fit sizes from 4 d to n/2 only. Below
# 14 d rows that range is under a factor 1.75 in N and the halves' extrapolation is far noisier than the
# full set's: on the digits classifier features (64-d, 100 redraws of which 20 bootstrapped) the interval
# width over the fresh spread was 1.65 +- 0.14 at n = 700 (10.9 d), 1.38 +- 0.12 at 800 (12.5 d) and
# 1.17 +- 0.10 at 898 (14.0 d); on 64-d Gaussians 1.27 +- 0.15 at n = 1,000 (15.6 d). Smaller sets get the
# value without an interval.
FID_INF_INTERVAL_MIN_PER_DIM = 14


def _subset_moments(
    x: np.ndarray, subsets: list[np.ndarray], whole: tuple[np.ndarray, np.ndarray] | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Mean and unbiased covariance of ``x[idx]`` for every row-index set ``idx`` (no repeats) in ``subsets``.

    From the sums ``S1 = sum x`` and ``S2 = sum x x^T`` of a subset, or of
    the whole set minus those of its complement when the subset holds more
    than half of the rows, so a subset costs ``O(min(m, n - m) d^2)``. The
    rows are shifted by the mean of the whole set first, so
    ``(S2 - S1 S1^T / m) / (m - 1)`` loses no precision to a large mean.
    ``whole``: the whole set's :func:`mean_cov`, when already computed.
    """
    n, d = x.shape
    if whole is None:
        shift = x.mean(0)
    else:
        # the whole set's sums about its own mean: S1 = 0, S2 = (n - 1) cov
        shift, cov = whole
        whole = (np.zeros(d), cov * (n - 1))
    xs = x - shift
    out = []
    for idx in subsets:
        m = idx.size
        if 2 * m <= n:
            part = xs[idx]
            s1, s2 = part.sum(0), part.T @ part
        else:
            if whole is None:
                whole = (xs.sum(0), xs.T @ xs)
            keep = np.ones(n, dtype=bool)
            keep[idx] = False
            part = xs[keep]
            s1, s2 = whole[0] - part.sum(0), whole[1] - part.T @ part
        out.append((shift + s1 / m, (s2 - np.outer(s1, s1) / m) / (m - 1)))
    return out


def _fid_infinity(
    real: torch.Tensor, fake: torch.Tensor, points: int, min_fraction: float, rng, moments: tuple | None = None
) -> dict:
    n_r, n_f = real.shape[0], fake.shape[0]
    d = real.shape[1]
    smaller = min(n_r, n_f)
    floor = FID_INF_MIN_PER_DIM * d
    if smaller < 1.25 * floor:
        raise ValueError(
            f"fid_inf needs at least {math.ceil(1.25 * floor)} samples in each set (5 d, d={d}): its fit uses no "
            f"size below {FID_INF_MIN_PER_DIM} d, where FID(N) is no longer linear in 1/N; got {n_r} real, "
            f"{n_f} generated"
        )
    min_fraction = max(min_fraction, floor / smaller)
    sizes = _sizes(n_f, points, min_fraction)
    if len(sizes) < 3:
        raise ValueError(
            f"fid_inf needs at least 3 distinct sample sizes between {min_fraction:g} n and n; "
            f"n={n_f} generated samples give {len(sizes)}"
        )
    jr, jf = [], []
    for m in sizes:
        m_r = max(2, int(round(m * n_r / n_f)))
        jr.append(rng.choice(n_r, m_r, replace=False))
        jf.append(rng.choice(n_f, int(m), replace=False))
    whole_r, whole_f = (None, None) if moments is None else moments
    pairs = zip(_subset_moments(_numpy64(real), jr, whole_r), _subset_moments(_numpy64(fake), jf, whole_f))
    values = [frechet_distance(*mr, *mf) for mr, mf in pairs]
    inv = 1.0 / sizes.astype(np.float64)
    design = np.column_stack([np.ones_like(inv), inv])
    vals = np.asarray(values)
    (intercept, slope), *_ = np.linalg.lstsq(design, vals, rcond=None)
    resid = vals - design @ np.array([intercept, slope])
    spread = float(((vals - vals.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / spread if spread > 0 else 1.0
    return {"value": float(intercept), "slope": float(slope), "sizes": sizes.tolist(), "fids": values, "r2": r2}


def fid_infinity(
    real: Any, fake: Any, *, points: int = 15, min_fraction: float = 0.2, seed: Any = 0, device: Any = "auto"
) -> dict:
    """Bias-free FID by extrapolation in 1/N (FID-infinity, Chong & Forsyth 2020).

    FID is biased upwards by a term that is, to first order, linear in
    ``1/N`` (Chong & Forsyth 2020, Sec. 3). ``points`` sample sizes ``N``
    evenly spaced in ``[min_fraction * m, m]`` (``m`` generated samples) are
    drawn without replacement, independently for each size (their moments
    from sums over the subset or its complement, whichever is smaller:
    :func:`_subset_moments`), FID(N) is computed for each, and the
    least-squares line ``FID(N) = FID_inf + b / N`` is extrapolated to
    ``1/N = 0``. Unlike the paper, which keeps the real statistics fixed,
    the real subset shrinks in proportion (``N * n / m`` rows), so the bias
    of the real-side covariance is extrapolated away as well.

    No fitted size is below ``4 d`` (``FID_INF_MIN_PER_DIM``): closer to
    ``d`` the sample covariance is far from its limit (its eigenvalues spread
    by ``(1 +- sqrt(d / N))^2``, Marchenko-Pastur) and FID(N) bends away from
    the line in 1/N; fitting down to ``N = 72`` in 64-d read -0.49 +- 0.24 for
    identical Gaussians (10 seeds, n = 359), ``4 d`` read -0.13 +- 0.20, and
    at n = 1,000 -0.06 +- 0.16 against 0.02 +- 0.11. Sets smaller than
    ``5 d`` are refused (``ValueError``); ``r2`` (the share of the spread of
    FID(N) the line explains) flags a poor fit (the score table notes
    ``r2 < 0.5``).

    Returns
    -------
    dict
        ``value`` (the intercept ``FID_inf``), ``slope`` ``b``, the ``sizes``
        and the ``fids`` measured at them, and the fit's ``r2``.
    """
    r, f = as_features(real, "real", device=device), as_features(fake, "fake", device=device)
    same_dim(r, f, "real", "fake")
    points = check_int("points", points, low=3)
    min_fraction = check_float("min_fraction", min_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    return _fid_infinity(r, f, points, min_fraction, as_generator(seed))


# ------------------------------------------------------------------ KID
# Kernel matrices of the whole sets are kept (and shared by bootstrap replicates)
# only while they hold at most this many entries (32 MiB in float64).
KID_GRAM_ENTRIES = 2**22


def _poly_kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(a b^T / d + 1)^3`` (two passes over the matrix: one fused product-and-add, one cube)."""
    one = torch.ones((1, 1), dtype=a.dtype, device=a.device)
    return torch.addmm(one, a, b.T, alpha=1.0 / a.shape[1]).pow_(3)


def _poly_diag(a: torch.Tensor) -> torch.Tensor:
    return ((a * a).sum(1) / a.shape[1] + 1.0) ** 3


def _kid_gram(ctx: Context):
    """``(K_rr, K_ff, K_rf)`` of the root sets when small enough, else None."""
    if "kid_gram" not in ctx.shared:
        real, fake = ctx.shared["root"]
        n_r, n_f = real.shape[0], fake.shape[0]
        small = n_r * n_r + n_f * n_f + n_r * n_f <= KID_GRAM_ENTRIES
        ctx.shared["kid_gram"] = (
            (_poly_kernel(real, real), _poly_kernel(fake, fake), _poly_kernel(real, fake)) if small else None
        )
    return ctx.shared["kid_gram"]


def _counts(rows: np.ndarray, n_root: int, device) -> torch.Tensor:
    """``(n_root, S)`` multiplicities of root rows in each of the S index sets ``rows[s]``."""
    c = np.zeros((n_root, rows.shape[0]))
    np.add.at(c, (rows, np.arange(rows.shape[0])[:, None]), 1.0)
    return torch.as_tensor(c, device=device)


def _mmd2_from_gram(gram, cx: torch.Tensor, cy: torch.Tensor, m: int) -> np.ndarray:
    """Unbiased MMD^2 of S subsets (multiplicity columns ``cx``, ``cy`` of m rows) from kept kernel matrices.

    ``sum_{a != b} K = c^T K c - sum_i c_i K_ii`` for the multiplicity vector
    c of each subset (all subsets in one product).
    """
    krr, kff, krf = gram
    sxx = (cx * (krr @ cx)).sum(0) - (cx * krr.diagonal()[:, None]).sum(0)
    syy = (cy * (kff @ cy)).sum(0) - (cy * kff.diagonal()[:, None]).sum(0)
    sxy = (cx * (krf @ cy)).sum(0)
    return ((sxx + syy) / (m * (m - 1)) - 2.0 * sxy / (m * m)).cpu().numpy()


def _mmd2_blocks(kxx: torch.Tensor, kyy: torch.Tensor, kxy: torch.Tensor) -> float:
    m = kxx.shape[0]
    off = m * (m - 1)
    return float((kxx.sum() - kxx.diagonal().sum()) / off + (kyy.sum() - kyy.diagonal().sum()) / off - 2.0 * kxy.mean())


def _kid_subsets(ctx: Context) -> tuple[int, np.ndarray, np.ndarray]:
    """KID's subset size ``m`` and the ``(S, m)`` rows of the real and generated subsets (the ``"kid"`` stream)."""
    if "kid_subsets" not in ctx.cache:
        real, fake, p = ctx.real, ctx.fake, ctx.params
        m = min(p.kid_subset_size, real.shape[0], fake.shape[0])
        if m < 2:
            raise ValueError(
                f"kid needs at least 2 samples in each set; got {real.shape[0]} real, {fake.shape[0]} generated"
            )
        rng = ctx.rng("kid")
        ix = np.stack([rng.choice(real.shape[0], m, replace=False) for _ in range(p.kid_subsets)])
        iy = np.stack([rng.choice(fake.shape[0], m, replace=False) for _ in range(p.kid_subsets)])
        ctx.cache["kid_subsets"] = (m, ix, iy)
    return ctx.cache["kid_subsets"]


# Groups whose scores run all three neighbour passes of an equal-size root context (real, generated, both).
_PASS_GROUPS = ("prdc", "knn_kl")


def _prepare_kid(ctx: Context) -> None:
    """KID from the products of the neighbour passes when they run anyway and the kernels are not kept.

    When precision, recall, density, coverage or the kNN KL scores are
    requested on sets of one size, the root context runs a self-search of
    each set and one cross-search; their tiles hold every product KID's
    subsets need (:class:`~infobench.estimators._exact_pairs._CubicPlan`:
    one product of each tile with the subsets' membership columns, about
    ``12 S n^2`` operations, instead of ``3 S`` products of ``m x d`` by
    ``d x m`` matrices, ``6 S m^2 d``: 0.12 against 1.2 TFLOP for 100 subsets
    of 1,000 of 10,000 rows in 2,048 dimensions), when that is under half of
    the subsets' own cost (``n < m sqrt(d) / 2``).
    """
    n_r, n_f = ctx.real.shape[0], ctx.fake.shape[0]
    passes = any(n in ctx.requested for g in _PASS_GROUPS for n in GROUPS[g][1])
    if n_r != n_f or not passes or _kid_gram(ctx) is not None:
        return
    if n_r <= max(ctx.params.k, ctx.params.knn_k):
        return
    m, ix, iy = _kid_subsets(ctx)
    # Summing every tile against the 3 S membership columns costs 12 S n^2 (3 S columns, 2 n^2 pairs
    # counted once); the subsets' own products 6 S m^2 d: the tiles only when that is under half.
    if 4 * n_r * n_r >= m * m * ctx.real.shape[1]:
        return
    ctx.want_cubic_sums(ix, iy)


def _kid(ctx: Context) -> tuple[float, float, int, np.ndarray, np.ndarray]:
    """KID over the subsets: mean, std, m, the per-subset values at m, and on each subset's two disjoint halves ``(S, 2)``.

    The halves are NaN when ``m > n/2`` (:func:`kid_std_err` does not use them then).
    """
    real, fake, p = ctx.real, ctx.fake, ctx.params
    m, ix, iy = _kid_subsets(ctx)
    # The halves serve kid_std_err only, which needs m <= n/2: not computed otherwise (NaN).
    h = m // 2 if 2 * m <= min(real.shape[0], fake.shape[0]) else 0
    gram = _kid_gram(ctx)
    if ctx.cubic_wanted is not None:  # from the neighbour passes' products (_prepare_kid)
        sums = ctx.cubic_sums()
        sxx, syy, sxy = sums["real"], sums["fake"], sums["cross"]
        vals = (sxx[:, 0] + syy[:, 0]) / (m * (m - 1)) - 2.0 * sxy[:, 0] / (m * m)
        halves = np.full((p.kid_subsets, 2), np.nan)
        if h >= 2:
            halves = (sxx[:, 1:] + syy[:, 1:]) / (h * (h - 1)) - 2.0 * sxy[:, 1:] / (h * h)
    elif gram is not None:
        n_r, n_f = gram[0].shape[0], gram[1].shape[0]
        dev = gram[0].device
        rx, ry = ctx.root_index("real")[ix], ctx.root_index("fake")[iy]
        vals = _mmd2_from_gram(gram, _counts(rx, n_r, dev), _counts(ry, n_f, dev), m)
        halves = (
            np.stack(
                [
                    _mmd2_from_gram(
                        gram,
                        _counts(rx[:, j * h : (j + 1) * h], n_r, dev),
                        _counts(ry[:, j * h : (j + 1) * h], n_f, dev),
                        h,
                    )
                    for j in (0, 1)
                ],
                axis=1,
            )
            if h >= 2
            else np.full((p.kid_subsets, 2), np.nan)
        )
    else:
        vals, halves = np.empty(p.kid_subsets), np.full((p.kid_subsets, 2), np.nan)
        for s in range(p.kid_subsets):
            x = real[torch.as_tensor(ix[s], device=real.device)]
            y = fake[torch.as_tensor(iy[s], device=fake.device)]
            kxx, kyy, kxy = _poly_kernel(x, x), _poly_kernel(y, y), _poly_kernel(x, y)
            vals[s] = _mmd2_blocks(kxx, kyy, kxy)
            for j in range(2 if h >= 2 else 0):  # the subset's two disjoint halves
                b = slice(j * h, (j + 1) * h)
                halves[s, j] = _mmd2_blocks(kxx[b, b], kyy[b, b], kxy[b, b])
    return float(vals.mean()), float(vals.std(ddof=1)), m, vals, halves


def kid_std_err(vals: np.ndarray, halves: np.ndarray, m: int, n: int) -> float:
    """Standard error of KID over fresh samples, from its own subsets (no extra kernel evaluations).

    A subset of ``m`` of ``n`` rows is a sample of size m, so the spread of
    the subset values is the conditional variance ``s_m^2 = Var(U_m) - Var(U_n)``
    (total variance: the mean over all subsets is the complete U-statistic
    ``U_n``), and the same for the two disjoint halves of every subset
    (``halves``, shape ``(S, 2)``), ``s_h^2``. With the Hoeffding form
    ``Var(U_m) = a/m + b/m^2`` (Serfling 1980, Sec. 5.2; ``b`` dominates when
    the two distributions agree and the MMD is degenerate) the two spreads
    fix ``a`` and ``b`` by a linear solve, and
    ``Var(KID) = a/n + b/n^2 + s_m^2 / S`` (the last term: the average over S
    random subsets).

    The solve is unbiased (both spreads are), but its ``a`` is noisy: the
    ratio ``s_h^2 / s_m^2`` scatters by about 15 % with S = 100, and ``a``
    enters ``Var(U_n)`` with weight ``n / m`` relative to its own scale.
    Clipping a negative ``a`` to 0 alone would keep every upward error and
    drop every downward one: on identical 64-d Gaussians (n = 5,000, m = 1,000,
    30 draws) that made the standard error 1.29x the fresh spread, against
    1.02x with the solve kept. So ``a < 0`` is kept whenever the extrapolated
    ``a/n + b/n^2`` stays positive (a variance must be); otherwise (or when
    ``b < 0``) the one term that fits both spreads best (non-negative least
    squares) is used. NaN when ``m > n/2`` (the subsets overlap too much to
    tell ``a`` from ``b``): the score then uses split replicates.
    """
    halves = np.asarray(halves, dtype=float)
    if 2 * m > n or not np.isfinite(halves).all():
        return float("nan")
    h = m // 2
    s2m, s2h = float(np.var(vals, ddof=1)), float(np.var(halves.ravel(), ddof=1))
    design = np.array([[1 / m - 1 / n, 1 / m**2 - 1 / n**2], [1 / h - 1 / n, 1 / h**2 - 1 / n**2]])
    a, b = np.linalg.solve(design, [s2m, s2h])
    if (
        b < 0 or a / n + b / n**2 <= 0
    ):  # one term only: the one that fits both spreads best (non-negative least squares)
        fits = []
        for col in (0, 1):
            coef = max(0.0, float(design[:, col] @ [s2m, s2h]) / float(design[:, col] @ design[:, col]))
            fits.append((float(((design[:, col] * coef - [s2m, s2h]) ** 2).sum()), col, coef))
        _, col, coef = min(fits)
        a, b = (coef, 0.0) if col == 0 else (0.0, coef)
    return math.sqrt(a / n + b / n**2 + s2m / len(vals))


def kid(
    real: Any, fake: Any, *, subsets: int = 100, subset_size: int = 1000, seed: Any = 0, device: Any = "auto"
) -> tuple[float, float]:
    """Kernel Inception-style distance (Binkowski et al. 2018, eq. 4 and Sec. 5).

    The unbiased estimator of the squared MMD with the cubic polynomial kernel
    ``k(x, y) = (x.y / d + 1)^3``,
    ``MMD^2_u = sum_{i != j} k(x_i, x_j) / (m(m-1)) + sum_{i != j} k(y_i, y_j) / (m(m-1))
    - 2 sum_{i, j} k(x_i, y_j) / m^2``,
    averaged over ``subsets`` random subsets of ``m = min(subset_size, n, n')``
    rows of each set drawn without replacement. Each subset's kernel matrices
    are ``m x m``, so memory does not grow with n.

    Returns
    -------
    (mean, std)
        Mean and standard deviation (ddof 1) over the subsets. Unbiased: may
        be negative when the two distributions agree (never clipped).
    """
    r, f = as_features(real, "real", device=device), as_features(fake, "fake", device=device)
    same_dim(r, f, "real", "fake")
    subsets = check_int("subsets", subsets, low=2)
    subset_size = check_int("subset_size", subset_size, low=2)
    params = Params(kid_subsets=subsets, kid_subset_size=subset_size)
    ctx = Context(r, f, None, None, None, params, seed=int(as_generator(seed).integers(0, 2**62)))
    mean, std, *_ = _kid(ctx)
    return mean, std


# ------------------------------------------------------------------ PRDC
def _prdc_values(ctx: Context) -> dict[str, float]:
    """Precision, recall, density, coverage from exact radii and exact strict ball tests."""
    k = ctx.params.k
    fake_in_real = ctx.inside("fake", "real").to(torch.float64)
    real_in_fake = ctx.inside("real", "fake").to(torch.float64)
    nearest_fake = ctx.cross("real", "fake").dist[:, 0]
    return {
        "precision": float((fake_in_real > 0).to(torch.float64).mean()),
        "recall": float((real_in_fake > 0).to(torch.float64).mean()),
        "density": float(fake_in_real.mean() / k),
        "coverage": float((nearest_fake < ctx.radii("real")).to(torch.float64).mean()),
    }


def prdc(real: Any, fake: Any, *, k: int = 5, device: Any = "auto") -> dict[str, float]:
    """Precision and recall (Kynkaanniemi et al. 2019), density and coverage (Naeem et al. 2020).

    With ``r_i`` the distance of real sample ``X_i`` to its k-th nearest other
    real sample and ``s_j`` the same for generated ``Y_j`` among generated:

    * precision ``= (1/M) sum_j 1[exists i: |Y_j - X_i| < r_i]``
      (generated samples inside the real manifold),
    * recall ``= (1/N) sum_i 1[exists j: |X_i - Y_j| < s_j]``,
    * density ``= (1/(k M)) sum_j sum_i 1[|Y_j - X_i| < r_i]`` (Naeem eq. 3),
    * coverage ``= (1/N) sum_i 1[min_j |X_i - Y_j| < r_i]`` (Naeem eq. 4).

    Strict inequalities, as in the authors' reference code: a point on a
    ball's boundary is outside, and radii and ball tests use the same exact
    distances (:func:`infobench.estimators._exact_pairs.ball_counts`), so
    ``prdc(x, x.copy())`` has density exactly 1 (for distinct rows) and
    copies count as copies.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``density``, ``coverage``.
    """
    r, f = as_features(real, "real", device=device), as_features(fake, "fake", device=device)
    same_dim(r, f, "real", "fake")
    k = check_int(
        "k", k, low=1, high=min(r.shape[0], f.shape[0]) - 1, context=f" (real n={r.shape[0]}, fake n={f.shape[0]})"
    )
    ctx = Context(r, f, None, None, None, Params(k=k, knn_k=1), seed=0)
    return _prdc_values(ctx)


# ------------------------------------------------------------------ memorization
def _memorization_value(ctx: Context) -> float:
    nearest = ctx.cross("fake", "train")
    own = ctx.self_knn("train").dist[:, 0]
    index = nearest.index
    assert index is not None  # the context's searches are exact ones, which return row indices
    return float((nearest.dist[:, 0] < own[index[:, 0]]).to(torch.float64).mean())


def memorization(fake: Any, train: Any, *, device: Any = "auto") -> float:
    """Fraction of generated samples closer to a training sample than that sample is to any other training sample.

    For generated ``Y_j`` with nearest training sample ``T_{i*}``, ``Y_j``
    counts as a copy when ``|Y_j - T_{i*}| < min_{l != i*} |T_{i*} - T_l|``:
    it lies inside the empty ball around ``T_{i*}``. This is one minus the
    authenticity of Alaa et al. 2022 (Sec. 3.2). Samples drawn independently
    from the training distribution land there at a base rate (measure it with
    held-out real data); exact copies always do.

    Parameters
    ----------
    fake : array-like (m, d)
    train : array-like (n, d)
        Features of the training split (not the test split).

    Returns
    -------
    float
        A fraction in [0, 1].
    """
    f, t = as_features(fake, "fake", device=device), as_features(train, "train", device=device)
    same_dim(f, t, "fake", "train")
    ctx = Context(t, f, None, None, None, Params(k=1, knn_k=1), seed=0)
    return _memorization_value(ctx)


# ------------------------------------------------------------------ groups
# FID's interval comes from split replicates (two disjoint halves with an
# estimated rate). When the two distributions agree FID is degenerate: over
# fresh draws of identical 64-d Gaussians its spread falls like 1/n (0.135,
# 0.072, 0.031, 0.015 at n = 500, 1,000, 2,500, 5,000; 60 draws each). A
# half-sample's spread around T_n is then sqrt(Var(T_{n/2}) - Var(T_n)) =
# sqrt(3) sd(T_n), and half-sample intervals were 1.54-1.74x too wide; the split
# scheme's rate estimate gave 0.87-1.0x (docs of infobench/quality/bootstrap.py).
# The conditions of the covariance scores (infobench.quality._conditions).
_COVARIANCE = ("covariance-rank", "copied-rows")
_FID = [
    ScoreSpec(
        name="fid",
        label="FID",
        direction="down",
        unit="",
        family="standard",
        needs="features",
        bootstrap="split",
        group="fid",
        summary="Fréchet distance between Gaussian fits of real and generated features",
        value_range=(0.0, math.inf),
        conditions=_COVARIANCE,
    ),
]


def _fid_inf_interval_need(ctx: Context) -> str:
    """Why FID-infinity gets no interval on ``ctx`` (fewer than FID_INF_INTERVAL_MIN_PER_DIM * d rows), or ``""``."""
    need = FID_INF_INTERVAL_MIN_PER_DIM * ctx.real.shape[1]
    n = min(ctx.real.shape[0], ctx.fake.shape[0])
    if n >= need:
        return ""
    return (
        f"FID-infinity's interval needs {need} rows per set ({FID_INF_INTERVAL_MIN_PER_DIM} d): its split "
        f"halves would fit sizes 4 d to n/2 only; got {n}"
    )


def _fid_inf_need(params, set_kind: str) -> tuple[int, str]:
    """Generated rows for 3 distinct sizes in the FID-infinity fit (its d-dependent floor is checked on the features)."""
    if set_kind != "fake":
        return 2, ""
    n = 2
    while len(fid_sizes(n, params)) < 3:
        n += 1
    return n, f"3 distinct sample sizes in the FID-infinity fit, fid_min_fraction={params.fid_min_fraction}"


declare_param(
    "fid_points", 15, check=partial(check_int, low=3), doc="number of sample sizes in the FID-infinity extrapolation"
)
declare_param(
    "fid_min_fraction",
    0.2,
    check=partial(check_float, low=0.0, high=1.0, low_open=True, high_open=True),
    doc="smallest sample size of the FID-infinity extrapolation, as a fraction of n",
)
_FID_INF = [
    ScoreSpec(
        name="fid_inf",
        label="FID∞",
        direction="down",
        unit="",
        family="standard",
        needs="features",
        bootstrap="split",
        group="fid_inf",
        summary="FID extrapolated to infinitely many samples (bias in 1/N removed)",
        size_need=lambda p, kind: _fid_inf_need(p, kind),
        params=("fid_points", "fid_min_fraction"),
        conditions=_COVARIANCE,
        interval_need=_fid_inf_interval_need,
    ),
]


def _moments(ctx: Context, which: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`mean_cov` of the context's ``which`` set, computed once per context (FID and FID-infinity share it).

    From sums about the root set's mean shared with the root's replicates
    (:meth:`~infobench.quality._core.Context.row_sums`): the second half of a
    split replicate costs a subtraction. Equal to :func:`mean_cov` to
    rounding (the shift keeps ``S2 - S1 S1^T / m`` free of cancellation).
    """
    key = ("mean_cov", which)
    if key not in ctx.cache:
        shift_key = ("moment_shift", which)
        if shift_key not in ctx.shared:
            ctx.shared[shift_key] = _numpy64(ctx.shared["root"][0 if which == "real" else 1]).mean(0)
        shift = ctx.shared[shift_key]

        def terms(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            ac = a - shift
            return ac.sum(0), ac.T @ ac

        s1, s2 = ctx.row_sums(which, "moments", terms)
        m = ctx.features(which).shape[0]
        ctx.cache[key] = (shift + s1 / m, (s2 - np.outer(s1, s1) / m) / (m - 1))
    return ctx.cache[key]


@register_group("fid", _FID)
def _group_fid(ctx: Context, names: tuple[str, ...]) -> dict[str, Outcome]:
    # the halves of split replicates may run the d x d algebra in float32 (infobench.quality._linalg)
    value = _frechet(*_moments(ctx, "real"), *_moments(ctx, "fake"), single=ctx.cache.get(SINGLE_PRECISION, False))
    return {"fid": Outcome(value, ctx.real.shape[0], ctx.fake.shape[0])}


@register_group("fid_inf", _FID_INF)
def _group_fid_inf(ctx: Context, names: tuple[str, ...]) -> dict[str, Outcome]:
    n_r, n_f = ctx.real.shape[0], ctx.fake.shape[0]
    p = ctx.params
    try:
        res = _fid_infinity(
            ctx.real,
            ctx.fake,
            p.fid_points,
            p.fid_min_fraction,
            ctx.rng("fid_inf"),
            (_moments(ctx, "real"), _moments(ctx, "fake")),
        )
    except ValueError as err:  # too few samples for the dimension: no value, and the table says why
        return {"fid_inf": Outcome(float("nan"), n_r, n_f, note=f"undefined: {err}")}
    note = f"poor 1/N fit (r2={res['r2']:.2f})" if res["r2"] < FID_INF_MIN_R2 else ""
    return {
        "fid_inf": Outcome(res["value"], n_r, n_f, extras={k: v for k, v in res.items() if k != "value"}, note=note)
    }


declare_param(
    "kid_subsets",
    100,
    check=partial(check_int, low=2),
    doc="number of random subsets KID is averaged over (Binkowski et al. 2018)",
)
declare_param(
    "kid_subset_size",
    1000,
    check=partial(check_int, low=2),
    doc="rows of each KID subset, capped at the smaller set's size",
)
_KID = [
    ScoreSpec(
        name="kid",
        label="KID",
        direction="down",
        unit="",
        family="standard",
        needs="features",
        bootstrap="split",
        group="kid",
        summary="unbiased squared MMD with a cubic polynomial kernel, mean over subsets",
        params=("kid_subsets", "kid_subset_size"),
        conditions=("copied-rows",),
    ),
]


@register_group("kid", _KID, prepare=_prepare_kid)
def _group_kid(ctx: Context, names: tuple[str, ...]) -> dict[str, Outcome]:
    p = ctx.params
    mean, std, m, vals, halves = _kid(ctx)
    se = kid_std_err(vals, halves, m, min(ctx.real.shape[0], ctx.fake.shape[0]))
    return {
        "kid": Outcome(
            mean,
            ctx.real.shape[0],
            ctx.fake.shape[0],
            extras={"subset_std": std, "subset_size": m, "subsets": p.kid_subsets},
            std_err=None if math.isnan(se) else se,
        )
    }


_PRDC = [
    ScoreSpec(
        name="precision",
        label="precision",
        direction="up",
        unit="fraction",
        family="standard",
        needs="features",
        bootstrap="subsample",
        group="prdc",
        summary="share of generated samples inside the real manifold (fidelity)",
        value_range=(0.0, 1.0),
        size_dependent=True,
        size_need=neighbor_need,
        params=("k",),
        conditions=NEIGHBOUR_CONDITIONS,
    ),
    ScoreSpec(
        name="recall",
        label="recall",
        direction="up",
        unit="fraction",
        family="standard",
        needs="features",
        bootstrap="subsample",
        group="prdc",
        summary="share of real samples inside the generated manifold (diversity)",
        value_range=(0.0, 1.0),
        size_dependent=True,
        size_need=neighbor_need,
        params=("k",),
        conditions=NEIGHBOUR_CONDITIONS,
    ),
    ScoreSpec(
        name="density",
        label="density",
        direction="up",
        unit="",
        family="standard",
        needs="features",
        bootstrap="subsample",
        group="prdc",
        summary="mean number of real neighbourhoods holding a generated sample, / k (1 when matched)",
        value_range=(0.0, math.inf),
        size_dependent=True,
        size_need=neighbor_need,
        params=("k",),
        conditions=NEIGHBOUR_CONDITIONS,
    ),
    ScoreSpec(
        name="coverage",
        label="coverage",
        direction="up",
        unit="fraction",
        family="standard",
        needs="features",
        bootstrap="subsample",
        group="prdc",
        summary="share of real neighbourhoods that hold a generated sample",
        value_range=(0.0, 1.0),
        size_dependent=True,
        size_need=neighbor_need,
        params=("k",),
        conditions=NEIGHBOUR_CONDITIONS,
    ),
]


@register_group("prdc", _PRDC)
def _group_prdc(ctx: Context, names: tuple[str, ...]) -> dict[str, Outcome]:
    vals = _prdc_values(ctx)
    n_r, n_f = ctx.real.shape[0], ctx.fake.shape[0]
    return {n: Outcome(vals[n], n_r, n_f, extras={"k": ctx.params.k}) for n in names}


_MEM = [
    ScoreSpec(
        name="memorization",
        label="memorized",
        direction="down",
        unit="fraction",
        family="standard",
        needs="train",
        bootstrap="generated",
        group="memorization",
        summary="share of generated samples inside a training sample's nearest-neighbour ball (copies)",
        value_range=(0.0, 1.0),
        size_need=neighbor_need,
        params=("k", "knn_k"),
        conditions=("neighbourhood-size", "collapsed-set", "duplicate-rows"),
    ),
]


@register_group("memorization", _MEM)
def _group_memorization(ctx: Context, names: tuple[str, ...]) -> dict[str, Outcome]:
    n_train = ctx.features("train").shape[0]
    return {"memorization": Outcome(_memorization_value(ctx), n_train, ctx.fake.shape[0])}
