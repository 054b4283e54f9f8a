"""Sample-quality scores beside the peer packages, on the same features, in one process.

Run the table (the standard evaluation size, 10,000 real against 10,000
generated 2,048-d float32 features; a few minutes on 2 cores)::

    python -m benchmarks.bench_quality_peers            # --n 10000 --d 2048 --n-boot 50
    python -m benchmarks.bench_quality_peers --n 10000 --d 64

or the pytest-benchmark suite (``pytest benchmarks/bench_quality_peers.py``;
with ``--benchmark-disable`` at small sizes, as CI's smoke run does).

Peers (the optional extra ``quality-peers``; each is skipped when absent):

* ``prdc`` (Naeem et al.'s package): precision, recall, density, coverage, k = 5.
* ``vendi-score``: the Vendi score in its dual form (``vendi.score_dual``).
* ``torchmetrics``: ``FrechetInceptionDistance`` with the features passed
  through (a feature module that returns its input); it imports without
  torchvision only when torch-fidelity is not installed.
* ``pytorch-fid``, ``clean-fid`` and ``torch-fidelity`` import torchvision,
  which does not import beside this CPU torch: they are timed as faithful
  transcriptions of their documented algorithms, labelled as such:
  pytorch-fid's ``calculate_frechet_distance`` (numpy mean and covariance,
  ``scipy.linalg.sqrtm``) and clean-fid's ``kernel_distance`` (KID, 100
  subsets of 1,000 rows, numpy products). torch-fidelity computes the same
  two quantities (its KID: the same subsets) and is not timed separately.

Timings are wall seconds and process CPU seconds of one call each, side by
side in one run; on a shared machine compare the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import importlib
import time
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch

from benchmarks.conftest import pick
from infobench.quality import score_features

SEVEN = "fid,kid,precision,recall,density,coverage,vendi"


def features(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    """Correlated, anisotropic float32 features (a network's penultimate layer, like Inception's pool)."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(size=(n, d)) @ mix + shift).astype(np.float32)


# ------------------------------------------------------------------ transcriptions
def fid_pytorch_fid(real: np.ndarray, fake: np.ndarray) -> float:
    """Transcription of pytorch-fid 0.3.0: ``calculate_activation_statistics`` + ``calculate_frechet_distance``."""
    mu1, sigma1 = np.mean(real, axis=0), np.cov(real, rowvar=False)
    mu2, sigma2 = np.mean(fake, axis=0), np.cov(fake, rowvar=False)
    diff = mu1 - mu2
    with warnings.catch_warnings():  # scipy >= 1.16 deprecates disp; pytorch-fid 0.3.0 passes it
        warnings.simplefilter("ignore", DeprecationWarning)
        covmean, _ = scipy.linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def kid_clean_fid(
    real: np.ndarray, fake: np.ndarray, num_subsets: int = 100, max_subset_size: int = 1000, seed: int = 0
) -> float:
    """Transcription of clean-fid 0.1.35 ``kernel_distance`` (seeded here; clean-fid draws from numpy's global state)."""
    rng = np.random.RandomState(seed)
    n = real.shape[1]
    m = min(min(real.shape[0], fake.shape[0]), max_subset_size)
    t = 0
    for _ in range(num_subsets):
        x = fake[rng.choice(fake.shape[0], m, replace=False)]
        y = real[rng.choice(real.shape[0], m, replace=False)]
        a = (x @ x.T / n + 1) ** 3 + (y @ y.T / n + 1) ** 3
        b = (x @ y.T / n + 1) ** 3
        t += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return float(t / num_subsets / m)


# ------------------------------------------------------------------ packages
def _module(name: str):
    try:
        return importlib.import_module(name)
    except Exception:  # absent, or a dependency (torchvision) that does not import here
        return None


def prdc_package(real: np.ndarray, fake: np.ndarray) -> dict | None:
    prdc = _module("prdc")
    return None if prdc is None else prdc.compute_prdc(real, fake, nearest_k=5)


def vendi_package(fake: np.ndarray) -> float | None:
    vendi = _module("vendi_score.vendi")
    return None if vendi is None else float(vendi.score_dual(fake, q=1, normalize=True))


