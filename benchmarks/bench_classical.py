"""Accuracy and speed of the classical estimators (histogram, KDE), side by side with references.

Run: ``pytest benchmarks/bench_classical.py`` (timings) or with
``--benchmark-disable`` (smoke: small KDE sizes; the histogram accuracy
target runs at full size either way, it takes milliseconds).

* Histogram (Miller–Madow) entropy of a 1-D Gaussian at n = 10,000: the
  accuracy target |error| < 0.02 nats, asserted over 20 seeds, timed beside
  ``scipy.stats.differential_entropy`` and a numpy ``np.histogram`` plug-in.
* KDE leave-one-out entropy: tiled torch at n = 20,000, and at n = 4,000
  beside a naive untiled numpy reference (the full n x n matrix and scipy's
  ``logsumexp``) and scipy's ``gaussian_kde`` with the self term removed.
"""

import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from benchmarks.conftest import pick
from infobench.estimators.histogram import histogram_entropy
from infobench.estimators.kde import kde_entropy

H_NORMAL = 0.5 * math.log(2 * math.pi * math.e)
N_HIST = 10_000
TARGET = 0.02  # nats


def _normal(n, seed=0):
    return np.random.default_rng(seed).standard_normal(n)


# ------------------------------------------------------------------ histogram
@pytest.mark.benchmark(group="entropy-1d-gaussian-n10000")
def test_histogram_entropy_accuracy_target(benchmark):
    x = _normal(N_HIST)
    est = benchmark(histogram_entropy, x)
    errors = np.array([histogram_entropy(_normal(N_HIST, seed)).value - H_NORMAL for seed in range(20)])
    benchmark.extra_info.update(
        {"error_seed0": est.value - H_NORMAL, "bias_20_seeds": errors.mean(), "max_abs_error": np.abs(errors).max()}
    )
    assert abs(est.value - H_NORMAL) < TARGET
    assert np.abs(errors).max() < TARGET


@pytest.mark.benchmark(group="entropy-1d-gaussian-n10000")
def test_scipy_differential_entropy_reference(benchmark):
    x = _normal(N_HIST)
    value = benchmark(stats.differential_entropy, x)
    benchmark.extra_info["error_seed0"] = value - H_NORMAL
    assert abs(value - H_NORMAL) < 0.05


@pytest.mark.benchmark(group="entropy-1d-gaussian-n10000")
def test_numpy_histogram_plugin_reference(benchmark):
    x = _normal(N_HIST)

    def plugin(v):
        counts, edges = np.histogram(v, bins="fd")
        counts = counts[counts > 0]
        return stats.entropy(counts) + np.log(edges[1] - edges[0]) + (len(counts) - 1) / (2 * len(v))

    value = benchmark(plugin, x)
    assert value == pytest.approx(histogram_entropy(x).value, abs=1e-12)


# ------------------------------------------------------------------------ KDE
def _naive_loo_entropy(x):
    """Untiled numpy reference: the whole n x n kernel matrix at once."""
    x = x.reshape(len(x), -1)
    n = len(x)
    kde = stats.gaussian_kde(x.T)
    diff = x[:, None, :] - x[None, :, :]
    q = np.einsum("ijk,kl,ijl->ij", diff, np.linalg.inv(kde.covariance), diff)
    np.fill_diagonal(q, np.inf)
    log_norm = np.log(n - 1) + 0.5 * np.linalg.slogdet(2 * np.pi * kde.covariance)[1]
    return -np.mean(logsumexp(-q / 2, axis=1) - log_norm)


def _scipy_kde_loo_entropy(x):
    """scipy's gaussian_kde evaluated at the sample, self term subtracted."""
    x = x.reshape(1, -1)
    n = x.shape[1]
    kde = stats.gaussian_kde(x)
    self_term = 1.0 / math.sqrt(np.linalg.det(2 * np.pi * kde.covariance))
    return -np.mean(np.log((n * kde(x) - self_term) / (n - 1)))


@pytest.mark.benchmark(group="kde-entropy-1d-n20000")
def test_kde_entropy_tiled_large(benchmark, full_size):
    n = pick(full_size, 20_000, 2_000)
    x = _normal(n, seed=1)
    est = benchmark.pedantic(kde_entropy, args=(x,), rounds=1, iterations=1)
    benchmark.extra_info.update({"n": n, "tile_rows": est.extras["tile_rows"], "error": est.value - H_NORMAL})
    # sd of the estimate is ~0.71/sqrt(n) (0.005 at 20,000) and the Scott-rule bias is < 0.01.
    assert abs(est.value - H_NORMAL) < 0.01 + 4 * 0.71 / math.sqrt(n)


@pytest.mark.benchmark(group="kde-entropy-1d-n4000")
def test_kde_entropy_tiled(benchmark, full_size):
    x = _normal(pick(full_size, 4_000, 300), seed=2)
    est = benchmark.pedantic(kde_entropy, args=(x,), rounds=3, iterations=1)
    assert est.value == pytest.approx(_naive_loo_entropy(x), abs=1e-10)


@pytest.mark.benchmark(group="kde-entropy-1d-n4000")
def test_kde_entropy_naive_numpy_reference(benchmark, full_size):
    x = _normal(pick(full_size, 4_000, 300), seed=2)
    value = benchmark.pedantic(_naive_loo_entropy, args=(x,), rounds=3, iterations=1)
    assert np.isfinite(value)


@pytest.mark.benchmark(group="kde-entropy-1d-n4000")
def test_kde_entropy_scipy_gaussian_kde_reference(benchmark, full_size):
    x = _normal(pick(full_size, 4_000, 300), seed=2)
    value = benchmark.pedantic(_scipy_kde_loo_entropy, args=(x,), rounds=3, iterations=1)
    # Subtracting the self term loses ~1e-7 relative precision; agreement to 1e-6.
    assert value == pytest.approx(kde_entropy(x).value, abs=1e-6)
