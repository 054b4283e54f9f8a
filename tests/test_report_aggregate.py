"""Aggregations on hand-built frames: every number computed by hand in the test."""

import math

import numpy as np
import pandas as pd
import pytest

from infobench.report import best_mask, leaderboard, leaderboard_table, samples_needed, summarize, to_units


def frame(rows):
    """rows: (estimator, task, n, truth, estimate or None for a failure, std_err)"""
    out = []
    for i, (e, t, n, truth, est, se) in enumerate(rows):
        out.append(
            {
                "estimator": e,
                "method": e.split("[")[0],
                "task_id": t,
                "family": "fam",
                "n": n,
                "seed": i,
                "truth": truth,
                "truth_std_err": 0.0,
                "estimate": np.nan if est is None else est,
                "std_err": np.nan if se is None else se,
                "seconds": 0.1 * (i + 1),
                "ok": est is not None,
            }
        )
    return pd.DataFrame(out)


def test_summary_statistics_by_hand():
    df = frame(
        [
            ("a", "t", 100, 1.0, 0.9, 0.05),
            ("a", "t", 100, 1.0, 1.1, 0.2),
            ("a", "t", 100, 1.0, 1.3, 0.1),
            ("a", "t", 100, 1.0, None, None),  # a failure: counted in failure_rate only
        ]
    )
    s = summarize(df).iloc[0]
    assert (s["cells"], s["failed"], s["failure_rate"]) == (4, 1, 0.25)
    assert s["mean_estimate"] == pytest.approx(1.1)
    assert s["bias"] == pytest.approx(0.1)
    assert s["std"] == pytest.approx(0.2)  # deviations -0.2, 0, 0.2: var = 0.08 / 2
    assert s["rmse"] == pytest.approx(math.sqrt((0.01 + 0.01 + 0.09) / 3))
    assert s["mean_log2_ratio"] == pytest.approx(np.mean(np.log2([0.9, 1.1, 1.3])))
    # |error| <= 1.96 se: 0.1 > 0.098 (no), 0.1 <= 0.392 (yes), 0.3 > 0.196 (no).
    assert s["coverage"] == pytest.approx(1 / 3)
    assert s["mean_std_err"] == pytest.approx((0.05 + 0.2 + 0.1) / 3)
    assert s["median_seconds"] == pytest.approx(0.2)  # seconds 0.1, 0.2, 0.3 of the ok cells


def test_coverage_widens_with_the_truths_monte_carlo_error():
    df = frame([("a", "t", 100, 1.0, 0.9, 0.05)])
    assert summarize(df)["coverage"].iloc[0] == 0.0
    df["truth_std_err"] = 0.02  # 1.96 * sqrt(0.05^2 + 0.02^2) = 0.1056 >= 0.1
    assert summarize(df)["coverage"].iloc[0] == 1.0


def test_coverage_is_nan_without_standard_errors_and_uses_only_cells_that_have_one():
    df = frame([("a", "t", 100, 1.0, 0.9, None), ("a", "t", 100, 1.0, 1.1, None)])
    assert np.isnan(summarize(df)["coverage"].iloc[0])
    df = frame([("a", "t", 100, 1.0, 0.9, None), ("a", "t", 100, 1.0, 1.01, 0.1)])
    assert summarize(df)["coverage"].iloc[0] == 1.0


def test_log_ratio_is_nan_for_zero_truth_and_non_positive_estimates():
    df = frame(
        [
            ("a", "zero", 100, 0.0, 0.01, None),
            ("a", "zero", 100, 0.0, -0.02, None),
            ("a", "neg", 100, 1.0, 0.5, None),
            ("a", "neg", 100, 1.0, -0.1, None),
            ("a", "negtruth", 100, -1.0, -1.1, None),
        ]
    )
    s = summarize(df).set_index("task_id")
    assert s["mean_log2_ratio"].isna().all()
    assert s.loc["zero", "log2_ratio_undefined"] == 2
    assert s.loc["neg", "log2_ratio_undefined"] == 1
    assert s.loc["negtruth", "log2_ratio_undefined"] == 1
    # The other statistics stay defined (and unclipped).
    assert s.loc["zero", "mean_estimate"] == pytest.approx(-0.005)
    assert s.loc["neg", "bias"] == pytest.approx(0.2 - 1.0)


