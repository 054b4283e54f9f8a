"""Point values and seeded bootstrap intervals of the quality scores.

Two kinds of replicate, chosen per score (``ScoreSpec.bootstrap``):

``"split"``
    Smooth functionals of the two empirical distributions (Inception-style
    score, class KL, FID, FID-infinity, KID, Vendi, RKE). Drawing rows with
    replacement (the plain bootstrap) gave intervals 1.5-1.9x too wide for
    them when the two distributions agree: there FID, KID and Vendi are
    *degenerate* (their first derivative vanishes, the spread shrinks like
    ``1/n`` instead of ``1/sqrt(n)``) and the bootstrap is inconsistent.
    Each replicate instead cuts both sets at random into two disjoint halves
    and recomputes the score on each: the halves are two independent
    samples of size ``n/2``, so ``(T_A - T_B) / sqrt(2)`` has the spread of
    the score at ``n/2``. That spread is carried to ``n`` with a rate
    estimated from the same halves (:func:`split_variance`): their spread
    about their own mean is their spread given the data, and the difference
    of the two is the variance of the score at ``n`` (law of total
    variance), within [1/4, 1/2] of the spread at ``n/2`` (root-n and
    degenerate scores; the Hoeffding decomposition, Serfling 1980,
    Sec. 5.2; subsampling with an estimated rate: Bertail, Politis & Romano
    1999, JASA 94, 569-579; Politis, Romano & Wolf 1999, *Subsampling*,
    Ch. 8). ``extras["interval"]["variance_ratio"]`` reports the rate as
    ``r`` (2: root-n, 4: degenerate). The scores share the same splits per
    replicate; a replicate costs two evaluations at ``n/2``. (Four disjoint
    quarters per replicate gave the rate before, at three times the cost
    and with a noisier estimate.) Where a score's full computation can serve
    its halves, the halves' parts are computed in the same pass
    (``plan_split`` of :func:`~infobench.quality._core.register_group`: the
    RKE kernel sums of every half come from the tiles of the generated set's
    self-search).

    The halves are unions of random groups (the random-group method of
    variance estimation, Wolter 2007, *Introduction to Variance
    Estimation*, 2nd ed., Ch. 2). Every :data:`SPLIT_BLOCK` (50) replicates
    (once at the default) each set's rows are permuted at random (the
    context's seeded ``"bootstrap:split"`` stream) into :data:`SPLIT_GROUPS`
    (32) groups of ``n // 32`` rows; a replicate's half is a random half of
    the groups with a random half of the ``n mod 32`` rows left over,
    ``n // 2`` rows in all, the other half the rest. Each half is still,
    marginally, a uniformly random half of the rows (the grouping is
    random), so the two halves are disjoint samples of size ``n / 2`` as
    before. What changes is the cost: the sufficient statistics of FID
    (and of FD-infinity's largest size) and Vendi are additive over rows
    (``sum x``, ``sum x x^T``, the Gram ``Xn^T Xn`` of the unit rows,
    ``d x d`` each), so each group's are computed once per grouping and a
    half's are the sum of its groups'
    (:meth:`~infobench.quality._core.Context.row_sums`): one pass over the
    data per grouping instead of one per replicate, and a replicate costs
    only its eigenproblems. From 128 dimensions
    (:data:`~infobench.quality._linalg.SINGLE_PRECISION_MIN_DIM`) those run
    in float32 on the halves (the Cholesky factor of FID stays float64;
    point values are float64 throughout): on 10,000 vs 10,000 2048-d
    features (8 replicates) the rounding moved a replicate's deviation
    ``(T_A - T_B) / sqrt(2)`` by 0.04 % (FID) and 0.2 % (Vendi) of the
    deviations' standard deviation, at 1.6 times the speed. The price of
    one grouping: given it, the spread of ``T_A - T_B`` over the choices of
    groups estimates the variance with ``G - 1 = 31`` degrees of freedom (a
    random-group estimate), so the interval width of one data set scatters
    about 16 % (``sqrt(2/31 + 2/50) / 2``) instead of 10 % (``sqrt(2/50) /
    2``, 50 independent splits); the mean width is unchanged. Regrouping
    every 10 replicates would bring it to 11 % but cost a pass over the data
    per grouping, at 10,000 x 2,048 about as long as the scores alone (32
    groups of 312 rows of both sets: 28 s on one thread of a busy machine,
    the scores 32 s of CPU). The halves' spread given the data, which
    :func:`split_variance` reads, loses the part that comes from the
    grouping, a relative ``1 / (G - 1)`` of the degenerate term: 3 %, within
    the estimate's noise. Memory: 32 ``d x d`` float64 matrices per
    statistic and set (3.2 GB at d = 2048 for FID's two sets and Vendi's).
``"subsample"``
    Neighbour statistics (kNN KL and entropy, precision, recall, density,
    coverage; memorization has its own scheme, ``"generated"``). Drawing
    rows with replacement would put copies of a row at distance zero from
    each other and change what a nearest-neighbour statistic measures (the bootstrap is inconsistent for
    them), and holding the neighbourhoods fixed while resampling per-sample
    terms leaves out the variability of the neighbourhoods themselves (it
    gave intervals 1.5-3x too narrow). Each replicate instead draws a
    subsample of ``m = 3n/4`` rows without replacement
    (:data:`SUBSAMPLE_FRACTION`) of every set (generated, real, and the
    held-out split where used) and recomputes the score,
    neighbour searches included: the delete-d jackknife with ``d = n/4``
    (Shao & Wu 1989, Ann. Statist. 17(3), 1176-1197), a subsampling scheme
    (Politis & Romano 1994, Ann. Statist. 22(4), 2031-2050; Politis, Romano &
    Wolf 1999, *Subsampling*, Ch. 2). With ``m`` of ``n`` rows
    drawn, the spread of ``T_m`` around its mean is ``sqrt((n - m) / m)``
    times that of ``T_n`` for a root-n statistic (finite-population
    correction, ``Var(T_m - T_n) = s^2 (1/m - 1/n)``); the deviations are
    multiplied by ``sqrt(m / (n - m))`` (``sqrt(3)``), the rate correction.

    Why ``3n/4`` and a fixed rate. A neighbour statistic estimates a
    functional that moves with the sample size (its balls and kNN radii
    shrink like ``(k/n)^(1/d)`` in the data's intrinsic dimension ``d``), so
    a smaller subsample measures a different quantity, not just a noisier
    one. On the digits classifier features at n = 150 (intrinsic dimension
    low, balls large) half-samples gave recall, precision and density
    intervals 0.54-0.84x the spread over fresh redraws (at n/2 recall is
    near 1 and hardly varies) and kNN KL intervals about 2x (their spread at
    n/2 is much larger than the root-n rule carries to n); at ``m = 3n/4``
    they are 1.01-1.40x (300 redraws, 30 bootstrapped;
    docs/validation/quality-interval-widths.md). Estimating the rate from the spreads
    at several subsample sizes (Bertail, Politis & Romano 1999, JASA 94,
    569-579; Politis, Romano & Wolf 1999, Ch. 8) fails for the same reason:
    on those features the half- to seven-eighth-sample spreads gave rate
    exponents ``gamma`` (``Var(T_m) ~ m^-gamma``) near 0 for precision,
    recall, density and coverage and near 3 for kNN KL, and disjoint
    halves and quarters (the ``"split"`` scheme) gave recall, precision and
    density intervals 0.45-0.58x; so the neighbour statistics keep the
    root-n rate, and the subsample stays close to ``n`` (a delete-d
    jackknife needs ``d`` large for non-smooth statistics, ``sqrt(n)/d ->
    0``: at ``m = 7n/8`` recall read 1.45x at n = 300). On 64-d
    Gaussians half and three-quarter samples agree within the noise
    (0.83-1.21x at n = 1,000 and 5,000); on 3-d Gaussians three-quarter
    samples read wider (coverage 1.31x, recall 1.37x, against 1.16x and
    1.07x). FID, a smooth functional
    that is degenerate when the distributions agree (half-sample intervals
    1.54-1.74x at n = 500-5,000 under the fixed rate), uses ``"split"``.
    A replicate runs no new search (:meth:`~infobench.quality._core.Context.keep_neighbors`):
    the full searches keep each row's ``L`` nearest exact neighbours
    (:func:`~infobench.quality._core.spare_neighbors`: 16 for ``k = 5``,
    enough that a 3/4 subsample keeps ``k`` of them with probability
    ``1 - 1e-4``) and every pair inside the largest ball a subsample can have;
    a subsample's neighbours are the first ones it keeps of each list, its
    ball counts follow from those pairs, and the rare row that keeps fewer is
    searched again, so every replicate value is bit for bit that of a search
    on the subsample. 10,000 vs 10,000 64-d features, every score with the
    default 50 replicates, took 112 s on an idle 2-core machine when each
    replicate searched again (``9 n^2 / 16`` distances per pair of sets),
    against 2.7 s without intervals; with the reuse, 3.3 times the scores
    alone (one thread, ``benchmarks/bench_quality.py -k interval_cost``).

``"generated"``
    Memorization: the share of generated samples inside the empty ball of
    their nearest training sample. The generator was trained on *that*
    training split, so the question is conditional on it: the training split
    stays whole and each replicate subsamples the generated set alone (3/4 of
    its rows without replacement, rate correction ``sqrt(3)`` as above).
    Given the training split the score is a mean of one indicator per
    generated sample, an exactly root-n statistic of the generated rows, and
    the finite-population correction is exact for it. Subsampling the
    training split too (the ``"subsample"`` scheme) measured 1.34x at n = 300
    and 1.43x at n = 150 on the digits features against fresh redraws of all
    sets: a smaller training split enlarges the remaining samples' balls,
    which fresh splits of the full size do not. The calibration of this
    scheme redraws the generated set with the training split fixed. A
    replicate costs one generated-to-training search of ``3/4`` of the
    generated rows; the training split's own search is shared.

For size-dependent scores (``ScoreSpec.size_dependent``) the point value is
the mean over equal-size chunks of the larger set
(:func:`~infobench.quality._core.equal_size_contexts`); replicate ``b``
subsamples chunk ``b mod R``.

The interval is the percentile interval at ``level`` (Efron & Tibshirani
1993, Sec. 13.3) of the (rate-corrected) replicate deviations, re-centred on
the reported value and kept inside the score's range (see
:func:`percentile_interval`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch
from scipy.stats import norm
from threadpoolctl import threadpool_limits

from infobench._validation import check_float, check_int
from infobench.estimators.engine import threads
from infobench.quality._core import GROUPS, SCORES, SPLIT_PLANS, Context, Outcome, equal_size_contexts, rows_digest
from infobench.quality._linalg import SINGLE_PRECISION, SINGLE_PRECISION_MIN_DIM

__all__ = ["SUBSAMPLE_FRACTION", "check_bootstrap", "evaluate", "percentile_interval", "split_variance", "subsample"]


def check_bootstrap(bootstrap: Any, level: Any) -> tuple[int, float]:
    """Validate ``B`` and ``level``: ``B = 0`` (no interval) or ``B >= 2 / (1 - level)``.

    Fewer replicates leave fewer than one replicate beyond each end of the
    interval, so the percentile interval would just be the extreme replicates.
    """
    level = check_float("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    b = check_int("bootstrap", bootstrap, low=0)
    need = math.ceil(2.0 / (1.0 - level) - 1e-9)
    if 0 < b < need:
        raise ValueError(f"bootstrap must be 0 or at least {need} replicates for a {level:g} interval; got {b}")
    return b, level


def percentile_interval(
    reps: np.ndarray,
    value: float,
    level: float,
    *,
    scale: float = 1.0,
    value_range: tuple[float, float] = (-math.inf, math.inf),
    centre: float | None = None,
) -> tuple[float, float]:
    """Percentile interval of the replicates, re-centred on ``value`` and kept inside ``value_range``.

    ``[value + s q_a(T* - mean T*), value + s q_{1-a}(T* - mean T*)]`` with
    ``a = (1 - level) / 2`` and ``s = scale`` (the subsampling rate
    correction): the spread of the score over repeated samples of the same
    size, centred on the reported value. Re-centring removes the shift that
    resampling itself causes (drawing with replacement duplicates rows, which
    raises FID and KID and lowers Vendi; a subsample of m rows has the bias of m);
    it does not remove the bias of the score itself (FID's ``1/N`` term, see
    ``fid_inf``). The end points are then intersected with the range of the
    score (a precision interval never leaves [0, 1], FID's never goes below
    0): values outside it are impossible, so the intersection loses no
    coverage. Infinite replicates are kept as they are and read off without
    interpolation, as are integer-valued scores (a count of classes keeps
    integer bounds); NaN replicates give a NaN interval. ``centre`` replaces
    ``mean T*`` where the replicates are centred by construction: the split
    scheme's ``value + (T_A - T_B) / sqrt(2)`` is symmetric about ``value``
    (the halves are exchangeable), and subtracting the replicates' own mean
    would only shift a lumpy set of deviations (a count that moves in a few
    replicates) off the value.
    """
    if reps.size == 0 or np.isnan(reps).any() or math.isnan(value):
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    low, high = value_range
    counts = np.isfinite(reps).all() and bool(np.all(reps == np.round(reps))) and float(value).is_integer()
    if np.isfinite(reps).all() and math.isfinite(value) and not counts:
        lo, hi = np.quantile(scale * (reps - (reps.mean() if centre is None else centre)), [alpha, 1.0 - alpha])
        lo, hi = value + lo, value + hi
    else:
        lo, hi = np.quantile(reps, [alpha, 1.0 - alpha], method="inverted_cdf")
    return float(min(max(lo, low), high)), float(max(min(hi, high), low))


SUBSAMPLE_FRACTION = 0.75
"""Share of each set's rows in a ``"subsample"`` replicate (``m = 3n/4``: the delete-``n/4`` jackknife)."""


