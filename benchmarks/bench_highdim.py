"""High-dimensional MI: the 25x25 tasks at n = 5,000, latent-space MI beside KSG and Gaussian.

Run::

    pytest benchmarks/bench_highdim.py -s                     # full: n = 5,000, 3 seeds per estimator and task
    pytest benchmarks/bench_highdim.py --benchmark-disable    # smoke, seconds

Per task (``normal-dense-x25-y25-rho0.5``, truth 1.292;
``normal-sparse-x25-y25-pairs5-rho0.5``, truth 0.719), marginals (as sampled,
or mapped by ``sinh(2x)`` and ``exp(y)`` per coordinate, which keeps the MI)
and estimator, the
benchmark group times one estimate and records in ``extra_info`` the
estimates over seeds, their ratio to the truth and whether every one is
within the issue's factor 1.5. Target: at least one estimator within a
factor 1.5 in under a minute per estimate on this CPU. ``latent`` is
asserted to meet it at full size; KSG on the raw 25x25 data is the
reference it must beat (about a fifth of the truth), and the Gaussian
baseline (exact on these Gaussian tasks, fooled by non-Gaussian marginals)
is shown beside it.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import infobench
from benchmarks.conftest import pick
from infobench.tasks import get_task

TASKS = ("normal-dense-x25-y25-rho0.5", "normal-sparse-x25-y25-pairs5-rho0.5")
METHODS = ("latent", "ksg", "gaussian")


def _heavy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Monotone per-coordinate maps that keep the MI: x -> sinh(2x) (heavy tails), y -> exp(y) (skew)."""
    return np.sinh(2 * x), np.exp(y)


@pytest.mark.parametrize("marginals", ["gaussian", "sinh-exp"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", TASKS)
def test_highdim(benchmark, full_size, name, method, marginals):
    benchmark.group = f"mi-{name}-{marginals}"
    task = get_task(name)
    n = pick(full_size, 5000, 600)
    seeds = range(pick(full_size, 3, 1))
    samples = [task.sample(n, s) for s in seeds]
    if marginals != "gaussian":
        samples = [_heavy(x, y) for x, y in samples]
    values, seconds = [], []
    for s, (x, y) in zip(seeds, samples):
        t0 = time.perf_counter()
        values.append(infobench.mutual_information(x, y, method=method, seed=s).value)
        seconds.append(time.perf_counter() - t0)
    x, y = samples[0]
    benchmark.pedantic(
        infobench.mutual_information, args=(x, y), kwargs=dict(method=method, seed=0), rounds=1, iterations=1
    )
    ratios = [v / task.truth for v in values]
    within = all(1 / 1.5 < r < 1.5 for r in ratios)
    benchmark.extra_info.update(
        truth=task.truth, n=n, estimates=values, ratios=ratios, within_1_5=within, seconds=seconds
    )
    print(
        f"\n{name} {marginals:8s} {method:9s} n={n} truth={task.truth:.3f} estimates={np.round(values, 3).tolist()} "
        f"ratio={np.round(ratios, 2).tolist()} seconds={np.round(seconds, 2).tolist()}"
    )
    assert all(np.isfinite(values))
    if method == "latent" and full_size:
        assert within and max(seconds) < 60
