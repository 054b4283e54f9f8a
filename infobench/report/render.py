"""Comparison tables and their renderers: rich, Markdown, CSV, LaTeX (booktabs) and HTML.

A :class:`Table` holds display text and a *best* flag per cell; a
:class:`Figure` a PNG and its caption. A report is a list of *blocks*
(``("h2", text)``, ``("p", text)``, ``("table", Table)``, ``("img", Figure)``)
that :func:`markdown_page` and :func:`html_page` render in the same order.
Every report of the package goes through these renderers, with one number
formatter (:func:`format_value`), one file-name rule (:func:`slug`) and one
"best" rule (:func:`infobench.report.aggregate.best_flags`). Builders
turn aggregations into tables (rows: task and n; columns: estimators); every
renderer marks the best value of each row the same way, in its own idiom:
bold in rich and Markdown, a trailing ``*`` in CSV, ``\\textbf`` in LaTeX and
``class="best"`` in HTML. What "best" means depends on the metric
(:data:`infobench.report.aggregate.METRICS`: smallest |bias|, smallest RMSE,
coverage closest to 0.95, mean estimate closest to the truth, ...).
Numbers are never clipped; a heatmap's colours saturate at
``|log2(estimate / truth)| = 1`` (a factor of 2) but its text does not.
A number behind which a cell's estimate carries a warning diagnostic
(:mod:`infobench.diagnostics`) is flagged the same way in every format: the
marker :data:`DOUBT_MARK` after it, and the table's note names the codes
(aggregate tables count such cells in a ``doubtful`` column; the report's
diagnostics table lists them all).
"""

from __future__ import annotations

import base64
import csv
import functools
import html
import io
import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd
from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table as RichTable
from rich.text import Text

from infobench._naming import slug
from infobench._progress import output_width
from infobench.report.aggregate import METRICS, best_mask, by_estimator, to_units
from infobench.report.ranking import ALPHA, BestVerdict, RankTest, mark_if_distinguishable

__all__ = [
    "Figure",
    "Table",
    "Tables",
    "DOUBT_MARK",
    "calibration_table",
    "diagnostics_table",
    "format_score",
    "format_value",
    "frame_table",
    "heatmap_table",
    "html_page",
    "latex_document",
    "leaderboard_table",
    "markdown_page",
    "metric_table",
    "notebook_html",
    "plain_text",
    "rank_groups_table",
    "rank_test_table",
    "samples_needed_table",
    "slug",
    "table_name",
    "to_csv",
    "to_html",
    "to_latex",
    "to_markdown",
    "to_rich",
]

MISSING = "n/a"  # an undefined value (all cells failed, log ratio of a non-positive number, ...)
DOUBT_MARK = "†"  # after a number that a warning diagnostic puts in doubt


def _flagged(text: str, doubtful: Any) -> str:
    """``text`` with :data:`DOUBT_MARK` when ``doubtful`` (a count of doubtful cells) is positive."""
    return f"{text} {DOUBT_MARK}" if text and pd.notna(doubtful) and doubtful > 0 else text


def _doubt_note(frame: pd.DataFrame) -> str:
    """A note sentence naming the diagnostic codes of the flagged rows of a summary, ``""`` when none."""
    if "doubtful" not in frame or not (frame["doubtful"].fillna(0) > 0).any():
        return ""
    codes: dict[str, list[str]] = {}
    for _, r in frame[frame["doubtful"].fillna(0) > 0].iterrows():
        mine = codes.setdefault(str(r["estimator"]), [])
        for code in str(r.get("diagnostics", "") or "").split("; "):
            if code and code not in mine:
                mine.append(code)
    listed = "; ".join(f"{e}: {', '.join(c) if c else 'see the diagnostics table'}" for e, c in codes.items())
    return (
        f" {DOUBT_MARK}: at least one cell behind the number carries a warning diagnostic, so the number may be "
        f"wrong ({listed})."
    )


@dataclass
class Table:
    """Display text of a comparison table and which cells are best.

    Attributes
    ----------
    title : str
    header : list of str
    rows : list of list of str
    best : list of list of bool
        Same shape as ``rows``.
    labels : int
        Number of leading label columns (task, n, truth...), left-aligned.
    note : str
        What the values are and what "best" means.
    heat : list of list of float, optional
        Per-cell value that colours an HTML heatmap (log2 ratio), NaN for none.
    name : str
        File stem when the table is written on its own (``tables/<name>.csv``);
        empty: :func:`slug` of the title (see :func:`table_name`).
    """

    title: str
    header: list[str]
    rows: list[list[str]]
    best: list[list[bool]]
    labels: int = 1
    note: str = ""
    heat: list[list[float]] | None = field(default=None)
    name: str = ""

    def _repr_html_(self) -> str:
        """The table in a notebook: :func:`to_html` with the report's table styles."""
        return notebook_html([self])

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        """IPython's plain text: the terminal table without styles (best values marked ``*``)."""
        printer.text(plain_text([self]))

    def __rich__(self):
        return to_rich(self)


class Tables(list):
    """A list of :class:`Table` that a notebook shows as HTML and rich prints one after the other."""

    def _repr_html_(self) -> str:
        return notebook_html(list(self))

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(plain_text(list(self)))

    def __rich_console__(self, console, options):
        for table in self:
            yield to_rich(table)


def plain_text(tables: list[Table], width: int | None = None) -> str:
    """The terminal rendering of ``tables`` as text without styles or escape codes; best values marked ``*``.

    ``width`` defaults to that of standard output (:func:`infobench._progress.output_width`).
    """
    console = Console(
        file=io.StringIO(),
        width=width or output_width(),
        color_system=None,
        force_terminal=False,
        force_jupyter=False,
        record=False,
    )
    for table in tables:
        console.print(to_rich(table))
    return cast(io.StringIO, console.file).getvalue().rstrip("\n")


