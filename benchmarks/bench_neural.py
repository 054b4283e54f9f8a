"""Neural MI estimators: accuracy on the 20-d staircase, and training throughput.

Run::

    pytest benchmarks/bench_neural.py -s                        # full, ~5 min on one CPU thread
    pytest benchmarks/bench_neural.py --benchmark-disable       # smoke, seconds
    INFOBENCH_NEURAL_SEEDS=3 pytest benchmarks/bench_neural.py -s   # seed-to-seed sd too (3x longer)

Staircase (Poole et al. 2019 Sec. 4; Song & Ermon 2020 Sec. 6): X and Y in
20-d, 20 independent Gaussian pairs with one correlation, I = 2, 4, 6, 8, 10
nats (``infobench.tasks.staircase``). Every (level, method, seed) draws
n = 100,000 fresh rows and runs the estimator as a user would, with the
default critic (separable, hidden 256-256, embedding 32), batch 128, learning
rate 5e-4, at most 1,500 steps with validation early stopping (patience 300),
and reports on the 50,000 held-out rows (390 batches of 128). One seed by
default, to keep the full run to a few minutes on a 2-core machine.

Table columns, per level and method: ``estimate`` (mean over seeds),
``bias``, ``rel_bias``, ``sd_batch`` (standard deviation of the per-batch
held-out values: the spread of one batch-128 estimate with the trained
critic), ``std_err`` (of the held-out mean), ``sd_seeds`` (across seeds, with
INFOBENCH_NEURAL_SEEDS >= 2), and ``oracle`` / ``oracle_sd_batch``: the same
bound at batch 128 with the closed-form optimal critic (NWJ: that critic + 1),
i.e. the bias and spread a perfectly trained critic would still have.

Targets from issue 3: SMILE (tau = 5) within 10 % of the truth at every level
with lower variance than NWJ and MINE; InfoNCE at or under log 128 = 4.85.
Asserted: InfoNCE <= log 128 and finite estimates everywhere (in the smoke run
too), and the oracle rows against the truth. The SMILE targets are measured
and recorded in ``extra_info["targets"]``, not asserted: with the *optimal*
critic SMILE(tau=5) at batch 128 already reads high (+7 % at I = 4, +12 % at
6, +16 % at 8, +20 % at 10: its clipped partition term is below 1), so a
critic trained to optimality cannot meet the 10 % target at the top levels;
where a trained critic does meet it, its own shortfall is cancelling the
clipping bias. See the oracle column.

Throughput: training steps per second of the default critic (and of the joint
critic) through the public estimator, side by side with a bare PyTorch loop
(same network, optimiser and JS loss, no bookkeeping), on 1 and 2 threads.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pytest
import torch

from benchmarks.conftest import pick
from infobench.estimators import neural
from infobench.estimators.neural import build_critic, js_bound
from infobench.tasks import staircase

LEVELS = (2.0, 4.0, 6.0, 8.0, 10.0)
METHODS = ("mine", "nwj", "infonce", "smile")
BATCH = 128
CEILING = math.log(BATCH)
ORACLE_BOUNDS = {
    "mine": neural.dv_bound,
    "nwj": lambda s: neural.nwj_bound(s + 1.0),
    "infonce": neural.infonce_bound,
    "smile": neural.smile_bound,
}


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


def _oracle_scores(task, x, y):
    """``log p(y_j | x_i) - log p(y_j)`` for the staircase's unit-variance pairs."""
    rho, d = task.rho, task.dim
    s2 = 1.0 - rho**2
    cond = -((y[None, :, :] - rho * x[:, None, :]) ** 2).sum(-1) / (2 * s2) - 0.5 * d * math.log(s2)
    return cond + (y[None, :, :] ** 2).sum(-1) / 2


def _oracle(task, batches, seed):
    x, y = (torch.as_tensor(v) for v in task.sample(BATCH * batches, seed))
    out = {}
    for method, bound in ORACLE_BOUNDS.items():
        vals = np.array([bound(_oracle_scores(task, x[i:i + BATCH], y[i:i + BATCH])).item()
                         for i in range(0, len(x), BATCH)])
        out[method] = (vals.mean(), vals.std(ddof=1), vals.std(ddof=1) / math.sqrt(len(vals)))
    return out


def _run_staircase(n, steps, seeds, levels, oracle_batches):
    rows = []
    for level in levels:
        task = staircase(level, dim=20)
        oracle = _oracle(task, oracle_batches, seed=10_000)
        for method in METHODS:
            runs = []
            for seed in range(seeds):
                x, y = task.sample(n, seed)
                runs.append(getattr(neural, method)(x, y, batch_size=BATCH, steps=steps, seed=seed, std_err=True))
            values = np.array([r.value for r in runs])
            batch_sd = np.mean([np.std(r.extras["heldout_batch_values"], ddof=1) for r in runs])
            rows.append({
                "mi": level,
                "method": method,
                "estimate": float(values.mean()),
                "bias": float(values.mean() - level),
                "rel_bias": float(values.mean() / level - 1),
                "sd_batch": float(batch_sd),
                "std_err": float(np.mean([r.std_err for r in runs])),
                "sd_seeds": float(values.std(ddof=1)) if seeds > 1 else math.nan,
                "steps_run": int(np.mean([r.extras["steps_run"] for r in runs])),
                "seconds": float(sum(r.seconds for r in runs)),
                "oracle": float(oracle[method][0]),
                "oracle_sd_batch": float(oracle[method][1]),
                "oracle_std_err": float(oracle[method][2]),
            })
    return rows


