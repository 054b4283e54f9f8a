"""Histogram (plug-in + Miller–Madow) entropy and MI.

Tiers: exact agreement with numpy's histograms, scipy.stats.entropy and
scikit-learn's mutual_info_score; closed-form truth with tolerances from the
estimator's spread; delta-method standard errors against the spread over
seeds; invariances; every bad-input message.
"""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import mutual_info_score

import infobench
from infobench.estimators.histogram import _entropy_parts, histogram_entropy, histogram_mutual_information

H_NORMAL = 0.5 * math.log(2 * math.pi * math.e)


def _numpy_entropy(x, bins, miller_madow=True):
    """Independent 1-D reference from numpy.histogram."""
    counts, edges = np.histogram(x, bins=bins)
    counts = counts[counts > 0]
    mm = (len(counts) - 1) / (2 * len(x)) if miller_madow else 0.0
    return stats.entropy(counts) + np.log(edges[1] - edges[0]) + mm


@pytest.mark.parametrize("bins", ["fd", "sturges", "sqrt", 7, 100])
@pytest.mark.parametrize("n", [50, 1000, 4096])
def test_1d_matches_numpy(bins, n):
    x = np.random.default_rng(n).standard_t(df=4, size=n)
    assert histogram_entropy(x, bins=bins).value == pytest.approx(_numpy_entropy(x, bins), abs=1e-12)
    assert histogram_entropy(x, bins=bins, miller_madow=False).value == pytest.approx(
        _numpy_entropy(x, bins, miller_madow=False), abs=1e-12
    )


def test_bin_count_and_extras_match_numpy(rng):
    x = rng.normal(size=3000)
    est = histogram_entropy(x)
    counts, edges = np.histogram(x, bins="fd")
    assert est.extras["bins"] == [len(counts)]
    assert est.extras["occupied_cells"] == int((counts > 0).sum())
    assert est.extras["log_bin_volume"] == pytest.approx(np.log(edges[1] - edges[0]), abs=1e-14)
    assert est.extras["miller_madow_term"] == pytest.approx(((counts > 0).sum() - 1) / 6000, abs=1e-15)


def test_multivariate_int_bins_match_histogramdd(rng):
    x = rng.normal(size=(2000, 3)) * [1.0, 5.0, 0.1]
    bins = [4, 6, 9]
    counts, edges = np.histogramdd(x, bins=bins)
    counts = counts[counts > 0]
    log_vol = sum(np.log(e[1] - e[0]) for e in edges)
    expected = stats.entropy(counts) + log_vol + (len(counts) - 1) / (2 * 2000)
    assert histogram_entropy(x, bins=bins).value == pytest.approx(expected, abs=1e-12)


def test_multivariate_rule_uses_joint_sample_size(rng):
    # d binned columns: each rule sees n_eff = n^(3/(d+2)); d=2, n=4096 gives n_eff = 512.
    x = rng.normal(size=(4096, 2))
    est = histogram_entropy(x, bins="sqrt")
    expected = [len(np.histogram_bin_edges(x[:, j], bins=int(np.ceil(np.sqrt(512))))) - 1 for j in range(2)]
    assert est.extras["bins"] == expected


def test_huge_bin_product_falls_back_to_row_counting(rng):
    # 2^16 bins in each of 4 columns: 2^64 cells overflow the int64 key.
    x = rng.normal(size=(500, 4))
    # Every row is alone in its cell, which the estimator refuses (sparse-cells); the counting
    # mechanism is checked on the kernel's own value computation.
    with pytest.raises(ValueError, match=r"500 of 500 rows \(100%\) are alone in their cell of x"):
        histogram_entropy(x, bins=2**16, miller_madow=False)
    value = _entropy_parts(torch.from_numpy(x), [False] * 4, [2**16] * 4, False)[0]
    codes = np.column_stack(
        [np.minimum(((c - c.min()) / (c.max() - c.min()) * 2**16).astype(np.int64), 2**16 - 1) for c in x.T]
    )
    _, counts = np.unique(codes, axis=0, return_counts=True)
    log_vol = sum(np.log((c.max() - c.min()) / 2**16) for c in x.T)
    assert value == pytest.approx(stats.entropy(counts) + log_vol, abs=1e-9)


def test_fd_falls_back_to_sturges_when_iqr_is_zero(rng):
    x = np.concatenate([np.zeros(800), rng.normal(size=200)])
    est = histogram_entropy(x)
    assert est.extras["bins"] == [len(np.histogram_bin_edges(x, bins="sturges")) - 1]


