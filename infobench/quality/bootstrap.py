"""Point values and seeded bootstrap intervals of the quality scores.

Two kinds of replicate, chosen per score (``ScoreSpec.bootstrap``):

``"resample"``
    Smooth functionals of the two empirical distributions (Inception-style
    score, class KL, FID, FID-infinity, KID, Vendi, RKE): real and generated
    rows are drawn with replacement (the training split is kept) and the score
    is recomputed. All such scores share the same draws per replicate.
``"terms"``
    Neighbour statistics (kNN KL and entropy, precision, recall, density,
    coverage, memorization) are means of per-sample terms. Redrawing points
    with replacement would put copies of a point at distance zero from
    each other and change what the statistic measures (the bootstrap is
    inconsistent for nearest-neighbour statistics), so the per-sample terms
    are resampled with the neighbourhoods held fixed. This captures the
    sampling variability of the evaluated points, not of the reference
    neighbourhoods, so these intervals are somewhat narrow.

The interval is the percentile interval at ``level`` (Efron & Tibshirani
1993, Sec. 13.3) over ``B`` replicates, re-centred on the reported value
(see :func:`percentile_interval`): it says how much the score would move
if the experiment were repeated with fresh samples of the same size.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from infobench._validation import check_float, check_int
from infobench.quality._core import GROUPS, SCORES, Context, Outcome

__all__ = ["check_bootstrap", "evaluate", "percentile_interval"]


def check_bootstrap(bootstrap: Any, level: Any) -> tuple[int, float]:
    """Validate ``B`` and ``level``: ``B = 0`` (no interval) or ``B >= 2 / (1 - level)``.

    Fewer replicates leave fewer than one replicate beyond each end of the
    interval, so the percentile interval would just be the extreme replicates.
    """
    level = check_float("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    b = check_int("bootstrap", bootstrap, low=0)
    need = math.ceil(2.0 / (1.0 - level) - 1e-9)
    if 0 < b < need:
        raise ValueError(f"bootstrap must be 0 or at least {need} replicates for a {level:g} interval; got {b}")
    return b, level


def percentile_interval(reps: np.ndarray, value: float, level: float) -> tuple[float, float]:
    """Percentile interval of the replicates, re-centred on ``value``.

    ``[value + q_a(T* - mean T*), value + q_{1-a}(T* - mean T*)]`` with
    ``a = (1 - level) / 2``: the spread of the score over repeated samples of
    the same size, centred on the reported value. Re-centring removes the
    shift that resampling itself causes (drawing with replacement duplicates
    rows, which raises FID and KID and lowers Vendi); it does not remove the
    bias of the score itself (FID's ``1/N`` term, see ``fid_inf``). Infinite
    replicates (a kNN entropy of a set with duplicates) are kept as they are
    and read off without interpolation, as are integer-valued scores (a
    count of classes keeps integer bounds); NaN replicates give a NaN
    interval.
    """
    if reps.size == 0 or np.isnan(reps).any() or math.isnan(value):
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    counts = np.isfinite(reps).all() and bool(np.all(reps == np.round(reps))) and float(value).is_integer()
    if np.isfinite(reps).all() and math.isfinite(value) and not counts:
        lo, hi = np.quantile(reps - reps.mean(), [alpha, 1.0 - alpha])
        return float(value + lo), float(value + hi)
    lo, hi = np.quantile(reps, [alpha, 1.0 - alpha], method="inverted_cdf")
    return float(lo), float(hi)


def evaluate(
    ctx: Context,
    names: tuple[str, ...],
    *,
    bootstrap: int = 0,
    level: float = 0.95,
    advance: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Compute ``names`` on ``ctx`` with ``bootstrap`` replicates; one tidy record per score.

    Records hold ``score, value, ci_low, ci_high, boot_std, bootstrap,
    bootstrap_kind, level, n_real, n_fake, note, extras``.
    """
    outcomes: dict[str, Outcome] = {}
    resampled: list[tuple[Callable, tuple[str, ...]]] = []
    for fn, members in GROUPS.values():
        wanted = tuple(n for n in members if n in names)
        if wanted:
            outcomes.update(fn(ctx, wanted))
            if SCORES[wanted[0]].bootstrap == "resample":
                resampled.append((fn, wanted))
    reps = {n: np.full(bootstrap, np.nan) for n in names}
    if bootstrap:
        for n in names:
            terms = outcomes[n].terms
            if terms is not None:
                rng = ctx.rng(f"bootstrap:{n}")
                reps[n] = np.array([terms.replicate(rng) for _ in range(bootstrap)])
        if resampled:
            rng = ctx.rng("bootstrap:resample")
            n_r, n_f = ctx.real.shape[0], ctx.fake.shape[0]
            for b in range(bootstrap):
                sub = ctx.resample(rng.integers(0, n_r, n_r), rng.integers(0, n_f, n_f))
                for fn, wanted in resampled:
                    for n, out in fn(sub, wanted).items():
                        reps[n][b] = out.value
                if advance is not None:
                    advance(1)
        elif advance is not None:
            advance(bootstrap)
    records = []
    for n in names:
        out, spec, r = outcomes[n], SCORES[n], reps[n]
        lo, hi = percentile_interval(r, out.value, level) if bootstrap else (float("nan"), float("nan"))
        std = float(np.std(r, ddof=1)) if bootstrap and np.isfinite(r).all() else float("nan")
        records.append(
            {
                "score": n,
                "value": float(out.value),
                "ci_low": lo,
                "ci_high": hi,
                "boot_std": std,
                "bootstrap": bootstrap,
                "bootstrap_kind": spec.bootstrap,
                "level": level,
                "n_real": out.n_real,
                "n_fake": out.n_fake,
                "note": out.note,
                "extras": dict(out.extras),
            }
        )
    return records
