"""CLI: estimators, estimate, bench, report; user errors are one line, exit 2, no traceback."""

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

import infobench
from infobench.bench import load_results
from infobench.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(capsys, argv, match):
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    # One message (rich may wrap a long line on a narrow terminal, but it is one print).
    assert lines and lines[0].startswith("error:"), err
    assert match in " ".join(ln.strip() for ln in lines), err


# ------------------------------------------------------------------ estimators
def test_estimators_lists_methods_with_parameters(capsys):
    code, out, _ = run(capsys, "estimators", "--json")
    assert code == 0
    records = json.loads(out)
    by = {(r["quantity"], r["method"]): r for r in records}
    assert ("mi", "histogram") in by and ("entropy", "histogram") in by
    assert by[("mi", "histogram")]["estimates"] == "mutual information I(X;Y)"
    assert "std_err" in by[("mi", "histogram")]["params"]
    code, out, _ = run(capsys, "estimators", "--quantity", "entropy")
    assert code == 0 and "histogram" in out and "entropy H(X)" in out
    assert "method[param=v1,v2;other=value]" in "".join(out.split())


# -------------------------------------------------------------------- estimate
@pytest.fixture
def data(tmp_path, rng):
    n = 400
    a = rng.normal(size=n)
    b = 0.8 * a + 0.6 * rng.normal(size=n)
    c = rng.normal(size=n)
    k = rng.integers(0, 3, size=n)
    frame = pd.DataFrame({"a": a, "b": b, "c": c, "k": k})
    frame.to_csv(tmp_path / "d.csv", index=False)
    np.save(tmp_path / "d.npy", frame[["a", "b", "c"]].to_numpy())
    np.savez(tmp_path / "d.npz", a=a, bc=frame[["b", "c"]].to_numpy())
    return frame


def test_estimate_mi_from_csv_equals_the_library_call(capsys, tmp_path, data):
    code, out, _ = run(
        capsys,
        "estimate",
        str(tmp_path / "d.csv"),
        "--x",
        "a",
        "--y",
        "b,c",
        "--method",
        "gaussian[n_boot=20]",
        "--json",
    )
    assert code == 0
    r = json.loads(out)
    direct = infobench.mutual_information(data[["a"]], data[["b", "c"]], "gaussian", n_boot=20, seed=0, std_err=True)
    assert r["value"] == direct.value and r["std_err"] == direct.std_err
    assert (r["quantity"], r["estimator"], r["n"], r["dims"]) == ("mi", "gaussian[n_boot=20]", 400, [1, 2])
    assert r["bits"] == pytest.approx(direct.value / np.log(2))
    lo, hi = r["interval95"]
    assert lo < r["value"] < hi


def test_estimate_npy_indices_and_npz_arrays_give_the_same_numbers(capsys, tmp_path, data):
    outs = []
    for argv in (
        ("estimate", str(tmp_path / "d.npy"), "--x", "0", "--y", "1:3"),
        ("estimate", str(tmp_path / "d.npz"), "--x", "a", "--y", "bc"),
        ("estimate", str(tmp_path / "d.csv"), "--x", "0", "--y", "b,2"),
    ):
        code, out, _ = run(capsys, *argv, "--method", "gaussian", "--no-std-err", "--json")
        assert code == 0
        outs.append(json.loads(out)["value"])
    # Same data; the arrays' memory layouts differ, which may change the last bit of BLAS sums.
    assert outs[1] == pytest.approx(outs[0], rel=1e-12) and outs[2] == pytest.approx(outs[0], rel=1e-12)


def test_estimate_entropy_when_y_is_omitted_and_table_output(capsys, tmp_path, data):
    code, out, _ = run(
        capsys,
        "estimate",
        str(tmp_path / "d.csv"),
        "--x",
        "a",
        "--method",
        "histogram[bins=10]",
        "--no-std-err",
        "--json",
    )
    assert code == 0
    r = json.loads(out)
    direct = infobench.entropy(data[["a"]], "histogram", bins=10, seed=0, std_err=False)
    assert r["quantity"] == "entropy" and r["value"] == direct.value and r["std_err"] is None
    code, out, _ = run(
        capsys, "estimate", str(tmp_path / "d.csv"), "--x", "a", "--y", "k", "--method", "histogram[bins=7]"
    )
    assert code == 0 and "I(X;Y)" in out and "nats" in out and "histogram[bins=7]" in out