@dataclass
class Figure:
    """A PNG of a report: ``name`` is its file name (``heatmap.png``), ``caption`` its text."""

    name: str
    caption: str
    png: bytes


def table_name(table: Table) -> str:
    """The file stem of ``table``: its ``name``, else the slug of its title."""
    return table.name or slug(table.title, default="table")


def format_value(value: Any, kind: str = "nats") -> str:
    """Text for one number of a given ``kind``; the one number formatter of every report.

    Kinds: ``nats`` (amounts of information: 3 decimals, tiny non-zero values
    2 significant digits), ``signed`` (3 decimals with a sign), ``plain`` (3
    decimals), ``rate`` (2 decimals), ``seconds`` (3 significant digits),
    ``score`` (4 significant digits), ``count`` (an integer, or 1 decimal when
    the value is not whole). NaN and None -> ``n/a``; infinities -> ``inf`` /
    ``-inf`` (never hidden); text is returned as it is.
    """
    if value is None:
        return MISSING
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return MISSING
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if kind == "count":
        return f"{v:.0f}" if v.is_integer() else f"{v:.1f}"
    if kind == "score":
        return f"{v:.4g}"
    if kind == "rate":
        return f"{v:.2f}"
    if kind == "seconds":
        return f"{v:.3g}"
    if kind == "signed":
        return f"{v:+.3f}" if v else "0.000"
    if kind == "plain":
        return f"{v:.3f}"
    # Amounts of information: millinat resolution; smaller non-zero values keep 2 significant digits.
    return f"{v:.3f}" if v == 0 or abs(v) >= 0.0005 else f"{v:.1e}"


def format_score(value: Any, unit: str) -> str:
    """:func:`format_value` for a quality score in ``unit``: counts as counts, anything else as ``score``."""
    return format_value(value, "count" if unit == "count" else "score")


def _unit_suffix(metric: str, units: str) -> str:
    return f" ({units})" if METRICS[metric].kind == "nats" else ""


def metric_table(summary: pd.DataFrame, metric: str, *, units: str = "nats") -> Table:
    """Rows (task, n[, truth]) x estimator columns for one summary metric; best per row marked."""
    if metric not in METRICS or metric not in summary.columns:
        valid = [m for m in METRICS if m in summary.columns]
        raise ValueError(f"metric must be one of {valid}; got {metric!r}")
    s = to_units(summary, units)
    m = METRICS[metric]
    estimators = list(dict.fromkeys(s["estimator"]))
    index = ["task_id", "n"]
    values = by_estimator(s, metric, index)
    truth = s.groupby(index, sort=False)["truth"].first().reindex(values.index)
    mask = best_mask(values, metric, truth)
    present = by_estimator(s, "cells", index, values.index)
    doubt = by_estimator(s, "doubtful", index, values.index) if "doubtful" in s else None
    std = by_estimator(s, "std", index, values.index) if metric == "mean_estimate" else None
    with_truth = metric in ("mean_estimate", "bias")
    header = ["task", "n"] + ([f"truth ({units})"] if with_truth else []) + estimators
    rows, best = [], []
    for key in values.index:
        row = [str(key[0]), str(key[1])] + ([format_value(truth.loc[key])] if with_truth else [])
        flags = [False] * len(row)
        for e in estimators:
            if pd.isna(present.loc[key, e]):
                row.append("")  # this estimator does not apply to this task
            else:
                text = format_value(values.loc[key, e], m.kind)
                if std is not None and text != MISSING and np.isfinite(std.loc[key, e]):
                    text += f" ± {format_value(std.loc[key, e])}"
                row.append(_flagged(text, doubt.loc[key, e]) if doubt is not None else text)
            flags.append(bool(mask.loc[key, e]))
        rows.append(row)
        best.append(flags)
    title = f"{m.label}{_unit_suffix(metric, units)}"
    note = f"Best per row: {m.best_rule}."
    if metric == "mean_estimate":
        note = "Mean over seeds ± standard deviation across seeds. " + note
    note += _doubt_note(s)
    return Table(title, header, rows, best, labels=len(header) - len(estimators), note=note)


def samples_needed_table(needed: pd.DataFrame) -> Table:
    """Rows task x estimator columns of :func:`infobench.report.aggregate.samples_needed`."""
    estimators = list(dict.fromkeys(needed["estimator"]))
    tasks = list(dict.fromkeys(needed["task_id"]))
    values = by_estimator(needed, "samples_needed", rows=tasks, columns=estimators)
    present = by_estimator(needed, "max_n", rows=tasks, columns=estimators)
    doubt = by_estimator(needed, "doubtful", rows=tasks, columns=estimators) if "doubtful" in needed else None
    mask = best_mask(values, "samples_needed")
    rows, best = [], []
    for t in tasks:
        row, flags = [t], [False]
        for e in estimators:
            if pd.isna(present.loc[t, e]):
                row.append("")
            else:
                v = values.loc[t, e]
                text = format_value(v, "count") if pd.notna(v) else f"> {int(present.loc[t, e])}"
                row.append(_flagged(text, doubt.loc[t, e]) if doubt is not None else text)
            flags.append(bool(mask.loc[t, e]))
        rows.append(row)
        best.append(flags)
    return Table(
        METRICS["samples_needed"].label,
        ["task"] + estimators,
        rows,
        best,
        labels=1,
        note="Smallest n of the grid from which the mean estimate stays within a factor 1.5 of the truth "
        "(at that n and every larger one); '> N': not reached by the largest n, or undefined (truth <= 0). "
        "Best per row: fewest."
        + (
            f" {DOUBT_MARK}: some of the task's cells carry a warning diagnostic (see the diagnostics table)."
            if doubt is not None and (doubt.fillna(0) > 0).any().any()
            else ""
        ),
    )


