"""Gaussian KDE leave-one-out resubstitution entropy and MI.

Tiers: exact agreement with a naive numpy computation using
scipy.stats.gaussian_kde's bandwidth; tiled equals untiled;
closed-form truth with tolerances measured over seeds; standard errors
against the spread over seeds; linear equivariance, permutation and symmetry
with hypothesis; every bad-input message.
"""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import logsumexp

import infobench
from infobench.estimators import kde as kde_module
from infobench.estimators.kde import bandwidth_factor, kde_entropy, kde_mutual_information

H_NORMAL = 0.5 * math.log(2 * math.pi * math.e)


def _mixing(rng, d):
    """A random invertible map with condition number <= 4 (a rotation times scales in [0.5, 2])."""
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return q * rng.uniform(0.5, 2.0, size=d)


def _naive_loo_log_density(x, bw_method):
    """Independent reference: scipy's bandwidth matrix, an untiled numpy n x n
    Mahalanobis matrix and scipy's logsumexp (no subtraction of the self term,
    which loses precision at small bandwidths)."""
    x = np.asarray(x, dtype=float).reshape(len(x), -1)
    n = len(x)
    kde = stats.gaussian_kde(x.T, bw_method=bw_method)
    diff = x[:, None, :] - x[None, :, :]
    q = np.einsum("ijk,kl,ijl->ij", diff, np.linalg.inv(kde.covariance), diff)
    np.fill_diagonal(q, np.inf)
    log_norm = np.log(n - 1) + 0.5 * np.linalg.slogdet(2 * np.pi * kde.covariance)[1]
    return logsumexp(-q / 2, axis=1) - log_norm, kde


@pytest.mark.parametrize("bandwidth", ["scott", "silverman", 0.3])
@pytest.mark.parametrize("d", [1, 2, 4])
def test_matches_naive_reference_and_scipy_bandwidth(bandwidth, d):
    rng = np.random.default_rng(d)
    x = rng.normal(size=(400, d)) @ (rng.normal(size=(d, d)) + 2 * np.eye(d))
    logf, kde = _naive_loo_log_density(x, bandwidth)
    est = kde_entropy(x, bandwidth=bandwidth)
    assert est.value == pytest.approx(-logf.mean(), abs=1e-10)
    assert est.extras["factor"] == pytest.approx(kde.factor, rel=1e-14)
    np.testing.assert_allclose(est.extras["bandwidth_matrix"], np.atleast_2d(kde.covariance), rtol=1e-12)


def test_rule_factors():
    assert bandwidth_factor("scott", 1000, 2) == pytest.approx(1000 ** (-1 / 6))
    assert bandwidth_factor("silverman", 1000, 2) == pytest.approx((1000 * 4 / 4) ** (-1 / 6))
    with pytest.raises(ValueError, match=r"bandwidth rule must be one of \['scott', 'silverman'\]; got 'cv'"):
        bandwidth_factor("cv", 10, 1)


@pytest.mark.parametrize("tile_size", [1, 7, 64])
def test_tiled_equals_untiled(rng, tile_size):
    x = rng.normal(size=(300, 3))
    full = kde_entropy(x, tile_size=300)
    tiled = kde_entropy(x, tile_size=tile_size)
    assert tiled.extras["tile_rows"] == tile_size
    assert tiled.value == pytest.approx(full.value, abs=1e-12)
    cv_full = kde_entropy(x, bandwidth="cv", tile_size=300)
    assert kde_entropy(x, bandwidth="cv", tile_size=tile_size).value == pytest.approx(cv_full.value, abs=1e-12)


def test_default_tile_rows_follow_the_memory_budget(rng, monkeypatch):
    monkeypatch.setattr(kde_module, "CPU_TILE_BYTES", 8 * 500 * 10)  # 10 float64 rows of 500
    x = rng.normal(size=(500, 2))
    est = kde_entropy(x, device="cpu")
    assert est.extras["tile_rows"] == 10
    assert est.value == pytest.approx(kde_entropy(x, tile_size=500).value, abs=1e-12)
    # "cv" keeps a second buffer of the same size, so half the rows.
    assert kde_entropy(x, bandwidth="cv", device="cpu").extras["tile_rows"] == 5


