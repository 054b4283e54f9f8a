"""The validity conditions of the estimators: their catalogue, their declarations and their checks.

Every estimator's formula needs something of its data: a density (not a
handful of categories), values resolved finely enough by their numeric type,
independent rows, neighbours at non-zero distances, parameters that leave the
formula non-degenerate. Each registered kernel *declares* the conditions it
needs next to its definition, with :func:`requires`::

    @register("entropy", "knn")
    @requires("categories", "precision", "quantised", "duplicates")
    def knn_entropy(x, *, ...):

and checks them on the data it actually receives, with the helpers below
(one sort per column, :meth:`infobench._validation.Samples.profile`, or the
neighbour search it does anyway). The declarations are data:
:func:`declared` returns a kernel's codes, ``infobench.estimators.available()``
lists them, and the property battery (``tests/test_validity_battery.py``)
reads them. :data:`CONDITIONS` is the catalogue: code, what the formula needs,
and what happens when the data do not provide it.

What happens follows one rule. A condition whose failure makes the number
certainly wrong raises ``ValueError`` with the reason and the fix. One that
makes it doubtful returns the number with a warning
:class:`~infobench.diagnostics.Diagnostic`; a decision taken on the data (a
dither, a route) is an info diagnostic. Clean continuous data (no repeated
values, no extreme rows) pass every check silently and pay one sort per
column.

Quantised data
--------------
Values on a grid (rounded to 0.1, whole millimetres, a bfloat16 tensor) tie,
and a tie is a zero neighbour distance, ``log 0``. The kNN estimators spread
each such value uniformly over its grid cell, ``v + (U - 1/2) h`` with ``h``
the grid step (or the numeric type's spacing at ``v``): *dithering* at the
data's own resolution. The dithered sample has the piecewise-constant density
``p(cell) / h``, whose differential entropy is the discrete entropy of the
cells plus ``log h`` (Cover & Thomas 2006, Theorem 8.3.1): the differential
entropy of the quantity the values round, up to about ``(h / sd)^2 / 24``
nats for a smooth density. Mutual information and KL divergence are
unchanged by it exactly: the cell is recovered from the dithered value, so
``I(Q(X) + U; Y) = I(Q(X); Y)`` and ``D(P * U || Q * U) = D(P || Q)`` for
distributions on the same grid. A grid so coarse that a robust standard
deviation spans fewer than :data:`CATEGORY_STEPS` steps holds categories
(a coin stored as 0.0 / 1.0, labels 0 / 1 / 2): they have no differential
entropy, so entropy estimators refuse them and say how to get the discrete
one; MI and KL of such data are still those of the dithered values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
import torch

from infobench._validation import ColumnProfile, Samples, ulp_base
from infobench.diagnostics import Diagnostic

_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = [
    "CATEGORY_STEPS",
    "COARSE_STEPS",
    "CONDITIONS",
    "Condition",
    "Dither",
    "Findings",
    "declare_condition",
    "dither_columns",
    "declared",
    "requires",
    "grid_columns",
    "looks_categorical",
    "plan_dither",
    "extreme_values",
    "shared_rows",
    "monotone_copies",
    "type_name",
]

#: Fewer grid steps than this per robust standard deviation: the values are categories. m equally
#: likely levels have about 0.37 m (a coin: 0.74; labels 0..4: 1.85); N(0, 1) rounded to whole numbers
#: has 1.0, to halves 2.0, to thirds 3.0.
CATEGORY_STEPS = 2.0
#: Fewer than this: a coarse grid (the dithered estimate is doubtful, a warning); more: an info note.
COARSE_STEPS = 8.0
#: More than this: the grid is the numeric type's own spacing and far finer than the spread; dithered silently.
SILENT_STEPS = 1e5
#: A column's standard deviation above this many robust scales is set by a few extreme rows.
EXTREME_SD_RATIO = 3.0


@dataclass(frozen=True)
class Condition:
    """One condition a formula needs.

    Attributes
    ----------
    code : str
        Stable kebab-case identifier, the :attr:`Diagnostic.code` of its findings.
    needs : str
        What the formula needs of the data or the parameters.
    action : str
        What a kernel does when the data do not provide it (refuse, diagnose, adapt).
    """

    code: str
    needs: str
    action: str


#: The catalogue: every condition a kernel may declare, by code.
CONDITIONS: dict[str, Condition] = {}


def declare_condition(code: str, needs: str, action: str) -> str:
    """Add a condition to :data:`CONDITIONS` (once per code) and return its code."""
    if code in CONDITIONS and CONDITIONS[code] != Condition(code, needs, action):
        raise ValueError(f"condition {code!r} is already declared differently")
    CONDITIONS[code] = Condition(code, needs, action)
    return code


declare_condition(
    "categories",
    "a density: values spread over many levels, not a few categories",
    "entropy estimators refuse a column with fewer than 2 grid steps per robust sd (a coin as 0.0/1.0) and say "
    "how to get its discrete entropy; `auto` routes such data to the discrete estimator (info `routed`)",
)
declare_condition(
    "precision",
    "values resolved by their numeric type: its spacing at the data's magnitude well below the spread",
    "refused when fewer than 2 representable steps span a robust sd (1e4 + 1e-3 z stored as float32): the "
    "values were rounded before they arrived; data computed in a type of lower precision than the input are "
    "centred first, so the cast itself never loses them",
)
declare_condition(
    "quantised",
    "no repeated values (kNN distances of 0); values on a grid are dithered by one grid step",
    "info diagnostic when values on a grid (rounded, whole numbers, low-precision types) were dithered (or, "
    "in a histogram, binned in whole steps); for an entropy, a warning when the grid is coarse (fewer than 8 "
    "steps per robust sd)",
)
declare_condition(
    "duplicates",
    "no rows repeated k or more times (off any grid): their k-th neighbour would be at distance 0",
    "warning when a few points have only copies within their k-th neighbour; refused above 1 % of the points",
)
declare_condition(
    "shared-rows",
    "independent samples p and q: no rows of p copied into q",
    "refused when p and q share more than 0.05 % of p's rows beyond what repeated values explain (each moves "
    "the estimate by about 23 d / n nats); warning below",
)
declare_condition(
    "saturated",
    "an MI within what n samples (or the bins) resolve; not a side copied from the other",
    "refused when the estimate grows like log n (by 0.5 nats or more from n/2 to n rows, log 2 for y == x) with "
    "half the points at small marginal counts: a side that is a copy or a deterministic function of the other "
    "(MI +inf); warning from a growth of 0.25 nats (a lower bound); a histogram refuses binned sides whose joint "
    "cells are exactly one side's cells (a copy: the estimate is that side's binned entropy)",
)
declare_condition(
    "singletons",
    "every value of a discrete side repeated (Ross's estimator leaves values seen once out)",
    "warning when rows are left out; refused above 5 % of the rows (a whole-number measurement, not categories)",
)
declare_condition(
    "extreme-values",
    "a covariance (or range) that describes the bulk of the data",
    "warning when a column's standard deviation exceeds 3 robust scales (IQR / 1.349): a few extreme rows set "
    "the bandwidth or covariance for every row",
)
declare_condition(
    "sparse-cells",
    "histogram cells holding several rows each (the plug-in and Miller-Madow need counts > 1)",
    "refused when 90 % of the rows are alone in their cell (the estimate is then log n plus the log cell "
    "volume, whatever the data); warning from 50 %",
)
declare_condition(
    "coarse-bins",
    "bins narrower than the data's robust spread",
    "refused when a bin is wider than 10 robust sds (one extreme row stretching a range-based rule); warning from 1 sd",
)
declare_condition(
    "bandwidth",
    "a kernel wide enough to reach the neighbouring points",
    "refused when the nearest neighbours lie more than 3 kernel sds away per dimension (root mean square over "
    "rows: each density is then the tail of one neighbour's kernel; the rules stay below 1.4 in any dimension), "
    "or, for an entropy, when the kernel is narrower than a quarter of the data's grid step; warning from 1.5 "
    "(and for a kernel narrower than the grid step)",
)
declare_condition(
    "collinear",
    "a density of full dimension: no column a linear combination of the others",
    "refused by the entropy estimators (a sample on a lower-dimensional subspace has differential entropy "
    "-inf), and by the Gaussian and KDE estimators, whose covariance is then singular",
)
declare_condition(
    "routed", "(auto) an estimator valid for the data's types", "info diagnostic naming the estimator and why"
)
declare_condition(
    "unstable-training",
    "(neural) training curves that stay near the evaluated critic's level",
    "warning when a training-batch or validation objective fell far below a constant critic's value although "
    "the evaluated critic recovered (the estimate is likely too low); refused (TrainingDivergedError) when the "
    "evaluated critic itself scores far below a constant critic",
)
declare_condition(
    "below-zero",
    "an MI or KL divergence at or above 0 within its standard error (neither is ever negative)",
    "warning when the estimate is below -(0.05 + 3 standard errors) nats for a neural held-out bound, below -3 "
    "standard errors for a kNN estimate with std_err=True, and for a quality KL score whose whole interval lies "
    "below 0: the estimator's bias, not the data, set the number",
)
declare_condition(
    "outlier-batch",
    "(neural) a held-out estimate that does not rest on one batch of rows",
    "warning when leaving out the most extreme held-out batch moves the estimate by more than 3 robust standard "
    "errors of the batch values (10 with fewer than 12 batches) and by more than 0.02 nats",
)
declare_condition(
    "near-ceiling",
    "(InfoNCE) an estimate well below its ceiling log(eval_batch_size)",
    "warning when the estimate is within 5 % of log(eval_batch_size): the true MI may be far larger",
)


def requires(*codes: str) -> Callable[[_F], _F]:
    """Decorator: declare the conditions a kernel's formula needs (codes of :data:`CONDITIONS`)."""
    unknown = [c for c in codes if c not in CONDITIONS]
    if unknown:
        raise ValueError(f"unknown condition {unknown[0]!r}; declared conditions are {sorted(CONDITIONS)}")

    def deco(func: _F) -> _F:
        func.conditions = tuple(codes)  # type: ignore[attr-defined]
        return func

    return deco


