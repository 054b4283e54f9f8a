"""Gaussian-copula MI ("gcmi", Ince et al. 2017) and transform="copula"."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import infobench
from infobench.estimators.gaussian_copula import gcmi_mutual_information

# Strictly increasing maps of one coordinate: MI does not change under any of them.
MONOTONE = {
    "exp": np.exp,
    "cube": lambda v: v**3,
    "sinh": np.sinh,
    "arctan": np.arctan,
    "affine": lambda v: 1e3 * v - 7.0,
    "logistic": lambda v: 1.0 / (1.0 + np.exp(-v)),
}


def gaussian_pair(n, seed, cov):
    """Rows of a zero-mean Gaussian with covariance ``cov``; returns the sample and the MI of its split."""
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal(np.zeros(len(cov)), cov, size=n)


def gaussian_mi(cov, dx):
    cov = np.asarray(cov)
    return 0.5 * (np.linalg.slogdet(cov[:dx, :dx])[1] + np.linalg.slogdet(cov[dx:, dx:])[1] - np.linalg.slogdet(cov)[1])


COV_1x1 = [[1.0, 0.8], [0.8, 1.0]]
COV_2x2 = [[1.0, 0.3, 0.5, 0.0], [0.3, 1.0, 0.2, 0.4], [0.5, 0.2, 1.0, -0.1], [0.0, 0.4, -0.1, 1.0]]


@pytest.mark.parametrize("cov, dx", [(COV_1x1, 1), (COV_2x2, 2)])
def test_gcmi_is_exact_in_expectation_on_gaussian_copula_tasks(cov, dx):
    # A Gaussian passed through increasing maps (exp, cube, sinh, arctan): the
    # copula is Gaussian, so the truth is the Gaussian MI of cov.
    truth = gaussian_mi(cov, dx)
    maps = [np.exp, MONOTONE["cube"], np.sinh, np.arctan]
    vals = []
    for seed in range(100):
        z = gaussian_pair(1000, seed, cov)
        w = np.column_stack([maps[j % 4](z[:, j]) for j in range(z.shape[1])])
        vals.append(gcmi_mutual_information(w[:, :dx], w[:, dx:]).value)
    mean, se = np.mean(vals), np.std(vals, ddof=1) / math.sqrt(len(vals))
    # The bias correction removes the Gaussian-entropy bias exactly; what is
    # left is the O(1/n) bias of the rank estimate of the marginals (about
    # -0.002 nats at n=1000, measured over 200 seeds): 4 standard errors of
    # the 100-seed mean (se ~0.0025) plus that.
    assert abs(mean - truth) < 4 * se + 0.003, (mean, truth, se)


def test_gcmi_bias_correction_is_the_gaussian_methods():
    # Without the correction the plug-in is biased up by ~dx dy / (2n); with it
    # the mean over seeds sits on the truth while the plug-in does not.
    cov, dx, n = COV_2x2, 2, 100
    truth = gaussian_mi(cov, dx)
    corrected, plugin = [], []
    for seed in range(200):
        z = gaussian_pair(n, seed, cov)
        est = gcmi_mutual_information(z[:, :dx], z[:, dx:])
        corrected.append(est.value)
        plugin.append(gcmi_mutual_information(z[:, :dx], z[:, dx:], bias_correction=False).value)
        g = infobench.mutual_information(z[:, :dx], z[:, dx:], "gaussian", bias_correction=True)
        assert est.extras["bias_correction"] == pytest.approx(
            g.value - infobench.mutual_information(z[:, :dx], z[:, dx:], "gaussian").value, abs=1e-12
        )
    se = np.std(plugin, ddof=1) / math.sqrt(200)
    assert np.mean(plugin) - truth > 4 * se  # the plug-in bias (~0.02 nats) is visible
    # corrected: 4 se of the 200-seed mean, plus the rank bias (~0.01 at n=100)
    assert abs(np.mean(corrected) - truth) < 4 * se + 0.012


def test_gcmi_agrees_with_the_gaussian_method_on_gaussian_data():
    # On Gaussian data the normal scores are the data up to an O(1/sqrt(n))
    # perturbation of each value, so the two estimates differ by much less
    # than either's spread (sd ~0.02 nats at n=2000).
    z = gaussian_pair(2000, 11, COV_2x2)
    g = infobench.mutual_information(z[:, :2], z[:, 2:], "gaussian", bias_correction=True).value
    c = infobench.mutual_information(z[:, :2], z[:, 2:], "gcmi").value
    assert c == pytest.approx(g, abs=0.01)


def test_gcmi_std_err_matches_the_spread_over_seeds():
    vals = [gcmi_mutual_information(*np.hsplit(gaussian_pair(500, s, COV_1x1), 2)).value for s in range(60)]
    est = gcmi_mutual_information(*np.hsplit(gaussian_pair(500, 99, COV_1x1), 2), std_err=True, seed=0, n_boot=200)
    # The bootstrap sd of 200 replicates has ~5% relative error, the 60-seed sd ~9%.
    assert est.std_err == pytest.approx(np.std(vals, ddof=1), rel=0.3)
    again = gcmi_mutual_information(*np.hsplit(gaussian_pair(500, 99, COV_1x1), 2), std_err=True, seed=0, n_boot=200)
    assert again.std_err == est.std_err  # seeded


def test_gcmi_messages():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    with pytest.raises(ValueError, match=r"x is integer-valued, but the Gaussian-copula estimator is for continuous"):
        gcmi_mutual_information(np.arange(50) % 3, x)
    with pytest.raises(TypeError, match=r"bias_correction must be True or False; got 1"):
        gcmi_mutual_information(x, x + rng.normal(size=50), bias_correction=1)
    with pytest.raises(ValueError, match=r"perfectly linearly dependent"):
        gcmi_mutual_information(x, np.exp(x))  # identical ranks: infinite MI
    with pytest.raises(ValueError, match=r"method must be one of .* for entropy"):
        infobench.entropy(x, "gcmi")


# --------------------------------------------- invariance to monotone maps
MAP_NAMES = st.lists(st.sampled_from(sorted(MONOTONE)), min_size=3, max_size=3)


@pytest.fixture(scope="module")
def dependent():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(300, 2))
    y = np.sin(x[:, :1]) + 0.3 * rng.standard_t(3, size=(300, 1))
    return x, y


@settings(max_examples=10, deadline=None)
@given(names=MAP_NAMES)
def test_copula_estimates_are_invariant_to_monotone_maps(dependent, names):
    x, y = dependent
    w = np.column_stack([MONOTONE[nm](c) for nm, c in zip(names, np.column_stack([x, y]).T)])
    cases = [
        ("gcmi", {}),
        ("ksg", {"transform": "copula", "seed": 0}),
        ("kde", {"transform": "copula"}),
        ("histogram", {"transform": "copula"}),
    ]
    for method, kw in cases:
        ref = infobench.mutual_information(x, y, method, **kw).value
        # The ranks, hence the normal scores, are identical: only rounding differs.
        assert infobench.mutual_information(w[:, :2], w[:, 2:], method, **kw).value == pytest.approx(ref, abs=1e-9), (
            method,
            names,
        )


def test_copula_ksg_on_heavy_tails_is_closer_to_the_truth():
    # Student-t-like marginals from a Gaussian copula (x -> sinh(3x)): KSG on the
    # raw data loses neighbours in the tails; on normal scores it is KSG on a
    # Gaussian. n=2000, KSG sd ~0.02 nats.
    z = gaussian_pair(2000, 3, COV_1x1)
    truth = gaussian_mi(COV_1x1, 1)
    w = np.sinh(3 * z)
    cop = infobench.mutual_information(w[:, :1], w[:, 1:], "ksg", transform="copula", seed=0).value
    raw = infobench.mutual_information(w[:, :1], w[:, 1:], "ksg", seed=0).value
    assert cop == pytest.approx(truth, abs=0.06)
    assert abs(cop - truth) < abs(raw - truth)


def test_copula_leaves_discrete_sides_alone():
    # Ross's KSG and the histogram with a discrete x: the labels are not
    # ranked, and an increasing map of the continuous side changes nothing.
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, size=600)
    y = labels + rng.normal(size=600)
    for method, kw in [("ksg", {"seed": 0}), ("histogram", {})]:
        ref = infobench.mutual_information(labels, y, method, transform="copula", **kw)
        moved = infobench.mutual_information(labels, np.exp(y), method, transform="copula", **kw)
        assert moved.value == pytest.approx(ref.value, abs=1e-12)
    est = infobench.mutual_information(labels, y, "histogram", transform="copula")
    assert est.extras["bins"][0] == 3  # one cell per label, as without the transform


def test_normal_scores_against_a_reference_sample():
    # Ranked among a reference: a value equal to a reference value gets its
    # average rank, one between two reference values the half rank between,
    # values beyond stay at rank 1/2 or m + 1/2; against itself it is the
    # plain transform (ties included), as tensors and as arrays.
    import torch
    from scipy.special import ndtri

    from infobench.estimators._transforms import normal_scores

    ref = np.array([0.0, 1.0, 1.0, 3.0])  # ranks 1, 2.5, 2.5, 4 of m = 4
    got = normal_scores(np.array([-9.0, 0.0, 0.5, 1.0, 2.0, 3.0, 9.0]), reference=ref)
    np.testing.assert_array_equal(got, ndtri(np.array([0.5, 1.0, 1.5, 2.5, 3.5, 4.0, 4.5]) / 5.0))
    a = np.round(np.random.default_rng(0).normal(size=(60, 3)), 1)
    np.testing.assert_array_equal(normal_scores(a, reference=a), normal_scores(a))
    t = torch.tensor(a, dtype=torch.float32)
    assert torch.equal(normal_scores(t, reference=t), normal_scores(t))
    with pytest.raises(
        ValueError,
        match=r"reference must have the columns of the data, shape \(m, \.\.\.\) with "
        r"m >= 1; got \(4,\) for data of shape \(60, 3\)",
    ):
        normal_scores(a, reference=ref)
