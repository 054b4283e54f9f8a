"""Is a ranking beyond the noise? The Friedman test over blocks and its post-hoc comparisons.

Pure functions on a *loss matrix*: one row per block (for the estimator
leaderboard, a task at its largest n), one column per item compared (an
estimator), lower is better; ``inf`` is a failure (it ranks last), NaN an
item absent from the block (the block is left out: the Friedman test needs
every item in every block). Nothing here knows about estimators, so another
comparison (generators, scores) can use the same test and the same rule for
its "best" mark.

Procedure (Demšar 2006, sections 3.2.2 and 3.2.4; Benavoli et al. 2016):

1. Within each block the items are ranked, 1 = lowest loss, ties sharing the
   average rank. With :math:`N` blocks, :math:`k` items and mean ranks
   :math:`R_j`, Friedman's statistic is (Demšar eq. 1)

   .. math:: \\chi^2_F = \\frac{12N}{k(k+1)} \\Big[\\sum_j R_j^2 - \\frac{k(k+1)^2}{4}\\Big],

   divided by the tie correction :math:`1 - \\sum_b \\sum_t (t^3 - t) / (N k (k^2-1))`
   (:math:`t`: the sizes of the groups of tied losses in block :math:`b`), the
   form of :func:`scipy.stats.friedmanchisquare`; :math:`\\chi^2` with
   :math:`k-1` degrees of freedom. The decision uses the less conservative
   Iman-Davenport statistic (Demšar eq. 2)

   .. math:: F_F = \\frac{(N-1)\\chi^2_F}{N(k-1) - \\chi^2_F}

   with :math:`F(k-1, (k-1)(N-1))`. The test needs :math:`N \\ge 2` and
   :math:`k \\ge 2`; with fewer it is *not applicable* (no number is given).
2. Only when the Friedman test rejects at level ``alpha`` are pairs declared
   different. Two post-hoc comparisons are computed for every pair:

   * Nemenyi: two items differ when their mean ranks differ by more than the
     critical difference :math:`CD = q_\\alpha \\sqrt{k(k+1)/(6N)}` (Demšar
     eq. 5), :math:`q_\\alpha` the studentized range quantile
     (:func:`scipy.stats.studentized_range`, :math:`k` groups, infinite
     degrees of freedom) divided by :math:`\\sqrt 2`; its p-value is the
     studentized range's survival function at :math:`\\sqrt 2\\,|R_a - R_b| / \\sqrt{k(k+1)/(6N)}`.
   * Wilcoxon signed-rank test of the per-block loss differences
     (:func:`scipy.stats.wilcoxon`, zero differences split between the signs
     as Demšar recommends), Holm-corrected over the :math:`k(k-1)/2` pairs.
     Benavoli et al. (2016) recommend it over mean-rank tests: whether two
     items differ does not depend on which other items are compared. It is
     the default (``posthoc="wilcoxon-holm"``). A failure (``inf``) counts as
     a difference larger than any finite one; two failures as a tie.

3. The verdict on the best item (:class:`BestVerdict`): the item of lowest
   mean rank is *distinguishable* when the Friedman test rejects and the
   post-hoc comparison finds it better than every other item (for Nemenyi
   this is the same as better than the runner-up); otherwise the best group
   is the best item and every item not found worse than it.
   :func:`mark_if_distinguishable` is the one rule that turns such a verdict
   into "best" marks.

References: J. Demšar, "Statistical comparisons of classifiers over multiple
data sets", JMLR 7 (2006) 1-30; A. Benavoli, G. Corani, F. Mangili, "Should
we really use post-hoc tests based on mean-ranks?", JMLR 17 (2016) 1-10;
S. Holm, "A simple sequentially rejective multiple test procedure", Scand.
J. Statist. 6 (1979) 65-70.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from infobench._validation import check_choice, check_float

__all__ = [
    "ALPHA",
    "POSTHOCS",
    "BestVerdict",
    "RankTest",
    "friedman",
    "holm",
    "mark_if_distinguishable",
    "nemenyi_cd",
    "rank_test",
    "rank_tests_frame",
    "rank_tests_json",
]

ALPHA = 0.05  # default level of every ranking test
POSTHOCS = ("wilcoxon-holm", "nemenyi")
PAIR_COLUMNS = [
    "a",
    "b",
    "mean_rank_a",
    "mean_rank_b",
    "rank_difference",
    "nemenyi_p",
    "beyond_cd",
    "wilcoxon_p",
    "holm_p",
    "better",
    "distinguishable",
]


@dataclass(frozen=True)
class BestVerdict:
    """Is the best item of a comparison distinguishable from the others at ``level``?

    Anyone comparing things can build one (a rank test here, a pairwise
    interval comparison of generators elsewhere) and hand it to
    :func:`mark_if_distinguishable`.

    Attributes
    ----------
    best, runner_up : str or None
        The first and second items of the ranking (None when absent).
    distinguishable : bool or None
        True: the best is better than the runner-up (and every other item) at
        ``level``; False: not shown; None: no test applies (too few blocks or items).
    level : float
        The significance level of the comparison.
    group : tuple of str
        The best item and every item not shown to be worse (the shared best
        group; the best alone when ``distinguishable``).
    test : str
        How the verdict was reached (named in notes).
    reason : str
        Why no test applies (when ``distinguishable`` is None).
    """

    best: str | None
    runner_up: str | None
    distinguishable: bool | None
    level: float
    group: tuple[str, ...] = ()
    test: str = ""
    reason: str = ""

    def sentence(self) -> str:
        """The verdict in words, for a table's note."""
        if self.distinguishable is None:
            return f"significance test not applicable ({self.reason})"
        if self.distinguishable:
            return f"{self.best} is best: distinguishable from the runner-up {self.runner_up} at α = {self.level:g}"
        return f"the top ones are not distinguishable at α = {self.level:g}: shared best group {', '.join(self.group)}"


