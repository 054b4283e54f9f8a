"""The grid runner: numbers, failures, resume, local worker processes, time limits, SIGKILL."""

import inspect
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from infobench.bench import InProcessExecutor, LocalExecutor, ResultsStore, load_results, make_grid, run_grid
from infobench.bench.runner import execute
from test_bench_fakes import FakeTask, reference_gauss_mi

TESTS = Path(__file__).parent
MI = FakeTask(0.5)
MI2 = FakeTask(0.8)
H = FakeTask(kind="entropy", sigma=2.0)


def test_in_process_numbers_match_an_independent_computation(tmp_path):
    df = run_grid("bench-test-gauss,bench-test-gauss-h", [MI, H], n=[50, 200], seeds=2, jobs=0, db=tmp_path / "r.db")
    assert len(df) == 2 * 2 * 2 and df["ok"].all()
    grid = make_grid("bench-test-gauss,bench-test-gauss-h", [MI, H], n=[50, 200], seeds=2)
    cells = {c.key: c for c in grid.cells()}
    for row in df.itertuples():
        cell = cells[row.cell_key]
        assert row.data_seed == cell.data_seed and row.estimator_seed == cell.estimator_seed
        if row.quantity == "mi":
            assert row.estimate == reference_gauss_mi(MI, row.n, row.data_seed)
            assert row.truth == -0.5 * math.log(1 - 0.25)
        else:
            x = H.sample(row.n, row.data_seed)[:, 0]
            assert row.estimate == pytest.approx(math.log(x.std(ddof=1) * math.sqrt(2 * math.pi * math.e)), rel=1e-12)
            assert row.truth == math.log(2.0 * math.sqrt(2 * math.pi * math.e))
    # std_err is requested by default where the method offers it (coverage needs it).
    assert df["std_err"].notna().all()
    assert json.loads(df["resolved_params"].iloc[0])["std_err"] is True
    row = df.iloc[0]
    assert row["task_params"] == json.dumps({"rho": 0.5, "sigma": 1.0}, sort_keys=True)
    assert (row["family"], row["dim_x"], row["dim_y"], row["device"]) == ("normal", 1, 1, "cpu")
    import torch

    import infobench

    assert (row["infobench_version"], row["torch_version"], row["numpy_version"]) == (
        infobench.__version__,
        torch.__version__,
        np.__version__,
    )
    assert row["host"] and row["timestamp"] and row["run_id"] == df.attrs["run_id"]


def test_estimator_seed_reaches_the_estimator_and_spec_can_disable_std_err():
    df = run_grid("bench-test-gauss[jitter=0.5;std_err=false]", [MI], n=100, seeds=3, jobs=0)
    base = [reference_gauss_mi(MI, 100, s) for s in df["data_seed"]]
    noise = [float(np.random.default_rng(s).normal()) * 0.5 for s in df["estimator_seed"]]
    np.testing.assert_allclose(df["estimate"], np.add(base, noise), rtol=0, atol=1e-12)
    assert df["std_err"].isna().all()


def test_discrete_flags_of_the_task_are_passed_when_the_method_takes_them():
    task = FakeTask(0.3, discrete_x=True)
    df = run_grid("bench-test-gauss", [task], n=50, seeds=1, jobs=0)
    params = json.loads(df["resolved_params"].iloc[0])
    assert params["discrete_x"] is True and params["discrete_y"] is False
    # A spec that sets the flag itself wins over the task's declaration.
    df = run_grid("bench-test-gauss[discrete_x=false]", [task], n=50, seeds=1, jobs=0)
    assert json.loads(df["resolved_params"].iloc[0])["discrete_x"] is False


def test_failing_cells_are_recorded_and_the_grid_goes_on(tmp_path):
    df = run_grid("bench-test-gauss[fail=true],bench-test-gauss", [MI], n=50, seeds=2, jobs=0, db=tmp_path / "r.db")
    bad = df[~df["ok"]]
    assert len(bad) == 2 and len(df[df["ok"]]) == 2
    assert set(bad["error"]) == {"ValueError: bench-test-gauss was asked to fail"}
    assert bad["estimate"].isna().all() and "Traceback" in bad["traceback"].iloc[0]
    assert df.attrs["failed_now"] == 2


