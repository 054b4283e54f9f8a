"""Property battery: awkward but realistic data for every registered estimator.

Every method in the registry is run (through the registry, as users call it) on cases drawn by hypothesis from
:mod:`awkward_data`: an extreme row, an offset, a reduced-precision type, rounding, categories stored as
floats, repeated rows, a degenerate parameter, and for MI a copied side and a DataFrame mixing integer and float
columns, for KL rows shared by p and q. Each outcome must be a clear error naming a parameter or a column, a
number with a warning diagnostic, or a number within the case's tolerance of its reference
(:func:`awkward_data.check_outcome`). The estimators are read from the registry, so a method newly registered
by the package is covered without editing this file (stand-ins that test modules register are not); methods that train (they take ``steps``) run with small settings, a
single example per case, and are marked slow.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import infobench.estimators  # noqa: F401  (registers every method)
from awkward_data import (
    TOL,
    Case,
    categories,
    check_outcome,
    clean_sample,
    in_type,
    mixed_frame,
    rounded,
    with_copies,
    with_offset,
    with_outlier,
)
from infobench.estimators.base import _REGISTRY, run_method

#: Small settings for methods that train a critic (they take ``steps``): enough to run, not to converge.
SMALL_TRAINING = {"steps": 200, "hidden": (32, 32), "batch_size": 128, "patience": 100}
#: Parameter values that make a formula degenerate, for every method that takes the parameter.
DEGENERATE = {"bandwidth": 1e-8, "bins": 10**12, "jitter": 1.0}
#: A trained critic's estimate moves more between two runs on nearly the same data than a closed formula's;
#: so does one fitted on a random half of the rows (``fit_fraction``: latent's CCA split, whose estimate at
#: n = 600 moves by a seed-to-seed sd of 0.03-0.11 nats, so two runs on nearly the same data differ by up
#: to about 3 * sqrt(2) * 0.11 = 0.47 nats, not by the 0.1 of a closed formula).
TRAINED_TOL_SCALE = 3.0
#: Parameters that make an estimate rest on training or on a random fit/held-out split.
RANDOM_FIT_PARAMS = ("steps", "fit_fraction")


def _methods(quantity: str) -> list:
    """The package's methods for ``quantity`` (not the stand-ins other test modules register)."""
    out = []
    for (q, name), info in sorted(_REGISTRY.items()):
        if q != quantity or name.startswith("_") or not info.function.__module__.startswith("infobench."):
            continue
        trains = "steps" in info.params
        marks = [pytest.mark.slow] if trains else []
        out.append(pytest.param(name, id=name, marks=marks))
    return out


def _params(quantity: str, method: str) -> dict:
    accepted = _REGISTRY[(quantity, method)].params
    out = {"seed": 0} if "seed" in accepted else {}
    if "steps" in accepted:
        out.update({k: v for k, v in SMALL_TRAINING.items() if k in accepted})
    return out


def _examples(quantity: str, method: str) -> int:
    return 1 if "steps" in _REGISTRY[(quantity, method)].params else 4


def _run(quantity: str, method: str, case: Case):
    params = {**_params(quantity, method), **case.params}

    def call():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the diagnostics are read from the estimate
            return run_method(quantity, method, case.data, params)

    return call


def _reference(quantity: str, method: str, data: tuple) -> float:
    return _run(quantity, method, Case("clean", quantity, data))().value


def _tol_scale(quantity: str, method: str) -> float:
    params = _REGISTRY[(quantity, method)].params
    return TRAINED_TOL_SCALE if any(p in params for p in RANDOM_FIT_PARAMS) else 1.0


def _draw_clean(draw, quantity: str):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    d = draw(st.sampled_from([1, 2]), label="dimension")
    scale = 10.0 ** draw(st.floats(-3, 3), label="log10 unit")
    return rng, d, clean_sample(quantity, rng, d, scale)


SCENARIOS = {
    "entropy": ("outlier", "offset", "precision", "rounded", "categories", "copies", "degenerate"),
    "mi": ("outlier", "offset", "precision", "rounded", "categories", "copies", "degenerate", "copy", "mixed"),
    "kl": ("outlier", "offset", "precision", "rounded", "categories", "copies", "degenerate", "shared"),
}


