"""Gaussian kernel density estimates of entropy and MI by leave-one-out resubstitution.

The kernel is Gaussian with a full bandwidth matrix ``H = h^2 S``, where
``S`` is the unbiased sample covariance and ``h`` a scalar factor (the
convention of :class:`scipy.stats.gaussian_kde`):

* ``"scott"``: ``h = n^(-1/(d+4))`` (Scott 1992, ch. 6);
* ``"silverman"``: ``h = (n (d + 2) / 4)^(-1/(d+4))`` (Silverman 1986, ch. 4);
* a positive float: ``h`` itself;
* ``"cv"``: the ``h`` of a grid that maximises the leave-one-out
  log-likelihood (likelihood cross-validation, Habbema et al. 1974; Duin 1976).

Because ``H`` follows the covariance, every estimate is exactly equivariant
under invertible linear maps: ``H(XA) = H(X) + log|det A|``.

The ``n x n`` kernel evaluations are done in row tiles with a log-sum-exp,
so memory is bounded by the tile (``max_memory`` bytes; by default
:data:`CPU_TILE_BYTES` on the CPU, :data:`TILE_BYTES` on an accelerator),
not by ``n^2``. ``tile_size`` (rows) is a deprecated alias.

Units: ``transform="scale"`` (default) divides each column by its robust
scale first and adds ``sum(log scale)`` back to an entropy (see
:mod:`infobench.estimators._transforms`); with the affine equivariance this
changes values only by rounding, and keeps data near the float limits
(1e300, 1e-300) representable. ``transform="copula"`` (MI only) estimates on
normal scores of the ranks.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import torch

from infobench._validation import (
    Samples,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_pair,
    check_samples,
    reject_discrete,
)
from infobench.estimators._conditions import Findings, extreme_values, grid_columns, requires
from infobench.estimators._transforms import Transformed, check_transform, transform_columns
from infobench.estimators._uncertainty import check_std_err_rows, mean_std_err
from infobench.estimators.base import Estimate, register
from infobench.estimators.gaussian import check_rows_exceed_dims, covariance_cholesky

__all__ = [
    "kde_entropy",
    "kde_mutual_information",
    "loo_log_density",
    "bandwidth_factor",
    "TILE_BYTES",
    "CPU_TILE_BYTES",
]

BANDWIDTH_RULES = ("scott", "silverman", "cv")
#: Memory budget of the tile buffers of kernel evaluations on an accelerator (bytes).
TILE_BYTES = 256 * 2**20
#: The same on the CPU, where tiles that stay in cache are faster than big ones.
CPU_TILE_BYTES = 4 * 2**20
# Default likelihood-CV grid, as multiples of Scott's factor.
_CV_MULTIPLES = np.geomspace(0.1, 2.0, 16)
#: Nearest neighbours this many kernel sds away per dimension (root mean square over rows): a doubt ...
REACH_WARN = 1.5
#: ... this many: refused (:func:`_check_reach` gives the measurements).
REACH_MAX = 3.0


def bandwidth_factor(rule: str, n: int, d: int) -> float:
    """Scalar factor ``h`` of a named rule for ``n`` samples in ``d`` dimensions."""
    if rule == "scott":
        return float(n ** (-1.0 / (d + 4)))
    if rule == "silverman":
        return float((n * (d + 2) / 4.0) ** (-1.0 / (d + 4)))
    raise ValueError(f"bandwidth rule must be one of ['scott', 'silverman']; got {rule!r}")


def _check_bandwidth(bandwidth: Any) -> str | float:
    if isinstance(bandwidth, str):
        return cast(str, check_choice("bandwidth", bandwidth, BANDWIDTH_RULES))
    if isinstance(bandwidth, (bool, np.bool_)) or not isinstance(bandwidth, numbers.Real):
        raise TypeError(
            f"bandwidth must be one of {list(BANDWIDTH_RULES)} or a positive float; "
            f"got {type(bandwidth).__name__} {bandwidth!r}"
        )
    return check_float("bandwidth", bandwidth, low=0.0, low_open=True)


def _check_cv_grid(cv_grid: Any, bandwidth: str | float) -> list[float] | None:
    if cv_grid is None:
        return None
    if bandwidth != "cv":
        raise ValueError(f"cv_grid is only used with bandwidth='cv'; got bandwidth={bandwidth!r}")
    if isinstance(cv_grid, (str, bytes)) or not isinstance(cv_grid, (Sequence, np.ndarray)):
        raise TypeError(f"cv_grid must be a sequence of positive floats; got {type(cv_grid).__name__} {cv_grid!r}")
    grid = [check_float(f"cv_grid[{i}]", g, low=0.0, low_open=True) for i, g in enumerate(cv_grid)]
    if not grid:
        raise ValueError("cv_grid must contain at least one factor; got an empty sequence")
    return sorted(set(grid))


def _tile_rows(
    n: int, dtype: torch.dtype, device: torch.device, max_memory: int | None, tile_size: int | None, n_buffers: int
) -> int:
    """Rows per tile: ``n_buffers`` buffers of ``rows x n`` values within ``max_memory`` bytes."""
    if tile_size is not None:
        return min(tile_size, n)
    budget = max_memory if max_memory is not None else TILE_BYTES if device.type != "cpu" else CPU_TILE_BYTES
    itemsize = torch.finfo(dtype).bits // 8
    return int(max(1, min(n, budget // (n_buffers * itemsize * n))))


def _whiten(data: torch.Tensor, name: str) -> tuple[torch.Tensor, float]:
    """Map rows to ``S^{-1/2}(x - mean)`` and return ``log det S^{1/2}``.

    With ``S = D L L^T D`` (scale ``D``, correlation factor ``L``),
    ``z = L^{-1} D^{-1} (x - mean)`` has identity sample covariance, so
    ``(x_i - x_j)^T H^{-1} (x_i - x_j) = |z_i - z_j|^2 / h^2``.
    """
    mean, scale, chol = covariance_cholesky(data, name)
    z = torch.linalg.solve_triangular(chol, ((data - mean) / scale).T, upper=False).T
    half_logdet = float(torch.log(scale).sum() + torch.log(torch.diagonal(chol)).sum())
    return z.contiguous(), half_logdet


def loo_log_density(
    z: torch.Tensor,
    factors: Sequence[float],
    half_logdet: float,
    *,
    tile_rows: int,
    nearest: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Leave-one-out Gaussian KDE log-densities at the sample points, for several factors.

    Computes, for every factor ``h`` and row ``i``,

    .. math:: \log\hat f_{-i}(x_i) = \log\frac{1}{n-1}\sum_{j\ne i}
       \frac{\exp(-|z_i - z_j|^2 / (2h^2))}{(2\pi)^{d/2} h^d \det S^{1/2}}

    from whitened rows ``z`` (see :func:`_whiten`), ``tile_rows`` rows at a
    time. A tile holds ``g_ij = -|z_i - z_j|^2 / 2`` (shared by all factors;
    with a single factor ``z / h`` is used, so ``g`` is already scaled) and,
    with several factors, one work buffer of the same size. The expanded
    square ``|z_i|^2 + |z_j|^2 - 2 z_i.z_j`` carries an absolute rounding
    error of about ``eps |z|^2`` (negligible in float64; ~1e-4 relative in a
    kernel value in float32 at typical bandwidths). The
    log-sum-exp is shifted by each row's largest ``g_ij / h^2`` so that no
    term overflows and the nearest neighbour never underflows.

    Parameters
    ----------
    z : torch.Tensor, shape (n, d)
        Whitened samples.
    factors : sequence of float
        Bandwidth factors ``h``.
    half_logdet : float
        ``log det S^{1/2}`` of the covariance the rows were whitened with.
    tile_rows : int
        Rows per tile.
    nearest : torch.Tensor, optional
        Shape ``(n,)``: filled with each row's smallest squared whitened
        distance ``min_j |z_i - z_j|^2``, read off the tiles at no cost.

    Returns
    -------
    torch.Tensor
        float64, shape ``(len(factors), n)``, on ``z``'s device.
    """
    n, d = z.shape
    single = len(factors) == 1
    # One factor: fold 1/h into z, which saves a pass over every tile.
    zs = z / factors[0] if single else z
    scales = [1.0] if single else [1.0 / (h * h) for h in factors]
    neg_half_sq = -0.5 * (zs * zs).sum(dim=1)
    out = torch.empty(len(factors), n, dtype=torch.float64, device=z.device)
    # Buffers allocated once: a fresh allocation per tile costs page faults on the CPU.
    g_buf = torch.empty(min(tile_rows, n), n, dtype=z.dtype, device=z.device)
    work_buf = None if single else torch.empty_like(g_buf)
    for a in range(0, n, tile_rows):
        b = min(n, a + tile_rows)
        g = torch.addmm(neg_half_sq[None, :], zs[a:b], zs.T, out=g_buf[: b - a])
        g.add_(neg_half_sq[a:b, None])
        rows = torch.arange(b - a, device=z.device)
        g[rows, rows + a] = -math.inf  # leave row i out of its own density
        gmax = g.amax(dim=1)
        if nearest is not None:
            nearest[a:b] = gmax * (-2.0 * factors[0] ** 2 if single else -2.0)
        g.sub_(gmax[:, None])
        if single:
            out[0, a:b] = g.exp_().sum(dim=1).log_() + gmax
            continue
        work = cast(torch.Tensor, work_buf)[: b - a]
        for f, c in enumerate(scales):
            out[f, a:b] = torch.mul(g, c, out=work).exp_().sum(dim=1).log_() + gmax * c
    consts = torch.tensor(
        [math.log(n - 1) + 0.5 * d * math.log(2.0 * math.pi) + d * math.log(h) + half_logdet for h in factors],
        dtype=torch.float64,
        device=z.device,
    )
    return out - consts[:, None]