def test_all_failed_group_and_single_cell_group():
    df = frame([("a", "t", 100, 1.0, None, None), ("b", "t", 100, 1.0, 1.2, None)])
    s = summarize(df).set_index("estimator")
    assert s.loc["a", "failure_rate"] == 1.0 and np.isnan(s.loc["a", "mean_estimate"])
    assert np.isnan(s.loc["a", "rmse"]) and np.isnan(s.loc["a", "median_seconds"])
    assert np.isnan(s.loc["b", "std"]) and s.loc["b", "rmse"] == pytest.approx(0.2)


def test_order_follows_first_appearance_and_n_ascending():
    df = frame([("z", "t2", 500, 1, 1, None), ("a", "t2", 100, 1, 1, None), ("z", "t1", 100, 2, 2, None)])
    s = summarize(df)
    assert list(zip(s["task_id"], s["n"], s["estimator"])) == [("t2", 100, "a"), ("t2", 500, "z"), ("t1", 100, "z")]


def test_inconsistent_truths_and_missing_columns_are_errors():
    df = frame([("a", "t", 100, 1.0, 1.0, None), ("a", "t", 100, 2.0, 1.0, None)])
    with pytest.raises(ValueError, match=r"task 't' has several truths in the results: \[1.0, 2.0\]"):
        summarize(df)
    with pytest.raises(ValueError, match=r"results are missing column\(s\) \['estimate'\]"):
        summarize(df.drop(columns=["estimate"]))
    with pytest.raises(TypeError, match="results must be a pandas DataFrame; got list"):
        summarize([])
    assert summarize(df.iloc[:0]).empty


def test_samples_needed():
    df = frame(
        [
            # truth 1: means 2.0 (x2: out), 1.2 (in), 1.1 (in) -> 1000
            ("a", "t", 100, 1.0, 2.0, None),
            ("a", "t", 1000, 1.0, 1.2, None),
            ("a", "t", 10000, 1.0, 1.1, None),
            # in, out, in -> only the largest n
            ("b", "t", 100, 1.0, 1.1, None),
            ("b", "t", 1000, 1.0, 0.6, None),
            ("b", "t", 10000, 1.0, 0.9, None),
            # fails at the largest n -> NaN; the boundary 1.5 itself is out (strict inequality)
            ("c", "t", 100, 1.0, 1.0, None),
            ("c", "t", 1000, 1.0, 1.0, None),
            ("c", "t", 10000, 1.0, 1.5, None),
            # all failed at the largest n -> NaN
            ("d", "t", 100, 1.0, 1.0, None),
            ("d", "t", 1000, 1.0, 1.0, None),
            ("d", "t", 10000, 1.0, None, None),
            # truth 0 -> NaN
            ("e", "z", 100, 0.0, 0.0, None),
        ]
    )
    out = samples_needed(summarize(df)).set_index("estimator")
    assert out.loc["a", "samples_needed"] == 1000
    assert out.loc["b", "samples_needed"] == 10000
    assert np.isnan(out.loc["c", "samples_needed"])
    assert np.isnan(out.loc["d", "samples_needed"])
    assert np.isnan(out.loc["e", "samples_needed"])
    assert out.loc["a", "max_n"] == 10000
    # A looser factor: 2.0 / 1 is still not < 2, 1.5 is.
    loose = samples_needed(summarize(df), factor=2.0).set_index("estimator")
    assert loose.loc["c", "samples_needed"] == 100 and loose.loc["a", "samples_needed"] == 1000
    with pytest.raises(ValueError, match=r"factor must be a finite number > 1; got 1"):
        samples_needed(summarize(df), factor=1)


def test_best_mask_directions_ties_and_nan():
    values = pd.DataFrame({"x": [0.9, -0.1, np.nan], "y": [0.99, 0.1, 3.0], "z": [0.5, 0.3, np.nan]})
    cov = best_mask(values, "coverage")
    assert cov.values.tolist()[0] == [False, True, False]  # 0.99 is 0.04 from 0.95, 0.9 is 0.05
    bias = best_mask(values, "bias")
    assert bias.values.tolist()[1] == [True, True, False]  # |-0.1| ties |0.1|
    assert bias.values.tolist()[2] == [False, True, False]  # NaN is never best
    est = best_mask(values, "mean_estimate", truth=pd.Series([0.45, 0.2, 1.0]))
    assert est.values.tolist()[0] == [False, False, True] and est.values.tolist()[1] == [False, False, True]
    rmse = best_mask(values.abs(), "rmse")
    assert rmse.values.tolist()[0] == [False, False, True]
    assert best_mask(pd.DataFrame({"a": [np.nan]}), "rmse").values.tolist() == [[False]]


