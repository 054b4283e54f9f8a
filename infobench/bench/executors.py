"""Executors: where cells run. In-process, a local pool of worker processes, or Dask.

Every executor has ``map(payloads) -> iterator of (payload, outcome)`` (in
completion order) and ``close()``, and is a context manager. A cell's
numbers depend only on its payload (seeds included), never on the executor:
the local pool and Dask give identical results for the same torch thread
count (the thread count can change the last bits of parallel float sums).

Time limits
-----------
A cell that runs in the main process cannot be stopped safely, so a time
limit needs worker processes. ``LocalExecutor`` runs each cell in a worker
process; the parent measures wall-clock time from handing the cell over
(sampling the task's data included) and, at the limit, kills the worker with
SIGKILL, records ``TimeoutError`` for that cell and starts a fresh worker.
On Dask, each Dask worker thread hands its cells to a private one-process
``LocalExecutor`` with the limit; that needs Dask workers that may start
processes (``distributed.worker.daemon: False``), which ``--dask-workers``
clusters have and which is checked on an existing cluster before any cell runs.
"""

from __future__ import annotations

import collections
import multiprocessing
import multiprocessing.connection
import os
import pickle
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from infobench._validation import check_float, check_int
from infobench.bench import _worker

if TYPE_CHECKING:  # dask is an optional dependency, imported when a cluster is used
    from distributed import Client, LocalCluster

__all__ = ["DaskExecutor", "InProcessExecutor", "LocalExecutor", "available_cores", "make_executor"]


