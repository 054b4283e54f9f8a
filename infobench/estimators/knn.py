"""k-nearest-neighbour estimators of entropy, mutual information and KL divergence.

* :func:`kl_entropy` — Kozachenko–Leonenko differential entropy
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
neighbour distance (``log 0 = -inf``) or an ambiguous neighbour order. By
default every continuous column gets seeded Gaussian noise with standard
deviation ``jitter * std(column)`` (``jitter=1e-10``, as scikit-learn does
after scaling to unit variance), and at least four units in the last place of
the column's largest magnitude so the noise is never lost to rounding.
``seed`` makes it reproducible; with ``seed=None`` the noise differs between
calls by ~1e-10 of a column's spread, which moves an estimate only where ties
exist. ``jitter=0`` (or ``False``) turns it off; a zero neighbour distance
then raises ``ValueError`` naming ``jitter``. Jitter only breaks ties: data
that are mostly duplicates are discrete, and should be declared so
(``discrete_x=`` / ``discrete_y=``) or estimated with the histogram method.
The noise is added after the ``transform`` and scaled per sample: a KL
divergence's ``p`` gets noise from ``p``'s spread and ``q`` from ``q``'s.

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
from typing import Any

import numpy as np
import torch

from infobench._validation import (
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
)
from infobench.estimators._neighbors import (
    ALGORITHMS,
    METRICS,
    count_within,
    kth_distance,
    ksg_counts,
)
from infobench.estimators._transforms import (
    Transformed,
    check_squares,
    check_transform,
    robust_scale,
    transform_columns,
)
from infobench.estimators._uncertainty import check_std_err_rows, subsample_std_err
from infobench.estimators.terms import kl_entropy_terms, ksg_terms, log64, ross_terms, wkv_kl_terms
from infobench.estimators.base import Estimate, register

__all__ = ["DEFAULT_JITTER", "kl_entropy", "ksg_mutual_information", "knn_kl_divergence"]

DEFAULT_JITTER = 1e-10
DISCRETE_CHOICES = ("auto", "x", "y", "none")


# ---------------------------------------------------------------- helpers
def _jitter_amount(jitter: Any) -> float:
    """``True`` -> the default amount, ``False`` -> 0, else a finite float >= 0."""
    if isinstance(jitter, bool):
        return DEFAULT_JITTER if jitter else 0.0
    if not isinstance(jitter, numbers.Real):
        raise TypeError(f"jitter must be True, False or a number >= 0; got {jitter!r}")
    return check_float("jitter", jitter, low=0.0)


def _host(t: torch.Tensor):
    """CPU tensors as zero-copy numpy arrays, others unchanged.

    Elementwise work on the CPU runs in numpy: single-threaded, it pays no
    thread barrier per call, which dominates small torch calls on shared cores.
    """
    return t.numpy() if t.device.type == "cpu" else t


class _Noise:
    """Seeded tie-breaking jitter: numpy draws on the CPU, torch draws on accelerators."""

    def __init__(self, seed: Any, device: torch.device):
        self.cpu = device.type == "cpu"
        if self.cpu:
            self.rng = as_generator(seed)
        else:
            self.gen = as_torch_generator(seed, device)

    def add(self, t: torch.Tensor, amount: float) -> torch.Tensor:
        """``t`` plus noise of sd ``amount * std(column)``, never in place.

        The floor of four units in the last place of the column's largest
        magnitude keeps the noise from vanishing when the spread is tiny
        relative to the values (or in float32).
        """
        if amount == 0.0:
            return t
        xp = np if self.cpu else torch
        a = _host(t)
        top = xp.abs(a).max(0)
        top = top if self.cpu else top.values
        spread = a.std(0, ddof=1) if self.cpu else a.std(0)
        if a.shape[0] < 2:
            spread = top
        eps = np.finfo(a.dtype).eps if self.cpu else torch.finfo(t.dtype).eps
        sd = xp.maximum(amount * spread, 4.0 * eps * top)
        if self.cpu:
            noise = self.rng.standard_normal(a.shape, dtype=a.dtype)
            noise *= sd
            noise += a
            return torch.from_numpy(noise)
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


def _result(terms, std_err: bool, n: int, method: str, params: dict, extras: dict, resample=None) -> Estimate:
    """The mean of ``terms``; with ``std_err``, the subsampling standard error of ``resample``.

    ``resample = (statistic, arrays, min_rows, seed)``: ``statistic(*subsets)``
    is the kernel's own value computation, run on disjoint subsets of
    ``arrays`` by :func:`~infobench.estimators._uncertainty.subsample_std_err`
    (the per-point terms share neighbours, so ``std(terms)/sqrt(n)`` is too small).
    """
    value = float(terms.mean())
    se = None
    if std_err:
        statistic, arrays, min_rows, seed = resample
        se = subsample_std_err(statistic, arrays, min_rows=min_rows, seed=seed)
    return Estimate(value=value, std_err=se, n=n, method=method, params=params, extras=extras)


def _common(std_err, metric, algorithm, jitter):
    std_err = check_bool("std_err", std_err)
    metric = check_choice("metric", metric, METRICS)
    algorithm = check_choice("algorithm", algorithm, ALGORITHMS)
    return std_err, metric, algorithm, _jitter_amount(jitter)


def _data_extras(algo: str, t: torch.Tensor, amount: float, transform: str = "none") -> dict:
    return {"algorithm": algo, "device": str(t.device), "dtype": str(t.dtype).replace("torch.", ""), "jitter": amount,
            "transform": transform}


def _transformed(s, transform: str, scales: list[float] | None = None) -> Transformed:
    """``s.data`` after ``transform``, with magnitudes whose squared distances fit the dtype."""
    tr = transform_columns(s.data, transform, name=s.name, columns=s.columns, scales=scales)
    check_squares(tr.data, s.name, transform)
    return tr


# ----------------------------------------------------------------- entropy
@register("entropy", "knn")
def kl_entropy(
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
        fewer, larger subsets below), about 3 estimates' time. Needs
        ``n >= 2 (k + 1)``.
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
    >>> round(kl_entropy(x, seed=0).value, 1)   # truth: log(2 pi e) = 2.838
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
    tr = _transformed(xs, transform)
    data = _Noise(seed, xs.data.device).add(tr.data, amount)
    terms, algo = _kl_terms(data, k, metric, algorithm, max_memory, amount)
    terms = terms + tr.log_jacobian
    params = dict(k=k, metric=metric, std_err=std_err, jitter=jitter, seed=seed, device=device, dtype=dtype,
                  algorithm=algorithm, max_memory=max_memory, transform=transform)
    extras = _data_extras(algo, data, amount, transform)
    extras["log_jacobian"] = tr.log_jacobian

    def statistic(a):
        return float(_kl_terms(a, k, metric, algorithm, max_memory, amount)[0].mean())

    return _result(terms, std_err, n, "knn", params, extras, resample=(statistic, [data], k + 1, seed))


def _kl_terms(data, k, metric, algorithm, max_memory, amount):
    """Per-point terms of eq. (20) on ``data`` (transformed, jittered rows), and the search path."""
    n, d = data.shape
    r, algo = kth_distance(data, k, metric=metric, algorithm=algorithm, max_memory=max_memory)
    _check_nonzero(r, "the distance to the k-th nearest neighbour in x", amount, "")
    return kl_entropy_terms(log64(_host(r)), n, d, k, metric), algo


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


def _discrete_mode(discrete_x: Any, discrete_y: Any, discrete: Any, xs, ys) -> str:
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
        in :func:`kl_entropy` (same cost). Needs ``n >= 2 (k + 1)``.
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
        As in :func:`kl_entropy`.
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
        raise ValueError(f"balance_sides=True needs metric='euclidean' (it divides each side by sqrt(columns), the "
                         f"growth of a euclidean norm); got metric={metric!r}")
    xs = check_samples(x, "x", device=device, dtype=dtype)
    ys = check_samples(y, "y", device=xs.data.device, dtype=dtype)
    check_same_length(xs, ys)
    check_same_device(xs, ys)
    mode = _discrete_mode(discrete_x, discrete_y, discrete, xs, ys)
    n = xs.n
    k = check_k(k, n)
    params = dict(k=k, variant=variant, metric=metric, std_err=std_err, discrete_x=discrete_x,
                  discrete_y=discrete_y, jitter=jitter, seed=seed, device=device, dtype=dtype,
                  algorithm=algorithm, max_memory=max_memory, transform=transform, balance_sides=balance_sides,
                  discrete=discrete)
    if std_err:
        check_std_err_rows(n, k + 1)
    noise = _Noise(seed, xs.data.device)
    if mode != "none":
        labels, cont = (xs, ys) if mode == "x" else (ys, xs)
        return _ross(labels.data, noise.add(_transformed(cont, transform).data, amount), cont.name, k, metric,
                     std_err, amount, algorithm, max_memory, params, transform, seed)
    xd = noise.add(_transformed(xs, transform).data, amount)
    yd = noise.add(_transformed(ys, transform).data, amount)
    if balance_sides:
        xd, yd = xd / math.sqrt(xs.d), yd / math.sqrt(ys.d)
    terms, algo = _ksg_terms(xd, yd, k, variant, metric, algorithm, max_memory, amount)
    extras = _data_extras(algo, xd, amount, transform)
    extras["estimator"] = f"KSG-{variant}"
    extras["balance_sides"] = balance_sides

    def statistic(a, b):
        return float(_ksg_terms(a, b, k, variant, metric, algorithm, max_memory, amount)[0].mean())

    return _result(terms, std_err, n, "ksg", params, extras, resample=(statistic, [xd, yd], k + 1, seed))


def _ksg_terms(xd, yd, k, variant, metric, algorithm, max_memory, amount):
    """Per-point terms of eq. (8) or (9) on paired (transformed, jittered) rows, and the search path."""
    n = xd.shape[0]
    res = ksg_counts(xd, yd, k, metric=metric, variant=variant, algorithm=algorithm, max_memory=max_memory)
    _check_nonzero(res.eps, "the joint distance to the k-th nearest neighbour", amount,
                   ", or declare a discrete side with discrete_x=True or discrete_y=True")
    nx, ny = _host(res.nx), _host(res.ny)
    return ksg_terms(nx, ny, n, k, variant), res.algorithm


def _ross(labels, cont, cont_name, k, metric, std_err, amount, algorithm, max_memory, params, transform,
          seed=None) -> Estimate:
    """Ross (2014) discrete–continuous MI; ``labels`` rows are the discrete values."""
    all_labels, all_cont = labels, cont
    _, codes, sizes = torch.unique(labels, dim=0, return_inverse=True, return_counts=True)
    keep = sizes[codes] > 1
    n_used = int(keep.sum())
    if n_used < 2:
        raise ValueError(
            "every value of the discrete variable occurs only once: Ross's estimator needs repeated "
            "values (is the discrete side really discrete? otherwise pass discrete='none')"
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
    _check_nonzero(radius, f"the distance in {cont_name} to the k-th neighbour with the same discrete value",
                   amount, "")
    m = count_within(cont, radius, metric=metric, strict=True, algorithm=algorithm, max_memory=max_memory) + 1
    terms = ross_terms(n_used, _host(k_i), _host(n_label), _host(m))
    extras = _data_extras("+".join(sorted(algos)), cont, amount, transform)
    extras.update(estimator="Ross", n_used=n_used, n_dropped=int(keep.numel()) - n_used)

    def statistic(lab, con):
        return _ross(lab, con, cont_name, k, metric, False, amount, algorithm, max_memory, params, transform).value

    return _result(terms, std_err, n_used, "ksg", params, extras,
                   resample=(statistic, [all_labels, all_cont], k + 1, seed))


# -------------------------------------------------------------- KL divergence
@register("kl", "knn")
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
        (the same fraction of each), as in :func:`kl_entropy` (same cost).
        Needs ``n >= 2 (k + 1)`` and q's subsets at least k rows.
    jitter : float or bool
        Tie-breaking noise in units of each column's standard deviation,
        within each sample: ``p``'s noise follows ``p``'s spread and ``q``'s
        follows ``q``'s, so a ``p`` far narrower than ``q`` keeps its
        neighbour structure (module notes).
    seed, device, dtype, algorithm, max_memory
        As in :func:`kl_entropy`.
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
    qs = check_samples(q, "q", device=ps.data.device, dtype=dtype)
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
    scales = None
    if transform == "scale":
        scales = robust_scale(torch.cat([ps.data, qs.data]), "p and q pooled", ps.columns or qs.columns)
    noise = _Noise(seed, ps.data.device)
    pd_ = noise.add(_transformed(ps, transform, scales).data, amount)
    qd_ = noise.add(_transformed(qs, transform, scales).data, amount)
    terms, algo = _wkv_terms(pd_, qd_, k, metric, algorithm, max_memory, amount)
    params = dict(k=k, metric=metric, std_err=std_err, jitter=jitter, seed=seed, device=device, dtype=dtype,
                  algorithm=algorithm, max_memory=max_memory, transform=transform)

    def statistic(a, b):
        return float(_wkv_terms(a, b, k, metric, algorithm, max_memory, amount)[0].mean())

    return _result(terms, std_err, n, "knn", params, _data_extras(algo, pd_, amount, transform),
                   resample=(statistic, [pd_, qd_], min_rows, seed))


def _wkv_terms(pd_, qd_, k, metric, algorithm, max_memory, amount):
    """Per-point terms of eq. (5) for (transformed, jittered) samples of P and Q, and the search path."""
    n, d = pd_.shape
    m = qd_.shape[0]
    rho, algo = kth_distance(pd_, k, metric=metric, algorithm=algorithm, max_memory=max_memory)
    _check_nonzero(rho, "the distance to the k-th nearest neighbour within p", amount, "")
    nu, _ = kth_distance(pd_, k, ref=qd_, metric=metric, algorithm=algorithm, max_memory=max_memory)
    _check_nonzero(nu, "the distance from p to its k-th nearest neighbour in q (rows shared by p and q)",
                   amount, "")
    return wkv_kl_terms(log64(_host(nu)), log64(_host(rho)), n, m, d), algo
