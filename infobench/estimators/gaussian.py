"""Closed-form Gaussian baselines: plug-in entropy and canonical-correlation MI.

These estimators assume the data are (jointly) Gaussian. On Gaussian data
they are the most efficient estimators in the suite; on anything else they
estimate the entropy / MI of the Gaussian with the same covariance, which is
an upper bound on the entropy and, for MI, the information carried by linear
dependence only. They are baselines, not general-purpose estimators.

The covariance is the unbiased sample covariance (``ddof=1``). The shared
helper :func:`covariance_cholesky` (also used by :mod:`infobench.estimators.kde`)
factorises it after standardising the columns, which keeps the factorisation
well conditioned when columns have very different scales, and refuses
(numerically) singular covariances with a message naming the collinear column.

Units: the estimates are equivariant under invertible linear maps
(``H(XA) = H(X) + log|det A|``; MI invariant), so they need no ``transform``
parameter: the column standardisation is computed from columns divided by
their largest magnitude, which keeps values near the float limits (1e300,
1e-170) from overflowing or underflowing when squared. Like every
continuous estimator they refuse integer, boolean and categorical inputs
(:func:`infobench._validation.reject_discrete`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from scipy.special import digamma

from infobench._validation import (
    Samples,
    as_generator,
    check_bool,
    check_int,
    check_pair,
    check_samples,
    reject_discrete,
)
from infobench.estimators._conditions import Findings, extreme_values, grid_columns, requires
from infobench.estimators._uncertainty import bootstrap_std_err, check_std_err_rows
from infobench.estimators.base import Estimate, register

__all__ = [
    "gaussian_entropy",
    "gaussian_mutual_information",
    "gaussian_mi_estimate",
    "gaussian_mi_value",
    "mi_correction",
    "covariance_cholesky",
    "check_rows_exceed_dims",
]

_LOG_2PI_E = math.log(2.0 * math.pi) + 1.0


def check_rows_exceed_dims(s: Samples, *, what: str) -> None:
    """A sample covariance of ``d`` columns is singular unless ``n >= d + 1``."""
    if s.n < s.d + 1:
        raise ValueError(
            f"{s.name} needs more samples than dimensions for {what} (n >= d + 1 = {s.d + 1}); got n={s.n}, d={s.d}"
        )


def covariance_cholesky(data: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Factorise the unbiased sample covariance as ``diag(scale) @ L @ L.T @ diag(scale)``.

    Parameters
    ----------
    data : torch.Tensor
        Shape ``(n, d)``, floating.
    name : str
        Parameter name used in the error message.

    Returns
    -------
    mean : torch.Tensor
        Column means, shape ``(d,)``.
    scale : torch.Tensor
        Column standard deviations (``ddof=1``), shape ``(d,)``.
    chol : torch.Tensor
        Lower Cholesky factor of the sample correlation matrix, shape ``(d, d)``.

    Raises
    ------
    ValueError
        When the covariance is singular to working precision: some column is
        a linear combination of the others. ``chol[j, j]**2`` is the fraction
        of column ``j``'s variance not explained by the earlier columns.
    """
    n, d = data.shape
    mean = data.mean(dim=0)
    centred = data - mean
    # Norms of columns divided by their largest magnitude: squares of values near the float
    # maximum (or below the square root of the smallest normal) would overflow (underflow).
    top = centred.abs().amax(dim=0)
    if bool((top == 0).any()):
        j = int((top == 0).nonzero()[0, 0])
        raise ValueError(f"{name} column {j} is constant; its covariance is singular: drop it")
    scale = (centred / top).norm(dim=0) / math.sqrt(n - 1) * top
    if not bool(torch.isfinite(scale).all()):
        j = int((~torch.isfinite(scale)).nonzero()[0, 0])
        raise ValueError(
            f"{name} column {j} has a standard deviation beyond the {str(data.dtype).replace('torch.', '')} "
            "maximum; rescale it"
        )
    z = centred / scale
    corr = (z.T @ z) / (n - 1)
    chol, info = torch.linalg.cholesky_ex(corr)
    if int(info) != 0:
        bad_col = int(info) - 1
    else:
        # A pivot below this is rounding noise: the log-determinant would be noise too.
        tiny = 100.0 * d * torch.finfo(data.dtype).eps
        resid = torch.diagonal(chol) ** 2
        bad = ~torch.isfinite(resid) | (resid <= tiny)
        bad_col = int(bad.nonzero()[0, 0]) if bool(bad.any()) else -1
    if bad_col >= 0:
        precision = str(data.dtype).replace("torch.", "")
        raise ValueError(
            f"{name} has a singular sample covariance (column {bad_col} is a linear combination of the "
            f"other columns to {precision} precision); drop collinear columns or use more samples"
        )
    return mean, scale, chol