def test_leaderboard_ranks_each_task_at_its_largest_n():
    df = frame(
        [
            # task t1 (largest n 1000): RMSE a=0.1, b=0.3, c fails -> ranks a 1, b 2, c 3
            ("a", "t1", 100, 1.0, 5.0, None),
            ("a", "t1", 1000, 1.0, 1.1, 0.2),
            ("b", "t1", 1000, 1.0, 1.3, None),
            ("c", "t1", 1000, 1.0, None, None),
            # task t2 (largest n 50): a and b tie (RMSE 0.25, exact in binary) -> 1.5 each; c 3
            ("a", "t2", 50, 2.0, 2.25, None),
            ("b", "t2", 50, 2.0, 1.75, None),
            ("c", "t2", 50, 2.0, 3.0, None),
        ]
    )
    board = leaderboard(summarize(df)).set_index("estimator")
    assert list(board.index) == ["a", "b", "c"]
    assert board.loc["a", "mean_rank"] == pytest.approx((1 + 1.5) / 2)
    assert board.loc["b", "mean_rank"] == pytest.approx((2 + 1.5) / 2)
    assert board.loc["c", "mean_rank"] == 3.0
    assert (board.loc["a", "wins"], board.loc["b", "wins"], board.loc["c", "wins"]) == (2, 1, 0)
    assert board.loc["a", "mean_abs_log2_ratio"] == pytest.approx((math.log2(1.1) + math.log2(2.25 / 2)) / 2)
    assert board.loc["a", "coverage"] == 1.0 and np.isnan(board.loc["b", "coverage"])
    assert board.loc["c", "failure_rate"] == pytest.approx(0.5) and board.loc["a", "failure_rate"] == 0.0
    assert board.loc["a", "tasks"] == 2
    by_bias = leaderboard(summarize(df), rank_by="bias").set_index("estimator")
    assert by_bias.loc["a", "mean_rank"] == pytest.approx(1.25)  # one cell per group: |bias| = RMSE
    with pytest.raises(ValueError, match="rank_by must be one of"):
        leaderboard(summarize(df), rank_by="nope")


def test_leaderboard_ranks_entropy_and_mi_estimators_apart():
    # kde serves both quantities: it gets one row per quantity, ranked only
    # against the estimators of that quantity's tasks.
    df = frame(
        [
            ("kde", "h1", 100, 1.0, 1.05, None),
            ("knn", "h1", 100, 1.0, 1.01, None),  # entropy: knn 1, kde 2
            ("kde", "m1", 100, 0.5, 0.51, None),
            ("ksg", "m1", 100, 0.5, 0.6, None),  # MI: kde 1, ksg 2
            ("ksg", "m2", 100, 0.5, 0.45, None),  # MI: ksg alone, 1
        ]
    )
    df["quantity"] = ["entropy", "entropy", "mi", "mi", "mi"]
    board = leaderboard(summarize(df))
    assert board[["quantity", "estimator"]].values.tolist() == [
        ["entropy", "knn"],
        ["entropy", "kde"],
        ["mi", "kde"],
        ["mi", "ksg"],
    ]
    assert board["mean_rank"].tolist() == [1.0, 2.0, 1.0, 1.5]
    assert board["tasks"].tolist() == [1, 1, 1, 2]
    assert board["wins"].tolist() == [1, 0, 1, 1]
    table = leaderboard_table(board)
    assert table.header[:3] == ["quantity", "estimator", "tasks"] and table.labels == 3
    # best values are marked once per quantity (smallest |log2 ratio|: knn, kde) ...
    assert [row[5] for row in table.best] == [True, False, True, False]
    # ... but not the best rank: one task per quantity (kde has no cell on m2) is too few to test a ranking
    assert [row[3] for row in table.best] == [False] * 4
    assert "entropy: significance test not applicable (1 complete block, needs at least 2)" in table.note


