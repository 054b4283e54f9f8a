"""The SQLite results store: runs, records, selections, exports, bad files."""

import builtins
import sqlite3

import numpy as np
import pandas as pd
import pytest

from infobench.bench import ResultsStore, export_results, list_runs, load_results
from infobench.bench.store import COLUMNS


def record(
    run_id="r1", key="a", estimator="ksg[k=3]", task="t1", n=100, seed=0, ok=True, estimate=0.5, std_err=0.1, index=0
):
    return {
        "run_id": run_id,
        "cell_key": key,
        "cell_index": index,
        "estimator": estimator,
        "method": estimator.split("[")[0],
        "quantity": "mi",
        "params": "{}",
        "task_id": task,
        "family": "normal",
        "task_params": "{}",
        "dim_x": 1,
        "dim_y": 1,
        "n": n,
        "seed": seed,
        "data_seed": 2**63 - 1,
        "estimator_seed": 5,
        "truth": 0.4,
        "truth_std_err": 0.0,
        "estimate": estimate if ok else None,
        "std_err": std_err,
        "seconds": 0.01,
        "ok": ok,
        "error": None if ok else "ValueError: boom",
    }


@pytest.fixture
def store(tmp_path):
    s = ResultsStore(tmp_path / "sub" / "results.db")
    s.ensure_run("r1", base_seed=0, grid={"estimators": ["ksg[k=3]"]})
    yield s
    s.close()


def test_records_round_trip_with_types_and_nan(store, tmp_path):
    store.add(record(key="b", index=1, std_err=float("nan")))
    store.add(record(key="a", index=0))
    store.add(record(key="c", index=2, ok=False, estimator="kde"))
    df = load_results(tmp_path / "sub" / "results.db", "r1")
    assert list(df.columns) == list(COLUMNS)
    assert list(df["cell_key"]) == ["a", "b", "c"]  # grid order, not insertion order
    assert df["ok"].dtype == bool and list(df["ok"]) == [True, True, False]
    assert df["data_seed"].iloc[0] == 2**63 - 1
    assert df["estimate"].iloc[0] == 0.5 and np.isnan(df["estimate"].iloc[2])
    assert np.isnan(df["std_err"].iloc[1])
    assert df.attrs["run_id"] == "r1"


def test_wal_mode_and_every_add_is_committed(store, tmp_path):
    store.add(record())
    # A second connection sees the record without any explicit commit or close.
    other = sqlite3.connect(tmp_path / "sub" / "results.db")
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert other.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 1
    other.close()


def test_finished_keys_and_replacing_a_failed_cell(store):
    store.add(record(key="a"))
    store.add(record(key="b", ok=False))
    assert store.finished("r1") == {"a", "b"}
    assert store.finished("r1", include_failed=False) == {"a"}
    store.add(record(key="b", ok=True, estimate=0.7))
    df = store.load("r1")
    assert len(df) == 2 and df.set_index("cell_key").loc["b", "estimate"] == 0.7


def test_many_runs_latest_and_selections(store):
    store.add(record(key="a", estimator="ksg[k=3]", task="t1"))
    store.add(record(key="b", estimator="kde", task="t2", ok=False))
    store.ensure_run("r2", base_seed=1, grid={})
    store.add(record(run_id="r2", key="a"))
    assert store.resolve_run("latest") == "r2"
    assert len(store.load(None)) == 3
    assert list(store.load("r1", estimators=["kde"])["cell_key"]) == ["b"]
    assert list(store.load("r1", tasks="t1")["cell_key"]) == ["a"]
    assert list(store.load("r1", ok=False)["cell_key"]) == ["b"]
    runs = list_runs(store)
    assert list(runs["run_id"]) == ["r1", "r2"] and list(runs["cells"]) == [2, 1] and list(runs["failed"]) == [1, 0]
    assert store.run_info("r2")["base_seed"] == 1


def test_reusing_a_run_with_another_base_seed_is_refused(store):
    assert store.ensure_run("r1", base_seed=0, grid={}) is False
    with pytest.raises(ValueError, match=r"run 'r1' in .* used base_seed=0; got base_seed=9"):
        store.ensure_run("r1", base_seed=9, grid={})
    with pytest.raises(ValueError, match="run must be a non-empty one-line name"):
        store.ensure_run("a\nb", base_seed=0, grid={})