def _common_checks(
    bandwidth: Any, cv_grid: Any, std_err: Any, max_memory: Any, tile_size: Any
) -> tuple[str | float, list[float] | None, bool, int | None, int | None]:
    bandwidth = _check_bandwidth(bandwidth)
    grid = _check_cv_grid(cv_grid, bandwidth)
    std_err = check_bool("std_err", std_err)
    if max_memory is not None:
        max_memory = check_int("max_memory", max_memory, low=1)
    if tile_size is not None:
        warnings.warn(
            "kde: tile_size (rows) is deprecated and will be removed; use max_memory (bytes), the memory "
            "knob of every estimator",
            DeprecationWarning,
            stacklevel=3,
        )
        if max_memory is not None:
            raise ValueError(f"pass max_memory or the deprecated tile_size, not both; got tile_size={tile_size!r}")
        tile_size = check_int("tile_size", tile_size, low=1)
    return bandwidth, grid, std_err, max_memory, tile_size


def _prepare(s: Samples, transform: str) -> tuple[Transformed, torch.Tensor, float]:
    """Transformed columns of ``s``, whitened, and the whitening's ``log det S^{1/2}``."""
    tr = transform_columns(s.data, transform, name=s.name, columns=s.columns)
    z, half_logdet = _whiten(tr.data, s.name)
    return tr, z, half_logdet


