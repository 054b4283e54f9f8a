"""Every message of infobench/_validation.py, and what the helpers return."""

import numpy as np
import pandas as pd
import pytest
import torch

import infobench
from infobench._validation import (
    Samples,
    as_generator,
    as_torch_generator,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_k,
    check_pair,
    check_same_device,
    check_same_dim,
    check_same_length,
    check_samples,
    reject_discrete,
    resolve_device,
    resolve_dtype,
    spawn_seeds,
)

CPU = torch.device("cpu")


# --------------------------------------------------------------------- seeds
def test_as_generator_accepts_seed_kinds():
    a = as_generator(5).integers(0, 2**31, size=3)
    assert np.array_equal(a, np.random.default_rng(5).integers(0, 2**31, size=3))
    assert np.array_equal(as_generator(np.int64(5)).integers(0, 2**31, size=3), a)
    g = np.random.default_rng(1)
    assert as_generator(g) is g
    ss = np.random.SeedSequence(9)
    assert as_generator(ss).integers(0, 100) == np.random.default_rng(np.random.SeedSequence(9)).integers(0, 100)
    t1 = as_generator(torch.Generator().manual_seed(3)).integers(0, 2**31)
    assert t1 == as_generator(torch.Generator().manual_seed(3)).integers(0, 2**31)
    assert isinstance(as_generator(None), np.random.Generator)


def test_as_generator_messages():
    with pytest.raises(TypeError, match=r"seed must be an int, numpy Generator or torch Generator; got True"):
        as_generator(True)
    with pytest.raises(ValueError, match=r"seed must be a non-negative integer; got -3"):
        as_generator(-3)
    with pytest.raises(
        TypeError, match=r"seed must be an int, numpy.random.Generator, torch.Generator or None; got float 1.5"
    ):
        as_generator(1.5)
    with pytest.raises(TypeError, match=r"rng_seed must be an int, .*got str 'x'"):
        as_generator("x", name="rng_seed")


def test_as_torch_generator_is_deterministic():
    a = torch.randn(3, generator=as_torch_generator(7))
    assert torch.equal(a, torch.randn(3, generator=as_torch_generator(7)))
    g = torch.Generator()
    assert as_torch_generator(g) is g
    with pytest.raises(ValueError, match=r"seed must be a non-negative integer; got -1"):
        as_torch_generator(-1)


def test_spawn_seeds_are_prefix_stable_and_distinct():
    five = spawn_seeds(42, 5)
    assert spawn_seeds(42, 3) == five[:3]
    assert len(set(five)) == 5
    assert all(0 <= s < 2**63 for s in five)
    assert spawn_seeds(np.random.default_rng(0), 2) == spawn_seeds(np.random.default_rng(0), 2)
    assert spawn_seeds(1, 0) == []
    with pytest.raises(ValueError, match=r"count must be an integer >= 0; got -1"):
        spawn_seeds(1, -1)


# ------------------------------------------------------------------- devices
def test_resolve_device():
    assert resolve_device("cpu") == CPU
    assert resolve_device(CPU) == CPU
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(None) == resolve_device("AUTO")