def _case(draw, quantity: str, method: str, scenario: str) -> Case | None:
    """Draw one case of ``scenario``; None when it does not apply to ``method``."""
    rng, d, clean = _draw_clean(draw, quantity)
    kl_tol = 0.15 if quantity == "kl" else TOL  # k = 1: the divergence's own noise is larger
    if scenario == "outlier":
        magnitude = draw(st.sampled_from([1e6, 1e12, 1e36]), label="outlier")
        # An entropy keeps the extreme row's own term, about d log(magnitude) / n.
        extra = d * math.log(magnitude) / len(clean[0]) if quantity == "entropy" else 0.0
        return Case(
            f"one value at {magnitude:g} sd",
            quantity,
            with_outlier(clean, rng, magnitude),
            reference=_reference(quantity, method, clean),
            tol=kl_tol + extra,
        )
    if scenario == "offset":
        offset = draw(st.sampled_from([1e4, 1e6, 1e9]), label="offset")
        return Case(
            f"offset {offset:g} sd",
            quantity,
            with_offset(clean, offset),
            reference=_reference(quantity, method, clean),
            tol=0.05,
        )
    if scenario == "precision":
        dtype = draw(st.sampled_from([torch.float32, torch.float16, torch.bfloat16]), label="dtype")
        return Case(
            f"as {dtype}", quantity, in_type(clean, dtype), reference=_reference(quantity, method, clean), tol=kl_tol
        )
    if scenario == "rounded":
        step = draw(st.floats(0.05, 0.2), label="step / sd")
        return Case(
            f"rounded to {step:.3f} sd",
            quantity,
            rounded(clean, step),
            reference=_reference(quantity, method, clean),
            tol=kl_tol,
        )
    if scenario == "categories":
        return categories(quantity, rng, draw(st.sampled_from([2, 3, 4]), label="levels"))
    if scenario == "copies":
        return Case(
            "5 % of rows repeated 4 more times",
            quantity,
            with_copies(clean, rng, quantity),
            reference=_reference(quantity, method, clean),
            tol=0.2,
        )
    if scenario == "degenerate":
        accepted = [k for k in DEGENERATE if k in _REGISTRY[(quantity, method)].params]
        if not accepted:
            return None
        name = draw(st.sampled_from(accepted), label="parameter")
        return Case(f"{name}={DEGENERATE[name]!r}", quantity, clean, params={name: DEGENERATE[name]})
    if scenario == "copy":
        x = clean[0]
        y = draw(st.sampled_from(["copy", "affine"]), label="copy")
        return Case(f"y = {'x' if y == 'copy' else '2x + 1'}", quantity, (x, x.copy() if y == "copy" else 2 * x + 1))
    if scenario == "mixed":
        return mixed_frame(rng)
    if scenario == "shared":
        p, q = clean
        how = draw(st.sampled_from(["copy", "subset"]), label="shared")
        return Case(
            f"q {'= p' if how == 'copy' else 'contains p'}",
            quantity,
            (p, p.copy() if how == "copy" else np.vstack([q, p])),
        )
    raise AssertionError(scenario)


def _battery(quantity: str, method: str, scenario: str) -> None:
    @settings(
        max_examples=_examples(quantity, method),
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def check(data):
        case = _case(data.draw, quantity, method, scenario)
        if case is None:
            return
        check_outcome(
            _run(quantity, method, case),
            case,
            _tol_scale(quantity, method),
            tuple(_REGISTRY[(quantity, method)].params),
        )

    check()


@pytest.mark.parametrize("scenario", SCENARIOS["entropy"])
@pytest.mark.parametrize("method", _methods("entropy"))
def test_entropy_estimators_on_awkward_data(method, scenario):
    _battery("entropy", method, scenario)


@pytest.mark.parametrize("scenario", SCENARIOS["mi"])
@pytest.mark.parametrize("method", _methods("mi"))
def test_mi_estimators_on_awkward_data(method, scenario):
    _battery("mi", method, scenario)


@pytest.mark.parametrize("scenario", SCENARIOS["kl"])
@pytest.mark.parametrize("method", _methods("kl"))
def test_kl_estimators_on_awkward_data(method, scenario):
    _battery("kl", method, scenario)