def test_unknown_run_and_empty_database(tmp_path, store):
    with pytest.raises(ValueError, match=r"no run 'zzz' in .*; runs are \['r1'\]"):
        store.load("zzz")
    empty = ResultsStore(tmp_path / "empty.db")
    with pytest.raises(ValueError, match="holds no runs yet"):
        empty.load("latest")
    empty.close()


def test_record_without_identity_is_refused(store):
    bad = record()
    del bad["cell_key"]
    with pytest.raises(ValueError, match=r"a result record needs \['cell_key'\]"):
        store.add(bad)


def test_missing_corrupt_and_foreign_databases(tmp_path):
    with pytest.raises(FileNotFoundError, match="results database .*nope.db' does not exist"):
        load_results(tmp_path / "nope.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(ValueError, match="is not a readable infobench database"):
        load_results(junk)
    with pytest.raises(ValueError, match="is not a readable infobench database"):
        ResultsStore(junk)  # also when opening for writing
    foreign = tmp_path / "foreign.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(ValueError, match=r"SQLite database but not an infobench results database \(tables: \['t'\]\)"):
        load_results(foreign)
    blank = tmp_path / "blank.db"
    sqlite3.connect(blank).close()
    with pytest.raises(ValueError, match="empty SQLite database"):
        load_results(blank)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        ResultsStore(tmp_path)


def test_truncated_database_is_reported_not_crashed(tmp_path, store):
    for i in range(300):
        store.add(record(key=f"k{i}", index=i))
    store.close()
    path = tmp_path / "sub" / "results.db"
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    (tmp_path / "sub" / "results.db-wal").unlink(missing_ok=True)
    with pytest.raises(ValueError, match="not a readable infobench database"):
        load_results(path, "r1")


def test_export_csv_and_parquet(store, tmp_path):
    store.add(record(key="a"))
    store.add(record(key="b", ok=False))
    out = export_results(store, tmp_path / "out" / "r.csv", "r1")
    df = pd.read_csv(out)
    assert list(df["cell_key"]) == ["a", "b"] and list(df.columns) == list(COLUMNS)
    pytest.importorskip("pyarrow")
    pq = export_results(store, tmp_path / "r.parquet", "r1", ok=True)
    back = pd.read_parquet(pq)
    assert list(back["cell_key"]) == ["a"] and back["data_seed"].iloc[0] == 2**63 - 1
    with pytest.raises(ValueError, match=r"format must be 'csv' or 'parquet'.*got 'xlsx'"):
        export_results(store, tmp_path / "r.xlsx", "r1")


def test_parquet_without_pyarrow_says_how_to_install(store, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError("No module named 'pyarrow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(ImportError, match=r"Parquet needs the pyarrow package.*pip install 'infobench\[parquet\]'"):
        export_results(store, tmp_path / "r.parquet", "r1")
    assert not (tmp_path / "r.parquet").exists()


def test_std_err_df_round_trip_and_a_schema_2_database(store, tmp_path):
    db = tmp_path / "sub" / "results.db"
    store.add(record(key="a") | {"std_err_df": 27.0})
    store.add(record(key="b", index=1))  # no degrees of freedom: a normal quantile
    store.close()
    df = load_results(db, "r1")
    assert df["std_err_df"].iloc[0] == 27.0 and np.isnan(df["std_err_df"].iloc[1])
    # A database written before std_err_df existed (schema 2).
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE results DROP COLUMN std_err_df")
    con.execute("UPDATE meta SET value='2' WHERE key='schema'")
    con.commit()
    con.close()
    old = load_results(db, "r1")  # read as it is: the column is there, empty
    assert old["std_err_df"].isna().all() and len(old) == 2
    with ResultsStore(db) as migrated:  # opened for writing: migrated to schema 3
        migrated.add(record(key="c", index=2) | {"std_err_df": 20.0})
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == "3"
    con.close()
    assert list(load_results(db, "r1")["std_err_df"].fillna(-1)) == [-1, -1, 20.0]