def test_resolve_device_messages():
    with pytest.raises(ValueError, match=r"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got 'gpu'"):
        resolve_device("gpu")
    with pytest.raises(TypeError, match=r"device must be a string or torch.device; got int 0"):
        resolve_device(0)
    with pytest.raises(ValueError, match=r"device must be 'auto', 'cpu' or 'cuda\[:N\]'; got 'meta'"):
        resolve_device("meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"device='cuda:1' was requested but CUDA is not available"):
            resolve_device("cuda:1")
    if not torch.backends.mps.is_available():
        with pytest.raises(ValueError, match=r"device='mps' was requested but MPS is not available"):
            resolve_device("mps")


def test_resolve_dtype():
    assert resolve_dtype(None, CPU) == torch.float64
    assert resolve_dtype(None, torch.device("cuda")) == torch.float32
    for spelled in ("float32", "float", torch.float32, np.float32, np.dtype("float32")):
        assert resolve_dtype(spelled, CPU) == torch.float32
    for spelled in ("float64", "double", torch.float64, np.float64):
        assert resolve_dtype(spelled, CPU) == torch.float64
    with pytest.raises(
        ValueError, match=r"dtype must be one of \['double', 'float', 'float32', 'float64'\]; got 'f16'"
    ):
        resolve_dtype("f16", CPU)
    with pytest.raises(ValueError, match=r"dtype must be float32 or float64; got torch.float16"):
        resolve_dtype(torch.float16, CPU)


# ------------------------------------------------------------------- scalars
def test_check_bool():
    assert check_bool("flag", np.bool_(True)) is True
    with pytest.raises(TypeError, match=r"flag must be True or False; got 1"):
        check_bool("flag", 1)


def test_check_int():
    assert check_int("k", np.int32(4), low=1) == 4
    assert check_int("k", 3.0) == 3
    assert check_int("k", np.float32(3.0)) == 3
    with pytest.raises(TypeError, match=r"k must be an integer in \[1, 9\] \(n=10\); got 2.5"):
        check_int("k", 2.5, low=1, high=9, context=" (n=10)")
    with pytest.raises(TypeError, match=r"k must be an integer >= 1; got True"):
        check_int("k", True, low=1)
    with pytest.raises(TypeError, match=r"k must be an integer; got '3'"):
        check_int("k", "3")
    with pytest.raises(ValueError, match=r"k must be an integer <= 5; got 6"):
        check_int("k", 6, high=5)
    with pytest.raises(ValueError, match=r"k must be an integer >= 1; got 0"):
        check_int("k", 0, low=1)


def test_check_float():
    assert check_float("h", np.float32(0.5), low=0, low_open=True) == 0.5
    with pytest.raises(TypeError, match=r"h must be a real number > 0; got '1'"):
        check_float("h", "1", low=0, low_open=True)
    with pytest.raises(TypeError, match=r"h must be a real number; got False"):
        check_float("h", False)
    with pytest.raises(ValueError, match=r"h must be a finite number in \(0, 1\]; got 0"):
        check_float("h", 0, low=0, high=1, low_open=True)
    with pytest.raises(ValueError, match=r"h must be a finite number in \[0, 1\); got 1"):
        check_float("h", 1, low=0, high=1, high_open=True)
    with pytest.raises(ValueError, match=r"h must be a finite number < 2; got 3"):
        check_float("h", 3, high=2, high_open=True)
    with pytest.raises(ValueError, match=r"h must be a finite number <= 2; got 3"):
        check_float("h", 3, high=2)
    with pytest.raises(ValueError, match=r"h must be a finite number; got nan"):
        check_float("h", float("nan"))


def test_check_choice():
    assert check_choice("rule", np.str_("fd"), ["fd", "sqrt"]) == "fd"
    assert check_choice("variant", 2.0, [1, 2]) == 2
    with pytest.raises(ValueError, match=r"rule must be one of \['fd', 'sqrt'\]; got 'FD'"):
        check_choice("rule", "FD", ("fd", "sqrt"))
    # True == 1 in Python, but a flag is not a variant number.
    with pytest.raises(ValueError, match=r"variant must be one of \[1, 2\]; got True"):
        check_choice("variant", True, [1, 2])
    with pytest.raises(ValueError, match=r"rule must be one of \['fd'\]; got array"):
        check_choice("rule", np.array(["fd", "fd"]), ["fd"])


def test_check_k():
    assert check_k(3, 10) == 3
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 9\] \(n=10\); got 10"):
        check_k(10, 10)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 7\] \(n=10\); got 8"):
        check_k(8, 10, extra=2)
    with pytest.raises(TypeError, match=r"k must be an integer in \[1, 9\] \(n=10\); got 2.5"):
        check_k(2.5, 10)
    with pytest.raises(ValueError, match=r"k needs at least 2 samples; got n=1"):
        check_k(1, 1)
    with pytest.raises(ValueError, match=r"neighbours needs at least 4 samples; got n=3"):
        check_k(1, 3, name="neighbours", extra=2)


# ------------------------------------------------------------------- samples
def test_check_samples_conversions():
    s = check_samples([1, 2, 3], device="cpu")
    assert isinstance(s, Samples) and s.discrete and (s.n, s.d) == (3, 1)
    assert s.data.dtype == torch.float64
    s = check_samples(np.array([[0.5, 1.0], [2.0, 3.0]], dtype=np.float32), device="cpu", dtype="float32")
    assert not s.discrete and s.data.dtype == torch.float32 and (s.n, s.d) == (2, 2)
    s = check_samples(torch.tensor([True, False, True]), device="cpu")
    assert s.discrete and s.data.flatten().tolist() == [1.0, 0.0, 1.0]
    frame = pd.DataFrame({"a": [1, 2, 3], "c": pd.Categorical(["u", "v", "u"])})
    s = check_samples(frame, device="cpu")
    assert s.discrete and s.columns == ["a", "c"] and s.data[:, 1].tolist() == [0.0, 1.0, 0.0]
    s = check_samples(pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 0.0]}), device="cpu")
    assert not s.discrete
    s = check_samples(pd.Series([1.0, 2.0], name="z"), device="cpu")
    assert s.columns == ["z"] and s.d == 1
    assert check_samples([3.0, 3.0], allow_constant=True, device="cpu").n == 2
    assert check_samples([3.0], min_samples=1, device="cpu").n == 1


