"""The committed example reports regenerate from their stated commands.

``reports/example/mi-standard/results.csv`` was written by the command in
``reports/README.md``. Every cell's seeds derive from the base seed and the
cell's identity (estimator, task, n, seed index), so running any slice of that
grid again must give the committed numbers bit for bit (up to float
formatting in the CSV). A change to an estimator that moves its numbers must
regenerate the example in the same commit; this test is what says so.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from infobench.bench import run_grid

EXAMPLE = Path(__file__).resolve().parents[1] / "reports" / "example" / "mi-standard" / "results.csv"
# A slice that exercises every estimator family of the example on a 1-d, a
# multivariate, a heavy-tailed and a discrete-continuous task at the smaller n.
TASKS = [
    "normal-dense-x1-y1-rho0.5",
    "normal-dense-x5-y5-rho0.5",
    "student-t-nu3-dense-x1-y1-rho0.5",
    "discrete-continuous-m10",
]


@pytest.fixture(scope="module")
def committed() -> pd.DataFrame:
    if not EXAMPLE.exists():
        pytest.fail(f"the committed example {EXAMPLE} is missing; regenerate it (reports/README.md)")
    # The report's CSVs name the unit of each amount (estimate_nats); older examples did not.
    return pd.read_csv(EXAMPLE).rename(columns=lambda c: c.removesuffix("_nats"))


@pytest.mark.slow
def test_mi_standard_example_regenerates(committed):
    wanted = committed[committed.task_id.isin(TASKS) & (committed.n == 1000) & (committed.seed == 0)]
    assert len(wanted) == len(TASKS) * committed.estimator.nunique()
    specs = ",".join(sorted(committed.estimator.unique()))
    fresh = run_grid(specs, TASKS, n=1000, seeds=1, jobs=0)
    key = ["estimator", "task_id", "n", "seed"]
    both = wanted.merge(fresh, on=key, suffixes=("_committed", "_now"))
    assert len(both) == len(wanted)
    # The same cells fail, with the same message (kde and gaussian refuse the integer side of the
    # discrete-continuous task), and the others give the same numbers.
    assert (both.ok_now == both.ok_committed).all(), both[["estimator", "task_id", "ok_now", "ok_committed"]]
    failed = ~both.ok_now.astype(bool)
    assert (both.error_now[failed] == both.error_committed[failed]).all()
    both = both[~failed]
    assert len(both) > 0
    # Same seeds, same code: the same numbers, to the CSV's float round trip.
    np.testing.assert_allclose(
        both.estimate_now,
        both.estimate_committed,
        rtol=1e-12,
        atol=1e-12,
        err_msg="estimates differ from reports/example/mi-standard: regenerate it",
    )
    np.testing.assert_allclose(
        both.std_err_now,
        both.std_err_committed,
        rtol=1e-12,
        atol=1e-12,
        err_msg="std errors differ from reports/example/mi-standard: regenerate it",
    )


def test_calibration_tables_regenerate_from_the_committed_csvs(tmp_path):
    # reports/example/calibration-n5000/tables.md is written by benchmarks.calibration_tables from the
    # CSVs beside it: the same CSVs must give the same tables.
    import shutil

    from benchmarks.calibration_tables import main

    folder = EXAMPLE.parents[1] / "calibration-n5000"
    for f in folder.glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    assert main([str(tmp_path)]) == 0
    assert (tmp_path / "tables.md").read_text(encoding="utf-8") == (folder / "tables.md").read_text(encoding="utf-8")


def test_calibration_tables_refuse_an_empty_folder(tmp_path, capsys):
    from benchmarks.calibration_tables import main

    with pytest.raises(SystemExit) as err:
        main([str(tmp_path)])
    assert err.value.code == 2
    assert f"no <method>-<suite>.csv calibration files in {tmp_path}" in capsys.readouterr().err
