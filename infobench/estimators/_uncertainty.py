"""Standard errors shared by the estimators.

Three routes, chosen per method from calibration measurements
(``benchmarks/bench_calibration.py``):

* :func:`subsample_std_err` — for estimators whose per-point terms are
  dependent (kNN entropy, KSG, kNN KL, histogram): the spread of the
  estimator itself over disjoint random subsets, rescaled to ``n`` with the
  root-n rate. The terms of a kNN estimate share neighbours, so
  ``std(terms) / sqrt(n)`` (:func:`mean_std_err`) is too small (by a factor
  0.55–0.85 at n = 1,000–10,000);
* :func:`mean_std_err` — ``std(terms, ddof=1) / sqrt(n)``, kept where it
  is calibrated (the KDE leave-one-out terms);
* :func:`bootstrap_std_err` — a seeded bootstrap over rows, for smooth
  statistics of moments (the Gaussian baselines). A bootstrap *with*
  replacement duplicates rows, which gives zero neighbour distances: it must
  never be used for a kNN estimator.

Every route refuses samples too small for a standard error with the same
rule, :func:`check_std_err_rows`. A standard error estimated from a few
pieces carries its degrees of freedom (:func:`subsample_df`; ``n_boot - 1``
for the bootstrap) in ``Estimate.std_err_df``, and intervals use Student's
t quantile with them (:meth:`infobench.Estimate.interval`).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import torch

from infobench._validation import as_generator, check_int, spawn_seeds

__all__ = [
    "mean_std_err",
    "bootstrap_std_err",
    "subsample_std_err",
    "subsample_plan",
    "subsample_df",
    "check_std_err_rows",
    "MAX_FOLDS",
    "FOLD_ROWS",
    "TARGET_DF",
]

#: Most disjoint subsets a partition is cut into (the smallest subsample is ``n / MAX_FOLDS``).
MAX_FOLDS = 10
#: Preferred rows per subset: fewer folds are cut until each has at least this many (if n allows).
FOLD_ROWS = 200
#: Degrees of freedom of the pooled variance: ``partitions * (folds - 1) >= TARGET_DF``
#: (relative noise of one standard error about ``1 / sqrt(2 * TARGET_DF)`` = 14 %).
TARGET_DF = 27


def check_std_err_rows(n: int, min_rows: int) -> None:
    """Refuse ``std_err=True`` when ``n`` is below ``2 * min_rows``.

    ``min_rows`` is the smallest sample the estimator accepts. A standard
    error needs at least two disjoint subsets the estimator can run on (and
    the spread of two or three points is no standard error: at ``n = 2`` the
    old rule returned 0.0). One rule for every estimator.
    """
    need = 2 * max(int(min_rows), 2)
    if n < need:
        raise ValueError(
            f"std_err=True needs n >= {need} samples (two disjoint subsets of at least {max(min_rows, 2)} "
            f"rows the estimator can run on); got n={n}: pass std_err=False or use more samples"
        )


def mean_std_err(terms: torch.Tensor | np.ndarray) -> float:
    """Standard error of the mean of per-point terms: ``s / sqrt(n)`` with ``ddof=1``.

    Exact for independent terms. Used only where the benchmark shows it is
    calibrated (KDE leave-one-out terms); kNN terms share neighbours and use
    :func:`subsample_std_err`. Cost: O(n).
    """
    t = torch.as_tensor(terms, dtype=torch.float64).flatten()
    n = t.numel()
    check_std_err_rows(n, 2)
    return float(t.std(unbiased=True).item() / math.sqrt(n))


def _take(a: Any, idx: np.ndarray) -> Any:
    if isinstance(a, torch.Tensor):
        return a[torch.as_tensor(idx, device=a.device)]
    return a[idx]


def bootstrap_std_err(
    statistic: Callable[..., float],
    arrays: Sequence[Any],
    *,
    n_boot: int = 100,
    seed: Any = None,
) -> float:
    """Bootstrap standard error of ``statistic(*arrays)`` resampling rows jointly.

    Never use it for kNN estimators: a resample with replacement repeats
    rows, and repeated rows are zero neighbour distances.

    Parameters
    ----------
    statistic : callable
        Maps row-resampled arrays (same types as given) to a float.
    arrays : sequence of torch.Tensor or numpy.ndarray
        Paired arrays with the same number of rows.
    n_boot : int
        Number of bootstrap replicates (>= 2).
    seed : int, Generator or None
        Seed for the row draws.

    Returns
    -------
    float
        Standard deviation (ddof=1) of the replicates, in the statistic's
        units. Cost: ``n_boot`` evaluations of ``statistic`` at size n.
    """
    n_boot = check_int("n_boot", n_boot, low=2)
    rng = as_generator(seed)
    n = len(arrays[0])
    reps = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, size=n)
        reps[b] = float(statistic(*[_take(a, idx) for a in arrays]))
    return float(np.std(reps, ddof=1))


def subsample_plan(n: int, min_rows: int = 2) -> tuple[int, int, int]:
    """``(folds, partitions, rows per fold)`` used by :func:`subsample_std_err` at size ``n``.

    ``folds = clip(n // max(FOLD_ROWS, min_rows), 2, MAX_FOLDS)`` subsets of
    ``n // folds`` rows each, and ``partitions = ceil(TARGET_DF / (folds - 1))``
    independent random partitions. Refuses (``ValueError`` naming
    ``std_err`` and ``n``) when two subsets of ``min_rows`` rows do not fit.
    """
    check_std_err_rows(n, min_rows)
    folds = min(MAX_FOLDS, max(2, n // max(FOLD_ROWS, min_rows)))
    while folds > 2 and n // folds < min_rows:
        folds -= 1
    partitions = math.ceil(TARGET_DF / (folds - 1))
    return folds, partitions, n // folds


def subsample_df(n: int, min_rows: int = 2, folds: int | None = None, partitions: int | None = None) -> int:
    """Degrees of freedom of :func:`subsample_std_err` at size ``n``: ``partitions * (folds - 1)``.

    The pooled variance is a sum of ``partitions`` sample variances of
    ``folds`` independent subset estimates, each with ``folds - 1`` degrees
    of freedom (27 for the default plan from n = 1,000 on). The partitions
    reuse the same rows, but each partition's fold-to-fold spread is its own
    draw given the data, so the pooled variance is as noisy as a chi-square
    with this many degrees of freedom (measured: the squared standard errors
    of the Kozachenko-Leonenko estimator in 10-d at n = 5,000 vary over 100
    seeds as 2 E^2 / 27.0). ``folds`` and ``partitions`` override the plan,
    as in :func:`subsample_std_err`.
    """
    plan_folds, plan_parts, _ = subsample_plan(n, min_rows)
    folds = plan_folds if folds is None else folds
    partitions = plan_parts if partitions is None else partitions
    return int(partitions * (folds - 1))


def subsample_std_err(
    statistic: Callable[..., float],
    arrays: Sequence[Any],
    *,
    min_rows: int = 2,
    seed: Any = None,
    folds: int | None = None,
    partitions: int | None = None,
) -> float:
    r"""Standard error of an estimator from its spread over disjoint subsamples.

    Each of ``partitions`` seeded random permutations of the rows is cut into
    ``folds`` disjoint subsets of :math:`m = \lfloor n / \text{folds} \rfloor`
    rows (the ``n - folds * m`` left-over rows differ between partitions),
    and ``statistic`` — the estimator's own value computation — runs on each
    subset. The subsets of one partition are independent samples of size
    :math:`m`, so their sample variance estimates :math:`\mathrm{Var}(\hat\theta_m)`
    with ``folds - 1`` degrees of freedom; the variances of the partitions
    are pooled and carried to size ``n`` with the root-n rate of these
    estimators, :math:`\mathrm{Var}(\hat\theta_n) = (m / n)\,\mathrm{Var}(\hat\theta_m)`:

    .. math::

        \widehat{\mathrm{se}}_n = \sqrt{\frac{m}{n}\,\frac{1}{P}\sum_{p=1}^{P}
            \frac{1}{F-1}\sum_{f=1}^{F}\bigl(\hat\theta_{p,f} - \bar\theta_{p}\bigr)^2 } .

    This is subsampling without replacement (Politis, Romano & Wolf 1999,
    ch. 2 and 3.3; with non-overlapping subsets as in Carlstein 1986): it
    makes no assumption on how the per-point terms depend on each other, and
    unlike a bootstrap with replacement it never repeats a row, so kNN
    estimators see no zero distances. Subsets are drawn without replacement
    from every array; arrays of different lengths (the two samples of a KL
    divergence) are each partitioned at the same fraction, fold ``f`` of one
    paired with fold ``f`` of the others; arrays of equal length share the
    permutation (paired rows stay paired).

    Parameters
    ----------
    statistic : callable
        ``statistic(*subsets) -> float``: the estimate on subsets of
        ``arrays`` (same types, rows taken).
    arrays : sequence of torch.Tensor or numpy.ndarray
        The data, rows first; the first array's length is ``n``.
    min_rows : int
        Smallest number of rows of the first array ``statistic`` accepts.
    seed : int, numpy/torch Generator or None
        Seed for the partitions (a child stream: an integer seed also used
        for jitter gives different draws here).
    folds, partitions : int or None
        Override the plan of :func:`subsample_plan` (defaults: up to 10
        folds of at least 200 rows, and 27 pooled degrees of freedom, i.e.
        3 partitions of 10 folds from n = 2,000 on).

    Returns
    -------
    float
        The standard error in the statistic's units.

    Notes
    -----
    Cost: ``partitions * folds`` evaluations at size ``n / folds`` — for
    the default plan at n >= 2,000, 30 evaluations at n / 10, about 3 full
    estimates for an O(n log n) estimator (3/10 of one for an O(n^2) one).
    The standard error itself is noisy by about
    :math:`1/\sqrt{2\,\text{df}}` = 14 % (df = 27, :func:`subsample_df`);
    its mean is calibrated (``benchmarks/bench_calibration.py``). Because of
    that noise, :math:`(\hat\theta_n - \theta)/\widehat{\mathrm{se}}_n` is
    Student's :math:`t_\text{df}`, not normal: the estimators return ``df`` as
    ``Estimate.std_err_df`` and :meth:`infobench.Estimate.interval` uses the
    t quantile (2.052 instead of 1.960 at 95 %; the normal one covers
    0.939). The root-n scaling is checked on the calibration tasks: the
    seed-to-seed :math:`n\,\mathrm{Var}(\hat\theta_n)` at ``n / 10`` and
    at ``n`` agree within their noise (``docs/validation/calibration.md``).
    Estimating the rate on the data itself (the variance at two subset
    sizes) would double the cost and be far noisier: the exponent from 10
    folds of ``n / 10`` rows (27 df) against 5 folds of ``n / 5`` (same
    cost, 12 df) is uncertain by :math:`\sqrt{2/27 + 2/12}/\ln 2 \approx
    0.7`, a factor up to :math:`10^{0.7/2} = 2.2` on a standard error
    carried from ``n / 10`` to ``n``.

    References
    ----------
    D. N. Politis, J. P. Romano and M. Wolf, *Subsampling*, Springer (1999).
    E. Carlstein, "The use of subseries values for estimating the variance of
    a general statistic from a stationary sequence", Ann. Statist. 14(3),
    1171–1179 (1986).
    """
    n = len(arrays[0])
    plan_folds, plan_parts, _ = subsample_plan(n, min_rows)
    folds = plan_folds if folds is None else check_int("folds", folds, low=2, high=n // max(min_rows, 1))
    partitions = plan_parts if partitions is None else check_int("partitions", partitions, low=1)
    rng = np.random.default_rng(spawn_seeds(seed, 1)[0])
    lengths = [len(a) for a in arrays]
    sizes = [length // folds for length in lengths]
    variances = np.empty(partitions)
    for p in range(partitions):
        perms: dict[int, np.ndarray] = {}
        for length in lengths:
            if length not in perms:
                perms[length] = rng.permutation(length)
        values = np.empty(folds)
        for f in range(folds):
            subsets = [
                _take(a, perms[length][f * size : (f + 1) * size]) for a, length, size in zip(arrays, lengths, sizes)
            ]
            values[f] = float(statistic(*subsets))
        variances[p] = np.var(values, ddof=1)
    return float(math.sqrt(sizes[0] / n * variances.mean()))