def test_rerun_skips_finished_cells_and_retry_failed_reruns_only_failures(tmp_path):
    db = tmp_path / "r.db"
    first = run_grid("bench-test-gauss[fail=true],bench-test-gauss", [MI], n=50, seeds=2, jobs=0, db=db)
    again = run_grid("bench-test-gauss[fail=true],bench-test-gauss", [MI], n=50, seeds=2, jobs=0, db=db)
    assert (again.attrs["ran"], again.attrs["skipped"]) == (0, 4)
    assert again.attrs["run_id"] == first.attrs["run_id"]
    retry = run_grid(
        "bench-test-gauss[fail=true],bench-test-gauss", [MI], n=50, seeds=2, jobs=0, db=db, retry_failed=True
    )
    assert (retry.attrs["ran"], retry.attrs["skipped"]) == (2, 2)
    assert len(load_results(db)) == 4


def test_a_named_run_can_be_extended_and_keeps_finished_cells(tmp_path):
    db = tmp_path / "r.db"
    small = run_grid("bench-test-gauss", [MI], n=50, seeds=2, jobs=0, db=db, run="study")
    big = run_grid("bench-test-gauss", [MI, MI2], n=[50, 80], seeds=3, jobs=0, db=db, run="study")
    assert (big.attrs["ran"], big.attrs["skipped"]) == (12 - 2, 2)
    merged = big.set_index("cell_key").loc[small["cell_key"], "timestamp"]
    assert list(merged) == list(small["timestamp"])
    with pytest.raises(ValueError, match="used base_seed=0; got base_seed=1"):
        run_grid("bench-test-gauss", [MI], n=50, seeds=2, jobs=0, db=db, run="study", base_seed=1)
    with pytest.raises(ValueError, match=r"run must be a name \(not 'latest'\)"):
        run_grid("bench-test-gauss", [MI], n=50, seeds=2, jobs=0, db=db, run="latest")


def test_executor_choice_is_validated():
    with pytest.raises(ValueError, match="time_limit needs worker processes"):
        run_grid("bench-test-gauss", [MI], n=50, seeds=1, jobs=0, time_limit=1)
    with pytest.raises(ValueError, match="choose one executor: jobs and scheduler"):
        run_grid("bench-test-gauss", [MI], n=50, seeds=1, jobs=2, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match=r"time_limit must be a finite number > 0; got -1"):
        run_grid("bench-test-gauss", [MI], n=50, seeds=1, jobs=1, time_limit=-1)
    with pytest.raises(ValueError, match=r"jobs must be an integer >= 0; got -2"):
        run_grid("bench-test-gauss", [MI], n=50, seeds=1, jobs=-2)


def test_run_grid_takes_make_grid_parameters_in_its_signature_and_docstring():
    grid_params = inspect.signature(make_grid).parameters
    params = inspect.signature(run_grid).parameters
    assert list(params)[: len(grid_params)] == list(grid_params)
    assert all(params[name] == p for name, p in grid_params.items())  # kinds and defaults too
    assert list(params)[len(grid_params) :] == [
        "db", "run", "jobs", "scheduler", "dask_workers", "time_limit", "retry_failed", "progress",
    ]  # fmt: skip
    doc = run_grid.__doc__
    for name in [*grid_params, "db", "progress"]:
        assert f"\n    {name} : " in doc
    assert doc.index("    base_seed : ") < doc.index("    db : ")
    with pytest.raises(TypeError, match=r"run_grid\(\) got an unexpected keyword argument 'suit'"):
        run_grid("bench-test-gauss", suit="smoke", jobs=0)
    with pytest.raises(ValueError, match=r"n must be an integer >= 2; got 1"):
        run_grid("bench-test-gauss", [MI], n=1, jobs=0)


def test_methods_and_tasks_from_main_are_refused_for_worker_processes(monkeypatch):
    from infobench.estimators import base

    info = base.get_method("mi", "bench-test-gauss")

    def fake(x, y, **params):
        return info.function(x, y, **params)

    fake.__module__ = "__main__"  # as if a user script had registered it
    monkeypatch.setitem(
        base._REGISTRY,
        ("mi", "bench-test-gauss"),
        info.__class__(info.name, info.quantity, fake, info.params, info.summary),
    )
    grid = make_grid("bench-test-gauss", [MI], n=50, seeds=1)
    with pytest.raises(ValueError, match="registered in __main__, which worker processes cannot import"):
        execute(grid, executor=LocalExecutor(1))
    # In-process it is fine.
    assert execute(grid, executor=InProcessExecutor())["ok"].all()