def available_cores() -> int:
    """Cores this process may use (its CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def _check_limit(time_limit: Any) -> float | None:
    if time_limit is None:
        return None
    return check_float("time_limit", time_limit, low=0, low_open=True)


def _timeout_outcome(limit: float) -> dict[str, Any]:
    return _failure(
        f"TimeoutError: the cell exceeded the time limit of {limit:g} s; its worker process was killed", limit
    )


def _failure(error: str, seconds: float | None, *, local: bool = True) -> dict[str, Any]:
    """The outcome of a cell that produced none itself (killed, timed out, lost)."""
    out = {
        "ok": False,
        "estimate": None,
        "std_err": None,
        "std_err_df": None,
        "seconds": seconds,
        "wall_seconds": seconds,
        "error": error,
        "traceback": None,
        "resolved_params": None,
        "device": None,
    }
    out.update(_worker.environment())
    # This process's thread count (and, off this machine, its host) would misdescribe the cell.
    out["threads"] = None
    if not local:
        out["host"] = None
    return out


class InProcessExecutor:
    """Run cells one after the other in this process (``jobs=0``): for debugging; no time limit."""

    jobs = 1
    time_limit = None
    threads = None
    name = "in-process"

    def map(self, payloads: Iterable[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        for payload in payloads:
            yield payload, _worker.run_cell(payload)

    def close(self) -> None:
        pass

    def __enter__(self) -> InProcessExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Worker:
    __slots__ = ("conn", "payload", "process", "ready", "started")

    def __init__(self, process: Any, conn: Any) -> None:
        self.process = process
        self.conn = conn
        self.payload: dict[str, Any] | None = None
        self.started = 0.0
        self.ready = False  # True once the worker has imported everything and said so


def _context() -> Any:
    # A fork server is a clean single-threaded process that imports the worker
    # code once; forking workers from it is fast and safe even though this
    # process may run threads (rich's progress bar, Dask) or hold torch's
    # OpenMP pool. Plain fork from here could deadlock on either.
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["infobench.bench._worker"])
        return ctx
    return multiprocessing.get_context("spawn")  # pragma: no cover - Windows


class LocalExecutor:
    """A pool of ``jobs`` worker processes on this machine, with an optional per-cell time limit.

    Parameters
    ----------
    jobs : int or None
        Worker processes (>= 1); None uses every available core.
    time_limit : float or None
        Seconds of wall-clock time per cell (data sampling included); the
        worker running a cell past it is killed and the cell recorded as failed.
    threads : int or None
        Torch (and BLAS) threads per worker; None gives ``max(1, cores // jobs)``
        so that the workers together do not oversubscribe the cores.

    Notes
    -----
    Workers start from a fork server (spawn where there is none), so they
    import the estimators and tasks afresh: cells name the modules that
    register their estimator and the task's class is imported by unpickling.
    Like every ``multiprocessing`` program, a script that calls the runner
    must guard its entry point with ``if __name__ == "__main__":``. Methods
    or tasks defined in ``__main__`` cannot be used here; the runner says so
    before any cell runs.
    """

    name = "local"

    def __init__(self, jobs: int | None = None, *, time_limit: float | None = None, threads: int | None = None) -> None:
        cores = available_cores()
        self.jobs = cores if jobs is None else check_int("jobs", jobs, low=1)
        self.time_limit = _check_limit(time_limit)
        self.threads = max(1, cores // self.jobs) if threads is None else check_int("threads", threads, low=1)
        self._workers: list[_Worker] = []

    # ------------------------------------------------------------ workers
    def _spawn(self) -> _Worker:
        ctx = _context()
        parent, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=_worker.worker_loop, args=(child, self.threads), daemon=True, name="infobench-worker")
        proc.start()
        child.close()
        return _Worker(proc, parent)

    @staticmethod
    def _kill(w: _Worker) -> None:
        if w.process.is_alive():
            w.process.kill()
        w.process.join(timeout=10)
        w.conn.close()

    def _replace(self, w: _Worker) -> None:
        # The new worker starts in the background; cells go to it once it is ready.
        self._kill(w)
        self._workers[self._workers.index(w)] = self._spawn()

    def _on_start_message(self, w: _Worker) -> None:
        msg = None
        try:
            if w.conn.poll():
                msg = w.conn.recv()
        except (EOFError, OSError):
            msg = None
        if msg and msg[0] == "ready":
            w.ready = True
            return
        detail = msg[1] if msg and msg[0] == "init-error" else f"exit code {w.process.exitcode}"
        self.close()
        raise RuntimeError(f"a worker process failed to start: {detail}")

    def close(self) -> None:
        """Stop every worker (a running cell is abandoned: it was not recorded)."""
        for w in self._workers:
            try:
                if w.ready and w.payload is None and w.process.is_alive():
                    w.conn.send_bytes(b"")  # polite stop
                    w.process.join(timeout=2)
            except (BrokenPipeError, OSError):
                pass
            self._kill(w)
        self._workers = []

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ----------------------------------------------------------------- map
    def _finish(self, w: _Worker, now: float) -> dict[str, Any] | None:
        """The outcome of ``w``'s cell if it sent one or died; None while it runs within its limit."""
        try:
            if w.conn.poll():
                _, outcome = w.conn.recv()
                w.payload = None
                return outcome
        except (EOFError, OSError):
            pass
        if not w.process.is_alive():
            w.process.join(timeout=1)
            outcome = _failure(
                f"WorkerDied: the worker process running this cell exited (code {w.process.exitcode}); "
                "a negative code is the signal that killed it (-9: out of memory or killed)",
                now - w.started,
            )
        elif self.time_limit is not None and now - w.started >= self.time_limit:
            outcome = _timeout_outcome(self.time_limit)
        else:
            return None
        w.payload = None
        self._replace(w)
        return outcome

    def map(self, payloads: Iterable[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """Run the cells; yield ``(payload, outcome)`` as each finishes."""
        pending = collections.deque(payloads)
        if not pending:
            return
        while len(self._workers) < min(self.jobs, len(pending)):
            self._workers.append(self._spawn())
        completed = False
        try:
            while pending or any(w.payload is not None for w in self._workers):
                for w in self._workers:
                    if w.ready and w.payload is None and pending:
                        payload = pending.popleft()
                        try:
                            data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
                        except (pickle.PicklingError, TypeError, AttributeError) as exc:
                            raise TypeError(
                                f"cell {payload.get('key')!r} cannot be sent to a worker process ({exc}); "
                                "make its task picklable or run with jobs=0"
                            ) from None
                        w.payload = payload
                        w.started = time.monotonic()
                        w.conn.send_bytes(data)
                busy = [w for w in self._workers if w.payload is not None]
                starting = [w for w in self._workers if not w.ready]
                timeout = None
                if self.time_limit is not None and busy:
                    timeout = max(0.0, min(w.started + self.time_limit for w in busy) - time.monotonic())
                watched = busy + starting
                multiprocessing.connection.wait(
                    [w.conn for w in watched] + [w.process.sentinel for w in watched], timeout
                )
                for w in starting:
                    if w.conn.poll() or not w.process.is_alive():
                        self._on_start_message(w)
                now = time.monotonic()
                for w in busy:
                    cell = w.payload
                    outcome = self._finish(w, now)
                    if outcome is not None:
                        assert cell is not None  # a busy worker holds its cell until _finish clears it
                        yield cell, outcome
            completed = True
        finally:
            if not completed and any(w.payload is not None for w in self._workers):
                # Interrupted (Ctrl-C, an error, or the consumer stopped): the
                # cells in flight are abandoned, so their workers must go.
                self.close()


class DaskExecutor:
    """Send cells to a Dask cluster: an existing one (``scheduler``) or a new local one (``n_workers``).

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    n_workers : int, optional
        Start a ``LocalCluster`` of this many single-threaded worker processes
        on 127.0.0.1 (closed by :meth:`close`).
    time_limit : float, optional
        Per-cell wall-clock limit (see the module notes).
    threads : int, optional
        Torch threads per cell; None: ``max(1, cores // n_workers)`` for a
        local cluster and ``max(1, worker cores // worker threads)`` on an
        existing cluster.
    connect_timeout : float
        Seconds to wait for the scheduler.

    Requires ``pip install 'infobench[dask]'``.
    """

    name = "dask"

    def __init__(
        self,
        scheduler: str | None = None,
        n_workers: int | None = None,
        *,
        time_limit: float | None = None,
        threads: int | None = None,
        connect_timeout: float = 20.0,
    ):
        if (scheduler is None) == (n_workers is None):
            raise ValueError("DaskExecutor needs exactly one of scheduler (an address) or n_workers (a local cluster)")
        if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
            raise ValueError(f"scheduler must be an address like 'tcp://HOST:8786'; got {scheduler!r}")
        self.scheduler = scheduler
        self.n_workers = None if n_workers is None else check_int("dask_workers", n_workers, low=1)
        self.time_limit = _check_limit(time_limit)
        self.connect_timeout = check_float("connect_timeout", connect_timeout, low=0, low_open=True)
        if threads is None and self.n_workers is not None:
            threads = max(1, available_cores() // self.n_workers)
        self.threads = None if threads is None else check_int("threads", threads, low=1)
        try:
            import dask  # noqa: F401
            import distributed  # noqa: F401
        except ImportError:
            raise ImportError("the Dask executor needs dask and distributed: pip install 'infobench[dask]'") from None
        self._cluster: LocalCluster | None = None
        self._client: Client | None = None

    @property
    def jobs(self) -> int:
        """Cells the cluster runs at once (its worker threads); connects to the cluster."""
        return max(1, sum(self._connect().nthreads().values()))

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        import dask
        from distributed import Client, LocalCluster

        if self.scheduler is not None:
            try:
                self._client = Client(self.scheduler, timeout=f"{self.connect_timeout}s")
            except (OSError, TimeoutError) as exc:
                raise ValueError(f"cannot reach the Dask scheduler at {self.scheduler!r}: {exc}") from None
        else:
            # Non-daemonic workers may start the child processes that time limits need.
            with dask.config.set({"distributed.worker.daemon": False}):
                self._cluster = LocalCluster(
                    n_workers=self.n_workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    silence_logs=40,
                )
            self._client = Client(self._cluster)
        if self.time_limit is not None:
            self._check_workers(self._client)
        return self._client

    def _check_workers(self, client: Any) -> None:
        """Time limits need Dask workers that may start child processes (non-daemonic)."""
        daemonic = [addr for addr, d in client.run(_is_daemon).items() if d]
        if daemonic:
            self.close()
            raise ValueError(
                f"time_limit on Dask needs workers that may start processes; {len(daemonic)} worker(s) are "
                "daemonic: start them with DASK_DISTRIBUTED__WORKER__DAEMON=False, or drop the time limit"
            )

    def map(self, payloads: Iterable[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        from distributed import as_completed

        payloads = list(payloads)
        if not payloads:
            return
        client = self._connect()
        futures = {}
        for p in payloads:
            fut = client.submit(_dask_cell, p, self.time_limit, self.threads, pure=False)
            futures[fut] = p
        done = False
        try:
            for fut in as_completed(list(futures)):
                payload = futures[fut]
                try:
                    outcome = fut.result()
                except Exception as exc:  # the Dask worker died (KilledWorker) or the task was lost
                    outcome = _failure(f"WorkerDied: {_worker.one_line(exc)}", None, local=False)
                yield payload, outcome
            done = True
        finally:
            if not done:
                client.cancel(list(futures))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _is_daemon() -> bool:
    return bool(multiprocessing.current_process().daemon)


_dask_state = threading.local()
_dask_threads: int | None = None  # the torch thread count this Dask worker process was set to


def _dask_cell(payload: dict[str, Any], time_limit: float | None, threads: int | None) -> dict[str, Any]:
    """Runs on a Dask worker: one cell, in a private child process when there is a time limit."""
    global _dask_threads
    if threads is None:
        try:
            from distributed import get_worker

            w = get_worker()
            nthreads = getattr(getattr(w, "state", w), "nthreads", 1) or 1
        except (ImportError, ValueError):
            nthreads = 1
        threads = max(1, available_cores() // nthreads)
    if time_limit is None:
        if _dask_threads != threads:
            _worker.configure(threads)
            _dask_threads = threads
        return _worker.run_cell(payload)
    pool = getattr(_dask_state, "pool", None)
    if pool is None or pool.time_limit != time_limit or pool.threads != threads:
        if pool is not None:
            pool.close()
        pool = _dask_state.pool = LocalExecutor(1, time_limit=time_limit, threads=threads)
    # Consume the whole iterator: leaving it early would stop the pool's worker.
    [(_, outcome)] = list(pool.map([payload]))
    return outcome


def make_executor(
    jobs: int | None = None,
    *,
    scheduler: str | None = None,
    dask_workers: int | None = None,
    time_limit: float | None = None,
) -> Any:
    """The executor for the CLI's options: ``jobs=0`` in-process, ``jobs=N`` local pool, or Dask."""
    chosen = [
        name for name, v in (("jobs", jobs), ("scheduler", scheduler), ("dask_workers", dask_workers)) if v is not None
    ]
    if len(chosen) > 1:
        raise ValueError(f"choose one executor: {' and '.join(chosen)} were both given")
    if scheduler is not None or dask_workers is not None:
        return DaskExecutor(scheduler, dask_workers, time_limit=time_limit)
    if jobs is not None and check_int("jobs", jobs, low=0) == 0:
        if time_limit is not None:
            raise ValueError(
                "time_limit needs worker processes (jobs >= 1): a cell in the main process cannot be stopped"
            )
        return InProcessExecutor()
    return LocalExecutor(jobs, time_limit=time_limit)
