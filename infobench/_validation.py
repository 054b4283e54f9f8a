"""Input checking and conversion, seeds and device choice.

This is the one place where user input is turned into tensors or rejected.
Every error names the parameter, the constraint and the offending value, and
is raised before any heavy work starts.
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
import torch
from scipy.special import ndtri

__all__ = [
    "IQR_TO_SD",
    "REMOVED_IN",
    "ColumnProfile",
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
    "column_label",
    "profile_columns",
    "reject_discrete",
    "renamed_function",
    "renamed_keywords",
    "resolve_device",
    "resolve_dtype",
    "spawn_seeds",
    "take_renamed",
    "ulp_base",
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
        f"{name} must be an int, numpy.random.Generator, torch.Generator or None; got {type(seed).__name__} {seed!r}"
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
        return cast(torch.dtype, dtype)
    if dtype in (np.float64, np.float32):
        return torch.float64 if dtype == np.float64 else torch.float32
    raise ValueError(f"{name} must be float32 or float64; got {dtype!r}")


# ---------------------------------------------------------------- renames
#: The release that drops the deprecated spellings (the one after ``infobench.__version__``).
REMOVED_IN = "0.2.0"

_F = TypeVar("_F", bound=Callable[..., Any])


def take_renamed(values: dict[str, Any], old: str, new: str, *, where: str, stacklevel: int = 1) -> None:
    """Accept ``old``, the deprecated spelling of ``new``, in ``values`` for one release.

    ``values`` are keyword arguments, command-line options or configuration
    keys by name. A given ``old`` moves to ``new`` with a
    ``DeprecationWarning`` naming both spellings; both given raises a
    ``ValueError`` naming both. ``where`` names the function, command or
    section; ``stacklevel`` 1 points the warning at the caller of this
    function, 2 at its caller, and so on.
    """
    if old not in values:
        return
    if new in values:
        raise ValueError(
            f"{where}: {old} is the deprecated spelling of {new}; give one, not both; "
            f"got {new}={values[new]!r} and {old}={values[old]!r}"
        )
    warnings.warn(
        f"{where}: {old} is deprecated and will be removed in {REMOVED_IN}; use {new} (the same setting)",
        DeprecationWarning,
        stacklevel=stacklevel + 1,
    )
    values[new] = values.pop(old)


def renamed_keywords(**renames: str) -> Callable[[_F], _F]:
    """Decorator: each keyword ``old`` of ``renames`` (``old="new"``) is accepted for ``new`` one release.

    The wrapped function keeps its signature (``inspect.signature`` follows
    ``__wrapped__``); see :func:`take_renamed` for the warning and the error.
    """

    def wrap(func: _F) -> _F:
        where = func.__qualname__

        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                take_renamed(kwargs, old, new, where=where, stacklevel=2)
            return func(*args, **kwargs)

        return cast(_F, inner)

    return wrap


def renamed_function(old: str, func: _F) -> _F:
    """``func`` under its deprecated name ``old``, kept one release: each call warns (``DeprecationWarning``)."""

    def alias(*args: Any, **kwargs: Any) -> Any:
        warnings.warn(
            f"{old} is deprecated and will be removed in {REMOVED_IN}; use {func.__name__} (the same function)",
            DeprecationWarning,
            stacklevel=2,
        )
        return func(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = old
    alias.__module__ = func.__module__
    alias.__doc__ = f"Deprecated alias of :func:`{func.__name__}`, removed in {REMOVED_IN}."
    alias.__wrapped__ = func  # type: ignore[attr-defined]
    return cast(_F, alias)


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
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValueError(f"{name} must be an integer{_range_text(low, high)}{context}; got {number!r}")
    return number


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
        raise ValueError(
            f"{name} must be a finite number{_interval_text(low, high, low_open, high_open)}; got {value!r}"
        )
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


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def _interval_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high}"
    return ""


# ---------------------------------------------------------------- samples
#: IQR of the standard normal, 2 Phi^{-1}(3/4): IQR / 1.349 estimates the sd of Gaussian data.
IQR_TO_SD = 2.0 * float(ndtri(0.75))
# An integer column is read as categories unless its values look like a measurement
# (:func:`_integer_categories`): at least this many distinct values, and either more than
# this fraction of rows holding a value seen once (the condition of Ross's estimator and of
# the plug-in histogram, which need repeated values) or at least this many grid steps per
# robust standard deviation (whole millimetres of a quantity spread over metres).
MEASUREMENT_MIN_LEVELS = 20
SINGLETON_MAX = 0.05
MEASUREMENT_STEPS = 50.0
# A grid is recognised when at least this fraction of the gaps between sorted distinct
# values are whole multiples of the smallest gap.
_GRID_FRACTION = 0.99


def ulp_base(x: np.ndarray | float) -> np.ndarray:
    """``2^floor(log2 |x|)``: multiplied by a type's epsilon, the spacing of floats near ``x``."""
    ax = np.maximum(np.abs(np.asarray(x, dtype=np.float64)), np.finfo(np.float64).tiny)
    return cast(np.ndarray, np.exp2(np.floor(np.log2(ax))))


