"""The Dask executor on a LocalCluster over loopback: same numbers as the local executor."""

import os

import dask
import numpy as np
import pytest

from infobench.bench import DaskExecutor, LocalExecutor, make_grid, run_grid
from infobench.bench.runner import execute
from test_bench_fakes import FakeTask

distributed = pytest.importorskip(
    "distributed", reason="dask[distributed] is not installed (pip install 'infobench[dask]')"
)

MI = FakeTask(0.5)
MI2 = FakeTask(0.8)


@pytest.mark.slow
def test_existing_cluster_gives_the_local_executors_numbers_and_enforces_time_limits(tmp_path):
    grid = make_grid("bench-test-gauss[jitter=0.2],bench-test-gauss[fail=true]", [MI, MI2], n=[40, 90], seeds=2)
    slow = make_grid("bench-test-gauss[delay=60]", [MI], n=40, seeds=1)
    # Both executors run cells with one torch thread, so even parallel sums agree bit for bit.
    with LocalExecutor(2, threads=1) as pool:
        local = execute(grid, executor=pool)
    # Workers that may start processes, as time limits need (DASK_DISTRIBUTED__WORKER__DAEMON=False).
    with dask.config.set({"distributed.worker.daemon": False}):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None, silence_logs=40
        )
    with cluster:
        # What --scheduler ADDR does.
        with DaskExecutor(cluster.scheduler_address, threads=1) as executor:
            remote = execute(grid, db=tmp_path / "d.db", executor=executor)
        with DaskExecutor(cluster.scheduler_address, threads=1, time_limit=3) as executor:
            timed_out = execute(slow, db=tmp_path / "d.db", executor=executor)
    assert list(remote["cell_key"]) == list(local["cell_key"])
    for col in ("estimate", "std_err", "data_seed", "estimator_seed"):
        np.testing.assert_array_equal(remote[col].to_numpy(), local[col].to_numpy())
    assert list(remote["ok"]) == list(local["ok"])
    assert list(remote["error"].fillna("")) == list(local["error"].fillna(""))
    assert set(remote["threads"]) == {1}
    assert timed_out["error"].iloc[0] == (
        "TimeoutError: the cell exceeded the time limit of 3 s; its worker process was killed"
    )


@pytest.mark.slow
def test_local_cluster_started_by_the_runner():
    # --dask-workers N: a cluster started (and closed) by the runner.
    df = run_grid("bench-test-gauss[jitter=0.2]", [MI], n=[40, 60], seeds=2, dask_workers=1)
    ref = run_grid("bench-test-gauss[jitter=0.2]", [MI], n=[40, 60], seeds=2, jobs=0)
    np.testing.assert_array_equal(df["estimate"].to_numpy(), ref["estimate"].to_numpy())
    assert set(df["threads"]) == {len(os.sched_getaffinity(0))}


class _Client:
    def __init__(self, daemonic):
        self.daemonic = daemonic

    def run(self, func):
        return {"tcp://127.0.0.1:1": self.daemonic, "tcp://127.0.0.1:2": False}

    def close(self):
        pass


def test_time_limits_refuse_daemonic_workers():
    ex = DaskExecutor("tcp://127.0.0.1:1", time_limit=5)
    ex._check_workers(_Client(False))
    with pytest.raises(ValueError, match=r"time_limit on Dask needs workers that may start processes; 1 worker\(s\)"):
        ex._check_workers(_Client(True))


def test_dask_executor_arguments_are_validated():
    with pytest.raises(ValueError, match="exactly one of scheduler"):
        DaskExecutor()
    with pytest.raises(ValueError, match="exactly one of scheduler"):
        DaskExecutor("tcp://127.0.0.1:1", 2)
    with pytest.raises(ValueError, match=r"dask_workers must be an integer >= 1; got 0"):
        DaskExecutor(n_workers=0)
    with pytest.raises(ValueError, match="scheduler must be an address"):
        DaskExecutor(" ")


def test_unreachable_scheduler_is_a_clear_error():
    grid = make_grid("bench-test-gauss", [MI], n=40, seeds=1)
    with pytest.raises(ValueError, match=r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        execute(grid, executor=DaskExecutor("tcp://127.0.0.1:9", connect_timeout=1))
