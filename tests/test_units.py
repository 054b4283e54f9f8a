"""Every kNN, KDE, histogram and Gaussian estimator gives the same answer in any units.

The default ``transform="scale"`` divides each continuous column by a robust
scale, so a rescaled column gives the same normalised data up to rounding:
MI and KL estimates are unchanged and entropies shift by exactly the sum of
the log factors. The tolerances below are therefore far tighter than any
estimator's spread (>= 0.02 nats at the sizes used): they allow only
rounding, plus (kNN) a near-tie whose order flips under rounding, which
moves an estimate by O(1/n) of a digamma difference (< 1e-3 nats at n=300).
"""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

import infobench
from infobench.cli import main
from infobench.estimators._transforms import (
    IQR_TO_SD,
    check_squares,
    check_transform,
    normal_scores,
    robust_scale,
    transform_columns,
)

RHO = 0.9
TRUTH = -0.5 * math.log(1 - RHO**2)  # 0.830 nats


def correlated(n, seed, rho=RHO):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return x, rho * x + math.sqrt(1 - rho**2) * rng.normal(size=n)


# ----------------------------------------------------------- the original failure
def test_ksg_is_the_same_in_any_units():
    # n=2000, corr 0.9; before the fix 1000 * x gave 0.149 and
    # 1e4 * x or 1e-6 * x about 0.
    x, y = correlated(2000, 0)
    base = infobench.mutual_information(x, y, "ksg", seed=0)
    # n=2000, KSG sd ~0.02 nats: within 0.06 of the truth.
    assert base.value == pytest.approx(TRUTH, abs=0.06)
    for scale in (1e-6, 1e-3, 1e3, 1e4):
        assert infobench.mutual_information(scale * x, y, "ksg", seed=0).value == pytest.approx(base.value, abs=1e-9)
        assert infobench.mutual_information(x, scale * y, "ksg", seed=0).value == pytest.approx(base.value, abs=1e-9)
    # transform="none" is the old behaviour: millimetres decide every neighbour.
    assert infobench.mutual_information(1000 * x, y, "ksg", seed=0, transform="none").value < 0.3


def test_knn_entropy_shifts_by_exactly_log_scale():
    x, _ = correlated(2000, 1)
    base = infobench.entropy(x, "knn", seed=0).value
    # n=2000: sd ~0.03 nats around 0.5 log(2 pi e) = 1.419
    assert base == pytest.approx(0.5 * math.log(2 * math.pi * math.e), abs=0.1)
    for scale in (1e-6, 1e-3, 1e3, 1e4):
        assert infobench.entropy(scale * x, "knn", seed=0).value == pytest.approx(base + math.log(scale), abs=1e-9)


def test_cli_gives_the_same_answer_in_metres_and_millimetres(capsys, tmp_path):
    # The same from the CLI: 0.835 +- 0.023 in metres, 0.143 in millimetres before the fix.
    x, y = correlated(2000, 2)
    pd.DataFrame({"m": x, "mm": 1000 * x, "y": y}).to_csv(tmp_path / "d.csv", index=False)
    values = []
    for col in ("m", "mm"):
        assert main(["estimate", str(tmp_path / "d.csv"), "--x", col, "--y", "y", "--json"]) == 0
        values.append(json.loads(capsys.readouterr().out)["value"])
    assert values[1] == pytest.approx(values[0], abs=1e-9)
    assert values[0] == pytest.approx(TRUTH, abs=0.06)


# ------------------------------------------------------ the property test
# log10 of each column's factor, 1e-6 to 1e6.
LOG_FACTORS = st.lists(st.floats(-6.0, 6.0, allow_nan=False), min_size=3, max_size=3)

ENTROPY_METHODS = [("knn", {"seed": 0}), ("kde", {}), ("histogram", {}), ("gaussian", {})]
MI_METHODS = [
    ("ksg", {"seed": 0}),
    ("kde", {}),
    ("histogram", {}),
    ("gaussian", {}),
    ("gcmi", {}),
    ("ksg", {"seed": 0, "transform": "copula"}),
    ("kde", {"transform": "copula"}),
    ("histogram", {"transform": "copula"}),
]
TOL = 1e-3  # see the module docstring


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 2)) @ np.array([[1.0, 0.5], [0.0, 1.0]])
    y = x[:, :1] + rng.standard_t(4, size=(300, 1))
    q = rng.normal(0.3, 1.2, size=(300, 2))
    return x, y, q


@settings(max_examples=12, deadline=None)
@given(logs=LOG_FACTORS)
def test_every_continuous_estimator_is_invariant_to_rescaling_columns(sample, logs):
    x, y, q = sample
    f = 10.0 ** np.array(logs)
    xs, ys = x * f[:2], y * f[2:]
    shift = float(np.log(f[:2]).sum())
    for method, kw in ENTROPY_METHODS:
        ref = infobench.entropy(x, method, **kw).value
        assert infobench.entropy(xs, method, **kw).value == pytest.approx(ref + shift, abs=TOL), method
    for method, kw in MI_METHODS:
        ref = infobench.mutual_information(x, y, method, **kw).value
        assert infobench.mutual_information(xs, ys, method, **kw).value == pytest.approx(ref, abs=TOL), (method, kw)
    ref = infobench.kl_divergence(x, q, "knn", seed=0).value
    assert infobench.kl_divergence(xs, q * f[:2], "knn", seed=0).value == pytest.approx(ref, abs=TOL)


