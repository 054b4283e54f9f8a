"""Benchmark reports: aggregations (DataFrame -> DataFrame), tables in five formats, PNG plots.

>>> from infobench.bench import load_results
>>> from infobench.report import summarize, leaderboard, write_report
>>> df = load_results("runs/bench.db", run="latest")            # doctest: +SKIP
>>> summarize(df)                                               # doctest: +SKIP
>>> write_report(df, "reports/latest", formats="md,html,png")  # doctest: +SKIP
"""

from infobench.report.aggregate import METRICS, Metric, best_mask, leaderboard, samples_needed, summarize, to_units
from infobench.report.plots import figure_png, plot_estimates, plot_heatmap
from infobench.report.render import (
    Table,
    format_value,
    heatmap_table,
    html_page,
    leaderboard_table,
    metric_table,
    samples_needed_table,
    to_csv,
    to_html,
    to_latex,
    to_markdown,
    to_rich,
)
from infobench.report.writer import FORMATS, mark_best, parse_formats, report_tables, write_report

__all__ = [
    "FORMATS",
    "METRICS",
    "Metric",
    "Table",
    "best_mask",
    "figure_png",
    "format_value",
    "heatmap_table",
    "html_page",
    "leaderboard",
    "leaderboard_table",
    "mark_best",
    "metric_table",
    "parse_formats",
    "plot_estimates",
    "plot_heatmap",
    "report_tables",
    "samples_needed",
    "samples_needed_table",
    "summarize",
    "to_csv",
    "to_html",
    "to_latex",
    "to_markdown",
    "to_rich",
    "to_units",
    "write_report",
]
