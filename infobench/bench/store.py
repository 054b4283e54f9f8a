"""The results store: one SQLite file holds many runs of tidy cell records.

Durability: the database runs in WAL mode and every finished cell is its own
committed transaction, so a process killed at any moment (even with SIGKILL)
loses only the cells that were still being computed. With
``synchronous=NORMAL`` a committed cell survives a crash of the process;
only a power failure of the machine can lose the last commits.

Layout: ``runs`` (one row per run: its grid, base seed, creation time),
``results`` (one row per cell, primary key ``(run_id, cell_key)``) and
``meta`` (schema version).

Schema 2 added the ``diagnostics`` column (the cell's
:class:`~infobench.diagnostics.Diagnostic` list as JSON, see
:func:`encode_diagnostics`); schema 3 the ``std_err_df`` column (the
degrees of freedom of the cell's standard error,
:attr:`infobench.Estimate.std_err_df`: the reports' coverage uses the t
quantile its interval uses). A database of an older schema opened for
writing (``create=True``, as the runner does) is migrated: the columns are
added, empty for the cells computed before they existed, so the run
resumes. Opened for reading only (``create=False``, as reports do) it is
read as it is, its cells without diagnostics or degrees of freedom (a
normal quantile).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from infobench._io import atomic_write
from infobench._lock import output_lock
from infobench.diagnostics import Diagnostic, as_diagnostics

__all__ = [
    "COLUMNS",
    "ResultsStore",
    "decode_diagnostics",
    "encode_diagnostics",
    "export_results",
    "list_runs",
    "load_results",
]

SCHEMA_VERSION = "3"
# Older schemas this version migrates: version -> the columns it lacks.
_MIGRATIONS = {"1": ("diagnostics", "std_err_df"), "2": ("std_err_df",)}

# Column name -> SQLite type, in the order of the tidy records.
COLUMNS: dict[str, str] = {
    "run_id": "TEXT NOT NULL",
    "cell_key": "TEXT NOT NULL",
    "cell_index": "INTEGER",
    "estimator": "TEXT NOT NULL",
    "method": "TEXT NOT NULL",
    "quantity": "TEXT NOT NULL",
    "params": "TEXT NOT NULL",
    "task_id": "TEXT NOT NULL",
    "family": "TEXT",
    "task_params": "TEXT",
    "dim_x": "INTEGER",
    "dim_y": "INTEGER",
    "n": "INTEGER NOT NULL",
    "seed": "INTEGER NOT NULL",
    "data_seed": "INTEGER NOT NULL",
    "estimator_seed": "INTEGER NOT NULL",
    "truth": "REAL",
    "truth_std_err": "REAL",
    "estimate": "REAL",
    "std_err": "REAL",
    "std_err_df": "REAL",
    "seconds": "REAL",
    "ok": "INTEGER NOT NULL",
    "error": "TEXT",
    "diagnostics": "TEXT",
    "resolved_params": "TEXT",
    "device": "TEXT",
    "threads": "INTEGER",
    "host": "TEXT",
    "infobench_version": "TEXT",
    "torch_version": "TEXT",
    "numpy_version": "TEXT",
    "python_version": "TEXT",
    "timestamp": "TEXT",
    "traceback": "TEXT",
}
_FLOAT_COLUMNS = ("truth", "truth_std_err", "estimate", "std_err", "std_err_df", "seconds")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def encode_diagnostics(diagnostics: Iterable[Diagnostic] | None) -> str:
    """A cell's diagnostics as the JSON text of its ``diagnostics`` column (``"[]"`` when none)."""
    return json.dumps([d.to_dict() for d in as_diagnostics(diagnostics)], sort_keys=True)


def decode_diagnostics(text: Any) -> tuple[Diagnostic, ...]:
    """The diagnostics of one record's ``diagnostics`` column; ``()`` for a missing value (NULL, NaN).

    Raises ``ValueError`` for text that is not a JSON list of diagnostics.
    """
    if not isinstance(text, str) or not text:
        return ()
    try:
        items = json.loads(text)
        if not isinstance(items, list):
            raise TypeError(f"a JSON {type(items).__name__}, not a list")
        return as_diagnostics(items)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"a record's diagnostics are not a JSON list of diagnostics ({exc}): {text[:80]!r}") from None


