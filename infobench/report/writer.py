"""Write a benchmark report (Markdown, HTML, CSV, LaTeX, PNG, Parquet) from tidy records."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from infobench._io import atomic_write
from infobench._lock import output_lock
from infobench.bench.store import require_pyarrow
from infobench.report.aggregate import (
    INFO_COLUMNS,
    best_mask,
    by_estimator,
    calibration,
    leaderboard,
    samples_needed,
    summarize,
    to_units,
)
from infobench.report.plots import figure_png, plot_cd_diagram, plot_estimates, plot_heatmap
from infobench.report.ranking import ALPHA, PAIR_COLUMNS, RankTest, rank_tests_frame, rank_tests_json
from infobench.report.render import (
    Figure,
    Table,
    calibration_table,
    diagnostics_table,
    heatmap_table,
    html_page,
    latex_document,
    leaderboard_table,
    markdown_page,
    metric_table,
    rank_groups_table,
    rank_test_table,
    samples_needed_table,
    slug,
)

__all__ = [
    "FORMATS",
    "benchmark_blocks",
    "heatmap_figure",
    "mark_best",
    "parse_formats",
    "rank_figures",
    "rank_pairs_frame",
    "report_tables",
    "unit_columns",
    "write_report",
]

FORMATS = ("md", "html", "csv", "tex", "png", "parquet")
# Metrics shown as comparison tables, in order.
TABLE_METRICS = (
    "mean_estimate",
    "bias",
    "rmse",
    "std",
    "mean_log2_ratio",
    "coverage",
    "median_seconds",
    "failure_rate",
)


def parse_formats(formats: str | Iterable[str]) -> list[str]:
    """``"md,html"`` or ``["md", "html"]`` -> checked list (unknown names raise ``ValueError``)."""
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    out = []
    for f in items:
        f = str(f).strip().lower()
        if f == "latex":
            f = "tex"
        if f not in FORMATS:
            raise ValueError(f"report format must be one of {list(FORMATS)}; got {f!r}")
        if f not in out:
            out.append(f)
    if not out:
        raise ValueError(f"give at least one report format of {list(FORMATS)}")
    return out


def mark_best(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` plus a boolean ``best_<metric>`` column per metric: best within its task and n."""
    out = summary.copy()
    for metric in TABLE_METRICS:
        values = by_estimator(summary, metric, ["task_id", "n"])
        truth = summary.groupby(["task_id", "n"])["truth"].first().reindex(values.index)
        mask = best_mask(values, metric, truth)
        out[f"best_{metric}"] = [
            bool(mask.loc[(t, n), e]) for t, n, e in zip(summary["task_id"], summary["n"], summary["estimator"])
        ]
    return out


def unit_columns(frame: pd.DataFrame, units: str = "nats") -> pd.DataFrame:
    """``frame`` for a data file: amounts of information in ``units``, each such column named ``<col>_<units>``.

    A CSV has no caption to carry its unit, so the unit travels in the column
    names (``mean_estimate_bits``); other columns keep their names.
    """
    out = to_units(frame, units)
    return out.rename(columns={c: f"{c}_{units}" for c in INFO_COLUMNS if c in out.columns})


def report_tables(
    summary: pd.DataFrame,
    *,
    units: str = "nats",
    rank_by: str = "rmse",
    calibrated: pd.DataFrame | None = None,
    alpha: float = ALPHA,
) -> list[Table]:
    """Every table of a report, in order: leaderboard, its rank test and groups, heatmap, one per metric,
    samples needed, calibration, diagnostics.

    The rank test (Friedman over tasks, pairwise comparisons at level
    ``alpha``; :func:`~infobench.report.aggregate.rank_tests`) decides whether
    the leaderboard marks a best estimator.

    ``calibrated`` is :func:`~infobench.report.aggregate.calibration` of the
    records; its table (reported standard error beside the seed-to-seed
    spread) is added when it is not empty. The diagnostics table (every
    estimator, task and n with cells in doubt, and their codes) is added when
    any cell carries a warning diagnostic.
    """
    board = leaderboard(summary, rank_by=rank_by, alpha=alpha)
    tests = board.attrs["rank_tests"]
    tables = [
        leaderboard_table(board, rank_by=rank_by),
        rank_test_table(tests),
        rank_groups_table(tests),
        heatmap_table(summary),
    ]
    for metric in TABLE_METRICS:
        if metric == "coverage" and summary["coverage"].isna().all():
            continue  # no estimator reported standard errors
        tables.append(metric_table(summary, metric, units=units))
    tables.append(samples_needed_table(samples_needed(summary)))
    if calibrated is not None and not calibrated.empty:
        tables.append(calibration_table(calibrated, units=units))
    if "doubtful" in summary and (summary["doubtful"] > 0).any():
        tables.append(diagnostics_table(summary))
    return tables