def fid_torchmetrics(real: np.ndarray, fake: np.ndarray) -> float | None:
    fid = _module("torchmetrics.image.fid")
    if fid is None:
        return None

    class Passthrough(torch.nn.Module):
        def __init__(self, d: int):
            super().__init__()
            self.num_features = d

        def forward(self, x):
            return x

    try:
        metric = fid.FrechetInceptionDistance(feature=Passthrough(real.shape[1]))
    except Exception:  # torch-fidelity installed: it imports torchvision
        return None
    metric.update(torch.from_numpy(real), real=True)
    metric.update(torch.from_numpy(fake), real=False)
    return float(metric.compute())


def _timed(fn, *args, **kwargs):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0, time.process_time() - c0


def table(n: int = 10_000, d: int = 2048, n_boot: int = 50, every: bool = True) -> list[dict]:
    """Time every peer and infobench on the same features; rows of (work, value, wall s, cpu s)."""
    real, fake = features(n, d, 0), features(n, d, 1, shift=0.1)
    rows = []

    def add(work, fn, *args, **kwargs):
        out, wall, cpu = _timed(fn, *args, **kwargs)
        rows.append({"work": work, "value": out, "wall": wall, "cpu": cpu})
        return out

    add(
        "pytorch-fid FID, numpy covariance + scipy sqrtm (transcription: pytorch-fid imports torchvision)",
        fid_pytorch_fid,
        real,
        fake,
    )
    add("clean-fid KID, 100 subsets of 1,000 (transcription: clean-fid imports torchvision)", kid_clean_fid, real, fake)
    add("prdc precision / recall / density / coverage, k=5", prdc_package, real, fake)
    add("vendi-score, dual form", vendi_package, fake)
    add("torchmetrics FID (features passed through; not in the sum: FID twice)", fid_torchmetrics, real, fake)
    seven = dict(scores=SEVEN, seed=0, device="cpu")
    add("infobench, the same seven scores, no intervals", score_features, real, fake, **seven)
    if every:
        add("infobench, every score, no intervals", score_features, real, fake, seed=0, device="cpu")
    if n_boot:
        add(
            f"infobench, the same seven scores, default intervals ({n_boot} replicates)",
            score_features,
            real,
            fake,
            n_boot=n_boot,
            **seven,
        )
        if every:
            add(
                f"infobench, every score, default intervals ({n_boot} replicates)",
                score_features,
                real,
                fake,
                n_boot=n_boot,
                seed=0,
                device="cpu",
            )
    return rows


def _print(rows: list[dict], n: int, d: int) -> None:
    peers = [r for r in rows[:4] if r["value"] is not None]
    total = {k: sum(r[k] for r in peers) for k in ("wall", "cpu")}
    print(f"\n{n:,} real against {n:,} generated {d}-d float32 features, {torch.get_num_threads()} threads\n")
    print("| work | wall s | CPU s |\n|---|---|---|")
    for i, r in enumerate(rows):
        shown = "skipped (not installed)" if r["value"] is None else f"{r['wall']:.1f} | {r['cpu']:.1f}"
        print(f"| {r['work']} | {shown} |")
        if i == 3:
            print(f"| **peers, sum** | **{total['wall']:.1f}** | **{total['cpu']:.1f}** |")
    seven = next(r for r in rows if r["work"] == "infobench, the same seven scores, no intervals")
    print(
        f"\npeers' sum / infobench's seven scores: {total['wall'] / seven['wall']:.1f}x wall, "
        f"{total['cpu'] / seven['cpu']:.1f}x CPU"
    )
    for r in rows:
        if "intervals (" in r["work"]:
            base = next(b for b in rows if b["work"] == r["work"].split(", default")[0] + ", no intervals")
            print(
                f"{r['work']}: {r['wall'] / base['wall']:.1f}x the scores alone (wall), "
                f"{r['cpu'] / base['cpu']:.1f}x (CPU)"
            )
    ib = seven["value"].set_index("score")["value"]
    print(
        "\nvalues: FID pytorch-fid {:.6g}, infobench {:.6g}; KID clean-fid {:.4g}, infobench {:.4g} (other subsets); "
        "vendi {}, infobench {:.6g}".format(
            rows[0]["value"],
            ib["fid"],
            rows[1]["value"],
            ib["kid"],
            "n/a" if rows[3]["value"] is None else f"{rows[3]['value']:.6g}",
            ib["vendi"],
        )
    )
    if rows[2]["value"] is not None:
        print(
            "prdc",
            {k: round(float(v), 6) for k, v in rows[2]["value"].items()},
            "infobench",
            {k: round(float(ib[k]), 6) for k in ("precision", "recall", "density", "coverage")},
        )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--d", type=int, default=2048)
    parser.add_argument("--n-boot", type=int, default=50)
    parser.add_argument("--seven-only", action="store_true", help="skip 'every score' (half the time)")
    args = parser.parse_args(argv)
    _print(table(args.n, args.d, args.n_boot, every=not args.seven_only), args.n, args.d)


