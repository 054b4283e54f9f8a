"""Input checking and conversion, seeds and device choice.

This is the one place where user input is turned into tensors or rejected.
Every error names the parameter, the constraint and the offending value, and
is raised before any heavy work starts.
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable

import numpy as np
import torch

__all__ = [
    "Samples",
    "as_generator",
    "as_torch_generator",
    "check_choice",
    "check_float",
    "check_int",
    "check_k",
    "check_bool",
    "check_pair",
    "check_same_length",
    "check_samples",
    "reject_discrete",
    "resolve_device",
    "resolve_dtype",
    "spawn_seeds",
]

SeedLike = "int | np.random.Generator | torch.Generator | None"


# --------------------------------------------------------------------- seeds
def as_generator(seed: Any = None, *, name: str = "seed") -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``seed``.

    Parameters
    ----------
    seed : int, numpy.random.Generator, numpy.random.SeedSequence, torch.Generator or None
        ``None`` draws fresh OS entropy (not reproducible). A ``torch.Generator``
        is turned into a numpy generator by drawing one 63-bit integer from it,
        so the two streams stay deterministic functions of the same seed.
    """
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, torch.Generator):
        draw = int(torch.randint(0, 2**62, (1,), generator=seed).item())
        return np.random.default_rng(draw)
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, numpy Generator or torch Generator; got {seed!r}")
    if isinstance(seed, numbers.Integral):
        if int(seed) < 0:
            raise ValueError(f"{name} must be a non-negative integer; got {seed!r}")
        return np.random.default_rng(int(seed))
    raise TypeError(
        f"{name} must be an int, numpy.random.Generator, torch.Generator or None; "
        f"got {type(seed).__name__} {seed!r}"
    )


def as_torch_generator(seed: Any = None, device: torch.device | str = "cpu", *, name: str = "seed") -> torch.Generator:
    """Return a ``torch.Generator`` on ``device`` seeded deterministically from ``seed``."""
    device = torch.device(device)
    if isinstance(seed, torch.Generator) and seed.device == device:
        return seed
    rng = as_generator(seed, name=name)
    gen = torch.Generator(device=device)
    gen.manual_seed(int(rng.integers(0, 2**62)))
    return gen


def spawn_seeds(seed: Any, count: int) -> list[int]:
    """Derive ``count`` independent integer seeds from one base seed.

    Uses ``numpy.random.SeedSequence.spawn`` so that child ``i`` does not
    depend on how many children are drawn or in what order they are used.
    """
    count = check_int("count", count, low=0)
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        ss = np.random.SeedSequence(int(seed))
    else:
        ss = np.random.SeedSequence(int(as_generator(seed).integers(0, 2**62)))
    return [int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for child in ss.spawn(count)]