class _Unconvertible:
    def __array__(self, *args, **kwargs):
        raise RuntimeError("cannot")


@pytest.mark.parametrize(
    "value, exc, message",
    [
        (pd.DataFrame({"c": pd.Categorical(["a", None])}), ValueError, r"x column 'c' contains missing values"),
        (pd.DataFrame({"i": pd.array([1, None], dtype="Int64")}), ValueError, r"x column 'i' contains missing values"),
        (
            pd.DataFrame({"s": ["a", "b"]}),
            TypeError,
            r"x column 's' has dtype .*; expected numbers, booleans or categories",
        ),
        (pd.DataFrame(), ValueError, r"x must not be empty; got a DataFrame with no columns"),
        (pd.DataFrame({"a": [1.0]}).iloc[:0], ValueError, r"x must not be empty; got shape \(0, 1\)"),
        (torch.ones(3, dtype=torch.complex64), TypeError, r"x must be real-valued; got a complex tensor"),
        (_Unconvertible(), TypeError, r"x must be array-like \(numpy, torch, pandas\); got _Unconvertible"),
        (np.array(["a", "b"]), TypeError, r"x must have a numeric dtype; got dtype <U1 \(encode strings"),
        (np.array([1, "a"], dtype=object), TypeError, r"x must have a numeric dtype; got dtype object"),
        (
            np.array(["2020-01-01"], dtype="datetime64[D]"),
            TypeError,
            r"x must have a numeric dtype; got dtype datetime64",
        ),
        (np.array([1 + 2j, 3j]), TypeError, r"x must be real-valued; got dtype complex128"),
        (3.0, ValueError, r"x must be a 1-D or 2-D array of samples; got a scalar"),
        (
            np.zeros((2, 2, 2)),
            ValueError,
            r"x must be 1-D \(one variable\) or 2-D \(samples x dimensions\); got shape \(2, 2, 2\)",
        ),
        (np.zeros((0,)), ValueError, r"x must not be empty; got shape \(0,\)"),
        (np.zeros((3, 0)), ValueError, r"x must not be empty; got shape \(3, 0\)"),
        (
            np.array([[1.0, 2.0], [3.0, -np.inf]]),
            ValueError,
            r"x contains non-finite values \(-inf at row 1, column 1\); remove or impute",
        ),
        (np.array([1.0]), ValueError, r"x needs at least 2 samples; got n=1"),
        (
            np.array([[1.0, 7.0], [2.0, 7.0]]),
            ValueError,
            r"x column 1 is constant \(every value is 7\); a constant variable carries no information",
        ),
        (pd.DataFrame({"a": [1.0, 2.0], "b": [4.0, 4.0]}), ValueError, r"x column 'b' is constant"),
    ],
)
def test_check_samples_messages(value, exc, message):
    with pytest.raises(exc, match=message):
        check_samples(value, "x", device="cpu")