# ------------------------------------------------------------------ pytest-benchmark
@pytest.fixture(scope="module")
def feats(full_size):
    n, d = pick(full_size, (10_000, 2048), (600, 64))
    return features(n, d, 0), features(n, d, 1, shift=0.1)


@pytest.mark.benchmark(group="quality-peers")
def test_infobench_seven_scores(benchmark, feats):
    df = benchmark.pedantic(
        score_features, args=feats, kwargs=dict(scores=SEVEN, seed=0, device="cpu"), rounds=1, iterations=1
    )
    # the values the peers compute: FID to the transcription, precision..coverage to prdc exactly
    assert df.set_index("score")["value"]["fid"] == pytest.approx(fid_pytorch_fid(*feats), rel=1e-6)
    got = prdc_package(*feats)
    if got is not None:
        for k, v in got.items():
            assert df.set_index("score")["value"][k] == pytest.approx(float(v), abs=1e-12)


@pytest.mark.benchmark(group="quality-peers-ratio")
def test_seven_scores_against_peers_sum(benchmark, feats):
    """The peers' sum over infobench's seven scores, timed side by side in one test (``extra_info``: the ratio).

    The peers that are not installed are left out of the sum (the ratio is then
    a lower bound); compare ratios, not seconds, on a shared machine.
    """
    real, fake = feats
    peers = 0.0
    for fn, args in ((fid_pytorch_fid, feats), (kid_clean_fid, feats), (prdc_package, feats), (vendi_package, (fake,))):
        _, wall, _ = _timed(fn, *args)
        peers += wall
    timed: dict = {}

    def ours():
        timed["out"], timed["wall"], timed["cpu"] = _timed(
            score_features, real, fake, scores=SEVEN, seed=0, device="cpu"
        )

    benchmark.pedantic(ours, rounds=1, iterations=1)
    benchmark.extra_info.update(
        peers_sum_wall_s=peers, infobench_wall_s=timed["wall"], peers_over_infobench=peers / timed["wall"]
    )
    assert set(timed["out"]["score"]) == set(SEVEN.split(","))


@pytest.mark.benchmark(group="quality-peers")
def test_pytorch_fid_transcription(benchmark, feats):
    benchmark.pedantic(fid_pytorch_fid, args=feats, rounds=1, iterations=1)


@pytest.mark.benchmark(group="quality-peers")
def test_clean_fid_kid_transcription(benchmark, feats):
    benchmark.pedantic(kid_clean_fid, args=feats, rounds=1, iterations=1)


@pytest.mark.benchmark(group="quality-peers")
def test_prdc_package(benchmark, feats):
    if _module("prdc") is None:
        pytest.skip("prdc is not installed (optional extra quality-peers)")
    benchmark.pedantic(prdc_package, args=feats, rounds=1, iterations=1)


@pytest.mark.benchmark(group="quality-peers")
def test_vendi_package(benchmark, feats):
    if _module("vendi_score.vendi") is None:
        pytest.skip("vendi-score is not installed (optional extra quality-peers)")
    from infobench.quality import vendi_score

    got = benchmark.pedantic(vendi_package, args=(feats[1],), rounds=1, iterations=1)
    assert got == pytest.approx(vendi_score(feats[1]), rel=1e-6)


if __name__ == "__main__":
    main()