@pytest.mark.slow
def test_worker_processes_match_in_process_and_handle_timeouts_and_deaths(tmp_path):
    db = tmp_path / "w.db"
    with LocalExecutor(2, time_limit=3) as pool:
        grid = make_grid("bench-test-gauss[jitter=0.2]", [MI, MI2], n=[40, 90], seeds=2)
        df = execute(grid, db=db, executor=pool)
        ref = execute(grid, executor=InProcessExecutor())
        # The same pool goes on after a timeout and a dead worker (both are replaced).
        bad = execute(
            make_grid("bench-test-gauss[delay=60],bench-test-gauss[die=true]", [MI], n=40, seeds=1),
            db=db,
            executor=pool,
        ).set_index("estimator")
        again = execute(grid, db=db, executor=pool, retry_failed=True, run="again")
    assert df["ok"].all() and again["ok"].all()
    np.testing.assert_array_equal(df["estimate"].to_numpy(), ref["estimate"].to_numpy())
    np.testing.assert_array_equal(again["estimate"].to_numpy(), ref["estimate"].to_numpy())
    assert set(df["threads"]) == {max(1, len(os.sched_getaffinity(0)) // 2)}
    slow = bad.loc["bench-test-gauss[delay=60]"]
    assert not slow["ok"] and slow["seconds"] == 3.0
    assert slow["error"] == "TimeoutError: the cell exceeded the time limit of 3 s; its worker process was killed"
    dead = bad.loc["bench-test-gauss[die=true]"]
    assert not dead["ok"] and dead["error"].startswith(
        "WorkerDied: the worker process running this cell exited (code -9)"
    )


_CHILD = """
import sys
sys.path.insert(0, {tests!r})
from test_bench_fakes import FakeTask
from infobench.bench import run_grid
run_grid("bench-test-gauss[delay=0.1;jitter=0.3]", [FakeTask(0.5), FakeTask(0.8)], n=[30, 60], seeds=4,
         jobs=1, db={db!r})
"""


@pytest.mark.slow
def test_sigkill_mid_grid_loses_only_cells_in_flight_and_resume_matches_a_clean_run(tmp_path):
    db = tmp_path / "killed.db"
    total = 2 * 2 * 4
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(tests=str(TESTS), db=str(db))],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    done = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        try:
            con = sqlite3.connect(db)
            done = con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            con.close()
        except sqlite3.Error:
            done = 0  # the schema is not there yet
        if done >= 4:
            break
    assert proc.poll() is None, proc.communicate()[0].decode()[-2000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = load_results(db)
    assert 4 <= len(kept) < total and kept["ok"].all()
    args = ("bench-test-gauss[delay=0.1;jitter=0.3]", [FakeTask(0.5), FakeTask(0.8)])
    resumed = run_grid(*args, n=[30, 60], seeds=4, jobs=0, db=db)
    assert resumed.attrs["skipped"] == len(kept) and resumed.attrs["ran"] == total - len(kept)
    clean = run_grid(*args, n=[30, 60], seeds=4, jobs=0)
    assert list(resumed["cell_key"]) == list(clean["cell_key"])
    np.testing.assert_array_equal(resumed["estimate"].to_numpy(), clean["estimate"].to_numpy())
    # Finished cells were kept as they were, not recomputed.
    assert list(resumed.set_index("cell_key").loc[kept["cell_key"], "timestamp"]) == list(kept["timestamp"])


def test_real_tasks_and_estimators_when_available(tmp_path):
    tasks = pytest.importorskip("infobench.tasks")
    task = tasks.get_task("normal-dense-x1-y1-rho0.75")
    df = run_grid("gaussian,histogram", [task], n=[300], seeds=2, jobs=0, db=tmp_path / "r.db")
    assert df["ok"].all(), df["error"].tolist()
    import infobench

    for row in df.itertuples():
        x, y = task.sample(row.n, row.data_seed)
        params = {"seed": row.estimator_seed, "std_err": True}
        direct = infobench.mutual_information(x, y, row.method, **params)
        assert row.estimate == direct.value
        assert row.truth == task.truth


def test_store_object_can_be_passed_and_stays_open(tmp_path):
    store = ResultsStore(tmp_path / "s.db")
    run_grid("bench-test-gauss", [MI], n=50, seeds=1, jobs=0, db=store)
    assert len(store.load("latest")) == 1
    store.close()
