"""Speed of the task library: Monte-Carlo truths and sampling, side by side with references.

Run: ``pytest benchmarks/bench_tasks.py`` (timings) or with ``--benchmark-disable`` (smoke).

* Mixture MI truth (stratified MC over 2^18 points, exact log densities)
  against the same estimate written with scipy.stats' ``multivariate_normal.logpdf``.
* Bimodal marginals (``F^{-1}(Phi(t))`` by safeguarded Newton from a grid)
  against scipy's ``brentq`` root finder called per point, on the same 10,000 points.
"""

import numpy as np
from scipy import optimize, special, stats

from benchmarks.conftest import pick
from infobench.tasks import RandomMixture
from infobench.tasks.transforms import BIMODAL_X

TASK = RandomMixture(5, 5, n_components=4, seed=2)


def _scipy_reference_truth(task, total):
    mix, dx = task.mixture, task.dim_x
    rng = np.random.default_rng(0)
    z = mix.sample(total, rng)

    def logpdf(v, idx):
        parts = [
            np.log(w) + stats.multivariate_normal(m[idx], c[np.ix_(idx, idx)]).logpdf(v)
            for w, m, c in zip(mix.weights, mix.means, mix.covs)
        ]
        return special.logsumexp(np.stack(parts), axis=0)

    allx = np.arange(mix.dim)
    pmi = logpdf(z, allx) - logpdf(z[:, :dx], allx[:dx]) - logpdf(z[:, dx:], allx[dx:])
    return pmi.mean()


def test_mixture_truth_infobench(benchmark, full_size):
    total = pick(full_size, 1 << 18, 1 << 12)
    value, se = benchmark(
        lambda: TASK.mixture.stratified_mean(lambda z: TASK.pointwise_mi(z[:, :5], z[:, 5:]), total=total)
    )
    assert np.isfinite(value) and se > 0


def test_mixture_truth_scipy_reference(benchmark, full_size):
    total = pick(full_size, 1 << 18, 1 << 12)
    value = benchmark(_scipy_reference_truth, TASK, total)
    assert np.isfinite(value)


def test_bimodal_quantile_infobench(benchmark, full_size):
    t = np.random.default_rng(0).standard_normal(pick(full_size, 10_000, 100))
    BIMODAL_X(t[:10])  # build the grid once, outside the timing
    s = benchmark(BIMODAL_X, t)
    assert np.all(np.isfinite(s))


def test_bimodal_quantile_brentq_reference(benchmark, full_size):
    t = np.random.default_rng(0).standard_normal(pick(full_size, 10_000, 100))
    q = BIMODAL_X

    def cdf(s):
        return sum(w * special.ndtr((s - m) / sd) for w, m, sd in zip(q.weights, q.means, q.stds))

    def solve():
        return np.array(
            [
                optimize.brentq(lambda s, u=special.ndtr(v): cdf(s) - u, -60, 60, xtol=1e-14)  # noqa: B008 (u: this v's level)
                for v in t
            ]
        )

    s = benchmark(solve)
    np.testing.assert_allclose(s, q(t), atol=1e-9)
