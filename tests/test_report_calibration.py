"""The calibration table of the benchmark report: hand-built records with known answers."""

import math

import numpy as np
import pandas as pd
import pytest

from infobench.report.aggregate import calibration
from infobench.report.render import calibration_table, to_markdown
from infobench.report.writer import write_report


def _records():
    # Task t1: estimates 1, 2, 3, 4 (mean 2.5, sd sqrt(5/3)), truth 2, std_err 1 each.
    # Task t2: estimates 10, 12 (mean 11, sd sqrt(2)), truth 13, std_err 0.5 each; one failed cell.
    rows = [
        dict(
            estimator="ksg",
            quantity="mi",
            task_id="t1",
            n=100,
            truth=2.0,
            truth_std_err=0.0,
            estimate=v,
            std_err=1.0,
            ok=True,
        )
        for v in (1.0, 2.0, 3.0, 4.0)
    ]
    rows += [
        dict(
            estimator="ksg",
            quantity="mi",
            task_id="t2",
            n=100,
            truth=13.0,
            truth_std_err=0.0,
            estimate=v,
            std_err=0.5,
            ok=True,
        )
        for v in (10.0, 12.0)
    ]
    rows.append(
        dict(
            estimator="ksg",
            quantity="mi",
            task_id="t2",
            n=100,
            truth=13.0,
            truth_std_err=0.0,
            estimate=np.nan,
            std_err=np.nan,
            ok=False,
        )
    )
    # No standard errors: left out.
    rows += [
        dict(
            estimator="mine",
            quantity="mi",
            task_id="t1",
            n=100,
            truth=2.0,
            truth_std_err=0.0,
            estimate=v,
            std_err=np.nan,
            ok=True,
        )
        for v in (1.0, 2.0)
    ]
    return pd.DataFrame(rows)


def test_calibration_per_task_by_hand():
    cal = calibration(_records(), per_task=True)
    assert list(cal["task_id"]) == ["t1", "t2"]
    t1, t2 = cal.iloc[0], cal.iloc[1]
    assert t1["cells"] == 4 and t2["cells"] == 2
    assert t1["seed_sd"] == pytest.approx(math.sqrt(5 / 3))
    assert t1["ratio"] == pytest.approx(1 / math.sqrt(5 / 3))
    # |x - 2| <= 1.96: 1, 2, 3 in; 4 out.  |x - 2.5| <= 1.96: all in.
    assert t1["coverage_truth"] == 0.75 and t1["coverage_mean"] == 1.0
    # |x - 13| <= 0.98: none.  |x - 11| <= 0.98: none (both at distance 1).
    assert t2["coverage_truth"] == 0.0 and t2["coverage_mean"] == 0.0
    assert t2["ratio"] == pytest.approx(0.5 / math.sqrt(2))


def test_calibration_pools_within_task_spread():
    cal = calibration(_records())
    assert len(cal) == 1
    row = cal.iloc[0]
    assert (row["quantity"], row["estimator"], row["n"], row["tasks"], row["cells"]) == ("mi", "ksg", 100, 2, 6)
    # Pooled variance: (5 + 2) / (6 - 2); the truths' difference between tasks does not count.
    assert row["seed_sd"] == pytest.approx(math.sqrt(7 / 4))
    assert row["mean_std_err"] == pytest.approx(5 / 6)
    assert row["ratio"] == pytest.approx((5 / 6) / math.sqrt(7 / 4))
    assert row["coverage_truth"] == pytest.approx(3 / 6)
    assert row["coverage_mean"] == pytest.approx(4 / 6)


def test_truth_std_err_widens_the_truth_interval():
    df = _records()
    df.loc[df["task_id"] == "t2", "truth_std_err"] = 2.0
    t2 = calibration(df, per_task=True).iloc[1]
    # half width 1.96 sqrt(0.25 + 4) = 4.04: both estimates cover 13.
    assert t2["coverage_truth"] == 1.0


def test_coverage_uses_the_t_quantile_of_std_err_df():
    # t2's estimates lie 1 from its mean with std_err 0.5: outside 1.96 * 0.5 = 0.98, inside
    # t_{4; 0.975} * 0.5 = 2.776 * 0.5 = 1.39 (scipy.stats.t.ppf(0.975, 4)). t1 keeps no df: 1.96.
    df = _records().assign(std_err_df=np.nan)
    df.loc[df["task_id"] == "t2", "std_err_df"] = 4.0
    t1, t2 = calibration(df, per_task=True).iloc[:2].to_dict("records")
    assert t2["coverage_mean"] == 1.0 and t2["coverage_truth"] == 0.5  # 13 is 1 from 12 (in), 3 from 10 (out)
    assert t1["coverage_truth"] == 0.75 and t1["coverage_mean"] == 1.0  # as without the column
    # 30 df: the half width 2.042 * 0.5 = 1.02 still holds the mean 11 (distance 1).
    df.loc[df["task_id"] == "t2", "std_err_df"] = 30.0
    assert calibration(df, per_task=True).iloc[1]["coverage_mean"] == 1.0
    df.loc[df["task_id"] == "t2", "std_err_df"] = 1e9  # the normal limit: 0.98 < 1
    assert calibration(df, per_task=True).iloc[1]["coverage_mean"] == 0.0


def test_calibration_needs_std_err_column():
    with pytest.raises(ValueError, match=r"missing column\(s\) \['std_err'\]"):
        calibration(_records().drop(columns="std_err"))


def test_calibration_table_renders_and_marks():
    table = calibration_table(calibration(_records(), per_task=True))
    text = to_markdown(table)
    assert "Calibration of the standard errors" in text
    assert table.header[:4] == ["quantity", "estimator", "task", "n"]
    ratio_col = table.header.index("std_err / sd")
    # t1: ratio 0.775 (outside 0.8-1.25, not marked); coverage of the mean 1.00 (marked).
    assert table.rows[0][ratio_col] == "0.775" and not table.best[0][ratio_col]
    assert table.best[0][table.header.index("coverage of mean")]


def test_report_has_calibration_table(tmp_path):
    written = write_report(_records(), tmp_path, formats="md,csv")
    assert "Calibration of the standard errors" in (tmp_path / "report.md").read_text()
    assert tmp_path / "calibration.csv" in written["csv"]
    assert pd.read_csv(tmp_path / "calibration.csv")["cells"].tolist() == [6]