def _table(rows):
    head = (f"{'I':>4} {'method':<8} {'estimate':>9} {'bias':>8} {'rel':>7} {'sd_batch':>9} {'std_err':>8} "
            f"{'sd_seeds':>9} {'steps':>6} {'oracle':>8} {'or_sd':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['mi']:>4g} {r['method']:<8} {r['estimate']:>9.3f} {r['bias']:>8.3f} {r['rel_bias']:>7.1%} "
                     f"{r['sd_batch']:>9.3f} {r['std_err']:>8.3f} {r['sd_seeds']:>9.3f} {r['steps_run']:>6d} "
                     f"{r['oracle']:>8.3f} {r['oracle_sd_batch']:>7.3f}")
    return "\n".join(lines)


def _targets(rows):
    by = {(r["mi"], r["method"]): r for r in rows}
    levels = sorted({r["mi"] for r in rows})
    seeds = {} if math.isnan(rows[0]["sd_seeds"]) else {
        "smile_sd_seeds_below_mine_and_nwj": {
            lv: by[lv, "smile"]["sd_seeds"] < min(by[lv, m]["sd_seeds"] for m in ("mine", "nwj")) for lv in levels
        }
    }
    return seeds | {
        "smile_within_10pct": {lv: abs(by[lv, "smile"]["rel_bias"]) <= 0.10 for lv in levels},
        "smile_sd_batch_below_mine_and_nwj": {
            lv: by[lv, "smile"]["sd_batch"] < min(by[lv, m]["sd_batch"] for m in ("mine", "nwj")) for lv in levels
        },
        "infonce_at_most_log128": {lv: by[lv, "infonce"]["estimate"] <= CEILING for lv in levels},
    }


@pytest.mark.benchmark(group="neural-staircase")
def test_staircase_20d(benchmark, full_size, threads):
    # One thread: on a shared 2-core machine intra-op hand-offs make small
    # matmuls many times slower (measured 5-15x under load).
    threads(1)
    seeds = int(os.environ.get("INFOBENCH_NEURAL_SEEDS", "1")) if full_size else 1
    kwargs = dict(
        n=pick(full_size, 100_000, 4_000),
        steps=pick(full_size, 1_500, 30),
        seeds=seeds,
        levels=pick(full_size, LEVELS, (2.0, 10.0)),
        oracle_batches=pick(full_size, 200, 10),
    )
    rows = benchmark.pedantic(_run_staircase, kwargs=kwargs, rounds=1, iterations=1)
    targets = _targets(rows)
    text = _table(rows)
    print(f"\n20-d staircase, batch {BATCH}, n={kwargs['n']}, steps<={kwargs['steps']}, seeds={seeds}, "
          f"threads=1\n{text}\ntargets: {targets}")
    benchmark.extra_info.update({"table": rows, "targets": targets, "config": {**kwargs, "batch_size": BATCH}})
    for r in rows:
        assert math.isfinite(r["estimate"]), r
        if r["method"] == "infonce":
            assert r["estimate"] <= CEILING  # a property of the bound: never above log(batch)
            assert r["oracle"] <= CEILING
    if full_size:
        # The oracle rows check the bounds and the task, independently of
        # training: DV and NWJ are within 5 standard errors of the truth (plus
        # DV's known finite-batch overestimate, < 10 % at 200 x 128 pairs).
        for r in rows:
            if r["method"] in ("mine", "nwj"):
                assert -5 * r["oracle_std_err"] < r["oracle"] - r["mi"] < 0.1 * r["mi"] + 5 * r["oracle_std_err"], r


# ---------------------------------------------------------------- throughput
def _bare_loop(x, y, steps, seed=0):
    """Reference: the same network, optimiser and JS loss with no bookkeeping."""
    critic = build_critic("separable", x.shape[1], y.shape[1], seed=seed)
    opt = torch.optim.AdamW(critic.parameters(), lr=5e-4, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (BATCH,), generator=gen)
        loss = -js_bound(critic(x[idx], y[idx]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps / (time.perf_counter() - t0)


def _estimator_loop(x, y, steps, critic):
    # One held-out batch (test_fraction 0.05 of 4,096 rows): the timing is
    # the training loop plus a negligible evaluation.
    est = neural.smile(x, y, critic=critic, steps=steps, patience=0, validation_fraction=0.0, test_fraction=0.05,
                       seed=0)
    return est.extras["steps_per_second"]


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("target", ["estimator-separable", "bare-torch-separable", "estimator-joint"])
def test_training_throughput(benchmark, full_size, threads, target, n_threads):
    if n_threads > 1 and not full_size:
        pytest.skip("multi-thread timing only at full size (a smoke run on a busy machine just waits on threads)")
    threads(n_threads)
    benchmark.group = f"neural-train-steps-threads{n_threads}"
    x, y = staircase(6.0, dim=20).sample(4096, 0)
    steps = pick(full_size, 20 if target == "estimator-joint" else 200, 3)
    if target == "bare-torch-separable":
        xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
        rate = benchmark.pedantic(_bare_loop, args=(xt, yt, steps), rounds=3, iterations=1)
    else:
        critic = target.split("-")[1]
        rate = benchmark.pedantic(_estimator_loop, args=(x, y, steps, critic), rounds=3, iterations=1)
    benchmark.extra_info.update({"steps": steps, "steps_per_second_last_round": rate, "threads": n_threads,
                                 "device": "cpu"})
    assert rate > 0