def _rank_tests(board: pd.DataFrame, tests: dict[str, RankTest] | None) -> dict[str, RankTest]:
    tests = board.attrs.get("rank_tests") if tests is None else tests
    if tests is None:
        raise ValueError(
            "the leaderboard's rank tests are missing: build the board with leaderboard() "
            "(it keeps them in board.attrs['rank_tests']) or pass tests=rank_tests(summary)"
        )
    return tests


def _verdict(tests: dict[str, RankTest], quantity: str) -> BestVerdict:
    test = tests.get(quantity)
    if test is None:
        return BestVerdict(None, None, None, ALPHA, reason="no test of this quantity")
    return test.verdict


def leaderboard_table(board: pd.DataFrame, *, rank_by: str = "rmse", tests: dict[str, RankTest] | None = None) -> Table:
    """The leaderboard (one row per estimator and quantity); the best value of each *column* is marked.

    With several quantities (entropy, MI, KL tasks) a leading ``quantity``
    column is shown and the best values are marked within each quantity:
    ranks over different task sets do not compare. The lowest mean rank and
    the most wins are marked only where the rank test says the top estimator
    is distinguishable from the runner-up
    (:func:`~infobench.report.ranking.mark_if_distinguishable`); the note
    says which estimators share the best place otherwise. ``tests`` default
    to those :func:`~infobench.report.aggregate.leaderboard` kept in
    ``board.attrs["rank_tests"]``.
    """
    tests = _rank_tests(board, tests)
    board = board if "quantity" in board else board.assign(quantity="")
    several = board["quantity"].nunique() > 1
    cols = ["mean_rank", "wins", "mean_abs_log2_ratio", "coverage", "failure_rate", "median_seconds"]
    # The column appears only where a cell is in doubt: a column of zeros would be noise on clean runs.
    doubt = "doubtful" in board and bool((board["doubtful"].fillna(0) > 0).any())
    lead = ["quantity"] if several else []
    header = (
        lead
        + ["estimator", "tasks", "mean rank", "wins", "mean |log2 ratio|", "coverage", "failure rate", "median s"]
        + (["doubtful"] if doubt else [])
    )
    rows = [
        [str(r[c]) for c in lead]
        + [str(r["estimator"]), str(int(r["tasks"]))]
        + [format_value(r[c], METRICS[c].kind) for c in cols]
        + ([_flagged(format_value(r["doubtful"], "count"), r["doubtful"])] if doubt else [])
        for _, r in board.iterrows()
    ]
    flags = pd.DataFrame(False, index=board.index, columns=cols)
    # An estimator whose every cell failed is not ranked, and best in nothing.
    for q, group in board[board["mean_rank"].notna()].groupby("quantity", sort=False):
        for c in cols:
            # Best per column here: transpose so that best_mask compares estimators.
            flags.loc[group.index, c] = best_mask(group[[c]].T, c).T[c]
        for c in ("mean_rank", "wins"):  # a claim that one estimator ranks best: only beyond the noise
            flags.loc[group.index, c] = mark_if_distinguishable(flags.loc[group.index, c], _verdict(tests, q))
    best = [[False] * (len(lead) + 2) + [bool(flags.loc[i, c]) for c in cols] + [False] * doubt for i in board.index]
    unranked = board["mean_rank"].isna().any()
    quantities = list(dict.fromkeys(board["quantity"]))
    verdicts = "; ".join((f"{q}: " if several else "") + _verdict(tests, q).sentence() for q in quantities)
    level = next((t.alpha for t in tests.values()), ALPHA)
    return Table(
        "Leaderboard",
        header,
        rows,
        best,
        labels=len(lead) + 2,
        note=f"Each task is compared at its largest n; ranks by {METRICS[rank_by].label} (1 = best, averaged over "
        "tasks); wins = tasks where the estimator is best. Best per column"
        + (" and quantity (the estimators of each quantity run on its own tasks)" if several else "")
        + ": lowest rank, most wins, smallest |log2 ratio|, coverage closest to 0.95, lowest failure rate, "
        f"fastest; the lowest rank and the most wins are marked only when the top estimator is distinguishable "
        f"from the runner-up at α = {level:g} (Friedman test over tasks, then pairwise comparisons; see the "
        f"ranking tables): {verdicts}."
        + (" Mean rank n/a: every cell of the estimator failed, so it is not ranked." if unranked else "")
        + (
            f" Doubtful {DOUBT_MARK}: cells at the largest n whose estimate carries a warning diagnostic "
            "(see the diagnostics table)."
            if doubt
            else ""
        ),
    )


RANK_TEST_TITLE = "Ranking significance: Friedman test over tasks"
RANK_GROUPS_TITLE = "Ranking significance: each estimator against the top one"


def _p_text(p: float) -> str:
    """A p-value with 3 significant digits (``n/a`` when undefined)."""
    return f"{p:.3g}" if np.isfinite(p) else MISSING