def column_label(name: str, columns: list[str] | None, j: int) -> str:
    """``x[0]`` for an unnamed column, ``x['age']`` for a named one (diagnostics and messages)."""
    return f"{name}[{columns[j]!r}]" if columns else f"{name}[{j}]"


@dataclass(frozen=True)
class ColumnProfile:
    """What one sort of a column says about it (computed by :func:`profile_columns`).

    Attributes
    ----------
    label : str
        ``x[0]`` or ``x['age']``.
    n, distinct, singletons : int
        Rows, distinct values, and rows whose value occurs only once.
    median, iqr : float
        Of the values the estimator receives (after any centring); the IQR
        of a column on a grid is that of its values spread over their grid
        cells (grouped-data quartiles), since the quartiles of rounded values
        move by whole steps.
    scale : float
        Robust scale: IQR / 1.349, else the standard deviation when more than
        half the values are equal (0 for a constant column).
    sd : float
        Standard deviation (ddof=1).
    lo, hi : float
        Smallest and largest value.
    step : float
        When values repeat and the gaps between the sorted distinct values are
        whole multiples of the smallest one (rounded values, whole numbers,
        labels), that smallest gap: the grid's spacing. 0 otherwise.
    resolution : float
        Spacing of representable numbers at the bulk of the column (the larger
        quartile magnitude, offset included), the larger of the input type's
        and the working type's: what a value can still tell apart.
    """

    label: str
    n: int
    distinct: int
    singletons: int
    median: float
    iqr: float
    scale: float
    sd: float
    lo: float
    hi: float
    step: float
    resolution: float

    @property
    def tied_rows(self) -> int:
        """Rows whose value occurs more than once."""
        return self.n - self.singletons

    @property
    def grid(self) -> float:
        """The coarser of the grid step and the numeric resolution: the spacing values come in."""
        return max(self.step, self.resolution)

    @property
    def steps_per_scale(self) -> float:
        """Robust scale in units of :attr:`grid` (``inf`` when neither is known)."""
        return self.scale / self.grid if self.grid > 0 else math.inf


def _grid_step(sorted_col: np.ndarray, eps_work: float) -> float:
    """The common spacing of a sorted column's repeated values, or 0 when they are not on a grid."""
    gaps = np.diff(sorted_col)
    pos = gaps[gaps > 0]
    if pos.size == 0:
        return 0.0
    h0 = float(pos.min())
    top = max(abs(float(sorted_col[0])), abs(float(sorted_col[-1])))
    # Rounding of grid values (0.1 is not exact in binary) moves a ratio by a few ulps of the largest value.
    tol = 1e-6 + 8.0 * eps_work * top / h0
    if tol >= 0.05:
        return 0.0
    r = pos / h0
    on = np.abs(r - np.rint(r)) <= tol
    return h0 if float(on.mean()) >= _GRID_FRACTION else 0.0


