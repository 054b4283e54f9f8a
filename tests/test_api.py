"""The public API: dispatch by method name, the Estimate type, the registry.

Uses the classical methods (histogram, kde, gaussian) as the registered
kernels; test-only kernels are registered under names starting with
``_test`` and removed afterwards.
"""

import math

import numpy as np
import pandas as pd
import pytest
import torch

import infobench
from infobench.estimators import Estimate, available, base, get_method, register
from infobench.estimators.gaussian import gaussian_entropy

CLASSICAL = ("histogram", "kde", "gaussian")


@pytest.fixture
def scratch_registry():
    """Remove the ``_test*`` kernels a test registers."""
    yield
    for key in [k for k in base._REGISTRY if k[1].startswith("_test")]:
        del base._REGISTRY[key]


# ------------------------------------------------------------------ dispatch
def test_entropy_dispatch_stamps_method_params_and_time(rng):
    x = rng.normal(size=(300, 2))
    est = infobench.entropy(x, method="gaussian", std_err=True, seed=3, n_boot=10)
    assert isinstance(est, Estimate)
    assert est.value == gaussian_entropy(x).value
    assert est.method == "gaussian"
    assert est.n == 300
    assert est.seconds > 0
    # Defaults are filled in; given values override them.
    assert est.params == {
        "bias_correction": False,
        "std_err": True,
        "seed": 3,
        "n_boot": 10,
        "device": "auto",
        "dtype": None,
    }
    assert est.std_err == gaussian_entropy(x, std_err=True, seed=3, n_boot=10).std_err


@pytest.mark.parametrize("method", CLASSICAL)
def test_mi_dispatch_for_each_classical_method(rng, method):
    x = rng.normal(size=400)
    y = x + rng.normal(size=400)
    # seed only where the method draws random numbers (kde is deterministic and takes none)
    seed = {"seed": 0} if "seed" in get_method("mi", method).params else {}
    est = infobench.mutual_information(x, y, method=method, std_err=True, **seed)
    truth = 0.5 * math.log(2)  # rho^2 = 1/2
    assert est.method == method
    assert est.std_err is not None and est.std_err > 0
    # n=400: every method is within 0.15 nats here (sd <= 0.04, bias <= 0.05).
    assert est.value == pytest.approx(truth, abs=0.15)


@pytest.mark.parametrize("method", CLASSICAL)
def test_array_types_give_the_same_estimate(rng, method):
    x = rng.normal(size=(200, 2))
    ref = infobench.entropy(x, method=method).value
    assert infobench.entropy(torch.from_numpy(x), method=method).value == pytest.approx(ref, abs=1e-12)
    assert infobench.entropy(pd.DataFrame(x, columns=["a", "b"]), method=method).value == pytest.approx(ref, abs=1e-12)
    assert infobench.entropy(x.tolist(), method=method).value == pytest.approx(ref, abs=1e-12)
    one = infobench.entropy(x[:, 0], method=method).value
    assert infobench.entropy(pd.Series(x[:, 0]), method=method).value == pytest.approx(one, abs=1e-12)
    assert infobench.entropy(x[:, :1], method=method).value == pytest.approx(one, abs=1e-12)


# ------------------------------------------------------------------ Estimate
def test_estimate_float_bits_interval_dict_repr():
    est = Estimate(value=1.5, std_err=0.1, n=10, method="m", params={"k": 3}, seconds=0.5, extras={"a": 1})
    assert float(est) == 1.5
    assert est.bits == pytest.approx(1.5 / math.log(2))
    assert est.std_err_bits == pytest.approx(0.1 / math.log(2))
    lo, hi = est.interval()
    assert (lo, hi) == pytest.approx((1.5 - 1.959963984540054 * 0.1, 1.5 + 1.959963984540054 * 0.1))
    lo90, hi90 = est.interval(0.9)
    assert hi90 - lo90 == pytest.approx(2 * 1.6448536269514722 * 0.1)
    assert est.to_dict() == {
        "value": 1.5,
        "std_err": 0.1,
        "n": 10,
        "method": "m",
        "params": {"k": 3},
        "seconds": 0.5,
        "extras": {"a": 1},
        "diagnostics": [],
        "std_err_df": None,
    }
    assert repr(est) == "Estimate(1.5 ± 0.1 nats, method='m', n=10)"
    assert repr(Estimate(value=-0.25)) == "Estimate(-0.25 nats, method='', n=0)"
    assert Estimate(value=2.0).std_err_bits is None