class ResultsStore:
    """A results database (SQLite file, or ``":memory:"``).

    Parameters
    ----------
    path : str or Path
        The database file. ``":memory:"`` keeps results in memory only.
    create : bool
        Create the file (and its parent folders) when it does not exist.
        With ``create=False`` a missing file raises ``FileNotFoundError``.

    Raises
    ------
    FileNotFoundError
        ``create=False`` and no file at ``path``.
    ValueError
        The file is not an SQLite database, is corrupt, or holds no
        infobench results.
    """

    def __init__(self, path: str | os.PathLike, *, create: bool = True):
        self.path = str(path)
        self._absent: set[str] = set()  # columns an older schema lacks, when opened for reading only
        memory = self.path == ":memory:"
        if not memory:
            p = Path(self.path)
            if p.is_dir():
                raise IsADirectoryError(f"db must be a database file; {self.path!r} is a folder")
            if not p.exists():
                if not create:
                    raise FileNotFoundError(f"results database {self.path!r} does not exist")
                p.parent.mkdir(parents=True, exist_ok=True)
        # The connection is used from one thread: the runner's main loop.
        self._conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        with self._translate_errors():
            fresh = not self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
            if fresh:
                if not create:
                    raise ValueError(f"{self.path!r} is an empty SQLite database, not an infobench results database")
                self._create()
            else:
                self._check_schema(writable=create)
            if not memory:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")

    # ------------------------------------------------------------ plumbing
    @contextlib.contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"results database {self.path!r} is not a readable infobench database ({exc})") from None

    def _create(self) -> None:
        cols = ",\n  ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        self._conn.executescript(
            f"""
            BEGIN;
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE runs (
              run_id TEXT PRIMARY KEY, created TEXT, updated TEXT,
              base_seed INTEGER, grid TEXT, command TEXT
            );
            CREATE TABLE results (
              {cols},
              PRIMARY KEY (run_id, cell_key)
            );
            CREATE INDEX results_run ON results (run_id, cell_index);
            INSERT INTO meta VALUES ('schema', '{SCHEMA_VERSION}'), ('created', '{_now()}');
            COMMIT;
            """
        )

    def _check_schema(self, writable: bool) -> None:
        tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"meta", "runs", "results"} <= tables:
            raise ValueError(
                f"{self.path!r} is an SQLite database but not an infobench results database (tables: {sorted(tables)})"
            )
        row = self._conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        version = row[0] if row else None
        if version in _MIGRATIONS and writable:
            self._migrate(version)
        elif version in _MIGRATIONS:
            # Read as it is (a reader does not rewrite the file): the missing columns load as missing values.
            self._absent = set(_MIGRATIONS[version])
        elif version != SCHEMA_VERSION:
            raise ValueError(
                f"results database {self.path!r} has schema {version!r}; "
                f"this infobench reads schemas {sorted([*_MIGRATIONS, SCHEMA_VERSION])}"
            )

    def _migrate(self, version: str) -> None:
        """Bring a database of an older schema to :data:`SCHEMA_VERSION` (add the columns it lacks)."""
        self._conn.execute("BEGIN IMMEDIATE")  # one migrating process at a time
        try:
            present = {r[1] for r in self._conn.execute("PRAGMA table_info(results)")}
            for name in _MIGRATIONS[version]:
                if name not in present:  # another process may have migrated it meanwhile
                    self._conn.execute(f"ALTER TABLE results ADD COLUMN {name} {COLUMNS[name]}")
            self._conn.execute("UPDATE meta SET value=? WHERE key='schema'", (SCHEMA_VERSION,))
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---------------------------------------------------------------- runs
    def ensure_run(self, run_id: str, *, base_seed: int, grid: dict[str, Any], command: str = "") -> bool:
        """Create run ``run_id``, or check that an existing one used the same base seed.

        Returns True when the run was created. Reusing a run id with another
        base seed raises ``ValueError``: its cells would mix two seed streams.
        """
        if not isinstance(run_id, str) or not run_id.strip() or any(c in run_id for c in "\n\r\t"):
            raise ValueError(f"run must be a non-empty one-line name; got {run_id!r}")
        with self._translate_errors():
            row = self._conn.execute("SELECT base_seed FROM runs WHERE run_id=?", (run_id,)).fetchone()
            if row is not None:
                if int(row[0]) != int(base_seed):
                    raise ValueError(
                        f"run {run_id!r} in {self.path!r} used base_seed={row[0]}; got base_seed={base_seed} "
                        "(use another run name, or the same base seed to extend it)"
                    )
                self._conn.execute("UPDATE runs SET updated=? WHERE run_id=?", (_now(), run_id))
                return False
            now = _now()
            self._conn.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, now, now, int(base_seed), json.dumps(grid, sort_keys=True), command),
            )
            return True

    def run_ids(self) -> list[str]:
        """Run ids, most recently updated last."""
        with self._translate_errors():
            return [r[0] for r in self._conn.execute("SELECT run_id FROM runs ORDER BY updated, created, run_id")]

    def resolve_run(self, run: str | None) -> str | None:
        """``None`` -> None (all runs); ``"latest"`` -> the most recently updated run; a name -> checked."""
        if run is None:
            return None
        ids = self.run_ids()
        if run == "latest":
            if not ids:
                raise ValueError(f"results database {self.path!r} holds no runs yet")
            return ids[-1]
        if run not in ids:
            raise ValueError(f"no run {run!r} in {self.path!r}; runs are {ids}")
        return run

    def runs(self):
        """The runs as a DataFrame: run_id, created, updated, base_seed, cells, failed, grid."""
        import pandas as pd

        with self._translate_errors():
            rows = self._conn.execute(
                """
                SELECT r.run_id, r.created, r.updated, r.base_seed,
                       COUNT(c.cell_key), COALESCE(SUM(1 - c.ok), 0), r.grid
                FROM runs r LEFT JOIN results c ON c.run_id = r.run_id
                GROUP BY r.run_id ORDER BY r.updated, r.created, r.run_id
                """
            ).fetchall()
        return pd.DataFrame(rows, columns=["run_id", "created", "updated", "base_seed", "cells", "failed", "grid"])

    def run_info(self, run: str) -> dict[str, Any]:
        """One run's row: run_id, created, updated, base_seed, grid (a dict) and command."""
        run_id = self.resolve_run(run)
        with self._translate_errors():
            row = self._conn.execute(
                "SELECT run_id, created, updated, base_seed, grid, command FROM runs WHERE run_id=?", (run_id,)
            ).fetchone()
        info = dict(zip(("run_id", "created", "updated", "base_seed", "grid", "command"), row))
        try:
            info["grid"] = json.loads(info["grid"]) if info["grid"] else {}
        except ValueError as exc:
            raise ValueError(
                f"results database {self.path!r} is damaged: the grid of run {run_id!r} (table runs, column grid) "
                f"is not valid JSON ({exc}); its results can still be read, e.g. with "
                "infobench.bench.load_results"
            ) from None
        return info

    # --------------------------------------------------------------- cells
    def finished(self, run_id: str, *, include_failed: bool = True) -> set[str]:
        """Keys of the cells of ``run_id`` already recorded (only the ok ones with ``include_failed=False``)."""
        sql = "SELECT cell_key FROM results WHERE run_id=?" + ("" if include_failed else " AND ok=1")
        with self._translate_errors():
            return {r[0] for r in self._conn.execute(sql, (run_id,))}

    def add(self, record: dict[str, Any]) -> None:
        """Insert (or replace) one cell record and commit it at once."""
        missing = [c for c in ("run_id", "cell_key", "estimator", "n", "seed", "ok") if record.get(c) is None]
        if missing:
            raise ValueError(f"a result record needs {missing}")
        if self._absent:
            raise ValueError(
                f"results database {self.path!r} was opened for reading (create=False) and has an "
                "older schema; open it with create=True to migrate it before adding results"
            )
        names = list(COLUMNS)
        values = []
        for name in names:
            v = record.get(name)
            if name == "ok":
                v = int(bool(v))
            elif name == "diagnostics" and v is not None and not isinstance(v, str):
                v = encode_diagnostics(v)
            elif name in _FLOAT_COLUMNS and v is not None:
                v = float(v)
                # SQLite has no NaN: store it as NULL, read back as NaN.
                if v != v:
                    v = None
            values.append(v)
        with self._translate_errors():
            self._conn.execute(
                f"INSERT OR REPLACE INTO results ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                values,
            )

    def load(
        self,
        run: str | None = None,
        *,
        estimators: Iterable[str] | None = None,
        tasks: Iterable[str] | None = None,
        ok: bool | None = None,
    ):
        """Records as a DataFrame (one row per cell, in grid order); see :func:`load_results`."""
        import numpy as np
        import pandas as pd

        run_id = self.resolve_run(run)
        where: list[str] = []
        args: list[str | int] = []
        if run_id is not None:
            where.append("run_id = ?")
            args.append(run_id)
        for col, values in (("estimator", estimators), ("task_id", tasks)):
            if values is not None:
                values = [values] if isinstance(values, str) else [str(v) for v in values]
                where.append(f"{col} IN ({', '.join('?' * len(values))})")
                args.extend(values)
        if ok is not None:
            where.append("ok = ?")
            args.append(int(bool(ok)))
        sql = f"SELECT {', '.join(f'NULL AS {c}' if c in self._absent else c for c in COLUMNS)} FROM results"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY run_id, cell_index, cell_key"
        with self._translate_errors():
            rows = self._conn.execute(sql, args).fetchall()
        df = pd.DataFrame(rows, columns=list(COLUMNS))
        for c in _FLOAT_COLUMNS:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(np.float64)
        df["ok"] = df["ok"].astype(bool)
        for c in ("n", "seed", "data_seed", "estimator_seed"):
            df[c] = df[c].astype(np.int64)
        df.attrs["run_id"] = run_id
        df.attrs["db"] = self.path
        return df