def _loo(
    z: torch.Tensor, h: float, half_logdet: float, rows: int, findings: Findings | None = None, name: str = ""
) -> torch.Tensor:
    """:func:`loo_log_density` at one factor, refusing a bandwidth whose kernel values are not representable.

    With ``findings``, also the ``bandwidth`` condition (:func:`_check_reach`) on ``name``'s sample.
    """
    _check_factor(h, z)
    nearest = None if findings is None else torch.empty(z.shape[0], dtype=z.dtype, device=z.device)
    logf = loo_log_density(z, [h], half_logdet, tile_rows=rows, nearest=nearest)
    if not bool(torch.isfinite(logf).all()):
        _refuse_factor(h, z.dtype)
    if findings is not None:
        _check_reach(cast(torch.Tensor, nearest), h, z.shape[1], name, findings)
    return logf


def _check_reach(nearest: torch.Tensor, h: float, d: int, name: str, findings: Findings) -> None:
    """``bandwidth``: a kernel must reach the neighbouring points.

    ``t`` is the root-mean-square over rows of the nearest neighbour's
    whitened distance per dimension, ``sqrt(mean r^2 / d) / h``, in kernel
    standard deviations: ``d t^2 / 2`` nats is the mean suppression of the
    nearest kernel, which enters the entropy terms when the kernel is too
    narrow to reach further (bandwidth=1e-8 gave an MI of -2.9e13). The rules
    stay below about 1.4 (two random points are ``sqrt(2)`` apart per
    dimension, which bounds it as ``d`` grows): at most 1.37 over Gaussian,
    uniform and Laplace data, 1 to 100 dimensions, n = 100 to 5,000. Above
    :data:`REACH_WARN` the estimate is a doubt (a few far rows, such as one
    extreme value or a Cauchy tail, can be the cause); above
    :data:`REACH_MAX` *in the bulk* (the 99 % of rows with the nearest
    neighbours) it is refused. Measured on a 2-d Gaussian at n = 3,000: a
    factor of 0.03 gives ``t = 1.6`` and an entropy of 4.5 (truth 2.84);
    0.01 gives 3.7 in the bulk and 22.3.
    """
    r2 = torch.sort(nearest.clamp_min(0)).values
    t = float(torch.sqrt(r2.mean() / d)) / h
    if t <= REACH_WARN:
        return
    bulk = float(torch.sqrt(r2[: max(1, int(0.99 * r2.numel()))].mean() / d)) / h
    if bulk > REACH_MAX:
        raise ValueError(
            f"the kernel (bandwidth factor h={h:.3g}) is {bulk:.3g} times narrower than the typical distance "
            f"between neighbouring points of {name} per dimension, so the leave-one-out densities rest on the "
            f"tail of a single neighbour's kernel, exp(-d t^2 / 2), and the estimate measures the bandwidth "
            f"rather than the data; use a rule ('scott', 'silverman', 'cv') or a larger bandwidth"
        )
    findings.warn(
        "bandwidth",
        (
            f"the nearest neighbours of {name} lie {t:.3g} kernel standard deviations away per dimension (root mean "
            f"square over rows; {bulk:.3g} without the 1 % farthest rows), so some leave-one-out densities rest on "
            f"the tail of one kernel and inflate the estimate: a bandwidth factor (h={h:.3g}) too small for the "
            f"data, or far rows (extreme values, heavy tails) whose own terms dominate"
        ),
        subject="bandwidth",
    )


