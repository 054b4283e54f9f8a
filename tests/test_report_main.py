"""The report of ``infobench run`` (report.main_report), on hand-built frames.

One list of blocks gives REPORT.md and report.html: the same tables and
images in the same order; every table also as tables/<name>.csv and .tex.
Any quantity in the benchmark records (here mi, entropy and kl) is reported.
"""

from __future__ import annotations

import re

import numpy as np
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
    return build_main_report(benchmark=bench_records(), training=training_frame(),
                             generator_dirs=generator_dirs(tmp_path), quality=quality_frame(), validity=validity,
                             meta=META)


def test_main_report_files_and_same_order_in_markdown_and_html(tmp_path):
    report = build(tmp_path)
    out = tmp_path / "rep"
    written = write_main_report(report, out)
    assert {p.name for p in written} >= {"REPORT.md", "report.html", "estimators-leaderboard.csv",
                                         "generators-training.csv", "benchmark-records.csv", "quality-records.csv",
                                         "estimator-heatmap.png", "gan-samples.png", "vae-samples.png"}
    bench = report_tables(summarize(bench_records()))
    names = [table_name(t) for t in report.tables]
    assert names[:len(bench)] == ["estimators-" + table_name(t) for t in bench]
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
    assert md_images == [f.name for f in report.figures] == ["estimator-heatmap.png", "gan-samples.png",
                                                              "vae-samples.png"]
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
