"""The shared standard errors: subsampling (dependent terms), its size rule, and its use by the estimators."""

import math

import numpy as np
import pytest
from scipy import stats

from infobench import Estimate, entropy, kl_divergence, mutual_information
from infobench._validation import spawn_seeds
from infobench.estimators._uncertainty import (
    TARGET_DF,
    check_std_err_rows,
    mean_std_err,
    subsample_df,
    subsample_plan,
    subsample_std_err,
)


def _mean(a):
    return float(np.mean(a))


# --------------------------------------------------------------- the function
def test_subsample_se_of_iid_mean_is_classical():
    x = np.random.default_rng(0).standard_normal(4000)
    classical = x.std(ddof=1) / math.sqrt(len(x))
    # 30 partitions of 10 folds: 270 degrees of freedom, relative sd of the estimate
    # 1/sqrt(540) = 4.3 %; 15 % is 3.5 of those.
    se = subsample_std_err(_mean, [x], seed=1, partitions=30)
    assert se == pytest.approx(classical, rel=0.15)
    # The default plan (27 df: ~14 % noise) is within 3.5 of its sds too.
    assert subsample_std_err(_mean, [x], seed=2) == pytest.approx(classical, rel=0.5)


def test_subsample_formula_against_hand_computation():
    x = np.random.default_rng(3).standard_normal(103)
    perm = np.random.default_rng(spawn_seeds(7, 1)[0]).permutation(103)
    folds = x[perm[:102]].reshape(3, 34).mean(axis=1)  # 3 folds of 34 rows; one row left over
    expected = math.sqrt(34 / 103 * np.var(folds, ddof=1))
    assert subsample_std_err(_mean, [x], seed=7, folds=3, partitions=1) == pytest.approx(expected, rel=1e-12)