def _logdet_cov(data: torch.Tensor, name: str) -> float:
    """log det of the unbiased sample covariance, from the standardised Cholesky factor."""
    _, scale, chol = covariance_cholesky(data, name)
    return float(2.0 * (torch.log(scale).sum() + torch.log(torch.diagonal(chol)).sum()))


def _psi_sum(n: int, first: int, last: int) -> float:
    """``sum_{i=first}^{last} digamma((n - i) / 2)`` (zero when ``last < first``)."""
    return float(sum(digamma((n - i) / 2.0) for i in range(first, last + 1)))


def _entropy_correction(n: int, d: int) -> float:
    """Make ``1/2 log det`` of the ddof=1 covariance unbiased for ``1/2 log det Sigma``.

    With ``A = (n - 1) S ~ Wishart_d(n - 1, Sigma)``,
    ``E log det A = log det Sigma + d log 2 + sum_{i=1}^d psi((n - i) / 2)``.
    """
    return 0.5 * (d * math.log((n - 1) / 2.0) - _psi_sum(n, 1, d))


def _gaussian_entropy_value(data: torch.Tensor, name: str, bias_correction: bool) -> tuple[float, float]:
    """The estimate and ``log det`` of the sample covariance."""
    n, d = data.shape
    logdet = _logdet_cov(data, name)
    value = 0.5 * (d * _LOG_2PI_E + logdet)
    if bias_correction:
        value += _entropy_correction(n, d)
    return value, logdet


@register("entropy", "gaussian")
@requires("categories", "precision", "extreme-values", "collinear")
def gaussian_entropy(
    x: Any,
    *,
    bias_correction: bool = False,
    std_err: bool = False,
    seed: Any = None,
    n_boot: int = 100,
    device: Any = "auto",
    dtype: Any = None,
) -> Estimate:
    r"""Gaussian plug-in entropy 1/2 log det(2 pi e S), S the sample covariance, in nats.

    Parameters
    ----------
    x : array-like, torch.Tensor or pandas object, shape (n, d)
        Samples in rows; needs ``n >= d + 1`` and a non-singular covariance.
    bias_correction : bool
        False (default): the plug-in value with the unbiased (``ddof=1``)
        sample covariance :math:`\hat\Sigma`. True: add the exact correction
        that makes the estimate unbiased for Gaussian data (the UMVUE of
        Ahmed & Gokhale 1989; Misra, Singh & Demchuk 2005):
        :math:`\tfrac12[d\log\tfrac{n-1}{2} - \sum_{i=1}^{d}\psi(\tfrac{n-i}{2})]`.
    std_err : bool
        Return a bootstrap standard error (``n_boot`` row resamples, seeded by
        ``seed``). The bootstrap is used rather than the Gaussian-theory
        variance :math:`\tfrac14\sum_i\psi'(\tfrac{n-i}{2})` because this
        baseline is mostly run on non-Gaussian data, where that formula is
        wrong and the bootstrap is not. A bootstrap (not
        :func:`~infobench.estimators._uncertainty.subsample_std_err`) because
        the statistic is a smooth function of moments, for which repeated
        rows are harmless, and it is calibrated (``benchmarks/bench_calibration.py``).
        Cost: ``n_boot`` estimates at size n. Needs ``n >= 2 (d + 1)``.
    seed : int, numpy.random.Generator, torch.Generator or None
        Seed for the bootstrap.
    n_boot : int
        Number of bootstrap replicates (>= 2).
    device, dtype
        Where and in what precision to compute (``"auto"``: CUDA if present;
        float64 on the CPU, float32 on a GPU).

    Returns
    -------
    Estimate
        ``value`` in nats; ``extras["logdet_cov"]`` is :math:`\log\det\hat\Sigma`.

    Notes
    -----
    For :math:`X\sim N(\mu,\Sigma)`, :math:`H(X) = \tfrac12\log\det(2\pi e\Sigma)`
    (Cover & Thomas 2006, Theorem 8.4.1). The plug-in value is biased low by
    about :math:`d(d+1)/(4n)` nats.

    References
    ----------
    N. A. Ahmed and D. V. Gokhale, "Entropy expressions and their estimators
    for multivariate distributions", IEEE Trans. Inf. Theory 35(3), 1989.
    N. Misra, H. Singh and E. Demchuk, "Estimation of the entropy of a
    multivariate normal distribution", J. Multivariate Anal. 92, 2005.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(5000, 2))
    >>> round(gaussian_entropy(x).value, 1)   # truth: log(2 pi e) = 2.838
    2.8
    """
    s = check_samples(x, "x", device=device, dtype=dtype)
    reject_discrete(s, "Gaussian")
    check_rows_exceed_dims(s, what="a non-singular covariance")
    findings = Findings()
    grid_columns(s, findings, quantity="entropy", method="Gaussian", notes=False)
    extreme_values(s, findings, method="Gaussian", what="the covariance")
    bias_correction = check_bool("bias_correction", bias_correction)
    std_err = check_bool("std_err", std_err)
    n_boot = check_int("n_boot", n_boot, low=2)
    rng = None if seed is None else as_generator(seed)
    if std_err:
        check_std_err_rows(s.n, s.d + 1)
    value, logdet = _gaussian_entropy_value(s.data, "x", bias_correction)
    se = None
    if std_err:
        se = bootstrap_std_err(
            lambda a: _gaussian_entropy_value(a, "std_err: a bootstrap resample of x", bias_correction)[0],
            [s.data],
            n_boot=n_boot,
            seed=rng,
        )
    # The replicates' sd has n_boot - 1 degrees of freedom: the t quantile of Estimate.interval.
    return Estimate(
        value=value,
        std_err=se,
        n=s.n,
        extras={"logdet_cov": logdet, "d": s.d},
        diagnostics=tuple(findings),
        std_err_df=n_boot - 1 if std_err else None,
    )


