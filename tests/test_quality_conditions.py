"""The declared conditions of the quality scores: each rule at its threshold, its message, and where it shows.

The thresholds are those of :mod:`infobench.quality._conditions` (n <= d, k > n / 10, more than 1 % of the
rows); each is tested on both sides of its boundary, on feature sets built so that the count is exact.
"""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from infobench.commands.score import diagnostics_by_set
from infobench.diagnostics import Diagnostic, DiagnosticWarning
from infobench.quality import available_scores, score_features
from infobench.quality._conditions import (
    _copies,
    _shared,
    check_features,
    degenerate_columns,
    key_columns,
    row_groups,
)
from infobench.quality._core import ScoreSpec, register_group
from infobench.report.quality_tables import render, score_tables, to_json


def run(real, fake, scores, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticWarning)
        df = score_features(real, fake, scores=scores, **kw)
    return {r.score: r.diagnostics for r in df.itertuples()}


def codes(found, name, severity="warning"):
    return {d["code"] for d in found[name] if d["severity"] == severity}


def gauss(rng, n, d, shift=0.0):
    return rng.normal(shift, 1.0, size=(n, d))


def test_covariance_rank_at_n_equal_d(rng):
    d = 10
    at = run(gauss(rng, 40, d), gauss(rng, d, d), "fid,kid")
    assert codes(at, "fid") == {"covariance-rank"} and codes(at, "kid") == set()
    (diag,) = at["fid"]
    assert diag["subject"] == "fake" and "the fake set has 10 rows for 10 feature dimensions" in diag["message"]
    assert "pca=D / --pca D" in diag["message"]
    assert codes(run(gauss(rng, 40, d), gauss(rng, d + 1, d), "fid"), "fid") == set()


def test_neighbourhood_size_at_k_over_a_tenth(rng):
    # k=5 against the smaller set: 50 rows -> 5 = n/10, fine; 49 rows -> 5 > 4.9, doubtful.
    ok = run(gauss(rng, 80, 3), gauss(rng, 50, 3), "precision,kl_real_fake")
    assert codes(ok, "precision") == codes(ok, "kl_real_fake") == set()
    small = run(gauss(rng, 80, 3), gauss(rng, 49, 3), "precision,kl_real_fake")
    assert codes(small, "precision") == {"neighbourhood-size"}
    assert codes(small, "kl_real_fake") == set()  # reads knn_k=3 <= 4.9
    assert "k=5 exceeds 10% of the smaller set (49 rows)" in small["precision"][0]["message"]
    assert "use k <= 4" in small["precision"][0]["message"]
    assert codes(run(gauss(rng, 80, 3), gauss(rng, 49, 3), "kl_real_fake", knn_k=5), "kl_real_fake") == {
        "neighbourhood-size"
    }


def test_duplicate_rows_need_k_copies_of_over_one_percent(rng):
    fake = gauss(rng, 200, 3)
    fake[1:5] = fake[0]  # 5 equal rows: 4 copies each, fewer than k = 5
    assert codes(run(gauss(rng, 200, 3), fake, "precision"), "precision") == set()
    fake[5] = fake[0]  # 6 equal rows: 5 copies each, 3 % of the rows
    found = run(gauss(rng, 200, 3), fake, "precision,fid")
    assert codes(found, "precision") == {"duplicate-rows"} and codes(found, "fid") == set()
    assert "3.0% of the fake rows have 5 or more exact copies" in found["precision"][0]["message"]


def test_copied_rows_above_one_percent(rng):
    real, fake = gauss(rng, 200, 3), gauss(rng, 200, 3)
    fake[:2] = real[:2]  # 1 %: not above the threshold
    assert codes(run(real, fake, "fid"), "fid") == set()
    fake[2] = real[2]  # 1.5 %
    found = run(real, fake, "fid,precision,memorization,kid")
    assert codes(found, "fid") == codes(found, "precision") == codes(found, "kid") == {"copied-rows"}
    assert codes(found, "memorization") == set()  # it measures exactly this
    assert "3 of the 200 generated rows (1.5%) equal a real row" in found["fid"][0]["message"]
    # A separate training split is checked too.
    train = gauss(rng, 150, 3)
    fresh = gauss(rng, 200, 3)
    fresh[:10] = train[:10]
    assert codes(run(real, fresh, "fid", train=train), "fid") == {"copied-rows"}