def test_subsample_arrays_of_different_lengths_keep_proportions():
    seen = []

    def stat(a, b):
        seen.append((len(a), len(b)))
        return float(a.mean() - b.mean())

    rng = np.random.default_rng(0)
    subsample_std_err(stat, [rng.standard_normal(1000), rng.standard_normal(400)], seed=0)
    folds, partitions, rows = subsample_plan(1000)
    assert len(seen) == folds * partitions and set(seen) == {(rows, 400 // folds)}


def test_paired_arrays_share_the_permutation():
    x = np.arange(500.0)

    def stat(a, b):
        assert np.array_equal(a, b)  # paired rows stay paired
        return float(a.mean())

    subsample_std_err(stat, [x, x.copy()], seed=0)


def test_plan():
    assert subsample_plan(10_000) == (10, 3, 1000)
    assert subsample_plan(1000) == (5, 7, 200)
    assert subsample_plan(4) == (2, TARGET_DF, 2)
    # Subsets big enough for the estimator: 3 folds of 333 rows when it needs 300.
    assert subsample_plan(1000, min_rows=300) == (3, 14, 333)
    for n in (4, 50, 999, 1000, 2500, 10_001):
        folds, partitions, _ = subsample_plan(n)
        assert partitions * (folds - 1) >= TARGET_DF


def test_subsample_df_is_the_plan_s():
    for n, min_rows in ((4, 2), (1000, 2), (1000, 300), (5000, 4), (10_001, 2)):
        folds, partitions, _ = subsample_plan(n, min_rows)
        assert subsample_df(n, min_rows) == partitions * (folds - 1) >= TARGET_DF
    assert subsample_df(5000) == 27 and subsample_df(5000, folds=4, partitions=2) == 6


def test_subsample_variance_has_its_stated_degrees_of_freedom():
    # The pooled variance v of subsample_std_err is claimed to be as noisy as sigma^2 chi2_df / df, so
    # over independent data sets df = 2 E[v]^2 / Var(v). For a mean of n = 1000 normals the partitions
    # reuse the rows, which adds the n - 1 df of the data's own variance: 1 / (1/27 + 1/999) = 26.3.
    # Over R = 400 data sets Var(v) is estimated within about sqrt((kurtosis - 1) / R) = sqrt(2.44 / 400)
    # = 8 % (kurtosis of chi2_27: 3 + 12 / 27); 25 % is three of those.
    rng = np.random.default_rng(11)
    v = np.array([subsample_std_err(_mean, [rng.standard_normal(1000)], seed=r) ** 2 for r in range(400)])
    assert 2 * v.mean() ** 2 / v.var(ddof=1) == pytest.approx(subsample_df(1000) * 999 / (999 + 27), rel=0.25)


def test_interval_uses_the_t_quantile_of_the_std_err_df():
    est = Estimate(value=1.0, std_err=0.1, std_err_df=27)
    q = stats.t.ppf(0.975, 27)  # 2.052
    assert est.interval() == pytest.approx((1.0 - 0.1 * q, 1.0 + 0.1 * q), rel=1e-12)
    q90 = stats.t.ppf(0.95, 27)
    assert est.interval(0.9) == pytest.approx((1.0 - 0.1 * q90, 1.0 + 0.1 * q90), rel=1e-12)
    z = stats.norm.ppf(0.975)
    assert Estimate(value=1.0, std_err=0.1).interval() == pytest.approx((1.0 - 0.1 * z, 1.0 + 0.1 * z), rel=1e-12)
    assert "95% interval (t, 27 df)" in est._repr_html_()
    with pytest.raises(ValueError, match=r"level must be in \(0, 1\); got 1.5"):
        est.interval(1.5)
    with pytest.raises(ValueError, match="this estimate has no std_err; call again with std_err=True"):
        Estimate(value=1.0).interval()


DF_CALLS = {  # what each standard error's degrees of freedom are at n = 2000 (default n_boot = 100)
    "knn": 27,
    "ksg": 27,
    "knn kl": 27,
    "histogram entropy": 27,
    "histogram mi": 27,
    "gaussian entropy": 99,
    "gaussian mi": 99,
    "kde entropy": None,
    "kde mi": None,
}


@pytest.mark.parametrize("name", list(DF_CALLS))
def test_estimators_report_their_std_err_df(name):
    rng = np.random.default_rng(4)
    a = rng.standard_normal(2000)
    b = a + rng.standard_normal(2000)
    est = CALLS[name](a, b, std_err=True, seed=0)
    assert est.std_err_df == DF_CALLS[name]
    assert CALLS[name](a, b, seed=0).std_err_df is None  # no standard error, no df


def test_histogram_std_err_df_follows_se_method():
    x = np.random.default_rng(5).standard_normal(1000)
    assert entropy(x, "histogram", std_err=True, seed=0).std_err_df == subsample_df(1000) == 28
    assert entropy(x, "histogram", std_err=True, se_method="bootstrap", n_boot=30, seed=0).std_err_df == 29
    assert entropy(x, "histogram", std_err=True, se_method="delta").std_err_df is None
    y = x + np.random.default_rng(6).standard_normal(1000)
    chosen = mutual_information(x, y, "auto", std_err=True, seed=0)  # auto passes its choice's df on
    assert chosen.std_err_df is not None
    assert (
        chosen.std_err_df
        == mutual_information(
            x, y, chosen.extras["chosen"], std_err=True, seed=0, **chosen.extras["chosen_params"]
        ).std_err_df
    )


def test_subsample_is_seeded():
    x = np.random.default_rng(0).standard_normal(600)
    a = subsample_std_err(_mean, [x], seed=5)
    assert subsample_std_err(_mean, [x], seed=5) == a
    assert subsample_std_err(_mean, [x], seed=np.random.default_rng(5)) != subsample_std_err(_mean, [x], seed=6)


# ------------------------------------------------------------------ validation
def test_size_rule_messages():
    with pytest.raises(
        ValueError,
        match=r"std_err=True needs n >= 4 samples \(two disjoint subsets of at least "
        r"2 rows the estimator can run on\); got n=2",
    ):
        check_std_err_rows(2, 1)
    with pytest.raises(ValueError, match=r"std_err=True needs n >= 8 samples .*got n=7"):
        subsample_std_err(_mean, [np.arange(7.0)], min_rows=4)
    with pytest.raises(ValueError, match=r"std_err=True needs n >= 4 samples .*got n=3"):
        mean_std_err(np.arange(3.0))
    check_std_err_rows(4, 2)  # the smallest accepted


def test_override_messages():
    x = np.arange(100.0)
    with pytest.raises(ValueError, match=r"folds must be an integer in \[2, 50\]; got 1"):
        subsample_std_err(_mean, [x], folds=1)
    with pytest.raises(ValueError, match=r"partitions must be an integer >= 1; got 0"):
        subsample_std_err(_mean, [x], partitions=0)


CALLS = {
    "knn": lambda a, b, **kw: entropy(a, "knn", k=1, **kw),
    # kde draws nothing, so it takes no seed
    "kde entropy": lambda a, b, seed=None, **kw: entropy(a, "kde", **kw),
    "histogram entropy": lambda a, b, **kw: entropy(a, "histogram", **kw),
    "gaussian entropy": lambda a, b, **kw: entropy(a, "gaussian", **kw),
    "ksg": lambda a, b, **kw: mutual_information(a, b, "ksg", k=1, **kw),
    "kde mi": lambda a, b, seed=None, **kw: mutual_information(a, b, "kde", **kw),
    "histogram mi": lambda a, b, **kw: mutual_information(a, b, "histogram", **kw),
    "gaussian mi": lambda a, b, **kw: mutual_information(a, b, "gaussian", **kw),
    "knn kl": lambda a, b, **kw: kl_divergence(a, b, "knn", k=1, **kw),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_std_err_on_tiny_samples_is_refused_by_every_estimator(name):
    a, b = np.array([0.1, 0.7, -1.2]), np.array([0.3, -0.4, 0.9])
    with pytest.raises(ValueError, match=r"std_err=True needs n >= \d+ samples .*got n=3"):
        CALLS[name](a, b, std_err=True, seed=0)
    if name == "histogram mi":  # three rows alone in three joint cells: a plug-in of log 3 whatever the data
        with pytest.raises(ValueError, match=r"3 of 3 rows \(100%\) are alone in their cell of the joint sample"):
            CALLS[name](a, b, seed=0)
        return
    CALLS[name](a, b, seed=0)  # without std_err n=3 still runs


@pytest.mark.parametrize("name", ["knn", "kde entropy", "histogram entropy", "gaussian entropy"])
def test_std_err_at_n2_is_refused_not_zero(name):
    # std_err=True at n=2 once returned 0.0.
    a = np.array([0.1, 0.7])
    with pytest.raises(ValueError, match=r"std_err=True needs n >= \d+ samples .*got n=2"):
        CALLS[name](a, None, std_err=True, seed=0)


# ----------------------------------------------------------- use by estimators
@pytest.mark.parametrize("name", ["knn", "ksg", "knn kl", "histogram entropy", "histogram mi"])
def test_estimator_std_err_is_seeded(name):
    rng = np.random.default_rng(1)
    a = rng.standard_normal(800)
    b = a + rng.standard_normal(800)
    first = CALLS[name](a, b, std_err=True, seed=3)
    again = CALLS[name](a, b, std_err=True, seed=3)
    other = CALLS[name](a, b, std_err=True, seed=4)
    assert first.std_err == again.std_err and first.value == again.value
    assert other.std_err != first.std_err
    # Two seeds' standard errors differ by their noise (~14 % each), not by a factor.
    assert other.std_err == pytest.approx(first.std_err, rel=0.6)


def test_ross_path_has_a_subsample_std_err():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, 900)
    y = labels + rng.standard_normal(900)
    est = mutual_information(labels, y, "ksg", std_err=True, seed=0)
    assert est.extras["estimator"] == "Ross" and 0 < est.std_err < 0.2


@pytest.mark.slow
def test_ksg_std_err_matches_seed_spread():
    # KSG 1x1, rho = 0.75, n = 500, 40 fixed seeds (~10 s). The ratio of the mean std_err to the
    # sd over seeds has sampling noise ~11 % (1/sqrt(2 * 39)); the band is about 2.5 of those.
    # The old std(terms)/sqrt(n) read ~0.72 here: its terms are correlated.
    values, ses = [], []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(500)
        y = 0.75 * x + math.sqrt(1 - 0.75**2) * rng.standard_normal(500)
        est = mutual_information(x, y, "ksg", std_err=True, seed=seed)
        values.append(est.value)
        ses.append(est.std_err)
    ratio = np.mean(ses) / np.std(values, ddof=1)
    assert 0.75 <= ratio <= 1.35, ratio


SEED_SPREAD = {  # estimator, data of one seed; sizes where 60 seeds take a few seconds
    "Kozachenko-Leonenko 3-d n=1000": lambda x, seed: entropy(x, "knn", std_err=True, seed=seed),
    "histogram 1-d n=2000": lambda x, seed: entropy(x[:, 0], "histogram", std_err=True, seed=seed),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SEED_SPREAD))
def test_subsample_std_err_matches_the_seed_to_seed_spread(name):
    # The independent computation: the sd of the estimates over R = 60 fresh data sets (seeds 0..59).
    # That sd is itself uncertain by 1/sqrt(2 (R - 1)) = 9.2 % (the mean of 60 standard errors, each
    # noisy by ~14 %, by 1.8 %): the band is three of those around 1. The coverage of the estimator's
    # mean by the t intervals of Estimate.interval (27 or 28 df here) is 0.95 for calibrated errors;
    # over 60 seeds its binomial sd is 0.028, and 0.85 is 3.5 of those below.
    n, d = (1000, 3) if name.startswith("Kozachenko") else (2000, 1)
    values, ses, hits = [], [], []
    for seed in range(60):
        x = (
            np.random.default_rng(seed).standard_normal((n, d))
            @ np.array([[1.0, 0.4, 0.0], [0, 1.0, 0.3], [0, 0, 1.0]])[:d, :d]
        )
        est = SEED_SPREAD[name](x, seed)
        values.append(est.value)
        ses.append(est.std_err)
        hits.append(est.interval())
    sd = np.std(values, ddof=1)
    assert np.mean(ses) / sd == pytest.approx(1.0, abs=3 / math.sqrt(2 * 59))
    mean = np.mean(values)
    assert np.mean([lo <= mean <= hi for lo, hi in hits]) >= 0.85