def _subsample_rows(n: int, rng: np.random.Generator, fraction: float) -> np.ndarray:
    return np.sort(rng.choice(n, _subsample_size(n, fraction), replace=False))


def _subsample_size(n: int, fraction: float) -> int:
    """``m = round(fraction n)``, kept in ``[1, n - 1]`` so that ``n - m`` rows are always left out."""
    return min(n - 1, max(1, int(round(fraction * n))))


def subsample(ctx: Context, rng: np.random.Generator, fraction: float = SUBSAMPLE_FRACTION) -> Context:
    """A context on subsamples of ``fraction`` of the rows, drawn without replacement, of every set of ``ctx``.

    The training split stays whole: memorization, the one score that reads it,
    has its own replicates (the ``"generated"`` scheme).
    """
    idx_real = _subsample_rows(ctx.real.shape[0], rng, fraction)
    idx_held = None if ctx.heldout is None else _subsample_rows(ctx.heldout.shape[0], rng, fraction)
    return ctx.resample(idx_real, _subsample_rows(ctx.fake.shape[0], rng, fraction), idx_held)


SPLIT_GROUPS = 32
"""Random groups of each set's rows per grouping of the ``"split"`` scheme (a half is a union of half of them)."""

SPLIT_BLOCK = 50
"""Split replicates per grouping: the rows are regrouped at random every ``SPLIT_BLOCK`` replicates (once at the default 50)."""


