"""Speed of the grid runner: its overhead per cell, side by side with a plain loop doing the same estimates.

Target: 1,000 tiny cells (n = 100, histogram) finish in under 30 s on
2 cores, worker start-up and one committed SQLite record per cell included.

    pytest benchmarks/bench_runner.py --benchmark-columns=min,median,rounds   # full size
    pytest benchmarks/bench_runner.py --benchmark-disable                     # smoke run, 20 cells

The three timings:

* ``plain_loop``: sample and estimate every cell in one process, no bookkeeping
  (the reference: the estimator's own cost);
* ``runner_in_process``: ``run_grid(jobs=0)``: seeds, records, one SQLite commit per cell;
* ``runner_2_workers``: ``run_grid(jobs=2)``: the same through two worker
  processes (start-up, pickling, pipes), what ``infobench bench --jobs 2`` does.

End to end (not timed here; the lead runs it on a quiet machine; target < 10 min
on 2 cores, report under reports/)::

    infobench bench --estimators ksg,kde,histogram,gaussian --suite mi-standard \\
        --n 1000,5000 --seeds 3 --jobs 2 --db runs/example.db --run example
    infobench report --db runs/example.db --run example --format md,html,png --out reports/example
"""

import itertools

import pytest

from benchmarks.conftest import pick

tasks_mod = pytest.importorskip("infobench.tasks")

import infobench  # noqa: E402
from infobench.bench import make_grid, run_grid  # noqa: E402

TASKS = (
    "normal-dense-x1-y1-rho0.5",
    "normal-dense-x1-y1-rho0.75",
    "normal-dense-x2-y2-rho0.5",
    "uniform-noise-d1-eps0.3",
    "independent-normal-x2-y2",
)
_counter = itertools.count()


def _grid_args(full_size):
    cells = pick(full_size, 1000, 20)
    tasks = [tasks_mod.get_task(t) for t in TASKS]
    return dict(estimators="histogram", tasks=tasks, n=100, seeds=cells // len(tasks))


def _run(tmp_path_factory, jobs, args):
    # A fresh database every round: resuming would skip every cell.
    db = tmp_path_factory.mktemp("bench") / f"r{next(_counter)}.db"
    return run_grid(db=db, jobs=jobs, **args)


@pytest.mark.parametrize("jobs", [0, 2], ids=["runner_in_process", "runner_2_workers"])
def test_runner(benchmark, full_size, tmp_path_factory, jobs):
    args = _grid_args(full_size)
    df = benchmark.pedantic(_run, args=(tmp_path_factory, jobs, args), rounds=pick(full_size, 2, 1), iterations=1)
    assert len(df) == len(args["tasks"]) * args["seeds"] and df["ok"].all()
    benchmark.extra_info["cells"] = len(df)
    benchmark.extra_info["estimator_seconds"] = float(df["seconds"].sum())


def test_plain_loop(benchmark, full_size):
    args = _grid_args(full_size)
    cells = make_grid(**args).cells()
    for t in args["tasks"]:
        _ = t.truth  # cached, as the runner computes it once per task before the cells

    def loop():
        out = []
        for c in cells:
            x, y = c.task.sample(c.n, c.data_seed)
            out.append(infobench.mutual_information(x, y, "histogram", std_err=True, seed=c.estimator_seed).value)
        return out

    values = benchmark.pedantic(loop, rounds=pick(full_size, 2, 1), iterations=1)
    assert len(values) == len(cells)
