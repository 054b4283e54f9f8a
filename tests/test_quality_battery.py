"""Property battery: awkward but realistic feature and image sets for every registered quality score.

Hypothesis draws cases (clean, copied rows, duplicated rows, tiny sets, non-finite features, float16
features, a constant feature column, a collapsed generator, a constant real set, an outlier, pixels slightly or far outside their
range) and every score in the registry (:data:`infobench.quality._core.SCORES`, so a newly registered
score is covered without editing this file) must answer with one of: a clear error naming a parameter or
a set, a number with the warning diagnostic its declared conditions promise for the case, n/a with the
reason in its note, or a number within its range (and, where the case only perturbs the data by rounding, within :data:`TOL` of the
value on the unperturbed data). Clean data must gain no warning diagnostic.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infobench.quality import score, score_features
from infobench.quality._conditions import DEFAULT_CONDITIONS
from infobench.quality._core import SCORES, resolve_scores

resolve_scores(None)  # loads every score module: the registry is complete from here on
NAMES = list(SCORES)
#: An error must name what is wrong: a parameter, a set, or the condition.
NAMED = re.compile(
    r"\b(real|fake|train|k|knn_k|value_range|real_range|kid_subset_size|fid_points|"
    r"fid_min_fraction|features?|needs at least)\b"
)
#: Rounding features to float16 (relative step 1e-3) moves a score by at most this much (relative, with
#: an absolute floor for scores near 0): the kNN terms move by about d * 1e-3 per row.
TOL = 0.05
SETTINGS = {"max_examples": 6, "deadline": None, "suppress_health_check": [HealthCheck.too_slow]}


def _probs(rng, n, c=4):
    z = rng.normal(size=(n, c)) + 2.0 * np.eye(c)[rng.integers(0, c, n)]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _clean(seed, n, d):
    rng = np.random.default_rng(seed)
    return {
        "real": rng.normal(size=(n, d)),
        "fake": rng.normal(0.2, 1.0, size=(n, d)),
        "real_probs": _probs(rng, n),
        "fake_probs": _probs(rng, n),
    }


def _run(name, case, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the diagnostics are read from the frame
        try:
            df = score_features(
                case["real"],
                case["fake"],
                real_probs=case["real_probs"],
                fake_probs=case["fake_probs"],
                scores=name,
                **params,
            )
        except (ValueError, TypeError) as exc:
            return exc
    row = df.iloc[0]
    return float(row["value"]), {d["code"] for d in row["diagnostics"] if d["severity"] == "warning"}, row["note"]


def _check(name, outcome, code=None, reference=None):
    """One of: a named error; the promised diagnostic (when the score declares ``code``); a number in range."""
    spec = SCORES[name]
    if isinstance(outcome, Exception):
        assert NAMED.search(str(outcome)), f"{name}: unnamed error {outcome!r}"
        return "error"
    value, doubts, note = outcome
    if math.isnan(value):  # a score undefined on these sets (FID∞ below 5 d rows) says why, as n/a
        assert note.startswith("undefined"), f"{name}: NaN without a reason"
        return "undefined"
    declared = set(spec.conditions) | set(DEFAULT_CONDITIONS)
    if code is not None and code in declared and spec.needs != "probs":
        assert code in doubts, f"{name}: expected a {code!r} diagnostic, got {doubts}"
        return "diagnostic"
    if doubts:
        return "diagnostic"
    lo, hi = spec.value_range
    assert lo <= value <= hi, f"{name}: {value} outside {spec.value_range}"
    if reference is not None and math.isfinite(reference):
        assert value == pytest.approx(reference, rel=TOL, abs=TOL), f"{name}: {value} vs {reference}"
    return "number"


@pytest.mark.parametrize("name", NAMES)
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**16), n=st.integers(60, 90), d=st.integers(2, 5))
def test_clean_features_gain_no_doubt(name, seed, n, d):
    outcome = _run(name, _clean(seed, n, d))
    assert not isinstance(outcome, Exception), outcome
    assert outcome[1] == set(), f"{name}: clean data gained {outcome[1]}"
    _check(name, outcome)


@pytest.mark.parametrize("name", NAMES)
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**16), share=st.floats(0.2, 1.0))
def test_copied_rows(name, seed, share):
    case = _clean(seed, 70, 3)
    m = int(share * 70)
    case["fake"][:m] = case["real"][:m]
    _check(name, _run(name, case), "copied-rows")


@pytest.mark.parametrize("name", NAMES)
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**16), copies=st.integers(6, 10))
def test_duplicated_rows(name, seed, copies):
    case = _clean(seed, 70, 3)
    case["fake"] = np.repeat(case["fake"][: 70 // copies + 1], copies, axis=0)[:70]
    _check(name, _run(name, case), "duplicate-rows")


@pytest.mark.parametrize("name", NAMES)
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**16), n=st.integers(7, 40))
def test_tiny_sets(name, seed, n):
    case = _clean(seed, n, 3)
    orders = [{"k": 5, "knn_k": 3}[p] for p in SCORES[name].params if p in ("k", "knn_k")]  # the defaults
    _check(name, _run(name, case), "neighbourhood-size" if orders and max(orders) > 0.1 * n else None)


@pytest.mark.parametrize("name", NAMES)
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**16), n=st.integers(8, 12))
def test_fewer_rows_than_dimensions(name, seed, n):
    case = _clean(seed, n, 16)
    outcome = _run(name, case, k=1, knn_k=1)
    _check(name, outcome, "covariance-rank" if "covariance-rank" in SCORES[name].conditions else None)


@pytest.mark.parametrize("name", NAMES)
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**16), bad=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_non_finite_features_are_refused(name, seed, bad):
    case = _clean(seed, 60, 3)
    case["fake"][5, 1] = bad
    outcome = _run(name, case)
    assert isinstance(outcome, ValueError) and NAMED.search(str(outcome)), outcome


@pytest.mark.parametrize("name", NAMES)
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**16))
def test_reduced_precision_features(name, seed):
    case = _clean(seed, 70, 3)
    reference = _run(name, case)
    low = dict(case, real=case["real"].astype(np.float16), fake=case["fake"].astype(np.float16))
    outcome = _run(name, low)
    _check(name, outcome, reference=None if isinstance(reference, Exception) else reference[0])


@pytest.mark.parametrize("name", NAMES)
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**16), scale=st.floats(10.0, 1e4))
def test_an_outlier(name, seed, scale):
    case = _clean(seed, 70, 3)
    case["fake"][0] *= scale
    _check(name, _run(name, case))


@pytest.mark.parametrize("name", NAMES)
@settings(**SETTINGS)
@given(seed=st.integers(0, 2**16), value=st.sampled_from([0.0, 1.0, -2.5, 4.0, -7.5, 1e4]))
def test_a_constant_feature_column(name, seed, value):
    # A dead unit of the extractor adds 0 to every distance. The scores that declare degenerate-columns
    # (the kNN density scores, whose formula holds the dimension) must not move; the others may, where
    # their definition reads the dimension or the origin (KID's kernel divides by d, Vendi's cosine sees
    # an offset), but must still answer within their range.
    case = _clean(seed, 70, 3)
    reference = _run(name, case)
    pad = dict(
        case,
        real=np.column_stack([case["real"], np.full(70, value)]),
        fake=np.column_stack([case["fake"], np.full(70, value)]),
    )
    adapted = "degenerate-columns" in SCORES[name].conditions and not isinstance(reference, Exception)
    _check(name, _run(name, pad), reference=reference[0] if adapted else None)


def test_a_constant_feature_column_far_from_zero():
    case = _clean(0, 70, 3)
    reference = _run("kl_real_fake", case)
    pad = dict(
        case,
        real=np.column_stack([case["real"], np.full(70, 4.0)]),
        fake=np.column_stack([case["fake"], np.full(70, 4.0)]),
    )
    assert _run("kl_real_fake", pad)[0] == pytest.approx(reference[0], rel=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_collapsed_generator_and_constant_real_set(name):
    case = _clean(0, 60, 3)
    collapsed = dict(case, fake=np.ones_like(case["fake"]))
    _check(name, _run(name, collapsed), "collapsed-set")
    constant = dict(case, real=np.ones_like(case["real"]))
    outcome = _run(name, constant)
    if SCORES[name].needs != "probs":
        assert isinstance(outcome, ValueError) and "no reference distribution" in str(outcome)


# ---------------------------------------------------------------- images (the pixel range)
@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(7)
    base = rng.uniform(size=(10, 1, 6, 6))
    real = np.clip(base[rng.integers(0, 10, 80)] + rng.normal(0, 0.1, (80, 1, 6, 6)), 0, 1).astype(np.float32)
    fake = np.clip(base[rng.integers(0, 10, 80)] + rng.normal(0, 0.12, (80, 1, 6, 6)), 0, 1).astype(np.float32)
    return real, fake


@pytest.mark.slow
@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(under=st.floats(1e-4, 1e-2), pick=st.integers(0, 10**6))
def test_pixel_undershoot_travels_with_every_score(images, under, pick):
    real, fake = images
    zeros = np.argwhere(fake == 0.0)  # a dark pixel that a decoder without a final sigmoid drew just below 0
    bad = fake.copy()
    bad[tuple(zeros[pick % len(zeros)])] = -under
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = score(real, {"clean": fake, "bad": bad}, extractor="pixels", n_boot=0, cache=False)
    v = df.pivot(index="fake", columns="score", values="value")
    for r in df[df["fake"] == "bad"].itertuples():
        assert "pixel-range" in {d["code"] for d in r.diagnostics}, r.score
        # Clipped back to 0, the set is the clean one: every score reads the clean value (the clean set's
        # extraction and the clipped set's agree to rounding).
        assert v.loc["bad", r.score] == pytest.approx(v.loc["clean", r.score], rel=1e-9, abs=1e-9, nan_ok=True)
    assert all(not ds for ds in df.loc[df["fake"] == "clean", "diagnostics"])


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(convention=st.sampled_from([(-1.0, 1.0), (0.0, 255.0)]))
def test_pixels_of_another_convention_are_refused(images, convention):
    real, fake = images
    lo, hi = convention
    with pytest.raises(ValueError, match=rf"look like \[{lo:g}, {hi:g}\]: pass value_range=\({lo:g}, {hi:g}\)"):
        score(real, {"g": fake * (hi - lo) + lo}, extractor="pixels", n_boot=0, cache=False, scores="fid")