def _open_existing(db: str | os.PathLike | ResultsStore) -> tuple[ResultsStore, bool]:
    if isinstance(db, ResultsStore):
        return db, False
    return ResultsStore(db, create=False), True


def load_results(
    db: str | os.PathLike | ResultsStore,
    run: str | None = None,
    *,
    estimators: Iterable[str] | None = None,
    tasks: Iterable[str] | None = None,
    ok: bool | None = None,
):
    """Load tidy cell records from a results database as a ``pandas.DataFrame``.

    Parameters
    ----------
    db : path or ResultsStore
        An existing results database.
    run : str or None
        A run id, ``"latest"`` (the most recently updated run) or None (all runs).
    estimators, tasks : list of str, optional
        Keep only these estimator specs (canonical text, e.g. ``"ksg[k=3]"``) / task ids.
    ok : bool, optional
        Keep only successful (True) or failed (False) cells.

    Returns
    -------
    pandas.DataFrame
        One row per cell with the columns of :data:`COLUMNS` (values in nats;
        ``params`` and ``task_params`` as JSON text; missing numbers as NaN).

    Raises
    ------
    FileNotFoundError
        No database at ``db``.
    ValueError
        Corrupt or foreign database; unknown run.
    """
    store, owned = _open_existing(db)
    try:
        return store.load(run, estimators=estimators, tasks=tasks, ok=ok)
    finally:
        if owned:
            store.close()