def _check_grid(s: Samples, columns: list[int], h: float, quantity: str, findings: Findings) -> None:
    """``bandwidth``: on values on a grid, a kernel narrower than the grid step puts spikes at the grid values.

    The kernel's standard deviation along column ``j`` is ``h sd_j`` (``H =
    h^2 S``). Below the step, an entropy reads the cells' discrete entropy
    plus the log of the kernel's width instead of the step's (refused below
    a quarter step); an MI is that of the rounded values (a doubt).
    """
    prof = s.profile()
    for j in columns:
        p = prof[j]
        if not p.step > 0:
            continue
        width = h * p.sd
        if width >= p.step:
            continue
        message = (
            f"{p.label} lies on a grid of step {p.step:g} and the kernel's standard deviation along it, "
            f"h * sd = {width:.3g}, is narrower than the step: the density estimate has a spike at every "
            f"grid value, so the estimate describes the rounding, not the quantity rounded; use a larger "
            f"bandwidth (at least {p.step / p.sd:.3g}), or method='knn' / 'ksg', which dither such values"
        )
        if quantity == "entropy" and width < p.step / 4:
            raise ValueError(message)
        findings.warn("bandwidth", message, subject=p.label)


def _check_factor(h: float, z: torch.Tensor) -> None:
    """Refuse a factor whose ``1/h^2`` or largest ``|z_i - z_j|^2 / h^2`` is not representable."""
    top = 2.0 * float(z.abs().max())
    try:
        ok = h * h > 0 and math.isfinite((top / h) ** 2) and (top / h) ** 2 < torch.finfo(z.dtype).max
    except OverflowError:
        ok = False
    if not ok:
        _refuse_factor(h, z.dtype)