def canonical_correlation_analysis(
    xd: torch.Tensor, yd: torch.Tensor, names: tuple[str, str] = ("x", "y")
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """Canonical correlation analysis (Hotelling 1936) through the correlation blocks.

    The canonical correlations are the singular values of
    ``Lx^{-1} R_xy Ly^{-T}`` (``L`` the Cholesky factors of each side's
    correlation matrix). Returns ``rho`` (decreasing) and, for each side,
    ``(mean, scale, L, U)`` such that the canonical variates of ``v`` are
    ``((v - mean) / scale) @ L^{-T} @ U``.
    """
    n = xd.shape[0]
    mx, sx, lx = covariance_cholesky(xd, names[0])
    my, sy, ly = covariance_cholesky(yd, names[1])
    rxy = ((xd - mx) / sx).T @ ((yd - my) / sy) / (n - 1)
    k = torch.linalg.solve_triangular(lx, rxy, upper=False)
    k = torch.linalg.solve_triangular(ly, k.T, upper=False).T
    u, rho, vt = torch.linalg.svd(k, full_matrices=False)
    return rho, (mx, sx, lx, u), (my, sy, ly, vt.T)


def _canonical_correlations(xd: torch.Tensor, yd: torch.Tensor, names: tuple[str, str]) -> torch.Tensor:
    """Canonical correlations only (:func:`canonical_correlation_analysis`)."""
    return canonical_correlation_analysis(xd, yd, names)[0]


def _mi_from_rho(rho: torch.Tensor, dtype: torch.dtype, names: tuple[str, str]) -> float:
    r2 = rho.to(torch.float64) ** 2
    tiny = 100.0 * rho.numel() * torch.finfo(dtype).eps
    if bool((r2 >= 1.0 - tiny).any()):
        raise ValueError(
            f"{names[0]} and {names[1]} are perfectly linearly dependent to working precision "
            f"(a canonical correlation is {float(rho.max()):.12g}); the Gaussian MI is +inf"
        )
    return float(-0.5 * torch.log1p(-r2).sum())


def gaussian_mi_value(xd: torch.Tensor, yd: torch.Tensor, names: tuple[str, str]) -> tuple[float, torch.Tensor]:
    """Plug-in Gaussian MI ``-1/2 sum log(1 - rho_i^2)`` and the canonical correlations ``rho``."""
    rho = _canonical_correlations(xd, yd, names)
    return _mi_from_rho(rho, xd.dtype, names), rho


def mi_correction(n: int, dx: int, dy: int) -> float:
    """Sum of the three entropy corrections: H(X) + H(Y) - H(X, Y) (the log terms cancel)."""
    return 0.5 * (_psi_sum(n, dx + 1, dx + dy) - _psi_sum(n, 1, dy))


@register("mi", "gaussian")
@requires("precision", "extreme-values", "collinear")
def gaussian_mutual_information(
    x: Any,
    y: Any,
    *,
    bias_correction: bool = False,
    std_err: bool = False,
    seed: Any = None,
    n_boot: int = 100,
    device: Any = "auto",
    dtype: Any = None,
) -> Estimate:
    r"""Gaussian MI from canonical correlations, -1/2 sum_i log(1 - rho_i^2), in nats.

    Parameters
    ----------
    x, y : array-like, torch.Tensor or pandas objects, shapes (n, dx), (n, dy)
        Paired samples; each needs a non-singular covariance (``n >= d + 1``).
    bias_correction : bool
        False (default): plug-in. True: add
        :math:`\tfrac12[\sum_{i=d_x+1}^{d_x+d_y}\psi(\tfrac{n-i}{2}) - \sum_{i=1}^{d_y}\psi(\tfrac{n-i}{2})]`,
        the sum of the exact (UMVUE) entropy corrections of
        :func:`gaussian_entropy` over :math:`H(X)+H(Y)-H(X,Y)`, which makes
        the estimate unbiased for Gaussian data.
    std_err : bool
        Bootstrap standard error over rows resampled jointly (``n_boot``
        replicates seeded by ``seed``); see :func:`gaussian_entropy` for why
        a bootstrap and not the Gaussian-theory variance.
    seed, n_boot, device, dtype
        As in :func:`gaussian_entropy`.

    Returns
    -------
    Estimate
        ``value`` in nats; ``extras["canonical_correlations"]`` lists the
        :math:`\rho_i` in decreasing order.

    Notes
    -----
    For jointly Gaussian :math:`(X, Y)`,
    :math:`I(X;Y) = \tfrac12\log\frac{\det\Sigma_{XX}\det\Sigma_{YY}}{\det\Sigma}
    = -\tfrac12\sum_{i=1}^{\min(d_x,d_y)}\log(1-\rho_i^2)` where :math:`\rho_i`
    are the canonical correlations (Gelfand & Yaglom 1959).
    The plug-in value is biased upward by about
    :math:`d_x d_y/(2n)` nats.

    References
    ----------
    I. M. Gelfand and A. M. Yaglom, "Calculation of the amount of information
    about a random function contained in another such function", Amer. Math.
    Soc. Transl. 12, 1959.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=20000)
    >>> y = 0.75 * x + np.sqrt(1 - 0.75**2) * rng.normal(size=20000)
    >>> round(gaussian_mutual_information(x, y).value, 2)   # truth 0.413
    0.41
    """
    return gaussian_mi_estimate(
        x,
        y,
        bias_correction=bias_correction,
        std_err=std_err,
        seed=seed,
        n_boot=n_boot,
        device=device,
        dtype=dtype,
        method="Gaussian",
    )


def _identity(data: torch.Tensor, s: Samples) -> torch.Tensor:
    return data


def gaussian_mi_estimate(
    x: Any,
    y: Any,
    *,
    bias_correction: Any,
    std_err: Any,
    seed: Any,
    n_boot: Any,
    device: Any,
    dtype: Any,
    method: str,
    prepare: Callable[[torch.Tensor, Samples], torch.Tensor] = _identity,
) -> Estimate:
    """Checks, value, correction and bootstrap standard error of a Gaussian MI of ``prepare``-d columns.

    Shared by the ``"gaussian"`` method (``prepare`` the identity) and the
    ``"gcmi"`` method (``prepare`` the rank-Gaussian map, recomputed inside
    every bootstrap resample). ``extras`` holds the canonical correlations
    and ``bias_correction``, the nats added.
    """
    sx, sy = check_pair(x, y, device=device, dtype=dtype)
    reject_discrete(sx, method)
    reject_discrete(sy, method)
    check_rows_exceed_dims(sx, what="a non-singular covariance")
    check_rows_exceed_dims(sy, what="a non-singular covariance")
    findings = Findings()
    for side in (sx, sy):
        grid_columns(side, findings, quantity="mi", method=method, notes=False)
        if prepare is _identity:  # ranks (gcmi) are immune to extreme values
            extreme_values(side, findings, method=method, what="the covariance")
    bias_correction = check_bool("bias_correction", bias_correction)
    std_err = check_bool("std_err", std_err)
    n_boot = check_int("n_boot", n_boot, low=2)
    if std_err:
        check_std_err_rows(sx.n, max(sx.d, sy.d) + 1)
    rng = None if seed is None else as_generator(seed)
    value, rho = gaussian_mi_value(prepare(sx.data, sx), prepare(sy.data, sy), ("x", "y"))
    correction = mi_correction(sx.n, sx.d, sy.d) if bias_correction else 0.0
    value += correction
    se = None
    if std_err:
        boot_names = ("std_err: a bootstrap resample of x", "y")

        def stat(a: torch.Tensor, b: torch.Tensor) -> float:
            return gaussian_mi_value(prepare(a, sx), prepare(b, sy), boot_names)[0] + correction

        se = bootstrap_std_err(stat, [sx.data, sy.data], n_boot=n_boot, seed=rng)
    return Estimate(
        value=value,
        std_err=se,
        n=sx.n,
        extras={
            "canonical_correlations": [float(r) for r in rho.cpu()],
            "bias_correction": correction,
            "dx": sx.d,
            "dy": sy.d,
        },
        diagnostics=tuple(findings),
        std_err_df=n_boot - 1 if std_err else None,  # of the replicates' sd: the t quantile of Estimate.interval
    )