def list_runs(db: str | os.PathLike | ResultsStore):
    """The runs in a results database: run_id, created, updated, base_seed, cells, failed, grid."""
    store, owned = _open_existing(db)
    try:
        return store.runs()
    finally:
        if owned:
            store.close()


def export_results(
    db: str | os.PathLike | ResultsStore,
    path: str | os.PathLike,
    run: str | None = None,
    *,
    format: str | None = None,
    **filters: Any,
) -> Path:
    """Write records to CSV or Parquet (``format`` from the suffix when None).

    Parquet needs ``pyarrow`` (``pip install 'infobench[parquet]'``); without it
    an ``ImportError`` says so before anything is written.
    """
    path = Path(path)
    fmt = format or path.suffix.lstrip(".").lower()
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be 'csv' or 'parquet' (or a path ending in .csv/.parquet); got {fmt!r}")
    if fmt == "parquet":
        require_pyarrow()
    df = load_results(db, run, **filters)
    with output_lock(path, kind="file"):
        write_frame(df, path, fmt)
    return path


def require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ImportError(
            "Parquet needs the pyarrow package, which is not installed: pip install 'infobench[parquet]'"
        ) from None


def write_frame(df, path: Path, fmt: str) -> None:
    """Write ``df`` as CSV or Parquet, atomically (a reader never sees half a file)."""
    if fmt == "csv":
        atomic_write(path, lambda fh: df.to_csv(fh, index=False), binary=False)
    else:
        require_pyarrow()
        atomic_write(path, lambda fh: df.to_parquet(fh, index=False))