# ----------------------------------------------------------- discrete data
def test_discrete_entropy_matches_scipy(rng):
    x = rng.integers(-3, 9, size=700)
    counts = np.unique(x, return_counts=True)[1]
    est = infobench.entropy(x, method="histogram", miller_madow=False)
    assert est.value == pytest.approx(stats.entropy(counts), abs=1e-12)
    assert est.extras["log_bin_volume"] == 0.0
    mm = infobench.entropy(x, method="histogram").value
    assert mm == pytest.approx(stats.entropy(counts) + (len(counts) - 1) / (2 * 700), abs=1e-12)


def test_discrete_inputs_booleans_categoricals_and_forced(rng):
    codes = rng.integers(0, 4, size=500)
    expected = stats.entropy(np.bincount(codes))
    cat = pd.Series(pd.Categorical(np.array(["a", "b", "c", "d"])[codes]))
    assert histogram_entropy(cat, miller_madow=False).value == pytest.approx(expected, abs=1e-12)
    assert histogram_entropy(codes.astype(float), discrete=True, miller_madow=False).value == pytest.approx(
        expected, abs=1e-12
    )
    flags = codes % 2 == 0
    assert histogram_entropy(flags, miller_madow=False).value == pytest.approx(
        stats.entropy(np.bincount(flags)), abs=1e-12
    )
    # Forced binning of four categories: they have no differential entropy, refused ...
    with pytest.raises(
        ValueError,
        match=r"x\[0\] holds 4 distinct values \(0, 1, 2, 3\) on a grid of step 1, "
        r"fewer than 2 steps per robust sd .* pass discrete=True",
    ):
        histogram_entropy(codes, discrete=False, bins=4, miller_madow=False)
    # ... while whole numbers spread over many steps are binned in whole steps with edges between
    # values: 100 bins between the extremes ask for ~4-wide bins, made 4 steps wide from min - 0.5.
    wide = rng.integers(0, 400, size=500)
    binned = histogram_entropy(wide, discrete=False, bins=100, miller_madow=False)
    counts = np.histogram(wide, np.arange(wide.min() - 0.5, wide.max() + 4, 4))[0]
    assert binned.value == pytest.approx(stats.entropy(counts[counts > 0]) + np.log(4), abs=1e-12)
    assert [d.code for d in binned.diagnostics] == ["quantised"] and binned.diagnostics[0].severity == "info"


def test_discrete_multivariate_entropy_counts_rows(rng):
    x = rng.integers(0, 3, size=(900, 2))
    counts = np.unique(x, axis=0, return_counts=True)[1]
    assert histogram_entropy(x, miller_madow=False).value == pytest.approx(stats.entropy(counts), abs=1e-12)


def test_discrete_mi_matches_sklearn(rng):
    x = rng.integers(0, 6, size=2000)
    y = (x + rng.integers(0, 3, size=2000)) % 6
    est = infobench.mutual_information(x, y, method="histogram", miller_madow=False)
    assert est.value == pytest.approx(mutual_info_score(x, y), abs=1e-12)
    mx, my, mxy = est.extras["occupied_cells"]
    corrected = infobench.mutual_information(x, y, method="histogram").value
    assert corrected == pytest.approx(mutual_info_score(x, y) + (mx + my - mxy - 1) / 4000, abs=1e-12)


def test_mixed_discrete_continuous_mi_matches_independent_binning(rng):
    x = rng.integers(0, 4, size=3000)
    y = x + 2 * rng.uniform(size=3000)
    est = histogram_mutual_information(x, y, bins=12, miller_madow=False)
    y_codes = np.digitize(y, np.histogram_bin_edges(y, bins=12)[1:-1])
    assert est.value == pytest.approx(mutual_info_score(x, y_codes), abs=1e-12)


def test_mixed_discrete_continuous_mi_truth(rng):
    # X ~ Cat(4), Y | X ~ U(X, X + 2): I = log m - (m - 1) log 2 / m = 0.866.
    # Five bins of Y lie (up to the sample range's O(1/n) slack) on the integer
    # grid where Y's density is constant, so binning loses no information.
    x = rng.integers(0, 4, size=3000)
    y = x + 2 * rng.uniform(size=3000)
    est = histogram_mutual_information(x, y, bins=5, std_err=True)
    truth = np.log(4) - 3 * np.log(2) / 4
    assert abs(est.value - truth) < 4 * est.std_err + 0.005


# ----------------------------------------------------------- closed forms
@pytest.mark.parametrize("seed", range(5))
def test_gaussian_entropy_target(seed):
    # The accuracy target: within 0.02 nats at n=10,000. Measured over 100
    # seeds: bias -0.0008, sd 0.0061 (delta-method SE 0.0070), max |error| 0.018.
    x = np.random.default_rng(seed).normal(size=10_000)
    assert abs(histogram_entropy(x).value - H_NORMAL) < 0.02