def _refuse_factor(h: float, dtype: torch.dtype) -> None:
    raise ValueError(
        f"bandwidth factor {h:.3g} is too small for {str(dtype).replace('torch.', '')}: the squared "
        f"distances divided by h^2 overflow, so the kernel values are not representable; use a larger "
        f"bandwidth or a rule ('scott', 'silverman', 'cv')"
    )


def _choose_factor(
    bandwidth: str | float,
    grid: list[float] | None,
    z: torch.Tensor,
    half_logdet: float,
    tile_rows: int,
    log_jacobian: float = 0.0,
    findings: Findings | None = None,
    name: str = "",
) -> tuple[float, torch.Tensor | None, dict[str, Any]]:
    """The factor ``h`` (and, for "cv", the LOO log-densities already computed at it).

    ``log_jacobian`` of the transform is subtracted from the reported mean
    log-likelihoods, so that they are those of the data in its own units.
    With ``findings``, the chosen "cv" factor is checked as :func:`_loo` checks one.
    """
    n, d = z.shape
    if not isinstance(bandwidth, str):
        return float(bandwidth), None, {}
    if bandwidth != "cv":
        return bandwidth_factor(bandwidth, n, d), None, {}
    factors = grid if grid is not None else [float(m) * bandwidth_factor("scott", n, d) for m in _CV_MULTIPLES]
    for h in factors:
        _check_factor(h, z)
    nearest = None if findings is None else torch.empty(n, dtype=z.dtype, device=z.device)
    logf = loo_log_density(z, factors, half_logdet, tile_rows=tile_rows, nearest=nearest)
    scores = logf.mean(dim=1)
    best = int(torch.argmax(scores))
    if findings is not None:
        _check_reach(cast(torch.Tensor, nearest), factors[best], d, name, findings)
    at_edge = len(factors) > 1 and best in (0, len(factors) - 1)
    if at_edge:
        warnings.warn(
            f"bandwidth='cv': the best factor {factors[best]:.4g} is at the edge of the grid "
            f"[{factors[0]:.4g}, {factors[-1]:.4g}]; pass a wider cv_grid",
            UserWarning,
            stacklevel=3,
        )
    info = {"cv_grid": list(factors), "cv_loglik": (scores - log_jacobian).tolist(), "cv_at_edge": at_edge}
    return factors[best], logf[best], info


def _bandwidth_matrix(tr: Transformed, h: float) -> list[list[float]]:
    """``H = h^2 S`` in the data's units (``S`` of the transformed columns, scaled back)."""
    data = tr.data
    cov = torch.cov(data.T.to(torch.float64)).reshape(data.shape[1], data.shape[1])
    if tr.scales is not None:
        s = torch.tensor(tr.scales, dtype=torch.float64, device=cov.device)
        cov = cov * s[:, None] * s[None, :]
    return (h * h * cov).cpu().tolist()