def test_estimate_interval_errors():
    with pytest.raises(ValueError, match=r"this estimate has no std_err; call again with std_err=True"):
        Estimate(value=1.0).interval()
    for level in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"level must be in \(0, 1\); got"):
            Estimate(value=1.0, std_err=0.1).interval(level)


def test_estimate_is_frozen():
    with pytest.raises(AttributeError):
        Estimate(value=1.0).value = 2.0


# ------------------------------------------------------------------ registry
def test_available_lists_methods_with_defaults():
    table = available()
    assert list(table.columns) == ["method", "quantity", "estimates", "params", "summary", "conditions"]
    rows = {(r.quantity, r.method): r for r in table.itertuples()}
    for quantity in ("entropy", "mi"):
        for method in CLASSICAL:
            assert (quantity, method) in rows
    hist = rows[("entropy", "histogram")]
    assert hist.estimates == "entropy H(X)"
    assert hist.params["bins"] == "fd" and hist.params["miller_madow"] is True
    assert rows[("mi", "kde")].params["bandwidth"] == "scott"
    assert rows[("mi", "gaussian")].estimates == "mutual information I(X;Y)"
    for r in table.itertuples():
        assert r.summary and "\n" not in r.summary
    assert set(available("entropy").quantity) == {"entropy"}
    assert set(available("mi").method) >= set(CLASSICAL)


def test_available_rejects_unknown_quantity():
    with pytest.raises(ValueError, match=r"quantity must be one of \['entropy', 'mi', 'kl'\] or None; got 'h'"):
        available("h")
    with pytest.raises(ValueError, match=r"quantity must be one of \['entropy', 'mi', 'kl'\]; got 'h'"):
        get_method("h", "kde")


def test_unknown_method_lists_valid_ones(rng):
    x = rng.normal(size=50)
    with pytest.raises(
        ValueError, match=r"method must be one of \[.*'gaussian', 'histogram', 'kde'.*\] for entropy H\(X\); got 'nope'"
    ):
        infobench.entropy(x, method="nope")
    with pytest.raises(ValueError, match=r"method must be one of \[.*\] for mutual information I\(X;Y\); got 'KDE'"):
        infobench.mutual_information(x, x, method="KDE")
    with pytest.raises(ValueError, match=r"method must be one of \[.*\] for KL divergence D\(P\|\|Q\); got 'nope'"):
        infobench.kl_divergence(x, x, method="nope")
    with pytest.raises(TypeError, match=r"method must be a string; got int 3"):
        get_method("entropy", 3)


def test_unknown_parameter_lists_valid_ones(rng):
    x = rng.normal(size=50)
    with pytest.raises(
        ValueError,
        match=r"unknown parameter 'bandwith' for method 'kde'; valid parameters are \['bandwidth', 'cv_grid', ",
    ):
        infobench.entropy(x, method="kde", bandwith=0.3)
    with pytest.raises(ValueError, match=r"unknown parameter 'k' for method 'histogram'"):
        infobench.mutual_information(x, x, method="histogram", k=3)


