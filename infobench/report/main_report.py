"""The report of ``infobench run``: estimator benchmark, reference generators, sample quality, validity.

Built from the same pieces as :func:`infobench.report.write_report`
(:func:`~infobench.report.writer.report_tables`,
:func:`~infobench.report.writer.benchmark_blocks`, the renderers of
:mod:`infobench.report.render`) plus the quality tables of
:mod:`infobench.report.quality_tables`. One list of blocks gives both
``REPORT.md`` and ``report.html``, so they show the same tables and images in
the same order; every table is also written on its own as
``tables/<name>.csv`` and ``tables/<name>.tex``, every image as
``plots/<name>``.

This module imports :mod:`infobench.quality`, which imports
:mod:`infobench.report.render`; it is therefore not imported by
``infobench.report``'s ``__init__`` (that would be an import cycle).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from infobench._io import atomic_write
from infobench.quality import DIRECTIONS, SCORES
from infobench.quality.validity import detection
from infobench.report.aggregate import best_flags, leaderboard, rank_tests, summarize
from infobench.report.plots import figure_png, plot_learning_curves
from infobench.report.quality_tables import (
    best_epoch_table,
    detection_table,
    pairwise_table,
    run_tables,
    score_tables,
)
from infobench.report.render import (
    Figure,
    Table,
    format_value,
    frame_table,
    html_page,
    leaderboard_table,
    markdown_page,
    slug,
    table_name,
    to_csv,
    to_latex,
)
from infobench.report.writer import (
    benchmark_blocks,
    calibration_of,
    heatmap_figure,
    rank_figures,
    report_tables,
)

__all__ = [
    "MainReport",
    "build_main_report",
    "curves_figure",
    "quality_summary_table",
    "summary_tables",
    "training_table",
    "write_main_report",
]

TITLE = "infobench report"
TRAINING_NOTE = (
    "One row per training run (its seed spawned from the configured seed). "
    "Last-epoch values from each run's log.csv; balance_* columns are the binary entropy (nats) of the "
    "discriminator's outputs, log 2 = 0.693 when it cannot tell real from generated."
)
# Per-model figures that training leaves beside each checkpoint: file name -> caption.
GENERATOR_FIGURES = {"samples.png": "samples", "losses.png": "training curves"}
# Scores shown in the terminal summary of ``infobench run`` (the report has all of them with intervals).
SUMMARY_SCORES = {
    "inception": "IS",
    "classes_covered": "classes",
    "kl_real_fake": "KL(r‖g)",
    "kl_fake_real": "KL(g‖r)",
    "fid": "FID",
    "kid": "KID",
    "precision": "prec",
    "recall": "recall",
    "memorization": "memo",
}


@dataclass
class MainReport:
    """The report of one main-job run before it is written: header, blocks, and the raw records."""

    meta: dict[str, str]
    blocks: list[tuple[str, Any]]
    records: dict[str, pd.DataFrame] = field(default_factory=dict)
    title: str = TITLE

    @property
    def tables(self) -> list[Table]:
        return [c for k, c in self.blocks if k == "table"]

    @property
    def figures(self) -> list[Figure]:
        return [c for k, c in self.blocks if k == "img"]


def training_table(training: pd.DataFrame) -> Table:
    """One row per training run of a reference generator: the last-epoch values of its training log."""
    frame = training.drop(columns=[c for c in ("folder",) if c in training.columns])
    table = frame_table(
        frame, "Reference generators: training", note=TRAINING_NOTE, labels=3 if "run" in frame.columns else 1
    )
    table.name = "generators-training"
    return table


def _ceiling_order(df: pd.DataFrame) -> tuple[list[str], set[str]]:
    fakes = list(dict.fromkeys(df["fake"]))
    ceiling = {f for f in fakes if (df.loc[df["fake"] == f, "source"] == "held-out").all()}
    return [f for f in fakes if f not in ceiling] + [f for f in fakes if f in ceiling], ceiling


def quality_summary_table(
    df: pd.DataFrame, runs: pd.DataFrame | None = None, pairs: pd.DataFrame | None = None
) -> Table:
    """One row per generated set, values only (3 significant digits), to fit an 80-column terminal.

    With ``runs`` and ``pairs`` (:mod:`infobench.quality.compare`) a row is a
    generator, its cells the mean over its training runs ± their sd, and
    "best" is marked only where it is distinguishable from the runner-up.
    """
    if runs is not None and pairs is not None:
        return _summary_over_runs(runs, pairs)
    names = [s for s in SUMMARY_SCORES if s in set(df["score"])]
    order, ceiling = _ceiling_order(df)
    rows = [[f + (" (ceiling)" if f in ceiling else "")] for f in order]  # "*" marks best values in a log
    best = [[False] for _ in order]
    for s in names:
        sub = df[df["score"] == s].set_index("fake").reindex(order)
        flags = best_flags(
            sub["value"].astype(float),
            SCORES[s].direction,
            pd.Series([f not in ceiling for f in order], index=sub.index),
        )
        for i, f in enumerate(order):
            rows[i].append(format_value(float(sub.loc[f, "value"]), "seconds"))  # 3 significant digits
            best[i].append(bool(flags.loc[f]))
    header = ["generated"] + [f"{SUMMARY_SCORES[s]} {DIRECTIONS[SCORES[s].direction]}" for s in names]
    return Table(
        title="Generators (full table with intervals in the report)",
        header=header,
        rows=rows,
        best=best,
        labels=1,
        note="(ceiling): held-out real data, not ranked. KL in nats; "
        "r = real, g = generated; memo = memorized fraction.",
    )


CEILING = ("real-test",)


def _summary_over_runs(runs: pd.DataFrame, pairs: pd.DataFrame) -> Table:
    from infobench.quality.compare import (
        best_marks,  # deferred: the statistics are needed by this table only
    )

    names = [s for s in SUMMARY_SCORES if s in set(runs["score"])]
    gens = list(dict.fromkeys(runs["generator"]))
    order = [g for g in gens if g not in CEILING] + [g for g in gens if g in CEILING]
    marks = best_marks(runs, pairs, exclude=CEILING)
    rows, best = [], []
    for g in order:
        sub = runs[runs["generator"] == g].set_index("score")
        row = [g + (" (ceiling)" if g in CEILING else "")]
        for s in names:
            text = format_value(float(sub.loc[s, "mean"]), "seconds")
            if int(sub.loc[s, "runs"]) > 1:
                text += f"±{float(sub.loc[s, 'sd_runs']):.2g}"
            row.append(text)
        rows.append(row)
        best.append([False] + [marks.get(s) == g for s in names])
    r = int(runs.loc[~runs["generator"].isin(CEILING), "runs"].max())
    header = ["generated"] + [f"{SUMMARY_SCORES[s]} {DIRECTIONS[SCORES[s].direction]}" for s in names]
    return Table(
        title=f"Generators: mean ± sd over {r} training runs (intervals and pairwise verdicts in the report)",
        header=header,
        rows=rows,
        best=best,
        labels=1,
        note="Best marked only where distinguishable from the runner-up (Welch interval over the runs). "
        "(ceiling): held-out real data, not ranked. KL in nats; r = real, g = generated; "
        "memo = memorized fraction.",
    )


def _named(tables: list[Table], prefix: str) -> list[Table]:
    for t in tables:
        t.name = t.name or f"{prefix}-{slug(t.title, default='table')}"
    return tables


def _generator_figures(folders: dict[str, Path]) -> list[Figure]:
    figures = []
    for kind, folder in folders.items():
        for name, caption in GENERATOR_FIGURES.items():
            path = Path(folder) / name
            if path.exists():
                figures.append(Figure(f"{kind}-{name}", f"{kind}: {caption}", path.read_bytes()))
    return figures


def build_main_report(
    *,
    benchmark: pd.DataFrame,
    training: pd.DataFrame,
    generator_dirs: dict[str, Path],
    quality: pd.DataFrame,
    validity: pd.DataFrame | None,
    meta: dict[str, str],
    summary: pd.DataFrame | None = None,
    runs: pd.DataFrame | None = None,
    pairs: pd.DataFrame | None = None,
    curves: pd.DataFrame | None = None,
) -> MainReport:
    """Every table and image of the main job's report, in order.

    Parameters
    ----------
    benchmark : DataFrame
        The benchmark records (:func:`infobench.bench.load_results`); any
        quantities (entropy, MI, KL): tables and the leaderboard group by them.
    training : DataFrame
        One row per generator (``generator``, ``folder`` and the last-epoch
        values of its log).
    generator_dirs : dict
        Model kind -> training folder (its ``samples.png`` and ``losses.png``
        are shown).
    quality, validity : DataFrame
        The frames of :func:`infobench.quality.score` and
        :func:`infobench.quality.validity.run_validity` (``validity`` may be None).
    meta : dict
        Header lines (command, dataset, device, ...).
    summary : DataFrame, optional
        ``summarize(benchmark)`` when the caller already has it.
    runs, pairs : DataFrame, optional
        :func:`infobench.quality.compare.across_runs` and
        :func:`~infobench.quality.compare.pairwise` of ``quality`` (several
        training runs per generator): the tables over runs and the verdicts
        come first, the per-run table (no best marks) after them.
    curves : DataFrame, optional
        :func:`infobench.mainjob.pipeline.learning_curves`: their figure and
        the best-epoch table.
    """
    summary = summarize(benchmark) if summary is None else summary
    bench_tables = _named(report_tables(summary, calibrated=calibration_of(benchmark)), "estimators")
    heatmap = heatmap_figure(summary, "estimator-heatmap.png", "Estimators x tasks: mean log2(estimate / truth)")
    blocks: list[tuple[str, Any]] = [("h2", "Estimator benchmark")]
    blocks += benchmark_blocks(bench_tables, heatmap, ranking=rank_figures(rank_tests(summary), prefix="estimator-cd"))
    blocks += [("h2", "Reference generators"), ("table", training_table(training))]
    blocks += [("img", f) for f in _generator_figures(generator_dirs)]
    if curves is not None and len(curves):
        blocks += [("img", curves_figure(curves)), ("table", best_epoch_table(curves))]
    blocks += [("h2", "Sample quality")]
    records = {"benchmark-records.csv": benchmark, "quality-records.csv": quality}
    if runs is not None and pairs is not None:
        blocks += [("table", t) for t in run_tables(runs, pairs, ceiling=CEILING)]
        blocks += [("table", pairwise_table(pairs))]
        per_run = score_tables(quality, title="Sample quality per training run", mark_best=False)
        blocks += [("table", t) for t in _named(per_run, "quality-per-run")]
        records["quality-runs-records.csv"] = runs.assign(
            values=runs["values"].map(lambda v: " ".join(f"{x:.6g}" for x in v)),
            run_names=runs["run_names"].map(" ".join),
        )
    else:
        blocks += [("table", t) for t in _named(score_tables(quality, title="Sample quality"), "quality")]
    if curves is not None:
        records["learning-curves.csv"] = curves
    if validity is not None:
        blocks += [("h2", "Validity suite"), ("table", _named([detection_table(detection(validity))], "validity")[0])]
        records["validity-records.csv"] = validity
    return MainReport(meta=dict(meta), blocks=blocks, records=records)


def write_main_report(report: MainReport, folder: str | os.PathLike) -> list[Path]:
    """Write ``REPORT.md``, ``report.html``, ``tables/*.csv|tex`` and ``plots/*.png`` into ``folder``.

    Returns the paths written.
    """
    folder = Path(folder)
    tables_dir, plots_dir = folder / "tables", folder / "plots"
    tables_dir.mkdir(parents=True, exist_ok=True)
    plots_dir.mkdir(parents=True, exist_ok=True)
    written = []

    def write(path: Path, data: str | bytes) -> None:
        atomic_write(path, lambda fh: fh.write(data), binary=isinstance(data, bytes))
        written.append(path)

    for t in report.tables:
        write(tables_dir / f"{table_name(t)}.csv", to_csv(t))
        write(tables_dir / f"{table_name(t)}.tex", to_latex(t))
    for name, frame in report.records.items():
        write(tables_dir / name, frame.to_csv(index=False))
    for fig in report.figures:
        write(plots_dir / fig.name, fig.png)
    write(folder / "REPORT.md", markdown_page(report.title, report.blocks, report.meta, image_dir="plots"))
    write(folder / "report.html", html_page(report.title, report.blocks, report.meta))
    return written


def summary_tables(
    summary: pd.DataFrame,
    quality: pd.DataFrame | None,
    runs: pd.DataFrame | None = None,
    pairs: pd.DataFrame | None = None,
) -> list[Table]:
    """The terminal summary of ``infobench run``: the leaderboard and, when scored, the compact quality table."""
    tables = [leaderboard_table(leaderboard(summary))]
    if quality is not None:
        tables.append(quality_summary_table(quality, runs, pairs))
    return tables


def curves_figure(curves: pd.DataFrame) -> Figure:
    """The learning curves of every generator (mean over runs, band from the lowest to the highest run)."""
    labels: dict[str, str] = {}
    best: dict[str, str | float] = {}
    for name in dict.fromkeys(curves["score"]):
        if name in SCORES:
            spec = SCORES[name]
            labels[name] = f"{spec.label} {spec.arrow}"
            best[name] = 0.0 if spec.direction == "zero" else "max" if spec.direction == "up" else "min"
        else:  # the GAN's balance: binary entropy of the discriminator's outputs, ideal log 2
            labels[name], best[name] = f"{name} (nats, →log 2)", float(np.log(2))
    fig = plot_learning_curves(curves, labels, best)
    runs = int(curves.groupby("generator")["run"].nunique().max())
    return Figure(
        "learning-curves.png",
        f"Scores through training: mean over {runs} runs per generator (thick), "
        "each run (thin), band from the lowest to the highest run; ★ the best epoch of the mean",
        figure_png(fig),
    )