@register("entropy", "kde")
@requires("categories", "precision", "extreme-values", "bandwidth", "collinear")
def kde_entropy(
    x: Any,
    *,
    bandwidth: Any = "scott",
    cv_grid: Any = None,
    std_err: bool = False,
    max_memory: int | None = None,
    device: Any = "auto",
    dtype: Any = None,
    transform: str = "scale",
    tile_size: int | None = None,
) -> Estimate:
    r"""Leave-one-out resubstitution entropy of a Gaussian KDE, in nats.

    Parameters
    ----------
    x : array-like, torch.Tensor or pandas object, shape (n, d)
        Samples in rows; needs ``n >= d + 1`` and a non-singular covariance.
    bandwidth : {"scott", "silverman", "cv"} or float
        Factor ``h`` of the bandwidth matrix ``H = h^2 S`` (module notes).
    cv_grid : sequence of float or None
        Factors tried by ``bandwidth="cv"``; None: 16 factors spaced
        geometrically from 0.1 to 2 times Scott's. A best factor at the
        grid's edge warns (``UserWarning``) and sets ``extras["cv_at_edge"]``.
    std_err : bool
        Return ``std(-log f_{-i}(x_i)) / sqrt(n)``, the standard error of the
        mean of the per-point terms (cost O(n) on top of the estimate). The
        terms are weakly dependent (each density uses the other points), but
        unlike the kNN terms this is calibrated on Gaussian data: 1.005 of
        the seed-to-seed spread (1-d, n = 2,000, 50 seeds;
        ``benchmarks/bench_calibration.py``). It is too small for heavy
        tails (0.5 for Student-t, nu = 3, n = 1,000), where the bandwidth
        follows a covariance of infinite variance; subsampling
        (:func:`~infobench.estimators._uncertainty.subsample_std_err`) was
        measured and did worse there (0.34: the estimate is not root-n), so
        the terms' spread is kept. Needs ``n >= 2 (d + 1)``.
    max_memory : int or None
        Bytes for the tile buffers of the ``n x n`` kernel matrix (the same
        knob as the kNN estimators'); None: :data:`CPU_TILE_BYTES` (4 MiB) on
        the CPU or :data:`TILE_BYTES` (256 MiB) on an accelerator. Results do
        not depend on it.
    device, dtype
        Where and in what precision to compute (``"auto"``: CUDA if present;
        float64 on the CPU, float32 on a GPU). CUDA tensors stay on their
        device.
    transform : {"scale", "none"}
        ``"scale"`` (default): divide each column by its robust scale
        :math:`s_j` (IQR/1.349) and add :math:`\sum_j\log s_j` (the exact
        log-Jacobian), so the value is the entropy of ``x`` in its own units.
        ``"none"``: the given units (same value up to rounding, since the
        estimate is affine-equivariant, but 1e300-sized data overflow).
        ``"copula"`` is refused: a rank map has no exact Jacobian.
    tile_size : int or None
        Deprecated (warns): rows per tile; use ``max_memory``. The unused
        ``seed`` parameter was removed (the estimate is deterministic).

    Returns
    -------
    Estimate
        ``value`` in nats. ``extras``: ``factor`` (``h``), ``bandwidth_matrix``
        (``H`` as nested lists), ``tile_rows`` and, for ``"cv"``, the grid and
        its mean LOO log-likelihoods.

    Notes
    -----
    The resubstitution estimate :math:`\hat H = -\frac1n\sum_i \log\hat f_{-i}(x_i)`
    with the leave-one-out density
    :math:`\hat f_{-i}(x) = \frac{1}{n-1}\sum_{j\ne i} K_H(x - x_j)`
    (the resubstitution estimate of Beirlant et al. 1997, section 3;
    Joe 1989; Ahmad & Lin 1976). Leaving
    :math:`x_i` out removes the :math:`K_H(0)/n` self term that would bias
    the estimate low. With ``bandwidth="cv"`` the estimate is the smallest of
    the grid's resubstitution entropies, since the mean LOO log-likelihood
    that likelihood CV maximises is :math:`-\hat H`. Cost: :math:`O(n^2 d)`
    per factor tried.

    References
    ----------
    J. Beirlant, E. J. Dudewicz, L. Gyorfi and E. C. van der Meulen,
    "Nonparametric entropy estimation: an overview", Int. J. Math. Stat. Sci.
    6(1), 1997.
    H. Joe, "Estimation of entropy and other functionals of a multivariate
    density", Ann. Inst. Statist. Math. 41, 1989.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=2000)
    >>> round(kde_entropy(x).value, 1)   # truth 0.5 log(2 pi e) = 1.42
    1.4
    """
    transform = check_transform(transform, quantity="entropy")
    s = check_samples(x, "x", device=device, dtype=dtype)
    reject_discrete(s, "KDE")
    check_rows_exceed_dims(s, what="a non-singular bandwidth matrix")
    bandwidth, grid, std_err, max_memory, tile_size = _common_checks(bandwidth, cv_grid, std_err, max_memory, tile_size)
    if std_err:
        check_std_err_rows(s.n, s.d + 1)
    rows = _tile_rows(s.n, s.data.dtype, s.data.device, max_memory, tile_size, 2 if bandwidth == "cv" else 1)

    findings = Findings()
    on_grid = grid_columns(s, findings, quantity="entropy", method="KDE", notes=False)
    extreme_values(s, findings, method="KDE", what="its bandwidth matrix (h^2 times the covariance)")
    tr, z, half_logdet = _prepare(s, transform)
    h, logf, info = _choose_factor(bandwidth, grid, z, half_logdet, rows, tr.log_jacobian, findings, "x")
    if logf is None:
        logf = _loo(z, h, half_logdet, rows, findings, "x")
    _check_grid(s, on_grid, h, "entropy", findings)
    terms = tr.log_jacobian - logf
    return Estimate(
        value=float(terms.mean()),
        std_err=mean_std_err(terms) if std_err else None,
        n=s.n,
        extras={
            "factor": h,
            "bandwidth_matrix": _bandwidth_matrix(tr, h),
            "tile_rows": rows,
            "transform": transform,
            "log_jacobian": tr.log_jacobian,
            **info,
        },
        diagnostics=tuple(findings),
    )