def calibration_of(results: pd.DataFrame) -> pd.DataFrame:
    """:func:`~infobench.report.aggregate.calibration` of records that carry standard errors, else empty."""
    return calibration(results) if "std_err" in results else pd.DataFrame()


def heatmap_figure(
    summary: pd.DataFrame, name: str = "heatmap.png", caption: str = "estimator x task: mean log2(estimate / truth)"
) -> Figure:
    """The estimator x task heatmap of a summary as a report :class:`Figure`."""
    return Figure(name, caption, figure_png(plot_heatmap(summary)))


def rank_figures(tests: dict[str, RankTest], *, prefix: str = "cd") -> list[Figure]:
    """One critical-difference diagram per quantity whose rank test applies, named ``<prefix>-<quantity>.png``."""
    figures = []
    for q, t in tests.items():
        if t.applicable:
            name = f"{prefix}-{slug(q, default='ranks')}.png"
            figures.append(
                Figure(
                    name,
                    f"{q + ': ' if q else ''}critical-difference diagram of the leaderboard",
                    figure_png(plot_cd_diagram(t, title=q)),
                )
            )
    return figures


def rank_pairs_frame(tests: dict[str, RankTest]) -> pd.DataFrame:
    """Every pair of every rank test, one row each, with its ``quantity`` (the data file ranking_pairs.csv)."""
    parts = [t.pairs.assign(quantity=q) for q, t in tests.items() if len(t.pairs)]
    cols = ["quantity"] + PAIR_COLUMNS
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def benchmark_blocks(
    tables: list[Table],
    heatmap: Figure | None,
    *,
    units: str = "nats",
    estimates: Sequence[Figure] = (),
    ranking: Sequence[Figure] = (),
) -> list[tuple[str, Any]]:
    """The estimator-benchmark part of a report, the same in ``infobench report`` and ``infobench run``.

    The leading tables of :func:`report_tables` (leaderboard, rank test, the
    critical-difference diagrams ``ranking`` of :func:`rank_figures`, rank
    groups, heatmap table), the heatmap, the other tables under "Comparison
    tables", then one estimate-vs-n figure per task. A table added to
    :func:`report_tables` appears in both reports.
    """
    lead = next((i + 1 for i, t in enumerate(tables) if t.heat is not None), 2)  # up to the heatmap table
    blocks: list[tuple[str, Any]] = [("p", f"All amounts in {units}.")]
    blocks += [("table", t) for t in tables[: min(2, lead)]]
    blocks += [("img", f) for f in ranking]
    blocks += [("table", t) for t in tables[2:lead]]
    if heatmap is not None:
        blocks.append(("img", heatmap))
    blocks.append(("h2", "Comparison tables"))
    blocks += [("table", t) for t in tables[lead:]]
    if estimates:
        blocks.append(("h2", "Estimate vs n, per task"))
        blocks += [("img", f) for f in estimates]
    return blocks


def _meta(results: pd.DataFrame, extra: dict[str, str] | None) -> dict[str, str]:
    def values(col: str) -> str:
        if col not in results:
            return "?"
        vals = [str(v) for v in dict.fromkeys(results[col].dropna().tolist())]
        return ", ".join(vals) if vals else "?"

    meta = dict(extra or {})
    meta.update(
        {
            "estimators": values("estimator"),
            "tasks": f"{results['task_id'].nunique()}",
            "sample sizes": ", ".join(str(n) for n in sorted(results["n"].unique())),
            "seeds per cell": str(results.groupby(["estimator", "task_id", "n"]).size().max()),
            "cells": f"{len(results)} ({int((~results['ok'].astype(bool)).sum())} failed)",
        }
    )
    for label, col in (
        ("infobench", "infobench_version"),
        ("torch", "torch_version"),
        ("numpy", "numpy_version"),
        ("hosts", "host"),
        ("devices", "device"),
    ):
        if col in results:
            meta[label] = values(col)
    if "timestamp" in results and results["timestamp"].notna().any():
        meta["computed"] = f"{results['timestamp'].min()} to {results['timestamp'].max()}"
    return meta