def rank_test_table(tests: dict[str, RankTest]) -> Table:
    """One row per quantity: the blocks, Friedman's and Iman-Davenport's statistics, Nemenyi's CD, the verdict.

    ``tests``: :func:`~infobench.report.aggregate.rank_tests` (quantity -> test). A test that does not apply
    (fewer than 2 tasks or estimators) shows ``n/a`` and the reason, never a number.
    """
    several = len(tests) > 1
    header = (["quantity"] if several else []) + [
        "tasks",
        "estimators",
        "Friedman χ²",
        "p",
        "F",
        "p (F)",
        "Nemenyi CD",
        "verdict",
    ]
    rows = []
    for q, t in tests.items():
        k = len(t.items)
        dropped = f" ({len(t.dropped)} left out: an estimator has no cell there)" if t.dropped else ""
        if t.applicable:
            numbers = [
                f"{format_value(t.chi2, 'plain')} (df {k - 1})",
                _p_text(t.chi2_p),
                f"{format_value(t.f, 'plain')} (df {k - 1}, {(k - 1) * (t.n_blocks - 1)})",
                _p_text(t.f_p),
                format_value(t.cd, "plain"),
            ]
        else:
            numbers = [MISSING] * 5
        rows.append(
            ([str(q)] if several else []) + [f"{t.n_blocks}{dropped}", str(k)] + numbers + [t.verdict.sentence()]
        )
    level = next((t.alpha for t in tests.values()), ALPHA)
    posthoc = next((t.posthoc for t in tests.values()), "wilcoxon-holm")
    decides = (
        "Holm-corrected Wilcoxon signed-rank tests of the per-task losses"
        if posthoc == "wilcoxon-holm"
        else "the Nemenyi test (mean ranks further apart than the CD)"
    )
    return Table(
        RANK_TEST_TITLE,
        header,
        rows,
        [[False] * len(header) for _ in rows],
        labels=len(header) - 6,
        note=f"Level α = {level:g}. Blocks: the tasks, each at its largest n (sizes of one task are not "
        "independent), with the loss the leaderboard ranks by; ties share the average rank, a failure ranks last. "
        "The Friedman statistic (tie-corrected) and the Iman-Davenport statistic F test whether the estimators "
        f"differ at all (F decides); only then are pairs compared, by {decides}. Nemenyi CD: the critical difference "
        "of mean ranks (studentized range). Not applicable with fewer than 2 tasks or 2 estimators.",
    )


def rank_groups_table(tests: dict[str, RankTest]) -> Table:
    """One row per quantity and estimator: mean rank over the test's tasks, p-values against the top one, group.

    The mean rank of the top estimator is marked only when it is distinguishable from the runner-up
    (:func:`~infobench.report.ranking.mark_if_distinguishable`).
    """
    several = len(tests) > 1
    header = (["quantity"] if several else []) + [
        "estimator",
        "mean rank",
        "behind the top",
        "p vs top (Wilcoxon, Holm)",
        "p vs top (Nemenyi)",
        "group",
    ]
    rows, best = [], []
    for q, t in tests.items():
        v = t.verdict
        holm_p, nemenyi_p = {}, {}
        for _, r in t.pairs.iterrows():
            if v.best in (r["a"], r["b"]):
                other = r["b"] if r["a"] == v.best else r["a"]
                holm_p[other], nemenyi_p[other] = r["holm_p"], r["nemenyi_p"]
        top_rank = t.mean_ranks.get(v.best, math.nan) if v.best is not None else math.nan
        flags = mark_if_distinguishable(pd.Series([e == v.best for e in t.items], index=list(t.items)), v)
        for e in t.items:
            group = ("best" if v.distinguishable else "shared best") if e in v.group else ""
            if v.distinguishable is None:
                group = "n/a"
            rows.append(
                ([str(q)] if several else [])
                + [
                    e,
                    format_value(t.mean_ranks.get(e, math.nan), "plain"),
                    "" if e == v.best else format_value(t.mean_ranks.get(e, math.nan) - top_rank, "plain"),
                    "" if e == v.best else _p_text(holm_p.get(e, math.nan)),
                    "" if e == v.best else _p_text(nemenyi_p.get(e, math.nan)),
                    group,
                ]
            )
            lead = [False] * (len(header) - 5)
            best.append(lead + [bool(flags.loc[e])] + [False] * 4)
    level = next((t.alpha for t in tests.values()), ALPHA)
    return Table(
        RANK_GROUPS_TITLE,
        header,
        rows,
        best,
        labels=len(header) - 5,
        note=f"Mean rank over the tasks of the test (1 = best). p vs top: adjusted p-values of the comparison with "
        f"the top estimator (Wilcoxon signed-rank, Holm-corrected over all pairs; Nemenyi, from the studentized "
        f"range). Group at α = {level:g}: best (distinguishable from every other estimator), shared best (not "
        "shown worse than the top one), n/a (the test does not apply). Pairs are compared only when the "
        "Friedman test rejects; every pair is in ranking_pairs.csv and ranking.json.",
    )


def calibration_table(cal: pd.DataFrame, *, units: str = "nats") -> Table:
    """The output of :func:`infobench.report.aggregate.calibration`, one row per quantity, estimator and n.

    A ratio within 0.8–1.25 is marked (the calibration target of
    ``benchmarks/bench_calibration.py``), and coverages within 0.05 of 0.95.
    """
    s = to_units(cal, units)
    per_task = "task_id" in s
    lead = ["quantity", "estimator"] + (["task"] if per_task else []) + ["n", "tasks", "cells"]
    doubt = "doubtful" in s and bool((s["doubtful"].fillna(0) > 0).any())
    header = (
        lead
        + [
            f"mean std_err ({units})",
            f"seed-to-seed sd ({units})",
            "std_err / sd",
            "coverage of truth",
            "coverage of mean",
        ]
        + (["doubtful"] if doubt else [])
    )
    rows, best = [], []
    for _, r in s.iterrows():
        rows.append(
            [str(r["quantity"]), str(r["estimator"])]
            + ([str(r["task_id"])] if per_task else [])
            + [
                str(int(r["n"])),
                str(int(r["tasks"])),
                str(int(r["cells"])),
                format_value(r["mean_std_err"]),
                format_value(r["seed_sd"]),
                format_value(r["ratio"], "plain"),
                format_value(r["coverage_truth"], "rate"),
                format_value(r["coverage_mean"], "rate"),
            ]
            + ([_flagged(format_value(r["doubtful"], "count"), r["doubtful"])] if doubt else [])
        )
        best.append(
            [False] * (len(lead) + 2)
            + [bool(0.8 <= r["ratio"] <= 1.25)]
            + [bool(round(abs(r[c] - 0.95), 9) <= 0.05) for c in ("coverage_truth", "coverage_mean")]
            + [False] * doubt
        )
    return Table(
        "Calibration of the standard errors",
        header,
        rows,
        best,
        labels=len(lead),
        note="Mean reported std_err beside the standard deviation of the estimates over seeds (pooled within "
        "tasks); their ratio is 1 for calibrated standard errors (marked: within 0.8–1.25). Coverage: fraction "
        "of nominal 95% intervals estimate ± q std_err (q: Student's t quantile with the standard error's degrees "
        "of freedom where the estimator reports them, else 1.96) containing the truth (bias counts) and containing "
        "the estimator's mean over seeds (spread only; marked: within 0.05 of 0.95)."
        + (
            f" Doubtful {DOUBT_MARK}: cells whose estimate carries a warning diagnostic (see the diagnostics table)."
            if doubt
            else ""
        ),
    )


