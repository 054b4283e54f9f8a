"""Files a user can lose or cannot read, through the command line.

Every command that writes a folder or a results file locks it (a second one is refused at once, naming
the path and the other pid); an output that is one of the inputs, a folder where a file is wanted, a
file where a folder is wanted or a path that cannot be written is refused before any work; every OS
error is one line naming the path with exit status 2; ``bench`` fails when every cell failed; and the
messages of a few common mistakes say what is wrong.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pandas as pd
import pytest

import infobench
from infobench import _lock
from infobench._lock import PathLockedError
from infobench.bench import load_results
from infobench.cli import main

TASK = "normal-dense-x1-y1-rho0.75"

# The other process runs infobench's lock module itself, loaded from its file (standard library only).
HOLD = textwrap.dedent(
    """
    import importlib.util, sys
    spec = importlib.util.spec_from_file_location("lock", sys.argv[1])
    lock = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lock)
    with lock.output_lock(sys.argv[2], kind=sys.argv[3]):
        print("locked", flush=True)
        sys.stdin.read()  # hold until the test closes stdin
    """
)


@pytest.fixture
def holder():
    """Hold the lock of a folder or file in another process until the test ends; returns its pid."""
    procs = []

    def hold(path, kind="folder"):
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, _lock.__file__, str(path), kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "locked"
        procs.append(proc)
        return proc.pid

    yield hold
    for proc in procs:
        proc.stdin.close()
        proc.wait(timeout=60)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(capsys, argv, *parts, code=2):
    got, out, err = run(capsys, *argv)
    assert got == code, (out, err)
    assert "Traceback" not in err + out
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error:"), err
    text = " ".join(ln.strip() for ln in lines)
    for part in parts:
        assert part in text, text
    return text


@pytest.fixture
def tasks_available():
    return pytest.importorskip("infobench.tasks")


# ------------------------------------------------------------------ one writer per output
def test_train_refuses_a_folder_another_training_run_holds(capsys, tmp_path, holder):
    out = tmp_path / "run"
    pid = holder(out)
    assert_one_line_error(
        capsys,
        ["train", "vae", "--out", out, "--epochs", "1", "--no-progress"],
        "the training folder",
        "in use by another infobench run",
        f"(pid {pid})",
    )
    assert not (out / "checkpoint.pt").exists()
    with pytest.raises(PathLockedError, match=rf"training folder .*run.* \(pid {pid}\)"):
        infobench.generators.train("vae", "digits", out=out, epochs=1, progress=False)


def test_two_training_runs_on_one_folder_one_is_refused(tmp_path):
    # The reported case: a vae and a gan started at once on one --out both exited 0 and one result was lost.
    out = tmp_path / "run"
    env_cmd = [sys.executable, "-m", "infobench", "train"]
    args = [
        "--out",
        str(out),
        "--epochs",
        "2",
        "--threads",
        "1",
        "--no-progress",
        "--no-figures",
        "--max-samples",
        "64",
    ]
    procs = [
        subprocess.Popen(env_cmd + [kind] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for kind in ("vae", "gan")
    ]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    # One trains; the other is refused at once (or, started after the first finished, is told the folder
    # already holds a run): never two exit 0.
    assert codes[0] == 0 and codes[1] == 2, results
    refused = next(err for code, err in results if code == 2)
    assert "in use by another infobench run" in refused or "already holds a training run" in refused
    kind = json.loads((out / "config.json").read_text())["kind"]
    saved = infobench.generators.load(out)
    assert saved.kind == kind


def test_bench_refuses_a_database_another_run_writes(capsys, tmp_path, holder, tasks_available):
    db = tmp_path / "r.db"
    pid = holder(db, "file")
    assert_one_line_error(
        capsys,
        [
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
            db,
            "--no-progress",
        ],
        "the results database",
        "in use by another infobench run",
        f"(pid {pid})",
    )
    assert not db.exists()


def test_score_sample_and_report_refuse_an_output_in_use(capsys, tmp_path, holder):
    table = tmp_path / "t.csv"
    pid = holder(table, "file")
    assert_one_line_error(
        capsys, ["score", "--real", "digits", "--fake", "held-out", "--out", table], "the output file", f"(pid {pid})"
    )
    images = tmp_path / "s.npz"
    pid = holder(images, "file")
    assert_one_line_error(
        capsys, ["sample", tmp_path / "no-such-checkpoint.pt", "-o", images], "the output file", f"(pid {pid})"
    )


def test_report_refuses_a_folder_another_report_writes(capsys, tmp_path, holder, tasks_available):
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
            db,
            "--no-progress",
        )[0]
        == 0
    )
    assert not (tmp_path / ".r.db.lock").exists()  # released when bench finished
    pid = holder(tmp_path / "rep")
    assert_one_line_error(
        capsys, ["report", "--db", db, "--format", "md", "--out", tmp_path / "rep"], "the report folder", f"(pid {pid})"
    )
    assert not (tmp_path / "rep" / "report.md").exists()


# ------------------------------------------------------------------ refused before any work
def test_score_refuses_an_output_that_is_one_of_its_inputs(capsys, tmp_path):
    samples = tmp_path / "samples.npy"
    data = np.random.default_rng(0).random((20, 1, 8, 8)).astype(np.float32)
    np.save(samples, data)
    for spec in (samples, f"npy:{samples}"):
        assert_one_line_error(
            capsys,
            ["score", "--real", "digits", "--fake", spec, "--scores", "fid", "--out", samples],
            f"--out {str(samples)!r} is also the input --fake",
            "would destroy that input",
        )
    np.testing.assert_array_equal(np.load(samples), data)  # untouched


def test_score_refuses_a_folder_as_out_before_scoring(capsys, tmp_path, monkeypatch):
    import infobench.commands.score as score_command

    def never(*args, **kwargs):
        raise AssertionError("scored before refusing --out")

    monkeypatch.setattr(score_command, "score", never)
    assert_one_line_error(
        capsys,
        ["score", "--real", "digits", "--fake", "held-out", "--out", tmp_path],
        f"--out must name a file; {str(tmp_path)!r} is a folder",
    )
    assert_one_line_error(
        capsys,
        ["score", "--real", "digits", "--fake", "held-out", "--out", "/dev/null"],
        "--out must name a regular file; '/dev/null' is a character device",
    )
    assert_one_line_error(capsys, ["validity", "--out", tmp_path], f"--out must name a file; {str(tmp_path)!r}")


def test_score_out_is_written_atomically(tmp_path):
    from infobench.commands.score import emit

    path = tmp_path / "t.csv"
    emit("a,b\n1,2\n", str(path))
    emit("a,b\n3,4\n", str(path))
    assert path.read_text() == "a,b\n3,4\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]  # no temporary or lock file left


def _writable(folder: str) -> bool:
    try:
        fd, probe = tempfile.mkstemp(dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


@pytest.mark.parametrize(
    "argv, parts",
    [
        (["run", "--quick", "--out", "afile", "--no-progress"], ["--out must name a folder; 'afile' is a file"]),
        (
            ["run", "--quick", "--out", ".", "--state", "afile", "--no-progress"],
            ["--state must name a folder; 'afile' is a file"],
        ),
        (
            ["run", "--quick", "--out", "/dev/null", "--no-progress"],
            ["--out must name a folder; '/dev/null' is a character device"],
        ),
        (
            ["bench", "--estimators", "gaussian", "--tasks", TASK, "--jobs", "0", "--db", "afile/x.db"],
            ["--db 'afile/x.db' cannot be created: 'afile' is a file, not a folder"],
        ),
        (
            ["bench", "--estimators", "gaussian", "--tasks", TASK, "--jobs", "0", "--db", "adir"],
            ["--db must name a file; 'adir' is a folder"],
        ),
        (["sample", "ck.pt", "-o", "afile/x.npz"], ["-o/--out 'afile/x.npz' cannot be created: 'afile' is a file"]),
        (["train", "vae", "--out", "afile/run"], ["--out 'afile/run' cannot be created: 'afile' is a file"]),
        (
            ["score", "--real", "digits", "--fake", "held-out", "--out", "/sys/t.csv"],
            ["--out '/sys/t.csv' is not writable: cannot create files in '/sys'"],
        ),
    ],
)
def test_unusable_paths_are_one_line_errors(capsys, tmp_path, monkeypatch, argv, parts):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("hi")
    (tmp_path / "adir").mkdir()
    if "/sys/t.csv" in argv and _writable("/sys"):  # pragma: no cover - a writable /sys: nothing to test
        pytest.skip("/sys is writable here")
    assert_one_line_error(capsys, argv, *parts)
    assert (tmp_path / "afile").read_text() == "hi"


def test_os_errors_anywhere_are_one_line_naming_the_path(capsys, monkeypatch):
    import infobench.commands.tasks as tasks_command

    def fail(args):
        raise FileExistsError(17, "File exists", "some/where")

    monkeypatch.setattr(tasks_command, "run", fail)
    assert_one_line_error(capsys, ["tasks"], "error: 'some/where': file exists")


# ------------------------------------------------------------------ bench: every cell failed
def test_bench_fails_when_every_cell_failed_and_ranks_nothing(capsys, tmp_path, tasks_available):
    argv = [
        "bench",
        "--estimators",
        "ksg[k=0]",
        "--tasks",
        TASK,
        "--n",
        "200",
        "--seeds",
        "2",
        "--jobs",
        "0",
        "--db",
        tmp_path / "z.db",
        "--no-progress",
    ]
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert "every one of the 2 cells of run" in " ".join(err.split()) and "failed" in err
    assert "Leaderboard" not in out
    # One working estimator beside it: the run succeeds and the failing one is listed unranked, last.
    code, out, err = run(capsys, *argv[:2], "ksg[k=0],gaussian", *argv[3:])
    assert code == 0, err
    rows = [ln for ln in out.splitlines() if "│" in ln and ("ksg[k=0]" in ln or "gaussian" in ln)]
    assert "gaussian" in rows[0] and "ksg[k=0]" in rows[-1] and "n/a" in rows[-1]


# ------------------------------------------------------------------ messages that say what is wrong
def test_estimate_of_a_csv_with_a_header_and_no_rows(capsys, tmp_path):
    (tmp_path / "empty.csv").write_text("a,b\n")
    assert_one_line_error(
        capsys, ["estimate", tmp_path / "empty.csv", "--x", "a", "--y", "b"], "has no rows (only a header of 2 columns)"
    )


def test_report_names_the_database_and_run_of_a_damaged_grid(capsys, tmp_path, tasks_available):
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
            db,
            "--no-progress",
            "--run",
            "myrun",
        )[0]
        == 0
    )
    con = sqlite3.connect(db)
    con.execute("UPDATE runs SET grid='{bad'")
    con.commit()
    con.close()
    assert_one_line_error(
        capsys,
        ["report", "--db", db, "--format", "md", "--out", tmp_path / "rep"],
        f"results database {str(db)!r} is damaged: the grid of run 'myrun'",
        "not valid JSON",
    )


def test_estimate_takes_a_seed_in_the_spec_and_a_grid_refuses_it(capsys, tmp_path, rng):
    x = rng.normal(size=(300, 2))
    np.save(tmp_path / "g.npy", x)
    code, out, err = run(
        capsys, "estimate", tmp_path / "g.npy", "--x", "0", "--y", "1", "--method", "ksg[seed=5]", "--json"
    )
    assert code == 0, err
    record = json.loads(out)
    want = infobench.mutual_information(x[:, :1], x[:, 1:], "ksg", seed=5, std_err=True)
    assert record["value"] == want.value and record["params"]["seed"] == 5
    with pytest.raises(ValueError, match="parameter 'seed' is set per cell by the grid"):
        infobench.bench.parse_specs("ksg[seed=5]")


def test_report_csv_says_its_unit_and_honours_units(capsys, tmp_path, tasks_available):
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
            "2",
            "--jobs",
            "0",
            "--db",
            db,
            "--no-progress",
        )[0]
        == 0
    )
    records = load_results(db, "latest")
    for units, scale in (("bits", math.log(2.0)), ("nats", 1.0)):
        rep = tmp_path / units
        code, _, err = run(capsys, "report", "--db", db, "--format", "csv", "--units", units, "--out", rep)
        assert code == 0, err
        summary = pd.read_csv(rep / "summary.csv")
        assert {f"truth_{units}", f"mean_estimate_{units}", f"rmse_{units}"} <= set(summary.columns)
        assert "mean_estimate" not in summary.columns
        assert summary[f"mean_estimate_{units}"].iloc[0] == pytest.approx(records["estimate"].mean() / scale, rel=1e-12)
        results = pd.read_csv(rep / "results.csv")
        assert results[f"estimate_{units}"].tolist() == pytest.approx((records["estimate"] / scale).tolist(), rel=1e-12)
        calib = pd.read_csv(rep / "calibration.csv")
        assert f"seed_sd_{units}" in calib.columns and "ratio" in calib.columns
