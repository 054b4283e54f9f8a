"""Every truth checked against an independent computation.

* closed forms against a different formula (eigenvalues, canonical
  correlations) or numerical integration (scipy.integrate.quad);
* entropies against scipy.stats' ``.entropy()``;
* Student-t MI, mixture MI and entropy, and every entropy task against Monte
  Carlo of exact log densities from scipy.stats (not the task's own code),
  within 4 Monte-Carlo standard errors: a false alarm has probability ~6e-5
  per check, and the seeds are fixed, so the tests are deterministic.
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from infobench import tasks
from infobench.tasks import (
    AdditiveUniform,
    AffineEntropy,
    Bimodal,
    CrossMixture,
    DenseNormal,
    DiscreteContinuous,
    ExponentialEntropy,
    GaussianCovEntropy,
    GaussianEntropy,
    GaussianMixture,
    GaussianMixtureEntropy,
    LaplaceEntropy,
    Normal,
    RandomMixture,
    RandomMixtureEntropy,
    SparseNormal,
    StudentT,
    StudentTEntropy,
    SwissRoll,
    Transformed,
    TransformedEntropy,
    UniformEntropy,
)
from infobench.tasks._quadrature import expected_log_derivative, normal_marginal, student_t_marginal
from infobench.tasks.normal import student_t_correction
from infobench.tasks.transforms import get_transform

Z = 4.0  # Monte-Carlo tolerance in standard errors (two-sided p ~ 6e-5)


def _mc(values):
    return values.mean(), values.std(ddof=1) / math.sqrt(values.size)


def _cca_mi(cov, dx):
    """-1/2 sum log(1 - r_i^2) over the canonical correlations r_i (an SVD, no determinants)."""

    def inv_sqrt(m):
        w, v = np.linalg.eigh(m)
        return v @ np.diag(w**-0.5) @ v.T

    r = np.linalg.svd(inv_sqrt(cov[:dx, :dx]) @ cov[:dx, dx:] @ inv_sqrt(cov[dx:, dx:]), compute_uv=False)
    return -0.5 * np.log1p(-(r**2)).sum()


# ------------------------------------------------------------------- Gaussian
@settings(max_examples=40, deadline=None)
@given(dx=st.integers(1, 6), dy=st.integers(1, 6), u=st.floats(0.02, 0.98))
def test_dense_normal_matches_equicorrelation_determinant(dx, dy, u):
    d = dx + dy
    rho = -1 / (d - 1) + u * (1 + 1 / (d - 1))  # anywhere in the valid interval
    t = DenseNormal(dx, dy, rho)

    def logdet(k):  # det of a k-dim equicorrelation matrix: (1-rho)^(k-1) (1+(k-1) rho)
        return (k - 1) * math.log1p(-rho) + math.log1p((k - 1) * rho)

    assert t.truth == pytest.approx(0.5 * (logdet(dx) + logdet(dy) - logdet(d)), abs=1e-9)
    assert t.truth == pytest.approx(_cca_mi(t.covariance_matrix(), dx), abs=1e-8)


def test_sparse_and_custom_normal():
    t = SparseNormal(10, 7, rho=0.6, n_pairs=3)
    assert t.truth == pytest.approx(-1.5 * math.log(1 - 0.36), abs=1e-12)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    cov = a @ a.T + 0.5 * np.eye(5)
    t = Normal(cov, dim_x=2)
    assert t.truth == pytest.approx(_cca_mi(cov, 2), abs=1e-10)
    # Sampled covariance agrees with the specified one (relative error ~ sqrt(2/n) = 0.6% at n=50k).
    x, y = t.sample(50_000, seed=1)
    np.testing.assert_allclose(np.cov(np.hstack([x, y]).T), cov, atol=0.05 * np.abs(cov).max())


# ---------------------------------------------------------------- Student-t
@pytest.mark.parametrize(
    "task",
    [
        StudentT(SparseNormal(1, 1, rho=0.0), nu=1),
        StudentT(DenseNormal(1, 1, rho=0.5), nu=3),
        StudentT(DenseNormal(2, 2, rho=0.5), nu=5),
        StudentT(Normal([[1.0, 0.4, -0.2], [0.4, 2.0, 0.3], [-0.2, 0.3, 1.5]], 1), nu=2.5),
    ],
    ids=lambda t: t.id,
)
def test_student_t_mi_against_monte_carlo_of_exact_densities(task):
    x, y = task.sample(200_000, seed=11)
    s = task.dispersion.covariance_matrix()
    dx, nu = task.dim_x, task.nu
    joint = stats.multivariate_t(np.zeros(s.shape[0]), s, df=nu).logpdf(np.hstack([x, y]))
    px = stats.multivariate_t(np.zeros(dx), s[:dx, :dx], df=nu).logpdf(x)
    py = stats.multivariate_t(np.zeros(s.shape[0] - dx), s[dx:, dx:], df=nu).logpdf(y)
    mean, se = _mc(joint - px - py)
    assert abs(mean - task.truth) < Z * se, (mean, se, task.truth)


def test_student_t_limits():
    base = DenseNormal(2, 3, rho=0.3)
    # nu -> infinity: the Gaussian MI of the dispersion; the correction is
    # dim_x dim_y / (2 nu^2) + O(nu^-3), summed as a series for large nu
    # because the closed form's four ~nu log nu terms cancel.
    assert StudentT(base, nu=1e7).truth == pytest.approx(base.truth, abs=1e-12)
    for nu in (1e3, 1e6):
        assert student_t_correction(nu, 2, 3) == pytest.approx(6 / (2 * nu**2), rel=1e-2 if nu == 1e3 else 1e-5)

    def closed(nu, dx, dy):
        f = lambda x: x * special.digamma(x) - special.gammaln(x)  # noqa: E731
        h, a, b = nu / 2, dx / 2, dy / 2
        return f(h + a) + f(h + b) - f(h + a + b) - f(h)

    # Where both are accurate (nu ~ 100: cancellation costs ~1e-13), series and closed form agree.
    for dx, dy in ((1, 1), (2, 3), (5, 5)):
        assert student_t_correction(120.0, dx, dy) == pytest.approx(closed(120.0, dx, dy), abs=1e-12)
        assert student_t_correction(3.0, dx, dy) == closed(3.0, dx, dy)
    # Uncorrelated dispersion: X, Y still share the scale, so I > 0, decreasing in nu.
    vals = [StudentT(SparseNormal(1, 1, 0.0), nu=nu).truth for nu in (1, 2, 5, 30)]
    assert all(v > 0 for v in vals) and vals == sorted(vals, reverse=True)


# ----------------------------------------------------- uniform noise, discrete
@pytest.mark.parametrize("eps", [0.05, 0.3, 0.5, 0.75, 2.0])
def test_additive_uniform_against_numerical_integration(eps):
    def p_y(v):  # density of X + N: length of [v - eps, v + eps] within [0, 1], over 2 eps
        return max(0.0, min(1.0, v + eps) - max(0.0, v - eps)) / (2 * eps)

    pts = sorted({-eps, eps, 1 - eps, 1 + eps})
    h_y = sum(
        integrate.quad(lambda v: -p_y(v) * math.log(p_y(v)) if p_y(v) > 0 else 0.0, a, b, epsabs=1e-13)[0]
        for a, b in itertools.pairwise(pts)
    )
    per = h_y - math.log(2 * eps)
    assert AdditiveUniform(eps).truth == pytest.approx(per, abs=1e-9)
    assert AdditiveUniform(eps, dim=3).truth == pytest.approx(3 * per, abs=1e-9)


@pytest.mark.parametrize("m", [1, 2, 5, 10])
def test_discrete_continuous_against_direct_computation(m):
    def p_y(v):
        return sum(1.0 / (2 * m) for x in range(m) if x <= v < x + 2)

    # I = sum_x p(x) int p(y|x) log(p(y|x) / p(y)) dy, integrated piecewise on unit intervals.
    total = 0.0
    for x in range(m):
        for a in (x, x + 1):
            total += integrate.quad(lambda v: 0.5 * math.log(0.5 / p_y(v)), a, a + 1)[0] / m
    assert DiscreteContinuous(m).truth == pytest.approx(total, abs=1e-9)


# ------------------------------------------------------------------ mixtures
def _scipy_mixture_logpdf(z, weights, means, covs):
    parts = [np.log(w) + stats.multivariate_normal(m, c).logpdf(z) for w, m, c in zip(weights, means, covs)]
    return special.logsumexp(np.stack(parts).reshape(len(weights), -1), axis=0)


@pytest.mark.parametrize("task", [CrossMixture(0.9), RandomMixture(2, 2, n_components=3, seed=1)], ids=lambda t: t.id)
def test_mixture_mi_against_independent_monte_carlo(task):
    mix = task.mixture
    w, m, c, dx = mix.weights, mix.means, mix.covs, task.dim_x
    x, y = task.sample(100_000, seed=12345)  # plain (unstratified) sampling, another seed
    pmi = (
        _scipy_mixture_logpdf(np.hstack([x, y]), w, m, c)
        - _scipy_mixture_logpdf(x, w, m[:, :dx], c[:, :dx, :dx])
        - _scipy_mixture_logpdf(y, w, m[:, dx:], c[:, dx:, dx:])
    )
    mean, se = _mc(pmi)
    assert task.truth_std_err > 0
    assert abs(mean - task.truth) < Z * math.hypot(se, task.truth_std_err), (mean, se, task.truth)


def test_one_component_mixture_is_gaussian():
    cov = [[1.0, 0.6], [0.6, 1.0]]
    t = GaussianMixture([1.0], [[0.0, 0.0]], [cov], dim_x=1)
    assert abs(t.truth - DenseNormal(1, 1, 0.6).truth) < Z * t.truth_std_err
    h = GaussianMixtureEntropy([1.0], [[0.0, 0.0]], [cov])
    assert abs(h.truth - GaussianCovEntropy(cov).truth) < Z * h.truth_std_err


def test_mixture_entropy_against_independent_monte_carlo():
    task = RandomMixtureEntropy(2, n_components=3, seed=1)
    mix = task.mixture
    x = task.sample(100_000, seed=777)
    mean, se = _mc(-_scipy_mixture_logpdf(x, mix.weights, mix.means, mix.covs))
    assert abs(mean - task.truth) < Z * math.hypot(se, task.truth_std_err)


# -------------------------------------------------------- transformed MI tasks
@pytest.mark.parametrize(
    "task",
    [
        Transformed(DenseNormal(2, 2, 0.5), x="half-cube", y="wiggly"),
        Transformed(SparseNormal(3, 2, 0.8), x="spiral", y="normal-cdf"),
        Bimodal(DenseNormal(1, 1, 0.75)),
    ],
    ids=lambda t: t.id,
)
def test_transformed_tasks_keep_the_truth(task):
    assert task.truth == task.base.truth and task.truth_std_err == task.base.truth_std_err


def test_swissroll_truth_is_the_gaussian_one():
    assert SwissRoll(0.8).truth == pytest.approx(DenseNormal(1, 1, 0.8).truth, abs=1e-15)


# ------------------------------------------------------------------- entropy
def test_entropy_closed_forms_against_scipy():
    cov = GaussianEntropy(10, rho=0.3, scale=2.0)._cov
    assert GaussianEntropy(10, rho=0.3, scale=2.0).truth == pytest.approx(
        stats.multivariate_normal(cov=cov).entropy(), abs=1e-10
    )
    assert GaussianCovEntropy([[1.0, 0.8], [0.8, 2.0]]).truth == pytest.approx(
        stats.multivariate_normal(cov=[[1.0, 0.8], [0.8, 2.0]]).entropy(), abs=1e-12
    )
    assert UniformEntropy((1.0, 3.0, 0.5)).truth == pytest.approx(
        sum(stats.uniform(0, w).entropy() for w in (1.0, 3.0, 0.5)), abs=1e-12
    )
    assert LaplaceEntropy(5, scale=0.5).truth == pytest.approx(5 * stats.laplace(scale=0.5).entropy(), abs=1e-12)
    assert ExponentialEntropy(3, rate=2.0).truth == pytest.approx(3 * stats.expon(scale=0.5).entropy(), abs=1e-12)
    assert StudentTEntropy(1, nu=3).truth == pytest.approx(stats.t(3).entropy(), abs=1e-9)
    t = StudentTEntropy(3, nu=5, rho=0.5, scale=1.5)
    shape = 1.5**2 * (0.5 * np.eye(3) + 0.5)
    assert t.truth == pytest.approx(stats.multivariate_t(shape=shape, df=5).entropy(), abs=1e-9)


def test_log_prob_against_scipy():
    x = np.random.default_rng(3).normal(size=(50, 3))
    t = StudentTEntropy(3, nu=5, rho=0.5, scale=1.5)
    shape = 1.5**2 * (0.5 * np.eye(3) + 0.5)
    np.testing.assert_allclose(t.log_prob(x), stats.multivariate_t(shape=shape, df=5).logpdf(x), rtol=1e-10)
    g = GaussianEntropy(3, rho=0.5)
    np.testing.assert_allclose(g.log_prob(x), stats.multivariate_normal(cov=g._cov).logpdf(x), rtol=1e-10)
    np.testing.assert_allclose(
        LaplaceEntropy(3, 0.5).log_prob(x), stats.laplace(scale=0.5).logpdf(x).sum(1), rtol=1e-12
    )
    xp = np.abs(x)
    np.testing.assert_allclose(
        ExponentialEntropy(3, 2.0).log_prob(xp), stats.expon(scale=0.5).logpdf(xp).sum(1), rtol=1e-12
    )


@pytest.mark.parametrize("task", tasks.suite("entropy"), ids=lambda t: t.id)
def test_entropy_truth_against_monte_carlo_of_log_density(task):
    # -log p(X) averaged over 100k draws; for transformed tasks log p comes
    # from the inverse map and the log-Jacobian, so this checks the Jacobian term.
    x = task.sample(100_000, seed=2024)
    mean, se = _mc(-task.log_prob(x))
    # (+1e-12: -log p is constant for the uniform box, so its MC error is 0.)
    assert abs(mean - task.truth) < Z * math.hypot(se, task.truth_std_err) + 1e-12, (mean, se, task.truth)


@pytest.mark.parametrize("s", [0.3, 1.0, 2.5])
def test_jacobian_quadrature_against_closed_forms(s):
    m = normal_marginal(s)
    # E[log phi(X)] = -1/2 log(2 pi) - s^2/2 for X ~ N(0, s^2)
    assert expected_log_derivative(get_transform("normal-cdf").log_derivative, m) == pytest.approx(
        -0.5 * math.log(2 * math.pi) - s * s / 2, abs=1e-11
    )
    # E[log(1.5 |X|^(1/2))] = log 1.5 + (log s + E log|Z|)/2, E log|Z| = -(gamma + log 2)/2
    assert expected_log_derivative(get_transform("half-cube").log_derivative, m) == pytest.approx(
        math.log(1.5) + 0.5 * (math.log(s) - 0.5 * (np.euler_gamma + math.log(2))), abs=1e-10
    )
    t = TransformedEntropy(GaussianEntropy(1, scale=s), "normal-cdf")
    assert t.truth == pytest.approx(
        0.5 * math.log(2 * math.pi * math.e * s * s) - 0.5 * math.log(2 * math.pi) - s * s / 2, abs=1e-11
    )


@pytest.mark.parametrize("marginal", [normal_marginal(1.3), student_t_marginal(3.0, 1.0)], ids=["normal", "t3"])
def test_truncated_rule_against_adaptive_quadrature(marginal):
    # The bounded wiggly map uses the truncated Gauss-Legendre rule; compare
    # with scipy's adaptive quadrature on the same integrand over [-300, 300]
    # plus the tail mass bound (|log f'| <= 1.92).
    w = get_transform("wiggly")
    rule = expected_log_derivative(w.log_derivative, marginal, bound=w.log_df_bound)
    edges = np.arange(-300.0, 300.01, 2.0)
    ref = sum(
        integrate.quad(lambda t: float(w.log_derivative(t) * marginal.pdf(t)), a, b, epsabs=1e-14)[0]
        for a, b in itertools.pairwise(edges)
    )
    tail = 1.92 * 2 * float(1 - marginal.cdf(300.0))
    assert abs(rule - ref) <= tail + 1e-9


def test_affine_and_spiral_entropy():
    base = GaussianEntropy(3, rho=0.5)
    a = np.array([[2.0, 0.5, 0.0], [0.0, 1.0, -0.3], [0.4, 0.0, 0.5]])
    # A X is Gaussian with covariance A S A^T: an independent closed form.
    assert AffineEntropy(base, a).truth == pytest.approx(
        stats.multivariate_normal(cov=a @ base._cov @ a.T).entropy(), abs=1e-12
    )
    assert TransformedEntropy(base, "spiral").truth == base.truth
