"""infobench beside the peer packages: accuracy and time on the same samples.

Peers (optional extra ``peers``: ``pip install -e .[peers]``; each is skipped
cleanly when it is not installed):

* scikit-learn ``feature_selection.mutual_info_regression`` (KSG, k=3; one
  column against a 1-d target: 1x1 tasks only);
* NPEET (PyPI ``npeet-plus``) ``mi`` (KSG, k=3, natural log; any dimensions);
* ennemi ``estimate_mi`` (KSG, k=3; 1x1 tasks only);
* infomeasure ``mutual_information(approach="ksg", k=3, base="e")`` (any dimensions).

Each peer's documented API is called with its KSG at k=3, the same as
infobench's ``ksg`` default. Tasks: the continuous tasks of the
``mi-standard`` and ``mixtures`` suites with non-zero MI that a peer supports.

Speed: ``pytest benchmarks/bench_peers.py`` (1x1 task at n=10,000, 5x5 at
n=5,000; ``--benchmark-disable``: small sizes). Accuracy table (the one in
docs/validation/peers.md)::

    python -m benchmarks.bench_peers --n 5000 --seeds 10

prints, per task, the truth and each estimator's mean estimate and RMSE over
the seeds (every estimator sees the same samples), the number of tasks where
each is within a factor 1.5 of the truth, the median seconds, and the tasks
where ``auto``'s RMSE is larger than every peer's.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import statistics
import time
from collections.abc import Callable

import numpy as np
import pytest

import infobench
from benchmarks.conftest import pick
from infobench import tasks


def _sklearn(x, y):
    from sklearn.feature_selection import mutual_info_regression  # deferred: only the 1x1 rows need it

    return float(mutual_info_regression(x, y.ravel(), n_neighbors=3, random_state=0)[0])


def _npeet(x, y):
    import npeet_plus  # deferred: optional peer

    return float(npeet_plus.mi(x, y, k=3, base=np.e))


def _ennemi(x, y):
    import ennemi  # deferred: optional peer

    return float(np.asarray(ennemi.estimate_mi(y.ravel(), x.ravel(), k=3)).ravel()[0])


def _infomeasure(x, y):
    import infomeasure  # deferred: optional peer

    return float(infomeasure.mutual_information(x, y, approach="ksg", k=3, base="e"))


def _one_by_one(task) -> bool:
    return task.dim_x == 1 and task.dim_y == 1


# name -> (module that must be importable, estimator, which tasks it supports)
PEERS: dict[str, tuple[str, Callable, Callable]] = {
    "sklearn": ("sklearn", _sklearn, _one_by_one),
    "npeet": ("npeet_plus", _npeet, lambda t: True),
    "ennemi": ("ennemi", _ennemi, _one_by_one),
    "infomeasure": ("infomeasure", _infomeasure, lambda t: True),
}
OURS: dict[str, Callable] = {
    "infobench-ksg": lambda x, y: infobench.mutual_information(x, y, "ksg", seed=0).value,
    "infobench-auto": lambda x, y: infobench.mutual_information(x, y, "auto", seed=0).value,
}


def installed(name: str) -> bool:
    return importlib.util.find_spec(PEERS[name][0]) is not None


def comparison_tasks() -> list:
    """Continuous tasks with non-zero MI from ``mi-standard`` and ``mixtures``."""
    out = []
    for name in ("mi-standard", "mixtures"):
        out += [t for t in tasks.suite(name) if t.truth > 0 and not (t.discrete_x or t.discrete_y)]
    return out


# ------------------------------------------------------------------ speed
_SPEED = {"1x1": tasks.DenseNormal(1, 1, rho=0.75), "5x5": tasks.SparseNormal(5, 5, rho=0.8, n_pairs=2)}


def _speed_case(full_size, shape):
    n = pick(full_size, 10_000 if shape == "1x1" else 5_000, 300)
    return _SPEED[shape].sample(n, seed=0)


@pytest.mark.parametrize("shape", list(_SPEED))
@pytest.mark.parametrize("name", list(PEERS))
def test_peer_speed(benchmark, full_size, name, shape):
    if not installed(name):
        pytest.skip(f"{name} is not installed (pip install -e .[peers])")
    _module, fn, supports = PEERS[name]
    if not supports(_SPEED[shape]):
        pytest.skip(f"{name} estimates MI between one column and a 1-d target only")
    x, y = _speed_case(full_size, shape)
    value = benchmark(fn, x, y)
    assert np.isfinite(value)


@pytest.mark.parametrize("shape", list(_SPEED))
@pytest.mark.parametrize("name", list(OURS))
def test_infobench_speed(benchmark, full_size, name, shape):
    x, y = _speed_case(full_size, shape)
    value = benchmark(OURS[name], x, y)
    assert np.isfinite(value)


# ---------------------------------------------------------------- accuracy
def _within(estimate: float, truth: float, factor: float = 1.5) -> bool:
    return estimate > 0 and truth / factor <= estimate <= truth * factor


BEHIND_Z = 2.0


def behind(ours: np.ndarray, peer: np.ndarray, truth: float) -> bool:
    """Whether ``ours`` is further from ``truth`` than ``peer`` beyond the noise of the shared seeds.

    Both arrays hold one estimate per seed on the same samples. The paired
    differences of squared errors ``d_s = (ours_s - truth)^2 - (peer_s - truth)^2``
    estimate ``MSE(ours) - MSE(peer)``; ours is behind when their mean exceeds
    :data:`BEHIND_Z` standard errors (``sd(d) / sqrt(seeds)``; a paired
    comparison, so the draw shared by both estimators cancels). Identical
    estimates (``d = 0``) are never behind.
    """
    d = (np.asarray(ours) - truth) ** 2 - (np.asarray(peer) - truth) ** 2
    if len(d) < 2 or not np.any(d):
        return False
    se = float(np.std(d, ddof=1)) / math.sqrt(len(d))
    return float(np.mean(d)) > BEHIND_Z * se


def accuracy_table(n: int, seeds: int, task_list: list | None = None) -> str:
    """Markdown: per task the truth and each estimator's mean estimate and RMSE over the seeds.

    A cell reads ``mean (RMSE)``; ``-``: not supported; ✗: the mean is off the
    truth by more than a factor 1.5; †: ``infobench-auto`` is further from the
    truth than every peer package that supports the task, beyond the noise of
    the seeds (:func:`behind`). RMSE (bias and spread together) is the
    distance from the truth compared: the mean of a few seeds alone ranks an
    efficient estimator below a noisier one by chance.
    """
    names = list(OURS) + [p for p in PEERS if installed(p)]
    rows, hits, supported, seconds = [], dict.fromkeys(names, 0), dict.fromkeys(names, 0), {e: [] for e in names}
    lagging = []
    for task in comparison_tasks() if task_list is None else task_list:
        samples = [task.sample(n, seed=s) for s in range(seeds)]
        rmse: dict[str, float] = {}
        means: dict[str, float] = {}
        per_seed: dict[str, np.ndarray] = {}
        for e in names:
            fn = OURS.get(e) or PEERS[e][1]
            if e in PEERS and not PEERS[e][2](task):
                continue
            values = []
            for x, y in samples:
                t0 = time.perf_counter()
                values.append(fn(x, y))
                seconds[e].append(time.perf_counter() - t0)
            v = per_seed[e] = np.asarray(values)
            means[e] = float(v.mean())
            rmse[e] = float(np.sqrt(np.mean((v - task.truth) ** 2)))
            supported[e] += 1
            hits[e] += _within(means[e], task.truth)
        peers = [e for e in per_seed if e in PEERS]
        auto_behind = (
            bool(peers)
            and "infobench-auto" in per_seed
            and all(behind(per_seed["infobench-auto"], per_seed[p], task.truth) for p in peers)
        )
        lagging += [task.id] if auto_behind else []
        cells = [
            "-"
            if e not in means
            else f"{means[e]:.3f} ({rmse[e]:.3f})"
            + ("" if _within(means[e], task.truth) else " ✗")
            + (" †" if e == "infobench-auto" and auto_behind else "")
            for e in names
        ]
        rows.append(f"| {task.id} | {task.dim_x}x{task.dim_y} | {task.truth:.3f} | " + " | ".join(cells) + " |")
    head = [f"| task | dims | truth | {' | '.join(names)} |", "|" + "---|" * (3 + len(names))]
    tail = [
        "| **within 1.5x of the truth** | | | " + " | ".join(f"{hits[e]}/{supported[e]}" for e in names) + " |",
        "| **median seconds** | | | "
        + " | ".join(f"{statistics.median(seconds[e]):.3f}" if seconds[e] else "-" for e in names)
        + " |",
        "",
        f"Tasks where infobench-auto is further from the truth than every peer beyond the seeds' noise "
        f"(paired squared errors, z > {BEHIND_Z:g}; †): {len(lagging)}"
        + (f" ({', '.join(lagging)})" if lagging else ""),
    ]
    return "\n".join(head + rows + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Accuracy and time of infobench and the peer packages")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args(argv)
    missing = [p for p in PEERS if not installed(p)]
    if missing:
        print(f"not installed (skipped): {', '.join(missing)}")
    print(accuracy_table(args.n, args.seeds))
    return 0


def test_accuracy_table_smoke():
    # The table builder runs on a tiny sample: one row per task, a totals row per estimator.
    picked = tasks.suite("smoke")[:3]  # closed-form truths: no Monte Carlo in the smoke run
    lines = accuracy_table(200, 2, picked).splitlines()
    assert len(lines) == 2 + len(picked) + 4
    assert lines[-4].startswith("| **within 1.5x")
    assert lines[-1].startswith("Tasks where infobench-auto is further from the truth than every peer")
    # a cell is "mean (rmse)"; the RMSE is at least the distance of the mean from the truth
    truth = picked[0].truth
    mean, rmse = lines[2].split(" | ")[4].split(" (")
    assert float(rmse.rstrip(")").split()[0]) >= abs(float(mean) - truth) - 1e-3


if __name__ == "__main__":
    raise SystemExit(main())


def test_behind_is_a_paired_comparison_beyond_noise():
    truth = 1.0
    peer = truth + np.random.default_rng(0).normal(0, 0.05, 10)
    assert not behind(peer, peer, truth)  # identical estimates
    assert behind(peer + 0.2, peer, truth)  # a bias four seed sds wide
    assert not behind(peer, peer + 0.2, truth)
    # a shift of a tenth of the seeds' sd is not detectable from 10 seeds: not "behind"
    assert not behind(peer + 0.005, peer, truth)
