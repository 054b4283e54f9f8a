"""Generators compared over several training runs: spread across runs, sampling noise, pairwise verdicts.

A generator trained ``R`` times with independent seeds gives ``R`` scores
``x_1 .. x_R`` of one quality score, each computed on a fresh sample of its
run's model. Two sources of variation move them:

* **training**: another seed gives another model (variance ``tau^2``);
* **sampling**: the same model scored on another sample of ``n`` images
  (variance ``sigma^2``), which the within-run interval of
  :mod:`infobench.quality.bootstrap` measures (its ``boot_std``).

A run's score is ``x_r = mu + t_r + e_r`` with independent ``t_r ~ (0,
tau^2)`` and ``e_r ~ (0, sigma^2)``: a two-level (nested) model. The
variance of one run's score is ``tau^2 + sigma^2``, and the sample variance
``s^2`` of the ``R`` scores estimates exactly that, so the mean ``x_bar`` has
``Var(x_bar) = (tau^2 + sigma^2) / R``, estimated by ``s^2 / R`` with ``R - 1``
degrees of freedom (Searle, Casella & McCulloch 1992, *Variance Components*,
Sec. 3.6: the between-group mean square of a balanced one-way random
model). Since every ``x_r`` carries the sampling noise, ``s^2`` is never
taken below the mean within-run variance ``w^2 = mean(boot_std_r^2)`` (its
expectation is at least ``sigma^2``): with two or three runs ``s^2`` alone
can be close to zero by chance. The flooring can only widen an interval.

Two generators ``A`` and ``B`` differ by ``d = x_bar_A - x_bar_B`` with
standard error ``se = sqrt(v_A / R_A + v_B / R_B)`` and the
Welch-Satterthwaite degrees of freedom (Welch 1947, Biometrika 34, eq. 9;
Satterthwaite 1946)::

    df = se^4 / ((v_A / R_A)^2 / (R_A - 1) + (v_B / R_B)^2 / (R_B - 1))

and the interval at ``level`` is ``d +- t_{df, (1 + level) / 2} se``. With
two runs each, ``df`` lies between 1 and 2 and the t quantile is 4.3 to 12.7:
few runs give wide intervals, which is what they can support. The verdict
reads the interval with the score's direction: ``"A better"`` when the
whole interval lies on A's better side, ``"B better"`` on B's, else ``"not
distinguishable"``. A score whose direction is "closer to zero" is compared
on ``|x_r|`` (a run's distance from the ideal), with lower better.

When a generator has a single run its run-to-run spread is unknown: its
side of the comparison then uses the within-run sampling variance alone,
which ignores training variation and says so (``basis = "sampling only"``
when both have one run, with a normal quantile; ``"runs and sampling
only"`` when the other has several, whose measured run variance is kept and
sets the Welch df, the single run's term counting as known). Without a
sampling sd for a single run (no bootstrap) there is no verdict.

The best mark of a table (:func:`best_marks`) goes to the best generator of a
column only when it is distinguishable from the runner-up by
:func:`pairwise`. Each pair is tested at ``level``, without a correction for
the number of pairs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from infobench._validation import check_float

__all__ = [
    "RUN_COLUMNS",
    "VERDICT_SAME",
    "across_runs",
    "best_marks",
    "difference",
    "pairwise",
    "parse_run_groups",
    "verdict",
]

VERDICT_SAME = "not distinguishable"
RUN_COLUMNS = [
    "generator",
    "score",
    "label",
    "direction",
    "unit",
    "family",
    "runs",
    "mean",
    "sd_runs",
    "se_mean",
    "sampling_sd",
    "sampling_low",
    "sampling_high",
    "training_share",
    "values",
    "run_names",
]


def parse_run_groups(specs: Sequence[str]) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """Expand ``NAME=SPEC1,SPEC2,...`` (several training runs of one generator) into one spec per run.

    Returns ``(specs, names, groups)``: the specs and names to score (run
    ``i`` of ``NAME`` is named ``NAME#i``, from 1) and ``groups``, the
    generator name -> its runs' names. A spec without ``=`` stays one set,
    named as :func:`infobench.quality.score` would name it. Raises
    ``ValueError`` on an empty name or run list, a name given twice, or one
    run given twice (two copies of one set would read as two training runs
    that agree exactly, and shrink the spread across runs).
    """
    out_specs: list[str] = []
    names: list[str] = []
    groups: dict[str, list[str]] = {}
    for spec in specs:
        if "=" not in spec:
            out_specs.append(spec)
            names.append(spec)
            groups[spec] = [spec]
            continue
        name, _, runs = spec.partition("=")
        name = name.strip()
        parts = [p.strip() for p in runs.split(",")]
        if not name or not all(parts):
            raise ValueError(f"--fake NAME=SPEC[,SPEC...] needs a name and one spec per run; got {spec!r}")
        if name in groups:
            raise ValueError(f"--fake names each generator once; {name!r} appears twice")
        repeated = sorted({p for p in parts if parts.count(p) > 1})
        if repeated:
            raise ValueError(
                f"--fake {name}=...: each run is a different set, but {repeated[0]!r} is given "
                f"{parts.count(repeated[0])} times"
            )
        run_names = [f"{name}#{i + 1}" for i in range(len(parts))] if len(parts) > 1 else [name]
        out_specs += parts
        names += run_names
        groups[name] = run_names
    return out_specs, names, groups


def _sampling_interval(rows: pd.DataFrame) -> tuple[float, float, float]:
    """Mean within-run sampling sd ``sqrt(mean(boot_std^2))`` and the mean within-run interval, centred on 0."""
    b = rows["boot_std"].to_numpy(dtype=float)
    sd = float(np.sqrt(np.mean(b**2))) if len(b) and np.isfinite(b).all() else math.nan
    lo = (rows["ci_low"] - rows["value"]).to_numpy(dtype=float)
    hi = (rows["ci_high"] - rows["value"]).to_numpy(dtype=float)
    if len(lo) and np.isfinite(lo).all() and np.isfinite(hi).all():
        return sd, float(lo.mean()), float(hi.mean())
    return sd, math.nan, math.nan


def across_runs(df: pd.DataFrame, groups: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Per generator and score: the mean over its training runs, their spread, and the within-run sampling noise.

    Parameters
    ----------
    df : DataFrame
        A :func:`infobench.quality.score` frame holding one set per training run.
    groups : mapping
        Generator name -> the ``fake`` names of its runs (a generator with one
        set, such as the held-out ceiling, may list just that one).

    Returns
    -------
    DataFrame
        Columns :data:`RUN_COLUMNS`: ``mean`` of the run values, ``sd_runs``
        (their sample sd, ``ddof = 1``; NaN for one run), ``se_mean``
        (``sqrt(v / R)`` with ``v = max(sd_runs^2, sampling_sd^2)``, see the
        module docstring; the sampling sd alone for one run),
        ``sampling_sd`` (``sqrt(mean(boot_std^2))``), ``sampling_low`` /
        ``sampling_high`` (the within-run interval's end points minus the
        run's value, averaged over runs), ``training_share``
        (``max(sd_runs^2 - sampling_sd^2, 0) / sd_runs^2``: the share of the
        run-to-run variance that sampling noise does not explain), ``values``
        and ``run_names`` (the individual runs, in order).
    """
    missing = {"fake", "score", "value", "boot_std", "ci_low", "ci_high", "direction"} - set(df.columns)
    if missing:
        raise ValueError(f"not a quality-score frame: missing columns {sorted(missing)}")
    known = set(df["fake"])
    rows = []
    for gen, runs in groups.items():
        runs = list(runs)
        absent = [r for r in runs if r not in known]
        if not runs or absent:
            raise ValueError(f"groups[{gen!r}] names runs not in the frame: {absent or runs}")
        sub = df[df["fake"].isin(runs)]
        for name in dict.fromkeys(sub["score"]):
            srows = sub[sub["score"] == name].set_index("fake").reindex(runs)
            values = srows["value"].to_numpy(dtype=float)
            r = len(values)
            sd = float(np.std(values, ddof=1)) if r > 1 else math.nan
            samp_sd, lo, hi = _sampling_interval(srows)
            v = _variance(sd, samp_sd)
            first = srows.iloc[0]
            share = max(sd**2 - samp_sd**2, 0.0) / sd**2 if r > 1 and sd > 0 and math.isfinite(samp_sd) else math.nan
            rows.append(
                {
                    "generator": gen,
                    "score": name,
                    "label": first.get("label", name),
                    "direction": first["direction"],
                    "unit": first.get("unit", ""),
                    "family": first.get("family", ""),
                    "runs": r,
                    "mean": float(values.mean()),
                    "sd_runs": sd,
                    "se_mean": math.sqrt(v / r) if math.isfinite(v) else math.nan,
                    "sampling_sd": samp_sd,
                    "sampling_low": lo,
                    "sampling_high": hi,
                    "training_share": share,
                    "values": [float(x) for x in values],
                    "run_names": runs,
                }
            )
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def _variance(sd_runs: float, sampling_sd: float) -> float:
    """Variance of one run's score: the run-to-run variance, floored at the within-run sampling variance."""
    if math.isfinite(sd_runs):
        return max(sd_runs**2, sampling_sd**2) if math.isfinite(sampling_sd) else sd_runs**2
    return sampling_sd**2 if math.isfinite(sampling_sd) else math.nan


def _mean_variance(x: np.ndarray, sampling_sd: float) -> tuple[float, float]:
    """Variance of a generator's mean score and its degrees of freedom (``inf``: from the sampling sd alone).

    Several runs: the run variance (floored, :func:`_variance`) over ``R``,
    with ``R - 1`` df. One run: the within-run sampling variance, whose
    training part is unknown (NaN without a sampling sd).
    """
    if x.size > 1:
        return _variance(float(np.std(x, ddof=1)), sampling_sd) / x.size, float(x.size - 1)
    return sampling_sd**2, math.inf


def difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    sampling_sd_a: float = math.nan,
    sampling_sd_b: float = math.nan,
    level: float = 0.95,
) -> dict[str, Any]:
    """Mean of ``a`` minus mean of ``b`` with its Welch interval (module docstring).

    Parameters
    ----------
    a, b : sequence of float
        One score per training run of each generator.
    sampling_sd_a, sampling_sd_b : float
        Within-run sampling sd of each (NaN: unknown); floors the run
        variance, and is the only variance of a generator with one run.
    level : float
        Confidence level of the interval, in (0, 1).

    Returns
    -------
    dict
        ``diff``, ``se``, ``df`` (``inf`` for the normal quantile of
        ``basis = "sampling only"``), ``low``, ``high``, ``basis``
        (``"runs"``; ``"runs and sampling only"`` when one generator has a
        single run: the other's run spread is kept, with its df;
        ``"sampling only"``; or ``"none"``).
    """
    level = check_float("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if xa.size == 0 or xb.size == 0:
        raise ValueError(f"a and b need at least one run each; got {xa.size} and {xb.size}")
    d = float(xa.mean() - xb.mean())
    (va, dfa), (vb, dfb) = _mean_variance(xa, sampling_sd_a), _mean_variance(xb, sampling_sd_b)
    if not (math.isfinite(va) and math.isfinite(vb)):
        return {"diff": d, "se": math.nan, "df": math.nan, "low": math.nan, "high": math.nan, "basis": "none"}
    se = math.sqrt(va + vb)
    # Welch-Satterthwaite; a side known from its sampling sd alone enters with infinite df.
    den = sum(v**2 / f for v, f in ((va, dfa), (vb, dfb)) if math.isfinite(f) and v > 0)
    df = se**4 / den if den > 0 else math.inf
    runs = math.isfinite(dfa) + math.isfinite(dfb)
    basis = ("sampling only", "runs and sampling only", "runs")[runs]
    q = float(stats.t.ppf(0.5 + level / 2.0, df)) if math.isfinite(df) else float(stats.norm.ppf(0.5 + level / 2.0))
    return {"diff": d, "se": se, "df": df, "low": d - q * se, "high": d + q * se, "basis": basis}


def verdict(low: float, high: float, direction: str, a: str, b: str) -> str:
    """``"<a> better"``, ``"<b> better"`` or ``"not distinguishable"`` from an interval for ``A - B``.

    ``direction`` ``"up"``: higher is better; ``"down"`` (and ``"zero"``,
    whose difference is taken on absolute values): lower is better. An
    interval that holds 0, or is NaN, is not distinguishable.
    """
    if direction not in ("up", "down", "zero"):
        raise ValueError(f"direction must be 'up', 'down' or 'zero'; got {direction!r}")
    if math.isnan(low) or math.isnan(high) or low <= 0.0 <= high:
        return VERDICT_SAME
    a_higher = low > 0.0
    a_wins = a_higher if direction == "up" else not a_higher
    return f"{a if a_wins else b} better"


def pairwise(runs: pd.DataFrame, *, level: float = 0.95, exclude: Sequence[str] = ()) -> pd.DataFrame:
    """Every score and pair of generators of an :func:`across_runs` frame: difference, interval, verdict.

    Columns: ``score, label, direction, a, b, diff, se, df, low, high, level,
    basis, verdict``. ``diff`` is ``mean(A) - mean(B)``; for a "closer to
    zero" score it is ``mean|A| - mean|B|`` (lower better). Generators in
    ``exclude`` (the held-out ceiling) are left out.
    """
    level = check_float("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    out = []
    gens = [g for g in dict.fromkeys(runs["generator"]) if g not in set(exclude)]
    for name in dict.fromkeys(runs["score"]):
        sub = runs[runs["score"] == name].set_index("generator")
        for a, b in combinations([g for g in gens if g in sub.index], 2):
            ra, rb = sub.loc[a], sub.loc[b]
            direction = ra["direction"]
            va, vb = np.asarray(ra["values"], float), np.asarray(rb["values"], float)
            if direction == "zero":
                va, vb = np.abs(va), np.abs(vb)
            res = difference(
                va, vb, sampling_sd_a=float(ra["sampling_sd"]), sampling_sd_b=float(rb["sampling_sd"]), level=level
            )
            out.append(
                {
                    "score": name,
                    "label": ra["label"],
                    "direction": direction,
                    "a": a,
                    "b": b,
                    **res,
                    "level": level,
                    "verdict": verdict(res["low"], res["high"], direction, a, b),
                }
            )
    return pd.DataFrame(
        out,
        columns=[
            "score",
            "label",
            "direction",
            "a",
            "b",
            "diff",
            "se",
            "df",
            "low",
            "high",
            "level",
            "basis",
            "verdict",
        ],
    )


def best_marks(runs: pd.DataFrame, pairs: pd.DataFrame, *, exclude: Sequence[str] = ()) -> dict[str, str | None]:
    """Per score: the generator to mark best, or None.

    The best mean (by the score's direction; ``|mean|`` for "closer to
    zero") is marked only when :func:`pairwise` finds it better than the
    runner-up (the second best mean); a tie for the best, a single generator,
    a NaN mean or an indistinguishable runner-up gives None.
    """
    marks: dict[str, str | None] = {}
    for name in dict.fromkeys(runs["score"]):
        sub = runs[(runs["score"] == name) & ~runs["generator"].isin(list(exclude))]
        if len(sub) < 2 or sub["mean"].isna().any():
            marks[name] = None
            continue
        direction = sub["direction"].iloc[0]
        key = {"up": -sub["mean"], "down": sub["mean"], "zero": sub["values"].map(lambda v: float(np.mean(np.abs(v))))}
        order = sub.assign(_k=key[direction].to_numpy()).sort_values("_k", kind="stable")
        best, second = order["generator"].iloc[0], order["generator"].iloc[1]
        if order["_k"].iloc[0] == order["_k"].iloc[1]:
            marks[name] = None
            continue
        row = pairs[
            (pairs["score"] == name)
            & (((pairs["a"] == best) & (pairs["b"] == second)) | ((pairs["a"] == second) & (pairs["b"] == best)))
        ]
        marks[name] = best if len(row) and row["verdict"].iloc[0] == f"{best} better" else None
    return marks