def write_report(
    results: pd.DataFrame,
    out: str | os.PathLike,
    *,
    formats: str | Iterable[str] = ("md", "html", "png"),
    title: str = "infobench estimator benchmark",
    units: str = "nats",
    rank_by: str = "rmse",
    alpha: float = ALPHA,
    meta: dict[str, str] | None = None,
) -> dict[str, list[Path]]:
    """Aggregate tidy records and write the report files into the folder ``out``.

    Parameters
    ----------
    results : DataFrame
        Records of :func:`infobench.bench.load_results` (one run, or a selection).
    out : path
        Output folder (created; locked while the files are written, each of
        them atomically).
    formats : str or list of str
        Any of ``md`` (report.md), ``html`` (report.html: self-contained, plots
        embedded), ``csv`` (summary.csv with ``best_*`` flags, leaderboard.csv,
        samples_needed.csv, results.csv; calibration.csv when standard errors
        were reported; amounts in ``units``, their columns named
        ``<column>_<units>``; the leaderboard's rank tests as ranking.csv, one
        row per quantity, ranking_pairs.csv, one row per pair, and
        ranking.json, all of it), ``tex`` (report.tex, booktabs),
        ``png`` (heatmap.png, estimates-<task>.png, cd-<quantity>.png) and ``parquet``
        (results.parquet: the records as stored, in nats; needs pyarrow).
    units : "nats" or "bits"
        Units of the rendered amounts (the records stay in nats).
    rank_by : str
        Metric the leaderboard ranks by (a key of ``METRICS``).
    alpha : float
        Level of the leaderboard's rank test (in (0, 1); default 0.05).
    meta : dict, optional
        Extra header lines (run id, database, command).

    Returns
    -------
    dict
        Format -> list of paths written.

    Raises
    ------
    PathLockedError
        Another process is writing a report into ``out`` (see :mod:`infobench._lock`).
    """
    fmts = parse_formats(formats)
    if not isinstance(results, pd.DataFrame) or results.empty:
        raise ValueError("no results to report (the run or selection is empty)")
    if "parquet" in fmts:
        require_pyarrow()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out must be a folder; {str(out)!r} is a file")
    summary = summarize(results)
    cal = calibration_of(results)
    # Bad units, rank_by or alpha fail here, before any file is written.
    board = leaderboard(summary, rank_by=rank_by, alpha=alpha)
    tables = report_tables(summary, units=units, rank_by=rank_by, calibrated=cal, alpha=alpha)
    header = _meta(results, meta)
    with output_lock(out, what="report folder"):
        return _write_files(results, out, fmts, title, units, board, summary, cal, tables, header)


def _write_files(
    results: pd.DataFrame,
    out: Path,
    fmts: list[str],
    title: str,
    units: str,
    board: pd.DataFrame,
    summary: pd.DataFrame,
    cal: pd.DataFrame,
    tables: list[Table],
    header: dict[str, str],
) -> dict[str, list[Path]]:
    """Write the report's files into ``out``, each atomically, while this process holds its lock."""
    written: dict[str, list[Path]] = {f: [] for f in fmts}

    def write(fmt: str, name: str, data: str | bytes) -> None:
        path = out / name
        atomic_write(path, lambda fh: fh.write(data), binary=isinstance(data, bytes))
        written[fmt].append(path)

    tests = board.attrs["rank_tests"]
    heatmap: Figure | None = None
    estimates: list[Figure] = []
    ranking: list[Figure] = []
    figures: list[Figure] = []  # the PNG files
    if "png" in fmts or "html" in fmts:
        heatmap = heatmap_figure(summary)
        estimates = [
            Figure(
                f"estimates-{slug(t, default='task')}.png",
                f"{t}: estimate vs n",
                figure_png(plot_estimates(summary, t, units=units)),
            )
            for t in dict.fromkeys(summary["task_id"])
        ]
        ranking = rank_figures(tests)
        figures = [heatmap, *ranking, *estimates]
    blocks = benchmark_blocks(tables, heatmap, units=units, estimates=estimates, ranking=ranking)
    if "png" in fmts:
        for fig in figures:
            write("png", fig.name, fig.png)
    if "md" in fmts:
        write("md", "report.md", markdown_page(title, blocks, header, image_dir="" if "png" in fmts else None))
    if "html" in fmts:
        write("html", "report.html", html_page(title, blocks, header))
    if "tex" in fmts:
        write("tex", "report.tex", latex_document(tables))
    if "csv" in fmts:
        # Amounts in the report's units, named in the columns (``mean_estimate_bits``).
        write("csv", "summary.csv", unit_columns(mark_best(summary), units).to_csv(index=False))
        write("csv", "leaderboard.csv", board.to_csv(index=False))
        write("csv", "ranking.csv", rank_tests_frame(tests).to_csv(index=False))
        write("csv", "ranking_pairs.csv", rank_pairs_frame(tests).to_csv(index=False))
        write("csv", "ranking.json", rank_tests_json(tests) + "\n")
        write("csv", "samples_needed.csv", samples_needed(summary).to_csv(index=False))
        if not cal.empty:
            write("csv", "calibration.csv", unit_columns(cal, units).to_csv(index=False))
        write("csv", "results.csv", unit_columns(results, units).to_csv(index=False))
    if "parquet" in fmts:
        # The records as stored (nats), for analysis.
        path = out / "results.parquet"
        atomic_write(path, lambda fh: results.to_parquet(fh, index=False))
        written["parquet"].append(path)
    return written