def _grouping(n: int, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    """``G`` random groups of ``n // G`` rows each (``G = SPLIT_GROUPS``, even, at most ``n``) and the rows left over."""
    perm = rng.permutation(n)
    g = min(SPLIT_GROUPS, n - n % 2)
    if g < 2:
        return [], perm
    size = n // g
    return [np.sort(perm[i * size : (i + 1) * size]) for i in range(g)], perm[g * size :]


def _halves(
    groups: list[np.ndarray], rest: np.ndarray, rng: np.random.Generator
) -> list[tuple[np.ndarray, tuple[int, ...], np.ndarray]]:
    """Two disjoint halves of ``n // 2`` rows each: half of the groups and half of the rows left over, at random.

    Each is ``(rows, its groups, its left-over rows)``.
    """
    pick = rng.permutation(len(groups))
    spare = rng.permutation(rest)
    r = spare.size // 2
    out: list[tuple[np.ndarray, tuple[int, ...], np.ndarray]] = []
    for picked, extra in ((pick[: len(groups) // 2], spare[:r]), (pick[len(groups) // 2 :], spare[r : 2 * r])):
        members = tuple(int(g) for g in np.sort(picked))
        rows = np.sort(np.concatenate([groups[g] for g in members] + [extra]).astype(np.int64))
        out.append((rows, members, np.sort(extra)))
    return out


def split_draws(ctx: Context, bootstrap: int) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """The two halves of every split replicate: ``draws[b]`` lists ``(real rows, generated rows)`` of each.

    Drawn from the context's ``"bootstrap:split"`` stream before any
    computation, so that the root's passes can serve the replicates
    (``plan_split`` of :func:`~infobench.quality._core.register_group`).
    Every ``SPLIT_BLOCK`` replicates each set's rows are cut at random into
    ``SPLIT_GROUPS`` equal groups (:func:`_grouping`); a replicate's halves
    are a random half of the groups each, with a random half of the few rows
    left over. The groups are announced in ``ctx.shared`` so that sums over
    a half's rows come from the groups' sums
    (:meth:`~infobench.quality._core.Context.row_sums`).
    """
    rng = ctx.rng("bootstrap:split")
    sizes = {"real": ctx.real.shape[0], "fake": ctx.fake.shape[0]}
    layouts: dict[str, dict[bytes, tuple]] = {w: ctx.shared.setdefault(("row_groups", w), {}) for w in sizes}
    roots = {w: ctx.root_index(w) for w in sizes}
    draws = []
    grouping: dict[str, tuple[list[np.ndarray], np.ndarray]] = {}
    root_groups: dict[str, list[np.ndarray]] = {}
    number = 0
    for b in range(bootstrap):
        if b % SPLIT_BLOCK == 0:
            grouping = {w: _grouping(n, rng) for w, n in sizes.items()}
            root_groups = {w: [roots[w][g] for g in groups] for w, (groups, _) in grouping.items()}
            # a number no other grouping of this root has: the groups' sums are kept per grouping
            number = ctx.shared[("split_groupings",)] = ctx.shared.get(("split_groupings",), 0) + 1
        pair = {}
        for w, (groups, rest) in grouping.items():
            halves = _halves(groups, rest, rng)
            pair[w] = [rows for rows, _, _ in halves]
            for rows, members, extra in halves:
                if members:
                    layouts[w][rows_digest(roots[w][rows])] = (number, root_groups[w], members, roots[w][extra])
        draws.append(list(zip(pair["real"], pair["fake"])))
    return draws


def _split_replicates(
    ctx: Context, groups, bootstrap: int, advance, draws: list | None = None
) -> dict[str, tuple[np.ndarray, float]]:
    """Per score: the rate-corrected deviations of the split replicates and the variance ratio (2 to 4)."""
    if draws is None:
        draws = split_draws(ctx, bootstrap)
    names = [n for _, wanted in groups for n in wanted]
    halves = {n: np.full((bootstrap, 2), np.nan) for n in names}

    def half(sub: Context) -> list[dict[str, Outcome]]:
        return [fn(sub, wanted) for fn, wanted in groups]

    # The two halves of a replicate run side by side on two threads, each single-threaded (torch and BLAS):
    # from TORCH_EIGVALSH_MIN_DIM dimensions a half's d x d algebra dominates, and below it the matrices
    # are so small that a multi-threaded BLAS call costs more in its threads' start and barrier than in its
    # arithmetic (a 64-d Frechet distance: 9.7 ms on 2 OpenBLAS threads, 0.41 ms on one).
    pool = None
    on_cpu = ctx.real.device.type == "cpu"
    if threads() >= 2 and on_cpu:
        pool = ThreadPoolExecutor(2, initializer=torch.set_num_threads, initargs=(1,))
    single = ctx.real.shape[1] >= SINGLE_PRECISION_MIN_DIM
    before = torch.get_num_threads()
    try:
        with threadpool_limits(1) if on_cpu else nullcontext():
            for b in range(bootstrap):
                subs = [ctx.resample(r, f) for r, f in draws[b]]
                for sub in subs:
                    sub.cache[SINGLE_PRECISION] = single
                outs = list(pool.map(half, subs)) if pool is not None else [half(sub) for sub in subs]
                for (_fn, wanted), vals in zip(groups, zip(*outs)):
                    for n in wanted:
                        halves[n][b] = [out[n].value for out in vals]
                if advance is not None:
                    advance(1)
    finally:
        if pool is not None:
            pool.shutdown()
            torch.set_num_threads(before)  # a worker's set_num_threads also moves the default of new threads
    out = {}
    for n in names:
        factor, ratio = split_variance(halves[n][:, 0], halves[n][:, 1])
        out[n] = ((halves[n][:, 0] - halves[n][:, 1]) / math.sqrt(2.0) * factor, ratio)
    return out


def split_variance(half_a: np.ndarray, half_b: np.ndarray) -> tuple[float, float]:
    """The rate estimate of the split scheme: ``sqrt(Var(T_n) / Var(T_{n/2}))`` and the variance ratio ``r``.

    ``half_a[b]``, ``half_b[b]``: the score on the two disjoint halves of
    replicate ``b``. They are independent samples of size ``n/2``, so
    ``v_2 = mean((T_A - T_B)^2) / 2`` estimates ``Var(T_{n/2})``; the
    variance of all ``2B`` half values about their mean, ``w``, estimates
    their spread given the data, ``E[Var(T_A | data)]``. By the law of total
    variance ``v_2 - w`` estimates ``Var(E[T_A | data])``, which is
    ``Var(T_n)`` for a U-statistic (``E[U_A | data] = U_n``) and agrees with
    it to a relative ``O(1/n)`` for a smooth functional, whether it is
    root-n or degenerate. With ``Var(T_m) = a/m + b/m^2``, ``a, b >= 0``
    (the Hoeffding decomposition, Serfling 1980, Sec. 5.2), ``q = w / v_2``
    lies in [1/2, 3/4] (1/2: root-n, ``b = 0``; 3/4: degenerate, ``a = 0``),
    so an estimate outside is clipped to it and ``Var(T_n) = v_2 (1 - q)``;
    ``r = 8 q - 2`` is reported (2: root-n, 4: degenerate, the ratio
    ``Var(T_{n/4}) / Var(T_{n/2})`` of that model), and ``r = 2`` when the
    halves never differ (``v_2 = 0``). Over 8 samples of n = 1,000 (B = 60)
    this read ``r = 2.03`` and ``Var(T_n)`` 1.04 +- 0.12 of the truth for a
    sample mean, ``r = 3.97`` and 0.94 +- 0.18 for the degenerate
    ``|mean|^2`` of 50-d normal rows; the earlier estimate from four
    disjoint quarters per replicate (three times the evaluations) read
    0.95-1.07 and 1.09-1.25, each with a larger spread. Returns the factor
    ``sqrt(1 - q)`` that carries a spread at ``n/2`` to ``n`` and ``r``.
    """
    a, b = np.asarray(half_a, dtype=float), np.asarray(half_b, dtype=float)
    v2 = float(np.mean((a - b) ** 2)) / 2.0
    both = np.concatenate([a, b])
    w = float(np.var(both, ddof=1)) if both.size > 1 else math.nan
    q = 0.5  # root-n when the halves never differ
    if v2 > 0 and math.isfinite(v2) and math.isfinite(w):
        q = min(0.75, max(0.5, w / v2))
    return math.sqrt(1.0 - q), 8.0 * q - 2.0


def _rate_scale(n: int, fraction: float = SUBSAMPLE_FRACTION) -> float:
    """``sqrt(m / (n - m))`` for subsamples of ``m`` of ``n`` rows (``sqrt(3)`` for ``m = 3n/4``)."""
    m = _subsample_size(n, fraction)
    return math.sqrt(m / (n - m))


def _mean_outcome(parts: list[dict[str, Outcome]], names: tuple[str, ...]) -> dict[str, Outcome]:
    """The outcome of a size-dependent group: the mean over equal-size chunks."""
    if len(parts) == 1:
        return parts[0]
    out = {}
    for n in names:
        first = parts[0][n]
        vals = [p[n].value for p in parts]
        extras = dict(first.extras, reference_chunks=len(parts), chunk_values=vals)
        out[n] = Outcome(float(np.mean(vals)), first.n_real, first.n_fake, extras=extras, note=first.note)
    return out


def evaluate(
    ctx: Context,
    names: tuple[str, ...],
    *,
    bootstrap: int = 0,
    level: float = 0.95,
    advance: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Compute ``names`` on ``ctx`` with ``bootstrap`` replicates; one tidy record per score.

    Records hold ``score, value, ci_low, ci_high, boot_std, bootstrap,
    bootstrap_kind, level, n_real, n_fake, note, extras``; ``n_real`` and
    ``n_fake`` are the sizes the score was computed at (equal for the
    size-dependent scores). ``boot_std`` is the rate-corrected standard
    deviation of the replicates.
    """
    outcomes: dict[str, Outcome] = {}
    no_interval: dict[str, str] = {}
    split: list[tuple[Callable, tuple[str, ...]]] = []
    subsampled: list[tuple[Callable, tuple[str, ...], list[Context], bool]] = []
    if bootstrap and any(SCORES[n].bootstrap in ("subsample", "generated") for n in names):
        # Before any search: the full searches then keep what the replicates' searches follow from.
        ctx.keep_neighbors(SUBSAMPLE_FRACTION)
    draws = None
    planned = [g for g, (_, members) in GROUPS.items() if g in SPLIT_PLANS and any(n in names for n in members)]
    if bootstrap and planned:
        # Before any pass: the halves, so that the full passes serve them too.
        draws = split_draws(ctx, bootstrap)
        subsets = [pair for d in draws for pair in d]
        for g in planned:
            SPLIT_PLANS[g](ctx, subsets)
    for fn, members in GROUPS.values():
        wanted = tuple(n for n in members if n in names)
        if not wanted:
            continue
        spec = SCORES[wanted[0]]
        contexts = equal_size_contexts(ctx) if spec.size_dependent else [ctx]
        outcomes.update(_mean_outcome([fn(c, wanted) for c in contexts], wanted))
        reason = spec.interval_need(ctx) if bootstrap and spec.interval_need is not None else ""
        if reason:
            no_interval.update(dict.fromkeys(wanted, reason))
        elif spec.bootstrap == "split":
            if not all(outcomes[n].std_err is not None for n in wanted):
                split.append((fn, wanted))
        else:
            subsampled.append((fn, wanted, contexts, spec.bootstrap == "generated"))
    reps = {n: np.full(bootstrap, np.nan) for n in names}
    scale = {n: 1.0 for n in names}
    interval: dict[str, dict[str, Any]] = {}
    if bootstrap:
        rng = ctx.rng("bootstrap:subsample")
        for _fn, wanted, contexts, generated_only in subsampled:
            for n in wanted:
                scale[n] = _rate_scale(contexts[0].fake.shape[0])
                interval[n] = {"kind": "generated" if generated_only else "subsample", "fraction": SUBSAMPLE_FRACTION}
        too_small: set[str] = set()
        for b in range(bootstrap if subsampled else 0):
            # One subsample per base context and replicate, shared by the groups
            # (their neighbour searches are then computed once).
            subs: dict[tuple[int, bool], Context] = {}
            for fn, wanted, contexts, generated_only in subsampled:
                base = contexts[b % len(contexts)]
                key = (id(base), generated_only)
                if key not in subs:
                    subs[key] = (
                        base.resample_fake(_subsample_rows(base.fake.shape[0], rng, SUBSAMPLE_FRACTION))
                        if generated_only
                        else subsample(base, rng)
                    )
                if wanted[0] in too_small:
                    continue
                try:
                    outs = fn(subs[key], wanted)
                except ValueError:  # a subsample too small for the neighbour order: no interval (noted)
                    too_small.update(wanted)
                    continue
                for n, out in outs.items():
                    reps[n][b] = out.value
        if split:
            for n, (dev, ratio) in _split_replicates(ctx, split, bootstrap, advance, draws).items():
                reps[n] = outcomes[n].value + dev
                interval[n] = {"kind": "split", "variance_ratio": ratio}
        elif advance is not None:
            advance(bootstrap)
    records = []
    z = float(norm.ppf(0.5 + level / 2.0))
    for n in names:
        out, spec, r = outcomes[n], SCORES[n], reps[n]
        if bootstrap and out.std_err is not None:
            # The score's own standard error (KID from its subsets): a normal interval inside the range.
            low, high = spec.value_range
            lo = float(min(max(out.value - z * out.std_err, low), high))
            hi = float(max(min(out.value + z * out.std_err, high), low))
            std = out.std_err
            interval[n] = {"kind": "own standard error"}
        else:
            if bootstrap:
                split_kind = interval.get(n, {}).get("kind") == "split"
                lo, hi = percentile_interval(
                    r,
                    out.value,
                    level,
                    scale=scale[n],
                    value_range=spec.value_range,
                    centre=out.value if split_kind else None,
                )
            else:
                lo, hi = float("nan"), float("nan")
            std = scale[n] * float(np.std(r, ddof=1)) if bootstrap and np.isfinite(r).all() else float("nan")
        note = out.note
        if n in no_interval and math.isfinite(out.value):
            note = "; ".join(x for x in (note, f"no interval: {no_interval[n]}") if x)
        elif bootstrap and math.isfinite(out.value) and math.isnan(lo):
            where = "half-samples" if spec.bootstrap == "split" else "subsamples"
            note = "; ".join(
                x for x in (note, f"no interval: the score is undefined on the {where} (too few rows)") if x
            )
        records.append(
            {
                "score": n,
                "value": float(out.value),
                "ci_low": lo,
                "ci_high": hi,
                "boot_std": std,
                "bootstrap": bootstrap,
                "bootstrap_kind": spec.bootstrap,
                "level": level,
                "n_real": out.n_real,
                "n_fake": out.n_fake,
                "note": note,
                "extras": dict(out.extras, **({"interval": interval[n]} if n in interval else {})),
            }
        )
    return records