def mark_if_distinguishable(flags: pd.Series, verdict: BestVerdict) -> pd.Series:
    """The one rule for a "best" mark that claims a winner: kept only when the verdict says distinguishable.

    Parameters
    ----------
    flags : Series of bool
        Where the best value is (e.g. :func:`infobench.report.aggregate.best_flags` of a column).
    verdict : BestVerdict
        The comparison of the best item with the runner-up.

    Returns
    -------
    Series of bool
        ``flags`` when ``verdict.distinguishable`` is True; all False otherwise
        (not distinguishable, or no test applies). The reader learns why
        from :meth:`BestVerdict.sentence`.
    """
    if verdict.distinguishable is True:
        return flags.astype(bool)
    return pd.Series(False, index=flags.index)


@dataclass(frozen=True)
class Friedman:
    """Friedman's test of a complete block design (see :func:`friedman`)."""

    blocks: int
    items: int
    mean_ranks: np.ndarray
    chi2: float
    chi2_p: float
    f: float
    f_p: float


def friedman(losses: np.ndarray) -> Friedman:
    """Friedman's statistic with the tie correction, and the Iman-Davenport F, of a blocks x items loss matrix.

    Parameters
    ----------
    losses : ndarray, shape (N, k)
        Lower is better; ``inf`` ranks last (ties share the average rank). No NaN.

    Returns
    -------
    Friedman
        ``mean_ranks`` (1 = best), :math:`\\chi^2_F` (Demšar eq. 1, tie-corrected as
        :func:`scipy.stats.friedmanchisquare`) and its p-value (:math:`\\chi^2_{k-1}`),
        :math:`F_F` (Demšar eq. 2) and its p-value (:math:`F_{k-1,(k-1)(N-1)}`). When every block
        ties every item, :math:`\\chi^2_F = 0` and both p-values are 1; when every block orders the
        items the same way, :math:`F_F = \\infty` and its p-value is 0.
    """
    x = np.asarray(losses, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"losses must be a 2-d array with at least 2 blocks and 2 items; got shape {x.shape}")
    if np.isnan(x).any():
        raise ValueError("losses must not contain NaN (leave incomplete blocks out)")
    n, k = x.shape
    ranks = stats.rankdata(x, axis=1, method="average")
    mean_ranks = ranks.mean(axis=0)
    ties = 0.0
    for row in x:
        _, counts = np.unique(row, return_counts=True)
        ties += float(np.sum(counts**3 - counts))
    correction = 1.0 - ties / (n * k * (k * k - 1))
    if correction <= 0:  # every block ties every item: nothing to tell apart
        return Friedman(n, k, mean_ranks, 0.0, 1.0, 0.0, 1.0)
    chi2 = 12.0 * n / (k * (k + 1)) * (float(np.sum(mean_ranks**2)) - k * (k + 1) ** 2 / 4.0) / correction
    chi2 = max(chi2, 0.0)  # rounding of a zero statistic
    chi2_p = float(stats.chi2.sf(chi2, k - 1))
    denom = n * (k - 1) - chi2
    if denom <= 1e-12 * n * (k - 1):  # every block gives the same order
        return Friedman(n, k, mean_ranks, chi2, chi2_p, math.inf, 0.0)
    f = (n - 1) * chi2 / denom
    return Friedman(n, k, mean_ranks, chi2, chi2_p, f, float(stats.f.sf(f, k - 1, (k - 1) * (n - 1))))


