"""Terminal tables (``to_rich``): they fit the console's width, folded when needed, and never cut a figure."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from infobench.report import leaderboard, leaderboard_table, summarize, to_csv, to_markdown, to_rich
from infobench.report.quality_tables import score_tables
from infobench.report.render import Table, Tables, _split_interval, plain_text
from report_frames import bench_records, quality_frame

ESCAPE = re.compile(r"\x1b\[")


def score_table() -> Table:
    """Six scores with intervals of three sets: about 200 columns wide."""
    header = ["generated", "n", "FID ↓", "KID ↓", "precision ↑", "recall ↑", "density ↑", "coverage ↑"]
    rows = [
        [
            "gan",
            "359",
            "12.34 [11.02, 13.71]",
            "0.01234 [0.0101, 0.01452]",
            "0.7412 [0.7123, 0.7712]",
            "0.5121 [0.4812, 0.5423]",
            "0.9123 [0.8712, 0.9612]",
            "0.8123 [0.7812, 0.8412]",
        ],
        [
            "vae",
            "359",
            "22.34 [21.02, 23.71]",
            "0.02234 [0.0201, 0.02452]",
            "0.6412 [0.6123, 0.6712]",
            "0.4121 [0.3812, 0.4423]",
            "0.8123 [0.7712, 0.8612]",
            "0.7123 [0.6812, 0.7412]",
        ],
        [
            "real-test (ceiling)",
            "359",
            "1.234 [1.02, 1.71]",
            "0.0001234 [-0.0001, 0.0003452]",
            "0.9412 [0.9123, 0.9712]",
            "0.9121 [0.8812, 0.9423]",
            "1.012 [0.9712, 1.061]",
            "n/a",
        ],
    ]
    best = [[False, False] + [True] * 6, [False] * 8, [False] * 8]
    return Table(
        "Sample quality: standard scores",
        header,
        rows,
        best,
        labels=2,
        note="↑ higher is better, ↓ lower is better; best generator per column marked; [low, high]: "
        "95% bootstrap interval over 50 replicates.",
    )


def board() -> Table:
    """The leaderboard of three quantities (a leading quantity column), about 110 columns wide."""
    return leaderboard_table(leaderboard(summarize(bench_records())))


def wide_metric_table() -> Table:
    """Twelve estimator columns of mean ± sd: only column groups make it fit."""
    estimators = [f"estimator-{i}" for i in range(12)]
    rows = [
        [f"task-{t}", str(n)] + [f"{0.1 * t + 0.01 * i:.3f} ± 0.0{i % 10}{t}" for i in range(12)]
        for t in range(3)
        for n in (100, 1000)
    ]
    best = [[False, False] + [i == t for i in range(12)] for t in range(3) for _ in (100, 1000)]
    return Table("Mean estimate (nats)", ["task", "n"] + estimators, rows, best, labels=2, note="")


def render(table: Table, width: int, *, styled: bool = False) -> str:
    """The text a console of ``width`` columns prints: a terminal with colours, or a pipe (no styles)."""
    console = Console(
        file=io.StringIO(),
        width=width,
        force_terminal=styled,
        color_system="truecolor" if styled else None,
        force_jupyter=False,
    )
    console.print(to_rich(table))
    return console.file.getvalue()


def figures(table: Table) -> list[str]:
    """Every value and every interval of the table's value cells, as printed."""
    out = []
    for row in table.rows:
        for cell in row[table.labels :]:
            value, interval = _split_interval(cell)
            out += [value] + ([interval] if interval else [])
    return [f for f in out if f]


TABLES = {"scores": score_table, "leaderboard": board, "metric": wide_metric_table}


@pytest.mark.parametrize("name", sorted(TABLES))
@pytest.mark.parametrize("width", [48, 60, 72, 80, 100, 120, 160, 240])
def test_every_figure_is_whole_and_no_line_is_wider_than_the_console(name, width):
    table = TABLES[name]()
    text = render(table, width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "…" not in text and "..." not in text  # nothing cut
    for figure in figures(table):
        assert any(figure in line for line in lines), f"{figure!r} is not whole at width {width}:\n{text}"
    assert "\n\n\n" not in text


def test_a_table_that_fits_is_drawn_whole():
    text = render(score_table(), 240)
    assert text.count("Sample quality: standard scores") == 1 and "(1/" not in text
    assert "│ gan                 │ 359 │ 12.34* [11.02, 13.71] │" in text


def test_intervals_go_under_their_values_when_that_fits():
    table = score_table()
    table.header, table.rows, table.best = table.header[:5], [r[:5] for r in table.rows], [b[:5] for b in table.best]
    assert "12.34* [11.02, 13.71]" in render(table, 160)  # three score columns: 160 is enough for one line each
    text = render(table, 100)
    lines = text.splitlines()
    gan = next(i for i, line in enumerate(lines) if "│ gan" in line)
    assert "12.34*" in lines[gan] and "[11.02, 13.71]" in lines[gan + 1] and "[" not in lines[gan]
    assert "(1/" not in text


def test_the_leaderboard_at_80_columns_is_one_table_per_quantity():
    text = render(board(), 80)
    assert [t for t in ("Leaderboard: mi", "Leaderboard: entropy", "Leaderboard: kl") if t in text] == [
        "Leaderboard: mi",
        "Leaderboard: entropy",
        "Leaderboard: kl",
    ]
    assert "quantity" not in text.split("Leaderboard: mi")[1].splitlines()[2]  # the column is now the title


def test_too_many_columns_become_groups_with_the_labels_repeated():
    text = render(wide_metric_table(), 100)
    k = len(re.findall(r"Mean estimate \(nats\) \(\d/(\d)\)", text))
    assert k >= 2 and text.count("task-2") == 2 * k  # every group lists every row


def test_the_narrowest_layout_is_one_block_per_row():
    text = render(score_table(), 48)
    assert "generated · n" in text and "gan · 359" in text and "  coverage ↑" in text


def test_best_values_are_bold_green_in_a_terminal_and_starred_in_a_log():
    styled = render(score_table(), 240, styled=True)
    assert "\x1b[1;32m" in styled and "*" not in styled
    plain = render(score_table(), 240)
    assert not ESCAPE.search(plain) and "12.34* [11.02, 13.71]" in plain and "22.34*" not in plain


def test_the_note_is_printed_once_under_the_last_table():
    text = render(score_table(), 80)
    assert text.count("95% bootstrap") == 1 and text.rstrip().endswith("replicates.")


def test_files_are_untouched_by_the_terminal_folding():
    table = score_table()
    assert "| **12.34 [11.02, 13.71]** |" in to_markdown(table)
    assert "12.34 [11.02, 13.71]*" in to_csv(table)


def test_quality_tables_print_with_the_same_folding():
    tables = score_tables(quality_frame())
    assert isinstance(tables, Tables) and len(tables) == 2
    text = plain_text(tables, width=60)
    assert max(len(line) for line in text.splitlines()) <= 60 and not ESCAPE.search(text)
    for t in tables:
        for figure in figures(t):
            assert figure in text
