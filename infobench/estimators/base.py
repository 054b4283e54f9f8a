"""The ``Estimate`` result type and the registry of estimation methods.

Every method is a plain function (a *kernel*) registered under a name and the
quantity it estimates (``"entropy"``, ``"mi"`` or ``"kl"``). The public
functions :func:`infobench.entropy`, :func:`infobench.mutual_information` and
:func:`infobench.kl_divergence` look the kernel up, reject unknown method and
parameter names before any work, time the call and return an
:class:`Estimate`.
"""

from __future__ import annotations

import contextvars
import dataclasses
import html
import inspect
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from infobench.diagnostics import Diagnostic, as_diagnostics, doubtful, emit, summary

if TYPE_CHECKING:  # pandas is imported when a table is asked for
    import pandas as pd

__all__ = [
    "Estimate",
    "interval_quantile",
    "MethodInfo",
    "available",
    "register",
    "get_method",
    "run_method",
    "QUANTITIES",
]

QUANTITIES = ("entropy", "mi", "kl")
_QUANTITY_TEXT = {"entropy": "entropy H(X)", "mi": "mutual information I(X;Y)", "kl": "KL divergence D(P||Q)"}
LOG2 = math.log(2.0)


def interval_quantile(level: float, df: float | None) -> float:
    """Two-sided ``level`` quantile: Student's t with ``df`` degrees of freedom, normal when ``df`` is None or inf.

    The multiplier of a standard error estimated with ``df`` degrees of
    freedom (2.052 at 95 % and df = 27; 1.960 without). Used by
    :meth:`Estimate.interval` and by the coverage of the reports.
    """
    from scipy.stats import norm, t  # deferred: scipy is slow to import and most estimates need no interval

    p = 0.5 + level / 2
    if df is None or not math.isfinite(df):
        return float(norm.ppf(p))
    return float(t.ppf(p, df))