def test_units_conversion_only_touches_amounts_of_information():
    s = summarize(frame([("a", "t", 100, 1.0, 0.9, 0.05), ("a", "t", 100, 1.0, 1.1, 0.05)]))
    bits = to_units(s, "bits")
    assert bits["mean_estimate"].iloc[0] == pytest.approx(1.0 / math.log(2))
    assert bits["rmse"].iloc[0] == pytest.approx(0.1 / math.log(2))
    assert bits["coverage"].iloc[0] == s["coverage"].iloc[0]
    assert bits["mean_log2_ratio"].iloc[0] == s["mean_log2_ratio"].iloc[0]
    assert to_units(s, "nats") is s
    with pytest.raises(ValueError, match="units must be 'nats' or 'bits'; got 'bans'"):
        to_units(s, "bans")


def test_leaderboard_never_ranks_an_estimator_whose_cells_all_failed():
    # "z" fails on every task (e.g. ksg[k=0]): it used to rank first when it was alone, and it must
    # never take a rank, a win or a place above an estimator that produced numbers.
    df = frame(
        [
            ("z", "t1", 100, 1.0, None, None),
            ("z", "t1", 100, 1.0, None, None),
            ("a", "t1", 100, 1.0, 1.2, None),
            ("z", "t2", 100, 1.0, None, None),
        ]
    )
    board = leaderboard(summarize(df)).set_index("estimator")
    assert list(board.index) == ["a", "z"]
    assert board.loc["a", "mean_rank"] == 1.0 and board.loc["a", "wins"] == 1
    assert np.isnan(board.loc["z", "mean_rank"]) and board.loc["z", "wins"] == 0
    assert board.loc["z", "failure_rate"] == 1.0 and board.loc["z", "tasks"] == 2
    alone = leaderboard(summarize(df[df["estimator"] == "z"]))
    assert np.isnan(alone["mean_rank"].iloc[0]) and alone["wins"].iloc[0] == 0
    table = leaderboard_table(alone)
    assert table.rows[0][2] == "n/a" and not any(table.best[0])
    assert "every cell of the estimator failed, so it is not ranked" in table.note


def _with_diagnostics(df, texts):
    return df.assign(diagnostics=texts)


def test_summary_counts_doubtful_cells_and_names_their_codes():
    doubt = '[{"code": "ties", "message": "m", "severity": "warning", "subject": "x[0]"}]'
    both = (
        '[{"code": "ties", "message": "m", "severity": "warning", "subject": "x[0]"}, '
        '{"code": "extreme-values", "message": "m", "severity": "warning", "subject": "y[1]"}]'
    )
    note = '[{"code": "routed", "message": "m", "severity": "info", "subject": ""}]'
    df = _with_diagnostics(
        frame(
            [
                ("a", "t", 100, 1.0, 0.9, 0.05),
                ("a", "t", 100, 1.0, 1.1, 0.05),
                ("a", "t", 100, 1.0, 1.0, 0.05),
                ("a", "t", 100, 1.0, None, None),
                ("b", "t", 100, 1.0, 1.0, 0.05),
                ("b", "t", 100, 1.0, 1.0, 0.05),
            ]
        ),
        [doubt, both, "[]", None, note, None],
    )
    s = summarize(df).set_index("estimator")
    # Successful cells only: the failed cell's (missing) diagnostics do not count.
    assert s.loc["a", "doubtful"] == 2 and s.loc["a", "diagnostics"] == "ties(x[0]); extreme-values(y[1])"
    assert s.loc["b", "doubtful"] == 0 and s.loc["b", "diagnostics"] == ""  # info is no doubt; NULL is none
    assert leaderboard(summarize(df)).set_index("estimator")["doubtful"].to_dict() == {"a": 2, "b": 0}
    assert samples_needed(summarize(df)).set_index("estimator")["doubtful"].to_dict() == {"a": 2, "b": 0}
    from infobench.report.aggregate import calibration

    df["quantity"] = "mi"
    assert calibration(df).set_index("estimator")["doubtful"].to_dict() == {"a": 2, "b": 0}
    # Records without the column (older databases, hand-built frames) have no doubts.
    assert summarize(frame([("a", "t", 100, 1.0, 0.9, 0.05)]))["doubtful"].tolist() == [0]