def test_collapsed_generator_and_constant_reference(rng):
    real = gauss(rng, 60, 3)
    found = run(real, np.ones((60, 3)), "fid,precision,vendi")
    assert codes(found, "precision") == codes(found, "vendi") == {"collapsed-set"} and codes(found, "fid") == set()
    assert "all 60 generated feature rows are the same point" in found["precision"][0]["message"]
    with pytest.raises(ValueError, match="every one of the 60 real feature rows is the same point"):
        score_features(np.ones((60, 3)), real, scores="fid")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_features_are_refused(bad, rng):
    sets = {"real": gauss(rng, 30, 3), "fake": gauss(rng, 30, 3)}
    sets["fake"][4, 2] = bad
    import torch

    with pytest.raises(
        ValueError,
        match=r"fake features hold 1 non-finite value\(s\) \(NaN or inf; first at row 4, "
        r"column 2\)",
    ):
        check_features({}, {k: torch.from_numpy(v) for k, v in sets.items()}, None)


def test_reduced_precision_is_an_info_note(rng):
    found = run(gauss(rng, 80, 3).astype(np.float16), gauss(rng, 80, 3).astype(np.float16), "fid")
    assert codes(found, "fid") == set() and codes(found, "fid", "info") == {"reduced-precision"}


def test_constant_columns_leave_the_knn_density_scores_unchanged(rng):
    # A constant column adds 0 to every distance; counted in d it inflated kNN KL and the entropy gap by
    # d / (d - 1) (0.244 -> 0.304 here). It is left out of d: the values are those without the column.
    real, fake = gauss(rng, 200, 4), gauss(rng, 200, 4, 0.3)
    names = "kl_real_fake,kl_fake_real,entropy_gap,fid"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticWarning)
        plain = score_features(real, fake, scores=names)
        padded = score_features(
            np.column_stack([real, np.full(200, 2.0)]), np.column_stack([fake, np.full(200, 2.0)]), scores=names
        )
    np.testing.assert_allclose(padded["value"], plain["value"], rtol=1e-12)
    notes = dict(zip(padded["score"], padded["diagnostics"]))
    assert [d["code"] for d in notes["kl_real_fake"]] == ["degenerate-columns"]
    assert notes["kl_real_fake"][0]["severity"] == "info" and notes["fid"] == []
    assert (
        "1 feature column(s) are constant over every set and 0 repeat an earlier column (first: [4])"
        in notes["kl_real_fake"][0]["message"]
    )


def test_degenerate_columns_match_brute_force(rng):
    a, b = rng.integers(0, 3, size=(50, 12)).astype(float), rng.integers(0, 3, size=(40, 12)).astype(float)
    a[:, 3] = b[:, 3] = 1.0  # constant over both sets
    a[:, 7], b[:, 7] = a[:, 2], b[:, 2]  # a repeat of column 2
    a[:, 9] = a[:, 2]  # equal to column 2 in one set only: not a repeat
    a[:, 5] = 0.0  # constant in one set only
    constant, duplicated = degenerate_columns(a, b)
    assert constant.tolist() == [3] and duplicated.tolist() == [7]


def test_clean_features_gain_nothing(rng):
    found = run(gauss(rng, 120, 4), gauss(rng, 120, 4, 0.3), None)
    assert all(v == [] for v in found.values())


def test_row_groups_match_brute_force(rng):
    # Many constant columns (dead units), ties on the key columns, -0.0 against 0.0.
    a = rng.integers(0, 3, size=(300, 40)).astype(float)
    a[:, :30] = 0.0
    a[5] = a[7]
    a[9] = -0.0 * a[9]
    b = rng.integers(0, 3, size=(200, 40)).astype(float)
    b[:, :30] = 0.0
    b[3] = a[11]
    brute = np.array([sum((a[i] == a[j]).all() for j in range(300) if j != i) for i in range(300)])
    np.testing.assert_array_equal(_copies(row_groups(a, key_columns(a))), brute)
    shared = sum(any((a[i] == b[j]).all() for j in range(200)) for i in range(300))
    assert _shared(a, b, key_columns(a, b)) == shared > 0


