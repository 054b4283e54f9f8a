r"""``method="auto"``: pick a registered estimator from the data, say which and why.

The choice uses the data types, the dimensions, ``n`` and two cheap
diagnostics computed on at most :data:`DIAGNOSTIC_ROWS` rows:

* **Gaussianity** (Mardia 1970, "Measures of multivariate skewness and
  kurtosis with applications", Biometrika 57(3), 519–530, eq. (2.9) and
  §3): the multivariate kurtosis
  :math:`b_{2,d} = \frac1n\sum_i [(z_i-\bar z)^T S^{-1}(z_i-\bar z)]^2`
  of the joint sample is :math:`d(d+2)` for Gaussian data with standard
  error :math:`\sqrt{8d(d+2)/n}`; ``|kurtosis_z| <`` :data:`GAUSSIAN_Z` (the standardised
  difference) is read as "consistent with Gaussian" when the Mardia
  skewness (eq. (2.8), as a chi-square z-score, on at most
  :data:`SKEWNESS_ROWS` rows) also stays below :data:`GAUSSIAN_Z`. Computed on the raw
  sample (for the Gaussian closed form) and on its per-coordinate normal
  scores :math:`\Phi^{-1}(\mathrm{rank}/(n+1))` (the Gaussian copula; Ince
  et al. 2017, Hum. Brain Mapp. 38(3), 1541–1573).
* **Tail weight**: per coordinate, the ratio of the 1–99% to the 25–75%
  quantile range divided by its Gaussian value (3.4475); 1 for Gaussian
  tails, about 1.7 for Student-t with 3 degrees of freedom, 2.5 for 2, 9
  for Cauchy. ``tail_weight`` is its maximum over coordinates; above
  :data:`HEAVY_TAIL` (1.3) tails are called heavy. The threshold sits below
  Student-t with 5 degrees of freedom (1.34) because KSG on the copula is
  already the better estimate there: on ``student-t-nu5-dense-x2-y2-rho0.5``
  (truth 0.345, n = 5,000, 10 seeds) RMSE 0.015 on the copula against 0.024
  on the scaled sample. At tail weights near 1.2 (the Gaussian mixtures in
  3–5 dimensions per side) the copula was the worse choice (RMSE 0.024 vs
  0.010 on ``mixture-random-x3-y3-k4-s5``, 5 seeds).

A side is discrete when every column is: boolean, categorical, integer
codes whose values repeat (not whole-number measurements; see
:class:`infobench._validation.Samples`), or floats of a few levels (fewer
than 2 grid steps per robust sd, :func:`~infobench.estimators._conditions.looks_categorical`:
a coin stored as 0.0 / 1.0), the last with an info diagnostic ``routed``
that says so. Rules for mutual information, in order (the first that
applies wins):

1. both sides discrete: ``histogram`` (discrete plug-in);
2. one side discrete: ``ksg`` (Ross's mixed estimator);
3. ``dx + dy >`` :data:`GCMI_MIN_DIMS`, the copula looks Gaussian and
   ``gcmi`` is registered: ``gcmi`` (the copula estimator is exact in
   expectation there, KSG is biased). In fewer dimensions KSG is nearly
   unbiased, while Mardia's tests have too little power to tell a
   non-Gaussian copula from a Gaussian one (on ``uniform-noise-d1-eps0.75``,
   where gcmi, a lower bound for a non-Gaussian copula, reads 0.18 of 0.33
   nats, the copula passed the tests in 2 of 3 seeds), so they go on;
4. the joint sample looks Gaussian (kurtosis and skewness): ``gaussian`` with its bias correction
   (the efficient estimator there; KSG loses most of the MI in 25+25 dims);
5. heavy tails and ``ksg`` accepts ``transform``: ``ksg`` on the copula
   (``transform="copula"``: MI is invariant under monotone maps, and KSG's
   neighbourhoods are distorted by heavy tails);
6. otherwise ``ksg`` (k=3).

In rules 5 and 6, when ``dx != dy``, KSG runs with ``balance_sides=True``
(each side divided by the square root of its number of columns, so the
larger side's euclidean norms do not decide every joint neighbour; see
:func:`~infobench.estimators.knn.ksg_mutual_information`). On
``mixture-random-x2-y10-k4-s8`` (truth 0.821, n = 5,000, 3 seeds) this reads
0.760 against 0.683 unbalanced and 0.726 for NPEET's max-norm KSG.

For entropy: discrete columns -> ``histogram`` (all discrete: the discrete
plug-in; some: those counted, the others binned); a Gaussian-looking
sample -> ``gaussian`` with its bias correction; otherwise ``knn``
(Kozachenko–Leonenko, k=3, which dithers values on a fine grid).

The chosen method runs through the registry (:func:`run_method`), never a
copy of it; methods that other modules register later (``gcmi``, the
``transform`` parameter) are used as soon as they exist. ``extras`` records
``chosen`` (method), ``chosen_params``, ``reason`` (one sentence),
``diagnostics`` and the chosen estimate's own ``extras``. The standard error
is the chosen method's (same definition and cost).
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
from scipy import special

from infobench._validation import Samples, check_bool, check_pair, check_samples
from infobench.diagnostics import Diagnostic, merge
from infobench.estimators._conditions import looks_categorical, requires
from infobench.estimators._transforms import normal_scores
from infobench.estimators.base import Estimate, get_method, methods_for, register, run_method

__all__ = ["auto_entropy", "auto_mutual_information", "diagnostics"]

# Diagnostics use at most this many rows (a fixed, evenly spaced subset):
# O(rows * d^2) for the kurtosis, O(rows log rows * d) for the ranks.
DIAGNOSTIC_ROWS = 5000
SKEWNESS_ROWS = 1000
GAUSSIAN_Z = 4.0
# gcmi only above this many joint dimensions (rule 3 of the module notes).
GCMI_MIN_DIMS = 4
HEAVY_TAIL = 1.3
# Quantile-range ratio (q99 - q01) / (q75 - q25) of a normal distribution.
_GAUSS_TAIL_RATIO = float(2 * special.ndtri(0.99) / (2 * special.ndtri(0.75)))


def _subsample(a: np.ndarray, rows: int = DIAGNOSTIC_ROWS) -> np.ndarray:
    if len(a) <= rows:
        return a
    return a[np.linspace(0, len(a) - 1, rows).astype(np.int64)]


def _whitened(a: np.ndarray) -> np.ndarray | None:
    """Rows of ``a`` centred and whitened by the (ddof=0) sample covariance, as columns ``(d, n)``; None if singular."""
    z = a - a.mean(axis=0)
    try:
        chol = np.linalg.cholesky(z.T @ z / len(a))
    except np.linalg.LinAlgError:
        return None
    return np.linalg.solve(chol, z.T)


def mardia_kurtosis_z(a: np.ndarray, *, marginal_excess: float = 0.0) -> float:
    """Standardised Mardia kurtosis ``(b_2 - E b_2) / sqrt(8 d (d+2) / n)`` of the rows of ``a``.

    For Gaussian rows ``E b_2 = d(d+2)(n-1)/(n+1)`` exactly and ``8 d(d+2)/n``
    is the asymptotic variance (Mardia 1970, §3; Mardia 1974, Sankhyā B 36,
    115–128), so the value is about N(0, 1). ``marginal_excess`` adds
    ``d * marginal_excess`` to ``E b_2``: the excess kurtosis every coordinate
    has by construction (normal scores of ranks are bounded, their excess is
    slightly negative). ``inf`` when the sample covariance is singular.
    Cost O(n d^2).
    """
    n, d = a.shape
    w = _whitened(a)
    if w is None:
        return math.inf
    b2 = float(np.mean(np.sum(w * w, axis=0) ** 2))
    expected = d * (d + 2) * (n - 1) / (n + 1) + d * marginal_excess
    z: float = (b2 - expected) / math.sqrt(8.0 * d * (d + 2) / n)
    return z


def _score_excess(n: int) -> float:
    """Excess kurtosis of the normal scores ``Phi^{-1}(i / (n + 1))``, i = 1..n (a fixed grid)."""
    g = special.ndtri(np.arange(1, n + 1) / (n + 1))
    return float(np.mean(g**4) / np.mean(g**2) ** 2 - 3.0)


def mardia_skewness_z(a: np.ndarray) -> float:
    """Mardia skewness as a z-score: ``n b_1 / 6`` is about chi-square with ``f = d(d+1)(d+2)/6`` degrees.

    ``b_1 = n^-2 sum_ij [(z_i - m)^T S^-1 (z_j - m)]^3`` (Mardia 1970, eq. (2.8)),
    returned as ``(n b_1 / 6 - f) / sqrt(2 f)``. Cost O(n^2 d): call it on at
    most :data:`SKEWNESS_ROWS` rows.
    """
    n, d = a.shape
    w = _whitened(a)
    if w is None:
        return math.inf
    g = w.T @ w
    b1 = float(np.mean(g * g * g))  # products, not ** 3: numpy's float pow is ~70x slower here
    f = d * (d + 1) * (d + 2) / 6.0
    z: float = (n * b1 / 6.0 - f) / math.sqrt(2.0 * f)
    return z


def tail_weight(a: np.ndarray) -> float:
    """Max over columns of ``(q99 - q01) / (q75 - q25)`` divided by its Gaussian value (1 for normal tails)."""
    q = np.quantile(a, [0.01, 0.25, 0.75, 0.99], axis=0)
    mid = q[2] - q[1]
    ratio = np.where(mid > 0, (q[3] - q[0]) / np.where(mid > 0, mid, 1.0), math.inf)
    return float(ratio.max() / _GAUSS_TAIL_RATIO)


def diagnostics(a: np.ndarray) -> dict[str, float]:
    """Tail weight and Mardia kurtosis z of the raw sample and of its Gaussian copula (rows subsampled)."""
    a = _subsample(np.asarray(a, dtype=np.float64))
    scores = normal_scores(a)
    return {
        "rows": int(len(a)),
        "tail_weight": tail_weight(a),
        "kurtosis_z": mardia_kurtosis_z(a),
        "skewness_z": mardia_skewness_z(_subsample(a, SKEWNESS_ROWS)),
        "copula_kurtosis_z": mardia_kurtosis_z(scores, marginal_excess=_score_excess(len(a))),
        "copula_skewness_z": mardia_skewness_z(_subsample(scores, SKEWNESS_ROWS)),
    }


def _gaussian_like(diag: dict[str, float], prefix: str = "") -> bool:
    """Mardia kurtosis and skewness both within :data:`GAUSSIAN_Z` of their Gaussian values."""
    return abs(diag[prefix + "kurtosis_z"]) < GAUSSIAN_Z and abs(diag[prefix + "skewness_z"]) < GAUSSIAN_Z


def _accepts(quantity: str, method: str, name: str) -> bool:
    return name in get_method(quantity, method).params


def _forward(quantity: str, method: str, common: dict[str, Any], chosen: dict[str, Any]) -> dict[str, Any]:
    """The chosen parameters plus the shared ones (std_err, seed, device, dtype) the method takes."""
    accepted = get_method(quantity, method).params
    out = {k: v for k, v in common.items() if k in accepted}
    out.update(chosen)
    return out


def _discrete_params(method: str, side_x: bool, side_y: bool) -> dict[str, Any]:
    """Tell ``method`` which sides are discrete, in whichever naming it takes (``discrete`` or ``discrete_x/_y``)."""
    accepted = get_method("mi", method).params
    if "discrete_x" in accepted:
        return {"discrete_x": side_x, "discrete_y": side_y}
    if "discrete" in accepted and side_x != side_y:
        return {"discrete": "x" if side_x else "y"}
    return {}


def _pick_mi(
    dx: int, dy: int, n: int, disc_x: bool, disc_y: bool, diag: dict[str, Any] | None
) -> tuple[str, dict[str, Any], str]:
    if disc_x and disc_y:
        return "histogram", _discrete_params("histogram", True, True), "both sides are discrete: plug-in histogram"
    if disc_x or disc_y:
        side = "X" if disc_x else "Y"
        return (
            "ksg",
            _discrete_params("ksg", disc_x, disc_y),
            f"{side} is discrete and the other side continuous: KSG in Ross's mixed mode",
        )
    assert diag is not None
    if dx + dy > GCMI_MIN_DIMS and "gcmi" in methods_for("mi") and _gaussian_like(diag, "copula_"):
        return (
            "gcmi",
            {},
            f"the copula looks Gaussian (Mardia kurtosis z={diag['copula_kurtosis_z']:.2f}, "
            f"skewness z={diag['copula_skewness_z']:.2f}): Gaussian-copula MI",
        )
    if _gaussian_like(diag) and n > dx + dy + 1:
        return (
            "gaussian",
            {"bias_correction": True},
            f"the joint sample looks Gaussian (Mardia kurtosis z={diag['kurtosis_z']:.2f}, "
            f"skewness z={diag['skewness_z']:.2f}, d={dx + dy}): bias-corrected Gaussian MI",
        )
    balance, balance_note = {}, ""
    if dx != dy and _accepts("mi", "ksg", "balance_sides"):
        balance, balance_note = {"balance_sides": True}, f", sides balanced ({dx} vs {dy} columns)"
    if diag["tail_weight"] > HEAVY_TAIL and _accepts("mi", "ksg", "transform"):
        return (
            "ksg",
            {"transform": "copula", **balance},
            f"heavy tails (tail weight {diag['tail_weight']:.2f} > {HEAVY_TAIL}): KSG on the Gaussian copula"
            + balance_note,
        )
    return "ksg", balance, "continuous, not Gaussian: KSG (k=3)" + balance_note


def _categorical(s: Samples) -> list[bool]:
    """Per column: discrete by type (:attr:`Samples.column_discrete`) or categories stored as numbers."""
    prof = None
    out = []
    for j, flag in enumerate(s.column_discrete):
        if not flag:
            prof = s.profile() if prof is None else prof
            flag = looks_categorical(prof[j])
        out.append(flag)
    return out


def _stored_as_numbers(s: Samples, cats: list[bool]) -> list[str]:
    """Labels of the columns read as categories although their type is continuous."""
    return [s.label(j) for j, c in enumerate(cats) if c and not s.column_discrete[j]]


def _routed(labels: list[str], method: str, why: str) -> tuple[Diagnostic, ...]:
    """The ``routed`` info diagnostic for columns auto read as categories."""
    if not labels:
        return ()
    return (
        Diagnostic(
            "routed",
            (
                f"{', '.join(labels)} {'holds' if len(labels) == 1 else 'hold'} a few levels stored as numbers (fewer "
                f"than 2 grid steps per robust sd): read as categories and estimated with {why}; pass "
                f"discrete=False (discrete_x / discrete_y) to override"
            ),
            subject=", ".join(labels),
            severity="info",
        ),
    )


def _run_choice(
    quantity: str,
    data: tuple[Any, ...],
    choice: tuple[str, dict[str, Any], str],
    diag: dict[str, Any] | None,
    common: dict[str, Any],
    params: dict[str, Any],
    notes: tuple[Diagnostic, ...] = (),
) -> Estimate:
    """Run the chosen method through the registry; return its estimate as auto's, with the choice in extras."""
    method, chosen, reason = choice
    est = run_method(quantity, method, data, _forward(quantity, method, common, chosen))
    extras = {
        "chosen": method,
        "chosen_params": dict(chosen),
        "reason": reason,
        "diagnostics": diag or {},
        "chosen_extras": dict(est.extras),
    }
    return Estimate(
        est.value,
        est.std_err,
        est.n,
        "auto",
        params,
        0.0,
        extras,
        diagnostics=merge(notes, est.diagnostics),
        std_err_df=est.std_err_df,
    )