# --------------------------------------------------------- the module
def test_robust_scale_is_iqr_over_1349_then_std():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 1))
    q75, q25 = np.percentile(x, [75, 25])
    assert robust_scale(torch.from_numpy(x), "x") == [pytest.approx((q75 - q25) / IQR_TO_SD, rel=1e-12)]
    assert IQR_TO_SD == pytest.approx(1.3489795, abs=1e-7)
    # IQR 0 (mostly one value): the standard deviation.
    spiky = np.zeros((100, 1))
    spiky[:5, 0] = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert robust_scale(torch.from_numpy(spiky), "x") == [pytest.approx(spiky.std(ddof=1), rel=1e-12)]


def test_transform_messages():
    with pytest.raises(ValueError, match=r"transform must be one of \['scale', 'copula', 'none'\]; got 'rank'"):
        check_transform("rank", quantity="mi")
    with pytest.raises(TypeError, match=r"transform must be one of .*; got NoneType None"):
        check_transform(None, quantity="mi")
    with pytest.raises(ValueError, match=r"transform='copula' is only for mutual information.*an entropy"):
        infobench.entropy(np.random.default_rng(0).normal(size=50), "knn", transform="copula")
    with pytest.raises(ValueError, match=r"transform='copula' is only for mutual information.*a KL divergence"):
        infobench.kl_divergence(np.arange(50.0), np.arange(50.0) + 0.5, "knn", transform="copula")
    for method in ("kde", "histogram"):
        with pytest.raises(ValueError, match=r"transform='copula' is only for mutual information"):
            infobench.entropy(np.random.default_rng(0).normal(size=50), method, transform="copula")
    # A scale is only ever needed for a non-constant column, but the message names the column.
    with pytest.raises(ValueError, match=r"x column 'b' is constant, so it has no scale"):
        robust_scale(torch.tensor([[1.0, 2.0], [2.0, 2.0], [3.0, 2.0]], dtype=torch.float64), "x", ["a", "b"])


def test_normal_scores_use_average_ranks():
    z = normal_scores(torch.tensor([3.0, 1.0, 3.0, 2.0], dtype=torch.float64))
    expected = norm.ppf(np.array([3.5, 1.0, 3.5, 2.0]) / 5.0)
    np.testing.assert_allclose(z.numpy(), expected, rtol=1e-12)
    tr = transform_columns(
        torch.tensor([[1.0, 5.0], [2.0, 7.0], [3.0, 6.0]], dtype=torch.float64),
        "copula",
        name="x",
        continuous=[True, False],
    )
    np.testing.assert_allclose(tr.data[:, 1].numpy(), [5.0, 7.0, 6.0])  # discrete column untouched
    assert tr.log_jacobian == 0.0


def test_scale_log_jacobian_is_the_sum_of_log_scales():
    x = torch.tensor([[0.0, 0.0], [1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]], dtype=torch.float64)
    tr = transform_columns(x, "scale", name="x")
    assert tr.log_jacobian == pytest.approx(math.log(tr.scales[0]) + math.log(tr.scales[1]), abs=1e-15)
    assert tr.scales[1] == pytest.approx(10 * tr.scales[0], rel=1e-14)
    np.testing.assert_allclose(tr.data[:, 0].numpy(), tr.data[:, 1].numpy(), rtol=1e-14)


# ---------------------------------------------------- extreme scales (15.8)
@pytest.mark.parametrize("factor", [1e300, 1e200, 1e-170, 1e-300])
@pytest.mark.parametrize("method", ["knn", "kde", "gaussian", "histogram"])
def test_entropy_at_extreme_scales_works(method, factor):
    # Once g * 1e300 "gaussian" said collinear, g * 1e200 "knn" showed
    # scipy's "data must be finite", g * 1e-170 "knn" said duplicate rows.
    g = np.random.default_rng(3).normal(size=(500, 1))
    ref = infobench.entropy(g, method, seed=0) if method == "knn" else infobench.entropy(g, method)
    est = infobench.entropy(g * factor, method, seed=0) if method == "knn" else infobench.entropy(g * factor, method)
    # Only rounding separates them; 1e-6 relative on the log of the factor (690 nats).
    assert est.value == pytest.approx(ref.value + math.log(factor), abs=1e-6)


def test_extreme_scales_without_the_transform_name_the_cause():
    g = np.random.default_rng(3).normal(size=(500, 1))
    with pytest.raises(
        ValueError,
        match=r"x has values up to .*e\+200, too large for their squared distances to be "
        r"represented in float64.*transform='scale' \(the default\)",
    ):
        infobench.entropy(g * 1e200, "knn", transform="none")
    with pytest.raises(ValueError, match=r"x column 0 spans only .*e-170, too small for squared distances"):
        infobench.entropy(g * 1e-170, "knn", transform="none")
    with pytest.raises(ValueError, match=r"y has values up to"):
        check_squares(torch.tensor([[1e300], [2e300]], dtype=torch.float64), "y", "scale")


def test_histogram_scale_is_bit_identical_to_none():
    # Equal-width bins are already scale-equivariant, so "scale" bins the given values.
    x, y = correlated(1000, 4)
    for tr in ("scale", "none"):
        assert infobench.entropy(x, "histogram", transform=tr).value == infobench.entropy(x, "histogram").value
        assert infobench.mutual_information(x, y, "histogram", transform=tr).value == (
            infobench.mutual_information(x, y, "histogram").value
        )