@register("mi", "kde")
@requires("precision", "extreme-values", "bandwidth", "collinear")
def kde_mutual_information(
    x: Any,
    y: Any,
    *,
    bandwidth: Any = "scott",
    cv_grid: Any = None,
    std_err: bool = False,
    max_memory: int | None = None,
    device: Any = "auto",
    dtype: Any = None,
    transform: str = "scale",
    tile_size: int | None = None,
) -> Estimate:
    r"""KDE MI H(X) + H(Y) - H(X,Y), leave-one-out, with consistent bandwidths, in nats.

    Parameters
    ----------
    x, y : array-like, torch.Tensor or pandas objects, shapes (n, dx), (n, dy)
        Paired samples; the joint needs ``n >= dx + dy + 1`` and a
        non-singular covariance.
    bandwidth : {"scott", "silverman", "cv"} or float
        One factor ``h`` for all three densities, chosen for the joint: a
        rule is evaluated at ``d = dx + dy``, and ``"cv"`` maximises the
        joint's LOO log-likelihood.
    cv_grid, std_err, max_memory, device, dtype, tile_size
        As in :func:`kde_entropy`; the per-point terms of the standard error
        are :math:`\log\frac{\hat f_{-i}(x_i, y_i)}{\hat f_{-i}(x_i)\hat f_{-i}(y_i)}`.
    transform : {"scale", "copula", "none"}
        ``"scale"`` (default): each column divided by its robust scale (MI is
        invariant: nothing is added; with the affine invariance the value
        changes only by rounding). ``"copula"``: normal scores of each
        column's ranks, Ince et al.'s (2017) Gaussian copula, so the estimate
        is invariant to increasing maps of each coordinate and heavy tails
        no longer starve the kernel. ``"none"``: the given units.

    Returns
    -------
    Estimate
        ``value`` in nats (may be negative; never clipped). ``extras``:
        ``factor``, ``entropies`` (H(X), H(Y), H(X,Y)), ``tile_rows`` and the
        CV diagnostics.

    Notes
    -----
    Consistent bandwidths: the joint kernel has ``H = h^2 S`` and the
    marginal kernels ``h^2 S_XX`` and ``h^2 S_YY``, the diagonal blocks of
    ``H``. The marginal KDEs are then exactly the marginals of the joint KDE,
    so the estimate is the resubstitution estimate of the mutual information
    of one density estimate (Moon, Rajagopalan & Lall 1995), and it is
    invariant under invertible linear maps of X and of Y.

    References
    ----------
    Y.-I. Moon, B. Rajagopalan and U. Lall, "Estimation of mutual information
    using kernel density estimators", Phys. Rev. E 52, 1995.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=2000)
    >>> y = 0.75 * x + np.sqrt(1 - 0.75**2) * rng.normal(size=2000)
    >>> round(kde_mutual_information(x, y).value, 1)   # truth 0.413
    0.4
    """
    transform = check_transform(transform, quantity="mi")
    sx, sy = check_pair(x, y, device=device, dtype=dtype)
    reject_discrete(sx, "KDE")
    reject_discrete(sy, "KDE")
    check_rows_exceed_dims(sx, what="a non-singular bandwidth matrix")
    check_rows_exceed_dims(sy, what="a non-singular bandwidth matrix")
    if sx.n < sx.d + sy.d + 1:
        raise ValueError(
            f"x and y together need more samples than dimensions for a non-singular bandwidth matrix "
            f"(n >= dx + dy + 1 = {sx.d + sy.d + 1}); got n={sx.n}"
        )
    bandwidth, grid, std_err, max_memory, tile_size = _common_checks(bandwidth, cv_grid, std_err, max_memory, tile_size)
    if std_err:
        check_std_err_rows(sx.n, sx.d + sy.d + 1)
    rows = _tile_rows(sx.n, sx.data.dtype, sx.data.device, max_memory, tile_size, 2 if bandwidth == "cv" else 1)

    findings = Findings()
    grid_x = grid_columns(sx, findings, quantity="mi", method="KDE", notes=False)
    grid_y = grid_columns(sy, findings, quantity="mi", method="KDE", notes=False)
    for side in (sx, sy):
        extreme_values(side, findings, method="KDE", what="its bandwidth matrix (h^2 times the covariance)")
    # Marginals first, so that a collinear x (or y) is reported as such.
    tx, zx, hl_x = _prepare(sx, transform)
    ty, zy, hl_y = _prepare(sy, transform)
    joint = "the joint sample (x, y)"
    zxy, hl_xy = _whiten(torch.cat([tx.data, ty.data], dim=1), joint)
    h, logf_xy, info = _choose_factor(
        bandwidth, grid, zxy, hl_xy, rows, tx.log_jacobian + ty.log_jacobian, findings, joint
    )
    if logf_xy is None:
        logf_xy = _loo(zxy, h, hl_xy, rows, findings, joint)
    if transform != "copula":  # normal scores of ranks are not on the data's grid
        _check_grid(sx, grid_x, h, "mi", findings)
        _check_grid(sy, grid_y, h, "mi", findings)
    logf_x = _loo(zx, h, hl_x, rows)
    logf_y = _loo(zy, h, hl_y, rows)
    terms = logf_xy - logf_x - logf_y
    return Estimate(
        value=float(terms.mean()),
        std_err=mean_std_err(terms) if std_err else None,
        n=sx.n,
        extras={
            "factor": h,
            # In the data's units for "scale" (the log-Jacobians added back); of the copula for "copula".
            "entropies": [
                float(tx.log_jacobian - logf_x.mean()),
                float(ty.log_jacobian - logf_y.mean()),
                float(tx.log_jacobian + ty.log_jacobian - logf_xy.mean()),
            ],
            "tile_rows": rows,
            "transform": transform,
            **info,
        },
        diagnostics=tuple(findings),
    )