@register("mi", "auto")
@requires("routed")
def auto_mutual_information(
    x: Any,
    y: Any,
    *,
    discrete_x: bool | None = None,
    discrete_y: bool | None = None,
    std_err: bool = False,
    seed: Any = None,
    device: Any = "auto",
    dtype: Any = None,
) -> Estimate:
    """Choose an MI estimator from the data (module docstring: rules and diagnostics) and run it.

    Parameters
    ----------
    x, y : array-like, torch.Tensor or pandas objects, shapes (n, dx), (n, dy)
        Paired samples; integer columns whose values repeat (categories, not
        whole-number measurements) are discrete, and so are float columns of
        a few levels (fewer than 2 grid steps per robust sd: a coin stored as
        0.0 / 1.0), with an info diagnostic ``routed``.
    discrete_x, discrete_y : bool or None
        Whether each side is discrete (the names of the histogram and KSG
        methods). None (default): inferred as above; True/False declares it.
    std_err : bool
        Also return the chosen method's standard error (its definition and cost).
    seed, device, dtype
        Passed to the chosen method where it takes them.

    Returns
    -------
    Estimate
        The chosen method's value; ``extras``: ``chosen``, ``chosen_params``,
        ``reason``, ``diagnostics``, ``chosen_extras``.
    """
    std_err = check_bool("std_err", std_err)
    sx, sy = check_pair(x, y, device="cpu", dtype="float64")
    cats_x = _categorical(sx) if discrete_x is None else None
    cats_y = _categorical(sy) if discrete_y is None else None
    disc_x = all(cast(list[bool], cats_x)) if discrete_x is None else check_bool("discrete_x", discrete_x)
    disc_y = all(cast(list[bool], cats_y)) if discrete_y is None else check_bool("discrete_y", discrete_y)
    diag = None
    if not (disc_x or disc_y):
        diag = diagnostics(np.hstack([sx.data.numpy(), sy.data.numpy()]))
    common = dict(std_err=std_err, seed=seed, device=device, dtype=dtype)
    choice = _pick_mi(sx.d, sy.d, sx.n, disc_x, disc_y, diag)
    labels = (_stored_as_numbers(sx, cats_x) if disc_x and cats_x else []) + (
        _stored_as_numbers(sy, cats_y) if disc_y and cats_y else []
    )
    notes = _routed(labels, choice[0], choice[2])
    if notes:
        choice = (choice[0], choice[1], f"{choice[2]} ({', '.join(labels)} read as categories)")
    return _run_choice(
        "mi", (x, y), choice, diag, common, dict(discrete_x=discrete_x, discrete_y=discrete_y, **common), notes
    )


