"""Aggregations of tidy benchmark records: pure functions DataFrame -> DataFrame.

Input: the records of :func:`infobench.bench.load_results` (one row per
cell; at least ``estimator, task_id, n, truth, estimate, ok`` and, where
available, ``std_err, truth_std_err, seconds, method, family, quantity``).

Definitions (per estimator x task x n, over the cells that succeeded):

* ``mean_estimate``; ``bias = mean_estimate - truth``; ``std`` (ddof=1, NaN
  with one cell); ``rmse = sqrt(mean((estimate - truth)^2))``.
* ``mean_log2_ratio = mean(log2(estimate / truth))``: the signed error in
  doublings. It is NaN when the truth is <= 0 (the ratio is meaningless:
  independent variables, negative differential entropies) and when any
  estimate is <= 0 (its log ratio does not exist, and dropping it would
  flatter the estimator); ``log2_ratio_undefined`` counts such cells.
* ``coverage``: the fraction of cells whose 95% interval
  ``estimate +- q sqrt(std_err^2 + truth_std_err^2)`` contains the truth, with
  ``q`` the cell's own multiplier as :meth:`infobench.Estimate.interval` has
  it: Student's t with the ``std_err_df`` degrees of freedom of records that
  carry them (2.05 at the subsampling standard error's 27), 1.96 otherwise.
  The truth's Monte-Carlo standard error widens the interval because the
  reference itself is uncertain. Computed over the cells that report a
  finite ``std_err``; NaN when none does.
* ``median_seconds`` (successful cells), ``failure_rate`` (failed / all cells).
* ``doubtful``: the successful cells whose estimate carries a warning
  diagnostic (:mod:`infobench.diagnostics`; records without a
  ``diagnostics`` column have none); ``diagnostics``: their codes, with the
  column or parameter concerned (``"ties(x[0]); extreme-values(x[1])"``).
  Every table that shows such a number flags it.

"Samples needed" is the smallest n of the grid from which
``|log(mean_estimate / truth)| < log 1.5`` holds at that n and at every
larger n of the grid (NaN: it never settles, or the truth is <= 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from infobench.bench.store import decode_diagnostics
from infobench.diagnostics import doubtful as is_doubtful
from infobench.diagnostics import merge
from infobench.diagnostics import summary as diagnostics_summary
from infobench.estimators.base import interval_quantile
from infobench.report.ranking import ALPHA, RankTest, rank_test

__all__ = [
    "METRICS",
    "Metric",
    "best_flags",
    "best_mask",
    "by_estimator",
    "calibration",
    "leaderboard",
    "rank_tests",
    "samples_needed",
    "summarize",
    "task_losses",
    "to_units",
]

Z95 = 1.959963984540054  # two-sided 95% normal quantile
GROUP = ["estimator", "task_id", "n"]
_REQUIRED = ("estimator", "task_id", "n", "truth", "estimate", "ok")
# Columns of records and summaries that are amounts of information (scaled when rendering in bits).
INFO_COLUMNS = (
    "truth",
    "truth_std_err",
    "estimate",
    "std_err",
    "mean_estimate",
    "bias",
    "std",
    "rmse",
    "mean_std_err",
    "seed_sd",
)


@dataclass(frozen=True)
class Metric:
    """How a summary column reads, and which value is best.

    ``score(value, row)`` maps a value to a loss (lower is better); the best
    value of a row of a comparison table is the one with the smallest loss.
    """

    column: str
    label: str
    best_rule: str
    score: Callable[[float, pd.Series], float]
    kind: str = "nats"  # how the renderers format it: nats, signed, plain, rate, seconds, count


METRICS: dict[str, Metric] = {
    m.column: m
    for m in (
        Metric("mean_estimate", "mean estimate ± std", "closest to the truth", lambda v, row: abs(v - row["truth"])),
        Metric("bias", "bias", "smallest |bias|", lambda v, row: abs(v)),
        Metric("std", "standard deviation", "smallest", lambda v, row: v),
        Metric("rmse", "RMSE", "smallest", lambda v, row: v),
        Metric("mean_log2_ratio", "mean log2(estimate / truth)", "closest to 0", lambda v, row: abs(v), "signed"),
        Metric("coverage", "coverage of 95% intervals", "closest to 0.95", lambda v, row: abs(v - 0.95), "rate"),
        Metric("median_seconds", "median seconds", "fastest", lambda v, row: v, "seconds"),
        Metric("failure_rate", "failure rate", "lowest", lambda v, row: v, "rate"),
        Metric("samples_needed", "samples needed (within 1.5x of the truth)", "fewest", lambda v, row: v, "count"),
        Metric("mean_rank", "mean rank", "lowest", lambda v, row: v, "plain"),
        Metric("wins", "tasks won", "most", lambda v, row: -v, "count"),
        Metric("mean_abs_log2_ratio", "mean |log2(estimate / truth)|", "smallest", lambda v, row: v, "plain"),
    )
}


def _check_frame(df: pd.DataFrame, required: tuple[str, ...] = _REQUIRED) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"results must be a pandas DataFrame; got {type(df).__name__}")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"results are missing column(s) {missing}; expected the records of load_results()")


def _order(values: pd.Series) -> list:
    """Unique values in order of first appearance (the grid's order)."""
    return list(dict.fromkeys(values.tolist()))


def _log2_ratio(est: np.ndarray, truth: float) -> tuple[float, int]:
    if not truth > 0:
        return math.nan, len(est)
    bad = int(np.sum(est <= 0))
    if bad or len(est) == 0:
        return math.nan, bad
    return float(np.mean(np.log2(est / truth))), 0


def _std_err_df(g: pd.DataFrame) -> np.ndarray:
    """The cells' ``std_err_df`` (NaN where absent: a normal quantile)."""
    if "std_err_df" not in g:
        return np.full(len(g), np.nan)
    return pd.to_numeric(g["std_err_df"], errors="coerce").astype(float).to_numpy()


def _coverage(est: np.ndarray, se: np.ndarray, truth: float, truth_se: float, df: np.ndarray | None = None) -> float:
    """Fraction of cells whose 95 % interval ``estimate +- q sqrt(std_err^2 + truth_std_err^2)`` holds ``truth``.

    ``q`` is each cell's own multiplier, as :meth:`infobench.Estimate.interval` has it:
    Student's t with the cell's ``std_err_df`` degrees of freedom, 1.96 where it has none.
    """
    have = np.isfinite(se)
    if not have.any():
        return math.nan
    q = np.full(len(se), Z95)
    if df is not None:
        q = np.array([interval_quantile(0.95, d if np.isfinite(d) and d > 0 else None) for d in df])
    half = q[have] * np.sqrt(se[have] ** 2 + (truth_se if np.isfinite(truth_se) else 0.0) ** 2)
    return float(np.mean(np.abs(est[have] - truth) <= half))


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per estimator x task x n statistics of the cells (definitions in the module docstring).

    Returns
    -------
    pandas.DataFrame
        Columns ``estimator, method, quantity, task_id, family, n, truth, truth_std_err,
        cells, failed, mean_estimate, bias, std, rmse, mean_log2_ratio,
        log2_ratio_undefined, coverage, mean_std_err, median_seconds,
        failure_rate, doubtful, diagnostics``; rows in the order estimators
        and tasks first appear, n ascending. Amounts of information are in nats.
    """
    _check_frame(df)
    cols = [
        "estimator",
        "method",
        "quantity",
        "task_id",
        "family",
        "n",
        "truth",
        "truth_std_err",
        "cells",
        "failed",
        "mean_estimate",
        "bias",
        "std",
        "rmse",
        "mean_log2_ratio",
        "log2_ratio_undefined",
        "coverage",
        "mean_std_err",
        "median_seconds",
        "failure_rate",
        "doubtful",
        "diagnostics",
    ]
    if df.empty:
        return pd.DataFrame(columns=cols)
    est_order = {e: i for i, e in enumerate(_order(df["estimator"]))}
    task_order = {t: i for i, t in enumerate(_order(df["task_id"]))}
    rows = []
    for (estimator, task_id, n), g in df.groupby(GROUP, sort=False):
        ok = g["ok"].astype(bool).to_numpy()
        good = g[ok]
        truths = g["truth"].astype(float).unique()
        if len(truths) != 1:
            raise ValueError(f"task {task_id!r} has several truths in the results: {sorted(float(t) for t in truths)}")
        truth = float(truths[0])
        truth_se = float(g["truth_std_err"].iloc[0]) if "truth_std_err" in g else 0.0
        est = good["estimate"].astype(float).to_numpy()
        se = good["std_err"].astype(float).to_numpy() if "std_err" in good else np.full(len(good), np.nan)
        mean = float(np.mean(est)) if len(est) else math.nan
        lr, undefined = _log2_ratio(est, truth)
        secs = good["seconds"].astype(float).to_numpy() if "seconds" in good else np.array([])
        found = [decode_diagnostics(t) for t in good["diagnostics"]] if "diagnostics" in good else []
        rows.append(
            {
                "estimator": estimator,
                "method": g["method"].iloc[0] if "method" in g else str(estimator).split("[")[0],
                "quantity": g["quantity"].iloc[0] if "quantity" in g else "",
                "task_id": task_id,
                "family": g["family"].iloc[0] if "family" in g else "",
                "n": int(n),
                "truth": truth,
                "truth_std_err": truth_se,
                "cells": len(g),
                "failed": int((~ok).sum()),
                "mean_estimate": mean,
                "bias": mean - truth,
                "std": float(np.std(est, ddof=1)) if len(est) >= 2 else math.nan,
                "rmse": float(np.sqrt(np.mean((est - truth) ** 2))) if len(est) else math.nan,
                "mean_log2_ratio": lr,
                "log2_ratio_undefined": undefined,
                "coverage": _coverage(est, se, truth, truth_se, _std_err_df(good)),
                "mean_std_err": float(np.mean(se[np.isfinite(se)])) if np.isfinite(se).any() else math.nan,
                "median_seconds": float(np.median(secs[np.isfinite(secs)])) if np.isfinite(secs).any() else math.nan,
                "failure_rate": float((~ok).sum() / len(g)),
                "doubtful": sum(is_doubtful(d) for d in found),
                "diagnostics": diagnostics_summary(merge(*found)),
            }
        )
    out = pd.DataFrame(rows, columns=cols)
    out["_e"] = out["estimator"].map(est_order)
    out["_t"] = out["task_id"].map(task_order)
    out = out.sort_values(["_t", "n", "_e"], kind="stable").drop(columns=["_e", "_t"]).reset_index(drop=True)
    return out


def samples_needed(summary: pd.DataFrame, *, factor: float = 1.5) -> pd.DataFrame:
    """Smallest n from which the mean estimate stays within ``factor`` of the truth.

    Parameters
    ----------
    summary : DataFrame
        The output of :func:`summarize`.
    factor : float
        Tolerance ratio (> 1): the condition is ``|log(mean_estimate / truth)| < log(factor)``.

    Returns
    -------
    pandas.DataFrame
        ``estimator, task_id, samples_needed, max_n, doubtful``:
        ``samples_needed`` is the smallest grid n such that the condition holds
        at it and at every larger grid n; NaN when it fails at the largest n,
        when the truth is <= 0, or when the mean is undefined (all cells
        failed) or <= 0. ``doubtful`` counts the task's cells (every n) whose
        estimate carries a warning diagnostic.
    """
    _check_frame(summary, ("estimator", "task_id", "n", "truth", "mean_estimate"))
    if not (isinstance(factor, (int, float)) and factor > 1 and math.isfinite(factor)):
        raise ValueError(f"factor must be a finite number > 1; got {factor!r}")
    rows = []
    for (estimator, task_id), g in summary.groupby(["estimator", "task_id"], sort=False):
        g = g.sort_values("n")
        truth = float(g["truth"].iloc[0])
        mean = g["mean_estimate"].astype(float).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            good = (truth > 0) & (mean > 0) & (np.abs(np.log(mean / truth)) < math.log(factor))
        needed = math.nan
        for i in range(len(good) - 1, -1, -1):
            if not good[i]:
                break
            needed = float(g["n"].iloc[i])
        rows.append(
            {
                "estimator": estimator,
                "task_id": task_id,
                "samples_needed": needed,
                "max_n": int(g["n"].max()),
                "doubtful": int(g["doubtful"].sum()) if "doubtful" in g else 0,
            }
        )
    return pd.DataFrame(rows, columns=["estimator", "task_id", "samples_needed", "max_n", "doubtful"])


def by_estimator(
    frame: pd.DataFrame,
    value: str,
    index: str | list[str] = "task_id",
    rows: Any = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """``frame[value]`` laid out as rows ``index`` x one column per estimator (NaN where absent).

    ``rows`` and ``columns`` fix the order (default: order of first appearance).
    """
    keys = index if isinstance(index, list) else [index]
    if rows is None:
        rows = (
            list(dict.fromkeys(zip(*(frame[k] for k in keys))))
            if len(keys) > 1
            else list(dict.fromkeys(frame[keys[0]]))
        )
        if len(keys) > 1:
            rows = pd.MultiIndex.from_tuples(rows, names=keys)
    columns = list(dict.fromkeys(frame["estimator"])) if columns is None else columns
    table = frame.pivot_table(index=index, columns="estimator", values=value, aggfunc="first", dropna=False)
    return table.reindex(index=rows, columns=columns)


# How a direction of "better" turns a value into a loss (lower is better).
DIRECTION_LOSS: dict[str, Callable[[float], float]] = {"up": lambda v: -v, "down": lambda v: v, "zero": abs}


def best_flags(values: pd.Series, rule: str | Callable[[float], float], eligible: pd.Series | None = None) -> pd.Series:
    """The one "best" rule of every report: True where the loss of a value is smallest.

    Parameters
    ----------
    values : Series
        The values compared with each other.
    rule : {"up", "down", "zero"} or callable
        Higher is better, lower is better, closer to zero is better, or a
        function value -> loss (lower is better).
    eligible : Series of bool, optional
        Only these entries compete (e.g. not the held-out ceiling).

    Returns
    -------
    Series of bool, same index; ties are all marked; NaN (a missing value or
    an undefined loss) is never best; all False when nothing competes.
    """
    loss_of = DIRECTION_LOSS[rule] if isinstance(rule, str) else rule
    loss = pd.Series(
        [loss_of(float(v)) if v is not None and np.isfinite(float(v)) else math.nan for v in values],
        index=values.index,
        dtype=float,
    )
    loss = loss.where(np.isfinite(loss))
    if eligible is not None:
        loss = loss.where(eligible.astype(bool))
    if loss.isna().all():
        return pd.Series(False, index=values.index)
    return loss == loss.min()


def best_mask(values: pd.DataFrame, metric: str, truth: pd.Series | None = None) -> pd.DataFrame:
    """Which entries of each row of a comparison table are best for ``metric`` (:func:`best_flags` per row).

    Parameters
    ----------
    values : DataFrame
        Rows to compare within (e.g. one task and n), one column per estimator.
    metric : str
        A key of :data:`METRICS`; its ``score`` says what best is.
    truth : Series, optional
        Per-row truth (needed by ``mean_estimate``).

    Returns
    -------
    DataFrame of bool, same shape; ties are all marked, NaN is never best.
    """
    m = METRICS[metric]
    out = pd.DataFrame(False, index=values.index, columns=values.columns)
    for idx, row in values.iterrows():
        ctx = pd.Series({"truth": truth.loc[idx] if truth is not None else math.nan})
        out.loc[idx] = best_flags(row.astype(float), lambda v: m.score(v, ctx))  # noqa: B023 (called at once).to_numpy()
    return out


def task_losses(summary: pd.DataFrame, *, rank_by: str = "rmse") -> pd.DataFrame:
    """The loss the leaderboard ranks by, per estimator and task at the task's largest n.

    Returns
    -------
    pandas.DataFrame
        ``quantity, task_id, estimator, loss, ranked`` in the summary's order:
        ``loss`` is ``METRICS[rank_by].score`` of the value (lower is better),
        ``inf`` where the value is missing or undefined (every cell failed, a
        log ratio of a non-positive number), so that it ranks last;
        ``ranked`` is False for an estimator of which every cell at the
        tasks' largest n (of its quantity) failed: it is not ranked at all.
    """
    rankable = [m for m in METRICS if m in summary.columns]
    if rank_by not in rankable:
        raise ValueError(f"rank_by must be one of {rankable}; got {rank_by!r}")
    _check_frame(summary, ("estimator", "task_id", "n", "cells", "failed"))
    cols = ["quantity", "estimator", "task_id", "loss", "ranked"]
    if summary.empty:
        return pd.DataFrame(columns=cols)
    metric = METRICS[rank_by]
    summary = summary if "quantity" in summary else summary.assign(quantity="")
    top = summary[summary["n"] == summary.groupby("task_id")["n"].transform("max")]
    rows = []
    for _, row in top.iterrows():
        v = row[rank_by]
        s = metric.score(float(v), row) if pd.notna(v) else math.nan
        rows.append(
            {
                "quantity": row["quantity"],
                "estimator": row["estimator"],
                "task_id": row["task_id"],
                "loss": s if np.isfinite(s) else math.inf,
            }
        )
    out = pd.DataFrame(rows, columns=cols[:-1])
    tried = top.groupby(["quantity", "estimator"], sort=False)[["cells", "failed"]].sum()
    ranked = tried["cells"] > tried["failed"]  # not when every cell failed: nothing to rank
    out["ranked"] = [bool(ranked.loc[(q, e)]) for q, e in zip(out["quantity"], out["estimator"])]
    return out


def rank_tests(
    summary: pd.DataFrame, *, rank_by: str = "rmse", alpha: float = ALPHA, posthoc: str = "wilcoxon-holm"
) -> dict[str, RankTest]:
    """Is the leaderboard beyond the noise? One :func:`~infobench.report.ranking.rank_test` per quantity.

    Blocks are the tasks, each at its largest n with the loss the leaderboard
    ranks by (:func:`task_losses`; the seeds enter through that loss, e.g. the
    RMSE over seeds). Not task x n: the sizes of one task share its
    distribution and each estimator's behaviour on it, so they are not
    independent blocks and counting them apart would overstate the evidence.
    Estimators of which every cell failed are not ranked and not tested; a
    task on which a ranked estimator has no cell is left out (the test needs
    complete blocks). A failure ranks last.

    Returns
    -------
    dict
        Quantity (``""`` for summaries without that column) -> :class:`~infobench.report.ranking.RankTest`,
        in order of first appearance.
    """
    return _rank_tests(task_losses(summary, rank_by=rank_by), alpha, posthoc)


def _rank_tests(losses: pd.DataFrame, alpha: float, posthoc: str) -> dict[str, RankTest]:
    """:func:`rank_tests` of the output of :func:`task_losses`."""
    tests = {}
    for q in _order(losses["quantity"]) if len(losses) else []:
        mine = losses[(losses["quantity"] == q) & losses["ranked"]]
        matrix = mine.pivot_table(index="task_id", columns="estimator", values="loss", aggfunc="first", dropna=False)
        matrix = matrix.reindex(index=_order(mine["task_id"]), columns=_order(mine["estimator"]))
        tests[q] = rank_test(matrix, alpha=alpha, posthoc=posthoc)
    return tests


def leaderboard(
    summary: pd.DataFrame, *, rank_by: str = "rmse", alpha: float = ALPHA, posthoc: str = "wilcoxon-holm"
) -> pd.DataFrame:
    """Rank estimators across tasks, each task compared at its largest n, one board per quantity.

    For every task the estimators are ranked by ``rank_by`` (best = 1, ties
    share the average rank, a missing or undefined value ranks last); the
    leaderboard averages over the tasks each estimator ran on. An estimator
    whose every cell failed (at the tasks' largest n) is not ranked: its
    ``mean_rank`` is NaN, it wins nothing and it is listed last. Entropy and MI
    tasks are ranked among different estimators, so each ``quantity`` gets
    its own rows: an estimator that serves both (``kde``, ``histogram``,
    ``gaussian``) appears once per quantity, with that quantity's tasks only.
    Whether the ranking is beyond the noise of tasks and seeds is tested per
    quantity by :func:`rank_tests` at level ``alpha`` (Friedman, then the
    ``posthoc`` comparison); the tests are kept in ``board.attrs["rank_tests"]``.

    Returns
    -------
    pandas.DataFrame
        ``quantity, estimator, tasks, mean_rank, wins, mean_abs_log2_ratio,
        coverage, failure_rate, median_seconds, doubtful, best_group,
        p_vs_best`` sorted by quantity (in order of first appearance) and then
        ``mean_rank``:
        ``wins`` counts tasks where the estimator is best;
        ``mean_abs_log2_ratio`` and ``coverage`` average over tasks where they
        are defined (at the largest n); ``failure_rate`` covers all of the
        estimator's cells at the largest n and ``median_seconds`` is the
        median over tasks of their median seconds there; ``doubtful`` counts
        its cells there whose estimate carries a warning diagnostic;
        ``best_group`` is True for the estimators not shown worse than the
        top one at ``alpha`` (all ranked ones when the test does not apply or
        does not reject); ``p_vs_best`` is the adjusted p-value of the
        comparison with the top one (NaN for it, and when the test does not
        apply). ``quantity`` is ``""`` for summaries without that column.
    """
    _check_frame(
        summary,
        (
            "estimator",
            "task_id",
            "n",
            "mean_log2_ratio",
            "coverage",
            "failure_rate",
            "median_seconds",
            "cells",
            "failed",
        ),
    )
    losses = task_losses(summary, rank_by=rank_by)
    tests = _rank_tests(losses, alpha, posthoc)
    cols = [
        "quantity",
        "estimator",
        "tasks",
        "mean_rank",
        "wins",
        "mean_abs_log2_ratio",
        "coverage",
        "failure_rate",
        "median_seconds",
        "doubtful",
        "best_group",
        "p_vs_best",
    ]
    if summary.empty:
        return pd.DataFrame(columns=cols)
    summary = summary if "quantity" in summary else summary.assign(quantity="")
    top = summary[summary["n"] == summary.groupby("task_id")["n"].transform("max")]
    ranks: dict[tuple[str, str], list[float]] = {}
    wins: dict[tuple[str, str], int] = {}
    for _, g in losses.groupby("task_id", sort=False):
        scores = g["loss"].to_numpy(dtype=float)
        r = pd.Series(scores).rank(method="average").to_numpy()
        best = scores.min()
        for q, e, rank, s in zip(g["quantity"], g["estimator"], r, scores):
            ranks.setdefault((q, e), []).append(float(rank))
            wins[q, e] = wins.get((q, e), 0) + int(s == best and np.isfinite(s))
    rows = []
    for q in _order(summary["quantity"]):
        test = tests[q]
        p_best = test.p_vs_best()
        for e in _order(summary.loc[summary["quantity"] == q, "estimator"]):
            mine = top[(top["quantity"] == q) & (top["estimator"] == e)]
            lr = mine["mean_log2_ratio"].abs().dropna()
            cov = mine["coverage"].dropna()
            cells = int(mine["cells"].sum())
            ranked = cells > int(mine["failed"].sum())  # not when every cell failed: nothing to rank
            rows.append(
                {
                    "quantity": q,
                    "estimator": e,
                    "tasks": int(mine["task_id"].nunique()),
                    "mean_rank": float(np.mean(ranks[q, e])) if ranked and ranks.get((q, e)) else math.nan,
                    "wins": wins.get((q, e), 0) if ranked else 0,
                    "mean_abs_log2_ratio": float(lr.mean()) if len(lr) else math.nan,
                    "coverage": float(cov.mean()) if len(cov) else math.nan,
                    "failure_rate": float(mine["failed"].sum() / cells) if cells else math.nan,
                    "median_seconds": float(mine["median_seconds"].median())
                    if mine["median_seconds"].notna().any()
                    else math.nan,
                    "doubtful": int(mine["doubtful"].sum()) if "doubtful" in mine else 0,
                    "best_group": ranked and e in test.verdict.group,
                    "p_vs_best": p_best.get(e, math.nan) if test.applicable else math.nan,
                }
            )
    board = pd.DataFrame(rows, columns=cols)
    order = {q: i for i, q in enumerate(_order(summary["quantity"]))}
    board["_q"] = board["quantity"].map(order)
    board = board.sort_values(["_q", "mean_rank"], kind="stable").drop(columns="_q").reset_index(drop=True)
    board.attrs["rank_tests"] = tests
    return board


def to_units(frame: pd.DataFrame, units: str = "nats") -> pd.DataFrame:
    """Convert the amounts of information of records or a summary to ``"nats"`` (unchanged) or ``"bits"``."""
    if units not in ("nats", "bits"):
        raise ValueError(f"units must be 'nats' or 'bits'; got {units!r}")
    if units == "nats":
        return frame
    out = frame.copy()
    for c in INFO_COLUMNS:
        if c in out:
            out[c] = out[c] / math.log(2.0)
    return out


CALIBRATION_COLUMNS = [
    "quantity",
    "estimator",
    "n",
    "tasks",
    "cells",
    "mean_std_err",
    "seed_sd",
    "ratio",
    "coverage_truth",
    "coverage_mean",
    "doubtful",
]


def calibration(df: pd.DataFrame, *, per_task: bool = False) -> pd.DataFrame:
    """Do the reported standard errors match the spread of the estimates over seeds?

    Over the successful cells that report a finite ``std_err``, per
    ``(quantity, estimator, n)`` (and ``task_id`` with ``per_task=True``):

    * ``mean_std_err``: mean reported standard error;
    * ``seed_sd``: the seed-to-seed standard deviation of the estimates
      (ddof=1 within each task; over several tasks, the root of the pooled
      within-task variance, so differences between tasks' truths do not count);
    * ``ratio = mean_std_err / seed_sd`` (1 = calibrated; below 1 the
      intervals are too narrow). Over several tasks it is dominated by the
      tasks with the largest spread: ``per_task=True`` shows each;
    * ``coverage_truth``: fraction of cells whose 95 % interval
      ``estimate +- q sqrt(std_err^2 + truth_std_err^2)`` contains the
      truth (the ``coverage`` of :func:`summarize`, ``q`` as there: the t
      quantile of a record's ``std_err_df``, else 1.96; it mixes bias and spread);
    * ``coverage_mean``: fraction of cells whose ``estimate +- q std_err``
      contains the mean estimate of their task over seeds (the spread alone:
      a calibrated standard error gives about 0.95 whatever the bias);
    * ``doubtful``: how many of these cells carry a warning diagnostic.

    Tasks with fewer than two such cells are left out (no spread).

    Returns
    -------
    pandas.DataFrame
        Columns ``quantity, estimator[, task_id], n, tasks, cells,
        mean_std_err, seed_sd, ratio, coverage_truth, coverage_mean, doubtful``, in
        order of first appearance, n ascending; amounts in nats.
    """
    _check_frame(df, _REQUIRED + ("std_err",))
    keys = ["quantity", "estimator"] + (["task_id"] if per_task else []) + ["n"]
    cols = keys + [c for c in CALIBRATION_COLUMNS if c not in keys]
    frame = df if "quantity" in df else df.assign(quantity="")
    se_all = pd.to_numeric(frame["std_err"], errors="coerce").astype(float)
    frame = frame[frame["ok"].astype(bool) & np.isfinite(se_all)]
    # Per task: spread, and which cells' intervals cover the truth / the task's mean.
    parts = []
    for (q, est, task, n), g in frame.groupby(["quantity", "estimator", "task_id", "n"], sort=False):
        if len(g) < 2:
            continue
        x = g["estimate"].astype(float).to_numpy()
        se = g["std_err"].astype(float).to_numpy()
        dfs = _std_err_df(g)
        truth_se = float(g["truth_std_err"].iloc[0]) if "truth_std_err" in g else 0.0
        parts.append(
            {
                "quantity": q,
                "estimator": est,
                "task_id": task,
                "n": int(n),
                "cells": len(x),
                "se_sum": float(se.sum()),
                "ss": float(np.sum((x - x.mean()) ** 2)),
                "hit_truth": _coverage(x, se, float(g["truth"].iloc[0]), truth_se, dfs) * len(x),
                "hit_mean": _coverage(x, se, float(x.mean()), 0.0, dfs) * len(x),
                "doubtful": sum(is_doubtful(decode_diagnostics(t)) for t in g["diagnostics"])
                if "diagnostics" in g
                else 0,
            }
        )
    if not parts:
        return pd.DataFrame(columns=cols)
    tasks = pd.DataFrame(parts)
    rows = []
    for key, g in tasks.groupby(keys, sort=False):
        cells = int(g["cells"].sum())
        mean_se = float(g["se_sum"].sum() / cells)
        sd = math.sqrt(float(g["ss"].sum()) / (cells - len(g)))
        rows.append(
            dict(zip(keys, key if isinstance(key, tuple) else (key,)))
            | {
                "tasks": len(g),
                "cells": cells,
                "mean_std_err": mean_se,
                "seed_sd": sd,
                "ratio": mean_se / sd if sd > 0 else math.nan,
                "coverage_truth": float(g["hit_truth"].sum() / cells),
                "coverage_mean": float(g["hit_mean"].sum() / cells),
                "doubtful": int(g["doubtful"].sum()),
            }
        )
    out = pd.DataFrame(rows, columns=cols)
    # Labels in order of first appearance, n ascending within them.
    rank = {k: out[k].map({v: i for i, v in enumerate(_order(out[k]))}) for k in keys[:-1]}
    order = pd.DataFrame(rank).assign(n=out["n"]).sort_values(keys[:-1] + ["n"], kind="stable").index
    return out.loc[order].reset_index(drop=True)