def test_far_outlier_does_not_underflow(rng):
    # The outlier's nearest neighbour is ~280 bandwidths away: exp(-d^2/2h^2)
    # underflows to 0 unless the log-sum-exp is shifted per row.
    x = np.append(rng.normal(size=200), 1e4)
    logf, _ = _naive_loo_log_density(x, 0.05)
    est = kde_entropy(x, bandwidth=0.05, tile_size=16)
    assert est.value == pytest.approx(-logf.mean(), rel=1e-12)
    assert -logf[-1] > 3e4


# ------------------------------------------------------------- bandwidth "cv"
def test_cv_picks_the_grid_factor_with_smallest_entropy(rng):
    x = rng.normal(size=(300, 2))
    grid = [0.2, 0.3, 0.45, 0.7, 1.0]
    est = kde_entropy(x, bandwidth="cv", cv_grid=grid)
    fixed = [kde_entropy(x, bandwidth=h).value for h in grid]
    assert est.value == pytest.approx(min(fixed), abs=1e-12)
    assert est.extras["factor"] == grid[int(np.argmin(fixed))]
    np.testing.assert_allclose(est.extras["cv_loglik"], -np.array(fixed), atol=1e-12)
    assert est.extras["cv_at_edge"] is False


def test_cv_default_grid_and_edge_warning(rng):
    x = rng.normal(size=400)
    est = kde_entropy(x, bandwidth="cv")
    scott = bandwidth_factor("scott", 400, 1)
    assert est.extras["cv_grid"][0] == pytest.approx(0.1 * scott)
    assert est.extras["cv_grid"][-1] == pytest.approx(2.0 * scott)
    with pytest.warns(UserWarning, match=r"bandwidth='cv': the best factor .* is at the edge of the grid"):
        edge = kde_entropy(x, bandwidth="cv", cv_grid=[5.0, 10.0])
    assert edge.extras["cv_at_edge"] is True