def test_uniform_and_exponential_entropy():
    rng = np.random.default_rng(2)
    n = 20_000
    # H(U(0, 3)) = log 3; -log f is constant, so only the bias remains:
    # the sample range undershoots by ~2/n and MM leaves O(1/n).
    assert histogram_entropy(3 * rng.uniform(size=n)).value == pytest.approx(math.log(3), abs=0.005)
    # H(Exp(2)) = 1 - log 2; sd of -log f is 1, so 4 sd / sqrt(n) = 0.028.
    assert histogram_entropy(rng.exponential(0.5, size=n)).value == pytest.approx(1 - math.log(2), abs=0.03)


def test_bivariate_gaussian_entropy_and_mi():
    rng = np.random.default_rng(4)
    rho, n = 0.6, 20_000
    cov = np.array([[1.0, rho], [rho, 1.0]])
    xy = rng.multivariate_normal([0, 0], cov, size=n)
    h_truth = 0.5 * np.log(np.linalg.det(2 * np.pi * np.e * cov))
    mi_truth = -0.5 * np.log(1 - rho**2)
    # Measured over 30 seeds at n=20,000: entropy bias -0.003, sd 0.007;
    # MI bias +0.003, sd 0.0044. Tolerances are |bias| + 4 sd.
    assert histogram_entropy(xy).value == pytest.approx(h_truth, abs=0.031)
    est = histogram_mutual_information(xy[:, 0], xy[:, 1])
    assert est.value == pytest.approx(mi_truth, abs=0.021)
    assert est.extras["entropies"][0] + est.extras["entropies"][1] - est.extras["entropies"][2] == pytest.approx(
        est.value - est.extras["miller_madow_term"], abs=1e-12
    )


def test_independent_mi_is_near_zero_and_not_clipped():
    # Independent 3-valued variables: the plug-in's bias (3-1)(3-1)/(2n) is
    # what Miller-Madow removes, so estimates scatter around 0, negatives kept.
    rng = np.random.default_rng(0)
    values = [
        histogram_mutual_information(rng.integers(0, 3, size=1000), rng.integers(0, 3, size=1000)).value
        for _ in range(20)
    ]
    assert min(values) < 0
    # sd of the plug-in under independence: sqrt(2 * 4) / (2n) = 0.0014 per estimate.
    assert abs(np.mean(values)) < 4 * 0.0014 / np.sqrt(20)


# --------------------------------------------------------- standard errors
def test_delta_std_err_matches_spread_over_seeds():
    n, reps = 2000, 80
    values, ses = [], []
    for seed in range(reps):
        est = histogram_entropy(np.random.default_rng(seed).normal(size=n), std_err=True)
        values.append(est.value)
        ses.append(est.std_err)
    # The sd over 80 seeds has ~8% relative sampling error.
    assert np.mean(ses) == pytest.approx(np.std(values, ddof=1), rel=0.3)


def test_delta_std_err_is_spread_of_per_row_terms(rng):
    x = rng.integers(0, 5, size=400)
    y = (x + rng.integers(0, 2, size=400)) % 5
    est = histogram_mutual_information(x, y, std_err=True, se_method="delta")
    joint = pd.Series(list(zip(x, y)))
    cx = pd.Series(x).map(pd.Series(x).value_counts())
    cy = pd.Series(y).map(pd.Series(y).value_counts())
    cxy = joint.map(joint.value_counts())
    terms = np.log(400 * cxy / (cx * cy))
    assert est.std_err == pytest.approx(np.std(terms, ddof=1) / np.sqrt(400), rel=1e-12)


def test_bootstrap_std_err_is_seeded_and_close_to_delta(rng):
    x = rng.normal(size=3000)
    a = histogram_entropy(x, std_err=True, se_method="bootstrap", seed=3, n_boot=60)
    b = histogram_entropy(x, std_err=True, se_method="bootstrap", seed=3, n_boot=60)
    delta = histogram_entropy(x, std_err=True, se_method="delta")
    assert a.std_err == b.std_err
    # 60 replicates: ~9% relative error; the rule's own variability adds a little.
    assert a.std_err == pytest.approx(delta.std_err, rel=0.4)
    y = x + rng.normal(size=3000)
    mi = histogram_mutual_information(x, y, std_err=True, se_method="bootstrap", seed=0, n_boot=40)
    assert mi.std_err == pytest.approx(histogram_mutual_information(x, y, std_err=True).std_err, rel=0.5)