def declared(func: Callable[..., Any]) -> tuple[str, ...]:
    """The condition codes a kernel declared with :func:`requires` (empty if none)."""
    return tuple(getattr(func, "conditions", ()))


class Findings:
    """The diagnostics one estimate collects; :meth:`refuse` raises instead."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def warn(self, code: str, message: str, subject: str = "") -> None:
        self.items.append(Diagnostic(code, message, subject=subject, severity="warning"))

    def info(self, code: str, message: str, subject: str = "") -> None:
        self.items.append(Diagnostic(code, message, subject=subject, severity="info"))

    def extend(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @staticmethod
    def refuse(code: str, message: str) -> None:
        raise ValueError(message)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)


_TYPE_NAMES = {2.0**-7: "bfloat16", 2.0**-10: "float16", 2.0**-23: "float32", 2.0**-52: "float64"}


def type_name(eps: float) -> str:
    """The floating type with machine epsilon ``eps`` (``"integers"`` for 0)."""
    return _TYPE_NAMES.get(eps, "integers" if eps == 0 else f"a type of epsilon {eps:g}")


# ---------------------------------------------------------------- quantised data
@dataclass(frozen=True)
class Dither:
    """Columns to spread over their grid cells before a kNN search (:func:`plan_dither`).

    ``columns[i]`` is dithered with step ``steps[i]`` (0: the numeric
    spacing only), ``source_eps[i]`` the input type's epsilon and
    ``offsets[i]`` the centre subtracted before a cast.
    """

    columns: tuple[int, ...] = ()
    steps: tuple[float, ...] = ()
    source_eps: tuple[float, ...] = ()
    offsets: tuple[float, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.columns)

    def widths(self, col: np.ndarray | torch.Tensor, i: int) -> np.ndarray | torch.Tensor:
        """Per-value cell width of dithered column ``i``: the grid step or the spacing of floats at the value."""
        work_eps = float(np.finfo(col.dtype).eps) if isinstance(col, np.ndarray) else float(torch.finfo(col.dtype).eps)
        if isinstance(col, np.ndarray):
            src = self.source_eps[i] * ulp_base(col + self.offsets[i])
            work = work_eps * ulp_base(col)
            return np.maximum(np.maximum(src, work), self.steps[i]).astype(col.dtype, copy=False)
        a = col.abs().to(torch.float64)
        base = torch.exp2(torch.floor(torch.log2(a.clamp_min(np.finfo(np.float64).tiny))))
        abase = torch.exp2(
            torch.floor(
                torch.log2((col.to(torch.float64) + self.offsets[i]).abs().clamp_min(np.finfo(np.float64).tiny))
            )
        )
        w = torch.maximum(self.source_eps[i] * abase, work_eps * base).clamp_min(self.steps[i])
        return w.to(col.dtype)


def dither_columns(data: torch.Tensor, plan: Dither, rng: np.random.Generator | torch.Generator) -> torch.Tensor:
    """``data`` with each planned column plus ``(U - 1/2) * width`` per value (a copy); ``data`` if none planned.

    ``rng``: a numpy generator for CPU tensors, a torch generator on the tensor's device otherwise.
    """
    if not plan:
        return data
    out = data.clone()
    for i, j in enumerate(plan.columns):
        if isinstance(rng, np.random.Generator):
            col = out.numpy()[:, j]
            u = rng.random(col.shape[0], dtype=col.dtype)
            u -= 0.5
            u *= plan.widths(col, i)
            col += u
        else:
            tcol = out[:, j]
            tu = torch.rand(tcol.shape, generator=rng, device=tcol.device, dtype=tcol.dtype) - 0.5
            out[:, j] = tcol + tu * cast(torch.Tensor, plan.widths(tcol, i))
    return out


def _examples(p: ColumnProfile, data: torch.Tensor, j: int, offset: np.ndarray | None) -> str:
    vals = torch.unique(data[:, j])[:4].to(torch.float64).cpu().numpy()
    if offset is not None:
        vals = vals + offset[j]
    text = ", ".join(f"{v:g}" for v in vals)
    return text + (", ..." if p.distinct > 4 else "")


def looks_categorical(p: ColumnProfile) -> bool:
    """A column of a few levels on a grid of its own (not of its numeric type): categories stored as numbers."""
    return p.tied_rows > 0 and p.step > p.resolution and p.steps_per_scale < CATEGORY_STEPS


_DITHERED = "each value was spread uniformly over its cell (dithered), so that no neighbour is at distance 0"


def grid_columns(
    s: Samples,
    findings: Findings,
    *,
    quantity: str,
    method: str,
    how: str = _DITHERED,
    columns: Sequence[int] | None = None,
    profiles: Sequence[ColumnProfile] | None = None,
    notes: bool = True,
) -> list[int]:
    """The continuous columns of ``s`` whose repeated values sit on a known grid; refuse those that cannot be used.

    A column qualifies when its values repeat and either lie on a common
    grid (:attr:`ColumnProfile.step`) or carry the resolution of a type
    coarser than float64. ``how`` says what the estimator does about it
    (for the ``quantised`` diagnostic: info on a fine grid, warning on a
    coarse one, nothing when the grid is the numeric spacing far below the
    spread).

    Parameters
    ----------
    s : Samples
    findings : Findings
    quantity : {"entropy", "mi", "kl"}
        Entropy estimators refuse ``categories``; MI and KL take them.
    method : str
        Estimator name for messages.
    columns : sequence of int, optional
        The continuous columns (default: those not in ``s.column_discrete``).
    profiles : sequence of ColumnProfile, optional
        Profiles to use instead of ``s.profile()`` (a divergence profiles
        ``p`` and ``q`` pooled, so that both get one grid).
    notes : bool
        Emit the ``quantised`` diagnostics (False for formulas the rounding
        does not affect, e.g. a covariance).

    Raises
    ------
    ValueError
        ``precision``: a column rounded by its numeric type to fewer than
        :data:`CATEGORY_STEPS` levels per robust sd; ``categories`` (entropy
        only): a column of a few levels.
    """
    if columns is None:
        columns = [j for j in range(s.d) if not s.column_discrete[j]]
    prof = s.profile() if profiles is None else profiles
    work_eps = float(torch.finfo(s.data.dtype).eps)
    chosen = []
    for j in columns:
        p = prof[j]
        if p.tied_rows == 0:
            continue
        # Ties explained by the numeric spacing: a type coarser than float64, or values far from
        # zero against their spread (1e9 + 1e-3 z in float64 is on a grid of 1.2e-7).
        reduced = max(s.source_eps[j], work_eps) > 2.0**-52 or p.resolution * SILENT_STEPS > p.scale
        if p.step == 0 and not reduced:
            continue  # repeated values off any grid: duplicates, judged by the neighbour search
        steps_per = p.steps_per_scale
        if steps_per < CATEGORY_STEPS and p.resolution >= p.step:
            src = type_name(s.source_eps[j])
            off = 0.0 if s.offset is None else float(s.offset[j])
            bulk = max(abs(p.median + off), abs(p.lo + off), abs(p.hi + off))
            findings.refuse(
                "precision",
                (
                    f"{p.label} holds values of magnitude {bulk:.3g} stored as {src}, whose representable values "
                    f"there are {p.resolution:.3g} apart, against a spread (robust sd) of {p.scale:.3g}: the values "
                    f"were rounded to {p.distinct} levels before they reached infobench, and the {method} estimate "
                    f"of them would be wrong; pass them in float64, or subtract the offset (x - x.mean()) before "
                    f"converting to {src}"
                ),
            )
        if steps_per < CATEGORY_STEPS and quantity == "entropy":
            findings.refuse(
                "categories",
                (
                    f"{p.label} holds {p.distinct} distinct values ({_examples(p, s.data, j, s.offset)}) on a grid "
                    f"of step {p.step:g}, fewer than {CATEGORY_STEPS:g} steps per robust sd ({p.scale:.3g}): they are "
                    f"categories, which have no differential entropy (it is -inf), so the {method} estimate would be "
                    f"meaningless; for their discrete entropy "
                    + (
                        "pass discrete=True"
                        if method == "histogram"
                        else "use method='histogram' with discrete=True (or method='auto', which does so)"
                    )
                    + "; and no density can be recovered from measurements rounded this coarsely"
                ),
            )
        chosen.append(j)
        if not notes:
            continue
        grid = p.grid
        tied = p.tied_rows / p.n
        what = (
            f"a grid of step {p.step:g}"
            if p.step >= p.resolution
            else f"the spacing of {type_name(max(s.source_eps[j], work_eps))} numbers ({p.resolution:.3g} at the bulk)"
        )
        if steps_per < COARSE_STEPS and quantity == "entropy":
            findings.warn(
                "quantised",
                (
                    f"{p.label} repeats values on {what} ({tied:.0%} of rows tied), only {steps_per:.1f} steps per "
                    f"robust sd: {how}; the entropy is then that of the values' continuous version, off by about "
                    f"(step / sd)^2 / 24 = {(grid / p.scale) ** 2 / 24:.2g} nats for a smooth density"
                ),
                subject=p.label,
            )
        elif steps_per < COARSE_STEPS:
            findings.info(
                "quantised",
                (
                    f"{p.label} repeats values on {what} ({tied:.0%} of rows tied), only {steps_per:.1f} steps per "
                    f"robust sd: {how}, which leaves the {'MI' if quantity == 'mi' else 'divergence'} of the rounded "
                    f"values unchanged; it is below that of the quantity rounded by what the rounding hid"
                    + (
                        "; for a discrete side, discrete_x=True / discrete_y=True selects the estimator made for it"
                        if quantity == "mi"
                        else ""
                    )
                ),
                subject=p.label,
            )
        elif steps_per < SILENT_STEPS:
            findings.info(
                "quantised",
                (
                    f"{p.label} repeats values on {what} ({tied:.0%} of rows tied): {how}, and the estimate is that "
                    f"of the continuous quantity the values round ({steps_per:.0f} steps per robust sd)"
                ),
                subject=p.label,
            )
    return chosen


def plan_dither(
    s: Samples, findings: Findings, *, quantity: str, method: str, profiles: Sequence[ColumnProfile] | None = None
) -> Dither:
    """The :class:`Dither` of the columns :func:`grid_columns` finds (same parameters and refusals)."""
    prof = s.profile() if profiles is None else profiles
    cols = grid_columns(s, findings, quantity=quantity, method=method, profiles=profiles)
    return Dither(
        tuple(cols),
        tuple(prof[j].step for j in cols),
        tuple(s.source_eps[j] for j in cols),
        tuple(0.0 if s.offset is None else float(s.offset[j]) for j in cols),
    )


# ---------------------------------------------------------------- extreme values
def extreme_values(
    s: Samples,
    findings: Findings,
    *,
    method: str,
    what: str,
    fix: str = "use an estimator that ranks or scales robustly (method='ksg', 'gcmi')",
) -> None:
    """Warn (``extreme-values``) for continuous columns whose sd exceeds :data:`EXTREME_SD_RATIO` robust scales.

    For formulas that take a scale for every row from the covariance or
    the range (``what`` says which), or that see the raw values (a neural
    critic without the copula), so that a few extreme rows steer every row.
    ``fix`` ends the message.
    """
    for j, p in enumerate(s.profile()):
        if s.column_discrete[j] or not p.scale > 0:
            continue
        ratio = p.sd / p.scale
        if ratio > EXTREME_SD_RATIO:
            off = 0.0 if s.offset is None else float(s.offset[j])
            far = max(abs(p.lo - p.median), abs(p.hi - p.median)) / p.scale
            findings.warn(
                "extreme-values",
                (
                    f"{p.label} has a standard deviation {ratio:.3g} times its robust scale (IQR / 1.349 = "
                    f"{p.scale:.3g}; the farthest value, {(p.hi if abs(p.hi - p.median) >= abs(p.lo - p.median) else p.lo) + off:.3g}, "
                    f"is {far:.3g} robust scales from the median): the {method} estimate takes {what} from it, so a few "
                    f"extreme rows set it for every row; remove fill values or outliers, or {fix}"
                ),
                subject=p.label,
            )


# ---------------------------------------------------------------- shared rows
def _row_keys(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).ravel()


def shared_rows(p: torch.Tensor, q: torch.Tensor) -> tuple[int, float]:
    """Rows of ``p`` that also occur in ``q``, and how many repeated values alone would explain.

    Returns ``(shared, expected)``: ``shared`` rows of ``p`` equal to some row
    of ``q``; ``expected`` the number independent samples of the same
    distribution would share, estimated from how often rows repeat *within*
    ``p`` (scaled by ``m / (n - 1)``). One sort of ``n + m`` row keys.
    """
    a = p.to("cpu", torch.float64).numpy()
    b = q.to("cpu", torch.float64).numpy()
    ka, kb = _row_keys(a), _row_keys(b)
    shared = int(np.isin(ka, kb).sum())
    if shared == 0:
        return 0, 0.0
    _, inv, counts = np.unique(ka, return_inverse=True, return_counts=True)
    within = int((counts[inv] > 1).sum())
    return shared, within * len(b) / max(len(a) - 1, 1)


# ---------------------------------------------------------------- a side copied from the other
def monotone_copies(x: Samples, y: Samples) -> list[tuple[str, str]]:
    """Pairs (x column, y column) where the y column is a strictly monotone function of the x column.

    Such a pair (a copy, ``2 x + 1``, ``exp(x)``) has infinite mutual
    information for continuous data, which no estimator can report; a finite
    number from it measures the estimator, not the data. One sort per x column:
    the y column, read in the order of the x column, must be strictly
    increasing or strictly decreasing, with ties exactly where the x column ties.
    """
    a = x.data.to("cpu", torch.float64).numpy()
    b = y.data.to("cpu", torch.float64).numpy()
    pairs = []
    for i in range(a.shape[1]):
        order = np.argsort(a[:, i], kind="stable")
        xd = np.diff(a[order, i])
        for j in range(b.shape[1]):
            yd = np.diff(b[order, j])
            tied = xd == 0
            if np.array_equal(yd == 0, tied) and ((yd[~tied] > 0).all() or (yd[~tied] < 0).all()):
                pairs.append((_label(x, i), _label(y, j)))
    return pairs


def _label(s: Samples, j: int) -> str:
    return f"{s.name}[{s.columns[j]!r}]" if s.columns else f"{s.name}[{j}]"
