"""What runs inside a worker: one cell -> one outcome dict; the local worker loop.

Kept free of the runner's state so that it can be imported cheaply by worker
processes (the local pool preloads it in its fork server) and by Dask workers.
"""

from __future__ import annotations

import importlib
import os
import pickle
import platform
import signal
import socket
import sys
import time
import traceback
import warnings
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas  # noqa: F401  (imported lazily by input checks: load it once, in the fork server)
import scipy.special  # noqa: F401
import torch

import infobench
from infobench._validation import resolve_device
from infobench.bench.grid import to_json
from infobench.bench.store import encode_diagnostics
from infobench.diagnostics import DiagnosticWarning
from infobench.estimators.base import get_method

try:  # the task registry, when installed, is what most cells unpickle
    import infobench.tasks
except ImportError:  # pragma: no cover - tasks are optional for custom grids
    pass

__all__ = ["configure", "environment", "run_cell", "worker_loop"]

_MAX_ERROR = 2000
_threadpool_limits = None  # kept alive: threadpoolctl limits last as long as the object


def configure(threads: int | None = None, imports: tuple[str, ...] = ()) -> None:
    """Set this process's compute threads and import modules that register estimators or tasks."""
    global _threadpool_limits
    if threads is not None:
        torch.set_num_threads(int(threads))
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - scikit-learn depends on threadpoolctl
            pass
        else:
            # numpy's BLAS would otherwise start one thread per core in every worker.
            _threadpool_limits = threadpool_limits(limits=int(threads))
    for name in imports:
        importlib.import_module(name)


def one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\r", " ").replace("\n", " ")
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 3] + "..."


def environment() -> dict[str, Any]:
    """Where and with what a cell ran: host, versions, torch threads, UTC time."""
    return {
        "host": socket.gethostname(),
        "infobench_version": infobench.__version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "threads": torch.get_num_threads(),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _device(params: dict[str, Any], accepted: Mapping[str, Any]) -> str:
    if "device" not in accepted:
        return "cpu"
    try:
        return str(resolve_device(params.get("device", accepted["device"])))
    except (ValueError, TypeError):
        return str(params.get("device"))


def _call_arguments(payload: dict[str, Any], accepted: Mapping[str, Any]) -> dict[str, Any]:
    """The spec's parameters plus what the grid supplies: seed, std_err, discrete flags."""
    task = payload["task"]
    params = dict(payload["params"])
    if "seed" in accepted:
        params["seed"] = payload["estimator_seed"]
    # Coverage needs standard errors; a spec may switch them off (std_err=false).
    if "std_err" in accepted and "std_err" not in params:
        params["std_err"] = True
    flags = {"discrete_x": getattr(task, "discrete_x", None), "discrete_y": getattr(task, "discrete_y", None)}
    if payload["quantity"] == "entropy":
        flags["discrete"] = flags.pop("discrete_x")
        flags.pop("discrete_y")
    elif payload["quantity"] == "kl":  # KL tasks are continuous on both sides
        flags = {}
    for name, value in flags.items():
        if name in accepted and name not in params and value is not None:
            params[name] = bool(value)
    return params


def run_cell(payload: dict[str, Any] | bytes) -> dict[str, Any]:
    """Run one cell and return its outcome; never raises for a failing estimator.

    ``payload`` (a dict, or its pickle): ``quantity`` ("mi"/"entropy"/"kl"),
    ``method``, ``params`` (the spec's), ``task``, ``n``, ``data_seed``,
    ``estimator_seed`` and ``imports`` (modules to import first).

    The outcome has ``ok``, ``estimate``, ``std_err`` (nats), ``std_err_df`` (its degrees of freedom), ``seconds``
    (the estimator's own time), ``wall_seconds`` (sampling included),
    ``error`` (one line), ``diagnostics`` (the estimate's diagnostics as
    JSON, see :func:`infobench.bench.store.encode_diagnostics`), ``traceback``, ``resolved_params``, ``device`` and
    the environment (host, versions, threads, timestamp).
    """
    t0 = time.perf_counter()
    out: dict[str, Any] = {
        "ok": False,
        "estimate": None,
        "std_err": None,
        "std_err_df": None,
        "seconds": None,
        "error": None,
        "diagnostics": None,
        "traceback": None,
        "resolved_params": None,
        "device": None,
    }
    try:
        cell: dict[str, Any] = pickle.loads(payload) if isinstance(payload, (bytes, bytearray)) else payload
        for name in cell.get("imports", ()):
            if name not in sys.modules:
                importlib.import_module(name)
        quantity, method = cell["quantity"], cell["method"]
        accepted = get_method(quantity, method).params
        params = _call_arguments(cell, accepted)
        out["device"] = _device(params, accepted)
        sample = cell["task"].sample(cell["n"], cell["data_seed"])
        with warnings.catch_warnings():
            # Stored with the cell (and flagged by the reports), not printed once per cell.
            warnings.simplefilter("ignore", DiagnosticWarning)
            if quantity == "mi":
                x, y = sample
                est = infobench.mutual_information(x, y, method, **params)
            elif quantity == "kl":
                p, q = sample
                est = infobench.kl_divergence(p, q, method, **params)
            else:
                x = sample[0] if isinstance(sample, tuple) else sample
                est = infobench.entropy(x, method, **params)
        se = est.std_err
        out.update(
            ok=True,
            estimate=float(est.value),
            std_err=None if se is None or not np.isfinite(se) else float(se),
            std_err_df=None if se is None or est.std_err_df is None else float(est.std_err_df),
            seconds=float(est.seconds),
            diagnostics=encode_diagnostics(est.diagnostics),
            resolved_params=to_json({k: v for k, v in est.params.items() if k != "seed"}),
        )
    except Exception as exc:  # a failing cell is a result, the grid goes on
        out.update(ok=False, error=one_line(exc), traceback=traceback.format_exc()[-20000:])
        out["seconds"] = time.perf_counter() - t0
    out["wall_seconds"] = time.perf_counter() - t0
    out.update(environment())
    return out


def worker_loop(conn: Any, threads: int | None) -> None:
    """Body of a local worker process: receive pickled payloads, send outcomes, until EOF.

    Messages to the parent: ``("ready", pid)``, ``("init-error", text)`` or
    ``("result", outcome)``. One cell at a time, so the parent knows which
    cell a worker is running and can kill it at its time limit.
    """
    # Ctrl-C reaches the whole process group; the parent handles it and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        configure(threads)
    except BaseException as exc:
        conn.send(("init-error", one_line(exc)))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return  # the parent is gone or closed the pipe
        if not data:
            return
        outcome = run_cell(data)
        try:
            conn.send(("result", outcome))
        except (BrokenPipeError, OSError):
            return
