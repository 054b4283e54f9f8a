"""The per-point kNN formulas of estimators/terms.py against direct transcriptions of the papers."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from scipy.special import digamma, gammaln

import infobench
from infobench.estimators import terms


def test_knn_entropy_terms_eq20_both_metrics_numpy_and_torch():
    rng = np.random.default_rng(0)
    log_r = np.log(rng.uniform(0.1, 2.0, size=50))
    n, d, k = 50, 3, 2
    euclid = digamma(n) - digamma(k) + 1.5 * math.log(math.pi) - gammaln(2.5) + d * log_r
    np.testing.assert_allclose(terms.knn_entropy_terms(log_r, n, d, k), euclid, rtol=1e-14)
    cheb = digamma(n) - digamma(k) + d * math.log(2.0) + d * log_r
    np.testing.assert_allclose(terms.knn_entropy_terms(log_r, n, d, k, "chebyshev"), cheb, rtol=1e-14)
    got = terms.knn_entropy_terms(torch.as_tensor(log_r), n, d, k)
    np.testing.assert_allclose(got.numpy(), euclid, rtol=1e-14)


def test_wkv_terms_eq5():
    log_nu, log_rho = np.array([0.1, -0.3]), np.array([-0.2, 0.4])
    got = terms.wkv_kl_terms(log_nu, log_rho, n=10, m=7, d=4)
    np.testing.assert_allclose(got, 4 * (log_nu - log_rho) + math.log(7 / 9), rtol=1e-15)


def test_ksg_terms_eq8_eq9_and_integer_table():
    nx, ny = np.array([0, 3, 7]), np.array([2, 2, 5])
    v1 = digamma(3) + digamma(100) - digamma(nx + 1) - digamma(ny + 1)
    v2 = digamma(3) - 1 / 3 + digamma(100) - digamma(nx) - digamma(ny)
    np.testing.assert_allclose(terms.ksg_terms(nx, ny, 100, 3, 1), v1, rtol=1e-14)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(
            terms.ksg_terms(nx + 1, ny, 100, 3, 2),
            digamma(3) - 1 / 3 + digamma(100) - digamma(nx + 1) - digamma(ny),
            rtol=1e-14,
        )
    assert np.isfinite(v2[1:]).all()
    t = terms.ksg_terms(torch.as_tensor(nx), torch.as_tensor(ny), 100, 3, 1)
    np.testing.assert_allclose(t.numpy(), v1, rtol=1e-14)


def test_ross_terms_eq2():
    k_i, n_lab, m = np.array([3, 2]), np.array([10, 3]), np.array([12, 4])
    expected = digamma(40) + digamma(k_i) - digamma(n_lab) - digamma(m)
    np.testing.assert_allclose(terms.ross_terms(40, k_i, n_lab, m), expected, rtol=1e-14)


def test_estimators_are_the_mean_of_the_terms():
    # The estimator and the quality score share one formula: the estimate is
    # the mean of knn_entropy_terms over brute-force k-th neighbour distances.
    x = np.random.default_rng(1).normal(size=(80, 3))
    dd = cdist(x, x)
    np.fill_diagonal(dd, np.inf)
    r = np.sort(dd, 1)[:, 2]
    direct = float(terms.knn_entropy_terms(np.log(r), 80, 3, 3).mean())
    assert infobench.entropy(x, "knn", k=3, jitter=False, transform="none").value == pytest.approx(direct, rel=1e-12)


def test_kl_entropy_terms_is_a_deprecated_alias():
    from infobench.estimators.terms import kl_entropy_terms

    log_dist = np.log(np.linspace(0.1, 1.0, 7))
    with pytest.warns(DeprecationWarning, match="kl_entropy_terms is deprecated.*use knn_entropy_terms"):
        old = kl_entropy_terms(log_dist, 7, 3, 2)
    np.testing.assert_array_equal(old, terms.knn_entropy_terms(log_dist, 7, 3, 2))