def test_cv_mi_uses_the_joint_choice_for_the_marginals(rng):
    x = rng.normal(size=300)
    y = x + rng.normal(size=300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = kde_mutual_information(x, y, bandwidth="cv", cv_grid=[0.2, 0.35, 0.5, 0.8])
    joint = kde_entropy(np.column_stack([x, y]), bandwidth="cv", cv_grid=[0.2, 0.35, 0.5, 0.8])
    assert est.extras["factor"] == joint.extras["factor"]
    assert est.extras["entropies"][2] == pytest.approx(joint.value, abs=1e-12)


# ----------------------------------------------------------- closed forms
def test_gaussian_entropy_1d_and_2d():
    rng = np.random.default_rng(21)
    n = 2000
    # Measured over 30 seeds at n=2000 (Scott): 1-D bias -0.0004, sd 0.015;
    # 2-D (rho=0.5) bias +0.018, sd 0.017. Tolerance |bias| + 4 sd.
    assert kde_entropy(rng.normal(size=n)).value == pytest.approx(H_NORMAL, abs=0.06)
    cov = np.array([[1.0, 0.5], [0.5, 1.0]])
    truth = 0.5 * np.log(np.linalg.det(2 * np.pi * np.e * cov))
    x = rng.multivariate_normal([0, 0], cov, size=n)
    assert kde_entropy(x).value == pytest.approx(truth, abs=0.087)


def test_uniform_entropy_is_biased_up_at_the_edges():
    # KDE smooths mass over the support's edges, so the entropy of U(0,1)^2
    # (truth 0) is overestimated: a known boundary bias, kept and visible.
    x = np.random.default_rng(0).uniform(size=(1500, 2))
    assert 0.0 < kde_entropy(x).value < 0.2


def test_gaussian_mi():
    rng = np.random.default_rng(22)
    rho, n = 0.6, 2000
    x = rng.normal(size=n)
    y = rho * x + math.sqrt(1 - rho**2) * rng.normal(size=n)
    # Measured over 30 seeds at n=2000: bias -0.0135, sd 0.0128.
    est = infobench.mutual_information(x, y, method="kde")
    assert est.value == pytest.approx(-0.5 * math.log(1 - rho**2), abs=0.065)


def test_mi_marginals_are_blocks_of_the_joint_bandwidth(rng):
    x = rng.normal(size=(400, 2))
    y = x[:, :1] + rng.normal(size=(400, 1))
    est = kde_mutual_information(x, y)
    h = est.extras["factor"]
    assert h == pytest.approx(bandwidth_factor("scott", 400, 3))
    hx, hy, hxy = est.extras["entropies"]
    assert hx == pytest.approx(kde_entropy(x, bandwidth=h).value, abs=1e-12)
    assert hy == pytest.approx(kde_entropy(y, bandwidth=h).value, abs=1e-12)
    assert hxy == pytest.approx(kde_entropy(np.hstack([x, y]), bandwidth=h).value, abs=1e-12)
    assert est.value == pytest.approx(hx + hy - hxy, abs=1e-12)


# --------------------------------------------------------- standard errors
def test_std_err_matches_spread_over_seeds():
    n, reps = 500, 60
    values, ses = [], []
    for seed in range(reps):
        est = kde_entropy(np.random.default_rng(seed).normal(size=n), std_err=True)
        values.append(est.value)
        ses.append(est.std_err)
    # Measured at n=500 over 30 seeds: sd 0.034, mean SE 0.031; the sd over
    # 60 seeds carries ~9% sampling error.
    assert np.mean(ses) == pytest.approx(np.std(values, ddof=1), rel=0.3)


def test_mi_std_err_is_spread_of_per_point_terms(rng):
    x = rng.normal(size=300)
    y = x + rng.normal(size=300)
    est = kde_mutual_information(x, y, std_err=True)
    h = est.extras["factor"]
    t = (
        _naive_loo_log_density(np.column_stack([x, y]), h)[0]
        - _naive_loo_log_density(x, h)[0]
        - _naive_loo_log_density(y, h)[0]
    )
    assert est.value == pytest.approx(t.mean(), abs=1e-10)
    assert est.std_err == pytest.approx(t.std(ddof=1) / math.sqrt(300), rel=1e-8)


# ------------------------------------------------------------- invariances
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(1, 3), shift=st.floats(-1e3, 1e3))
def test_entropy_linear_equivariance_and_permutation(seed, d, shift):
    # The bandwidth follows the covariance, so H(XA + b) = H(X) + log|det A| exactly.
    rng = np.random.default_rng(seed)
    x = rng.standard_t(df=5, size=(150, d))
    a = _mixing(rng, d)
    base = kde_entropy(x).value
    assert kde_entropy(x @ a + shift).value == pytest.approx(base + np.linalg.slogdet(a)[1], abs=1e-8)
    assert kde_entropy(x[rng.permutation(150)]).value == pytest.approx(base, abs=1e-10)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(1e-3, 1e3))
def test_mi_symmetry_and_marginal_invariance(seed, scale):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(150, 2))
    y = np.sin(x[:, :1]) + 0.5 * rng.normal(size=(150, 1))
    base = kde_mutual_information(x, y).value
    assert kde_mutual_information(y, x).value == pytest.approx(base, abs=1e-10)
    a = _mixing(rng, 2)
    assert kde_mutual_information(x @ a + 1.0, -scale * y).value == pytest.approx(base, abs=1e-8)
    perm = rng.permutation(150)
    assert kde_mutual_information(x[perm], y[perm]).value == pytest.approx(base, abs=1e-10)