def test_estimate_parquet(capsys, tmp_path, data):
    pytest.importorskip("pyarrow")
    data.to_parquet(tmp_path / "d.parquet")
    code, out, _ = run(
        capsys,
        "estimate",
        str(tmp_path / "d.parquet"),
        "--x",
        "a",
        "--y",
        "b",
        "--method",
        "gaussian",
        "--no-std-err",
        "--json",
    )
    direct = infobench.mutual_information(data[["a"]], data[["b"]], "gaussian", seed=0)
    assert code == 0 and json.loads(out)["value"] == direct.value


@pytest.mark.parametrize(
    "argv, match",
    [
        (["missing.csv", "--x", "a"], "data file 'missing.csv' does not exist"),
        (["d.xlsx", "--x", "a"], "FILE must end in one of"),
        (["d.csv", "--x", "zz", "--y", "b"], "--x: no column 'zz'; columns are ['a', 'b', 'c', 'k']"),
        (["d.csv", "--x", "a", "--y", "9"], "--y: column '9' is out of range; the data has 4 columns"),
        (["d.csv", "--x", "a,", "--y", "b"], "--x must list columns separated by commas"),
        (["d.npz", "--x", "zz", "--y", "bc"], "--x: no array 'zz' in the .npz file; arrays are ['a', 'bc']"),
        (["d.npy", "--x", "a", "--y", "1"], "--x: 'a' is not a column index or START:STOP range"),
        (["d.csv", "--x", "a", "--y", "b", "--method", "nope"], "method must be one of"),
        (["d.csv", "--x", "a", "--y", "b", "--method", "ksg[k=3"], "malformed estimator spec 'ksg[k=3'"),
        (["d.csv", "--x", "a", "--y", "b", "--method", "gaussian[k=3]"], "unknown parameter 'k' for gaussian"),
        (["bad.npy", "--x", "0"], "cannot read"),
        (["empty.csv", "--x", "0"], "cannot read"),
    ],
)
def test_estimate_user_errors(capsys, tmp_path, data, monkeypatch, argv, match):
    (tmp_path / "d.xlsx").write_text("x")
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    (tmp_path / "empty.csv").write_text("")
    monkeypatch.chdir(tmp_path)
    if "--method" not in argv:
        argv = argv + ["--method", "gaussian"]
    assert_user_error(capsys, ["estimate"] + argv, match)


# ------------------------------------------------------------------ bench, report
TASK = "normal-dense-x1-y1-rho0.75"


@pytest.fixture
def tasks_available():
    return pytest.importorskip("infobench.tasks")


def test_bench_then_report_end_to_end(capsys, tmp_path, tasks_available):
    db = tmp_path / "runs" / "b.db"
    argv = [
        "bench",
        "--estimators",
        "gaussian,histogram[bins=8,16]",
        "--tasks",
        TASK,
        "--n",
        "200,400",
        "--seeds",
        "2",
        "--jobs",
        "0",
        "--db",
        str(db),
        "--no-progress",
    ]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    df = load_results(db, "latest")
    assert len(df) == 3 * 2 * 2 and df["ok"].all()
    assert set(df["estimator"]) == {"gaussian", "histogram[bins=8]", "histogram[bins=16]"}
    assert "12 cells, 12 computed now (0 failed), 0 already done" in " ".join(out.split())
    assert "histogram[bins=16]" in out  # the leaderboard keeps the spec's brackets
    # The same command again resumes: nothing left to compute.
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "12 cells, 0 computed now (0 failed), 12 already done" in " ".join(out.split())
    rep = tmp_path / "rep"
    code, out, err = run(capsys, "report", "--db", str(db), "--format", "md,csv,tex,html,png", "--out", str(rep))
    assert code == 0, err
    md = (rep / "report.md").read_text()
    assert (f"| {TASK} |" in md and "histogram\\[bins=16\\]" in md) or "histogram[bins=16]" in md
    assert (rep / "report.html").read_text().count("data:image/png;base64,") == 2
    summary = pd.read_csv(rep / "summary.csv")
    assert len(summary) == 3 * 2
    # One task: the leaderboard's rank test does not apply, and says so in the terminal and the data files.
    assert "significance test not applicable (1 complete block, needs at least 2)" in " ".join(out.split())
    ranking = pd.read_csv(rep / "ranking.csv")
    assert ranking[["blocks", "items", "applicable"]].values.tolist() == [[1, 3, False]]
    assert set(summary["n"]) == {200, 400}
    code, out, _ = run(capsys, "report", "--db", str(db), "--list-runs")
    assert code == 0 and df.attrs["run_id"] in out
    code, out, _ = run(
        capsys,
        "report",
        "--db",
        str(db),
        "--estimators",
        "gaussian",
        "--format",
        "csv",
        "--out",
        str(tmp_path / "only"),
        "--units",
        "bits",
    )
    assert code == 0 and set(pd.read_csv(tmp_path / "only" / "summary.csv")["estimator"]) == {"gaussian"}


