"""Benchmark estimators on tasks with known truth: grids, runner, results store, executors.

>>> from infobench.bench import run_grid, load_results
>>> df = run_grid("ksg[k=3,5],gaussian", suite="smoke", n=[500, 2000], seeds=3,
...               db="runs/bench.db", jobs=2)          # doctest: +SKIP
>>> load_results("runs/bench.db", run="latest")        # doctest: +SKIP
"""

from infobench.bench.executors import DaskExecutor, InProcessExecutor, LocalExecutor, make_executor
from infobench.bench.grid import Cell, Grid, derive_seed, make_grid
from infobench.bench.runner import execute, run_grid
from infobench.bench.spec import EstimatorSpec, parse_specs
from infobench.bench.store import COLUMNS, ResultsStore, export_results, list_runs, load_results

__all__ = [
    "COLUMNS",
    "Cell",
    "DaskExecutor",
    "EstimatorSpec",
    "Grid",
    "InProcessExecutor",
    "LocalExecutor",
    "ResultsStore",
    "derive_seed",
    "export_results",
    "list_runs",
    "load_results",
    "make_executor",
    "make_grid",
    "parse_specs",
    "execute",
    "run_grid",
]
