"""The report of ``infobench run`` (report.main_report), on hand-built frames.

One list of blocks gives REPORT.md and report.html: the same tables and
images in the same order; every table also as tables/<name>.csv and .tex.
Any quantity in the benchmark records (here mi, entropy and kl) is reported.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from PIL import Image

from infobench.report import report_tables, summarize
from infobench.report.main_report import (
    build_main_report,
    quality_summary_table,
    summary_tables,
    training_table,
    write_main_report,
)
from infobench.report.render import table_name
from report_frames import bench_records, quality_frame, training_frame

META = {"command": "infobench run --quick --out R", "dataset": "digits"}


def generator_dirs(tmp_path):
    dirs = {}
    for kind in ("gan", "vae"):
        d = tmp_path / "gen" / kind
        d.mkdir(parents=True)
        Image.fromarray(np.full((8, 8), 128, np.uint8)).save(d / "samples.png")
        dirs[kind] = d  # no losses.png: a missing figure is left out, not an error
    return dirs


def build(tmp_path, validity=None):
    return build_main_report(
        benchmark=bench_records(),
        training=training_frame(),
        generator_dirs=generator_dirs(tmp_path),
        quality=quality_frame(),
        validity=validity,
        meta=META,
    )


def test_main_report_files_and_same_order_in_markdown_and_html(tmp_path):
    report = build(tmp_path)
    out = tmp_path / "rep"
    written = write_main_report(report, out)
    assert {p.name for p in written} >= {
        "REPORT.md",
        "report.html",
        "estimators-leaderboard.csv",
        "generators-training.csv",
        "benchmark-records.csv",
        "quality-records.csv",
        "estimator-heatmap.png",
        "gan-samples.png",
        "vae-samples.png",
    }
    bench = report_tables(summarize(bench_records()))
    names = [table_name(t) for t in report.tables]
    assert names[: len(bench)] == ["estimators-" + table_name(t) for t in bench]
    assert "generators-training" in names and any(n.startswith("quality-sample-quality") for n in names)
    for n in names:
        assert (out / "tables" / f"{n}.csv").is_file() and (out / "tables" / f"{n}.tex").is_file()
    md = (out / "REPORT.md").read_text()
    page = (out / "report.html").read_text()
    assert "- **command**: infobench run --quick --out R" in md and "infobench run --quick --out R" in page
    # Same tables and images, same order, in both renderings.
    md_titles = re.findall(r"^### (.+)$", md, flags=re.M)
    html_titles = re.findall(r"<h3>(.+?)</h3>", page)
    assert len(md_titles) == len(html_titles) == len(report.tables)
    md_images = re.findall(r"!\[[^\]]*\]\(plots/([^)]+)\)", md)
    assert (
        md_images == [f.name for f in report.figures] == ["estimator-heatmap.png", "gan-samples.png", "vae-samples.png"]
    )
    assert page.count("data:image/png;base64,") == 3
    for heading in ("Estimator benchmark", "Reference generators", "Sample quality"):
        assert f"## {heading}" in md and f"<h2>{heading}</h2>" in page
    assert "Validity suite" not in md  # no validity frame given


def test_every_quantity_is_reported(tmp_path):
    report = build(tmp_path)
    board = report.tables[0]
    assert board.title == "Leaderboard" and board.header[0] == "quantity"
    assert [r[0] for r in board.rows] == ["mi", "mi", "entropy", "entropy", "kl", "kl"]
    heat = next(t for t in report.tables if t.heat is not None)
    assert [r[0] for r in heat.rows] == ["gauss-mi", "gauss-h", "gauss-kl"]


def test_training_and_quality_summary_tables():
    t = training_table(training_frame())
    assert t.header == ["generator", "epochs", "seconds_per_epoch", "loss_g"]  # folder left out
    assert t.rows == [["gan", "20", "0.51", "1.235"], ["vae", "30", "0.33", "n/a"]]
    q = quality_summary_table(quality_frame())
    assert q.header == ["generated", "KL(r‖g) ↓", "FID ↓", "prec ↑"]
    assert [r[0] for r in q.rows] == ["gan", "vae", "real-test (ceiling)"]  # the ceiling last, not ranked
    # Best per column among generators only (gan: KL 3.1 < 4.2, precision 0.9 > 0.4; vae: FID 7.5 < 12),
    # never the ceiling, although its values are better still.
    assert q.best == [[False, True, False, True], [False, False, True, False], [False, False, False, False]]
    assert q.rows[1][1:] == ["4.2", "7.5", "0.4"]
    board, quality = summary_tables(summarize(bench_records()), quality_frame())
    assert board.title == "Leaderboard" and quality.title.startswith("Generators")
    assert len(summary_tables(summarize(bench_records()), None)) == 1


# ------------------------------------------------------------- several training runs per generator
def _runs_frame():
    """FID and precision of two runs each of gan and vae (gan clearly better on FID only), plus the ceiling."""
    from infobench.quality.compare import across_runs

    values = {
        "gan#1": (10.0, 0.50),
        "gan#2": (11.0, 0.40),
        "vae#1": (30.0, 0.45),
        "vae#2": (31.0, 0.55),
        "real-test": (1.0, 0.9),
    }
    rows = []
    for fake, (fid, prec) in values.items():
        for score, family, unit, direction, v in (
            ("fid", "standard", "", "down", fid),
            ("precision", "standard", "fraction", "up", prec),
        ):
            rows.append(
                {
                    "fake": fake,
                    "source": "held-out" if fake == "real-test" else "file",
                    "score": score,
                    "label": score,
                    "family": family,
                    "direction": direction,
                    "value": v,
                    "ci_low": v - 0.1,
                    "ci_high": v + 0.1,
                    "boot_std": 0.05,
                    "bootstrap": 40,
                    "level": 0.95,
                    "unit": unit,
                    "n_fake": 300,
                    "note": "",
                }
            )
    quality = pd.DataFrame(rows)
    groups = {"gan": ["gan#1", "gan#2"], "vae": ["vae#1", "vae#2"], "real-test": ["real-test"]}
    return quality, across_runs(quality, groups)


def test_tables_over_runs_mark_best_only_when_distinguishable():
    from infobench.quality.compare import pairwise
    from infobench.report.quality_tables import pairwise_table, run_tables

    quality, runs = _runs_frame()
    pairs = pairwise(runs, exclude=["real-test"])
    (table,) = run_tables(runs, pairs, ceiling=("real-test",))
    assert table.header == ["generator", "runs", "FID ↓", "precision ↑"]
    assert [r[0] for r in table.rows] == ["gan", "vae", "real-test (ceiling)"]
    # FID: gan 10.5 ± 0.71, vae 30.5 ± 0.71; difference -20 with se 0.71 and 2 df: t 4.3, interval [-23, -17].
    assert table.rows[0][2] == "10.5 ± 0.71 (± 0.05)"
    assert table.rows[2][2] == "1 (± 0.05)"
    # gan is marked on FID (distinguishable); precision 0.45 vs 0.5 is not, so no mark at all there.
    assert table.best == [[False, False, True, False], [False, False, False, False], [False] * 4]
    pt = pairwise_table(pairs)
    assert [r[1] for r in pt.rows] == ["gan − vae", "gan − vae"]
    assert pt.rows[0][-1] == "gan better" and pt.rows[1][-1] == "not distinguishable"
    assert pt.rows[0][3] == "2.0"
    summary = quality_summary_table(quality, runs, pairs)
    assert summary.rows[0][:2] == ["gan", "10.5±0.71"]
    assert summary.best[0] == [False, True, False]


def test_main_report_with_runs_and_learning_curves(tmp_path):
    from infobench.quality.compare import pairwise

    quality, runs = _runs_frame()
    curves = pd.DataFrame(
        [
            {
                "generator": g,
                "run": r,
                "seed": r,
                "epoch": e,
                "score": "fid",
                "value": 100.0 / e + r + (5 if g == "vae" else 0),
            }
            for g in ("gan", "vae")
            for r in (1, 2)
            for e in (5, 10, 15)
        ]
        + [
            {
                "generator": "gan",
                "run": r,
                "seed": r,
                "epoch": e,
                "score": "balance",
                "value": {5: 0.5, 10: 0.68, 15: 0.6}[e],
            }
            for r in (1, 2)
            for e in (5, 10, 15)
        ]
    )
    report = build_main_report(
        benchmark=bench_records(),
        training=training_frame(),
        generator_dirs={},
        quality=quality,
        validity=None,
        meta=META,
        runs=runs,
        pairs=pairwise(runs, exclude=["real-test"]),
        curves=curves,
    )
    names = [t.name for t in report.tables]
    assert {"quality-runs-standard", "quality-pairwise", "quality-best-epoch"} <= set(names)
    assert names.index("quality-runs-standard") < names.index("quality-pairwise")
    assert any(f.name == "learning-curves.png" for f in report.figures)
    best = next(t for t in report.tables if t.name == "quality-best-epoch")
    # FID falls with the epochs: best at the last (15); the balance is closest to log 2 = 0.693 at epoch 10.
    assert best.rows[0][:3] == ["gan", "FID ↓", "15"] and best.rows[0][4] == "15, 15"
    assert best.rows[1][:3] == ["gan", "balance →log 2", "10"]
    written = write_main_report(report, tmp_path / "r")
    assert (tmp_path / "r" / "tables" / "quality-runs-records.csv").is_file()
    assert (tmp_path / "r" / "plots" / "learning-curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "learning-curves.csv" in {p.name for p in written}