def test_bench_progress_bar_reports_cells_and_failures(capsys, tmp_path, tasks_available):
    code, _out, err = run(
        capsys,
        "bench",
        "--estimators",
        "gaussian",
        "--tasks",
        TASK,
        "--n",
        "100",
        "--seeds",
        "2",
        "--jobs",
        "0",
        "--db",
        str(tmp_path / "p.db"),
    )
    assert code == 0
    assert "2/2" in err and "0 failed" in err and "cells" in err


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--estimators", "nope"], "unknown estimator 'nope'"),
        (["--estimators", "ksg[k=3"], "malformed estimator spec 'ksg[k=3'"),
        (["--estimators", "gaussian[k=3]"], "unknown parameter 'k' in estimator spec 'gaussian[k=3]'"),
        (["--estimators", "gaussian", "--suite", "no-such-suite"], "no-such-suite"),
        (["--estimators", "gaussian", "--tasks", "no-such-task"], "no-such-task"),
        (["--estimators", "gaussian", "--tasks", TASK, "--n", "10,x"], "--n must be integers separated by commas"),
        (
            ["--estimators", "gaussian", "--tasks", TASK, "--jobs", "0", "--time-limit", "5"],
            "time_limit needs worker processes",
        ),
        (["--estimators", "gaussian", "--tasks", TASK, "--seeds", "0"], "seeds must be an integer >= 1; got 0"),
        (["--estimators", "gaussian"], "give the tasks: --suite S or --tasks"),
    ],
)
def test_bench_user_errors(capsys, tmp_path, tasks_available, extra, match):
    argv = ["bench"] + extra + ["--db", str(tmp_path / "e.db"), "--no-progress"]
    if "--tasks" not in extra and "--suite" not in extra and "give the tasks" not in match:
        argv += ["--tasks", TASK]
    assert_user_error(capsys, argv, match)


def test_bench_refuses_a_corrupt_database(capsys, tmp_path, tasks_available):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 1000)
    assert_user_error(
        capsys,
        ["bench", "--estimators", "gaussian", "--tasks", TASK, "--jobs", "0", "--db", str(bad), "--no-progress"],
        "is not a readable infobench database",
    )


def test_report_user_errors(capsys, tmp_path):
    assert_user_error(capsys, ["report", "--db", str(tmp_path / "none.db")], "does not exist")
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 1000)
    assert_user_error(capsys, ["report", "--db", str(bad)], "is not a readable infobench database")
    foreign = tmp_path / "foreign.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    assert_user_error(capsys, ["report", "--db", str(foreign)], "not an infobench results database")
    from infobench.bench import ResultsStore

    ResultsStore(tmp_path / "fresh.db").close()
    assert_user_error(capsys, ["report", "--db", str(tmp_path / "fresh.db")], "holds no runs yet")
    assert_user_error(
        capsys, ["report", "--db", str(tmp_path / "fresh.db"), "--format", "pdf"], "report format must be one of"
    )
    assert_user_error(
        capsys,
        ["report", "--db", str(tmp_path / "fresh.db"), "--alpha", "1.5"],
        r"--alpha must be a finite number in (0.0, 1.0); got 1.5",
    )


def test_report_unknown_run_and_empty_selection(capsys, tmp_path, tasks_available):
    db = tmp_path / "r.db"
    assert (
        run(
            capsys,
            "bench",
            "--estimators",
            "gaussian",
            "--tasks",
            TASK,
            "--n",
            "100",
            "--seeds",
            "1",
            "--jobs",
            "0",
            "--db",
            str(db),
            "--no-progress",
        )[0]
        == 0
    )
    assert_user_error(capsys, ["report", "--db", str(db), "--run", "zzz"], "no run 'zzz'")
    assert_user_error(
        capsys,
        ["report", "--db", str(db), "--tasks", "other", "--out", str(tmp_path / "o")],
        "has no results matching the selection",
    )
    assert_user_error(
        capsys,
        ["report", "--db", str(db), "--rank-by", "speed", "--out", str(tmp_path / "o")],
        "rank_by must be one of",
    )