def test_every_score_declares_known_conditions():
    table = available_scores().set_index("name")
    assert "covariance-rank" in table.loc["fid", "conditions"]
    assert "neighbourhood-size" in table.loc["precision", "conditions"]
    spec = ScoreSpec(
        name="tt_bad_condition",
        label="bad",
        direction="up",
        unit="",
        family="standard",
        needs="features",
        bootstrap="split",
        group="tt_bad",
        summary="a score declaring a condition nobody checks",
        conditions=("no-such-condition",),
    )
    with pytest.raises(ValueError, match="score 'tt_bad_condition' declares unknown condition 'no-such-condition'"):
        register_group("tt_bad", [spec])(lambda ctx, names: {})


# ---------------------------------------------------------------- where the diagnostics show
DOUBT = Diagnostic("copied-rows", "copied", subject="real").to_dict()
NOTE = Diagnostic("reduced-precision", "half", subject="fake", severity="info").to_dict()


def frame():
    rows = []
    for fake, diags in (("a", [DOUBT]), ("b", [NOTE]), ("c", [])):
        for name, value in (("fid", 1.0), ("precision", 0.5)):
            rows.append(
                {
                    "fake": fake,
                    "source": "array",
                    "score": name,
                    "value": value,
                    "ci_low": np.nan,
                    "ci_high": np.nan,
                    "bootstrap": 0,
                    "unit": "fraction" if name == "precision" else "",
                    "family": "standard",
                    "n_fake": 50,
                    "n_real": 50,
                    "level": 0.95,
                    "note": "",
                    "diagnostics": diags if name == "fid" or fake != "a" else [],
                }
            )
    return pd.DataFrame(rows)


def test_tables_flag_doubts_only_and_name_their_codes():
    (table,) = score_tables(frame())
    cells = {row[0]: row[2:] for row in table.rows}
    assert cells["a"][0].endswith("†") and not cells["a"][1].endswith("†")
    assert not any(c.endswith("†") for c in cells["b"] + cells["c"])  # an info note is never flagged
    assert "a: copied-rows(real)" in table.note and "reduced-precision" not in table.note
    for fmt in ("md", "csv", "html"):
        assert "†" in render([table], fmt)
    assert r"\dag{}" in render([table], "tex")
    old = frame().drop(columns="diagnostics")  # frames saved before the column existed
    assert "†" not in render(list(score_tables(old)), "md")


def test_json_keeps_the_diagnostics_and_the_cli_groups_them():
    df = frame()
    records = json.loads(to_json(df))["scores"]
    assert records[0]["diagnostics"] == [DOUBT]
    grouped = diagnostics_by_set(df)
    assert [(fake, d.code, names) for fake, d, names in grouped] == [
        ("a", "copied-rows", ["fid"]),
        ("b", "reduced-precision", ["fid", "precision"]),
    ]


def test_a_kl_score_wholly_below_zero_is_doubted():
    # 32-d Gaussians whose scales differ column by column: D(real || gen) is sum (s^2 - 1 - log s^2) / 2 > 0
    # for every column scale s != 1 (7.4 nats here), but the kNN estimate at n = 600 reads -0.99 [-1.18, -0.80],
    # its whole interval below 0: the estimator's bias in 32 dimensions, which the diagnostic names.
    rng = np.random.default_rng(0)
    scales = np.linspace(0.5, 2.0, 32)
    real, fake = rng.normal(size=(600, 32)) * scales, rng.normal(size=(600, 32))
    with pytest.warns(DiagnosticWarning, match="below-zero"):
        df = score_features(real, fake, scores="kl_real_fake,kl_fake_real", n_boot=40, seed=0, device="cpu")
    low = df.set_index("score").loc["kl_real_fake"]
    assert low["ci_high"] < 0
    assert [d["code"] for d in low["diagnostics"]] == ["below-zero"]
    assert "wholly below 0" in low["diagnostics"][0]["message"]
    assert not df.set_index("score").loc["kl_fake_real", "diagnostics"]


def test_kl_scores_of_one_distribution_are_not_doubted():
    # Two samples of one distribution: the kNN KL scores scatter about 0 and their intervals hold it.
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(600, 4)), rng.normal(size=(600, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DiagnosticWarning)
        df = score_features(real, fake, scores="kl_real_fake,kl_fake_real", n_boot=40, seed=0, device="cpu")
    assert df["diagnostics"].map(len).eq(0).all()
