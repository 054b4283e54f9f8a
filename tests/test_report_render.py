"""Tables, renderers, plots and the report writer, on hand-built records."""

import csv
import io
import math
import re

import numpy as np
import pandas as pd
import pytest

from infobench.report import (
    Table,
    format_value,
    heatmap_table,
    html_page,
    leaderboard,
    leaderboard_table,
    mark_best,
    metric_table,
    parse_formats,
    plot_estimates,
    plot_heatmap,
    samples_needed,
    samples_needed_table,
    summarize,
    to_csv,
    to_html,
    to_latex,
    to_markdown,
    to_rich,
    write_report,
)
from infobench.report.aggregate import best_flags
from infobench.report.plots import figure_png
from infobench.report.render import (
    Figure,
    format_score,
    frame_table,
    heat_colour,
    latex_escape,
    markdown_page,
    slug,
    table_name,
)

PNG = b"\x89PNG\r\n\x1a\n"


def records():
    """Two estimators on two tasks at two sizes, two seeds; 'b' fails once and runs only on t_1."""
    rows = []
    spec = {  # (estimator, task, n) -> estimates of the two seeds
        ("ksg[k=3]", "t_1", 100): (0.9, 1.1),
        ("ksg[k=3]", "t_1", 1000): (0.98, 1.02),
        ("b&c", "t_1", 100): (1.4, None),
        ("b&c", "t_1", 1000): (1.2, 1.25),
        ("ksg[k=3]", "t%2", 100): (0.5, 0.7),
        ("ksg[k=3]", "t%2", 1000): (0.55, 0.65),
    }
    for (e, t, n), ests in spec.items():
        for seed, est in enumerate(ests):
            rows.append(
                {
                    "estimator": e,
                    "method": e.split("[")[0],
                    "task_id": t,
                    "family": "f",
                    "n": n,
                    "seed": seed,
                    "truth": 1.0 if t == "t_1" else 0.6,
                    "truth_std_err": 0.0,
                    "estimate": np.nan if est is None else est,
                    "std_err": 0.05,
                    "seconds": 0.01 * (seed + 1),
                    "ok": est is not None,
                    "error": None if est is not None else "ValueError: x",
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def summary():
    return summarize(records())


def test_format_value_kinds():
    assert format_value(0.41234) == "0.412"
    assert format_value(-0.00012) == "-1.2e-04"  # tiny amounts keep two significant digits, never rounded to 0
    assert format_value(0.0) == "0.000"
    assert format_value(float("nan")) == "n/a" and format_value(None) == "n/a"
    assert format_value(0.25, "signed") == "+0.250" and format_value(-0.25, "signed") == "-0.250"
    assert format_value(0.955, "rate") == "0.95" or format_value(0.955, "rate") == "0.96"
    assert format_value(1500.0, "count") == "1500"
    assert format_value(0.012345, "seconds") == "0.0123"
    # One formatter for every report: infinities are shown, never hidden as n/a; scores keep 4 digits.
    assert format_value(float("inf")) == "inf" and format_value(-math.inf, "signed") == "-inf"
    assert format_value(123.456789, "score") == "123.5" and format_value(2.5, "count") == "2.5"
    assert format_score(7.0, "count") == "7" and format_score(0.123456, "nats") == "0.1235"
    assert format_value("ksg") == "ksg"


def test_slug_is_the_one_file_name_rule():
    assert slug("mean estimate ± std (nats)") == "mean-estimate-std-nats"
    assert slug("normal-dense-x1-y1-rho0.75") == "normal-dense-x1-y1-rho0.75"
    assert slug("Sample quality: information-theoretic scores") == "sample-quality-information-theoretic-scores"
    assert slug("t%2") == "t-2" and slug("t_1") == "t_1"
    assert slug("%%%") == "item" and slug("", default="table") == "table"
    assert slug("a" * 80, max_len=40) == "a" * 40
    assert table_name(Table("RMSE (nats)", [], [], [])) == "rmse-nats"
    assert table_name(Table("x", [], [], [], name="generators-training")) == "generators-training"


def test_best_flags_is_the_one_best_rule():
    v = pd.Series([1.0, -3.0, float("nan"), 0.5], index=list("abcd"))
    assert list(best_flags(v, "up")) == [True, False, False, False]
    assert list(best_flags(v, "down")) == [False, True, False, False]
    assert list(best_flags(v, "zero")) == [False, False, False, True]
    assert list(best_flags(v, "down", pd.Series([True, False, True, True], index=v.index))) == [
        False,
        False,
        False,
        True,
    ]  # only eligible entries compete
    assert list(best_flags(pd.Series([2.0, 2.0]), "down")) == [True, True]  # ties all marked
    assert not best_flags(pd.Series([float("nan")]), "up").any()
    assert list(best_flags(pd.Series([0.75, 1.25, 2.0]), lambda x: abs(x - 1))) == [True, True, False]


def test_metric_table_layout_and_best_per_row(summary):
    t = metric_table(summary, "bias")
    assert t.header == ["task", "n", "truth (nats)", "ksg[k=3]", "b&c"]
    assert t.labels == 3
    rows = {(r[0], r[1]): (r, b) for r, b in zip(t.rows, t.best)}
    row, best = rows[("t_1", "1000")]
    assert row[2:] == ["1.000", "0.000", "0.225"]  # bias of ksg: 0, of b&c: 1.225 - 1
    assert best == [False, False, False, True, False]
    row, best = rows[("t%2", "100")]
    assert row[4] == ""  # b&c does not run on t%2: blank, not n/a
    assert "smallest |bias|" in t.note


def test_estimate_table_shows_mean_and_std_and_marks_closest_to_truth(summary):
    t = metric_table(summary, "mean_estimate")
    row = t.rows[0]  # t_1, n=100: ksg mean 1.0 (std 0.141), b&c 1.4 (one cell: no std)
    assert row[3] == f"1.000 ± {format_value(np.std([0.9, 1.1], ddof=1))}" and row[4] == "1.400"
    assert t.best[0][3] and not t.best[0][4]


def test_coverage_best_is_closest_to_095(summary):
    t = metric_table(summary, "coverage")
    # t_1 n=100: ksg covers 0.9? |0.1| > 0.098 no; 1.1 no -> 0.0. b&c: |0.4| no -> 0.0: tie, both best.
    assert t.rows[0][2:] == ["0.00", "0.00"] and t.best[0][2:] == [True, True]
    # t_1 n=1000: ksg 1.0 (|0.02| <= 0.098), b&c 0.0 -> ksg best
    assert t.rows[1][2:] == ["1.00", "0.00"] and t.best[1][2:] == [True, False]


def test_unknown_metric(summary):
    with pytest.raises(ValueError, match=r"metric must be one of \[.*'rmse'.*\]; got 'speed'"):
        metric_table(summary, "speed")


def test_markdown_marks_best_in_bold_and_escapes(summary):
    md = to_markdown(metric_table(summary, "bias"))
    lines = md.splitlines()
    assert lines[0] == "### bias (nats)"
    assert (
        "| task | n | truth (nats) | ksg\\[k=3\\] | b&c |" in md or "| task | n | truth (nats) | ksg[k=3] | b&c |" in md
    )
    assert "| t\\_1 | 1000 | 1.000 | **0.000** | 0.225 |" in md
    assert "| ---: |" in md


def test_csv_marks_best_with_a_star(summary):
    rows = list(csv.reader(io.StringIO(to_csv(metric_table(summary, "bias")))))
    assert rows[0] == ["task", "n", "truth (nats)", "ksg[k=3]", "b&c"]
    assert ["t_1", "1000", "1.000", "0.000*", "0.225"] in rows


def test_latex_booktabs_textbf_and_escaping(summary):
    tex = to_latex(metric_table(summary, "mean_estimate"))
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"\begin{tabular}{lllrr}" in tex
    assert r"b\&c" in tex and r"t\_1" in tex and r"t\%2" in tex
    assert r"\textbf{1.000 $\pm$ 0.141}" in tex
    assert latex_escape(r"a_b&c%d$e#f{g}h~i^j\k") == (
        r"a\_b\&c\%d\$e\#f\{g\}h\textasciitilde{}i\textasciicircum{}j\textbackslash{}k"
    )
    assert latex_escape("[x]") == "{[}x]"
    assert latex_escape("|a| < b") == r"\textbar{}a\textbar{} \textless{} b"


def test_html_table_best_class_and_heat_colours(summary):
    h = to_html(heatmap_table(summary))
    assert 'class="num best"' in h
    assert "b&amp;c" in h  # escaped
    # t%2 at n=1000: ksg's estimates 0.55 and 0.65 around the truth 0.6: nearly white; b&c does not run there.
    lr = np.mean(np.log2([0.55 / 0.6, 0.65 / 0.6]))
    assert f'style="background:{heat_colour(lr)}">{format_value(lr, "signed")}<' in h
    assert min(int(heat_colour(lr)[i : i + 2], 16) for i in (1, 3, 5)) >= 250  # |log2 ratio| ~ 0.003
    assert heat_colour(0.0) == "#ffffff"
    assert heat_colour(float("nan")) == "#e0e0e0"
    assert heat_colour(5.0) == heat_colour(1.0) != heat_colour(0.5)  # colour saturates, text does not
    r, _g, b = (int(heat_colour(-1.0)[i : i + 2], 16) for i in (1, 3, 5))
    assert b > r  # underestimates are blue


def test_heatmap_table_values_at_largest_n(summary):
    t = heatmap_table(summary)
    assert t.header == ["task", "n", "ksg[k=3]", "b&c"]
    rows = {r[0]: r for r in t.rows}
    assert rows["t_1"][1] == "1000"
    assert rows["t_1"][3] == format_value(np.mean(np.log2([1.2, 1.25])), "signed")
    assert rows["t%2"][3] == ""
    t100 = heatmap_table(summary, n=100)
    assert {r[1] for r in t100.rows} == {"100"}


def test_leaderboard_and_samples_needed_tables(summary):
    t = leaderboard_table(leaderboard(summary))
    assert t.header[:4] == ["estimator", "tasks", "mean rank", "wins"]
    # b&c has no cell on t%2: one complete task is too few to test the ranking, so no best rank or wins is marked
    assert t.rows[0][0] == "ksg[k=3]" and not t.best[0][2] and not t.best[0][3]
    assert "significance test not applicable (1 complete block, needs at least 2)" in t.note
    s = samples_needed_table(samples_needed(summary))
    rows = {r[0]: r for r in s.rows}
    # ksg on t_1: means 1.0 and 1.0 -> from 100; b&c: 1.4 (in), 1.225 (in) -> 100; t%2: 0.6, 0.6 -> 100
    assert rows["t_1"][1:] == ["100", "100"] and rows["t%2"][1:] == ["100", ""]


def test_rich_rendering_contains_values(summary):
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(to_rich(metric_table(summary, "rmse")))
    text = console.export_text()
    assert "ksg[k=3]" in text and "RMSE (nats)" in text and "0.100" in text


def test_html_page_is_self_contained(summary):
    png = figure_png(plot_heatmap(summary))
    page = html_page(
        "T <1>",
        [("h2", "x"), ("table", metric_table(summary, "rmse")), ("img", Figure("h.png", "cap", png)), ("p", "a & b")],
        {"run": "r<1>"},
    )
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert "data:image/png;base64," in page
    assert not re.search(r"""(src|href)=["']?(https?:|//|[^"'d])""", page)  # nothing to fetch
    assert "T &lt;1&gt;" in page and "r&lt;1&gt;" in page and "a &amp; b" in page


def test_plots_are_pngs(summary):
    for fig in (plot_estimates(summary, "t_1"), plot_estimates(summary, "t%2", units="bits"), plot_heatmap(summary)):
        data = figure_png(fig)
        assert data.startswith(PNG) and len(data) > 2000
    with pytest.raises(ValueError, match="no results for task 'zz'"):
        plot_estimates(summary, "zz")


def test_bits_rendering(summary):
    t = metric_table(summary, "mean_estimate", units="bits")
    assert t.header[2] == "truth (bits)" and t.rows[0][2] == format_value(1.0 / math.log(2))


def test_mark_best_columns(summary):
    marked = mark_best(summary).set_index(["estimator", "task_id", "n"])
    assert marked.loc[("ksg[k=3]", "t_1", 1000), "best_bias"]
    assert not marked.loc[("b&c", "t_1", 1000), "best_bias"]
    assert marked.loc[("ksg[k=3]", "t%2", 1000), "best_rmse"]  # alone in its row


def test_write_report_every_format(tmp_path):
    out = tmp_path / "rep"
    import importlib.util

    # Parquet only where pyarrow is installed (the no-pyarrow error has its own test).
    formats = "md,html,csv,tex,png" + (",parquet" if importlib.util.find_spec("pyarrow") else "")
    written = write_report(records(), out, formats=formats, meta={"run": "r1"})
    names = {p.name for ps in written.values() for p in ps}
    assert {
        "report.md",
        "report.html",
        "report.tex",
        "summary.csv",
        "leaderboard.csv",
        "samples_needed.csv",
        "results.csv",
        "heatmap.png",
        "estimates-t_1.png",
        "estimates-t-2.png",
    } <= names
    md = (out / "report.md").read_text()
    assert "- **run**: r1" in md and "### Leaderboard" in md and "![t_1: estimate vs n](estimates-t_1.png)" in md
    assert "**" in md.split("### bias")[1]
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and 'class="num best"' in html
    assert r"\textbf{" in (out / "report.tex").read_text()
    summary_csv = pd.read_csv(out / "summary.csv")
    assert "best_rmse" in summary_csv and len(summary_csv) == 6
    assert len(pd.read_csv(out / "results.csv")) == len(records())
    if written.get("parquet"):
        assert len(pd.read_parquet(out / "results.parquet")) == len(records())


def test_write_report_without_png_keeps_html_plots_and_md_has_no_image_links(tmp_path):
    written = write_report(records(), tmp_path / "r", formats=["md", "html"])
    assert set(written) == {"md", "html"}
    assert "![" not in (tmp_path / "r" / "report.md").read_text()
    assert not list((tmp_path / "r").glob("*.png"))


def test_write_report_errors(tmp_path):
    with pytest.raises(
        ValueError,
        match=r"report format must be one of \['md', 'html', 'csv', 'tex', 'png', "
        r"'parquet'\]; got 'pdf'",
    ):
        write_report(records(), tmp_path / "x", formats="md,pdf")
    with pytest.raises(ValueError, match="no results to report"):
        write_report(records().iloc[:0], tmp_path / "x")
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="out must be a folder"):
        write_report(records(), tmp_path / "file", formats="md")
    with pytest.raises(ValueError, match="rank_by must be one of"):
        write_report(records(), tmp_path / "y", formats="md", rank_by="speed")
    assert not (tmp_path / "y").exists()
    assert parse_formats("MD, latex ,md") == ["md", "tex"]
    with pytest.raises(ValueError, match="give at least one report format"):
        parse_formats([])


def test_markdown_page_follows_the_blocks_and_drops_empty_headings(summary):
    fig = Figure("h.png", "the heatmap", b"png")
    blocks = [
        ("p", "intro"),
        ("table", Table("T", ["a"], [["1"]], [[False]])),
        ("img", fig),
        ("h2", "Empty"),
        ("h2", "Plots"),
        ("img", fig),
    ]
    md = markdown_page("Title", blocks, {"command": "infobench run --quick"}, image_dir="plots")
    assert md.startswith("# Title\n\n- **command**: infobench run --quick\n")
    assert md.index("intro") < md.index("### T") < md.index("![the heatmap](plots/h.png)") < md.index("## Plots")
    assert "## Empty" not in md  # nothing under it
    no_images = markdown_page("Title", blocks, image_dir=None)
    assert "![" not in no_images and "## Plots" not in no_images
    with pytest.raises(TypeError, match="an 'img' block holds a Figure; got tuple"):
        markdown_page("T", [("img", ("cap", b"png"))])
    with pytest.raises(ValueError, match=r"block kind must be one of \['h2', 'p', 'table', 'img'\]; got 'h3'"):
        html_page("T", [("h3", "x")])


def test_frame_table_formats_every_number_with_format_value():
    frame = pd.DataFrame({"generator": ["gan", "vae"], "epochs": [20, 30], "loss": [0.123456, float("nan")]})
    t = frame_table(frame, "Training", note="n")
    assert t.header == ["generator", "epochs", "loss"]
    assert t.rows == [["gan", "20", "0.1235"], ["vae", "30", "n/a"]]
    assert not any(any(r) for r in t.best) and t.labels == 1
    assert frame_table(frame, "x", kinds={"loss": "nats"}).rows[0][2] == "0.123"


def test_table_dataclass_is_plain():
    t = Table("t", ["a", "b"], [["x", "1"]], [[False, True]])
    assert to_markdown(t).splitlines()[-1] == "| x | **1** |"


def test_doubtful_numbers_are_flagged_in_every_table_and_format():
    from infobench.report import report_tables
    from infobench.report.render import DOUBT_MARK, diagnostics_table

    doubt = '[{"code": "ties", "message": "m", "severity": "warning", "subject": "x[0]"}]'
    df = records()
    df["diagnostics"] = [
        doubt if (e, t) == ("ksg[k=3]", "t_1") else "[]" for e, t in zip(df["estimator"], df["task_id"])
    ]
    summary = summarize(df)
    table = metric_table(summary, "mean_estimate")
    flagged = {
        (row[0], row[1], e): cell.endswith(f" {DOUBT_MARK}")
        for row in table.rows
        for e, cell in zip(table.header[3:], row[3:])
    }
    assert flagged[("t_1", "100", "ksg[k=3]")] and flagged[("t_1", "1000", "ksg[k=3]")]
    assert not flagged[("t_1", "100", "b&c")] and not flagged[("t%2", "100", "ksg[k=3]")]
    assert f"{DOUBT_MARK}: at least one cell behind the number carries a warning diagnostic" in table.note
    assert "ksg[k=3]: ties(x[0])" in table.note
    heat = heatmap_table(summary)
    assert heat.rows[0][2].endswith(DOUBT_MARK) and not heat.rows[1][2].endswith(DOUBT_MARK)
    needed = samples_needed_table(samples_needed(summary))
    assert needed.rows[0][1].endswith(DOUBT_MARK) and not needed.rows[1][1].endswith(DOUBT_MARK)
    board = leaderboard_table(leaderboard(summary))
    assert board.header[-1] == "doubtful" and [r[-1] for r in board.rows] == ["2 †", "0"]
    listing = diagnostics_table(summary)
    assert listing.rows == [
        ["ksg[k=3]", "t_1", "100", "2", "2 †", "ties(x[0])"],
        ["ksg[k=3]", "t_1", "1000", "2", "2 †", "ties(x[0])"],
    ]
    assert report_tables(summary)[-1].rows == listing.rows
    # The same marker in every renderer (LaTeX spells it \dag).
    assert f"1.000 ± 0.141 {DOUBT_MARK}" in to_markdown(table)
    assert f"{DOUBT_MARK}" in to_csv(table) and f"{DOUBT_MARK}" in to_html(table)
    assert r"1.000 $\pm$ 0.141 \dag{}" in to_latex(table) and DOUBT_MARK not in to_latex(table)
    # No doubt, no flag, no diagnostics table.
    clean = summarize(records())
    assert DOUBT_MARK not in to_markdown(metric_table(clean, "mean_estimate"))
    assert not any(t.title == listing.title for t in report_tables(clean))