def heatmap_table(summary: pd.DataFrame, n: int | None = None) -> Table:
    """Tasks x estimators coloured by mean log2(estimate / truth) at ``n`` (default: each task's largest n)."""
    s = summary if n is None else summary[summary["n"] == n]
    if n is None:
        s = s[s["n"] == s.groupby("task_id")["n"].transform("max")]
    estimators = list(dict.fromkeys(summary["estimator"]))
    tasks = list(dict.fromkeys(s["task_id"]))
    values = by_estimator(s, "mean_log2_ratio", rows=tasks, columns=estimators)
    present = by_estimator(s, "cells", rows=tasks, columns=estimators)
    doubt = by_estimator(s, "doubtful", rows=tasks, columns=estimators) if "doubtful" in s else None
    ns = s.groupby("task_id")["n"].first()
    mask = best_mask(values, "mean_log2_ratio")
    rows, best, heat = [], [], []
    for t in tasks:
        row, flags, h = [t, str(int(ns.loc[t]))], [False, False], [math.nan, math.nan]
        for e in estimators:
            v = values.loc[t, e]
            text = "" if pd.isna(present.loc[t, e]) else format_value(v, "signed")
            row.append(_flagged(text, doubt.loc[t, e]) if doubt is not None else text)
            flags.append(bool(mask.loc[t, e]))
            h.append(float(v) if pd.notna(v) else math.nan)
        rows.append(row)
        best.append(flags)
        heat.append(h)
    where = f"n = {n}" if n is not None else "each task's largest n"
    return Table(
        f"mean log2(estimate / truth) at {where}",
        ["task", "n"] + estimators,
        rows,
        best,
        labels=2,
        note="Red: overestimates, blue: underestimates (colour saturates at a factor of 2). n/a: the truth "
        "or an estimate is <= 0, or every cell failed. Best per row: closest to 0." + _doubt_note(s),
        heat=heat,
    )


def diagnostics_table(summary: pd.DataFrame) -> Table:
    """Every estimator x task x n of a summary with doubtful cells: how many, and the diagnostic codes.

    The rows of :func:`infobench.report.aggregate.summarize` whose
    ``doubtful`` count is positive; the other tables flag the same numbers
    with :data:`DOUBT_MARK`.
    """
    s = summary[summary["doubtful"].fillna(0) > 0] if "doubtful" in summary else summary.iloc[:0]
    rows = [
        [
            str(r["estimator"]),
            str(r["task_id"]),
            str(int(r["n"])),
            str(int(r["cells"])),
            _flagged(format_value(r["doubtful"], "count"), r["doubtful"]),
            str(r["diagnostics"] or ""),
        ]
        for _, r in s.iterrows()
    ]
    header = ["estimator", "task", "n", "cells", "doubtful cells", "diagnostics"]
    return Table(
        "Diagnostics: numbers in doubt",
        header,
        rows,
        [[False] * len(header) for _ in rows],
        labels=3,
        note=f"Cells whose estimate was returned with a warning diagnostic (the data or the parameters break a "
        f"condition the estimator's formula needs), flagged {DOUBT_MARK} in every table; codes with the column or "
        "parameter concerned (the README lists what each code means).",
    )


# ----------------------------------------------------------------- renderers
def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def to_markdown(table: Table) -> str:
    """GitHub-flavoured Markdown; best cells in bold."""
    align = ["---"] * table.labels + ["---:"] * (len(table.header) - table.labels)
    lines = [
        f"### {_md_escape(table.title)}",
        "",
        "| " + " | ".join(_md_escape(h) for h in table.header) + " |",
        "| " + " | ".join(align) + " |",
    ]
    for row, flags in zip(table.rows, table.best):
        cells = [f"**{_md_escape(c)}**" if b and c else _md_escape(c) for c, b in zip(row, flags)]
        lines.append("| " + " | ".join(cells) + " |")
    if table.note:
        lines += ["", _md_escape(table.note)]
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """CSV text; a best value carries a trailing ``*``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table.header)
    for row, flags in zip(table.rows, table.best):
        w.writerow([f"{c}*" if b and c else c for c, b in zip(row, flags)])
    return buf.getvalue()


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    DOUBT_MARK: r"\dag{}",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters (and keep ``±`` and ``|`` printable in text mode)."""
    out = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)
    out = (
        out.replace("±", r"$\pm$")
        .replace("|", r"\textbar{}")
        .replace("<", r"\textless{}")
        .replace(">", r"\textgreater{}")
    )
    # A cell starting with '[' right after '\\' would be read as the row-spacing argument.
    return "{[}" + out[1:] if out.startswith("[") else out


def to_latex(table: Table) -> str:
    """A ``table`` float with a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``); best in ``\\textbf``."""
    spec = "l" * table.labels + "r" * (len(table.header) - table.labels)
    lines = [
        r"\begin{table}[ht]",
        r"\centering",
        rf"\caption{{{latex_escape(table.title)}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in table.header) + r" \\",
        r"\midrule",
    ]
    for row, flags in zip(table.rows, table.best):
        cells = [rf"\textbf{{{latex_escape(c)}}}" if b and c else latex_escape(c) for c, b in zip(row, flags)]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if table.note:
        lines.append(rf"\par\smallskip\footnotesize {latex_escape(table.note)}")
    lines += [r"\end{table}", ""]
    return "\n".join(lines)