@dataclass(frozen=True)
class Estimate:
    """An information estimate in nats.

    Attributes
    ----------
    value : float
        The estimate in nats, never clipped (a negative MI estimate is kept:
        it says something about the estimator's bias).
    std_err : float or None
        Standard error of ``value`` in nats, when requested and available.
    n : int
        Number of samples used (for KL, the size of the sample from P).
    method : str
        Registered method name.
    params : dict
        Parameters the method ran with, defaults included.
    seconds : float
        Wall-clock time of the estimate.
    extras : dict
        Method-specific details (e.g. bandwidths, bins, training curves).
    diagnostics : tuple of Diagnostic
        What the method found doubtful about this number on these data (ties,
        extreme values, reduced precision, ...); empty when every condition
        its formula needs held. See :mod:`infobench.diagnostics`.
    std_err_df : float or None
        Degrees of freedom of ``std_err`` itself when it is estimated from a
        few independent pieces (the subsampling standard error of the kNN and
        histogram estimators: ``partitions * (folds - 1)``, see
        :func:`~infobench.estimators._uncertainty.subsample_std_err`; a
        bootstrap: ``n_boot - 1``). :meth:`interval` then uses Student's t
        quantile with these degrees of freedom. ``None``: the standard error
        is treated as known (normal quantile).
    """

    value: float
    std_err: float | None = None
    n: int = 0
    method: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    extras: Mapping[str, Any] = field(default_factory=dict)
    diagnostics: tuple[Diagnostic, ...] = ()
    std_err_df: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "diagnostics", as_diagnostics(self.diagnostics))

    @property
    def doubtful(self) -> bool:
        """Whether a diagnostic says this number may be wrong (see :attr:`diagnostics`)."""
        return doubtful(self.diagnostics)

    def __float__(self) -> float:
        return float(self.value)

    @property
    def bits(self) -> float:
        """The value in bits (``value / ln 2``)."""
        return self.value / LOG2

    @property
    def std_err_bits(self) -> float | None:
        return None if self.std_err is None else self.std_err / LOG2

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        r"""Confidence interval ``value ± q * std_err`` in nats.

        ``q`` is the two-sided ``level`` quantile of Student's t with
        :attr:`std_err_df` degrees of freedom when the standard error carries
        them (a standard error estimated with :math:`\nu` degrees of freedom is
        itself noisy: :math:`(\hat\theta - \theta)/\widehat{\mathrm{se}}` is
        :math:`t_\nu`, so the normal quantile would cover less than ``level``:
        0.939 instead of 0.95 at :math:`\nu = 27`), and of the normal
        distribution otherwise (1.96 at 95 %).
        """
        if self.std_err is None:
            raise ValueError("this estimate has no std_err; call again with std_err=True")
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1); got {level!r}")
        q = interval_quantile(level, self.std_err_df)
        return (self.value - q * self.std_err, self.value + q * self.std_err)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["params"] = dict(self.params)
        d["extras"] = dict(self.extras)
        d["diagnostics"] = [x.to_dict() for x in self.diagnostics]
        return d

    def __repr__(self) -> str:
        se = "" if self.std_err is None else f" ± {self.std_err:.4g}"
        doubts = summary(self.diagnostics)
        flag = f", doubts: {doubts}" if doubts else ""
        return f"Estimate({self.value:.6g}{se} nats, method={self.method!r}, n={self.n}{flag})"

    def _repr_html_(self) -> str:
        """The estimate in a notebook: value, standard error and 95% interval, method, n, diagnostics."""
        esc = html.escape
        rows = [("value", f"{self.value:.6g} nats ({self.bits:.6g} bits)")]
        if self.std_err is not None:
            rows.append(("std_err", f"{self.std_err:.4g} nats"))
            if math.isfinite(self.std_err):
                low, high = self.interval(0.95)
                quantile = "" if self.std_err_df is None else f" (t, {self.std_err_df:g} df)"
                rows.append((f"95% interval{quantile}", f"[{low:.6g}, {high:.6g}] nats"))
        rows.append(("method", self.method))
        if "chosen" in self.extras:  # auto: what it ran, and why
            rows.append(("chosen", f"{self.extras['chosen']}: {self.extras.get('reason', '')}"))
        rows.append(("n", str(self.n)))
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        if params:
            rows.append(("params", params))
        rows.append(("seconds", f"{self.seconds:.3g}"))
        cells = "".join(
            f'<tr><th style="text-align:left">{esc(k)}</th><td style="text-align:left">{esc(v)}</td></tr>'
            for k, v in rows
        )
        if self.diagnostics:
            items = "".join(f"<li><strong>{esc(d.severity)}</strong> {esc(str(d))}</li>" for d in self.diagnostics)
            diag = f'<ul style="margin:0;padding-left:1.2em">{items}</ul>'
        else:
            diag = "none"
        cells += f'<tr><th style="text-align:left">diagnostics</th><td style="text-align:left">{diag}</td></tr>'
        title = "Estimate" + (" (doubtful: see diagnostics)" if self.doubtful else "")
        return f'<div class="infobench-estimate"><strong>{esc(title)}</strong><table>{cells}</table></div>'


@dataclass(frozen=True)
class MethodInfo:
    """What a registered method estimates and the parameters it takes."""

    name: str
    quantity: str
    function: Callable[..., Estimate]
    params: Mapping[str, Any]
    summary: str
    conditions: tuple[str, ...] = ()

    @property
    def description(self) -> str:
        return _QUANTITY_TEXT[self.quantity]


_REGISTRY: dict[tuple[str, str], MethodInfo] = {}
# How many run_method calls are on the stack: only the outermost one (the call the
# user made) emits the diagnostics as warnings; a method that calls another (auto)
# carries the inner estimate's diagnostics on its own.
_DEPTH: contextvars.ContextVar[int] = contextvars.ContextVar("infobench_run_depth", default=0)
# Arguments every kernel receives positionally (samples), not user parameters.
_DATA_ARGS = {"entropy": ("x",), "mi": ("x", "y"), "kl": ("p", "q")}


# A kernel keeps its own type through @register, so editors and type checkers see its signature.
_Kernel = TypeVar("_Kernel", bound=Callable[..., Any])