def test_float32_agrees_with_float64(rng):
    x = rng.normal(size=(500, 2))
    # Squared distances of whitened points carry ~1e-6 relative rounding in float32.
    assert kde_entropy(x, dtype="float32").value == pytest.approx(kde_entropy(x).value, abs=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_tensor_input():
    x = torch.randn(3000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = x[:, :1] + torch.randn(3000, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    cpu = kde_mutual_information(x, y, device="cpu").value
    assert kde_mutual_information(x.cuda(), y.cuda(), dtype="float64").value == pytest.approx(cpu, abs=1e-9)
    assert kde_entropy(x.cuda()).value == pytest.approx(kde_entropy(x, device="cpu").value, abs=1e-4)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "bandwidth, exc, message",
    [
        (0.0, ValueError, r"bandwidth must be a finite number > 0.0; got 0.0"),
        (-1, ValueError, r"bandwidth must be a finite number > 0.0; got -1"),
        (float("nan"), ValueError, r"bandwidth must be a finite number > 0.0; got nan"),
        (float("inf"), ValueError, r"bandwidth must be a finite number > 0.0; got inf"),
        ("normal_reference", ValueError, r"bandwidth must be one of \['scott', 'silverman', 'cv'\]"),
        (True, TypeError, r"bandwidth must be one of \['scott', 'silverman', 'cv'\] or a positive float; got bool"),
        ([0.1], TypeError, r"bandwidth must be one of .* or a positive float; got list \[0.1\]"),
    ],
)
def test_bad_bandwidth(rng, bandwidth, exc, message):
    with pytest.raises(exc, match=message):
        kde_entropy(rng.normal(size=50), bandwidth=bandwidth)


def test_bad_parameters(rng):
    x = rng.normal(size=50)
    with pytest.raises(ValueError, match=r"cv_grid is only used with bandwidth='cv'; got bandwidth='scott'"):
        kde_entropy(x, cv_grid=[0.1, 0.2])
    with pytest.raises(ValueError, match=r"cv_grid must contain at least one factor"):
        kde_entropy(x, bandwidth="cv", cv_grid=[])
    with pytest.raises(ValueError, match=r"cv_grid\[1\] must be a finite number > 0.0; got -0.2"):
        kde_entropy(x, bandwidth="cv", cv_grid=[0.1, -0.2])
    with pytest.raises(TypeError, match=r"cv_grid must be a sequence of positive floats; got float 0.1"):
        kde_entropy(x, bandwidth="cv", cv_grid=0.1)
    with pytest.raises(ValueError, match=r"tile_size must be an integer >= 1; got 0"):
        kde_entropy(x, tile_size=0)
    with pytest.raises(TypeError, match=r"tile_size must be an integer >= 1; got 'big'"):
        kde_entropy(x, tile_size="big")
    with pytest.raises(TypeError, match=r"std_err must be True or False; got None"):
        kde_mutual_information(x, x**2, std_err=None)
    with pytest.raises(ValueError, match=r"seed must be a non-negative integer; got -5"):
        kde_entropy(x, seed=-5)


def test_too_few_rows_and_singular_covariance(rng):
    with pytest.raises(ValueError, match=r"x needs more samples than dimensions for a non-singular bandwidth matrix"):
        kde_entropy(rng.normal(size=(3, 4)))
    with pytest.raises(ValueError, match=r"x and y together need more samples than dimensions .*dx \+ dy \+ 1 = 5"):
        kde_mutual_information(rng.normal(size=(4, 2)), rng.normal(size=(4, 2)))
    x = rng.normal(size=100)
    with pytest.raises(ValueError, match=r"x has a singular sample covariance \(column 1"):
        kde_entropy(np.column_stack([x, 2 * x]))
    with pytest.raises(ValueError, match=r"the joint sample \(x, y\) has a singular sample covariance"):
        kde_mutual_information(x, 1 - x)
