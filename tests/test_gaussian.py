"""Gaussian plug-in entropy and canonical-correlation MI.

Tiers: exact agreement with an independent numpy computation; closed-form
truth on Gaussian data with tolerances from the asymptotic variance;
unbiasedness of the bias-corrected estimators by Monte Carlo; bootstrap
standard errors against the Gaussian-theory ones; invariances; bad input.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import polygamma

import infobench
from infobench.estimators.gaussian import gaussian_entropy, gaussian_mutual_information

LOG_2PI_E = math.log(2 * math.pi) + 1


def _random_cov(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + d * np.eye(d)


def _mixing(rng, d):
    """A random invertible map with condition number <= 4 (a rotation times scales in [0.5, 2])."""
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return q * rng.uniform(0.5, 2.0, size=d)


def _cca_pair(rng, n, rhos, dx, dy):
    """x (n, dx), y (n, dy) whose canonical correlations are ``rhos``, then mixed linearly."""
    k = len(rhos)
    u = rng.normal(size=(n, dx))
    v = rng.normal(size=(n, dy))
    v[:, :k] = np.asarray(rhos) * u[:, :k] + np.sqrt(1 - np.asarray(rhos) ** 2) * v[:, :k]
    # Invertible maps of each variable keep the canonical correlations.
    return u @ _mixing(rng, dx) + 3.0, v @ _mixing(rng, dy) - 1.0


def test_entropy_matches_numpy_logdet(rng):
    x = rng.multivariate_normal(np.zeros(3), _random_cov(rng, 3), size=300)
    expected = 0.5 * (3 * LOG_2PI_E + np.linalg.slogdet(np.cov(x.T))[1])
    est = gaussian_entropy(x)
    assert est.value == pytest.approx(expected, abs=1e-10)
    assert est.extras["logdet_cov"] == pytest.approx(np.linalg.slogdet(np.cov(x.T))[1], abs=1e-10)


def test_entropy_closed_form_truth():
    rng = np.random.default_rng(7)
    d, n = 3, 20_000
    cov = _random_cov(rng, d)
    truth = 0.5 * (d * LOG_2PI_E + np.linalg.slogdet(cov)[1])
    est = infobench.entropy(rng.multivariate_normal(np.zeros(d), cov, size=n), method="gaussian")
    # 1/2 log det S has sd sqrt(d / (2n)) = 0.0087 and bias ~ -d(d+1)/(4n) = -0.00015.
    assert abs(est.value - truth) < 4 * math.sqrt(d / (2 * n)) + d * (d + 1) / (4 * n)


def test_mi_matches_numpy_logdet_and_eigen():
    rng = np.random.default_rng(3)
    x, y = _cca_pair(rng, 400, [0.8, 0.3], 2, 3)
    s = np.cov(np.hstack([x, y]).T)
    sxx, syy, sxy = s[:2, :2], s[2:, 2:], s[:2, 2:]
    logdet = lambda m: np.linalg.slogdet(m)[1]  # noqa: E731
    expected = 0.5 * (logdet(sxx) + logdet(syy) - logdet(s))
    est = gaussian_mutual_information(x, y)
    assert est.value == pytest.approx(expected, abs=1e-10)
    rho2 = np.sort(np.linalg.eigvals(np.linalg.solve(sxx, sxy) @ np.linalg.solve(syy, sxy.T)).real)[::-1]
    np.testing.assert_allclose(np.square(est.extras["canonical_correlations"]), rho2, atol=1e-10)


def test_mi_closed_form_truth():
    rng = np.random.default_rng(11)
    rhos, n = np.array([0.8, 0.3]), 20_000
    x, y = _cca_pair(rng, n, rhos, 2, 3)
    truth = -0.5 * np.log1p(-(rhos**2)).sum()
    est = infobench.mutual_information(x, y, method="gaussian")
    # Asymptotic var of -1/2 log(1 - r^2) is rho^2 / n per canonical pair; the
    # plug-in's bias is about dx*dy/(2n) = 0.00015.
    assert abs(est.value - truth) < 4 * math.sqrt((rhos**2).sum() / n) + 2 * 3 / (2 * n)


def test_entropy_bias_correction_is_unbiased():
    # The corrected estimator is exactly unbiased on Gaussian data: at n=10,
    # d=3 the plug-in is biased by about -0.45 nats, the corrected one by 0.
    rng = np.random.default_rng(5)
    d, n, reps = 3, 10, 600
    cov = _random_cov(rng, d)
    truth = 0.5 * (d * LOG_2PI_E + np.linalg.slogdet(cov)[1])
    plug, corr = [], []
    for _ in range(reps):
        x = rng.multivariate_normal(np.zeros(d), cov, size=n)
        plug.append(gaussian_entropy(x).value)
        corr.append(gaussian_entropy(x, bias_correction=True).value)
    se = np.std(corr, ddof=1) / math.sqrt(reps)
    assert abs(np.mean(corr) - truth) < 4 * se
    assert np.mean(plug) - truth < -10 * se  # the test can tell a biased estimator


def test_mi_bias_correction_is_unbiased():
    rng = np.random.default_rng(6)
    rhos, n, reps = np.array([0.7, 0.2]), 12, 600
    truth = -0.5 * np.log1p(-(rhos**2)).sum()
    plug, corr = [], []
    for _ in range(reps):
        x, y = _cca_pair(rng, n, rhos, 2, 2)
        plug.append(gaussian_mutual_information(x, y).value)
        corr.append(gaussian_mutual_information(x, y, bias_correction=True).value)
    se = np.std(corr, ddof=1) / math.sqrt(reps)
    assert abs(np.mean(corr) - truth) < 4 * se
    assert np.mean(plug) - truth > 10 * se


def test_entropy_bootstrap_std_err_matches_gaussian_theory():
    rng = np.random.default_rng(8)
    d, n = 2, 2000
    x = rng.multivariate_normal(np.zeros(d), _random_cov(rng, d), size=n)
    est = gaussian_entropy(x, std_err=True, seed=0, n_boot=200)
    # Var(log det A) = sum_i psi'((n - i)/2) for A ~ Wishart (exact).
    theory = 0.5 * math.sqrt(sum(polygamma(1, (n - i) / 2) for i in range(1, d + 1)))
    # 200 replicates: the bootstrap sd has ~5% relative sampling error.
    assert est.std_err == pytest.approx(theory, rel=0.25)


def test_mi_bootstrap_std_err_matches_delta_method():
    rng = np.random.default_rng(9)
    rho, n = 0.75, 5000
    x = rng.normal(size=n)
    y = rho * x + math.sqrt(1 - rho**2) * rng.normal(size=n)
    est = gaussian_mutual_information(x, y, std_err=True, seed=1, n_boot=200)
    # Var(-1/2 log(1 - r^2)) = (r / (1 - r^2))^2 Var(r), Var(r) = (1 - rho^2)^2 / n.
    assert est.std_err == pytest.approx(rho / math.sqrt(n), rel=0.25)


def test_bootstrap_is_seeded(rng):
    x = rng.normal(size=(200, 2))
    a = gaussian_entropy(x, std_err=True, seed=4, n_boot=20).std_err
    assert gaussian_entropy(x, std_err=True, seed=4, n_boot=20).std_err == a
    assert gaussian_entropy(x, std_err=True, seed=5, n_boot=20).std_err != a
    assert gaussian_entropy(x).std_err is None


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(1, 4), shift=st.floats(-1e3, 1e3))
def test_entropy_affine_equivariance(seed, d, shift):
    # H(XA + b) = H(X) + log|det A| holds exactly for the plug-in.
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, d))
    a = _mixing(rng, d)
    base = gaussian_entropy(x).value
    moved = gaussian_entropy(x @ a + shift).value
    assert moved == pytest.approx(base + np.linalg.slogdet(a)[1], abs=1e-8)
    perm = rng.permutation(60)
    assert gaussian_entropy(x[perm]).value == pytest.approx(base, abs=1e-10)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), dx=st.integers(1, 3), dy=st.integers(1, 3))
def test_mi_symmetry_and_invariance(seed, dx, dy):
    rng = np.random.default_rng(seed)
    x, y = _cca_pair(rng, 80, [0.6], dx, dy)
    base = gaussian_mutual_information(x, y).value
    assert gaussian_mutual_information(y, x).value == pytest.approx(base, abs=1e-10)
    a = _mixing(rng, dx)
    assert gaussian_mutual_information(x @ a - 7.0, 1e3 * y).value == pytest.approx(base, abs=1e-8)
    perm = rng.permutation(80)
    assert gaussian_mutual_information(x[perm], y[perm]).value == pytest.approx(base, abs=1e-10)


def test_float32_agrees_with_float64(rng):
    x = rng.normal(size=(500, 3))
    assert gaussian_entropy(x, dtype="float32").value == pytest.approx(gaussian_entropy(x).value, abs=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_tensor_input():
    x = torch.randn(1000, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = x[:, :1] + torch.randn(1000, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    cpu = gaussian_mutual_information(x, y, device="cpu").value
    gpu = gaussian_mutual_information(x.cuda(), y.cuda(), dtype="float64").value
    assert gpu == pytest.approx(cpu, abs=1e-9)


# ---------------------------------------------------------------- bad input
def test_too_few_rows_for_dimension(rng):
    with pytest.raises(ValueError, match=r"x needs more samples than dimensions .*n >= d \+ 1 = 4.*got n=3, d=3"):
        gaussian_entropy(rng.normal(size=(3, 3)))
    with pytest.raises(ValueError, match=r"y needs more samples than dimensions"):
        gaussian_mutual_information(rng.normal(size=(3, 1)), rng.normal(size=(3, 3)))


def test_collinear_columns(rng):
    x = rng.normal(size=(100, 2))
    x = np.column_stack([x, x[:, 0] - 2 * x[:, 1]])
    with pytest.raises(ValueError, match=r"x has a singular sample covariance \(column 2 is a linear combination"):
        gaussian_entropy(x)


def test_perfectly_dependent_pair(rng):
    x = rng.normal(size=100)
    with pytest.raises(ValueError, match=r"x and y are perfectly linearly dependent.*Gaussian MI is \+inf"):
        gaussian_mutual_information(x, 3 * x + 1)


def test_parameter_errors(rng):
    x = rng.normal(size=(50, 2))
    with pytest.raises(TypeError, match=r"bias_correction must be True or False; got 'yes'"):
        gaussian_entropy(x, bias_correction="yes")
    with pytest.raises(ValueError, match=r"n_boot must be an integer >= 2; got 1"):
        gaussian_entropy(x, n_boot=1)
    with pytest.raises(TypeError, match=r"std_err must be True or False; got 1"):
        gaussian_mutual_information(x[:, 0], x[:, 1], std_err=1)
    with pytest.raises(ValueError, match=r"seed must be a non-negative integer; got -1"):
        gaussian_mutual_information(x[:, 0], x[:, 1], seed=-1)
    with pytest.raises(ValueError, match=r"x and y must have the same number of samples; got x: 50, y: 49"):
        gaussian_mutual_information(x[:, 0], x[:49, 1])


def test_bootstrap_singular_resample_is_reported():
    # Six rows in 2-D, three of them equal (n=6 is the smallest std_err allows): many resamples
    # hold at most two distinct rows, or only (1, 0), (0, 1), (0.3, 0.7), which are collinear, and
    # are singular. (With 0.3, 0.7 instead of another (0, 0) no column holds two levels on a grid,
    # which are categories and refused before any resample.)
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0], [0.3, 0.7]])
    with pytest.raises(ValueError, match=r"std_err: a bootstrap resample of x (has a singular|column \d is constant)"):
        gaussian_entropy(x, std_err=True, seed=0, n_boot=50)