# ------------------------------------------------------------------- devices
def resolve_device(device: Any = "auto", *, name: str = "device") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device`` into a device.

    ``"auto"`` picks CUDA when it is available and the CPU otherwise.
    """
    if isinstance(device, torch.device):
        dev = device
    elif device is None or (isinstance(device, str) and device.lower() == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif isinstance(device, str):
        try:
            dev = torch.device(device)
        except RuntimeError:
            raise ValueError(f"{name} must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}") from None
    else:
        raise TypeError(f"{name} must be a string or torch.device; got {type(device).__name__} {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}={device!r} was requested but CUDA is not available on this machine")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{name}={device!r} was requested but MPS is not available on this machine")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{name} must be 'auto', 'cpu' or 'cuda[:N]'; got {device!r}")
    return dev


def resolve_dtype(dtype: Any, device: torch.device, *, name: str = "dtype") -> torch.dtype:
    """Default floating dtype: float64 on the CPU (exact), float32 on accelerators (fast)."""
    if dtype is None:
        return torch.float64 if device.type == "cpu" else torch.float32
    mapping = {"float64": torch.float64, "float32": torch.float32, "double": torch.float64, "float": torch.float32}
    if isinstance(dtype, str):
        if dtype not in mapping:
            raise ValueError(f"{name} must be one of {sorted(mapping)}; got {dtype!r}")
        return mapping[dtype]
    if dtype in (torch.float64, torch.float32):
        return dtype
    if dtype in (np.float64, np.float32):
        return torch.float64 if dtype == np.float64 else torch.float32
    raise ValueError(f"{name} must be float32 or float64; got {dtype!r}")


# ---------------------------------------------------------------- scalars
def check_bool(name: str, value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False; got {value!r}")


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None, context: str = "") -> int:
    """Check that ``value`` is an integer in ``[low, high]`` and return it as ``int``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            rng = _range_text(low, high)
            raise TypeError(f"{name} must be an integer{rng}{context}; got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer{_range_text(low, high)}{context}; got {value!r}")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Check that ``value`` is a finite real number in the given interval."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number{_interval_text(low, high, low_open, high_open)}; got {value!r}")
    v = float(value)
    bad = not np.isfinite(v)
    if low is not None:
        bad |= v <= low if low_open else v < low
    if high is not None:
        bad |= v >= high if high_open else v > high
    if bad:
        raise ValueError(f"{name} must be a finite number{_interval_text(low, high, low_open, high_open)}; got {value!r}")
    return v


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Check that ``value`` is one of ``choices`` and return that choice; the error lists the valid ones.

    ``True`` does not stand in for ``1`` (nor ``False`` for ``0``), and arrays
    are compared as values, not element-wise.
    """
    choices = list(choices)
    is_bool = isinstance(value, (bool, np.bool_))
    for choice in choices:
        try:
            same = bool(value == choice)
        except (TypeError, ValueError):  # e.g. a multi-element array
            same = False
        if same and is_bool == isinstance(choice, (bool, np.bool_)):
            return choice
    raise ValueError(f"{name} must be one of {choices}; got {value!r}")


def check_k(k: Any, n: int, *, name: str = "k", extra: int = 0) -> int:
    """Check the neighbour count: an integer in ``[1, n - 1 - extra]``."""
    high = n - 1 - extra
    if high < 1:
        raise ValueError(f"{name} needs at least {2 + extra} samples; got n={n}")
    return check_int(name, k, low=1, high=high, context=f" (n={n})")


def _range_text(low, high) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def _interval_text(low, high, low_open, high_open) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high}"
    return ""


# ---------------------------------------------------------------- samples
class Samples:
    """A validated sample matrix.

    Attributes
    ----------
    data : torch.Tensor
        Shape ``(n, d)``, floating, on the requested device.
    discrete : bool
        True when the input was integer, boolean or categorical.
    name : str
        The parameter name used in error messages.
    """

    __slots__ = ("data", "discrete", "name", "columns")

    def __init__(self, data: torch.Tensor, discrete: bool, name: str, columns: list[str] | None):
        self.data = data
        self.discrete = discrete
        self.name = name
        self.columns = columns

    @property
    def n(self) -> int:
        return int(self.data.shape[0])

    @property
    def d(self) -> int:
        return int(self.data.shape[1])


def _to_numpy_or_tensor(x: Any, name: str) -> tuple[Any, bool, list[str] | None]:
    """Convert pandas and sequences; keep torch tensors as they are (any device)."""
    columns = None
    discrete = False
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if isinstance(x, np.ma.MaskedArray):
        if bool(np.ma.getmaskarray(x).any()):
            raise TypeError(
                f"{name} is a numpy masked array with {int(np.ma.count_masked(x))} masked values; estimators "
                f"do not honour masks: pass {name}.compressed() (1-D) or drop the masked rows first"
            )
        x = np.ma.getdata(x)
    if pd is not None and isinstance(x, (pd.DataFrame, pd.Series)):
        frame = x.to_frame() if isinstance(x, pd.Series) else x
        dup = frame.columns[frame.columns.duplicated()].unique().tolist()
        if dup:
            raise ValueError(
                f"{name} has duplicate column names {dup}; give every column a distinct name"
            )
        columns = [str(c) for c in frame.columns]
        cols = []
        all_discrete = True
        for c in frame.columns:
            s = frame[c]
            if isinstance(s.dtype, pd.CategoricalDtype):
                if s.isna().any():
                    raise ValueError(f"{name} column {c!r} contains missing values")
                cols.append(s.cat.codes.to_numpy().astype(np.int64))
            elif pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_integer_dtype(s.dtype):
                if s.isna().any():
                    raise ValueError(f"{name} column {c!r} contains missing values")
                cols.append(s.to_numpy().astype(np.int64))
            elif pd.api.types.is_float_dtype(s.dtype):
                all_discrete = False
                cols.append(s.to_numpy(dtype=np.float64, na_value=np.nan))
            else:
                raise TypeError(
                    f"{name} column {c!r} has dtype {s.dtype}; expected numbers, booleans or categories"
                )
        if not cols:
            raise ValueError(f"{name} must not be empty; got a DataFrame with no columns")
        arr = np.column_stack(cols) if all_discrete else np.column_stack([c.astype(np.float64) for c in cols])
        return arr, all_discrete, columns
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise TypeError(f"{name} must be real-valued; got a complex tensor")
        if x.layout != torch.strided:
            raise TypeError(f"{name} must be a dense tensor; got layout {x.layout} (call {name}.to_dense())")
        if x.device.type == "meta":
            raise TypeError(f"{name} is a tensor on the 'meta' device, which holds no values")
        discrete = not (x.is_floating_point())
        return x, discrete, None
    if isinstance(x, (list, tuple)) or np.isscalar(x) or isinstance(x, np.ndarray):
        arr = np.asarray(x)
    else:
        try:
            arr = np.asarray(x)
        except Exception:
            raise TypeError(f"{name} must be array-like (numpy, torch, pandas); got {type(x).__name__}") from None
    if arr.dtype.kind in "OUSV" or arr.dtype.kind == "M" or arr.dtype.kind == "m":
        raise TypeError(
            f"{name} must have a numeric dtype; got dtype {arr.dtype} "
            "(encode strings or objects as integer codes or a pandas Categorical)"
        )
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real-valued; got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 8:
        raise TypeError(
            f"{name} has dtype {arr.dtype}, which torch cannot hold; convert it with "
            f"{name}.astype(numpy.float64) (precision beyond float64 is not used)"
        )
    discrete = arr.dtype.kind in "biu"
    return arr, discrete, None


def check_samples(
    x: Any,
    name: str = "x",
    *,
    device: Any = "auto",
    dtype: Any = None,
    min_samples: int = 2,
    allow_constant: bool = False,
) -> Samples:
    """Validate ``x`` and return it as a 2-D floating tensor on ``device``.

    Parameters
    ----------
    x : array-like, torch.Tensor, pandas.DataFrame or pandas.Series
        Samples in rows. A 1-D input is one variable (shape ``(n, 1)``).
    name : str
        Parameter name used in error messages.
    device : str or torch.device
        ``"auto"`` keeps a tensor that is already on an accelerator where it
        is, and otherwise uses CUDA when available.
    dtype : None, "float32" or "float64"
        ``None``: float64 on the CPU, float32 on an accelerator.
    min_samples : int
        Fewer rows raise ``ValueError``.
    allow_constant : bool
        When False, a column with a single distinct value raises: entropy and
        MI estimators are undefined (or degenerate) on constant columns.

    Raises
    ------
    TypeError
        Non-numeric, complex or object dtypes.
    ValueError
        Empty input, too few samples, more than 2 dimensions, NaN or inf,
        constant columns.
    """
    arr, discrete, columns = _to_numpy_or_tensor(x, name)
    shape = tuple(arr.shape)
    if len(shape) == 0:
        raise ValueError(f"{name} must be a 1-D or 2-D array of samples; got a scalar {arr!r}")
    if len(shape) > 2:
        raise ValueError(
            f"{name} must be 1-D (one variable) or 2-D (samples x dimensions); got shape {shape}"
        )
    if shape[0] == 0 or (len(shape) == 2 and shape[1] == 0):
        raise ValueError(f"{name} must not be empty; got shape {shape}")
    if isinstance(device, str) and device == "auto" and isinstance(arr, torch.Tensor) and arr.device.type != "cpu":
        dev = arr.device
    else:
        dev = resolve_device(device)
    fdtype = resolve_dtype(dtype, dev)
    if isinstance(arr, torch.Tensor):
        t = arr.detach()
        if t.dtype == torch.bool:
            t = t.to(torch.int64)
        t = t.to(device=dev, dtype=fdtype)
    else:
        if arr.dtype == np.bool_:
            arr = arr.astype(np.int64)
        t = torch.as_tensor(np.ascontiguousarray(arr), device=dev).to(fdtype)
    if t.ndim == 1:
        t = t.reshape(-1, 1)
    n = t.shape[0]
    finite = torch.isfinite(t)
    if not bool(finite.all()):
        bad = (~finite).nonzero()[0].tolist()
        value = t[bad[0], bad[1]].item()
        raise ValueError(
            f"{name} contains non-finite values ({value} at row {bad[0]}, column {bad[1]}); "
            "remove or impute NaN and inf first"
        )
    if n < min_samples:
        raise ValueError(f"{name} needs at least {min_samples} samples; got n={n}")
    if not allow_constant and n > 1:
        spread = (t.max(dim=0).values - t.min(dim=0).values)
        const = (spread == 0).nonzero().flatten().tolist()
        if const:
            label = columns[const[0]] if columns else const[0]
            raise ValueError(
                f"{name} column {label!r} is constant (every value is {t[0, const[0]].item():g}); "
                "a constant variable carries no information: drop it"
            )
    return Samples(t.contiguous(), discrete, name, columns)


def reject_discrete(s: Samples, method: str) -> None:
    """The one rule of every continuous estimator: integer, boolean and categorical data are refused.

    Differential entropy and the kNN/KDE/Gaussian formulas assume a density;
    discrete inputs (``Samples.discrete``) get a message that points at the
    histogram method or at passing floats to declare the data continuous.
    """
    if s.discrete:
        raise ValueError(
            f"{s.name} is integer-valued, but the {method} estimator is for continuous data "
            f"(differential quantities); use method='histogram' for discrete data, or pass "
            f"{s.name} as floats to treat it as continuous"
        )


def check_pair(
    x: Any, y: Any, *, device: Any = "auto", dtype: Any = None, names: tuple[str, str] = ("x", "y")
) -> tuple[Samples, Samples]:
    """Validate paired samples: each as :func:`check_samples`, ``y`` on ``x``'s device, same length."""
    sx = check_samples(x, names[0], device=device, dtype=dtype)
    sy = check_samples(y, names[1], device=sx.data.device, dtype=dtype)
    check_same_length(sx, sy)
    return sx, sy


def check_same_length(a: Samples, b: Samples) -> None:
    """Paired samples must have the same number of rows."""
    if a.n != b.n:
        raise ValueError(
            f"{a.name} and {b.name} must have the same number of samples; got {a.name}: {a.n}, {b.name}: {b.n}"
        )


def check_same_dim(a: Samples, b: Samples) -> None:
    """Samples from two distributions on the same space must have the same dimension."""
    if a.d != b.d:
        raise ValueError(
            f"{a.name} and {b.name} must have the same dimension; got {a.name}: {a.d}, {b.name}: {b.d}"
        )


def check_same_device(a: Samples, b: Samples) -> None:
    if a.data.device != b.data.device:
        b.data = b.data.to(a.data.device)