def register(quantity: str, name: str, *, replace: bool = False) -> Callable[[_Kernel], _Kernel]:
    """Decorator: register ``func`` as method ``name`` for ``quantity``.

    The kernel's signature is ``func(<data args>, *, param=default, ...)``
    and it returns an :class:`Estimate` (``seconds`` and ``method`` are filled
    in by the dispatcher). Every keyword parameter must have a default; they
    are what :func:`available` lists and what the dispatcher accepts.
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {list(QUANTITIES)}; got {quantity!r}")

    def deco(func: _Kernel) -> _Kernel:
        key = (quantity, name)
        if key in _REGISTRY and not replace:
            raise ValueError(f"method {name!r} is already registered for {quantity}")
        sig = inspect.signature(func)
        params = {}
        data_args = _DATA_ARGS[quantity]
        positional = [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(positional) != len(data_args):
            raise TypeError(f"kernel {func.__name__} must take {len(data_args)} sample arguments {data_args}")
        for p in sig.parameters.values():
            if p.kind == p.KEYWORD_ONLY:
                if p.default is inspect.Parameter.empty:
                    raise TypeError(f"kernel {func.__name__}: parameter {p.name} needs a default")
                params[p.name] = p.default
        doc = inspect.getdoc(func) or ""
        summary = doc.strip().splitlines()[0] if doc.strip() else name
        # The validity conditions the kernel declared next to its definition
        # (infobench.estimators._conditions.requires).
        conditions = tuple(getattr(func, "conditions", ()))
        _REGISTRY[key] = MethodInfo(
            name=name, quantity=quantity, function=func, params=params, summary=summary, conditions=conditions
        )
        return func

    return deco


def _ensure_loaded() -> None:
    # Importing the estimator modules registers their kernels.
    from infobench import estimators  # noqa: F401


def methods_for(quantity: str) -> list[str]:
    _ensure_loaded()
    return sorted(name for (q, name) in _REGISTRY if q == quantity)


def get_method(quantity: str, method: Any) -> MethodInfo:
    """Look a method up; an unknown name raises ``ValueError`` listing the valid ones."""
    _ensure_loaded()
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {list(QUANTITIES)}; got {quantity!r}")
    if not isinstance(method, str):
        raise TypeError(f"method must be a string; got {type(method).__name__} {method!r}")
    key = (quantity, method)
    if key not in _REGISTRY:
        valid = methods_for(quantity)
        raise ValueError(f"method must be one of {valid} for {_QUANTITY_TEXT[quantity]}; got {method!r}")
    return _REGISTRY[key]


def available(quantity: str | None = None) -> pd.DataFrame:
    """List the registered methods as a ``pandas.DataFrame``.

    Columns: ``method``, ``quantity``, ``estimates`` (in words), ``params``
    (a dict of parameter names to defaults), ``summary`` and ``conditions``
    (the codes of the validity conditions the method checks; see
    :data:`infobench.estimators._conditions.CONDITIONS`).
    """
    import pandas as pd

    _ensure_loaded()
    if quantity is not None and quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {list(QUANTITIES)} or None; got {quantity!r}")
    rows = [
        {
            "method": info.name,
            "quantity": info.quantity,
            "estimates": info.description,
            "params": dict(info.params),
            "summary": info.summary,
            "conditions": list(info.conditions),
        }
        for (q, _), info in sorted(_REGISTRY.items())
        if quantity is None or q == quantity
    ]
    return pd.DataFrame(rows, columns=["method", "quantity", "estimates", "params", "summary", "conditions"])


def run_method(quantity: str, method: str, data: tuple[Any, ...], params: Mapping[str, Any]) -> Estimate:
    """Validate parameter names, call the kernel, and stamp method, params and time."""
    info = get_method(quantity, method)
    unknown = sorted(set(params) - set(info.params))
    if unknown:
        raise ValueError(
            f"unknown parameter {unknown[0]!r} for method {method!r}; valid parameters are {sorted(info.params)}"
        )
    t0 = time.perf_counter()
    depth = _DEPTH.set(_DEPTH.get() + 1)
    try:
        est = info.function(*data, **params)
    finally:
        _DEPTH.reset(depth)
    seconds = time.perf_counter() - t0
    if not isinstance(est, Estimate):  # pragma: no cover - programming error in a kernel
        raise TypeError(f"kernel for {method!r} returned {type(est).__name__}, not Estimate")
    full = dict(info.params)
    full.update(params)
    full.update({k: v for k, v in est.params.items()})
    if not math.isfinite(est.value):
        raise FloatingPointError(
            f"method {method!r} produced a non-finite estimate ({est.value}); this is a bug, please report it"
        )
    if _DEPTH.get() == 0:
        # stacklevel 3: run_method <- the public function <- the user's line.
        emit(est.diagnostics, stacklevel=3)
    return dataclasses.replace(est, method=method, params=full, seconds=seconds)
