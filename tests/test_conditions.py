"""Validity conditions: the column profile, the declared conditions and what every estimator does when its data
do not meet them (refuse with the reason and the fix, or return the number with a diagnostic).

Each awkward input is built from a clean sample whose estimate is known, so the tolerances below are those of
the estimator on the clean sample (stated where used); an input the condition repairs (dithering, robust noise)
must land within them.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import infobench
from infobench import DiagnosticWarning
from infobench._validation import check_samples, profile_columns
from infobench.cli import main
from infobench.estimators import available
from infobench.estimators._conditions import CONDITIONS, declared, requires
from infobench.estimators.base import _REGISTRY, methods_for

RHO = 0.75
MI_RHO = -0.5 * math.log(1 - RHO**2)  # 0.4134 nats
H_NORMAL = 0.5 * math.log(2 * math.pi * math.e)  # 1.4189 nats


def pair(n=2000, seed=0, rho=RHO):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    return x, rho * x + math.sqrt(1 - rho**2) * rng.standard_normal(n)


def codes(est):
    return [(d.code, d.severity) for d in est.diagnostics]


# ------------------------------------------------------------------ the profile
def test_profile_counts_ties_grid_and_quartiles():
    rng = np.random.default_rng(0)
    z = rng.standard_normal(1000)
    data = torch.from_numpy(np.column_stack([z, np.round(z, 1), rng.integers(0, 3, 1000).astype(float)]))
    clean, rounded, labels = profile_columns(data, ["a", "b", "c"], [2.0**-52] * 3)
    assert (clean.distinct, clean.singletons, clean.step) == (1000, 1000, 0.0)
    q25, q75 = np.percentile(z, [25, 75])
    assert clean.iqr == pytest.approx(q75 - q25, abs=1e-15) and clean.median == pytest.approx(np.median(z))
    assert rounded.step == pytest.approx(0.1, abs=1e-12) and rounded.distinct == len(np.unique(np.round(z, 1)))
    # The grouped quartiles of rounded values are within a fraction of a step of the raw ones.
    assert rounded.iqr == pytest.approx(q75 - q25, abs=0.05)
    assert labels.step == 1.0 and labels.distinct == 3 and labels.singletons == 0
    # The numeric resolution at the bulk: float64 spacing near 0.67 (quartile magnitude), 2^-53.
    assert clean.resolution == pytest.approx(2.0**-53)


def test_profile_sees_the_input_types_resolution():
    z = np.random.default_rng(1).standard_normal(3000)
    s = check_samples(torch.from_numpy(z).to(torch.bfloat16), device="cpu")
    p = s.profile()[0]
    assert s.source_eps == [2.0**-7] and p.tied_rows > 1000
    assert p.resolution == pytest.approx(2.0**-8)  # bfloat16 spacing in [0.5, 1)


def test_whole_number_measurements_are_not_categories():
    _x, y = pair()
    mm = np.round(1000 * y).astype(np.int64)
    assert not check_samples(mm, device="cpu").discrete  # ~1,500 distinct values, most seen once
    assert not check_samples(np.round(1000 * pair(50_000)[1]).astype(int), device="cpu").discrete  # 1,000 steps / sd
    assert not check_samples(np.arange(50), device="cpu").discrete
    assert check_samples(np.random.default_rng(0).integers(0, 5, 2000), device="cpu").discrete
    assert check_samples([1, 2, 3], device="cpu").discrete  # too few values to call a measurement
    frame = pd.DataFrame({"label": np.arange(2000) % 3, "mm": mm, "m": y})
    s = check_samples(frame, device="cpu")
    assert s.column_discrete == [True, False, False] and not s.discrete


def test_centring_before_a_precision_losing_cast():
    z = np.random.default_rng(2).standard_normal(2000)
    s = check_samples(1e9 + 1e-3 * z, device="cpu", dtype="float32")
    assert s.offset is not None and s.offset[0] == pytest.approx(1e9)
    # float32(1e9) has a spacing of 64: without the centring every value would be the same.
    assert float(s.data.std()) == pytest.approx(1e-3 * z.std(ddof=1), rel=1e-4)
    assert check_samples(1e9 + 1e-3 * z, device="cpu").offset is None  # no cast, nothing subtracted
    big = np.int64(2**60) + np.arange(100)
    assert check_samples(big, device="cpu").data[:, 0].diff().eq(1).all()  # exact after centring


def test_estimates_in_float32_keep_a_small_spread_on_a_large_offset():
    x, _y = pair(2000, 3)
    p, q = np.random.default_rng(4).normal(size=(2, 2000, 1))
    base_h = infobench.entropy(1e-3 * x, "knn", seed=0).value
    # float32 resolution after centring: 1e-3 / 2^24, far below the neighbour distances.
    assert infobench.entropy(1e9 + 1e-3 * x, "knn", seed=0, dtype="float32").value == pytest.approx(base_h, abs=0.01)
    base_kl = infobench.kl_divergence(p, q + 1, "knn", seed=0).value
    kl32 = infobench.kl_divergence(1e9 + p, 1e9 + q + 1, "knn", seed=0, dtype="float32").value
    assert kl32 == pytest.approx(base_kl, abs=0.01)  # one centre for p and q


def test_ragged_and_header_only_inputs_name_the_parameter():
    with pytest.raises(
        ValueError,
        match=r"x is a ragged sequence: its rows have different lengths \[1, 2\]; every "
        r"row must hold the same number of values",
    ):
        infobench.entropy([[1.0, 2.0], [3.0]] * 50, "knn")
    with pytest.raises(
        ValueError,
        match=r"y must not be empty; got shape \(0, 1\) \(a DataFrame with columns \['b'\] "
        r"and no rows\)",
    ):
        check_samples(pd.DataFrame({"b": pd.Series([], dtype=object)}), "y", device="cpu")


def test_constant_in_a_coarse_type_says_the_type_rounded_it():
    z = np.random.default_rng(5).standard_normal(500)
    with pytest.raises(
        ValueError,
        match=r"x column 0 is constant \(every value is 1e\+09\); .* if it varied by less "
        r"than 64, its type \(epsilon 1.19e-07\) rounded that away",
    ):
        infobench.entropy((1e9 + z).astype(np.float32), "knn")


# ------------------------------------------------------------- declarations
def test_every_declared_condition_is_in_the_catalogue_and_listed():
    for (quantity, name), info in _REGISTRY.items():
        assert set(info.conditions) <= set(CONDITIONS), (quantity, name)
        assert info.conditions == declared(info.function)
    table = available().set_index(["quantity", "method"])
    assert {"categories", "quantised", "duplicates"} <= set(table.loc[("entropy", "knn"), "conditions"])
    assert "shared-rows" in table.loc[("kl", "knn"), "conditions"]
    assert "saturated" in table.loc[("mi", "ksg"), "conditions"]
    for quantity in ("entropy", "mi", "kl"):
        for method in methods_for(quantity):
            info = _REGISTRY[(quantity, method)]
            if info.function.__module__.startswith("infobench."):
                assert info.conditions, f"{quantity}/{method} declares no condition"
    with pytest.raises(ValueError, match=r"unknown condition 'nope'; declared conditions are \["):
        requires("nope")


# ------------------------------------------------- one extreme row (case 1)
def test_one_extreme_row_does_not_steer_the_knn_estimators():
    x, y = pair(2000, 0)
    xo = x.copy()
    xo[0] = 1e12
    ref = infobench.mutual_information(x[1:], y[1:], "ksg", seed=1).value
    got = infobench.mutual_information(xo, y, "ksg", seed=1)
    # One row of 2,000 moves KSG by at most ~(psi terms of one point) / n: 0.402 and 0.402 measured.
    assert got.value == pytest.approx(ref, abs=0.01) and not got.diagnostics
    ref_h = infobench.entropy(x[1:], "knn", seed=1).value
    got_h = infobench.entropy(xo, "knn", seed=1).value
    # The row's own term is log(1e12) / n = 0.014 nats; 1.437 -> 1.455 measured.
    assert got_h - ref_h == pytest.approx(math.log(1e12) / 2000, abs=0.01)
    rng = np.random.default_rng(0)
    p, q = rng.standard_normal((2000, 1)), rng.standard_normal((2000, 1)) + 1
    ref_kl = infobench.kl_divergence(p, q, "knn", seed=1).value
    p[0] = 1e12
    assert infobench.kl_divergence(p, q, "knn", seed=1).value == pytest.approx(ref_kl, abs=0.01)


def test_a_fill_value_does_not_steer_auto():
    x, y = pair(2000, 0)
    clean_h = infobench.entropy(x, "auto", seed=0)
    fill = infobench.entropy(np.r_[x, 9.97e36], "auto", seed=0)
    # Kozachenko-Leonenko: the fill value adds its own term, log(9.97e36 / r) / n ~ 0.04.
    assert fill.value == pytest.approx(H_NORMAL, abs=0.1) and abs(fill.value - clean_h.value) < 0.1
    mi = infobench.mutual_information(np.r_[x, 9.97e36], np.r_[y, 0.0], "auto", seed=0)
    assert mi.value == pytest.approx(MI_RHO, abs=0.06)  # KSG sd at n = 2,000: ~0.02


def test_extreme_rows_are_robust_on_the_brute_force_path_too():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 12))
    y = 0.5 * x + rng.normal(size=(2000, 12))
    x[0] = 1e12
    brute = infobench.mutual_information(x, y, "ksg", seed=0, algorithm="brute").value
    assert brute == pytest.approx(infobench.mutual_information(x, y, "ksg", seed=0, algorithm="tree").value, abs=1e-12)


@pytest.mark.parametrize("method", ["kde", "gaussian"])
def test_covariance_based_estimators_flag_extreme_values(method):
    x, _ = pair(2000, 0)
    with pytest.warns(
        DiagnosticWarning,
        match=r"\[extreme-values\] \(x\[0\]\) x\[0\] has a standard deviation "
        r"\d.*times its robust scale",
    ):
        est = infobench.entropy(np.r_[x, 1e12], method)
    assert ("extreme-values", "warning") in codes(est)


def test_range_rules_stretched_by_an_extreme_row_are_refused():
    x, _ = pair(2000, 0)
    with pytest.raises(
        ValueError,
        match=r"x\[0\] is cut into bins 8.33e\+10 wide, .* times its robust sd .* use "
        r"bins='fd'",
    ):
        infobench.entropy(np.r_[x, 1e12], "histogram", bins="sturges")
    # The IQR-based rule is not stretched: 1.42 (truth 1.419 plus the row's share).
    assert infobench.entropy(np.r_[x, 1e12], "histogram").value == pytest.approx(H_NORMAL, abs=0.05)


# ------------------------------------------------------- shared rows (case 2)
def test_rows_shared_by_p_and_q_are_refused():
    p = np.random.default_rng(5).standard_normal((2000, 2))
    for q in (p.copy(), np.vstack([p, np.random.default_rng(6).standard_normal((500, 2))])):
        with pytest.raises(
            ValueError,
            match=r"2000 rows shared by p and q \(100.0% of p\): the kNN divergence needs "
            r"independent samples.*drop the shared rows from q",
        ):
            infobench.kl_divergence(p, q, "knn", seed=0)


def test_one_shared_row_is_a_doubt_and_grids_are_not_copies():
    rng = np.random.default_rng(7)
    p, q = rng.standard_normal((2000, 2)), rng.standard_normal((2000, 2)) + 0.5
    with pytest.warns(DiagnosticWarning, match=r"\[shared-rows\] \(q\) 1 rows shared by p and q \(0.1% of p\)"):
        est = infobench.kl_divergence(p, np.vstack([q, p[:1]]), "knn", seed=0)
    assert ("shared-rows", "warning") in codes(est)
    # Values rounded to 0.1 repeat in both samples without being copies.
    rounded = infobench.kl_divergence(np.round(p, 1), np.round(q, 1), "knn", seed=0)
    assert "shared-rows" not in [c for c, _ in codes(rounded)]
    # truth 0.25 (means 0.5 apart in 2-d); k=1 KL sd ~0.05 at n = 2,000.
    assert rounded.value == pytest.approx(0.25, abs=0.15)


# ------------------------------------------------ discrete as float (case 4)
def test_categories_stored_as_floats_have_no_differential_entropy():
    coin = np.random.default_rng(2).integers(0, 2, 3000).astype(float)
    for method in ("knn", "kde", "gaussian"):
        with pytest.raises(
            ValueError,
            match=r"x\[0\] holds 2 distinct values \(0, 1\) on a grid of step 1, fewer "
            r"than 2 steps per robust sd .* they are categories, which have no "
            r"differential entropy .* use method='histogram' with discrete=True",
        ):
            infobench.entropy(coin, method)
    labels = np.random.default_rng(3).integers(0, 3, 3000).astype(float)
    with pytest.raises(ValueError, match=r"x\[0\] holds 3 distinct values \(0, 1, 2\) .* pass discrete=True"):
        infobench.entropy(labels, "histogram")
    counts = np.bincount(labels.astype(int))
    expected = -np.sum(counts / 3000 * np.log(counts / 3000))  # 1.098 (the issue's -0.15 before)
    assert infobench.entropy(labels, "histogram", discrete=True, miller_madow=False).value == pytest.approx(
        expected, abs=1e-12
    )


def test_auto_routes_categories_stored_as_floats_and_says_why():
    rng = np.random.default_rng(2)
    coin = rng.integers(0, 2, 3000).astype(float)
    est = infobench.entropy(coin, "auto")
    p1 = coin.mean()
    assert est.extras["chosen"] == "histogram" and "x[0] read as categories" in est.extras["reason"]
    # Plug-in with Miller-Madow: -sum p log p + 1/(2n) exactly.
    assert est.value == pytest.approx(-(p1 * math.log(p1) + (1 - p1) * math.log(1 - p1)) + 1 / 6000, abs=1e-12)
    assert codes(est) == [("routed", "info")] and not est.doubtful
    y = coin + rng.standard_normal(3000)
    mi = infobench.mutual_information(coin, y, "auto", seed=0)
    assert mi.extras["chosen"] == "ksg" and mi.extras["chosen_extras"]["estimator"] == "Ross"
    assert ("routed", "info") in codes(mi)


def test_values_on_a_grid_are_dithered_to_the_continuous_quantity():
    z = np.random.default_rng(2).standard_normal(3000)
    # Clean: 1.419 (KL sd ~0.02 at n = 3,000). Rounded to 0.1: -17.77 before; the dithered sample's
    # entropy is the continuous one up to (0.1)^2 / 24 = 4e-4 nats.
    est = infobench.entropy(np.round(z, 1), "knn", seed=0)
    assert est.value == pytest.approx(H_NORMAL, abs=0.06) and codes(est) == [("quantised", "info")]
    coarse = infobench.entropy(np.round(z * 3) / 3, "knn", seed=0)
    assert coarse.value == pytest.approx(H_NORMAL, abs=0.06) and codes(coarse) == [("quantised", "warning")]
    for dtype in (torch.bfloat16, torch.float16):  # bfloat16 gave -3.05 before
        low = infobench.entropy(torch.from_numpy(z).to(dtype), "knn", seed=0)
        assert low.value == pytest.approx(H_NORMAL, abs=0.06) and codes(low) == [("quantised", "info")]
    x, y = pair(3000, 0)
    mi = infobench.mutual_information(np.round(x, 1), np.round(y, 1), "ksg", seed=0)
    assert mi.value == pytest.approx(MI_RHO, abs=0.06)  # KSG sd ~0.02; rounding to 0.1 loses ~1e-3
    hist = infobench.entropy(np.round(z, 1), "histogram")
    assert hist.value == pytest.approx(H_NORMAL, abs=0.05) and codes(hist) == [("quantised", "info")]


def test_values_rounded_by_their_type_are_refused():
    z = np.random.default_rng(8).standard_normal(2000)
    with pytest.raises(
        ValueError,
        match=r"x\[0\] holds values of magnitude 1e\+04 stored as float32, whose "
        r"representable values there are 0.000977 apart, against a spread .* pass "
        r"them in float64, or subtract the offset",
    ):
        infobench.entropy((1e4 + 1e-3 * z).astype(np.float32), "knn")


# ----------------------------------------- whole-number measurements (case 5)
def test_millimetres_agree_with_metres_in_every_estimator_that_takes_them():
    x, y = pair(2000, 0)
    mm = np.round(1000 * y).astype(np.int64)
    for method in ("ksg", "gaussian", "gcmi", "kde", "auto"):
        kw = {"seed": 0} if method in ("ksg", "auto") else {}
        m = infobench.mutual_information(x, y, method, **kw).value
        assert infobench.mutual_information(x, mm, method, **kw).value == pytest.approx(m, abs=0.01), method
    h = infobench.entropy(y, "knn", seed=0).value + math.log(1000)
    assert infobench.entropy(mm, "knn", seed=0).value == pytest.approx(h, abs=0.01)


def test_cli_millimetres_agree_with_metres(capsys, tmp_path):
    # The original failure: 0.264 nats from n=828 rows in millimetres (Ross's estimator) against 0.407.
    x, y = pair(2000, 0)
    pd.DataFrame({"x": x, "y_m": y}).to_csv(tmp_path / "m.csv", index=False)
    pd.DataFrame({"x": x, "y_mm": np.round(y * 1000).astype(int)}).to_csv(tmp_path / "mm.csv", index=False)
    out = []
    for name, col in (("m", "y_m"), ("mm", "y_mm")):
        assert main(["estimate", str(tmp_path / f"{name}.csv"), "--x", "x", "--y", col, "--json", "--no-std-err"]) == 0
        out.append(json.loads(capsys.readouterr().out))
    assert out[1]["n"] == out[0]["n"] == 2000
    assert out[1]["value"] == pytest.approx(out[0]["value"], abs=1e-3)  # rounding to 1 mm moves MI by ~1e-7


def test_ross_checks_values_seen_once():
    x, y = pair(2000, 0)
    mm = np.round(1000 * y).astype(np.int64)
    with pytest.raises(
        ValueError,
        match=r"\d+ of 2000 rows \(\d+.\d%\) have a value of y seen only once; Ross's "
        r"estimator needs each discrete value at least twice .* y looks like a "
        r"whole-number measurement .* pass discrete_y=False",
    ):
        infobench.mutual_information(x, mm, "ksg", discrete_y=True, seed=0)
    labels = np.concatenate([np.random.default_rng(2).integers(0, 3, 300), [100, 101]])
    cont = labels + np.random.default_rng(3).normal(size=302)
    with pytest.warns(
        DiagnosticWarning,
        match=r"\[singletons\] \(x\) 2 of 302 rows \(0.7%\) have a value of x seen "
        r"only once",
    ):
        est = infobench.mutual_information(labels, cont, "ksg", seed=0)
    assert est.extras["n_dropped"] == 2


# -------------------------------------------- degenerate parameters (case 6)
def test_degenerate_parameters_are_refused():
    x, y = pair(3000, 0)
    with pytest.raises(
        ValueError,
        match=r"the kernel \(bandwidth factor h=1e-08\) is .* times narrower than the "
        r"typical distance between neighbouring points of the joint sample",
    ):
        infobench.mutual_information(x, y, "kde", bandwidth=1e-8)
    with pytest.raises(
        ValueError,
        match=r"times narrower than the typical distance between neighbouring points of x "
        r"per dimension",
    ):
        infobench.entropy(np.column_stack([x, y]), "kde", bandwidth=1e-2)  # 22 nats (truth ~2.4) before
    with pytest.warns(DiagnosticWarning, match=r"\[bandwidth\] \(bandwidth\) the nearest neighbours of x lie"):
        infobench.entropy(x, "kde", bandwidth=1e-3)  # the tails' gaps: 15.6 nats (truth 1.42)
    with pytest.raises(ValueError, match=r"3000 of 3000 rows \(100%\) are alone in their cell of x"):
        infobench.entropy(x, "histogram", bins=10**12)
    for method in ("ksg", "auto"):
        with pytest.raises(
            ValueError,
            match=r"the estimate \(6.\d+ nats\) grows by 0.6\d nats from n/2 to n=2000 "
            r"rows .* one side is a copy or a deterministic function of the other, "
            r"whose MI is \+inf",
        ):
            infobench.mutual_information(x[:2000], x[:2000], method, seed=0)


def test_a_near_deterministic_relation_is_a_lower_bound():
    x, _ = pair(2000, 0)
    with pytest.warns(DiagnosticWarning, match=r"\[saturated\] .* the MI exceeds what n samples resolve"):
        est = infobench.mutual_information(x, x**3, "ksg", seed=0)
    assert est.doubtful


def test_kde_narrower_than_the_grid_step_is_refused_for_an_entropy():
    z = np.round(np.random.default_rng(9).standard_normal(3000), 1)
    with pytest.raises(
        ValueError,
        match=r"x\[0\] lies on a grid of step 0.1 and the kernel's standard deviation "
        r"along it, h \* sd = 0.0\d+, is narrower than the step",
    ):
        infobench.entropy(z, "kde", bandwidth=0.02)
    assert infobench.entropy(z, "kde").value == pytest.approx(H_NORMAL, abs=0.05)  # Scott: kernel sd 0.2


# ---------------------------------------------------------------- duplicates
def test_rows_repeated_off_any_grid():
    z = np.random.default_rng(10).standard_normal(3000)
    few = np.r_[z, np.repeat(z[:2], 3)]  # two values 4 times: 8 points whose 3rd neighbour is a copy
    with pytest.warns(
        DiagnosticWarning,
        match=r"\[duplicates\] 8 of 3006 points \(0.27%\) have only copies of "
        r"themselves within their k-th nearest neighbour in x \(k=3\)",
    ):
        est = infobench.entropy(few, "knn", seed=0)
    assert est.value == pytest.approx(H_NORMAL, abs=0.2)
    many = np.r_[z, np.repeat(z[:150], 4)]
    with pytest.raises(ValueError, match=r"750 of 3600 points \(20.83%\) have only copies of themselves"):
        infobench.entropy(many, "knn", seed=0)


# -------------------------------------------------------------- clean data
CLEAN = {
    "gaussian": lambda rng: rng.standard_normal((2000, 2)),
    "student-t3": lambda rng: rng.standard_t(3, (2000, 2)),
    "uniform": lambda rng: rng.random((2000, 2)),
}


@pytest.mark.parametrize("kind", sorted(CLEAN))
def test_clean_data_gain_no_diagnostic(kind):
    rng = np.random.default_rng(11)
    x, y, q = CLEAN[kind](rng), CLEAN[kind](rng), CLEAN[kind](rng)
    y = y + x
    with warnings.catch_warnings():
        warnings.simplefilter("error", DiagnosticWarning)
        for method in ("knn", "kde", "histogram", "gaussian", "auto"):
            kw = {"seed": 0} if method in ("knn", "auto") else {}
            assert not infobench.entropy(x, method, **kw).diagnostics, method
        for method in ("ksg", "kde", "histogram", "gaussian", "gcmi", "latent", "auto"):
            kw = {"seed": 0} if method in ("ksg", "auto", "latent") else {}
            assert not infobench.mutual_information(x, y, method, **kw).diagnostics, method
        assert not infobench.kl_divergence(x, q + 0.5, "knn", seed=0).diagnostics


# ------------------------------------------------------------ the histogram
def test_histogram_takes_one_discrete_flag_per_column():
    rng = np.random.default_rng(12)
    lab = rng.integers(0, 3, 4000)
    v = rng.standard_normal(4000)
    x = np.column_stack([lab.astype(float), v])
    mixed = infobench.entropy(x, "histogram", discrete=[True, False], miller_madow=False)
    # H(L, V) = H(L) + h(V | L) = H(L) + h(V) for independent columns: 1.099 + 1.419, histogram bias ~0.03.
    assert mixed.value == pytest.approx(math.log(3) + H_NORMAL, abs=0.06)
    assert mixed.extras["discrete"] == [True, False]
    frame = pd.DataFrame({"label": lab, "v": v})
    assert infobench.entropy(frame, "histogram", miller_madow=False).value == pytest.approx(mixed.value, abs=1e-12)
    auto = infobench.entropy(frame, "auto")
    assert auto.extras["chosen"] == "histogram" and auto.extras["chosen_params"] == {"discrete": [True, False]}
    with pytest.raises(
        ValueError,
        match=r"discrete must be True, False, None or one bool per column of x \(2\); "
        r"got 3 entries",
    ):
        infobench.entropy(x, "histogram", discrete=[True, False, True])


def test_histogram_refuses_a_copied_side_and_an_unbinnable_range():
    x, _ = pair(2000, 0)
    with pytest.raises(
        ValueError,
        match=r"every occupied cell of the joint sample \(x, y\) is a cell of x alone "
        r"\(\d+ cells\): y is, at the bins' resolution, a copy or a function",
    ):
        infobench.mutual_information(x, x.copy(), "histogram")
    labels = np.random.default_rng(0).integers(0, 4, 2000)
    # A function of discrete labels has the finite MI H(Y), which the plug-in reads.
    assert infobench.mutual_information(labels, labels % 2, "histogram", miller_madow=False).value == pytest.approx(
        math.log(2), abs=0.01
    )
    with pytest.raises(
        ValueError,
        match=r"x\[0\] spans 9.88e\+36 robust sds .* its farthest value is 9.97e\+36\): "
        r"equal-width bins fine enough for its bulk",
    ):
        infobench.entropy(np.r_[x, 9.97e36], "histogram")


def test_latent_dithers_grids_and_refuses_a_copy():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2000, 3))
    y = x @ rng.normal(size=(3, 3)) * 0.5 + rng.standard_normal((2000, 3))
    base = infobench.mutual_information(x, y, "latent", seed=0).value
    est = infobench.mutual_information(np.round(x, 1), np.round(y, 1), "latent", seed=0)
    assert est.value == pytest.approx(base, abs=0.08)  # KSG sd on the held-out half ~0.03
    assert {c for c, _ in codes(est)} == {"quantised"} and not est.doubtful
    with pytest.raises(ValueError, match=r"one side is a copy or a deterministic function of the other"):
        infobench.mutual_information(x, x.copy(), "latent", seed=0)


def test_collinear_columns_have_no_differential_entropy():
    z = np.random.default_rng(14).standard_normal(3000)
    # The kNN estimate fell like -log n: -2.56, -3.14, -3.79 at n = 750, 1,500, 3,000.
    with pytest.raises(
        ValueError,
        match=r"x has a singular sample covariance \(column 1 is a linear combination "
        r"of the other columns",
    ):
        infobench.entropy(np.column_stack([z, 2 * z + 1]), "knn", seed=0)


def test_a_divergence_far_below_zero_is_doubted():
    # D(Q || P) of 50-d Gaussians whose scales differ column by column is positive (11.3 nats: the
    # closed form sum of (s^2 - 1 - log s^2) / 2), but the kNN estimate reads -0.89 +- 0.09: the estimator's
    # high-dimensional bias, not the data, sets it, and the diagnostic says so.
    rng = np.random.default_rng(1)
    scales = np.linspace(0.5, 2.0, 50)
    p = rng.normal(size=(2000, 50))
    rng.normal(size=(2000, 50))  # the draw the example was measured with
    q = rng.normal(size=(2000, 50)) * scales
    truth = float(np.sum((scales**2 - 1 - np.log(scales**2)) / 2))
    with pytest.warns(DiagnosticWarning, match="below-zero"):
        est = infobench.kl_divergence(q, p, "knn", std_err=True, seed=0)
    assert truth > 11 and est.value < -3 * est.std_err
    (doubt,) = [d for d in est.diagnostics if d.code == "below-zero"]
    assert "KL divergence" in doubt.message and "bias" in doubt.message
    # Without a standard error there is no scale to judge the sign against: no doubt.
    assert not infobench.kl_divergence(q, p, "knn", seed=0).diagnostics


@pytest.mark.parametrize("seed", range(6))
def test_mi_and_divergence_at_zero_are_not_doubted(seed):
    # At a true value of 0 the kNN estimates scatter about 0 within their standard error (3 se: a t variable
    # with 27 df passes -3 in 0.3 % of samples; six seeds each).
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(1000, 2)), rng.normal(size=(1000, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DiagnosticWarning)
        assert not infobench.mutual_information(x, y, "ksg", std_err=True, seed=seed).diagnostics
        p, q = rng.normal(size=(1000, 3)), rng.normal(size=(1000, 3))
        assert not infobench.kl_divergence(p, q, "knn", std_err=True, seed=seed).diagnostics
