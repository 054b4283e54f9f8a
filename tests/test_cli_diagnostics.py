"""Diagnostics travel with the number: ``estimate`` prints them, ``bench`` stores them with each cell and
counts the doubtful ones, and every report table that shows such a number flags it, in every format.

The estimators that fill ``Estimate.diagnostics`` live elsewhere; the plumbing is tested with a kernel
registered here, whose ``doubt`` parameter decides whether its number carries a warning diagnostic (it
always carries an info-severity note, which must never be flagged).
"""

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from infobench import Diagnostic, Estimate
from infobench.bench import load_results
from infobench.bench.store import ResultsStore, decode_diagnostics, encode_diagnostics
from infobench.cli import main
from infobench.estimators import base
from infobench.estimators.base import register
from infobench.report import summarize
from infobench.report.listings import diagnostic_lines

TASK = "normal-dense-x1-y1-rho0.75"
DOUBT = Diagnostic("test-doubt", "a doubt raised by the test kernel", subject="x[0]")
NOTE = Diagnostic("test-note", "an info note of the test kernel", severity="info")


@pytest.fixture
def doubt_kernel():
    pytest.importorskip("infobench.tasks")

    @register("mi", "_doubt_mi_test", replace=True)
    def _doubt_mi(x, y, *, doubt: bool = True, std_err: bool = False):
        """Test kernel: 0.4 nats, with a warning diagnostic when ``doubt``."""
        n = len(np.asarray(x))
        return Estimate(0.4, std_err=0.05 if std_err else None, n=n, diagnostics=(DOUBT, NOTE) if doubt else (NOTE,))

    yield "_doubt_mi_test"
    base._REGISTRY.pop(("mi", "_doubt_mi_test"), None)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def csv_file(tmp_path, rng):
    a = rng.normal(size=200)
    pd.DataFrame({"a": a, "b": a + rng.normal(size=200)}).to_csv(tmp_path / "d.csv", index=False)
    return tmp_path / "d.csv"


def test_estimate_prints_each_diagnostic_in_the_table_and_the_json(capsys, csv_file, doubt_kernel):
    code, out, err = run(capsys, "estimate", csv_file, "--x", "a", "--y", "b", "--method", doubt_kernel)
    assert code == 0, err
    text = " ".join(out.split())
    assert "warning [test-doubt] (x[0]) a doubt raised by the test kernel" in text
    assert "info [test-note] an info note of the test kernel" in text
    assert "DiagnosticWarning" not in err  # printed once, in the table, not as a Python warning
    code, out, err = run(capsys, "estimate", csv_file, "--x", "a", "--y", "b", "--method", doubt_kernel, "--json")
    assert code == 0, err
    record = json.loads(out)
    assert record["diagnostics"] == [DOUBT.to_dict(), NOTE.to_dict()]
    code, out, _ = run(
        capsys, "estimate", csv_file, "--x", "a", "--y", "b", "--method", f"{doubt_kernel}[doubt=false]", "--json"
    )
    assert code == 0 and json.loads(out)["diagnostics"] == [NOTE.to_dict()]


def test_diagnostic_lines_are_one_text_per_diagnostic():
    lines = diagnostic_lines([DOUBT, NOTE.to_dict()], where="fid")
    assert [line.plain for line in lines] == [
        "fid: warning [test-doubt] (x[0]) a doubt raised by the test kernel",
        "fid: info [test-note] an info note of the test kernel",
    ]
    assert lines[0].style == "yellow" and diagnostic_lines(None) == []


def test_store_round_trips_diagnostics_and_refuses_damaged_text():
    assert decode_diagnostics(encode_diagnostics([DOUBT, NOTE])) == (DOUBT, NOTE)
    assert encode_diagnostics(None) == "[]" and decode_diagnostics(None) == () and decode_diagnostics(np.nan) == ()
    with pytest.raises(ValueError, match="diagnostics are not a JSON list of diagnostics"):
        decode_diagnostics('{"code": "x"}')
    with pytest.raises(ValueError, match="diagnostics are not a JSON list of diagnostics"):
        decode_diagnostics("[{bad")


@pytest.fixture
def doubt_run(capsys, tmp_path, doubt_kernel):
    """A benchmark of the test kernel with and without its doubt: 2 specs x 2 seeds, half of them doubtful."""
    db = tmp_path / "d.db"
    code, out, err = run(
        capsys,
        "bench",
        "--estimators",
        f"{doubt_kernel}[doubt=true,false]",
        "--tasks",
        TASK,
        "--n",
        "200",
        "--seeds",
        "2",
        "--jobs",
        "0",
        "--db",
        db,
        "--no-progress",
    )
    assert code == 0, err
    return db, out, err


def test_bench_stores_each_cells_diagnostics_and_counts_the_doubtful(doubt_run):
    db, out, err = doubt_run
    text = " ".join(out.split())
    assert "2 of 4 cells are doubtful (a warning diagnostic): test-doubt(x[0]) x2" in text
    assert "DiagnosticWarning" not in err
    df = load_results(db, "latest")
    found = {e: [decode_diagnostics(t) for t in g["diagnostics"]] for e, g in df.groupby("estimator")}
    assert found["_doubt_mi_test[doubt=true]"] == [(DOUBT, NOTE)] * 2
    assert found["_doubt_mi_test[doubt=false]"] == [(NOTE,)] * 2
    s = summarize(df).set_index("estimator")
    assert s.loc["_doubt_mi_test[doubt=true]", "doubtful"] == 2
    assert s.loc["_doubt_mi_test[doubt=true]", "diagnostics"] == "test-doubt(x[0])"
    assert s.loc["_doubt_mi_test[doubt=false]", "doubtful"] == 0
    assert s.loc["_doubt_mi_test[doubt=false]", "diagnostics"] == ""  # an info note is no doubt