def heat_colour(value: float) -> str:
    """Background colour for a log2 ratio: white at 0, red above, blue below, saturating at +-1; grey for NaN."""
    if value is None or not math.isfinite(value):
        return "#e0e0e0"
    t = min(1.0, abs(value))
    target = (214, 39, 40) if value > 0 else (31, 119, 180)
    rgb = [round(255 + (c - 255) * t * 0.85) for c in target]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def to_html(table: Table, *, strong_best: bool = False) -> str:
    """An HTML ``<table>`` (styles in :func:`html_page`); best cells have ``class="best"``.

    ``strong_best`` also wraps a best value in ``<strong>``, which shows where no style sheet applies
    (a notebook's output, an HTML sanitizer).
    """
    out = [f"<h3>{html.escape(table.title)}</h3>", '<table class="ib">', "<thead><tr>"]
    out += [f"<th>{html.escape(h)}</th>" for h in table.header]
    out.append("</tr></thead><tbody>")
    for i, (row, flags) in enumerate(zip(table.rows, table.best)):
        out.append("<tr>")
        for j, (c, b) in enumerate(zip(row, flags)):
            classes = ["label" if j < table.labels else "num"] + (["best"] if b and c else [])
            style = ""
            if table.heat is not None and j >= table.labels and c:
                style = f' style="background:{heat_colour(table.heat[i][j])}"'
            text = html.escape(c)
            if strong_best and b and c:
                text = f"<strong>{text}</strong>"
            out.append(f'<td class="{" ".join(classes)}"{style}>{text}</td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    if table.note:
        out.append(f'<p class="note">{html.escape(table.note)}</p>')
    return "\n".join(out)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}h3{margin-bottom:.3em}
