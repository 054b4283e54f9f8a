"""Awkward but realistic inputs and the rule every number must pass (a helper module, not a test module).

Each :class:`Case` is built from a clean sample by one change a user's data often has: an extreme row (a fill
value), an offset, a reduced-precision type, rounding, categories stored as floats, a DataFrame mixing integer
and float columns, repeated rows, rows shared by the two samples of a divergence, a side copied from the other,
or a degenerate parameter. A case knows what a correct answer is:

* ``reference``: the value the estimate must stay near. For changes that leave the quantity unchanged (an
  offset, a type, one row of many, fine rounding) it is the same estimator's estimate on the clean sample, so
  the tolerance is that of the change, not of the estimator's bias; for categories and mixed frames, whose
  quantity is known in closed form, it is that value;
* ``reference=None``: no number is right (an MI of +inf, a divergence between samples sharing rows): the
  estimator must refuse or flag;
* ``bounded``: a number may only be at most ``reference + tol`` (rounding can only lose MI).

:func:`check_outcome` applies the rule of the package: a clear ``ValueError``/``TypeError`` whose message names
a parameter or a column, a number with a warning diagnostic, or a number within the case's tolerance. Score
batteries (quality scores) can build their cases with the same helpers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import integrate, stats

from infobench.diagnostics import doubtful

#: Tolerance of a number against its reference, nats. The estimators' seed-to-seed sd at n = 600 on these
#: 1-2-dimensional Gaussian samples is at most about 0.05 (kNN, KDE, histogram); the awkward and the clean
#: sample share all but the changed rows, so most of that noise cancels in the difference.
TOL = 0.1
N = 600


@dataclass
class Case:
    """One awkward input: its data, the extra parameters, and what a correct answer is."""

    label: str
    quantity: str
    data: tuple
    params: dict = field(default_factory=dict)
    reference: float | None = None
    tol: float = TOL
    bounded: bool = False
    names: tuple[str, ...] = ()

    def __repr__(self) -> str:  # hypothesis prints the case of a failing example
        return f"Case({self.label!r}, {self.quantity})"


def names_in(case: Case, parameters: tuple[str, ...] = ()) -> tuple[str, ...]:
    """What a refusal may name: the samples, their columns, the parameters (of the case, or ``parameters``)."""
    base = {"entropy": ("x",), "mi": ("x", "y"), "kl": ("p", "q")}[case.quantity]
    return base + tuple(case.params) + case.names + tuple(parameters)


def check_outcome(run: Callable[[], Any], case: Case, tol_scale: float = 1.0, parameters: tuple[str, ...] = ()) -> str:
    """Run an estimate on ``case`` and assert the rule; return ``"refused"``, ``"flagged"`` or ``"number"``.

    ``parameters``: the method's parameter names, any of which a refusal may name.
    """
    try:
        est = run()
    except (ValueError, TypeError) as exc:
        text = str(exc)
        names = names_in(case, parameters)
        named = any(re.search(rf"(?<![A-Za-z_]){re.escape(n)}(?![A-Za-z_])", text) for n in names)
        assert named, f"{case.label}: the refusal names none of {names}: {text}"
        return "refused"
    assert math.isfinite(est.value), f"{case.label}: non-finite estimate {est.value}"
    if doubtful(est.diagnostics):
        return "flagged"
    assert case.reference is not None, (
        f"{case.label}: {est.value:.4g} nats without a warning where no number is right; diagnostics: "
        f"{[str(d) for d in est.diagnostics]}"
    )
    tol = case.tol * tol_scale
    if case.bounded:
        assert est.value <= case.reference + tol, (
            f"{case.label}: {est.value:.4g} nats above the bound {case.reference:.4g} + {tol:g}, without a warning"
        )
    else:
        assert abs(est.value - case.reference) <= tol, (
            f"{case.label}: {est.value:.4g} nats, {case.reference:.4g} expected within {tol:g}, without a "
            f"warning; diagnostics: {[str(d) for d in est.diagnostics]}"
        )
    return "number"


# ------------------------------------------------------------------ clean samples
def clean_sample(quantity: str, rng: np.random.Generator, d: int, scale: float) -> tuple:
    """Gaussian samples in units of ``scale``: x (entropy), a correlated pair (MI), p ~ N(0, I), q ~ N(0.5, I)."""
    if quantity == "entropy":
        return (scale * rng.standard_normal((N, d)),)
    if quantity == "mi":
        x = rng.standard_normal((N, d))
        y = 0.75 * x + math.sqrt(1 - 0.75**2) * rng.standard_normal((N, d))
        return scale * x, scale * y
    return scale * rng.standard_normal((N, d)), scale * (rng.standard_normal((N, d)) + 0.5)


# -------------------------------------------------------------- the changes
def with_outlier(data: tuple, rng: np.random.Generator, magnitude: float) -> tuple:
    """One value of the first sample replaced by ``+-magnitude`` times its spread (1e36: a netCDF fill value)."""
    first = data[0].copy()
    first[int(rng.integers(N)), 0] = magnitude * float(np.std(first)) * rng.choice([-1.0, 1.0])
    return (first,) + data[1:]


def with_offset(data: tuple, offset: float) -> tuple:
    """Every sample shifted by ``offset`` times its spread (one shift for both samples of a divergence)."""
    shift = offset * float(np.std(data[0]))
    return tuple(a + shift for a in data)


def in_type(data: tuple, dtype: torch.dtype) -> tuple:
    """Every sample as a tensor of a reduced-precision type."""
    return tuple(torch.from_numpy(a).to(dtype) for a in data)


def rounded(data: tuple, step: float) -> tuple:
    """Every sample rounded to ``step`` times its spread."""
    return tuple(np.round(a / (step * np.std(a))) * (step * np.std(a)) for a in data)


def with_copies(data: tuple, rng: np.random.Generator, quantity: str, share: float = 0.05, copies: int = 4) -> tuple:
    """``share`` of the rows repeated ``copies`` more times (rows pasted again in a join): both sides of an MI,
    the first sample otherwise."""
    rows = rng.choice(len(data[0]), int(share * len(data[0])), replace=False)

    def grow(a):
        return np.concatenate([a] + [a[rows]] * copies)

    return tuple(grow(a) for a in data) if quantity == "mi" else (grow(data[0]),) + data[1:]


# -------------------------------------------------- quantities in closed form
def _mixture_entropy(centres: np.ndarray, weights: np.ndarray, sd: float) -> float:
    """Differential entropy of a 1-d mixture of normals N(c, sd^2), by quadrature."""

    def dens(v):
        return float(np.sum(weights * stats.norm.pdf(v, centres, sd)))

    lo, hi = centres.min() - 12 * sd, centres.max() + 12 * sd
    val, _ = integrate.quad(lambda v: -dens(v) * math.log(max(dens(v), 1e-300)), lo, hi, limit=400)
    return val


def labels_mi(m: int, sd: float = 1.0) -> float:
    """I(L; Y) for L uniform on {0..m-1} and Y = L + N(0, sd^2)."""
    return _mixture_entropy(np.arange(m, dtype=float), np.full(m, 1.0 / m), sd) - 0.5 * math.log(
        2 * math.pi * math.e * sd**2
    )


def categories(quantity: str, rng: np.random.Generator, m: int) -> Case:
    """Labels 0..m-1 stored as floats: no differential entropy; MI with a noisy copy, KL of two label laws."""
    if quantity == "entropy":
        lab = rng.integers(0, m, N).astype(float)
        counts = np.bincount(lab.astype(int), minlength=m) / N
        h = -float(np.sum(counts[counts > 0] * np.log(counts[counts > 0])))
        # A number is right only as the discrete entropy (auto routes there, with an info diagnostic).
        return Case(f"labels 0..{m - 1} as floats", quantity, (lab,), reference=h, tol=0.05)
    if quantity == "mi":
        lab = rng.integers(0, m, N).astype(float)
        return Case(
            f"labels 0..{m - 1} as floats vs a noisy copy",
            quantity,
            (lab, lab + rng.standard_normal(N)),
            reference=labels_mi(m),
        )
    pw = np.full(m, 1.0 / m)
    qw = np.linspace(1.0, 2.0, m)
    qw /= qw.sum()
    p = rng.choice(m, N, p=pw).astype(float)[:, None]
    q = rng.choice(m, N, p=qw).astype(float)[:, None]
    kl = float(np.sum(pw * np.log(pw / qw)))
    return Case(f"labels 0..{m - 1} as floats, two laws", quantity, (p, q), reference=kl, tol=0.15)


def mixed_frame(rng: np.random.Generator) -> Case:
    """x: a DataFrame of an integer label (0, 1, 2) and a float column; y = label + v + N(0, 1).

    I((L, V); Y) = h(Y) - h(N(0, 1)) with Y = L + N(0, 2): a mixture of three normals of variance 2.
    """
    lab = rng.integers(0, 3, N)
    v = rng.standard_normal(N)
    y = lab + v + rng.standard_normal(N)
    truth = _mixture_entropy(np.arange(3.0), np.full(3, 1 / 3), math.sqrt(2.0)) - 0.5 * math.log(2 * math.pi * math.e)
    return Case(
        "DataFrame (integer label, float) vs y",
        "mi",
        (pd.DataFrame({"label": lab, "v": v}), y),
        reference=truth,
        names=("label", "v"),
    )
