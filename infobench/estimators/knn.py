"""k-nearest-neighbour estimators of entropy, mutual information and KL divergence.

* :func:`knn_entropy` — Kozachenko–Leonenko differential entropy
  (entropy method ``"knn"``);
* :func:`ksg_mutual_information` — Kraskov–Stögbauer–Grassberger MI, both
  variants, with Ross's estimator when one side is discrete
  (MI method ``"ksg"``);
* :func:`knn_kl_divergence` — Wang–Kulkarni–Verdú KL divergence
  (KL method ``"knn"``).

All values are in nats and never clipped. The neighbour searches are exact
(see :mod:`infobench.estimators._neighbors`).

Ties and duplicates
-------------------
kNN estimators assume continuous data: a repeated value gives a zero
neighbour distance (``log 0 = -inf``) or an ambiguous neighbour order. Two
kinds of seeded noise (``seed``) deal with it, neither sized by a statistic
that one row can steer:

* values that repeat on a grid (rounded values, whole numbers, a float16 or
  bfloat16 input, values far from zero against their spread) are *dithered*:
  each is spread uniformly over its grid cell, the grid step or the spacing
  of the input type's numbers at that value
  (:func:`~infobench.estimators._conditions.plan_dither`). Entropy then
  estimates the continuous quantity the values round (exactly: the discrete
  entropy of the cells plus ``log step``); MI and KL are unchanged by it.
  Columns of a few levels (fewer than 2 grid steps per robust sd: a coin
  as 0.0 / 1.0) are categories, which an entropy refuses;
* every continuous column then gets Gaussian noise of standard deviation
  ``jitter`` times its *robust* scale (IQR / 1.349; ``jitter=1e-10``, as
  scikit-learn does after scaling to unit variance, at most
  :data:`MAX_JITTER`), and at least four units in the last place of each
  value, so the noise is never lost to rounding. It breaks the ties that
  remain: copies of whole rows.

With ``seed=None`` the noise differs between calls, which moves an estimate
only where ties exist. ``jitter=0`` (or ``False``) turns the second kind
off; a zero neighbour distance then raises ``ValueError`` naming ``jitter``.
Points whose k-th neighbour is only copies of themselves measure the noise,
not the data: a few are a diagnostic (``duplicates``), more than
:data:`DUPLICATE_MAX` of the points are refused. Rows shared by the two
samples of a divergence are refused (``shared-rows``), and KSG refuses data
whose estimate grows like ``log n`` (``saturated``: a side copied from the
other). The noise is added after the ``transform`` and scaled per sample: a
KL divergence's ``p`` gets noise from ``p``'s spread and ``q`` from ``q``'s.

Units
-----
``transform="scale"`` (default) divides each continuous column by a robust
scale before the neighbour search, so every estimate is the same in any
units; entropy adds back the exact ``sum(log scale)``. See
:mod:`infobench.estimators._transforms`.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch

from infobench._validation import (
    SINGLETON_MAX,
    ColumnProfile,
    Samples,
    as_generator,
    as_torch_generator,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_k,
    check_same_device,
    check_same_dim,
    check_same_length,
    check_samples,
    reject_discrete,
    renamed_function,
)
from infobench.estimators._conditions import (
    Dither,
    Findings,
    dither_columns,
    plan_dither,
    requires,
    shared_rows,
)
from infobench.estimators._neighbors import (
    ALGORITHMS,
    METRICS,
    KsgCounts,
    count_within,
    ksg_counts,
    kth_distance,
)
from infobench.estimators._transforms import (
    Transformed,
    check_squares,
    check_transform,
    robust_scale,
    transform_columns,
)
from infobench.estimators._uncertainty import check_std_err_rows, subsample_df, subsample_std_err
from infobench.estimators.base import Estimate, register
from infobench.estimators.gaussian import covariance_cholesky
from infobench.estimators.terms import digamma64, knn_entropy_terms, ksg_terms, log64, ross_terms, wkv_kl_terms

__all__ = ["DEFAULT_JITTER", "knn_entropy", "ksg_mutual_information", "knn_kl_divergence"]

DEFAULT_JITTER = 1e-10
#: Largest tie-breaking noise, in robust sds (beyond it the noise would blur the data, not break ties).
MAX_JITTER = 1e-3
DISCRETE_CHOICES = ("auto", "x", "y", "none")
#: More than this fraction of points with only copies within their k-th neighbour: refused.
DUPLICATE_MAX = 0.01
#: More than this fraction of p's rows copied into q: refused. Each copied row's term is
#: d log(noise / rho), about -23 d nats, so it moves the estimate by about 23 d / n: 0.05 % of the
#: rows move it by about 0.01 d nats.
SHARED_MAX = 5e-4
#: KSG: growth of the estimate from n/2 to n rows at which it reads a deterministic relation (log 2 = 0.69
#: exactly for ``y == x``); half of it is a doubt (the MI is beyond what n resolves).
SATURATED_GROWTH = 0.5


# ---------------------------------------------------------------- helpers
def _jitter_amount(jitter: Any) -> float:
    """``True`` -> the default amount, ``False`` -> 0, else a finite float in ``[0, MAX_JITTER]``.

    Jitter only breaks ties: noise of a sizeable fraction of a column's spread
    would change the data it is estimated from.
    """
    if isinstance(jitter, bool):
        return DEFAULT_JITTER if jitter else 0.0
    if not isinstance(jitter, numbers.Real):
        raise TypeError(f"jitter must be True, False or a number >= 0; got {jitter!r}")
    return check_float("jitter", jitter, low=0.0, high=MAX_JITTER)


def _host(t: torch.Tensor) -> Any:
    """CPU tensors as zero-copy numpy arrays, others unchanged.

    Elementwise work on the CPU runs in numpy: single-threaded, it pays no
    thread barrier per call, which dominates small torch calls on shared cores.
    Typed ``Any`` (an ``np.ndarray`` or a ``torch.Tensor``, decided by the
    device at run time): the term functions take either, but not a union.
    """
    return t.numpy() if t.device.type == "cpu" else t


class _Noise:
    """Seeded preprocessing noise: numpy draws on the CPU, torch draws on accelerators.

    Two kinds, both sized so that no single row can steer them:
    :meth:`dither` spreads values on a grid over their grid cells (width from
    the grid step or the numeric spacing at each value,
    :class:`~infobench.estimators._conditions.Dither`), and :meth:`add` adds
    the tie-breaking jitter, scaled by each column's *robust* scale.
    """

    def __init__(self, seed: Any, device: torch.device):
        self.cpu = device.type == "cpu"
        if self.cpu:
            self.rng = as_generator(seed)
        else:
            self.gen = as_torch_generator(seed, device)

    def dither(self, data: torch.Tensor, plan: Dither) -> torch.Tensor:
        """``data`` with each planned column spread over its grid cells (:func:`dither_columns`)."""
        return dither_columns(data, plan, self.rng if self.cpu else self.gen)

    def add(self, t: torch.Tensor, amount: float, scales: list[float]) -> torch.Tensor:
        """``t`` plus Gaussian noise of sd ``amount * scales[j]`` in column ``j``, never in place.

        ``scales`` are the columns' robust scales (IQR / 1.349) in ``t``'s
        units, so one extreme row does not set the noise of the others. Each
        value's noise is at least four units in the last place of that value,
        so that it is not lost to rounding.
        """
        if amount == 0.0:
            return t
        a = _host(t)
        if self.cpu:
            eps = np.finfo(a.dtype).eps
            sd = np.maximum(np.abs(a) * (4.0 * eps), np.asarray(scales, dtype=a.dtype) * amount)
            noise = self.rng.standard_normal(a.shape, dtype=a.dtype)
            noise *= sd
            noise += a
            return torch.from_numpy(noise)
        eps = torch.finfo(t.dtype).eps
        sd = torch.maximum(t.abs() * (4.0 * eps), torch.tensor(scales, dtype=t.dtype, device=t.device) * amount)
        noise = torch.randn(t.shape, generator=self.gen, device=t.device, dtype=t.dtype)
        return t + noise * sd


def _check_nonzero(dist: torch.Tensor, what: str, amount: float, advice: str) -> None:
    """A zero neighbour distance means duplicates; ``log 0`` must never reach an estimate."""
    zero = _host(dist) <= 0
    if not bool(zero.any()):
        return
    count = int(zero.sum())
    first = int(zero.nonzero()[0][0])
    if amount == 0.0:
        fix = f"with jitter=0 ties are not broken: leave jitter on (the default is {DEFAULT_JITTER:g}){advice}"
    else:
        fix = f"jitter={amount:g} did not separate them: use a larger jitter{advice}"
    raise ValueError(
        f"{what} is 0 for {count} of {dist.numel()} points (first at row {first}): the data have "
        f"duplicate rows and log(0) = -inf; {fix}"
    )


def _zero_distances(dist: torch.Tensor, floor: float, what: str, k: int, findings: Findings, fix: str) -> None:
    """Points whose k-th neighbour distance is at the tie-breaking noise's scale: rows repeated k+ times.

    Values on a grid were dithered before the search (:func:`plan_dither`),
    so what remains are copies of rows off any grid. A few are a doubt
    (``duplicates``); more than :data:`DUPLICATE_MAX` of the points make
    the estimate a measurement of the noise, and raise.
    """
    if floor <= 0.0:
        return
    near = _host(dist) <= floor
    count = int(near.sum())
    if not count:
        return
    n = int(dist.numel())
    message = (
        f"{count} of {n} points ({count / n:.2%}) have only copies of themselves within their k-th nearest "
        f"neighbour in {what} (k={k}): those rows occur at least {k + 1} times, off any grid, so their "
        f"terms measure the tie-breaking noise, not the data; {fix}"
    )
    if count > DUPLICATE_MAX * n:
        raise ValueError(message)
    findings.warn("duplicates", message)


_DUPLICATE_FIX = (
    "drop the copied rows, declare discrete data as such (method='histogram', or discrete_x=True / "
    "discrete_y=True for a discrete side of KSG), or use a k larger than the number of copies"
)


def _result(
    terms: np.ndarray | torch.Tensor,
    std_err: bool,
    n: int,
    method: str,
    params: dict[str, Any],
    extras: dict[str, Any],
    resample: tuple[Callable[..., float], list[torch.Tensor], int, Any] | None = None,
    findings: Findings | None = None,
    nonnegative: str = "",
) -> Estimate:
    """The mean of ``terms``; with ``std_err``, the subsampling standard error of ``resample``.

    ``resample = (statistic, arrays, min_rows, seed)``: ``statistic(*subsets)``
    is the kernel's own value computation, run on disjoint subsets of
    ``arrays`` by :func:`~infobench.estimators._uncertainty.subsample_std_err`
    (the per-point terms share neighbours, so ``std(terms)/sqrt(n)`` is too small),
    with its degrees of freedom (:func:`~infobench.estimators._uncertainty.subsample_df`)
    for the t quantile of :meth:`Estimate.interval`. ``nonnegative`` names
    the quantity when it cannot be negative (an MI, a divergence): an
    estimate more than 3 standard errors below 0 is then doubted
    (``below-zero``).
    """
    value = float(terms.mean())
    se = df = None
    if std_err:
        statistic, arrays, min_rows, seed = cast("tuple[Callable[..., float], list[torch.Tensor], int, Any]", resample)
        se = subsample_std_err(statistic, arrays, min_rows=min_rows, seed=seed)
        df = subsample_df(len(arrays[0]), min_rows)
        if nonnegative and findings is not None:
            _below_zero(value, se, nonnegative, findings)
    return Estimate(
        value=value,
        std_err=se,
        n=n,
        method=method,
        params=params,
        extras=extras,
        diagnostics=tuple(findings) if findings is not None else (),
        std_err_df=df,
    )


# An estimate of a non-negative quantity this many standard errors below 0 is reported as below-zero: with the
# subsampling standard error's 27 degrees of freedom a t variable falls below -3 in 0.3 % of samples, so at a
# true value of 0 (where the kNN estimators' bias is small against their standard error) the doubt is rare.
BELOW_ZERO_SES = 3.0


def _below_zero(value: float, se: float, quantity: str, findings: Findings) -> None:
    """Doubt (``below-zero``) an estimate of a non-negative ``quantity`` more than :data:`BELOW_ZERO_SES` below 0."""
    if value < -BELOW_ZERO_SES * se:
        findings.warn(
            "below-zero",
            f"the estimate {value:.4g} +- {se:.3g} nats is more than {BELOW_ZERO_SES:g} standard errors below 0, "
            f"which no {quantity} is: the estimator's bias sets this number (in high dimension, or between samples "
            "of different scales or supports), so neither its sign nor its size measures the data; reduce the "
            "dimension, or use more samples",
        )


def _common(std_err: Any, metric: Any, algorithm: Any, jitter: Any) -> tuple[bool, str, str, float]:
    std_err = check_bool("std_err", std_err)
    metric = check_choice("metric", metric, METRICS)
    algorithm = check_choice("algorithm", algorithm, ALGORITHMS)
    return std_err, metric, algorithm, _jitter_amount(jitter)


def _data_extras(algo: str, t: torch.Tensor, amount: float, transform: str = "none") -> dict[str, Any]:
    return {
        "algorithm": algo,
        "device": str(t.device),
        "dtype": str(t.dtype).replace("torch.", ""),
        "jitter": amount,
        "transform": transform,
    }


def _centre(profiles: list[ColumnProfile]) -> list[float]:
    """Per-column medians of the columns whose offset exceeds their spread (0 for the others).

    Subtracting them is exact for the bulk of such a column (values within a
    factor 2 of the median), and keeps the tie-breaking noise's floor of a
    few units in the last place of each value far below the spread
    (``1e9 + 1e-3 z``). Estimates are shift-invariant (a divergence's two
    samples share one centre).
    """
    return [p.median if abs(p.median) > p.scale else 0.0 for p in profiles]


@dataclass
class _Prepared:
    """A sample ready for the neighbour search: dithered, centred, transformed, jittered."""

    data: torch.Tensor
    tr: Transformed
    noise_sd: float  # the largest tie-breaking sd of a column (0 without jitter)


def _prepare(
    s: Samples,
    transform: str,
    noise: _Noise,
    plan: Dither,
    amount: float,
    *,
    scales: list[float] | None = None,
    centre: list[float] | None = None,
    columns: list[int] | None = None,
) -> _Prepared:
    """Dither the planned columns, centre, apply ``transform`` and add the robust tie-breaking noise.

    ``columns`` restricts the jitter scales to the columns ``s.data`` holds
    (all by default).
    """
    prof = s.profile()
    base = noise.dither(s.data, plan)
    centre = _centre(prof) if centre is None else centre
    if any(c != 0.0 for c in centre):
        base = base - torch.tensor(centre, dtype=base.dtype, device=base.device)
    tr = transform_columns(base, transform, name=s.name, columns=s.columns, scales=scales)
    check_squares(tr.data, s.name, transform)
    if transform == "copula":
        jit = [1.0] * s.d
    elif transform == "scale":
        jit = [p.scale / sc if p.scale > 0 else 1.0 for p, sc in zip(prof, cast("list[float]", tr.scales))]
    else:
        jit = [p.scale if p.scale > 0 else 1.0 for p in prof]
    return _Prepared(noise.add(tr.data, amount, jit), tr, amount * max(jit))


# ----------------------------------------------------------------- entropy
@register("entropy", "knn")
@requires("categories", "precision", "quantised", "duplicates", "collinear")
def knn_entropy(
    x: Any,
    *,
    k: int = 3,
    metric: str = "euclidean",
    std_err: bool = False,
    jitter: float | bool = DEFAULT_JITTER,
    seed: Any = None,
    device: Any = "auto",
    dtype: Any = None,
    algorithm: str = "auto",
    max_memory: int | None = None,
    transform: str = "scale",
) -> Estimate:
    r"""Kozachenko–Leonenko k-nearest-neighbour estimate of the differential entropy H(X).

    Implements Kraskov, Stögbauer & Grassberger (2004), eq. (20), the
    k-th-neighbour form of Kozachenko & Leonenko (1987):

    .. math::

        \hat H(X) = \psi(N) - \psi(k) + \log V_d + \frac{d}{N}\sum_{i=1}^{N} \log r_i ,

    where :math:`r_i` is the distance from :math:`x_i` to its k-th nearest
    neighbour and :math:`V_d` the volume of the unit-radius ball of the metric
    (:math:`\pi^{d/2}/\Gamma(d/2+1)` euclidean, :math:`2^d` max-norm). This is
    eq. (20) with Kraskov's diameter :math:`\epsilon_i = 2 r_i` and
    unit-diameter volume :math:`c_d = V_d / 2^d`.

    Parameters
    ----------
    x : array-like, torch.Tensor or pandas object, shape (n, d)
        Continuous samples in rows (1-D: one variable).
    k : int
        Neighbour order, ``1 <= k <= n - 1``.
    metric : {"euclidean", "chebyshev"}
        Distance; the ball volume follows it.
    std_err : bool
        Also return a standard error: the spread of this estimator over
        disjoint random subsets (seeded by ``seed``), scaled to ``n`` with
        the root-n rate (:func:`~infobench.estimators._uncertainty.subsample_std_err`;
        the per-point terms share neighbours, so their spread alone
        underestimates it). Cost: 30 estimates on n/10 rows (from n = 2,000;
        fewer, larger subsets below), about 3 estimates' time. The
        standard error has 27 degrees of freedom (``Estimate.std_err_df``),
        so :meth:`~infobench.Estimate.interval` uses Student's t quantile
        (2.05 at 95 %). Needs ``n >= 2 (k + 1)``.
    jitter : float or bool
        Tie-breaking noise in units of each column's standard deviation
        (module notes); ``0``/``False`` turns it off.
    seed : int, numpy/torch Generator or None
        Seed for the jitter.
    device : "auto", "cpu", "cuda" or torch.device
    dtype : None, "float32" or "float64"
        ``None``: float64 on the CPU, float32 on CUDA.
    algorithm : {"auto", "tree", "brute"}
        Neighbour search path (:mod:`infobench.estimators._neighbors`).
    max_memory : int, optional
        Tile budget in bytes for the brute-force path.
    transform : {"scale", "none"}
        ``"scale"`` (default): divide each column by its robust scale
        :math:`s_j` (IQR/1.349) and add the exact log-Jacobian
        :math:`\sum_j \log s_j`, so the estimate is the entropy of ``x`` in
        its own units and shifts by exactly :math:`\log c` when a column is
        multiplied by :math:`c`. ``"none"``: distances in the given units.
        ``"copula"`` is refused (a rank map has no exact Jacobian); see
        :mod:`infobench.estimators._transforms`.

    Returns
    -------
    Estimate
        Entropy in nats; ``extras`` names the search path, device, dtype
        and transform (with ``log_jacobian``).

    References
    ----------
    L. F. Kozachenko and N. N. Leonenko, "Sample estimate of the entropy of a
    random vector", Probl. Peredachi Inf. 23(2), 1987.
    A. Kraskov, H. Stögbauer and P. Grassberger, "Estimating mutual
    information", Phys. Rev. E 69, 066138 (2004), eq. (20).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(4000, 2))
    >>> round(knn_entropy(x, seed=0).value, 1)   # truth: log(2 pi e) = 2.838
    2.8
    """
    std_err, metric, algorithm, amount = _common(std_err, metric, algorithm, jitter)
    transform = check_transform(transform, quantity="entropy")
    xs = check_samples(x, "x", device=device, dtype=dtype)
    reject_discrete(xs, "Kozachenko-Leonenko")
    n, d = xs.n, xs.d
    k = check_k(k, n)
    if std_err:
        check_std_err_rows(n, k + 1)
    if d > 1:
        # A sample on a lower-dimensional subspace has differential entropy -inf; the kNN estimate
        # would fall like -log n (the covariance test is cheap; curved manifolds are not detected).
        covariance_cholesky(xs.data, "x")
    findings = Findings()
    noise = _Noise(seed, xs.data.device)
    plan = plan_dither(xs, findings, quantity="entropy", method="Kozachenko-Leonenko")
    prep = _prepare(xs, transform, noise, plan, amount)
    data, tr = prep.data, prep.tr
    terms, algo, r = _kl_terms(data, k, metric, algorithm, max_memory, amount)
    _zero_distances(r, _floor(prep.noise_sd, d), "x", k, findings, _DUPLICATE_FIX)
    terms = terms + tr.log_jacobian
    params = dict(
        k=k,
        metric=metric,
        std_err=std_err,
        jitter=jitter,
        seed=seed,
        device=device,
        dtype=dtype,
        algorithm=algorithm,
        max_memory=max_memory,
        transform=transform,
    )
    extras = _data_extras(algo, data, amount, transform)
    extras["log_jacobian"] = tr.log_jacobian

    def statistic(a: torch.Tensor) -> float:
        return float(_kl_terms(a, k, metric, algorithm, max_memory, amount)[0].mean())

    return _result(
        terms, std_err, n, "knn", params, extras, resample=(statistic, [data], k + 1, seed), findings=findings
    )


#: Deprecated name of :func:`knn_entropy` (its "kl" read as Kullback-Leibler), kept one release.
kl_entropy = renamed_function("kl_entropy", knn_entropy)


def _floor(noise_sd: float, d: int) -> float:
    """Neighbour distances at or below this are the tie-breaking noise between copies of a row."""
    return 8.0 * math.sqrt(d) * noise_sd


def _kl_terms(
    data: torch.Tensor, k: int, metric: str, algorithm: str, max_memory: int | None, amount: float
) -> tuple[np.ndarray | torch.Tensor, str, torch.Tensor]:
    """Per-point terms of eq. (20) on ``data`` (prepared rows), the search path and the distances."""
    n, d = data.shape
    r, algo = kth_distance(data, k, metric=metric, algorithm=algorithm, max_memory=max_memory)
    _check_nonzero(r, "the distance to the k-th nearest neighbour in x", amount, "")
    return knn_entropy_terms(log64(_host(r)), n, d, k, metric), algo, r


# ---------------------------------------------------------- mutual information
def _legacy_discrete(discrete: Any) -> tuple[bool | None, bool | None]:
    """Map the deprecated ``discrete`` ("auto"/"x"/"y"/"none") to ``(discrete_x, discrete_y)``."""
    warnings.warn(
        "ksg: discrete= is deprecated and will be removed; use discrete_x=True / discrete_y=True "
        "(None infers from the dtype, False forces continuous), the names the histogram method uses",
        DeprecationWarning,
        stacklevel=4,
    )
    if discrete is False:
        discrete = "none"
    if discrete is True:
        raise ValueError("discrete must name the discrete side: 'x' or 'y' (or 'auto' / 'none'); got True")
    discrete = check_choice("discrete", discrete, DISCRETE_CHOICES)
    return {"auto": (None, None), "x": (True, False), "y": (False, True), "none": (False, False)}[discrete]


def _discrete_mode(discrete_x: Any, discrete_y: Any, discrete: Any, xs: Samples, ys: Samples) -> str:
    """The discrete side, "x", "y" or "none", from the flags (None: integer dtype means discrete)."""
    if discrete is not None:
        if discrete_x is not None or discrete_y is not None:
            raise ValueError(
                f"pass discrete_x / discrete_y, not also the deprecated discrete; got discrete={discrete!r}"
            )
        discrete_x, discrete_y = _legacy_discrete(discrete)
    fx = xs.discrete if discrete_x is None else check_bool("discrete_x", discrete_x)
    fy = ys.discrete if discrete_y is None else check_bool("discrete_y", discrete_y)
    if fx and fy:
        how = "integer-valued" if discrete_x is None and discrete_y is None else "discrete (discrete_x, discrete_y)"
        raise ValueError(
            f"x and y are both {how}: KSG "
            "estimates MI of continuous variables and Ross's estimator needs one continuous side; use "
            "method='histogram' for discrete-discrete MI, or discrete_x=False, discrete_y=False to treat "
            "both as continuous (ties are then broken by jitter)"
        )
    return "x" if fx else "y" if fy else "none"


@register("mi", "ksg")
@requires("precision", "quantised", "duplicates", "saturated", "singletons", "below-zero")
def ksg_mutual_information(
    x: Any,
    y: Any,
    *,
    k: int = 3,
    variant: int = 1,
    metric: str = "euclidean",
    std_err: bool = False,
    discrete_x: bool | None = None,
    discrete_y: bool | None = None,
    jitter: float | bool = DEFAULT_JITTER,
    seed: Any = None,
    device: Any = "auto",
    dtype: Any = None,
    algorithm: str = "auto",
    max_memory: int | None = None,
    transform: str = "scale",
    balance_sides: bool = False,
    discrete: str | None = None,
) -> Estimate:
    r"""Kraskov–Stögbauer–Grassberger k-nearest-neighbour estimate of I(X;Y).

    The joint distance is :math:`\max(\|x_i-x_j\|, \|y_i-y_j\|)` with the
    marginal norms given by ``metric`` (Kraskov et al. 2004, Sec. II: the
    maximum norm in the joint space, any norm in the marginals).

    Variant 1, eq. (8):

    .. math::

        \hat I = \psi(k) + \psi(N) - \langle \psi(n_x + 1) + \psi(n_y + 1) \rangle ,

    with :math:`\epsilon_i` the joint distance to the k-th neighbour and
    :math:`n_x(i) = \#\{j \ne i: \|x_i - x_j\| < \epsilon_i\}` (same for y).

    Variant 2, eq. (9):

    .. math::

        \hat I = \psi(k) - 1/k + \psi(N) - \langle \psi(n_x) + \psi(n_y) \rangle ,

    with per-marginal extents :math:`\epsilon_x(i)/2 = \max_{j \in kNN(i)}
    \|x_i - x_j\|` (same for y) and
    :math:`n_x(i) = \#\{j \ne i: \|x_i - x_j\| \le \epsilon_x(i)/2\}`.

    When one side is discrete (``discrete_x=True`` / ``discrete_y=True``, or
    automatically when exactly one input is integer-valued), Ross's (2014)
    estimator is used instead (``variant`` does not apply):

    .. math::

        \hat I = \psi(N) + \langle \psi(k_i) \rangle - \langle \psi(N_{x_i}) \rangle
                  - \langle \psi(m_i) \rangle ,

    where :math:`N_{x_i}` is the number of points sharing :math:`x_i`'s value,
    :math:`d_i` the distance in the continuous variable to the k-th neighbour
    among them (:math:`k_i = \min(k, N_{x_i} - 1)`), and
    :math:`m_i = 1 + \#\{j \ne i: \|y_i - y_j\| < d_i\}` counted over all
    points (the convention of scikit-learn's ``mutual_info_classif``). Values
    that occur once carry no neighbour and are left out (their number is in
    ``extras["n_dropped"]``).

    Parameters
    ----------
    x, y : array-like, torch.Tensor or pandas objects, shapes (n, d_x), (n, d_y)
        Paired samples; each side may be multivariate.
    k : int
        Neighbour order, ``1 <= k <= n - 1``.
    variant : {1, 2}
        KSG estimator (eq. 8 or eq. 9).
    metric : {"euclidean", "chebyshev"}
        Norm on each marginal; the joint norm is their maximum. For 1-D
        marginals both are ``|x - x'|`` (so 1-D results match
        scikit-learn's ``mutual_info_regression``). ``"chebyshev"`` is the
        max-norm everywhere, as in Kraskov et al.'s examples. The euclidean
        default lets brute force (high dimension, GPU) use matrix products,
        which makes it several times faster than the max-norm there.
    std_err : bool
        Also return a standard error from disjoint subsets of the pairs, as
        in :func:`knn_entropy` (same cost). Needs ``n >= 2 (k + 1)``.
    discrete_x, discrete_y : bool or None
        Whether each side is discrete (the names of the histogram method).
        None (default): an integer, boolean or categorical side is discrete.
        True: use Ross's estimator with that side as the labels (at most one
        side). False: treat the side as continuous even if integer-typed.
    jitter : float or bool
        Tie-breaking noise for continuous sides (module notes).
    seed : int, numpy/torch Generator or None
        Seed for the jitter.
    device, dtype, algorithm, max_memory
        As in :func:`knn_entropy`.
    transform : {"scale", "copula", "none"}
        Applied to each continuous column before the search
        (:mod:`infobench.estimators._transforms`). ``"scale"`` (default):
        divide by a robust scale (IQR/1.349); MI is invariant, so nothing is
        added and the estimate is the same in any units. ``"copula"``: normal
        scores of the ranks (invariant to any increasing map of a column).
        ``"none"``: the given units (the behaviour before this option: the
        column in the larger unit then decides every joint neighbour).
    balance_sides : bool
        Divide each side, after ``transform``, by the square root of its
        number of columns, so that the euclidean marginal norms are
        root-mean-square norms per coordinate. A euclidean distance between
        ``d`` unit-scale columns grows like ``sqrt(d)``; with ``d_x != d_y``
        the larger side then decides every joint (max-norm) neighbour, the
        same imbalance ``transform="scale"`` removes between columns. KSG's
        eqs. (8)-(9) hold for any marginal norms (Kraskov et al. 2004,
        Sec. II), so the estimator stays consistent; only its finite-sample
        bias changes. Measured (3 seeds, n = 5,000): ``SparseNormal(2, 8,
        rho=0.8, n_pairs=2)`` (truth 1.022) 0.634 -> 0.821;
        ``mixture-random-x2-y10-k4-s8`` (truth 0.821) 0.683 -> 0.760;
        ``swissroll-rho0.8`` (2x1, truth 0.511) 0.517 -> 0.511. With
        ``d_x == d_y`` both sides get the same factor and the estimate is
        unchanged (KSG is invariant to a common scale). Euclidean ``metric``
        only (the max-norm of ``d`` columns does not grow like ``sqrt(d)``);
        ignored in Ross's mode (one continuous side).
    discrete : {"auto", "x", "y", "none"} or None
        Deprecated alias of ``discrete_x`` / ``discrete_y`` (warns).

    Returns
    -------
    Estimate
        MI in nats (may be negative: never clipped). ``extras["estimator"]``
        is ``"KSG-1"``, ``"KSG-2"`` or ``"Ross"``.

    References
    ----------
    A. Kraskov, H. Stögbauer and P. Grassberger, "Estimating mutual
    information", Phys. Rev. E 69, 066138 (2004), eqs. (8) and (9).
    B. C. Ross, "Mutual information between discrete and continuous data
    sets", PLoS ONE 9(2), e87357 (2014), eq. (2).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=5000)
    >>> y = 0.75 * x + np.sqrt(1 - 0.75**2) * rng.normal(size=5000)
    >>> round(ksg_mutual_information(x, y, seed=0).value, 1)   # truth 0.413
    0.4
    """
    std_err, metric, algorithm, amount = _common(std_err, metric, algorithm, jitter)
    variant = check_choice("variant", variant, (1, 2))
    transform = check_transform(transform, quantity="mi")
    balance_sides = check_bool("balance_sides", balance_sides)
    if balance_sides and metric != "euclidean":
        raise ValueError(
            f"balance_sides=True needs metric='euclidean' (it divides each side by sqrt(columns), the "
            f"growth of a euclidean norm); got metric={metric!r}"
        )
    xs = check_samples(x, "x", device=device, dtype=dtype)
    ys = check_samples(y, "y", device=xs.data.device, dtype=dtype)
    check_same_length(xs, ys)
    check_same_device(xs, ys)
    mode = _discrete_mode(discrete_x, discrete_y, discrete, xs, ys)
    n = xs.n
    k = check_k(k, n)
    params = dict(
        k=k,
        variant=variant,
        metric=metric,
        std_err=std_err,
        discrete_x=discrete_x,
        discrete_y=discrete_y,
        jitter=jitter,
        seed=seed,
        device=device,
        dtype=dtype,
        algorithm=algorithm,
        max_memory=max_memory,
        transform=transform,
        balance_sides=balance_sides,
        discrete=discrete,
    )
    if std_err:
        check_std_err_rows(n, k + 1)
    findings = Findings()
    noise = _Noise(seed, xs.data.device)
    if mode != "none":
        labels, cont = (xs, ys) if mode == "x" else (ys, xs)
        plan = plan_dither(cont, findings, quantity="mi", method="KSG")
        prep = _prepare(cont, transform, noise, plan, amount)
        return _ross(
            labels,
            prep,
            cont.name,
            k,
            metric,
            std_err,
            amount,
            algorithm,
            max_memory,
            params,
            transform,
            seed,
            findings,
        )
    px = _prepare(xs, transform, noise, plan_dither(xs, findings, quantity="mi", method="KSG"), amount)
    py = _prepare(ys, transform, noise, plan_dither(ys, findings, quantity="mi", method="KSG"), amount)
    xd, yd = px.data, py.data
    if balance_sides:
        xd, yd = xd / math.sqrt(xs.d), yd / math.sqrt(ys.d)
    terms, algo, res = _ksg_terms(xd, yd, k, variant, metric, algorithm, max_memory, amount)
    _zero_distances(
        res.eps,
        _floor(max(px.noise_sd, py.noise_sd), max(xs.d, ys.d)),
        "the joint space (x, y)",
        k,
        findings,
        _DUPLICATE_FIX,
    )
    _saturation(float(terms.mean()), res, xd, yd, k, variant, metric, algorithm, max_memory, amount, findings)
    extras = _data_extras(algo, xd, amount, transform)
    extras["estimator"] = f"KSG-{variant}"
    extras["balance_sides"] = balance_sides

    def statistic(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(_ksg_terms(a, b, k, variant, metric, algorithm, max_memory, amount)[0].mean())

    return _result(
        terms,
        std_err,
        n,
        "ksg",
        params,
        extras,
        resample=(statistic, [xd, yd], k + 1, seed),
        findings=findings,
        nonnegative="mutual information",
    )


def _ksg_terms(
    xd: torch.Tensor,
    yd: torch.Tensor,
    k: int,
    variant: int,
    metric: str,
    algorithm: str,
    max_memory: int | None,
    amount: float,
) -> tuple[np.ndarray | torch.Tensor, str, KsgCounts]:
    """Per-point terms of eq. (8) or (9) on paired (prepared) rows, the search path and the counts."""
    n = xd.shape[0]
    res = ksg_counts(xd, yd, k, metric=metric, variant=variant, algorithm=algorithm, max_memory=max_memory)
    _check_nonzero(
        res.eps,
        "the joint distance to the k-th nearest neighbour",
        amount,
        ", or declare a discrete side with discrete_x=True or discrete_y=True",
    )
    nx, ny = _host(res.nx), _host(res.ny)
    return ksg_terms(nx, ny, n, k, variant), res.algorithm, res


def _saturation(
    value: float,
    res: KsgCounts,
    xd: torch.Tensor,
    yd: torch.Tensor,
    k: int,
    variant: int,
    metric: str,
    algorithm: str,
    max_memory: int | None,
    amount: float,
    findings: Findings,
) -> None:
    """Refuse (or doubt) an estimate that only reflects the sample size: KSG's reading of a deterministic relation.

    For finite MI the estimate converges as ``n`` grows. When one side is a
    function of the other, the joint sample lies on a lower-dimensional
    set, the marginal counts stay near their minimum (``k - 1`` for variant
    1) whatever ``n``, and the estimate grows like ``log n`` towards KSG's
    ceiling ``psi(n) - psi(k)``. When many points have small counts
    (``n_x + n_y <= 4k`` for a quarter of them) or the estimate exceeds half
    the ceiling, it is recomputed on every other row: a growth ``g`` of
    :data:`SATURATED_GROWTH` (near ``log 2``) or more, with half the points at
    small counts, is that signature (refused: the MI is infinite or far beyond
    ``n``); a growth of half that is a doubt (``saturated``: a lower bound).
    """
    n = int(xd.shape[0])
    if n < 4 * (k + 1):
        return
    nx, ny = _host(res.nx), _host(res.ny)
    small = float(((nx + ny) <= 4 * k).sum()) / n
    ceiling = float(digamma64(np.array([float(n)]))[0] - digamma64(np.array([float(k)]))[0])
    if small < 0.25 and value <= ceiling / 2:
        return
    half = float(
        _ksg_terms(xd[::2].contiguous(), yd[::2].contiguous(), k, variant, metric, algorithm, max_memory, amount)[
            0
        ].mean()
    )
    growth = value - half
    if growth < SATURATED_GROWTH / 2:
        return
    what = (
        f"the estimate ({value:.3g} nats) grows by {growth:.2f} nats from n/2 to n={n} rows (on every other "
        f"row it reads {half:.3g}), and {small:.0%} of the points have marginal neighbour counts near their "
        f"minimum"
    )
    if growth >= SATURATED_GROWTH and small >= 0.5:
        raise ValueError(
            f"{what}: KSG reads this way when one side is a copy or a deterministic function of the other, whose MI "
            f"is +inf; the number would only reflect n (KSG's ceiling is psi(n) - psi(k) = {ceiling:.2f} nats). "
            f"Check that y is not computed from x; for a large but finite MI use many more samples"
        )
    findings.warn(
        "saturated",
        (
            f"{what}: the MI exceeds what n samples resolve, so read the estimate as a lower bound (KSG's ceiling is "
            f"psi(n) - psi(k) = {ceiling:.2f} nats); one side may be a near-deterministic function of the other"
        ),
    )


def _ross_terms(
    labels: torch.Tensor,
    cont: torch.Tensor,
    k: int,
    metric: str,
    algorithm: str,
    max_memory: int | None,
    amount: float,
    cont_name: str,
) -> tuple[np.ndarray | torch.Tensor, torch.Tensor, int, int, str]:
    """Ross (2014) per-point terms on the rows whose discrete value repeats; also the radii and what was dropped."""
    _, codes, sizes = torch.unique(labels, dim=0, return_inverse=True, return_counts=True)
    keep = sizes[codes] > 1
    n_used = int(keep.sum())
    if n_used < 2:
        raise ValueError(
            "every value of the discrete variable occurs only once: Ross's estimator needs repeated "
            "values (is the discrete side really discrete? otherwise pass discrete_x=False / discrete_y=False)"
        )
    codes, cont = codes[keep], cont[keep]
    order = torch.argsort(codes, stable=True)
    bounds = torch.cumsum(torch.bincount(codes[order]), 0).tolist()
    radius = torch.empty(n_used, dtype=cont.dtype, device=cont.device)
    k_i = torch.empty(n_used, dtype=torch.int64, device=cont.device)
    n_label = torch.empty(n_used, dtype=torch.int64, device=cont.device)
    start = 0
    algos = set()
    for end in bounds:
        if end == start:  # a label dropped as a singleton
            continue
        rows = order[start:end]
        kk = min(k, end - start - 1)
        r, algo = kth_distance(cont[rows], kk, metric=metric, algorithm=algorithm, max_memory=max_memory)
        algos.add(algo)
        radius[rows] = r
        k_i[rows] = kk
        n_label[rows] = end - start
        start = end
    _check_nonzero(
        radius, f"the distance in {cont_name} to the k-th neighbour with the same discrete value", amount, ""
    )
    m = count_within(cont, radius, metric=metric, strict=True, algorithm=algorithm, max_memory=max_memory) + 1
    terms = ross_terms(n_used, _host(k_i), _host(n_label), _host(m))
    return terms, radius, n_used, int(keep.numel()) - n_used, "+".join(sorted(algos))


def _ross(
    labels: Samples,
    prep: _Prepared,
    cont_name: str,
    k: int,
    metric: str,
    std_err: bool,
    amount: float,
    algorithm: str,
    max_memory: int | None,
    params: dict[str, Any],
    transform: str,
    seed: Any,
    findings: Findings,
) -> Estimate:
    """Ross (2014) discrete–continuous MI; ``labels`` rows are the discrete values, ``prep`` the other side."""
    cont = prep.data
    terms, radius, n_used, n_dropped, algos = _ross_terms(
        labels.data, cont, k, metric, algorithm, max_memory, amount, cont_name
    )
    n = labels.n
    if n_dropped:
        side = labels.name
        message = (
            f"{n_dropped} of {n} rows ({n_dropped / n:.1%}) have a value of {side} seen only once; Ross's "
            f"estimator needs each discrete value at least twice and leaves them out, so the estimate "
            f"describes the other rows only"
        )
        if n_dropped > SINGLETON_MAX * n:
            raise ValueError(
                f"{message}: {side} looks like a whole-number measurement rather than categories; pass "
                f"discrete_{side}=False (KSG on both sides, whole numbers dithered by one step), or group the "
                f"rare values"
            )
        findings.warn("singletons", message + "; group the rare values to keep them", subject=side)
    _zero_distances(
        radius,
        _floor(prep.noise_sd, cont.shape[1]),
        f"{cont_name} among rows with the same discrete value",
        k,
        findings,
        _DUPLICATE_FIX,
    )
    extras = _data_extras(algos, cont, amount, transform)
    extras.update(estimator="Ross", n_used=n_used, n_dropped=n_dropped)

    def statistic(lab: torch.Tensor, con: torch.Tensor) -> float:
        return float(_ross_terms(lab, con, k, metric, algorithm, max_memory, amount, cont_name)[0].mean())

    return _result(
        terms,
        std_err,
        n_used,
        "ksg",
        params,
        extras,
        resample=(statistic, [labels.data, cont], k + 1, seed),
        findings=findings,
        nonnegative="mutual information",
    )


# -------------------------------------------------------------- KL divergence
@register("kl", "knn")
@requires("precision", "quantised", "duplicates", "shared-rows", "below-zero")
def knn_kl_divergence(
    p: Any,
    q: Any,
    *,
    k: int = 1,
    metric: str = "euclidean",
    std_err: bool = False,
    jitter: float | bool = DEFAULT_JITTER,
    seed: Any = None,
    device: Any = "auto",
    dtype: Any = None,
    algorithm: str = "auto",
    max_memory: int | None = None,
    transform: str = "scale",
) -> Estimate:
    r"""Wang–Kulkarni–Verdú k-nearest-neighbour estimate of D(P || Q).

    Implements Wang, Kulkarni & Verdú (2009), eq. (5) with :math:`k_i = l_i = k`:

    .. math::

        \hat D(P\|Q) = \frac{d}{n} \sum_{i=1}^{n} \log \frac{\nu_k(i)}{\rho_k(i)}
                        + \log \frac{m}{n - 1} ,

    where :math:`\rho_k(i)` is the distance from :math:`p_i` to its k-th
    nearest neighbour among the other :math:`n-1` points of ``p`` and
    :math:`\nu_k(i)` the distance to its k-th nearest neighbour among the
    :math:`m` points of ``q``. (The digamma terms of eq. (5) cancel for equal
    k.) Any norm works: the ball volumes cancel.

    Parameters
    ----------
    p, q : array-like, torch.Tensor or pandas objects, shapes (n, d), (m, d)
        Samples from P and from Q (continuous, same dimension).
    k : int
        Neighbour order, ``1 <= k <= min(n - 1, m)``.
    metric : {"euclidean", "chebyshev"}
    std_err : bool
        Also return a standard error from disjoint subsets of p and of q
        (the same fraction of each), as in :func:`knn_entropy` (same cost).
        Needs ``n >= 2 (k + 1)`` and q's subsets at least k rows.
    jitter : float or bool
        Tie-breaking noise in units of each column's standard deviation,
        within each sample: ``p``'s noise follows ``p``'s spread and ``q``'s
        follows ``q``'s, so a ``p`` far narrower than ``q`` keeps its
        neighbour structure (module notes).
    seed, device, dtype, algorithm, max_memory
        As in :func:`knn_entropy`.
    transform : {"scale", "none"}
        ``"scale"`` (default): divide each column of both samples by the
        same robust scale, that of ``p`` and ``q`` pooled (IQR/1.349). One
        scale for both keeps the map the same on both sides, so its Jacobian
        cancels in the divergence and the estimate is the same in any units;
        the pooled sample is used because it is symmetric in ``p`` and ``q``
        and has a positive spread whenever either sample does. ``"none"``:
        the given units. ``"copula"`` is refused (no exact Jacobian).

    Returns
    -------
    Estimate
        Divergence in nats (may be negative: never clipped); ``n`` is the
        size of ``p``.

    References
    ----------
    Q. Wang, S. R. Kulkarni and S. Verdú, "Divergence estimation for
    multidimensional densities via k-nearest-neighbor distances", IEEE
    Trans. Inf. Theory 55(5), 2392–2405 (2009), eq. (5).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p, q = rng.normal(0, 1, 5000), rng.normal(1, 1, 5000)
    >>> round(knn_kl_divergence(p, q, seed=0).value, 1)   # truth 0.5
    0.5
    """
    std_err, metric, algorithm, amount = _common(std_err, metric, algorithm, jitter)
    transform = check_transform(transform, quantity="kl")
    ps = check_samples(p, "p", device=device, dtype=dtype)
    qs = check_samples(q, "q", device=ps.data.device, dtype=dtype, offset=False if ps.offset is None else ps.offset)
    reject_discrete(ps, "kNN KL-divergence")
    reject_discrete(qs, "kNN KL-divergence")
    check_same_dim(ps, qs)
    check_same_device(ps, qs)
    n, m, d = ps.n, qs.n, ps.d
    k = check_int("k", k, low=1, high=min(n - 1, m), context=f" (n={n} rows in p, m={m} rows in q)")
    # Subsets keep p's and q's proportions; q's folds need k rows too.
    min_rows = max(k + 1, math.ceil(k * n / m))
    if std_err:
        check_std_err_rows(n, min_rows)
    findings = Findings()
    _check_shared(ps, qs, findings)
    scales = None
    if transform == "scale":
        scales = robust_scale(torch.cat([ps.data, qs.data]), "p and q pooled", ps.columns or qs.columns)
    # One grid and one centre for both samples: the divergence of the dithered (shifted) pair is the same.
    pooled = Samples(
        torch.cat([ps.data, qs.data]),
        False,
        "(p, q)",
        ps.columns or qs.columns,
        column_discrete=[False] * d,
        source_eps=[max(a, b) for a, b in zip(ps.source_eps, qs.source_eps)],
        offset=ps.offset,
    )
    plan = plan_dither(pooled, findings, quantity="kl", method="kNN KL-divergence")
    centre = _centre(pooled.profile())
    noise = _Noise(seed, ps.data.device)
    pp = _prepare(ps, transform, noise, plan, amount, scales=scales, centre=centre)
    pq = _prepare(qs, transform, noise, plan, amount, scales=scales, centre=centre)
    pd_, qd_ = pp.data, pq.data
    terms, algo, rho = _wkv_terms(pd_, qd_, k, metric, algorithm, max_memory, amount)
    _zero_distances(rho, _floor(pp.noise_sd, d), "p", k, findings, _DUPLICATE_FIX)
    params = dict(
        k=k,
        metric=metric,
        std_err=std_err,
        jitter=jitter,
        seed=seed,
        device=device,
        dtype=dtype,
        algorithm=algorithm,
        max_memory=max_memory,
        transform=transform,
    )

    def statistic(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(_wkv_terms(a, b, k, metric, algorithm, max_memory, amount)[0].mean())

    return _result(
        terms,
        std_err,
        n,
        "knn",
        params,
        _data_extras(algo, pd_, amount, transform),
        resample=(statistic, [pd_, qd_], min_rows, seed),
        findings=findings,
        nonnegative="KL divergence",
    )


def _check_shared(ps: Samples, qs: Samples, findings: Findings) -> None:
    """Refuse (or doubt) rows of ``p`` copied into ``q``: the divergence needs independent samples.

    Rows repeat in both samples when the data sit on a grid; only the
    shared rows beyond what the repeats within ``p`` predict (twice that,
    plus three of its Poisson standard deviations) count as copies.
    """
    shared, expected = shared_rows(ps.data, qs.data)
    excess = shared - (2.0 * expected + 3.0 * math.sqrt(expected))
    if excess <= 0:
        return
    n = ps.n
    explained = f" (repeated values explain about {expected:.0f})" if expected >= 1 else ""
    message = (
        f"{shared} rows shared by p and q ({shared / n:.1%} of p){explained}: the kNN divergence needs "
        f"independent samples, and a row of p copied into q is its own nearest neighbour in q at distance "
        f"0, which drives log(nu / rho) towards -inf (the tie-breaking jitter only hides it, at about "
        f"log(jitter) per row and dimension); drop the shared rows from q (q[~np.isin(q, p).all(1)] for "
        f"exact copies) or draw q independently of p"
    )
    if excess > SHARED_MAX * n:
        raise ValueError(message)
    findings.warn("shared-rows", message, subject="q")


def _wkv_terms(
    pd_: torch.Tensor, qd_: torch.Tensor, k: int, metric: str, algorithm: str, max_memory: int | None, amount: float
) -> tuple[np.ndarray | torch.Tensor, str, torch.Tensor]:
    """Per-point terms of eq. (5) for (prepared) samples of P and Q, the search path and ``rho``."""
    n, d = pd_.shape
    m = qd_.shape[0]
    rho, algo = kth_distance(pd_, k, metric=metric, algorithm=algorithm, max_memory=max_memory)
    _check_nonzero(rho, "the distance to the k-th nearest neighbour within p", amount, "")
    nu, _ = kth_distance(pd_, k, ref=qd_, metric=metric, algorithm=algorithm, max_memory=max_memory)
    _check_nonzero(nu, "the distance from p to its k-th nearest neighbour in q (rows shared by p and q)", amount, "")
    return wkv_kl_terms(log64(_host(nu)), log64(_host(rho)), n, m, d), algo, rho