def _grouped_quantile(sorted_col: np.ndarray, q: float, step: float) -> float:
    """Quantile ``q`` of grid values spread uniformly over their cells (the grouped-data quantile).

    With ``F`` values below the cell of value ``v`` and ``f`` in it, the
    ``q`` quantile is ``v - step/2 + (q n - F) / f * step``.
    """
    n = sorted_col.shape[0]
    v = sorted_col[min(n - 1, int(q * n))]
    below = int(np.searchsorted(sorted_col, v, side="left"))
    count = int(np.searchsorted(sorted_col, v, side="right")) - below
    return float(v - step / 2.0 + (q * n - below) / count * step)


def _quantiles(rows: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """Linearly interpolated quantiles (numpy's default method) of each sorted row of ``rows`` (d, n)."""
    n = rows.shape[1]
    out = np.empty((len(qs), rows.shape[0]))
    for i, q in enumerate(qs):
        pos = q * (n - 1)
        lo = int(math.floor(pos))
        hi = min(lo + 1, n - 1)
        out[i] = rows[:, lo] + (rows[:, hi] - rows[:, lo]) * (pos - lo)
    return out


def profile_columns(
    data: torch.Tensor, labels: list[str], source_eps: list[float], offset: np.ndarray | None = None
) -> list[ColumnProfile]:
    """Profile every column of ``data`` (n, d) with one sort per column.

    ``source_eps`` is the machine epsilon of the type each column arrived in
    (0 for integers, which are exact) and ``offset`` the centre subtracted
    before a reduced-precision cast (see :func:`check_samples`), so that the
    resolution is that of the values as they were given. Columns without a
    repeated value (clean continuous data) cost the sort and a few passes.
    """
    n, d = data.shape
    eps_work = float(torch.finfo(data.dtype).eps)
    if data.device.type == "cpu":
        rows = np.array(data.numpy().T, dtype=np.float64, order="C")
        rows.sort(axis=1)
    else:
        rows = torch.sort(data.T.to(torch.float64), dim=1).values.cpu().numpy()
    eq = rows[:, 1:] == rows[:, :-1]
    n_eq = eq.sum(axis=1)
    q25, q50, q75 = _quantiles(rows, (0.25, 0.5, 0.75))
    lo, hi = rows[:, 0], rows[:, -1]
    top = np.maximum(np.abs(lo), np.abs(hi))
    if n < 2:
        sd = np.zeros(d)
    elif float(top.max()) < 1e150:
        sd = rows.std(axis=1, ddof=1)
    else:  # squares of values this large overflow: scale by the largest magnitude first
        safe = np.where(top > 0, top, 1.0)
        sd = (rows / safe[:, None]).std(axis=1, ddof=1) * top
    off = np.zeros(d) if offset is None else np.asarray(offset, dtype=np.float64)
    bulk = np.maximum(np.abs(q25 + off), np.abs(q75 + off))
    res = np.maximum(
        np.asarray(source_eps, dtype=np.float64) * ulp_base(bulk),
        eps_work * ulp_base(np.maximum(np.abs(q25), np.abs(q75))),
    )
    out = []
    for j in range(d):
        singletons = n
        step = 0.0
        if n_eq[j]:
            tied = np.zeros(n, dtype=bool)
            tied[1:] |= eq[j]
            tied[:-1] |= eq[j]
            singletons = n - int(tied.sum())
            step = _grid_step(rows[j], eps_work)
        if step > 0:
            # Quartiles of values on a grid jump by whole steps; those of the values spread over
            # their cells (grouped-data quartiles) measure the spread of what was rounded.
            q25[j], q75[j] = (_grouped_quantile(rows[j], q, step) for q in (0.25, 0.75))
        iqr = float(q75[j] - q25[j])
        scale = iqr / IQR_TO_SD if iqr > 0 else float(sd[j])
        out.append(
            ColumnProfile(
                label=labels[j],
                n=n,
                distinct=n - int(n_eq[j]),
                singletons=singletons,
                median=float(q50[j]),
                iqr=iqr,
                scale=scale,
                sd=float(sd[j]),
                lo=float(lo[j]),
                hi=float(hi[j]),
                step=step,
                resolution=float(res[j]),
            )
        )
    return out


def _integer_categories(p: ColumnProfile) -> bool:
    """Whether an integer column holds categories (True) or whole-number measurements (False).

    A measurement (whole millimetres, counts in the thousands) has many
    distinct values and either many values seen once, which Ross's estimator
    and the plug-in histogram cannot use, or a fine grid against its spread.
    Categories (labels, small counts) repeat. Both readings estimate the same
    quantity for integer data (with unit steps the discrete entropy equals the
    differential entropy of the values dithered by one step, and MI is the
    same), so the rule only picks the estimator that is accurate.
    """
    if p.distinct < MEASUREMENT_MIN_LEVELS:
        return True
    return not (p.singletons > SINGLETON_MAX * p.n or p.steps_per_scale >= MEASUREMENT_STEPS)


_INT_KIND, _FLOAT_KIND, _LABEL_KIND = "int", "float", "label"  # label: boolean or categorical


class Samples:
    """A validated sample matrix.

    Attributes
    ----------
    data : torch.Tensor
        Shape ``(n, d)``, floating, on the requested device.
    discrete : bool
        True when every column is discrete: boolean, categorical, or integer
        columns whose values repeat like categories (integer columns with many
        distinct values seen once, or a fine grid against their spread, are
        whole-number measurements; see :func:`_integer_categories`).
    column_discrete : list of bool
        The same, per column.
    name : str
        The parameter name used in error messages.
    columns : list of str or None
        Column names of a DataFrame or Series.
    source_eps : list of float
        Machine epsilon of the type each column arrived in (0 for integers).
    offset : numpy.ndarray or None
        The per-column centre subtracted before a cast to a type of lower
        precision than the input (``data`` holds the values minus ``offset``);
        None when nothing was subtracted.
    """

    __slots__ = ("_column_discrete", "_kinds", "_profile", "columns", "data", "name", "offset", "source_eps")

    def __init__(
        self,
        data: torch.Tensor,
        discrete: bool,
        name: str,
        columns: list[str] | None,
        column_discrete: list[bool] | None = None,
        source_eps: list[float] | None = None,
        offset: np.ndarray | None = None,
        kinds: list[str] | None = None,
    ):
        self.data = data
        self.name = name
        self.columns = columns
        d = int(data.shape[1])
        self.source_eps = [float(torch.finfo(data.dtype).eps)] * d if source_eps is None else list(source_eps)
        self.offset = offset
        self._profile: list[ColumnProfile] | None = None
        # With ``kinds``, integer columns are judged (categories or measurements) when first asked,
        # so that callers reading only ``data`` (the quality scores' pixel arrays) pay no sort.
        self._kinds = kinds
        self._column_discrete: list[bool] | None = None
        if kinds is None:
            self._column_discrete = [bool(discrete)] * d if column_discrete is None else list(column_discrete)

    @property
    def column_discrete(self) -> list[bool]:
        """Per column: boolean, categorical, or integer codes whose values repeat (see :class:`Samples`)."""
        if self._column_discrete is None:
            kinds = self._kinds
            assert kinds is not None  # set whenever _column_discrete is not (__init__)
            prof: list[ColumnProfile | None] = list(self.profile()) if _INT_KIND in kinds else [None] * len(kinds)
            self._column_discrete = [
                k == _LABEL_KIND or (k == _INT_KIND and p is not None and _integer_categories(p))
                for k, p in zip(kinds, prof)
            ]
        return self._column_discrete

    @property
    def discrete(self) -> bool:
        """Whether every column is discrete (:attr:`column_discrete`)."""
        return all(self.column_discrete)

    @property
    def n(self) -> int:
        return int(self.data.shape[0])

    @property
    def d(self) -> int:
        return int(self.data.shape[1])

    def label(self, j: int) -> str:
        """``x[0]`` or ``x['age']``."""
        return column_label(self.name, self.columns, j)

    def profile(self) -> list[ColumnProfile]:
        """Per-column profile (:func:`profile_columns`), computed once and kept."""
        if self._profile is None:
            self._profile = profile_columns(
                self.data, [self.label(j) for j in range(self.d)], self.source_eps, self.offset
            )
        return self._profile


def _source_eps(dtype: Any) -> float:
    """Machine epsilon of a floating input type; 0 for integers and booleans (exact)."""
    if isinstance(dtype, torch.dtype):
        return float(torch.finfo(dtype).eps) if dtype.is_floating_point else 0.0
    dtype = np.dtype(dtype)
    return float(np.finfo(dtype).eps) if dtype.kind == "f" else 0.0


def _as_array(x: Any, name: str) -> np.ndarray:
    """``np.asarray`` with messages that name the parameter (ragged sequences, unconvertible objects)."""
    try:
        return np.asarray(x)
    except ValueError as exc:
        if isinstance(x, (list, tuple)) and "inhomogeneous" in str(exc):
            lengths = sorted({len(r) for r in x if hasattr(r, "__len__")})
            raise ValueError(
                f"{name} is a ragged sequence: its rows have different lengths {lengths}; every row must hold "
                "the same number of values (one per variable)"
            ) from None
        raise ValueError(f"{name} cannot be converted to an array: {exc}") from None
    except Exception:
        raise TypeError(f"{name} must be array-like (numpy, torch, pandas); got {type(x).__name__}") from None


def _to_numpy_or_tensor(x: Any, name: str) -> tuple[Any, list[str], list[float], list[str] | None]:
    """Convert pandas and sequences; keep torch tensors as they are (any device).

    Returns the array or tensor, the kind of each column (``"int"``,
    ``"float"`` or ``"label"`` for boolean and categorical), the epsilon of
    each column's input type and the column names.
    """
    columns = None
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if isinstance(x, np.ma.MaskedArray):
        if bool(np.ma.getmaskarray(x).any()):
            raise TypeError(
                f"{name} is a numpy masked array with {int(np.ma.count_masked(x))} masked values; estimators "  # type: ignore[no-untyped-call]
                f"do not honour masks: pass {name}.compressed() (1-D) or drop the masked rows first"
            )
        x = np.ma.getdata(x)
    if pd is not None and isinstance(x, (pd.DataFrame, pd.Series)):
        frame = x.to_frame() if isinstance(x, pd.Series) else x
        dup = frame.columns[frame.columns.duplicated()].unique().tolist()
        if dup:
            raise ValueError(f"{name} has duplicate column names {dup}; give every column a distinct name")
        if frame.shape[1] and not len(frame):
            raise ValueError(
                f"{name} must not be empty; got shape {frame.shape} (a DataFrame with columns "
                f"{list(frame.columns)} and no rows)"
            )
        columns = [str(c) for c in frame.columns]
        cols, kinds, eps = [], [], []
        for c in frame.columns:
            s = frame[c]
            if isinstance(s.dtype, pd.CategoricalDtype):
                if s.isna().any():
                    raise ValueError(f"{name} column {c!r} contains missing values")
                cols.append(s.cat.codes.to_numpy().astype(np.int64))
                kinds.append(_LABEL_KIND)
            elif pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_integer_dtype(s.dtype):
                if s.isna().any():
                    raise ValueError(f"{name} column {c!r} contains missing values")
                cols.append(s.to_numpy().astype(np.int64))
                kinds.append(_LABEL_KIND if pd.api.types.is_bool_dtype(s.dtype) else _INT_KIND)
            elif pd.api.types.is_float_dtype(s.dtype):
                eps.append(_source_eps(s.dtype.numpy_dtype if hasattr(s.dtype, "numpy_dtype") else s.dtype))
                cols.append(s.to_numpy(dtype=np.float64, na_value=np.nan))
                kinds.append(_FLOAT_KIND)
                continue
            else:
                raise TypeError(f"{name} column {c!r} has dtype {s.dtype}; expected numbers, booleans or categories")
            eps.append(0.0)
        if not cols:
            raise ValueError(f"{name} must not be empty; got a DataFrame with no columns")
        all_int = all(k != _FLOAT_KIND for k in kinds)
        arr = np.column_stack(cols) if all_int else np.column_stack([c.astype(np.float64) for c in cols])
        return arr, kinds, eps, columns
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise TypeError(f"{name} must be real-valued; got a complex tensor")
        if x.layout != torch.strided:
            raise TypeError(f"{name} must be a dense tensor; got layout {x.layout} (call {name}.to_dense())")
        if x.device.type == "meta":
            raise TypeError(f"{name} is a tensor on the 'meta' device, which holds no values")
        d = 1 if x.ndim < 2 else int(x.shape[1])
        kind = _LABEL_KIND if x.dtype == torch.bool else _FLOAT_KIND if x.is_floating_point() else _INT_KIND
        return x, [kind] * d, [_source_eps(x.dtype)] * d, None
    arr = _as_array(x, name)
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
    d = 1 if arr.ndim < 2 else int(arr.shape[1])
    kind = _LABEL_KIND if arr.dtype.kind == "b" else _INT_KIND if arr.dtype.kind in "iu" else _FLOAT_KIND
    return arr, [kind] * d, [_source_eps(arr.dtype)] * d, None


def _needs_centring(arr: Any, kinds: list[str], eps: list[float], fdtype: torch.dtype) -> bool:
    """Whether casting to ``fdtype`` loses precision the input had (so the columns are centred first)."""
    info = torch.finfo(fdtype)
    if any(k == _FLOAT_KIND and e < info.eps for k, e in zip(kinds, eps)):
        return True
    if any(k == _INT_KIND for k in kinds):
        top = float(arr.abs().max()) if isinstance(arr, torch.Tensor) else float(np.abs(arr).max())
        return top > 2.0 / info.eps  # integers beyond 2^(mantissa bits + 1) are not all representable
    return False


def _centre(arr: Any, offset: Any) -> tuple[Any, np.ndarray]:
    """Subtract a per-column centre (the median unless ``offset`` is given) in the input's own precision."""
    two_d = arr.reshape(arr.shape[0], -1)
    if isinstance(arr, torch.Tensor):
        if offset is None:
            centre = two_d.median(dim=0).values
        else:
            centre = torch.as_tensor(np.asarray(offset), device=arr.device).to(arr.dtype)
        out = two_d - centre
        off = centre.to(torch.float64).cpu().numpy()
    else:
        if offset is None:
            centre = np.median(two_d, axis=0)
            centre = np.rint(centre).astype(arr.dtype) if arr.dtype.kind in "iu" else centre.astype(arr.dtype)
        else:
            centre = np.asarray(offset).astype(arr.dtype)
        out = two_d - centre
        off = centre.astype(np.float64)
    return (out.reshape(arr.shape) if arr.ndim == 1 else out), off


def check_samples(
    x: Any,
    name: str = "x",
    *,
    device: Any = "auto",
    dtype: Any = None,
    min_samples: int = 2,
    allow_constant: bool = False,
    offset: Any = None,
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
    offset : None, False or sequence of float
        Centring before a cast that loses precision (float64 data computed in
        float32, integers beyond the working type's exact range): ``None``
        subtracts each column's median in the input's own precision when the
        cast would lose precision, so that a large offset does not swallow a
        small spread (``1e9 + 1e-3 z`` keeps its spread in float32); a
        sequence subtracts those values instead (a second sample of the same
        space, as ``q`` of a divergence, uses the first one's ``offset``);
        ``False`` never centres. ``Samples.offset`` records what was subtracted.

    Raises
    ------
    TypeError
        Non-numeric, complex or object dtypes.
    ValueError
        Empty input, ragged sequences, too few samples, more than 2
        dimensions, NaN or inf, constant columns.
    """
    arr, kinds, eps, columns = _to_numpy_or_tensor(x, name)
    shape = tuple(arr.shape)
    if len(shape) == 0:
        raise ValueError(f"{name} must be a 1-D or 2-D array of samples; got a scalar {arr!r}")
    if len(shape) > 2:
        raise ValueError(f"{name} must be 1-D (one variable) or 2-D (samples x dimensions); got shape {shape}")
    if shape[0] == 0 or (len(shape) == 2 and shape[1] == 0):
        raise ValueError(f"{name} must not be empty; got shape {shape}")
    if isinstance(device, str) and device == "auto" and isinstance(arr, torch.Tensor) and arr.device.type != "cpu":
        dev = arr.device
    else:
        dev = resolve_device(device)
    fdtype = resolve_dtype(dtype, dev)
    if isinstance(arr, torch.Tensor):
        arr = arr.detach()
        if arr.dtype == torch.bool:
            arr = arr.to(torch.int64)
    elif arr.dtype == np.bool_:
        arr = arr.astype(np.int64)
    centred = None
    if offset is not False and (offset is not None or _needs_centring(arr, kinds, eps, fdtype)):
        finite = bool(torch.isfinite(arr).all()) if isinstance(arr, torch.Tensor) else bool(np.isfinite(arr).all())
        if finite:  # non-finite values are reported below, with their position
            arr, centred = _centre(arr, offset)
    if isinstance(arr, torch.Tensor):
        t = arr.to(device=dev, dtype=fdtype)
    else:
        t = torch.as_tensor(np.ascontiguousarray(arr), device=dev).to(fdtype)
    if t.ndim == 1:
        t = t.reshape(-1, 1)
    n = t.shape[0]
    # NaN or inf anywhere makes the sum non-finite (one read pass); only then is each value checked
    finite_mask = None if bool(torch.isfinite(t.sum())) else torch.isfinite(t)
    if finite_mask is not None and not bool(finite_mask.all()):
        bad = (~finite_mask).nonzero()[0].tolist()
        value = t[bad[0], bad[1]].item()
        raise ValueError(
            f"{name} contains non-finite values ({value} at row {bad[0]}, column {bad[1]}); "
            "remove or impute NaN and inf first"
        )
    if n < min_samples:
        raise ValueError(f"{name} needs at least {min_samples} samples; got n={n}")
    if not allow_constant and n > 1:
        spread = t.max(dim=0).values - t.min(dim=0).values
        const = (spread == 0).nonzero().flatten().tolist()
        if const:
            label = columns[const[0]] if columns else const[0]
            j = const[0]
            value = t[0, j].item() + (0.0 if centred is None else float(centred[j]))
            hint = ""
            if eps[j] > np.finfo(np.float64).eps and value != 0:
                gap = eps[j] * float(ulp_base(value))
                hint = (
                    f"; if it varied by less than {gap:.3g}, its type (epsilon {eps[j]:.3g}) rounded that "
                    f"away: pass it in float64, or subtract the offset before converting"
                )
            raise ValueError(
                f"{name} column {label!r} is constant (every value is {value:g}); "
                f"a constant variable carries no information: drop it{hint}"
            )
    return Samples(t.contiguous(), False, name, columns, source_eps=eps, offset=centred, kinds=kinds)


def reject_discrete(s: Samples, method: str) -> None:
    """The one rule of every continuous estimator: integer, boolean and categorical data are refused.

    Differential entropy and the kNN/KDE/Gaussian formulas assume a density;
    discrete inputs (any column of ``Samples.column_discrete``) get a message
    that points at the histogram method or at passing floats to declare the
    data continuous. Whole-number measurements (integer columns with many
    distinct values, see :class:`Samples`) are not discrete.
    """
    if not any(s.column_discrete):
        return
    j = s.column_discrete.index(True)
    what = s.name if s.discrete else f"{s.name} column {(s.columns[j] if s.columns else j)!r}"
    raise ValueError(
        f"{what} is integer-valued, but the {method} estimator is for continuous data "
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
        raise ValueError(f"{a.name} and {b.name} must have the same dimension; got {a.name}: {a.d}, {b.name}: {b.d}")


def check_same_device(a: Samples, b: Samples) -> None:
    if a.data.device != b.data.device:
        b.data = b.data.to(a.data.device)