@register("entropy", "auto")
@requires("routed")
def auto_entropy(
    x: Any,
    *,
    std_err: bool = False,
    seed: Any = None,
    device: Any = "auto",
    dtype: Any = None,
) -> Estimate:
    """Choose an entropy estimator from the data (module docstring: rules and diagnostics) and run it.

    Parameters
    ----------
    x : array-like, torch.Tensor or pandas object, shape (n, d)
        Samples; categories (integer codes whose values repeat, booleans,
        pandas categoricals, and float columns of a few levels, with an info
        diagnostic ``routed``) are counted by the histogram plug-in, with the
        other columns binned.
    std_err, seed, device, dtype
        As in :func:`auto_mutual_information`.

    Returns
    -------
    Estimate
        The chosen method's value with the same ``extras`` keys as
        :func:`auto_mutual_information`.
    """
    std_err = check_bool("std_err", std_err)
    sx = check_samples(x, "x", device="cpu", dtype="float64")
    cats = _categorical(sx)
    diag = None
    notes: tuple[Diagnostic, ...] = ()
    chosen: dict[str, Any]
    if any(cats):
        method, chosen = "histogram", {}
        if all(cats):
            reason = "discrete sample: plug-in histogram"
            if _accepts("entropy", "histogram", "discrete"):
                chosen = {"discrete": True}
        else:
            reason = "discrete and continuous columns: histogram (categories counted, the other columns binned)"
            chosen = {"discrete": cats}
        labels = _stored_as_numbers(sx, cats)
        notes = _routed(labels, method, reason)
        if labels:
            reason += f" ({', '.join(labels)} read as categories)"
    else:
        diag = diagnostics(sx.data.numpy())
        if _gaussian_like(diag) and sx.n > sx.d + 1:
            method, chosen = "gaussian", {"bias_correction": True}
            reason = (
                f"the sample looks Gaussian (Mardia kurtosis z={diag['kurtosis_z']:.2f}, "
                f"skewness z={diag['skewness_z']:.2f}): bias-corrected Gaussian"
            )
        else:
            method, chosen, reason = "knn", {}, "continuous, not Gaussian: Kozachenko-Leonenko kNN (k=3)"
    common = dict(std_err=std_err, seed=seed, device=device, dtype=dtype)
    return _run_choice("entropy", (x,), (method, chosen, reason), diag, common, common, notes)
