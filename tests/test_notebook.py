"""infobench in Jupyter: rich displays of results, and ``docs/examples/notebook.ipynb`` run in a real kernel."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from IPython.lib.pretty import pretty
from nbclient import NotebookClient

import infobench
from infobench import Diagnostic, Estimate
from infobench.report.render import Table, Tables

ROOT = Path(infobench.__file__).resolve().parents[1]  # the checkout whose code is under test
NOTEBOOK = ROOT / "docs" / "examples" / "notebook.ipynb"
ESCAPE = re.compile(r"\x1b|\r")
INTERVAL = re.compile(r"\[-?[\d.e+-]+, -?[\d.e+-]+\]")


def readme_example() -> str:
    """The Python block under the README's "In ten lines" heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"^##[^\n]*ten lines[^\n]*\n.*?```python\n(.*?)```", text, re.S | re.I | re.M)
    assert m, "README.md has no '## In ten lines' section with a python block"
    return m.group(1).rstrip("\n")


def code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


# ------------------------------------------------------------------ displays
def test_an_estimate_shows_its_interval_and_diagnostics_as_html():
    est = Estimate(
        0.4121,
        0.0138,
        10_000,
        "ksg",
        {"k": 3},
        0.5,
        {},
        diagnostics=(
            Diagnostic("ties", "x[0] has 40% tied values <3>", subject="x[0]"),
            Diagnostic("chosen", "picked ksg", severity="info"),
        ),
    )
    page = est._repr_html_()
    assert "0.4121 nats" in page and "0.0138 nats" in page and "95% interval" in page
    low, high = est.interval(0.95)  # 0.4121 ± 1.96 * 0.0138
    assert f"[{low:.6g}, {high:.6g}] nats" in page and abs(low - 0.38505) < 1e-5
    assert "doubtful" in page and "<strong>warning</strong> [ties] (x[0]) x[0] has 40% tied values &lt;3&gt;" in page
    assert "<strong>info</strong> [chosen]" in page and "k=3" in page
    clean = Estimate(1.0, None, 10, "gaussian")._repr_html_()
    assert "diagnostics</th><td" in clean and ">none<" in clean and "interval" not in clean


def test_tables_show_as_html_with_best_values_marked_and_as_plain_text():
    t = Table(
        "Scores",
        ["generated", "FID ↓"],
        [["gan", "1.5 [1.2, 1.8]"], ["vae", "2.5 [2.1, 2.9]"]],
        [[False, True], [False, False]],
        labels=1,
        note="↓ lower is better",
    )
    page = t._repr_html_()
    assert '<td class="num best"><strong>1.5 [1.2, 1.8]</strong></td>' in page and "FID ↓" in page
    assert "<style>" in page and all(
        rule.startswith(".infobench ")
        for rule in re.findall(r"(?:^|})([^{}]+)\{", page.split("<style>")[1].split("</style>")[0])
    )
    both = Tables([t, t])._repr_html_()
    assert both.count('<table class="ib">') == 2
    text = pretty(Tables([t]))
    assert "1.5* [1.2, 1.8]" in text and "↓ lower is better" in text and not ESCAPE.search(text)


def test_the_notebook_runs_the_readme_example():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert readme_example() in [c.source for c in code_cells(nb)], (
        "docs/examples/notebook.ipynb must run the README's 'In ten lines' example as it is; copy it there"
    )
    assert all(not c.get("outputs") for c in code_cells(nb)), "commit the notebook without outputs"


# ------------------------------------------------------------------ a real kernel
@pytest.mark.slow
def test_the_notebook_runs_in_a_jupyter_kernel(tmp_path, monkeypatch):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # The kernel imports this checkout and writes its caches under tmp_path.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    monkeypatch.setenv("INFOBENCH_CACHE", str(tmp_path / "cache"))
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

    cells = code_cells(nb)
    for cell in cells:
        for out in cell.outputs:
            assert out.output_type != "error", out
            texts = [out.text] if out.output_type == "stream" else [out.get("data", {}).get("text/plain", "")]
            for text in texts:
                assert not ESCAPE.search(text), f"escape codes in a text output: {text[:300]!r}"

    def html(cell) -> str:
        return "\n".join(o.data["text/html"] for o in cell.outputs if "text/html" in o.get("data", {}))

    def plain(cell) -> list[str]:
        return [o.data["text/plain"] for o in cell.outputs if o.output_type == "display_data"]

    readme, estimate, quality, bench = cells
    assert "0.41333928" in readme.outputs[0].text  # the task's exact MI printed beside the estimate
    page = html(estimate)
    assert "infobench-estimate" in page and "95% interval" in page and "nats" in page and "diagnostics" in page

    page = html(quality)
    assert page.count('<table class="ib">') == 2  # information-theoretic and standard scores
    assert "FID ↓" in page and "Vendi ↑" in page and "real-test (ceiling)" in page
    assert page.count('class="num best"') == 2 and "<strong>" in page  # one best set per score
    assert len(INTERVAL.findall(page)) == 2 * 3  # each score of each set has its bootstrap interval
    assert all(re.fullmatch(r"bootstrap [\w. -]+: 40/40 replicates, done in [\d.:]+( s)?", p) for p in plain(quality))

    page = html(bench)
    assert "<h3>Leaderboard</h3>" in page and "mean rank" in page and 'class="num best"' in page
    for name in ("ksg[k=3]", "gaussian", "kde"):
        assert f'<td class="label">{name}</td>' in page
    # Progress is one output line updated in place: its final text, no bar drawing.
    assert any(re.fullmatch(r"grid-\w+: 12/12 cells, done in [\d.:]+( s)?, 0 failed", p) for p in plain(bench))
