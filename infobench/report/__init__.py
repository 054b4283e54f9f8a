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
    rank_tests,
    samples_needed,
    summarize,
    task_losses,
    to_units,
)
from infobench.report.plots import figure_png, plot_cd_diagram, plot_estimates, plot_heatmap
from infobench.report.ranking import BestVerdict, RankTest, mark_if_distinguishable, rank_test
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
    rank_groups_table,
    rank_test_table,
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
    rank_figures,
    report_tables,
    write_report,
)

__all__ = [
    "FORMATS",
    "METRICS",
    "BestVerdict",
    "Metric",
    "Figure",
    "RankTest",
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
    "mark_if_distinguishable",
    "markdown_page",
    "metric_table",
    "parse_formats",
    "plot_cd_diagram",
    "plot_estimates",
    "plot_heatmap",
    "rank_figures",
    "rank_groups_table",
    "rank_test",
    "rank_test_table",
    "rank_tests",
    "report_tables",
    "samples_needed",
    "samples_needed_table",
    "slug",
    "summarize",
    "task_losses",
    "to_csv",
    "to_html",
    "to_latex",
    "to_markdown",
    "to_rich",
    "to_units",
    "write_report",
]
