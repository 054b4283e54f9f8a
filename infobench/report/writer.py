"""Write a benchmark report (Markdown, HTML, CSV, LaTeX, PNG, Parquet) from tidy records."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from infobench.report.aggregate import best_mask, by_estimator, calibration, leaderboard, samples_needed, summarize
from infobench.report.plots import figure_png, plot_estimates, plot_heatmap
from infobench.report.render import (
    Table,
    calibration_table,
    heatmap_table,
    html_page,
    leaderboard_table,
    metric_table,
    samples_needed_table,
    to_latex,
    to_markdown,
)

__all__ = ["FORMATS", "mark_best", "parse_formats", "report_tables", "write_report"]

FORMATS = ("md", "html", "csv", "tex", "png", "parquet")
# Metrics shown as comparison tables, in order.
TABLE_METRICS = ("mean_estimate", "bias", "rmse", "std", "mean_log2_ratio", "coverage", "median_seconds",
                 "failure_rate")


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
        out[f"best_{metric}"] = [bool(mask.loc[(t, n), e]) for t, n, e in
                                 zip(summary["task_id"], summary["n"], summary["estimator"])]
    return out


def report_tables(summary: pd.DataFrame, *, units: str = "nats", rank_by: str = "rmse") -> list[Table]:
    """Every table of a report, in order: leaderboard, heatmap, one per metric, samples needed."""
    tables = [leaderboard_table(leaderboard(summary, rank_by=rank_by), rank_by=rank_by), heatmap_table(summary)]
    for metric in TABLE_METRICS:
        if metric == "coverage" and summary["coverage"].isna().all():
            continue  # no estimator reported standard errors
        tables.append(metric_table(summary, metric, units=units))
    tables.append(samples_needed_table(samples_needed(summary)))
    return tables


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "task"


def _meta(results: pd.DataFrame, extra: dict[str, str] | None) -> dict[str, str]:
    def values(col: str) -> str:
        if col not in results:
            return "?"
        vals = [str(v) for v in dict.fromkeys(results[col].dropna().tolist())]
        return ", ".join(vals) if vals else "?"

    meta = dict(extra or {})
    meta.update({
        "estimators": values("estimator"),
        "tasks": f"{results['task_id'].nunique()}",
        "sample sizes": ", ".join(str(n) for n in sorted(results["n"].unique())),
        "seeds per cell": str(results.groupby(["estimator", "task_id", "n"]).size().max()),
        "cells": f"{len(results)} ({int((~results['ok'].astype(bool)).sum())} failed)",
    })
    for label, col in (("infobench", "infobench_version"), ("torch", "torch_version"), ("numpy", "numpy_version"),
                       ("hosts", "host"), ("devices", "device")):
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
    meta: dict[str, str] | None = None,
) -> dict[str, list[Path]]:
    """Aggregate tidy records and write the report files into the folder ``out``.

    Parameters
    ----------
    results : DataFrame
        Records of :func:`infobench.bench.load_results` (one run, or a selection).
    out : path
        Output folder (created).
    formats : str or list of str
        Any of ``md`` (report.md), ``html`` (report.html: self-contained, plots
        embedded), ``csv`` (summary.csv with ``best_*`` flags, leaderboard.csv,
        samples_needed.csv, results.csv; calibration.csv when standard errors
        were reported), ``tex`` (report.tex, booktabs),
        ``png`` (heatmap.png, estimates-<task>.png) and ``parquet``
        (results.parquet; needs pyarrow).
    units : "nats" or "bits"
        Units of the rendered amounts (the data stay in nats).
    rank_by : str
        Metric the leaderboard ranks by (a key of ``METRICS``).
    meta : dict, optional
        Extra header lines (run id, database, command).

    Returns
    -------
    dict
        Format -> list of paths written.
    """
    fmts = parse_formats(formats)
    if not isinstance(results, pd.DataFrame) or results.empty:
        raise ValueError("no results to report (the run or selection is empty)")
    if "parquet" in fmts:
        from infobench.bench.store import require_pyarrow

        require_pyarrow()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out must be a folder; {str(out)!r} is a file")
    summary = summarize(results)
    tables = report_tables(summary, units=units, rank_by=rank_by)  # bad units or rank_by fail here
    cal = calibration(results) if "std_err" in results else pd.DataFrame()
    if not cal.empty:  # some estimator reported standard errors
        tables.append(calibration_table(cal, units=units))
    header = _meta(results, meta)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {f: [] for f in fmts}

    def write(fmt: str, name: str, data: str | bytes) -> None:
        path = out / name
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
        written[fmt].append(path)

    tasks = list(dict.fromkeys(summary["task_id"]))
    plots: list[tuple[str, str, bytes]] = []
    if "png" in fmts or "html" in fmts:
        plots.append(("heatmap.png", "estimator x task: mean log2(estimate / truth)",
                      figure_png(plot_heatmap(summary))))
        for t in tasks:
            plots.append((f"estimates-{_slug(t)}.png", f"{t}: estimate vs n",
                          figure_png(plot_estimates(summary, t, units=units))))
    if "png" in fmts:
        for name, _, png in plots:
            write("png", name, png)
    if "md" in fmts:
        lines = [f"# {title}", ""] + [f"- **{k}**: {v}" for k, v in header.items()] + [""]
        lines += [f"All amounts in {units}.", ""]
        for table in tables:
            lines.append(to_markdown(table))
        if "png" in fmts:
            lines += ["### Plots", ""] + [f"![{cap}]({name})" for name, cap, _ in plots] + [""]
        write("md", "report.md", "\n".join(lines))
    if "html" in fmts:
        blocks: list[tuple[str, Any]] = [("p", f"All amounts in {units}.")]
        blocks += [("table", t) for t in tables[:2]]
        blocks.append(("img", (plots[0][1], plots[0][2])))
        blocks.append(("h2", "Comparison tables"))
        blocks += [("table", t) for t in tables[2:]]
        blocks.append(("h2", "Estimate vs n, per task"))
        blocks += [("img", (cap, png)) for _, cap, png in plots[1:]]
        write("html", "report.html", html_page(title, blocks, header))
    if "tex" in fmts:
        tex = ["% infobench report: tables for \\input{}; needs \\usepackage{booktabs}", ""]
        tex += [to_latex(t) for t in tables]
        write("tex", "report.tex", "\n".join(tex))
    if "csv" in fmts:
        write("csv", "summary.csv", mark_best(summary).to_csv(index=False))
        write("csv", "leaderboard.csv", leaderboard(summary, rank_by=rank_by).to_csv(index=False))
        write("csv", "samples_needed.csv", samples_needed(summary).to_csv(index=False))
        if not cal.empty:
            write("csv", "calibration.csv", cal.to_csv(index=False))
        write("csv", "results.csv", results.to_csv(index=False))
    if "parquet" in fmts:
        results.to_parquet(out / "results.parquet", index=False)
        written["parquet"].append(out / "results.parquet")
    return written

