"""Benchmark reports: aggregations (DataFrame -> DataFrame), tables in five formats, PNG plots.

>>> from infobench.bench import load_results
>>> from infobench.report import summarize, leaderboard, write_report
>>> df = load_results("runs/bench.db", run="latest")            # doctest: +SKIP
>>> summarize(df)                                               # doctest: +SKIP
>>> write_report(df, "reports/latest", formats="md,html,png")  # doctest: +SKIP

The report of ``infobench run`` (benchmark, generators, sample quality) is
built by :mod:`infobench.report.main_report` from the same pieces; that module
imports :mod:`infobench.quality` and is therefore not imported here.
"""

from infobench.report.aggregate import (
    METRICS,
    Metric,
    best_flags,
    best_mask,
    leaderboard,
    samples_needed,
    summarize,
    to_units,
)
from infobench.report.plots import figure_png, plot_estimates, plot_heatmap
from infobench.report.render import (
    Figure,
    Table,
    format_value,
    frame_table,
    heatmap_table,
    html_page,
    latex_document,
    leaderboard_table,
    markdown_page,
    metric_table,
    samples_needed_table,
    slug,
    to_csv,
    to_html,
    to_latex,
    to_markdown,
    to_rich,
)
from infobench.report.writer import (
    FORMATS,
    benchmark_blocks,
    heatmap_figure,
    mark_best,
    parse_formats,
    report_tables,
    write_report,
)

__all__ = [
    "FORMATS",
    "METRICS",
    "Metric",
    "Figure",
    "Table",
    "benchmark_blocks",
    "best_flags",
    "best_mask",
    "figure_png",
    "format_value",
    "frame_table",
    "heatmap_figure",
    "heatmap_table",
    "html_page",
    "latex_document",
    "leaderboard",
    "leaderboard_table",
    "mark_best",
    "markdown_page",
    "metric_table",
    "parse_formats",
    "plot_estimates",
    "plot_heatmap",
    "report_tables",
    "samples_needed",
    "samples_needed_table",
    "slug",
    "summarize",
    "to_csv",
    "to_html",
    "to_latex",
    "to_markdown",
    "to_rich",
    "to_units",
    "write_report",
]