table.ib{border-collapse:collapse;font-size:.9em;margin:.5em 0}
table.ib th,table.ib td{padding:.25em .6em;border-bottom:1px solid #e4e4e4}
table.ib th{border-bottom:2px solid #888;text-align:right}table.ib td.label{text-align:left;white-space:nowrap}
table.ib td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.ib td.best{font-weight:bold;outline:2px solid #2a7d2a;outline-offset:-2px}
p.note{color:#555;font-size:.85em;max-width:60em}dl.meta{display:grid;grid-template-columns:max-content auto;
gap:.2em 1em;font-size:.9em}dl.meta dt{font-weight:bold}figure{display:inline-block;margin:.5em}
figure img{max-width:560px}
"""
# The table and note rules of _CSS, each selector prefixed with ".infobench": a notebook's output styles only itself.
_NOTEBOOK_CSS = "".join(
    ",".join(f".infobench {sel}" for sel in selectors.split(",")) + "{" + body + "}"
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", _CSS.replace("\n", ""))
    if selectors.startswith(("table.ib", "p.note"))
)


def notebook_html(tables: list[Table]) -> str:
    """HTML of ``tables`` for a notebook's output: the tables of :func:`html_page`, their styles scoped to them."""
    body = "\n".join(to_html(t, strong_best=True) for t in tables)
    return f'<div class="infobench"><style>{_NOTEBOOK_CSS}</style>\n{body}\n</div>'


def _check_blocks(blocks: list[tuple[str, Any]]) -> None:
    for kind, content in blocks:
        if kind not in ("h2", "p", "table", "img"):
            raise ValueError(f"block kind must be one of ['h2', 'p', 'table', 'img']; got {kind!r}")
        if kind == "img" and not isinstance(content, Figure):
            raise TypeError(f"an 'img' block holds a Figure; got {type(content).__name__}")


def html_page(title: str, blocks: list[tuple[str, Any]], meta: dict[str, str] | None = None) -> str:
    """A self-contained HTML page: inline CSS, images embedded as base64.

    ``blocks``: ``("h2", text)``, ``("p", text)``, ``("table", Table)`` or
    ``("img", Figure)``, in order.
    """
    _check_blocks(blocks)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if meta:
        parts.append('<dl class="meta">')
        parts += [f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in meta.items()]
        parts.append("</dl>")
    for kind, content in blocks:
        if kind == "h2":
            parts.append(f"<h2>{html.escape(content)}</h2>")
        elif kind == "p":
            parts.append(f"<p>{html.escape(content)}</p>")
        elif kind == "table":
            parts.append(to_html(content))
        else:
            data = base64.b64encode(content.png).decode("ascii")
            parts.append(
                f'<figure><img alt="{html.escape(content.caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(content.caption)}</figcaption></figure>"
            )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def markdown_page(
    title: str, blocks: list[tuple[str, Any]], meta: dict[str, str] | None = None, *, image_dir: str | None = ""
) -> str:
    """The same blocks as :func:`html_page` as one Markdown page.

    Images become links ``![caption](<image_dir>/<name>)`` (``image_dir=""``:
    beside the page); ``image_dir=None`` leaves them out (no PNG files were
    written), and a heading left with nothing under it is dropped.
    """
    _check_blocks(blocks)
    kept = [b for b in blocks if not (b[0] == "img" and image_dir is None)]
    kept = [b for i, b in enumerate(kept) if b[0] != "h2" or (i + 1 < len(kept) and kept[i + 1][0] != "h2")]
    lines = [f"# {title}", ""] + [f"- **{k}**: {v}" for k, v in (meta or {}).items()] + [""]
    for kind, content in kept:
        if kind == "h2":
            lines += [f"## {content}", ""]
        elif kind == "p":
            lines += [content, ""]
        elif kind == "table":
            lines.append(to_markdown(content))
        else:
            link = f"{image_dir}/{content.name}" if image_dir else content.name
            lines += [f"![{content.caption}]({link})", ""]
    return "\n".join(lines)


def latex_document(tables: list[Table]) -> str:
    """Every table as a booktabs float, for ``\\input{}`` (needs ``\\usepackage{booktabs}``)."""
    tex = ["% infobench report: tables for \\input{}; needs \\usepackage{booktabs}", ""]
    return "\n".join(tex + [to_latex(t) for t in tables])


def frame_table(
    frame: pd.DataFrame, title: str, *, labels: int = 1, note: str = "", kinds: dict[str, str] | None = None
) -> Table:
    """A plain table of a DataFrame's rows (no best cells), each number through :func:`format_value`.

    ``kinds`` maps a column to a :func:`format_value` kind; by default whole
    numbers are ``count`` and other numbers ``score`` (4 significant digits).
    The first ``labels`` columns are labels (left-aligned).
    """
    kinds = kinds or {}
    rows = []
    for _, r in frame.iterrows():
        cells = []
        for c in frame.columns:
            v = r[c]
            if c in kinds:
                cells.append(format_value(v, kinds[c]))
            elif isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
                cells.append(MISSING if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
            else:
                cells.append(format_value(v, "count" if isinstance(v, (int, np.integer)) else "score"))
        rows.append(cells)
    return Table(
        title=title,
        header=[str(c) for c in frame.columns],
        rows=rows,
        best=[[False] * len(frame.columns) for _ in rows],
        labels=labels,
        note=note,
    )


# ------------------------------------------------------------ terminal tables
# Layouts are tried in order until one fits the console's width; a number is never wrapped or cut.
_INTERVAL_TEXT = re.compile(r"^(\S+)\s+(\[.*\]|± .*)$")
_BEST_STYLE = "bold green"
#: A first label column with at most this many distinct values, each in one run of rows and two rows per
#: value on average (the leaderboard's ``quantity``), may split a table that is too wide into one table per value.
_MAX_ROW_GROUPS = 4


def _split_interval(text: str) -> tuple[str, str]:
    """``"0.51 [0.48, 0.55]"`` -> ``("0.51", "[0.48, 0.55]")``; ``"1.2 ± 0.1"`` -> ``("1.2", "± 0.1")``."""
    m = _INTERVAL_TEXT.match(text)
    return (m.group(1), m.group(2)) if m else (text, "")


def _longest_word(text: str) -> int:
    return max((cell_len(w) for w in text.split()), default=0)


class _Layout:
    """One terminal table: a header, display rows, their best flags and rows drawn dim (intervals)."""

    def __init__(
        self,
        header: list[str],
        labels: int,
        rows: list[list[str]],
        best: list[list[bool]],
        second: list[bool],
        title: str,
        *,
        wrap: int = 0,
    ):
        self.header, self.labels, self.rows, self.best = header, labels, rows, best
        self.second = second
        self.title = title
        self.wrap = wrap  # the first ``wrap`` columns hold names only, which may wrap between words

    def _needs(self) -> tuple[list[int], list[int]]:
        """Least and natural content width of each column.

        A cell never wraps (a name in the first ``wrap`` columns does, between words); a header wraps between
        words.
        """
        ncols = len(self.header)
        full = [max((cell_len(r[k]) for r in self.rows), default=0) for k in range(ncols)]
        least = [
            max((_longest_word(r[k]) for r in self.rows), default=0) if k < self.wrap else full[k] for k in range(ncols)
        ]
        need = [max(c, _longest_word(h), 1) for c, h in zip(least, self.header)]
        natural = [max(c, cell_len(h), 1) for c, h in zip(full, self.header)]
        return need, natural

    def least_width(self) -> int:
        """Characters the table needs at least: contents, padding 1 + 1 and a rule per column, one edge."""
        need, _ = self._needs()
        return sum(need) + 3 * len(need) + 1

    def widths(self, available: int) -> list[int] | None:
        """Content width of each column, or None when the layout needs more than ``available`` characters.

        Spare room goes first to the headers that need least of it to fit on one line.
        """
        need, natural = self._needs()
        ncols = len(need)
        room = available - self.least_width()
        if room < 0:
            return None
        widths = list(need)
        for k in sorted(range(ncols), key=lambda k: natural[k] - need[k]):
            grow = min(room, natural[k] - need[k])
            widths[k] += grow
            room -= grow
        return widths

    def render(self, widths: list[int]) -> RichTable:
        rt = RichTable(title=Text(self.title, style="bold") if self.title else None)
        for j, (h, w) in enumerate(zip(self.header, widths)):
            rt.add_column(Text(h), justify="left" if j < self.labels else "right", width=w, overflow="fold")
        for row, flags, second in zip(self.rows, self.best, self.second):
            rt.add_row(
                *[Text(c, style=_BEST_STYLE if b and c else "") for c, b in zip(row, flags)],
                style="dim" if second else None,
            )
        return rt


class _Cells:
    """The display text of a table's cells, with best values marked by ``*`` where styles are not drawn."""

    def __init__(self, table: Table, plain: bool):
        self.table = table
        self.rows = [
            [self._star(c) if plain and b and c else c for c, b in zip(row, flags)]
            for row, flags in zip(table.rows, table.best)
        ]
        self.intervals = any(_split_interval(r[j])[1] for r in self.rows for j in range(table.labels, len(r)))
        first = [r[0] for r in table.rows] if table.labels >= 2 else []
        runs = [v for i, v in enumerate(first) if i == 0 or first[i - 1] != v]
        # Row groups: runs of the first label column, when it has a few values, each in one run, that repeat.
        grouped = len(runs) == len(set(runs)) and 1 < len(runs) <= _MAX_ROW_GROUPS and len(first) >= 2 * len(runs)
        self.groups = runs if grouped else []

    @staticmethod
    def _star(text: str) -> str:
        value, interval = _split_interval(text)
        return f"{value}* {interval}" if interval else f"{value}*"

    def layout(self, columns: list[int], title: str, *, two_rows: bool, group: str | None = None) -> _Layout:
        """``columns`` of the rows (of one row group); with ``two_rows``, intervals on a row under their values."""
        t = self.table
        index = [i for i, r in enumerate(t.rows) if group is None or r[0] == group]
        if group is not None:
            columns = [j for j in columns if j != 0]
        labels = sum(1 for j in columns if j < t.labels)
        rows, best, second = [], [], []
        for i in index:
            parts = [
                _split_interval(self.rows[i][j]) if two_rows and j >= t.labels else (self.rows[i][j], "")
                for j in columns
            ]
            flags = [t.best[i][j] for j in columns]
            rows.append([p[0] for p in parts])
            best.append(flags)
            second.append(False)
            if any(p[1] for p in parts):
                rows.append([p[1] for p in parts])
                best.append(flags)
                second.append(True)
        return _Layout([t.header[j] for j in columns], labels, rows, best, second, title)

    def records(self) -> _Layout:
        """One block per row, each column's name beside its value (its interval on the next line)."""
        t = self.table
        rows, best, second = [], [], []
        for i, row in enumerate(self.rows):
            rows.append([" · ".join(row[: t.labels]), ""])
            best.append([False, False])
            second.append(False)
            for j in range(t.labels, len(row)):
                value, interval = _split_interval(row[j])
                rows.append([f"  {t.header[j]}", value])
                best.append([False, t.best[i][j]])
                second.append(False)
                if interval:
                    rows.append(["", interval])
                    best.append([False, t.best[i][j]])
                    second.append(True)
        return _Layout([" · ".join(t.header[: t.labels]), "value"], 1, rows, best, second, t.title, wrap=1)


def _layouts(table: Table, width: int, plain: bool) -> Iterator[list[_Layout]]:
    """Candidate layouts of ``table``, each a list of tables drawn one after the other, in order of preference.

    The whole table; with intervals under their values; one table per row group (see :class:`_Cells`);
    one table per group of value columns that fits, the label columns repeated; one block per row.
    """
    cells = _Cells(table, plain)
    labels = list(range(table.labels))
    values = list(range(table.labels, len(table.header)))
    yield [cells.layout(labels + values, table.title, two_rows=False)]
    if cells.intervals:
        yield [cells.layout(labels + values, table.title, two_rows=True)]
    if cells.groups:
        for two_rows in (False, True)[: 1 + cells.intervals]:
            yield [
                cells.layout(labels + values, f"{table.title}: {g}", two_rows=two_rows, group=g) for g in cells.groups
            ]
    chunks = _column_chunks(cells, labels, values, width, cells.intervals)
    if len(chunks) > 1:
        yield [
            cells.layout(labels + c, f"{table.title} ({i + 1}/{len(chunks)})", two_rows=cells.intervals)
            for i, c in enumerate(chunks)
        ]
    yield [cells.records()]


def _column_chunks(cells: _Cells, labels: list[int], values: list[int], width: int, two_rows: bool) -> list[list[int]]:
    """Value columns in as few consecutive groups as fit beside the label columns, balanced in width.

    A group of one column is kept even when it does not fit (the caller then tries the next layout).
    """
    n = len(values)

    @functools.cache
    def least(a: int, b: int) -> int:
        return cells.layout(labels + values[a:b], "", two_rows=two_rows).least_width()

    # The fewest groups: greedy, from the left.
    count, start = 0, 0
    while start < n:
        stop = start + 1
        while stop < n and least(start, stop + 1) <= width:
            stop += 1
        count, start = count + 1, stop

    @functools.cache
    def split(start: int, groups: int) -> tuple[float, tuple[int, ...]]:
        """(width of the widest group, cuts) of the best split of ``values[start:]`` into ``groups`` groups."""
        if groups == 1:
            w = least(start, n)
            return (w if w <= width or n - start == 1 else math.inf), ()
        best: tuple[float, tuple[int, ...]] = (math.inf, ())
        for stop in range(start + 1, n - groups + 2):
            w = least(start, stop)
            if w > width and stop - start > 1:
                break  # wider with every column added
            rest = split(stop, groups - 1)
            if max(w, rest[0]) < best[0]:
                best = (max(w, rest[0]), (stop,) + rest[1])
        return best

    cuts = [0, *split(0, count)[1], n]
    return [values[a:b] for a, b in itertools.pairwise(cuts)]


class FoldingTable:
    """A :class:`Table` drawn by rich at the console's width, folded when it does not fit.

    Tried in order: the whole table; with intervals (``[low, high]``, ``± sd``)
    on a row under their values; one table per value of a first label column
    that comes in a few runs (the leaderboard's quantities); several tables,
    each with the label columns and as many value columns as fit; one block
    per row (column name beside value). A cell is never wrapped or cut, so no
    number is split across lines; headers wrap between words. The note is
    printed under the last table at the console's width. Where styles are not
    drawn (a pipe or a file), best values carry a ``*`` as in CSV.
    """

    def __init__(self, table: Table):
        self.table = table

    def _choose(self, console, width: int) -> list[tuple[_Layout, list[int]]]:
        plain = console.color_system is None and not console.is_jupyter
        for candidate in _layouts(self.table, width, plain):
            sized = [(layout, layout.widths(width)) for layout in candidate]
            if all(w is not None for _, w in sized):
                return sized  # type: ignore[return-value]
        # Even one block per row is too wide (a single cell is wider than the console): draw it as it is.
        return [(layout, layout.widths(10**6)) for layout in candidate]  # type: ignore[misc]

    def __rich_console__(self, console, options):
        for layout, widths in self._choose(console, options.max_width):
            yield layout.render(widths)
        if self.table.note:
            yield Text(self.table.note)

    def __rich_measure__(self, console, options):
        widths = next(_layouts(self.table, options.max_width, False))[0].widths(10**6) or []
        natural = min(sum(widths) + 3 * len(widths) + 1, options.max_width)
        return Measurement(natural, natural)


def to_rich(table: Table) -> FoldingTable:
    """A rich renderable of ``table`` that fits the console's width (see :class:`FoldingTable`); best in bold green."""
    return FoldingTable(table)
