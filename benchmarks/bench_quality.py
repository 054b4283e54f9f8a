"""Speed and memory of the sample-quality scores, side by side with references.

Run: ``pytest benchmarks/bench_quality.py`` (timings at full size) or with
``--benchmark-disable`` (smoke: small sizes, runs in seconds).

* Every score, no bootstrap, 10,000 generated vs 10,000 real samples of
  64-d features (plus 10-class probabilities): target under 30 s on a
  2-core CPU. The peak resident memory growth is recorded.
* Precision / recall / density / coverage: the tiled engine beside the
  dense reference (Naeem et al.'s code: three full distance matrices) at
  n = 4,000, where the dense matrices still fit.
* FID: the Cholesky/eigenvalue route beside scipy's ``sqrtm`` route.
* Memory at n = 50,000 (full size only): one tiled 64-d neighbour search,
  whose dense distance matrix would need 20 GB; records the peak RSS growth.
"""

import resource
import time

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.spatial.distance import cdist

from benchmarks.conftest import pick
from infobench.estimators._exact_pairs import exact_kneighbors
from infobench.quality import frechet_distance, prdc, score_features


def _features(n, d=64, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    # Correlated, anisotropic features like a network's penultimate layer.
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return rng.normal(size=(n, d)) @ mix + shift


def _probs(n, c=10, seed=0):
    logits = np.random.default_rng(seed).normal(size=(n, c)) * 3
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


@pytest.mark.benchmark(group="quality-all-scores")
def test_all_scores_10k_vs_10k(benchmark, full_size):
    n = pick(full_size, 10_000, 600)
    real, fake = _features(n, seed=0), _features(n, seed=1, shift=0.1)
    rp, fp = _probs(n, seed=2), _probs(n, seed=3)
    before = _peak_rss_mb()
    df = benchmark.pedantic(
        score_features, args=(real, fake), kwargs=dict(real_probs=rp, fake_probs=fp, seed=0), rounds=1, iterations=1
    )
    benchmark.extra_info.update(
        n=n, d=64, scores=len(df), threads=torch.get_num_threads(), peak_rss_growth_mb=round(_peak_rss_mb() - before, 1)
    )
    assert len(df) == 18 and df["value"].notna().all()


def _prdc_dense(real, fake, k=5):
    # Naeem et al.'s reference code: full real-real, fake-fake and real-fake matrices.
    rr, ff, rf = cdist(real, real), cdist(fake, fake), cdist(real, fake)
    r_real = np.partition(rr, k, axis=1)[:, k]
    r_fake = np.partition(ff, k, axis=1)[:, k]
    return {
        "precision": (rf < r_real[:, None]).any(axis=0).mean(),
        "recall": (rf < r_fake[None, :]).any(axis=1).mean(),
        "density": (rf < r_real[:, None]).sum(axis=0).mean() / k,
        "coverage": (rf.min(axis=1) < r_real).mean(),
    }


@pytest.mark.benchmark(group="quality-prdc-n4000")
def test_prdc_tiled(benchmark, full_size):
    n = pick(full_size, 4000, 300)
    real, fake = _features(n, seed=4), _features(n, seed=5, shift=0.2)
    got = benchmark(prdc, real, fake)
    ref = _prdc_dense(real, fake)
    for name, value in ref.items():
        assert got[name] == pytest.approx(value, abs=1e-12)


@pytest.mark.benchmark(group="quality-prdc-n4000")
def test_prdc_dense_reference(benchmark, full_size):
    n = pick(full_size, 4000, 300)
    real, fake = _features(n, seed=4), _features(n, seed=5, shift=0.2)
    benchmark(_prdc_dense, real, fake)


def _fd_sqrtm(mu1, s1, mu2, s2):
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _stats(seed):
    x = _features(5000, seed=seed)
    return x.mean(0), np.cov(x, rowvar=False)


@pytest.mark.benchmark(group="quality-frechet-d64")
def test_frechet_eigen_route(benchmark):
    (m1, s1), (m2, s2) = _stats(6), _stats(7)
    value = benchmark(frechet_distance, m1, s1, m2, s2)
    assert value == pytest.approx(_fd_sqrtm(m1, s1, m2, s2), rel=1e-6)


@pytest.mark.benchmark(group="quality-frechet-d64")
def test_frechet_scipy_sqrtm_reference(benchmark):
    (m1, s1), (m2, s2) = _stats(6), _stats(7)
    benchmark(_fd_sqrtm, m1, s1, m2, s2)


@pytest.mark.benchmark(group="quality-memory-n50000")
def test_neighbour_search_memory_bounded(benchmark, full_size):
    n = pick(full_size, 50_000, 2_000)
    x = torch.as_tensor(_features(n, seed=8))
    before = _peak_rss_mb()
    res = benchmark.pedantic(exact_kneighbors, args=(x, 5), rounds=1, iterations=1)
    growth = _peak_rss_mb() - before
    dense_mb = n * n * 8 / 2**20
    benchmark.extra_info.update(n=n, peak_rss_growth_mb=round(growth, 1), dense_matrix_mb=round(dense_mb, 1))
    assert res.dist.shape == (n, 5)
    if full_size:
        assert growth < dense_mb / 10  # far below one n x n matrix (20 GB at n = 50,000)


# ------------------------------------------------------------------ interval calibration
def _gauss_draw(n, d=64):
    # One fixed training split: memorization's interval is conditional on it (bootstrap kind "generated").
    train = np.random.default_rng(99).normal(size=(n, d))

    def draw(i):
        r = np.random.default_rng(10_000 + i)
        return r.normal(size=(n, d)), r.normal(size=(n, d)), train

    return draw


@pytest.mark.benchmark(group="quality-interval-calibration")
@pytest.mark.parametrize("n_full", [1000, 5000])
def test_interval_width_against_fresh_redraws(benchmark, full_size, n_full):
    """Interval width / spread over fresh redraws, per score, on identical 64-d Gaussians (target 0.7-1.4).

    ``INFOBENCH_CALIBRATION_SCORES`` restricts the scores (comma-separated).
    """
    import os

    from infobench.quality.validity import interval_calibration

    n = pick(full_size, n_full, 150)
    n_draws, n_boot_draws, b = pick(full_size, 20, 4), pick(full_size, 3, 1), pick(full_size, 60, 40)
    scores = os.environ.get("INFOBENCH_CALIBRATION_SCORES") or pick(full_size, None, "coverage,kl_real_fake,fid,kid")
    df = benchmark.pedantic(
        interval_calibration,
        args=(_gauss_draw(n),),
        kwargs=dict(n_draws=n_draws, n_boot_draws=n_boot_draws, n_boot=b, scores=scores),
        rounds=1,
        iterations=1,
    )
    benchmark.extra_info.update(
        n=n,
        d=64,
        # the record keys of earlier runs' files
        redraws=n_draws,
        boot_draws=n_boot_draws,
        bootstrap=b,
        std_ratio=dict(zip(df["score"], df["std_ratio"].round(3))),
        width_ratio=dict(zip(df["score"], df["width_ratio"].round(3))),
    )
    print(
        f"\nn={n}: interval width / fresh spread\n"
        + df[["score", "fresh_sd", "boot_std", "std_ratio", "width_ratio"]].round(4).to_string(index=False)
    )
    assert df["std_ratio"].notna().all() and (df["fresh_sd"] > 0).all()


@pytest.mark.benchmark(group="quality-bootstrap-10k")
def test_default_bootstrap_10k_vs_10k(benchmark, full_size):
    """Every feature score with the CLI's default bootstrap (50 replicates), 10,000 vs 10,000 64-d features."""
    n = pick(full_size, 10_000, 400)  # fid_inf needs 5 d = 320 rows
    real, fake = _features(n, seed=0), _features(n, seed=1, shift=0.1)
    df = benchmark.pedantic(score_features, args=(real, fake), kwargs=dict(n_boot=50, seed=0), rounds=1, iterations=1)
    benchmark.extra_info.update(n=n, d=64, bootstrap=50, threads=torch.get_num_threads())
    ok = df[df["note"] == ""]  # FD-infinity has no interval below 10 d rows (its halves need 5 d): noted
    assert len(ok) >= len(df) - 1 and (ok["ci_low"] <= ok["ci_high"]).all()


# ------------------------------------------------------------------ scale
@pytest.mark.benchmark(group="quality-scale-50k-2048d")
def test_every_score_at_50k_vs_50k_2048d(benchmark, full_size):
    """Every feature score with the default intervals (50 replicates) on 50,000 vs 50,000 2048-d features.

    Target: under 10 minutes and a peak RSS under 8 GB on 2 cores (no class probabilities).
    ``extra_info`` has the seconds and the peak RSS of the whole process.
    """
    n, d = pick(full_size, (50_000, 2048), (1_000, 64))
    real = _features(n, d=d, seed=11).astype(np.float32)
    fake = _features(n, d=d, seed=12, shift=0.1).astype(np.float32)
    df = benchmark.pedantic(
        score_features, args=(real, fake), kwargs=dict(train=real, n_boot=50, device="cpu"), rounds=1, iterations=1
    )
    benchmark.extra_info.update(n=n, d=d, n_boot=50, peak_rss_mb=round(_peak_rss_mb(), 1), scores=len(df))
    assert df["value"].notna().sum() >= 10


@pytest.mark.benchmark(group="quality-interval-cost")
@pytest.mark.parametrize(
    "d_full, d_small, n_small, limit",
    [
        (64, 64, 4_000, 4.0),
        # 2048-d: the 4x target is NOT met. The split halves' four d x d eigenproblems per replicate (FID's and
        # Vendi's, float32) set a floor: every score took 8.8x its CPU time alone at 10,000 vs 10,000 (9.4x
        # wall on 2 threads, 10.8x for the seven scores of bench_quality_peers; docs/validation/speed.md),
        # and 4.85x at the smoke run's 2,000 vs 2,000 256-d. The limit guards that level against regression.
        (2048, 256, 2_000, 12.0),
    ],
)
def test_interval_cost_ratio(benchmark, full_size, d_full, d_small, n_small, limit):
    """Default intervals (50 replicates) cost at most ``limit`` times the scores alone: every feature score.

    The target is 4x at 64-d and at 2048-d; it holds at 64-d, and 2048-d is guarded at its measured level.

    Full size 10,000 vs 10,000 (the target), the smoke run 4,000 vs 4,000 64-d (2.2x when measured) and
    2,000 vs 2,000 256-d (at 256-d the split halves take the same paths as at 2048-d: random groups,
    float32 eigenproblems; 2048-d at a smoke size would cost minutes). Measured in process CPU time
    on one thread (torch and BLAS), which a busy machine disturbs far less than wall time; the ratio
    is the regression guard, ``extra_info`` has the seconds.
    """
    from threadpoolctl import threadpool_limits

    n, d = pick(full_size, 10_000, n_small), pick(full_size, d_full, d_small)
    real, fake = _features(n, d, seed=0), _features(n, d, seed=1, shift=0.1)
    score_features(real[:300, :64], fake[:300, :64], n_boot=40)  # compile and import once, outside the timing
    threads = torch.get_num_threads()
    seconds = {}

    def both():
        for b in (0, 50):
            start = time.process_time()
            score_features(real, fake, n_boot=b, seed=0, device="cpu")
            seconds[b] = time.process_time() - start

    try:
        torch.set_num_threads(1)
        with threadpool_limits(1):
            benchmark.pedantic(both, rounds=1, iterations=1)
    finally:
        torch.set_num_threads(threads)
    ratio = seconds[50] / seconds[0]
    benchmark.extra_info.update(
        n=n, d=d, cpu_scores=round(seconds[0], 2), cpu_with_intervals=round(seconds[50], 2), ratio=round(ratio, 2)
    )
    assert ratio <= limit, f"default intervals cost {ratio:.2f}x the scores alone at {d}-d (at most {limit:g}x)"