def test_every_report_format_flags_the_doubtful_numbers(capsys, tmp_path, doubt_run):
    db, out, _ = doubt_run
    # The leaderboard printed by bench (rich) counts them.
    assert "Doubtful †: cells at the largest n whose estimate carries a warning diagnostic" in " ".join(out.split())
    rep = tmp_path / "rep"
    code, _, err = run(capsys, "report", "--db", db, "--format", "md,csv,tex,html", "--out", rep)
    assert code == 0, err
    md = (rep / "report.md").read_text(encoding="utf-8")
    # Every metric table: the doubtful estimator's number carries the marker, the other's does not.
    lines = md.splitlines()
    for title in ("mean estimate ± std (nats)", "bias (nats)", "RMSE (nats)", "coverage of 95% intervals"):
        row = next(line for line in lines[lines.index(f"### {title}") :] if line.startswith(f"| {TASK} | 200 |"))
        doubtful, clean = [c.strip().strip("*") for c in row.strip("|").split("|")][-2:]
        assert doubtful.endswith(" †") and "†" not in clean, (title, row)
    assert "test-doubt(x[0])" in md and "Diagnostics: numbers in doubt" in md
    assert "test-note" not in md
    tex = (rep / "report.tex").read_text(encoding="utf-8")
    assert r"\dag{}" in tex and "†" not in tex
    html = (rep / "report.html").read_text(encoding="utf-8")
    assert "†" in html and "test-doubt(x[0])" in html
    summary = pd.read_csv(rep / "summary.csv").set_index("estimator")
    assert summary.loc["_doubt_mi_test[doubt=true]", "doubtful"] == 2
    assert summary.loc["_doubt_mi_test[doubt=true]", "diagnostics"] == "test-doubt(x[0])"
    board = pd.read_csv(rep / "leaderboard.csv").set_index("estimator")
    assert board["doubtful"].to_dict() == {"_doubt_mi_test[doubt=true]": 2, "_doubt_mi_test[doubt=false]": 0}


def test_rich_tables_flag_the_doubtful_numbers(doubt_run):
    from infobench.report import report_tables, to_rich

    db, _, _ = doubt_run
    tables = report_tables(summarize(load_results(db, "latest")))
    console = Console(record=True, width=250)
    for t in tables:
        console.print(to_rich(t))
    text = console.export_text()
    assert "†" in text and "Diagnostics: numbers in doubt" in text and "test-doubt(x[0])" in text


def _downgrade_to_schema_1(db):
    """What a database written before diagnostics (and degrees of freedom) were stored looks like."""
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE results DROP COLUMN diagnostics")
    con.execute("ALTER TABLE results DROP COLUMN std_err_df")
    con.execute("UPDATE meta SET value='1' WHERE key='schema'")
    con.commit()
    con.close()


def _schema(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0]
    finally:
        con.close()


def test_an_old_database_still_opens_reports_and_resumes(capsys, tmp_path):
    pytest.importorskip("infobench.tasks")
    db = tmp_path / "old.db"
    argv = [
        "bench",
        "--estimators",
        "gaussian",
        "--tasks",
        TASK,
        "--n",
        "200",
        "--jobs",
        "0",
        "--db",
        db,
        "--no-progress",
        "--run",
        "r",
    ]
    assert run(capsys, *argv, "--seeds", "1")[0] == 0
    _downgrade_to_schema_1(db)
    # A reader reads it as it is, without rewriting it: its cells have no diagnostics.
    old = load_results(db, "r")
    assert len(old) == 1 and old["diagnostics"].isna().all() and _schema(db) == "1"
    code, _, err = run(capsys, "report", "--db", db, "--format", "md", "--out", tmp_path / "rep")
    assert code == 0, err
    with ResultsStore(db, create=False) as store, pytest.raises(ValueError, match="opened for reading"):
        store.add({"run_id": "r", "cell_key": "k", "estimator": "e", "n": 1, "seed": 0, "ok": True})
    # The runner migrates it and resumes: the finished cell is kept, the new one has its diagnostics.
    code, out, err = run(capsys, *argv, "--seeds", "2")
    assert code == 0, err
    assert "2 cells, 1 computed now (0 failed), 1 already done" in " ".join(out.split())
    assert _schema(db) == "3"
    df = load_results(db, "r")
    assert df["diagnostics"].isna().sum() == 1 and (df["diagnostics"] == "[]").sum() == 1
    # The gaussian bootstrap's degrees of freedom (n_boot - 1 = 99) are stored from schema 3 on.
    assert df["std_err_df"].isna().sum() == 1 and (df["std_err_df"] == 99).sum() == 1


def test_a_database_of_an_unknown_schema_is_refused(tmp_path):
    db = tmp_path / "future.db"
    ResultsStore(db).close()
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value='99' WHERE key='schema'")
    con.commit()
    con.close()
    with pytest.raises(ValueError, match=r"has schema '99'; this infobench reads schemas \['1', '2', '3'\]"):
        ResultsStore(db)