# ------------------------------------------------------------- invariances
@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(1e-3, 1e3).map(lambda v: v * (1 if v > 0.5 else -1)),
    shift=st.floats(-1e3, 1e3),
)
def test_entropy_shift_scale_permutation(seed, scale, shift):
    rng = np.random.default_rng(seed)
    n = 1000
    x = rng.normal(size=n)
    base = histogram_entropy(x).value
    # Bins follow the data, so only rounding at bin edges can move a point;
    # one moved point changes the estimate by at most ~log(n)/n.
    assert histogram_entropy(scale * x + shift).value == pytest.approx(
        base + math.log(abs(scale)), abs=4 * math.log(n) / n
    )
    assert histogram_entropy(x[rng.permutation(n)]).value == pytest.approx(base, abs=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), bins=st.sampled_from(["fd", "sturges", "sqrt", 5, 17]))
def test_mi_symmetry_and_permutation(seed, bins):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(500, 1))
    y = np.column_stack([x[:, 0] + rng.normal(size=500), rng.uniform(size=500)])
    base = histogram_mutual_information(x, y, bins=bins).value
    swapped = histogram_mutual_information(y, x, bins=bins).value
    assert swapped == pytest.approx(base, abs=1e-12)
    perm = rng.permutation(500)
    assert histogram_mutual_information(x[perm], y[perm], bins=bins).value == pytest.approx(base, abs=1e-12)


def test_inputs_numpy_torch_pandas_agree(rng):
    x = rng.normal(size=(800, 2))
    ref = histogram_entropy(x).value
    assert histogram_entropy(torch.from_numpy(x)).value == pytest.approx(ref, abs=1e-12)
    assert histogram_entropy(pd.DataFrame(x, columns=["a", "b"])).value == pytest.approx(ref, abs=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_tensor_input():
    x = torch.randn(5000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    cpu = histogram_entropy(x, device="cpu").value
    assert histogram_entropy(x.cuda(), dtype="float64").value == pytest.approx(cpu, abs=1e-10)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "bins, exc, message",
    [
        (0, ValueError, r"bins must be an integer >= 1; got 0"),
        (-3, ValueError, r"bins must be an integer >= 1; got -3"),
        (2.5, TypeError, r"bins must be an integer >= 1; got 2.5"),
        ("scott", ValueError, r"bins must be one of \['fd', 'sturges', 'sqrt'\]; got 'scott'"),
        (True, TypeError, r"bins must be a positive integer, one of \['fd', 'sturges', 'sqrt'\].*got True"),
        ({"x": 3}, TypeError, r"bins must be a positive integer.*got dict \{'x': 3\}"),
        ([3, 4, 5], ValueError, r"bins must have one entry per column \(2\); got 3 entries"),
        ([3, "auto"], ValueError, r"bins\[1\] must be one of \['fd', 'sturges', 'sqrt'\]; got 'auto'"),
        ([3, None], TypeError, r"bins\[1\] must be a positive integer.*got None"),
    ],
)
def test_bad_bins(rng, bins, exc, message):
    with pytest.raises(exc, match=message):
        histogram_entropy(rng.normal(size=(100, 2)), bins=bins)


def test_bad_parameters(rng):
    x = rng.normal(size=100)
    with pytest.raises(TypeError, match=r"miller_madow must be True or False; got 'no'"):
        histogram_entropy(x, miller_madow="no")
    with pytest.raises(TypeError, match=r"discrete must be True or False; got 1"):
        histogram_entropy(x, discrete=1)
    with pytest.raises(TypeError, match=r"discrete_y must be True or False; got 'auto'"):
        histogram_mutual_information(x, x + 1, discrete_y="auto")
    with pytest.raises(
        ValueError, match=r"se_method must be one of \['subsample', 'delta', 'bootstrap'\]; got 'jackknife'"
    ):
        histogram_entropy(x, std_err=True, se_method="jackknife")
    with pytest.raises(ValueError, match=r"n_boot must be an integer >= 2; got 0"):
        histogram_entropy(x, n_boot=0)
    with pytest.raises(TypeError, match=r"seed must be an int, numpy.random.Generator"):
        histogram_entropy(x, seed="abc")
    with pytest.raises(ValueError, match=r"x and y must have the same number of samples; got x: 100, y: 99"):
        histogram_mutual_information(x, x[:99])


def test_bootstrap_constant_resample_is_reported():
    # n=4 (the smallest std_err allows), two equal values: 7 % of resamples are constant, so 200
    # replicates meet one. (Three equal values and a fourth, 0, 0, 0, 1, are refused earlier: two
    # levels on a grid are categories, which have no differential entropy.)
    with pytest.raises(ValueError, match=r"std_err: a bootstrap resample or subsample \(n=4\) has a constant column"):
        histogram_entropy(np.array([0.0, 0.0, 0.3, 1.0]), std_err=True, se_method="bootstrap", seed=0, n_boot=200)