def test_check_samples_uses_the_parameter_name_and_min_samples():
    with pytest.raises(ValueError, match=r"reference needs at least 5 samples; got n=3"):
        check_samples([1.0, 2.0, 3.0], "reference", min_samples=5, device="cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_check_samples_keeps_cuda_tensors_on_their_device():
    s = check_samples(torch.randn(5, 2, device="cuda"))
    assert s.data.device.type == "cuda" and s.data.dtype == torch.float32


def test_pair_checks():
    a = check_samples(np.random.default_rng(0).normal(size=(5, 2)), "p", device="cpu")
    b = check_samples(np.random.default_rng(1).normal(size=(4, 3)), "q", device="cpu")
    with pytest.raises(ValueError, match=r"p and q must have the same number of samples; got p: 5, q: 4"):
        check_same_length(a, b)
    with pytest.raises(ValueError, match=r"p and q must have the same dimension; got p: 2, q: 3"):
        check_same_dim(a, b)
    check_same_device(a, b)
    assert b.data.device == a.data.device


def test_check_pair():
    sx, sy = check_pair([1.0, 2.0, 3.0], [[0, 1], [1, 0], [1, 1]], device="cpu")
    assert (sx.d, sy.d) == (1, 2) and sy.discrete and sy.data.device == sx.data.device
    with pytest.raises(ValueError, match=r"a and b must have the same number of samples; got a: 3, b: 2"):
        check_pair([1.0, 2.0, 3.0], [1.0, 2.0], names=("a", "b"), device="cpu")
    with pytest.raises(ValueError, match=r"b contains non-finite values"):
        check_pair([1.0, 2.0], [1.0, np.nan], names=("a", "b"), device="cpu")


# ------------------------------------------------- odd inputs
def test_masked_arrays_are_refused():
    # Once the mask was silently dropped (-0.065 nats vs 1.342 on .compressed()).
    x = np.random.default_rng(0).normal(size=500)
    x[::10] = -999.0
    masked = np.ma.masked_equal(x, -999.0)
    with pytest.raises(
        TypeError,
        match=r"x is a numpy masked array with 50 masked values; estimators do not honour "
        r"masks: pass x.compressed\(\)",
    ):
        infobench.entropy(masked, "knn", seed=0)
    with pytest.raises(TypeError, match=r"y is a numpy masked array"):
        infobench.mutual_information(masked.compressed(), masked[:450], "ksg")
    # Nothing masked: the data are used as they are.
    clean = np.ma.masked_equal(masked.compressed(), -999.0)
    assert check_samples(clean, device="cpu").n == 450


def test_duplicate_dataframe_columns_are_refused():
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(20, 3)), columns=["a", "b", "a"])
    with pytest.raises(ValueError, match=r"x has duplicate column names \['a'\]; give every column a distinct name"):
        infobench.entropy(frame, "knn")


def test_meta_sparse_and_long_double_inputs_are_refused():
    with pytest.raises(TypeError, match=r"x is a tensor on the 'meta' device, which holds no values"):
        check_samples(torch.empty(10, 2, device="meta"))
    dense = torch.randn(10, 2, dtype=torch.float64)
    with pytest.raises(
        TypeError, match=r"p must be a dense tensor; got layout torch.sparse_coo \(call p.to_dense\(\)\)"
    ):
        check_samples(dense.to_sparse(), "p")
    with pytest.raises(TypeError, match=r"x must be a dense tensor; got layout torch.sparse_csr"):
        infobench.entropy(dense.to_sparse_csr(), "kde")
    if np.dtype(np.longdouble).itemsize > 8:  # float128 where the platform has it (x86-64 Linux)
        with pytest.raises(
            TypeError,
            match=r"y has dtype float128, which torch cannot hold; convert it with "
            r"y.astype\(numpy.float64\)",
        ):
            check_samples(np.ones(10, dtype=np.longdouble), "y")


@pytest.mark.parametrize("method", ["knn", "kde", "gaussian"])
@pytest.mark.parametrize(
    "data",
    [np.arange(60) % 7, (np.arange(60) % 2).astype(bool), pd.Series(pd.Categorical(list("abc") * 20))],
    ids=["int", "bool", "category"],
)
def test_every_continuous_estimator_refuses_discrete_data_alike(method, data):
    # Once kde and gaussian returned differential-entropy numbers for codes.
    with pytest.raises(
        ValueError,
        match=r"x is integer-valued, but the .* estimator is for continuous data "
        r"\(differential quantities\); use method='histogram'",
    ):
        infobench.entropy(data, method)
    y = np.random.default_rng(0).normal(size=60)
    if method != "knn":  # ksg takes a discrete side (Ross's estimator) by design
        mi_method = method
        with pytest.raises(ValueError, match=r"x is integer-valued, but the"):
            infobench.mutual_information(data, y, mi_method)
        with pytest.raises(ValueError, match=r"y is integer-valued, but the"):
            infobench.mutual_information(y, data, mi_method)


def test_reject_discrete_passes_floats():
    s = check_samples(np.arange(10.0), device="cpu")
    reject_discrete(s, "any")  # no error
    with pytest.raises(ValueError, match=r"x is integer-valued, but the any estimator"):
        reject_discrete(check_samples(np.arange(10), device="cpu"), "any")