def nemenyi_cd(k: int, blocks: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference of mean ranks, :math:`q_\\alpha\\sqrt{k(k+1)/(6N)}` (Demšar eq. 5).

    :math:`q_\\alpha` is the :math:`1-\\alpha` quantile of the studentized range of ``k`` groups with
    infinite degrees of freedom divided by :math:`\\sqrt 2` (Demšar's Table 5: 2.569 for k = 4 at 0.05).
    """
    return _q_alpha(int(k), float(alpha)) * math.sqrt(k * (k + 1) / (6.0 * blocks))


@functools.lru_cache(maxsize=256)
def _q_alpha(k: int, alpha: float) -> float:
    """Demšar's :math:`q_\\alpha`: the studentized range quantile over :math:`\\sqrt 2` (an integral: cached)."""
    return float(stats.studentized_range.ppf(1.0 - alpha, k, np.inf)) / math.sqrt(2.0)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values: :math:`\\tilde p_{(i)} = \\max_{j \\le i} \\min(1, (m-j+1) p_{(j)})`."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


def _finite(losses: np.ndarray) -> np.ndarray:
    """``losses`` with ``inf`` replaced by a value whose differences to finite ones exceed every finite difference."""
    finite = losses[np.isfinite(losses)]
    if finite.size == 0:
        return np.zeros_like(losses)
    top = float(finite.max()) + float(finite.max() - finite.min()) + 1.0
    return np.where(np.isposinf(losses), top, losses)


def _wilcoxon(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided p-values of the signed-rank test of each column of ``d`` and which side each favours.

    Side -1: the differences lean negative (the first of the pair has lower losses), +1 positive, 0 neither.
    Zero differences are split between the signs (Demšar 2006, section 3.1.3); a column of zeros has p = 1.
    """
    ranks = stats.rankdata(np.abs(d), axis=0)
    plus = (ranks * (d > 0)).sum(axis=0) + (ranks * (d == 0)).sum(axis=0) / 2
    minus = (ranks * (d < 0)).sum(axis=0) + (ranks * (d == 0)).sum(axis=0) / 2
    some = np.any(d != 0, axis=0)
    p = np.ones(d.shape[1])
    if some.any():
        with np.errstate(invalid="ignore", divide="ignore"):
            p[some] = stats.wilcoxon(d[:, some], zero_method="zsplit", axis=0).pvalue
    return np.where(np.isfinite(p), p, 1.0), np.sign(plus - minus).astype(int)


@dataclass(frozen=True, eq=False)  # compared by identity: it holds a DataFrame (pandas compares attrs in concat)
class RankTest:
    """A Friedman test with its post-hoc comparisons and the verdict on the best item (see :func:`rank_test`).

    Attributes
    ----------
    items : tuple of str
        In order of mean rank (best first; the input's order among ties).
    blocks : tuple
        Labels of the blocks used (complete rows of the loss matrix).
    dropped : tuple
        Labels of the blocks left out because an item is absent there.
    alpha, posthoc
        The level and the post-hoc comparison that decides.
    applicable : bool
        False with fewer than 2 blocks or 2 items (``reason`` says which); the numbers are then NaN.
    mean_ranks : dict
        Item -> mean rank over ``blocks``.
    chi2, chi2_p, f, f_p : float
        Friedman's statistic and p-value; the Iman-Davenport F and its p-value (which decides).
    rejected : bool
        ``f_p < alpha``: the items are not all equivalent.
    cd : float
        Nemenyi's critical difference of mean ranks.
    pairs : DataFrame
        One row per pair (``PAIR_COLUMNS``).
    verdict : BestVerdict
    """

    items: tuple[str, ...]
    blocks: tuple[Any, ...]
    dropped: tuple[Any, ...]
    alpha: float
    posthoc: str
    applicable: bool
    reason: str
    mean_ranks: dict[str, float]
    chi2: float
    chi2_p: float
    f: float
    f_p: float
    rejected: bool
    cd: float
    pairs: pd.DataFrame = field(repr=False)
    verdict: BestVerdict

    def __deepcopy__(self, memo: dict) -> RankTest:
        # Read-only once built: pandas deep-copies a frame's attrs (where the leaderboard keeps its tests) on
        # every operation, a row of iterrows included; sharing the test keeps that cheap.
        return self

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    def distinguishable(self, a: str, b: str) -> bool:
        """Whether the post-hoc comparison (after the Friedman test rejects) tells ``a`` and ``b`` apart."""
        if not len(self.pairs):
            return False
        hit = self.pairs[
            ((self.pairs["a"] == a) & (self.pairs["b"] == b)) | ((self.pairs["a"] == b) & (self.pairs["b"] == a))
        ]
        return bool(len(hit) and hit["distinguishable"].iloc[0])

    def p_vs_best(self) -> dict[str, float]:
        """Item -> adjusted p-value of its comparison with the best item (Holm's or Nemenyi's; NaN for the best)."""
        out = {i: math.nan for i in self.items}
        column = "holm_p" if self.posthoc == "wilcoxon-holm" else "nemenyi_p"
        best = self.verdict.best
        for _, r in self.pairs.iterrows():
            if best in (r["a"], r["b"]):
                out[r["b"] if r["a"] == best else r["a"]] = float(r[column])
        return out

    def cliques(self) -> list[tuple[int, int]]:
        """Maximal runs ``(i, j)`` of ``items`` (in rank order, ``i < j``) no two of which are distinguishable.

        What a critical-difference diagram joins with a bar; runs inside a longer run are left out.
        """
        items, k = self.items, len(self.items)
        runs: list[tuple[int, int]] = []
        for i in range(k):
            j = i
            while j + 1 < k and not any(self.distinguishable(items[m], items[j + 1]) for m in range(i, j + 1)):
                j += 1
            if j > i and not any(a <= i and j <= b for a, b in runs):
                runs.append((i, j))
        return runs


def _not_applicable(
    items: list[str],
    blocks: tuple,
    dropped: tuple,
    alpha: float,
    posthoc: str,
    reason: str,
    mean_ranks: dict[str, float],
) -> RankTest:
    verdict = BestVerdict(
        items[0] if items else None,
        items[1] if len(items) > 1 else None,
        None,
        alpha,
        tuple(items),
        _test_name(posthoc),
        reason,
    )
    return RankTest(
        tuple(items),
        blocks,
        dropped,
        alpha,
        posthoc,
        False,
        reason,
        mean_ranks,
        math.nan,
        math.nan,
        math.nan,
        math.nan,
        False,
        math.nan,
        pd.DataFrame(columns=PAIR_COLUMNS),
        verdict,
    )


def _test_name(posthoc: str) -> str:
    post = "Holm-corrected Wilcoxon signed-rank tests" if posthoc == "wilcoxon-holm" else "Nemenyi test"
    return f"Friedman test, then {post}"


def rank_test(losses: pd.DataFrame, *, alpha: float = ALPHA, posthoc: str = "wilcoxon-holm") -> RankTest:
    """Friedman test over the blocks of a loss matrix, post-hoc comparisons of every pair, verdict on the best.

    Parameters
    ----------
    losses : DataFrame
        One row per block, one column per item; lower is better, ``inf`` a
        failure (ranks last), NaN an item absent from a block (such blocks are
        left out and listed in ``dropped``).
    alpha : float
        Significance level, in (0, 1); default 0.05.
    posthoc : {"wilcoxon-holm", "nemenyi"}
        The comparison that decides which pairs differ (both are computed).

    Returns
    -------
    RankTest
        Not applicable (``applicable=False``, NaN numbers, every item in the
        best group) with fewer than 2 complete blocks or 2 items.
    """
    if not isinstance(losses, pd.DataFrame):
        raise TypeError(f"losses must be a pandas DataFrame (blocks x items); got {type(losses).__name__}")
    alpha = check_float("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
    posthoc = check_choice("posthoc", posthoc, POSTHOCS)
    values = losses.to_numpy(dtype=float)
    if np.isneginf(values).any():
        raise ValueError("losses must not be -inf (a loss of -inf would rank first)")
    complete = ~np.isnan(values).any(axis=1)
    blocks = tuple(losses.index[complete])
    dropped = tuple(losses.index[~complete])
    x = values[complete]
    names = [str(c) for c in losses.columns]
    k, n = len(names), len(blocks)
    if k < 2 or n < 2:
        reason = (
            f"{k} item{'s' * (k != 1)}, needs at least 2"
            if k < 2
            else f"{n} complete block{'s' * (n != 1)}, needs at least 2"
        )
        ranks = stats.rankdata(x, axis=1).mean(axis=0) if n and k else np.full(k, math.nan)
        order = sorted(range(k), key=lambda j: (np.isnan(ranks[j]), ranks[j]))
        return _not_applicable(
            [names[j] for j in order],
            blocks,
            dropped,
            alpha,
            posthoc,
            reason,
            {names[j]: float(ranks[j]) for j in order},
        )
    fr = friedman(x)
    order = sorted(range(k), key=lambda j: fr.mean_ranks[j])  # stable: the input's order among ties
    items = [names[j] for j in order]
    rejected = bool(fr.f_p < alpha)
    cd = nemenyi_cd(k, n, alpha)
    se = math.sqrt(k * (k + 1) / (6.0 * n))
    pair_index = list(itertools.combinations(order, 2))
    first, second = (np.array(c, dtype=int) for c in zip(*pair_index))
    xf = _finite(x)
    p_w, side = _wilcoxon(xf[:, first] - xf[:, second])
    diff = np.abs(fr.mean_ranks[first] - fr.mean_ranks[second])
    rows = [
        {
            "a": names[a],
            "b": names[b],
            "mean_rank_a": float(fr.mean_ranks[a]),
            "mean_rank_b": float(fr.mean_ranks[b]),
            "rank_difference": float(d),
            "nemenyi_p": float(pn),
            "beyond_cd": bool(d > cd),
            "wilcoxon_p": float(pw),
            "_side": int(sd),
        }
        for (a, b), d, pn, pw, sd in zip(
            pair_index, diff, stats.studentized_range.sf(math.sqrt(2.0) * diff / se, k, np.inf), p_w, side
        )
    ]
    pairs = pd.DataFrame(rows)
    pairs["holm_p"] = holm(pairs["wilcoxon_p"].to_numpy())
    if posthoc == "wilcoxon-holm":
        pairs["distinguishable"] = rejected & (pairs["holm_p"] < alpha)
        better = np.where(pairs["_side"] < 0, pairs["a"], np.where(pairs["_side"] > 0, pairs["b"], ""))
    else:
        pairs["distinguishable"] = rejected & pairs["beyond_cd"]
        better = np.where(
            pairs["mean_rank_a"] < pairs["mean_rank_b"],
            pairs["a"],
            np.where(pairs["mean_rank_a"] > pairs["mean_rank_b"], pairs["b"], ""),
        )
    pairs["better"] = np.where(pairs["distinguishable"], better, "")
    pairs = pairs[PAIR_COLUMNS].reset_index(drop=True)
    best = items[0]
    beaten = {
        r["b"] if r["a"] == best else r["a"]
        for _, r in pairs.iterrows()
        if best in (r["a"], r["b"]) and r["better"] == best
    }
    group = tuple(i for i in items if i == best or i not in beaten)
    verdict = BestVerdict(best, items[1], len(group) == 1, alpha, group, _test_name(posthoc))
    return RankTest(
        tuple(items),
        blocks,
        dropped,
        alpha,
        posthoc,
        True,
        "",
        {names[j]: float(fr.mean_ranks[j]) for j in order},
        fr.chi2,
        fr.chi2_p,
        fr.f,
        fr.f_p,
        rejected,
        cd,
        pairs,
        verdict,
    )


TEST_COLUMNS = [
    "quantity",
    "blocks",
    "items",
    "alpha",
    "posthoc",
    "applicable",
    "chi2",
    "chi2_df",
    "chi2_p",
    "f",
    "f_df1",
    "f_df2",
    "f_p",
    "rejected",
    "cd_nemenyi",
    "best",
    "runner_up",
    "distinguishable",
    "best_group",
    "reason",
]


def rank_tests_frame(tests: dict[str, RankTest]) -> pd.DataFrame:
    """One row per test (key -> ``quantity``): the numbers of :class:`RankTest` for a data file (``TEST_COLUMNS``)."""
    rows = []
    for key, t in tests.items():
        k, n = len(t.items), t.n_blocks
        rows.append(
            {
                "quantity": key,
                "blocks": n,
                "items": k,
                "alpha": t.alpha,
                "posthoc": t.posthoc,
                "applicable": t.applicable,
                "chi2": t.chi2,
                "chi2_df": k - 1 if t.applicable else math.nan,
                "chi2_p": t.chi2_p,
                "f": t.f,
                "f_df1": k - 1 if t.applicable else math.nan,
                "f_df2": (k - 1) * (n - 1) if t.applicable else math.nan,
                "f_p": t.f_p,
                "rejected": t.rejected,
                "cd_nemenyi": t.cd,
                "best": t.verdict.best,
                "runner_up": t.verdict.runner_up,
                "distinguishable": t.verdict.distinguishable,
                "best_group": "; ".join(t.verdict.group),
                "reason": t.reason,
            }
        )
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


def _plain(value: Any) -> Any:
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else (None if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    return value


def rank_tests_json(tests: dict[str, RankTest]) -> str:
    """The tests as JSON: per key, the test's numbers, the mean ranks, every pair and the verdict (NaN -> null)."""
    out = {}
    for (key, t), (_, row) in zip(tests.items(), rank_tests_frame(tests).iterrows()):
        entry = {c: _plain(row[c]) for c in TEST_COLUMNS if c != "quantity"}
        entry["best_group"] = list(t.verdict.group)
        entry["blocks_used"] = [str(b) for b in t.blocks]
        entry["blocks_dropped"] = [str(b) for b in t.dropped]
        entry["mean_ranks"] = {i: _plain(r) for i, r in t.mean_ranks.items()}
        entry["verdict"] = t.verdict.sentence()
        entry["pairs"] = [{c: _plain(v) for c, v in r.items()} for r in t.pairs.to_dict(orient="records")]
        out[str(key)] = entry
    return json.dumps(out, indent=2, ensure_ascii=False)
