"""Calibration of the estimators' standard errors: reported std_err against the spread over seeds.

Run (full size, about 30 min on 2 shared cores): ``nice -n 10 python3 -m pytest -s benchmarks/bench_calibration.py
-k target``; ``--benchmark-disable``: small sizes and few seeds (smoke, seconds). ``-s`` prints the tables.

* :func:`test_calibration_target` — KSG 1x1 (n = 1,000 and 10,000), KSG
  5x5 n = 5,000, Kozachenko–Leonenko 10-d n = 5,000, kNN KL 2-d, KDE 1-d,
  histogram 1-d and Gaussian 5x5, each over ``SEEDS`` (100) seeds on a
  Gaussian task (``INFOBENCH_CAL_SEEDS`` changes the number of seeds):
  mean reported std_err, the seed-to-seed sd of the
  estimates, their ratio (target 0.8–1.25), and the coverage of the nominal
  95 % intervals (:meth:`infobench.Estimate.interval`: Student's t with the
  standard error's ``std_err_df`` degrees of freedom where it has them) of
  the truth and of the estimator's mean; the target is a coverage of the
  estimator's mean of at least ``COVERAGE_MIN`` (0.92) in every case. Over
  100 seeds a coverage is itself uncertain by about ±0.022 (binomial sd at
  0.95), and a ratio by about ±7 % (1/sqrt(2 * 99)). The benchmark times a
  plain and a ``std_err=True`` call, alternately ``COST_REPEATS`` times;
  ``extra_info`` holds the calibration and ``se_cost``, the ratio of their
  medians. ``INFOBENCH_CAL_CSV=prefix`` also writes, as it goes, every
  seed's record to ``prefix-target-records.csv`` and the costs to
  ``prefix-target-cost.csv``.
* :func:`test_suite_calibration` — the ratio per task on the ``mi-standard``
  and ``entropy`` suites at n = 5,000 for every classical method, over
  ``INFOBENCH_CAL_SUITE_SEEDS`` seeds (default 20: the full ``SEEDS`` would
  take hours on 2 cores; with 20 seeds a ratio is itself uncertain by about
  ±16 %, 1/sqrt(2 * 19)). ``INFOBENCH_CAL_SUITE_N`` changes n (default
  5,000: about 4 CPU-hours, dominated by KDE's O(n^2) and KSG in 50-d;
  ``INFOBENCH_CAL_CSV=prefix`` also writes ``prefix-<suite>.csv`` and, as
  it goes, the records in ``prefix-<suite>-records.csv``).

The numbers come from :func:`infobench.report.aggregate.calibration`, the
function behind the calibration table of the benchmark report.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

import infobench
from benchmarks.conftest import pick
from infobench import tasks
from infobench.estimators.base import get_method
from infobench.report.aggregate import calibration
from infobench.report.render import calibration_table, to_markdown

SEEDS = int(os.environ.get("INFOBENCH_CAL_SEEDS", "100"))  # the target is stated for 100; more only narrows it
#: Smallest coverage of the estimator's mean by the nominal 95 % interval, in every target case.
COVERAGE_MIN = 0.92
#: Plain and std_err=True calls timed alternately this many times for se_cost (the ratio of the medians).
COST_REPEATS = 3
SUITE_SEEDS = int(os.environ.get("INFOBENCH_CAL_SUITE_SEEDS", "20"))
SUITE_N = int(os.environ.get("INFOBENCH_CAL_SUITE_N", "5000"))
BAND = (0.8, 1.25)
KL_SHIFT = 1.0  # P = N(0, I_2), Q = N((1, 0), I_2): D(P||Q) = |shift|^2 / 2


@dataclass(frozen=True)
class Case:
    label: str
    quantity: str  # "entropy", "mi" or "kl"
    method: str
    task: str  # a task id, or "kl-gauss-2d"
    n: int
    n_small: int
    params: dict = field(default_factory=dict)


CASES = [
    Case("KSG 1x1 n=1000", "mi", "ksg", "normal-dense-x1-y1-rho0.75", 1_000, 200),
    Case("KSG 1x1 n=10000", "mi", "ksg", "normal-dense-x1-y1-rho0.75", 10_000, 200),
    Case("KSG 5x5 n=5000", "mi", "ksg", "normal-dense-x5-y5-rho0.5", 5_000, 200),
    Case("Kozachenko-Leonenko 10-d n=5000", "entropy", "knn", "entropy-gaussian-d10-rho0.3-s2", 5_000, 200),
    Case("kNN KL 2-d n=2000", "kl", "knn", "kl-gauss-2d", 2_000, 200),
    Case("KDE 1-d n=2000", "entropy", "kde", "entropy-gaussian-d1-rho0", 2_000, 200),
    Case("histogram 1-d n=10000", "entropy", "histogram", "entropy-gaussian-d1-rho0", 10_000, 200),
    Case("Gaussian 5x5 n=5000", "mi", "gaussian", "normal-dense-x5-y5-rho0.5", 5_000, 200),
]
SUITE_METHODS = {
    "mi-standard": ("ksg", "histogram", "kde", "gaussian", "gcmi"),
    "entropy": ("knn", "histogram", "kde", "gaussian"),
}
# 30 bootstrap replicates instead of 100 in the suites: the mean standard error is the same
# (E[s] is within 1 % of sigma from 30 replicates), at a third of the cost.
SUITE_PARAMS = {"gaussian": {"n_boot": 30}, "gcmi": {"n_boot": 30}}
# INFOBENCH_CAL_METHODS=kde,ksg: only these methods in the suites (re-measuring one estimator).
ONLY = [m for m in os.environ.get("INFOBENCH_CAL_METHODS", "").split(",") if m]


def _data(task: str, n: int, seed: int) -> tuple[tuple, float, float]:
    """Samples, truth and its standard error."""
    if task == "kl-gauss-2d":
        rng = np.random.default_rng(seed)
        p = rng.standard_normal((n, 2))
        q = rng.standard_normal((n, 2)) + np.array([KL_SHIFT, 0.0])
        return (p, q), KL_SHIFT**2 / 2, 0.0
    t = tasks.get_task(task)
    s = t.sample(n, seed=seed)
    return (s if isinstance(s, tuple) else (s,)), float(t.truth), float(t.truth_std_err)


_API = {"entropy": infobench.entropy, "mi": infobench.mutual_information, "kl": infobench.kl_divergence}


def _estimate(quantity: str, method: str, data: tuple, seed: int, std_err: bool, params: dict):
    # Methods that draw nothing (kde) take no seed.
    seeded = {"seed": seed} if "seed" in get_method(quantity, method).params else {}
    return _API[quantity](*data, method=method, std_err=std_err, **seeded, **params)


def records(
    quantity: str, method: str, task: str, n: int, seeds: int, params: dict | None = None, out: str | None = None
) -> pd.DataFrame:
    """One record per seed (data and estimator seeded alike), as the benchmark store has them.

    ``out``: a CSV file each record is appended to as soon as it is computed.
    """
    rows = []
    for seed in range(seeds):
        data, truth, truth_se = _data(task, n, seed)
        row: dict[str, Any] = dict(
            estimator=method,
            quantity=quantity,
            task_id=task,
            n=n,
            truth=truth,
            truth_std_err=truth_se,
            estimate=math.nan,
            std_err=math.nan,
            std_err_df=math.nan,
            ok=False,
            error="",
            seed=seed,
        )
        try:
            est = _estimate(quantity, method, data, seed, True, params or {})
            row.update(
                estimate=est.value,
                std_err=est.std_err,
                ok=True,
                seconds=est.seconds,
                std_err_df=math.nan if est.std_err_df is None else float(est.std_err_df),
            )
        except (ValueError, FloatingPointError) as exc:  # a refused task is reported, not fatal
            row["error"] = str(exc)[:200]
        rows.append(row)
        if out:
            pd.DataFrame([row]).to_csv(out, mode="a", header=not os.path.exists(out), index=False)
    return pd.DataFrame(rows)


def se_cost(case: Case, n: int, repeats: int = COST_REPEATS) -> tuple[float, float, float]:
    """Median seconds of a plain and of a ``std_err=True`` estimate (timed alternately), and their ratio."""
    data, _, _ = _data(case.task, n, 0)
    plain, with_se = [], []
    for _ in range(repeats):
        plain.append(_estimate(case.quantity, case.method, data, 0, False, case.params).seconds)
        with_se.append(_estimate(case.quantity, case.method, data, 0, True, case.params).seconds)
    p, w = float(np.median(plain)), float(np.median(with_se))
    return p, w, (w / p if p > 0 else math.nan)


def _print(title: str, cal: pd.DataFrame) -> None:
    print(f"\n## {title}\n")
    print(to_markdown(calibration_table(cal)))


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_calibration_target(benchmark, full_size, case):
    n = pick(full_size, case.n, case.n_small)
    seeds = pick(full_size, SEEDS, 4)
    out = os.environ.get("INFOBENCH_CAL_CSV")
    data, _, _ = _data(case.task, n, 0)
    benchmark.pedantic(_estimate, args=(case.quantity, case.method, data, 0, True, case.params), rounds=1, iterations=1)
    plain, with_se, cost = se_cost(case, n, pick(full_size, COST_REPEATS, 1))
    if out:
        costs = f"{out}-target-cost.csv"
        pd.DataFrame(
            [{"case": case.label, "n": n, "plain_seconds": plain, "std_err_seconds": with_se, "se_cost": cost}]
        ).to_csv(costs, mode="a", header=not os.path.exists(costs), index=False)
    df = records(
        case.quantity, case.method, case.task, n, seeds, case.params, out=f"{out}-target-records.csv" if out else None
    )
    assert df["ok"].all(), df.loc[~df["ok"], "error"].tolist()
    cal = calibration(df)
    row = cal.iloc[0].to_dict()
    row.update(case=case.label, seeds=seeds, se_cost=cost)
    benchmark.extra_info.update({k: (v if isinstance(v, (str, int)) else float(v)) for k, v in row.items()})
    _print(f"{case.label}: {seeds} seeds (std_err=True costs {row['se_cost']:.1f}x the estimate)", cal)
    assert math.isfinite(row["ratio"]) and row["seed_sd"] > 0
    if full_size:
        assert BAND[0] <= row["ratio"] <= BAND[1], f"{case.label}: std_err / sd = {row['ratio']:.3f}"
        assert row["coverage_mean"] >= COVERAGE_MIN, f"{case.label}: coverage {row['coverage_mean']:.2f}"


@pytest.mark.parametrize("suite", list(SUITE_METHODS))
def test_suite_calibration(benchmark, full_size, suite):
    task_list = tasks.suite(suite) if full_size else tasks.suite(suite)[:1]
    n = pick(full_size, SUITE_N, 200)
    seeds = pick(full_size, SUITE_SEEDS, 3)

    out = os.environ.get("INFOBENCH_CAL_CSV")

    def run() -> pd.DataFrame:
        methods = [m for m in SUITE_METHODS[suite] if not ONLY or m in ONLY]
        parts = []
        for m in methods:
            for t in task_list:
                parts.append(records(t.kind, m, t.id, n, seeds, SUITE_PARAMS.get(m)))
                if out:  # the records so far, so that an interrupted run still leaves its numbers
                    pd.concat(parts, ignore_index=True).to_csv(f"{out}-{suite}-records.csv", index=False)
        return pd.concat(parts, ignore_index=True)

    df = benchmark.pedantic(run, rounds=1, iterations=1)
    cal = calibration(df, per_task=True)
    failed = df[~df["ok"]].groupby(["estimator", "task_id"])["error"].first()
    benchmark.extra_info["ratios"] = {f"{r.estimator}|{r.task_id}": float(r.ratio) for r in cal.itertuples()}
    benchmark.extra_info["refused"] = {f"{e}|{t}": msg for (e, t), msg in failed.items()}
    if out:
        cal.to_csv(f"{out}-{suite}.csv", index=False)
    _print(f"suite {suite}, n={n}, {seeds} seeds per task", cal)
    if len(failed):
        print("\nrefused (estimator | task: first error):")
        for (e, t), msg in failed.items():
            print(f"- {e} | {t}: {msg}")
    inside = cal["ratio"].between(*BAND)
    print(f"\nratio within {BAND}: {int(inside.sum())} of {len(cal)} (estimator, task) pairs")
    assert len(cal) > 0 and cal["seed_sd"].notna().all()