def test_register_checks_kernels(scratch_registry):
    with pytest.raises(ValueError, match=r"quantity must be one of \['entropy', 'mi', 'kl'\]; got 'cmi'"):
        register("cmi", "_test")

    def one_sample(x, *, a=1):
        return Estimate(value=0.0)

    with pytest.raises(TypeError, match=r"kernel one_sample must take 2 sample arguments \('x', 'y'\)"):
        register("mi", "_test")(one_sample)
    with pytest.raises(ValueError, match=r"method 'histogram' is already registered for entropy"):
        register("entropy", "histogram")(lambda x: None)

    def k(x, *, a):
        return Estimate(value=0.0)

    with pytest.raises(TypeError, match=r"kernel k: parameter a needs a default"):
        register("entropy", "_test")(k)


def test_register_dispatch_replace_and_bad_kernels(scratch_registry):
    @register("entropy", "_test_const")
    def const(x, *, level=1.0):
        """A constant.

        More text."""
        return Estimate(value=float(level), params={"resolved": True})

    est = infobench.entropy([1.0, 2.0], method="_test_const", level=2.0)
    assert est.value == 2.0
    assert est.params == {"level": 2.0, "resolved": True}
    assert available("entropy").set_index("method").loc["_test_const", "summary"] == "A constant."

    @register("entropy", "_test_const", replace=True)
    def const2(x, *, level=5.0):
        return Estimate(value=float(level))

    assert infobench.entropy([1.0], method="_test_const").value == 5.0

    @register("entropy", "_test_inf")
    def inf(x):
        return Estimate(value=math.inf)

    with pytest.raises(FloatingPointError, match=r"method '_test_inf' produced a non-finite estimate \(inf\)"):
        infobench.entropy([1.0], method="_test_inf")

    @register("entropy", "_test_float")
    def not_estimate(x):
        return 1.0

    with pytest.raises(TypeError, match=r"kernel for '_test_float' returned float, not Estimate"):
        infobench.entropy([1.0], method="_test_float")


# ------------------------------------------------- bad input, through dispatch
BAD_X = [
    (np.array([1.0, np.nan, 2.0]), ValueError, r"x contains non-finite values \(nan at row 1, column 0\)"),
    (np.array([1.0, 2.0, np.inf]), ValueError, r"x contains non-finite values \(inf at row 2, column 0\)"),
    (np.empty(0), ValueError, r"x must not be empty; got shape \(0,\)"),
    (np.array([1.5]), ValueError, r"x needs at least 2 samples; got n=1"),
    (np.zeros((4, 2, 2)), ValueError, r"x must be 1-D \(one variable\) or 2-D .*got shape \(4, 2, 2\)"),
    (np.array(["a", "b", "c"]), TypeError, r"x must have a numeric dtype; got dtype <U1"),
    (np.array([object(), object()]), TypeError, r"x must have a numeric dtype; got dtype object"),
    (np.array([[1.0, 3.0], [2.0, 3.0]]), ValueError, r"x column 1 is constant \(every value is 3\)"),
    (np.ones((5, 2)), ValueError, r"x column 0 is constant \(every value is 1\)"),
]


@pytest.mark.parametrize("method", CLASSICAL)
@pytest.mark.parametrize("x, exc, message", BAD_X)
def test_bad_samples_are_rejected_by_every_method(method, x, exc, message):
    with pytest.raises(exc, match=message):
        infobench.entropy(x, method=method)


@pytest.mark.parametrize("method", CLASSICAL)
def test_bad_pairs_are_rejected_by_every_method(rng, method):
    x = rng.normal(size=20)
    with pytest.raises(ValueError, match=r"x and y must have the same number of samples; got x: 20, y: 19"):
        infobench.mutual_information(x, x[:19], method=method)
    with pytest.raises(ValueError, match=r"y contains non-finite values \(nan at row 0, column 0\)"):
        infobench.mutual_information(x, np.full(20, np.nan), method=method)
    with pytest.raises(ValueError, match=r"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got 'gpu0'"):
        infobench.mutual_information(x, x, method=method, device="gpu0")
    with pytest.raises(
        ValueError, match=r"dtype must be one of \['double', 'float', 'float32', 'float64'\]; got 'half'"
    ):
        infobench.mutual_information(x, x, method=method, dtype="half")
