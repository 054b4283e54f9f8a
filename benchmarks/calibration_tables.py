"""Tables of a suite-calibration folder: per-task ratio mean std_err / seed sd, with its own 95 % interval.

Run from the repository root: ``python3 -m benchmarks.calibration_tables [FOLDER]`` (default
``reports/example/calibration-n5000``). Reads the per-task calibration CSVs written by
``benchmarks/bench_calibration.py::test_suite_calibration`` (``<method>-<suite>.csv``, the output of
:func:`infobench.report.aggregate.calibration` with ``per_task=True``) and writes ``tables.md`` beside them. Rendering goes through
:mod:`infobench.report.render` (``Table``, ``to_markdown``, ``format_value``, ``calibration_table``).

Interval of a ratio: with k seeds, (k - 1) s^2 / sigma^2 ~ chi^2_{k-1} for roughly normal estimates,
so the true ratio mean_std_err / sigma lies in ratio * sqrt(chi^2_{k-1, q} / (k - 1)),
q in {0.025, 0.975} (the noise of the mean std_err, a mean of k values, is much smaller and left out).
A task *fails* when that whole interval lies outside 0.8-1.25.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special, stats

from infobench.report.render import Table, calibration_table, format_value, to_markdown

DEFAULT_FOLDER = Path(__file__).resolve().parents[1] / "reports" / "example" / "calibration-n5000"
BAND = (0.8, 1.25)
CONSTANT = 1e-9  # nats: a seed-to-seed sd below this means the estimate did not move (its ratio means nothing)
SUITES = {
    "entropy": ("knn", "histogram", "gaussian", "kde"),
    "mi-standard": ("ksg", "histogram", "gaussian", "gcmi", "kde"),
}


def ratio_interval(ratio: float, seeds: int) -> tuple[float, float]:
    """95 % interval of the true ratio given the measured one over ``seeds`` seeds (chi-square on the sd)."""
    lo, hi = stats.chi2.ppf([0.025, 0.975], seeds - 1) / (seeds - 1)
    return ratio * math.sqrt(lo), ratio * math.sqrt(hi)


def verdict(ratio: float, seeds: int, seed_sd: float) -> str:
    """in / noise (outside the band, interval reaches it) / low / high (interval outside) / constant."""
    if seed_sd < CONSTANT:
        return "constant"
    lo, hi = ratio_interval(ratio, seeds)
    if BAND[0] <= ratio <= BAND[1]:
        return "in"
    if hi < BAND[0]:
        return "low"
    if lo > BAND[1]:
        return "high"
    return "noise"


def load(folder: Path, suite: str) -> pd.DataFrame:
    """The per-task calibration rows of every method of ``suite`` measured so far, with their verdict."""
    parts = [pd.read_csv(folder / f"{m}-{suite}.csv") for m in SUITES[suite] if (folder / f"{m}-{suite}.csv").exists()]
    if not parts:
        return pd.DataFrame()
    cal = pd.concat(parts, ignore_index=True)
    cal["verdict"] = [verdict(r, int(k), sd) for r, k, sd in zip(cal["ratio"], cal["cells"], cal["seed_sd"])]
    return cal


def _geometric_mean(g: pd.DataFrame) -> str:
    """Geometric mean of the tasks' ratios, corrected for the small-sample bias of 1 / s, with its 95 % interval.

    With nu = k - 1 degrees of freedom, log(s^2 / sigma^2) = log(chi^2_nu / nu) has mean
    psi(nu / 2) - log(nu / 2) and variance psi'(nu / 2): a log ratio log(mean_std_err / s) is too high
    by (log(nu / 2) - psi(nu / 2)) / 2 on average (11 % at 6 seeds, 3 % at 20) and has sd sqrt(psi'(nu / 2)) / 2.
    """
    # A rank-based method gives bit-identical estimates on a task and its per-column monotone transforms
    # (normal-cdf-, wiggly-, bimodal-...): such copies are one measurement, counted once.
    g = g.drop_duplicates(subset=["mean_std_err", "seed_sd"])
    nu = g["cells"].astype(float) - 1
    logs = g["ratio"].apply(math.log) - (np.log(nu / 2) - special.digamma(nu / 2)) / 2
    se = math.sqrt(float(np.sum(special.polygamma(1, nu / 2) / 4))) / len(g)
    lo, mid, hi = (math.exp(logs.mean() + z * se) for z in (-1.96, 0.0, 1.96))
    return f"{format_value(mid, 'plain')} ({format_value(lo, 'plain')}–{format_value(hi, 'plain')})"


def _refused(folder: Path, suite: str, method: str) -> int:
    """Tasks whose every seed was refused by the method (they have no calibration row)."""
    rec = pd.read_csv(folder / f"{method}-{suite}-records.csv")
    return int((~rec.groupby("task_id")["ok"].any()).sum())


def summary_table(folder: Path, suite: str, cal: pd.DataFrame) -> Table:
    header = [
        "method",
        "seeds",
        "tasks",
        "refused",
        "in 0.8–1.25",
        "outside, within noise",
        "fail low",
        "fail high",
        "constant",
        "median ratio",
        "geometric mean, bias-corrected (95 %)",
        "coverage of mean",
        "coverage of truth",
        "worst (ratio)",
    ]
    rows, best = [], []
    for m, every in cal.groupby("estimator", sort=False):
        g = every[every["verdict"] != "constant"]
        seeds = sorted(set(g["cells"].astype(int)))
        worst = g.loc[(g["ratio"].apply(math.log)).abs().sort_values(ascending=False).index[:2]]
        hits = g["coverage_mean"] * g["cells"]
        rows.append(
            [m, "/".join(str(s) for s in seeds), str(len(every)), str(_refused(folder, suite, m))]
            + [str(int((every["verdict"] == v).sum())) for v in ("in", "noise", "low", "high", "constant")]
            + [
                format_value(g["ratio"].median(), "plain"),
                _geometric_mean(g),
                format_value(hits.sum() / g["cells"].sum(), "rate"),
                format_value((g["coverage_truth"] * g["cells"]).sum() / g["cells"].sum(), "rate"),
                "; ".join(f"{t} ({format_value(r, 'plain')})" for t, r in zip(worst["task_id"], worst["ratio"])),
            ]
        )
        best.append([False] * len(header))
    note = (
        "Per task, ratio = mean reported std_err / sd of the estimates over seeds at n = 5,000. "
        "'within noise': outside 0.8–1.25 but its 95 % interval (chi-square on the sd) reaches the band; "
        "'fail': the whole interval is outside; 'constant': the estimate did not change over seeds (left out "
        "of median, geometric mean and worst). Geometric mean over tasks, corrected for the "
        "upward bias of 1 / s with few seeds (11 % at 6 seeds, 3 % at 20), with the interval from the sd noise of "
        "independent tasks (a systematic shift shows when it excludes 1; tasks with bit-identical results counted once). Coverages pooled over the suite's tasks (nominal 0.95)."
    )
    return Table(f"{suite}: summary per method", header, rows, best, labels=1, note=note)


def matrix_table(suite: str, cal: pd.DataFrame) -> Table:
    methods = list(dict.fromkeys(cal["estimator"]))
    tasks = list(dict.fromkeys(cal["task_id"]))
    mark = {"in": "", "noise": " ~", "low": " ↓", "high": " ↑", "constant": " (constant)"}
    rows, best = [], []
    for t in tasks:
        row, flags = [t], [False]
        for m in methods:
            r = cal[(cal["task_id"] == t) & (cal["estimator"] == m)]
            if r.empty:
                row.append(format_value(math.nan))
                flags.append(False)
                continue
            r = r.iloc[0]
            row.append(format_value(r["ratio"], "plain") + mark[r["verdict"]])
            flags.append(r["verdict"] == "in")
        rows.append(row)
        best.append(flags)
    note = (
        "std_err / seed sd per task; bold: within 0.8–1.25; ~ outside but within its own noise; "
        "↓ / ↑ fail low (intervals too narrow) / high (too wide) beyond noise; (constant): the estimate "
        "did not change over seeds."
    )
    return Table(f"{suite}: ratio per task (n = 5,000)", ["task"] + methods, rows, best, labels=1, note=note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Calibration tables (tables.md) of a suite-calibration folder")
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    folder = parser.parse_args(argv).folder
    out = ["# Calibration tables, n = 5,000 (generated by `python3 -m benchmarks.calibration_tables`)", ""]
    cals = {suite: load(folder, suite) for suite in SUITES}
    cals = {suite: cal for suite, cal in cals.items() if len(cal)}
    if not cals:
        parser.error(f"no <method>-<suite>.csv calibration files in {folder}")
    for suite, cal in cals.items():
        out += [to_markdown(summary_table(folder, suite, cal)), to_markdown(matrix_table(suite, cal))]
    for suite, cal in cals.items():
        for m, g in cal.groupby("estimator", sort=False):
            t = calibration_table(g.drop(columns="verdict"))
            t.title = f"{suite} × {m}: every task"
            out.append(to_markdown(t))
    (folder / "tables.md").write_text("\n".join(out), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
