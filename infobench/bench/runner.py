"""Run a grid: skip finished cells, send the rest to an executor, commit each result at once."""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

import pandas as pd

from infobench._lock import output_lock
from infobench._progress import progress as show_progress
from infobench.bench.executors import make_executor
from infobench.bench.grid import Cell, Grid, make_grid, task_quantity, to_json
from infobench.bench.store import ResultsStore
from infobench.estimators.base import get_method, methods_for

__all__ = ["execute", "run_grid"]


def _static_record(cell: Cell, run_id: str, truth: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """The fields of a cell's record that are known before it runs."""
    task = cell.task
    t, t_se = truth[task.id]
    return {
        "run_id": run_id,
        "cell_key": cell.key,
        "cell_index": cell.index,
        "estimator": str(cell.spec),
        "method": cell.spec.method,
        "quantity": cell.quantity,
        "params": cell.spec.params_json,
        "task_id": task.id,
        "family": str(getattr(task, "family", "")),
        "task_params": to_json(dict(getattr(task, "params", {}) or {})),
        "dim_x": int(getattr(task, "dim_x", 0) or 0),
        "dim_y": int(getattr(task, "dim_y", 0) or 0),
        "n": cell.n,
        "seed": cell.seed,
        "data_seed": cell.data_seed,
        "estimator_seed": cell.estimator_seed,
        "truth": t,
        "truth_std_err": t_se,
    }


def _worker_imports(grid: Grid, executor: Any) -> tuple[str, ...]:
    """Modules a fresh worker must import to know every method of the grid.

    The built-in estimators register when ``infobench`` is imported; a method
    registered by user code is found through its function's module.
    """
    mods: list[str] = []
    quantities = sorted({task_quantity(t) for t in grid.tasks})
    isolated = executor.name != "in-process"
    for spec in grid.estimators:
        for q in quantities:
            if spec.method not in methods_for(q):
                continue
            module = get_method(q, spec.method).function.__module__
            if module.startswith("infobench.") or module in mods:
                continue
            if module in ("__main__", "__mp_main__") and isolated:
                raise ValueError(
                    f"estimator {spec.method!r} is registered in __main__, which worker processes cannot import; "
                    "define it in a module (imported before the run), or use jobs=0"
                )
            mods.append(module)
    if isolated and executor.name == "local":
        for task in grid.tasks:
            if type(task).__module__ in ("__main__", "__mp_main__"):
                raise ValueError(
                    f"task {task.id!r} is an instance of a class defined in __main__, which worker processes "
                    "cannot import; define the class in a module, or use jobs=0"
                )
    return tuple(mods)


class _TimeLeft:
    """Failures so far and an estimate of the time left, for the progress report of a grid.

    The time left sums, over the cells still to run, the mean wall time of
    finished cells of the same estimator and n (else of the same n, else of
    all), divided by the number of parallel workers.
    """

    def __init__(self, cells: Iterable[Cell], jobs: int):
        self.jobs = max(1, jobs)
        self.failed = 0
        self.times: dict[tuple[str, int], list[float]] = defaultdict(list)
        self.remaining: dict[tuple[str, int], int] = defaultdict(int)
        for c in cells:
            self.remaining[(str(c.spec), c.n)] += 1

    def seconds(self) -> float | None:
        if not self.times:
            return None
        every = [t for ts in self.times.values() for t in ts]
        by_n: dict[int, list[float]] = defaultdict(list)
        for (_, n), ts in self.times.items():
            by_n[n].extend(ts)
        total = 0.0
        for (spec, n), count in self.remaining.items():
            if not count:
                continue
            ts = self.times.get((spec, n)) or by_n.get(n) or every
            total += count * sum(ts) / len(ts)
        return float(math.ceil(total / self.jobs))

    def update(self, cell: Cell, outcome: dict[str, Any]) -> str:
        """Count one finished cell; return the status text of the report (``"2 failed"``)."""
        key = (str(cell.spec), cell.n)
        self.remaining[key] -= 1
        wall = outcome.get("wall_seconds")
        if wall is not None and math.isfinite(wall):
            self.times[key].append(float(wall))
        if not outcome.get("ok"):
            self.failed += 1
        return f"{self.failed} failed"


def execute(
    grid: Grid,
    *,
    db: str | os.PathLike | ResultsStore | None = None,
    run: str | None = None,
    executor: Any = None,
    retry_failed: bool = False,
    progress: bool = False,
    command: str = "",
):
    """Run the cells of ``grid`` that ``run`` does not hold yet; see :func:`run_grid`.

    ``executor`` (from :mod:`infobench.bench.executors`; default a local pool
    on every core) is left open when given, so that one pool can serve
    several grids; close it (or use it as a context manager) when done.
    ``command`` is stored with the run (the CLI stores its command line).
    """
    if run is not None and (not isinstance(run, str) or run == "latest"):
        raise ValueError(f"run must be a name (not 'latest'); got {run!r}")
    run_id = run or grid.default_run_id
    owned_store = not isinstance(db, ResultsStore)
    with contextlib.ExitStack() as held:
        if owned_store and db is not None and str(db) != ":memory:":
            # One runner per database file: a second one is refused before any cell runs.
            held.enter_context(output_lock(cast("str | os.PathLike[Any]", db), kind="file", what="results database"))
        store = db if isinstance(db, ResultsStore) else ResultsStore(":memory:" if db is None else db)
        return _execute(grid, store, owned_store, run_id, executor, retry_failed, progress, command)


def _execute(
    grid: Grid,
    store: ResultsStore,
    owned_store: bool,
    run_id: str,
    executor: Any,
    retry_failed: bool,
    progress: bool,
    command: str,
):
    """The body of :func:`execute`, run while this process holds the database's lock."""
    owned_executor = executor is None
    try:
        executor = make_executor() if executor is None else executor
        imports = _worker_imports(grid, executor)
        store.ensure_run(run_id, base_seed=grid.base_seed, grid=grid.describe(), command=command)
        cells = grid.cells()
        done = store.finished(run_id, include_failed=not retry_failed)
        todo = [c for c in cells if c.key not in done]
        # Ground truth once per task with cells to run, in this process (Monte-Carlo truths can be slow).
        truth = {}
        for task in {c.task.id: c.task for c in todo}.values():
            t_se = getattr(task, "truth_std_err", 0.0)
            truth[task.id] = (float(task.truth), float(t_se) if t_se is not None else 0.0)
        # Largest samples first: the slowest cells start early, so workers finish together.
        todo.sort(key=lambda c: (-c.n, c.index))
        by_key = {c.key: c for c in todo}
        payloads = [
            {
                "key": c.key,
                "quantity": c.quantity,
                "method": c.spec.method,
                "params": c.spec.kwargs,
                "task": c.task,
                "n": c.n,
                "data_seed": c.data_seed,
                "estimator_seed": c.estimator_seed,
                "imports": imports,
            }
            for c in todo
        ]
        left = _TimeLeft(todo, executor.jobs)
        t0 = time.perf_counter()
        try:
            with show_progress(
                progress, len(cells), run_id, unit="cells", completed=len(cells) - len(todo), time_left=left.seconds
            ) as advance:
                advance(0, "0 failed")
                for payload, outcome in executor.map(payloads):
                    cell = by_key[payload["key"]]
                    record = _static_record(cell, run_id, truth)
                    record.update({k: v for k, v in outcome.items() if k != "wall_seconds"})
                    store.add(record)
                    advance(1, left.update(cell, outcome))
        finally:
            if owned_executor:
                executor.close()
        df = store.load(run_id)
        df.attrs.update(
            run_id=run_id,
            cells=len(cells),
            skipped=len(cells) - len(todo),
            ran=len(todo),
            failed_now=left.failed,
            seconds=time.perf_counter() - t0,
        )
        return df
    finally:
        if owned_store:
            store.close()


_F = TypeVar("_F", bound=Callable[..., Any])


def _takes_grid_parameters(func: _F) -> _F:
    """Give ``func`` the parameters of :func:`make_grid`, declared there once: in its signature and its docstring.

    ``func`` takes ``estimators, tasks=None`` and ``**grid`` (the other
    parameters of :func:`make_grid`, passed on to it). Its signature (what
    ``help`` and the API reference show) becomes make_grid's followed by its
    own keywords, make_grid's parameter entries open its "Parameters"
    section, and a keyword that neither takes is refused in ``func``'s name.
    """
    grid_sig = inspect.signature(make_grid)
    own = inspect.signature(func)
    extra = [p for name, p in own.parameters.items() if name not in grid_sig.parameters and p.kind != p.VAR_KEYWORD]
    signature = own.replace(parameters=[*grid_sig.parameters.values(), *extra])

    @functools.wraps(func)
    def checked(*args: Any, **kwargs: Any) -> Any:
        for name in kwargs:
            if name not in signature.parameters:
                raise TypeError(f"{func.__name__}() got an unexpected keyword argument {name!r}")
        return func(*args, **kwargs)

    # inspect.signature reads __signature__; typeshed declares no such attribute on callables
    checked.__signature__ = signature  # type: ignore[attr-defined]
    head = "Parameters\n    ----------\n"
    grid_doc, own_doc = make_grid.__doc__ or "", func.__doc__ or ""
    if head in grid_doc and head in own_doc:  # docstrings are absent under python -OO
        start = grid_doc.index(head) + len(head)
        entries = grid_doc[start : grid_doc.index("\n\n", start) + 1]
        checked.__doc__ = own_doc.replace(head, head + entries, 1)
    return cast(_F, checked)


@_takes_grid_parameters
def run_grid(
    estimators: Any,
    tasks: Any = None,
    *,
    db: str | os.PathLike | ResultsStore | None = None,
    run: str | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    dask_workers: int | None = None,
    time_limit: float | None = None,
    retry_failed: bool = False,
    progress: bool = False,
    **grid: Any,
) -> pd.DataFrame:
    """Benchmark estimators on tasks with known truth; resumable, one committed record per cell.

    The grid's parameters (``estimators``, ``tasks``, ``suite``, ``n``,
    ``seeds``, ``base_seed``) are declared once, by :func:`make_grid`, and
    listed first below.

    Parameters
    ----------
    db : path or ResultsStore, optional
        SQLite results database (created if missing). None keeps results in
        memory (nothing to resume from).
    run : str, optional
        Run name; default ``"<suite or grid>-<hash of the grid>"``, so running
        the same grid again resumes it. Naming a run explicitly lets a larger
        grid extend it (finished cells are kept).
    jobs : int, optional
        Local worker processes (default: all cores); 0 runs in this process.
    scheduler : str, optional
        Address of a Dask scheduler to run on (``"tcp://HOST:PORT"``).
    dask_workers : int, optional
        Start a local Dask cluster of this many workers.
    time_limit : float, optional
        Wall-clock seconds per cell; a cell past it is killed and recorded
        with ``ok=False`` (needs worker processes; see :mod:`infobench.bench.executors`).
    retry_failed : bool
        Run again the cells that failed before (by default they are kept, as
        finished, like the successful ones).
    progress : bool
        Report progress on stderr (a live bar in a terminal, plain lines in a log;
        see :func:`infobench._progress.progress`).

    Returns
    -------
    pandas.DataFrame
        Every record of the run (earlier ones included), one row per cell, in
        grid order; ``df.attrs`` has ``run_id``, ``cells``, ``skipped``,
        ``ran``, ``failed_now`` and ``seconds``.

    Notes
    -----
    Each finished cell is committed at once; a run killed at any point
    (even SIGKILL) loses only the cells in flight, and running the same call
    again computes only those, with the same numbers a clean run gives.

    Examples
    --------
    >>> df = run_grid("ksg[k=3,5],gaussian", suite="smoke", n=[500, 2000], seeds=3,
    ...               db="runs/example.db", jobs=2)  # doctest: +SKIP
    """
    cells = make_grid(estimators, tasks, **grid)
    with make_executor(jobs, scheduler=scheduler, dask_workers=dask_workers, time_limit=time_limit) as executor:
        return execute(cells, db=db, run=run, executor=executor, retry_failed=retry_failed, progress=progress)
