"""Histogram (plug-in) entropy and mutual information with the Miller–Madow correction.

Each column is either *binned* (continuous data: equal-width bins between the
column's minimum and maximum) or *discrete* (integer, boolean or categorical
data: one cell per observed value). Rows are then counted in the product
cells. Counting is a bincount when there are at most about ``4n`` cells and a
sort of the ``n`` cell codes otherwise, so memory is O(n) however many bins a
rule asks for.

Bin rules
---------
``bins`` is an integer (the same for every binned column), a rule name, or a
sequence with one integer or rule per column. The rules give a bin *width*
per column, and the number of bins is ``ceil(range / width)`` exactly as
:func:`numpy.histogram_bin_edges` computes it:

* ``"fd"`` (Freedman–Diaconis 1981): ``2 IQR n_eff^(-1/3)``;
* ``"sturges"`` (Sturges 1926): ``range / (log2 n_eff + 1)``;
* ``"sqrt"``: ``range / sqrt(n_eff)``.

For one binned column ``n_eff = n`` and the bins equal numpy's. For ``d``
binned columns ``n_eff = n^(3 / (d + 2))``, so that the widths shrink as
``n^(-1/(d + 2))``, the rate of the optimal multivariate histogram (Scott
1992, ch. 3); the one-dimensional rate would leave most of the ``d``-dim cells
holding one point. Where a column's IQR is 0 the ``"fd"`` rule falls back to
``"sturges"`` (as numpy's ``"auto"`` does).

Units
-----
Equal-width bins between a column's extremes, with rule widths proportional
to its spread, are already exactly scale-equivariant: the cell counts are the
same in any units and the log bin volume carries the units (``log c`` per
column multiplied by ``c``), which is the exact log-Jacobian that the kNN and
KDE estimators add back under ``transform="scale"``. So ``"scale"``
(default) and ``"none"`` bin the given values (dividing first would only
move bin counts by rounding and lose the bit-for-bit agreement with
:func:`numpy.histogram`); the parameter gives every estimator the same
interface. ``transform="copula"`` (MI only) bins normal scores of the ranks
(:mod:`infobench.estimators._transforms`). Discrete columns are untouched.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch

from infobench._validation import (
    Samples,
    as_generator,
    check_bool,
    check_choice,
    check_int,
    check_pair,
    check_samples,
)
from infobench.estimators._conditions import Findings, grid_columns, requires
from infobench.estimators._transforms import check_transform, iqr, transform_columns
from infobench.estimators._uncertainty import (
    bootstrap_std_err,
    check_std_err_rows,
    mean_std_err,
    subsample_df,
    subsample_std_err,
)
from infobench.estimators.base import Estimate, register

__all__ = ["histogram_entropy", "histogram_mutual_information", "BIN_RULES"]

BIN_RULES = ("fd", "sturges", "sqrt")
#: Rows alone in their cell: from this fraction a doubt, ...
SPARSE_WARN = 0.5
#: ... from this one refused (the plug-in then reads log n plus the log cell volume).
SPARSE_MAX = 0.9
#: A binned column spanning more robust sds than this cannot be cut into bins fine enough for its bulk.
MAX_RANGE_SCALES = 1e15
#: A bin wider than this many robust sds of its column is a doubt, ...
COARSE_BIN_WARN = 2.0
#: ... wider than this one refused.
COARSE_BIN_MAX = 10.0
SE_METHODS = ("subsample", "delta", "bootstrap")
_BINS_TEXT = f"a positive integer, one of {list(BIN_RULES)}, or a sequence of those with one entry per column"


# ------------------------------------------------------------------ binning
def _parse_bins(bins: Any, d: int, name: str = "bins") -> list[int | str]:
    """One bin spec (int >= 1 or rule name) per column."""
    if isinstance(bins, str):
        return [_parse_one_bin(bins, name)] * d
    if isinstance(bins, (bool, np.bool_)):
        raise TypeError(f"{name} must be {_BINS_TEXT}; got {bins!r}")
    if isinstance(bins, (numbers.Number, np.generic)):
        return [_parse_one_bin(bins, name)] * d
    if isinstance(bins, (list, tuple, np.ndarray, torch.Tensor)):
        items = list(bins.tolist() if isinstance(bins, (np.ndarray, torch.Tensor)) else bins)
        if len(items) != d:
            raise ValueError(f"{name} must have one entry per column ({d}); got {len(items)} entries: {bins!r}")
        return [_parse_one_bin(b, f"{name}[{i}]") for i, b in enumerate(items)]
    raise TypeError(f"{name} must be {_BINS_TEXT}; got {type(bins).__name__} {bins!r}")


def _parse_one_bin(b: Any, name: str) -> int | str:
    if isinstance(b, str):
        return cast(str, check_choice(name, b, BIN_RULES))
    if isinstance(b, (bool, np.bool_)) or not isinstance(b, numbers.Real):
        raise TypeError(f"{name} must be {_BINS_TEXT}; got {b!r}")
    return check_int(name, b, low=1)


def _rule_width(rule: str, col: torch.Tensor, span: float, n_eff: float) -> float:
    if rule == "fd":
        spread = iqr(col)
        if spread > 0:
            return cast(float, 2.0 * spread * n_eff ** (-1.0 / 3.0))
        rule = "sturges"
    if rule == "sturges":
        return span / (math.log2(n_eff) + 1.0)
    return span / math.sqrt(n_eff)


@dataclass(frozen=True)
class _OnGrid:
    """A bin spec for a column whose values lie on a grid of ``step``: bins of whole steps, edges between values."""

    spec: int | str
    step: float


def _grid_codes(col: torch.Tensor, spec: _OnGrid, n_eff: float) -> tuple[torch.Tensor, int, float]:
    """Bins of a whole number of grid steps, with edges halfway between grid values.

    The width the rule (or ``spec`` bins between the extremes) asks for is
    rounded to a whole number ``r >= 1`` of steps ``h``, and the first edge
    is ``min - h/2``: every value then lies ``h/2`` or more inside its bin,
    each bin holds ``r`` grid values, and the estimate is that of the values
    spread uniformly over their grid cells (no bin narrower than the data's
    resolution, none holding a varying number of grid values).
    """
    h = spec.step
    lo, hi = float(col.min()), float(col.max())
    span = hi - lo
    if span <= 0:
        return torch.zeros_like(col, dtype=torch.int64), 1, math.log(h)
    width = _rule_width(spec.spec, col, span, n_eff) if isinstance(spec.spec, str) else span / spec.spec
    w = h * max(1, round(width / h))
    start = lo - h / 2.0
    k = max(1, int(math.ceil((span + h) / w - 1e-9)))
    idx = torch.floor((col - start) / w).to(torch.int64).clamp_(0, k - 1)
    return idx, k, math.log(w)


def _bin_codes(col: torch.Tensor, spec: int | str | _OnGrid, n_eff: float) -> tuple[torch.Tensor, int, float]:
    """Equal-width bin index of each value, the bin count and the log bin width.

    Bin ``i`` is ``[e_i, e_{i+1})`` (the last one closed) with
    ``e_i = lo + i * (hi - lo) / k``: numpy's edges, computed on the fly so a
    rule asking for 10^8 bins costs no memory. The first guess
    ``floor((x - lo) k / span)`` can be one off by rounding; it is corrected
    against the edges as :func:`numpy.histogram` does.
    """
    if isinstance(spec, _OnGrid):
        return _grid_codes(col, spec, n_eff)
    lo, hi = float(col.min()), float(col.max())
    span = hi - lo
    if span <= 0:
        # check_samples refuses constant columns, so only a resample or subsample gets here.
        raise ValueError(
            f"std_err: a bootstrap resample or subsample (n={col.shape[0]}) has a constant column, whose "
            "bin width is 0; use more samples or se_method='delta'"
        )
    if isinstance(spec, str):
        width = _rule_width(spec, col, span, n_eff)
        k = max(1, int(math.ceil(span / width)))
    else:
        k = spec
    step = span / k
    idx = ((col - lo) / span * k).to(torch.int64).clamp_(0, k - 1)

    def edge(i: torch.Tensor) -> torch.Tensor:
        e = i.to(col.dtype) * step + lo
        return torch.where(i >= k, torch.full_like(e, hi), e)

    idx = idx - (col < edge(idx)).to(torch.int64)
    idx = idx + ((col >= edge(idx + 1)) & (idx != k - 1)).to(torch.int64)
    return idx, k, math.log(step)


def _value_codes(col: torch.Tensor) -> tuple[torch.Tensor, int]:
    """One code per distinct value (discrete columns)."""
    uniq, inv = torch.unique(col, return_inverse=True)
    return inv, int(uniq.numel())


@dataclass
class _Cells:
    """Per-column cell codes of a sample, and the log bin width of each column (0 if discrete)."""

    codes: list[torch.Tensor]
    sizes: list[int]
    log_widths: list[float]


def _cells(data: torch.Tensor, discrete: list[bool], specs: Sequence[int | str | _OnGrid]) -> _Cells:
    n_binned = sum(not flag for flag in discrete)
    n = data.shape[0]
    n_eff = float(n) if n_binned <= 1 else n ** (3.0 / (n_binned + 2.0))
    codes, sizes, widths = [], [], []
    for j in range(data.shape[1]):
        if discrete[j]:
            c, k = _value_codes(data[:, j])
            w = 0.0
        else:
            c, k, w = _bin_codes(data[:, j], specs[j], n_eff)
        codes.append(c)
        sizes.append(k)
        widths.append(w)
    return _Cells(codes, sizes, widths)


def _count(cells: _Cells, columns: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Counts of the occupied product cells over ``columns`` and each row's cell index."""
    sizes = [cells.sizes[j] for j in columns]
    n_cells = math.prod(sizes)
    if n_cells < 2**62:
        # Mixed-radix code: one int64 per row, so counting is a 1-D problem.
        key = torch.zeros_like(cells.codes[columns[0]])
        for j in columns:
            key = key * cells.sizes[j] + cells.codes[j]
        if n_cells <= 4 * key.numel() + 4096:
            # Few cells: an O(n + cells) bincount beats a sort.
            dense = torch.bincount(key, minlength=n_cells)
            occupied = dense.nonzero().flatten()
            slot = torch.zeros_like(dense)
            slot[occupied] = torch.arange(occupied.numel(), device=key.device)
            return dense[occupied], slot[key]
        _, inv, counts = torch.unique(key, return_inverse=True, return_counts=True)
    else:
        stacked = torch.stack([cells.codes[j] for j in columns], dim=1)
        _, inv, counts = torch.unique(stacked, dim=0, return_inverse=True, return_counts=True)
    return counts, inv


@dataclass
class _Plugin:
    """Plug-in entropy of the cell distribution of some columns, with its ingredients."""

    entropy: float  # -sum p log p + log bin volume, nats
    occupied: int  # m, non-empty cells
    terms: torch.Tensor  # -log(count of row i's cell / n), float64, shape (n,)
    alone: int = 0  # rows alone in their cell


def _plugin(cells: _Cells, columns: Sequence[int], n: int) -> _Plugin:
    counts, inv = _count(cells, columns)
    c = counts.to(torch.float64)
    ent = math.log(n) - float((c * torch.log(c)).sum()) / n
    ent += sum(cells.log_widths[j] for j in columns)
    terms = math.log(n) - torch.log(c)[inv]
    return _Plugin(ent, int(counts.numel()), terms, int((counts == 1).sum()))


def _mm(p: _Plugin, n: int) -> float:
    """Miller (1955) correction ``(m - 1) / (2 n)`` of the plug-in entropy's bias."""
    return (p.occupied - 1) / (2.0 * n)


# ------------------------------------------------------------------ checks
def _discrete_flags(s: Samples, discrete: Any, name: str) -> list[bool]:
    """Per-column flags: None infers them (:attr:`Samples.column_discrete`), a bool sets all, a sequence each."""
    if discrete is None:
        return list(s.column_discrete)
    if isinstance(discrete, (list, tuple, np.ndarray)):
        items = list(discrete)
        if len(items) != s.d:
            raise ValueError(
                f"{name} must be True, False, None or one bool per column of {s.name} ({s.d}); got "
                f"{len(items)} entries: {discrete!r}"
            )
        return [check_bool(f"{name}[{i}]", v) for i, v in enumerate(items)]
    return [check_bool(name, discrete)] * s.d


#: A rule's bins at least this many grid steps wide are left as they are: one step more or less per bin
#: changes its count by under a quarter of its share, while rounding the width to whole steps would
#: move it by up to half a step.
ALIGN_MAX_STEPS = 4.0


def _on_grid(
    s: Samples,
    flags: list[bool],
    specs: Sequence[int | str | _OnGrid],
    findings: Findings,
    quantity: str,
    offset: int = 0,
) -> Sequence[int | str | _OnGrid]:
    """``specs`` with the binned columns of ``s`` on a coarse grid turned into :class:`_OnGrid` specs.

    Refuses categories stored as numbers for an entropy (they have no
    differential entropy) and values rounded by their numeric type
    (:func:`~infobench.estimators._conditions.grid_columns`). Bins narrower
    than :data:`ALIGN_MAX_STEPS` grid steps are made whole steps with edges
    between grid values (an info diagnostic ``quantised``); otherwise a bin
    holding one grid value more or less than its neighbour would alias.
    """
    binned = [j for j in range(s.d) if not flags[offset + j]]
    if not binned:
        return specs
    prof = s.profile()
    out = list(specs)
    n_binned = sum(not f for f in flags)
    n_eff = float(s.n) if n_binned <= 1 else s.n ** (3.0 / (n_binned + 2.0))
    for j in grid_columns(s, findings, quantity=quantity, method="histogram", columns=binned, notes=False):
        p = prof[j]
        if not (p.step > 0 and p.step >= p.resolution):
            continue
        spec = cast("int | str", specs[offset + j])  # this sample's columns are not on a grid yet
        col = s.data[:, j]
        span = p.hi - p.lo
        width = _rule_width(spec, col, span, n_eff) if isinstance(spec, str) else span / spec
        if width / p.step >= ALIGN_MAX_STEPS:
            continue
        out[offset + j] = _OnGrid(spec, p.step)
        findings.info(
            "quantised",
            (
                f"{p.label} repeats values on a grid of step {p.step:g} ({p.tied_rows / p.n:.0%} of rows tied) and "
                f"the bins would hold {width / p.step:.2g} grid values each: they were made whole grid steps "
                f"({max(1, round(width / p.step))}) with edges halfway between grid values, so that no bin is "
                f"narrower than the data's resolution or holds a varying number of grid values"
            ),
            subject=p.label,
        )
    return out


def _check_range(s: Samples, flags: list[bool], offset: int = 0) -> None:
    """``extreme-values``: equal-width bins cannot resolve the bulk of a column that spans 1e15 robust sds."""
    for j, p in enumerate(s.profile()):
        if flags[offset + j] or not p.scale > 0:
            continue
        ratio = (p.hi - p.lo) / p.scale
        if ratio > MAX_RANGE_SCALES:
            far = p.hi if abs(p.hi - p.median) >= abs(p.lo - p.median) else p.lo
            off = 0.0 if s.offset is None else float(s.offset[j])
            raise ValueError(
                f"{p.label} spans {ratio:.3g} robust sds (IQR / 1.349 = {p.scale:.3g}; its farthest value is "
                f"{far + off:.3g}): equal-width bins fine enough for its bulk would number beyond what floats "
                f"can index; remove fill values or extreme rows, or use method='knn' (entropy) / 'ksg' (MI)"
            )


def _check_cells(p: _Plugin, n: int, what: str, findings: Findings) -> None:
    """``sparse-cells``: the plug-in needs cells holding several rows; rows alone in theirs are refused or doubted."""
    frac = p.alone / n
    if frac < SPARSE_WARN:
        return
    message = (
        f"{p.alone} of {n} rows ({frac:.0%}) are alone in their cell of {what} ({p.occupied} occupied "
        f"cells): the plug-in entropy of such cells is about log n plus the log cell volume whatever the "
        f"data, and the Miller-Madow correction assumes counts well above 1; use fewer bins (a rule such "
        f"as bins='fd'), fewer columns, or more samples"
    )
    if frac >= SPARSE_MAX:
        raise ValueError(message)
    findings.warn("sparse-cells", message)


def _check_copy(px: _Plugin, py: _Plugin, pxy: _Plugin, flags: list[bool], dx: int) -> None:
    """``saturated``: binned sides whose joint cells are one side's cells are a copy; the MI would be H(binned side).

    With continuous values on both sides, each occupied x cell meeting a
    single y cell (or the reverse) means one side determines the other at
    the bins' resolution: the plug-in then reads that side's binned entropy,
    which grows without bound with the number of bins (the MI of ``y == x``
    is +inf). Discrete sides are exempt: ``y = f(x)`` for labels has the
    finite MI ``H(Y)``, which is what the plug-in reads.
    """
    if all(flags[:dx]) or all(flags[dx:]) or pxy.occupied < 2:
        return
    if pxy.occupied in (px.occupied, py.occupied):
        side = "y" if pxy.occupied == px.occupied else "x"
        raise ValueError(
            f"every occupied cell of the joint sample (x, y) is a cell of {'x' if side == 'y' else 'y'} alone "
            f"({pxy.occupied} cells): {side} is, at the bins' resolution, a copy or a function of the other side, "
            f"so the plug-in would read that side's binned entropy, which grows with the number of bins, while "
            f"the MI of continuous variables so related is +inf; check that y is not computed from x"
        )


def _check_widths(s: Samples, cells: _Cells, flags: list[bool], findings: Findings, offset: int = 0) -> None:
    """``coarse-bins``: a bin wider than the column's robust spread cannot resolve its density."""
    prof = s.profile()
    for j in range(s.d):
        if flags[offset + j] or not prof[j].scale > 0:
            continue
        width = math.exp(cells.log_widths[offset + j])
        ratio = width / prof[j].scale
        if ratio <= COARSE_BIN_WARN:
            continue
        message = (
            f"{prof[j].label} is cut into bins {width:.3g} wide, {ratio:.3g} times its robust sd "
            f"(IQR / 1.349 = {prof[j].scale:.3g}; {cells.sizes[offset + j]} bins between {prof[j].lo:.3g} "
            f"and {prof[j].hi:.3g}): bins that wide cannot resolve its density (a range-based rule "
            f"stretched by extreme values, or too few bins); use bins='fd' (widths from the IQR) or more "
            f"bins, and remove fill values or outliers"
        )
        if ratio > COARSE_BIN_MAX:
            raise ValueError(message)
        findings.warn("coarse-bins", message, subject=prof[j].label)


def _check_se(std_err: Any, se_method: Any, n_boot: Any, seed: Any) -> tuple[bool, str, int, Any]:
    std_err = check_bool("std_err", std_err)
    se_method = check_choice("se_method", se_method, SE_METHODS)
    n_boot = check_int("n_boot", n_boot, low=2)
    # None stays None: a fresh OS-seeded generator costs a system call.
    return std_err, se_method, n_boot, None if seed is None else as_generator(seed)


def _se_df(std_err: bool, se_method: str, n_boot: int, n: int) -> float | None:
    """Degrees of freedom of the standard error (:attr:`Estimate.std_err_df`): the t quantile of its interval.

    ``partitions * (folds - 1)`` for subsampling, ``n_boot - 1`` for the
    bootstrap's replicates; ``None`` (normal) for the delta method, a mean of
    ``n`` terms (``n - 1`` degrees of freedom).
    """
    if not std_err or se_method == "delta":
        return None
    return subsample_df(n) if se_method == "subsample" else n_boot - 1


def _entropy_parts(
    data: torch.Tensor, flags: list[bool], specs: Sequence[int | str | _OnGrid], mm: bool
) -> tuple[float, _Plugin, _Cells]:
    n, d = data.shape
    cells = _cells(data, flags, specs)
    p = _plugin(cells, range(d), n)
    return p.entropy + (_mm(p, n) if mm else 0.0), p, cells


def _mi_parts(
    data: torch.Tensor, dx: int, flags: list[bool], specs: Sequence[int | str | _OnGrid], mm: bool
) -> tuple[float, tuple[_Plugin, _Plugin, _Plugin], _Cells]:
    n, d = data.shape
    # One set of edges for the joint sample; the marginals reuse its columns,
    # so the log-bin-volume terms cancel exactly in H(X) + H(Y) - H(X, Y).
    cells = _cells(data, flags, specs)
    px, py, pxy = (_plugin(cells, cols, n) for cols in (range(dx), range(dx, d), range(d)))
    value = px.entropy + py.entropy - pxy.entropy
    if mm:
        value += _mm(px, n) + _mm(py, n) - _mm(pxy, n)
    return value, (px, py, pxy), cells


# ------------------------------------------------------------------ kernels
@register("entropy", "histogram")
@requires("categories", "precision", "quantised", "extreme-values", "sparse-cells", "coarse-bins")
def histogram_entropy(
    x: Any,
    *,
    bins: Any = "fd",
    miller_madow: bool = True,
    discrete: bool | None = None,
    std_err: bool = False,
    se_method: str = "subsample",
    n_boot: int = 100,
    seed: Any = None,
    device: Any = "auto",
    dtype: Any = None,
    transform: str = "scale",
) -> Estimate:
    r"""Plug-in histogram entropy with the Miller–Madow correction, in nats.

    Parameters
    ----------
    x : array-like, torch.Tensor or pandas object, shape (n, d)
        Samples in rows.
    bins : int, {"fd", "sturges", "sqrt"} or sequence
        Bins per column (see the module notes for the rules); unused for
        discrete columns.
    miller_madow : bool
        Add the Miller–Madow bias correction :math:`(m-1)/(2n)`, ``m`` the
        number of occupied cells (default True).
    discrete : bool or None
        None (default): integer, boolean and categorical inputs are discrete,
        floating inputs are binned. True: count distinct rows (e.g. labels
        stored as floats). False: bin integer data as if continuous.
    std_err : bool
        Return a standard error (see ``se_method``).
    se_method : {"subsample", "delta", "bootstrap"}
        ``"subsample"`` (default): the spread of this estimator (bins
        recomputed) over disjoint random subsets, scaled to ``n`` with the
        root-n rate (:func:`~infobench.estimators._uncertainty.subsample_std_err`;
        cost: 30 estimates on n/10 rows from n = 2,000, about 3 estimates'
        time; needs ``n >= 4``; 27 degrees of freedom, ``Estimate.std_err_df``,
        so :meth:`~infobench.Estimate.interval` uses Student's t quantile;
        ``"bootstrap"``: ``n_boot - 1``). Calibrated where the delta method is too
        small (0.78 of the seed-to-seed spread, 1-d, n = 10,000: the random
        bin width adds variance the delta method leaves out).
        ``"delta"``: the delta-method standard error of the plug-in,
        :math:`\sqrt{\widehat{\mathrm{Var}}[-\log\hat p(X)]/n}`, which is the
        spread of the per-row terms of which the plug-in is the mean
        (Basharin 1959); cheap and exact to first order, but it vanishes for a
        uniform cell distribution, where the fluctuation is second order.
        ``"bootstrap"``: ``n_boot`` seeded row resamples with the bins
        recomputed each time, so the variability of a data-driven rule is
        included.
    n_boot : int
        Bootstrap replicates (>= 2), used with ``se_method="bootstrap"``.
    seed : int, numpy.random.Generator, torch.Generator or None
        Seed for the bootstrap.
    device, dtype
        Where and in what precision to bin (``"auto"``: CUDA if present).
    transform : {"scale", "none"}
        Both bin the given values: equal-width bins are already exactly
        scale-equivariant, the log bin volume being the log-Jacobian (module
        notes). ``"copula"`` is refused (no exact Jacobian).

    Returns
    -------
    Estimate
        ``value`` in nats: discrete entropy when every column is discrete,
        otherwise differential entropy (of the binned columns, plus the
        discrete entropy of the discrete ones). ``extras`` holds ``bins``
        (bins per column, distinct values for discrete ones),
        ``log_bin_volume``, ``occupied_cells`` and ``miller_madow_term``.

    Notes
    -----
    With counts :math:`c_b` in cells of volume :math:`v` (product of the bin
    widths), :math:`\hat H = -\sum_b \frac{c_b}{n}\log\frac{c_b}{n} + \log v
    + \frac{m-1}{2n}`: the plug-in estimate of the discretised entropy plus
    the log bin volume approximates the differential entropy (Cover & Thomas
    2006, Theorem 8.3.1), and :math:`(m-1)/(2n)` removes the first-order bias
    of the plug-in (Miller 1955; Paninski 2003).

    References
    ----------
    G. A. Miller, "Note on the bias of information estimates", 1955.
    L. Paninski, "Estimation of entropy and mutual information", Neural
    Computation 15, 2003.
    D. Freedman and P. Diaconis, "On the histogram as a density estimator:
    L2 theory", Z. Wahrscheinlichkeitstheorie 57, 1981.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=10000)
    >>> round(histogram_entropy(x).value, 2)   # truth 0.5 log(2 pi e) = 1.42
    1.42
    """
    transform = check_transform(transform, quantity="entropy")
    s = check_samples(x, "x", device=device, dtype=dtype)
    specs: Sequence[int | str | _OnGrid] = _parse_bins(bins, s.d)
    mm = check_bool("miller_madow", miller_madow)
    flags = _discrete_flags(s, discrete, "discrete")
    std_err, se_method, n_boot, rng = _check_se(std_err, se_method, n_boot, seed)
    if std_err:
        check_std_err_rows(s.n, 2)
    findings = Findings()
    specs = _on_grid(s, flags, specs, findings, "entropy")
    _check_range(s, flags)

    value, p, cells = _entropy_parts(s.data, flags, specs, mm)
    _check_cells(p, s.n, "x", findings)
    _check_widths(s, cells, flags, findings)
    se, df = None, _se_df(std_err, se_method, n_boot, s.n)
    if std_err and se_method == "subsample":
        se = subsample_std_err(lambda a: _entropy_parts(a, flags, specs, mm)[0], [s.data], seed=rng)
    elif std_err and se_method == "delta":
        se = mean_std_err(p.terms)
    elif std_err:
        se = bootstrap_std_err(lambda a: _entropy_parts(a, flags, specs, mm)[0], [s.data], n_boot=n_boot, seed=rng)
    return Estimate(
        value=value,
        std_err=se,
        n=s.n,
        extras={
            "bins": list(cells.sizes),
            "discrete": flags,
            "log_bin_volume": float(sum(cells.log_widths)),
            "transform": transform,
            "occupied_cells": p.occupied,
            "miller_madow_term": _mm(p, s.n) if mm else 0.0,
        },
        diagnostics=tuple(findings),
        std_err_df=df,
    )


@register("mi", "histogram")
@requires("precision", "quantised", "extreme-values", "sparse-cells", "coarse-bins", "saturated")
def histogram_mutual_information(
    x: Any,
    y: Any,
    *,
    bins: Any = "fd",
    miller_madow: bool = True,
    discrete_x: bool | None = None,
    discrete_y: bool | None = None,
    std_err: bool = False,
    se_method: str = "subsample",
    n_boot: int = 100,
    seed: Any = None,
    device: Any = "auto",
    dtype: Any = None,
    transform: str = "scale",
) -> Estimate:
    r"""Histogram MI H(X) + H(Y) - H(X,Y) on shared bins, with the Miller–Madow correction, in nats.

    Parameters
    ----------
    x, y : array-like, torch.Tensor or pandas objects, shapes (n, dx), (n, dy)
        Paired samples.
    bins : int, {"fd", "sturges", "sqrt"} or sequence
        Bins per column of the joint sample (x's columns, then y's); a rule
        is evaluated for the joint dimension (module notes), and the
        marginals reuse the joint's edges, so the bin volumes cancel.
    miller_madow : bool
        Apply the Miller–Madow correction to each of the three entropies:
        :math:`+ (m_X + m_Y - m_{XY} - 1)/(2n)` in total (default True).
    discrete_x, discrete_y : bool or None
        As ``discrete`` in :func:`histogram_entropy`, per variable. With both
        discrete this is the discrete MI of the observed values (equal to
        :func:`sklearn.metrics.mutual_info_score` without the correction).
    std_err, se_method, n_boot, seed, device, dtype
        As in :func:`histogram_entropy`; the delta-method terms are
        :math:`\log\frac{n\,c_{XY}}{c_X c_Y}` of each row's cells.
    transform : {"scale", "copula", "none"}
        ``"scale"`` (default) and ``"none"``: bin the given values (already
        invariant to the units; module notes). ``"copula"``: bin normal
        scores of each continuous column's ranks, so the estimate is
        invariant to increasing maps of each coordinate.

    Returns
    -------
    Estimate
        ``value`` in nats (may be negative after the correction; never
        clipped). ``extras`` holds ``bins`` per joint column, the occupied
        cell counts ``occupied_cells`` (x, y, joint), ``entropies``
        (H(X), H(Y), H(X,Y) plug-in, bin volumes included) and
        ``miller_madow_term``.

    Notes
    -----
    Plug-in MI of the cell frequencies (Paninski 2003): with
    the same per-column edges for the marginals and the joint, the
    :math:`\log v` terms cancel and the estimate is that of the discretised
    pair, which by data processing is at most :math:`I(X;Y)`; the
    discretisation bias shrinks with the bin widths.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=20000)
    >>> y = 0.75 * x + np.sqrt(1 - 0.75**2) * rng.normal(size=20000)
    >>> round(histogram_mutual_information(x, y).value, 1)   # truth 0.413
    0.4
    """
    sx, sy = check_pair(x, y, device=device, dtype=dtype)
    specs: Sequence[int | str | _OnGrid] = _parse_bins(bins, sx.d + sy.d)
    mm = check_bool("miller_madow", miller_madow)
    flags = _discrete_flags(sx, discrete_x, "discrete_x") + _discrete_flags(sy, discrete_y, "discrete_y")
    std_err, se_method, n_boot, rng = _check_se(std_err, se_method, n_boot, seed)
    if std_err:
        check_std_err_rows(sx.n, 2)

    transform = check_transform(transform, quantity="mi")
    # "scale" bins the given values: equal-width bins are already unit-free (module notes).
    binned = "copula" if transform == "copula" else "none"
    cont = [not f for f in flags]
    tx = transform_columns(sx.data, binned, name="x", columns=sx.columns, continuous=cont[: sx.d])
    ty = transform_columns(sy.data, binned, name="y", columns=sy.columns, continuous=cont[sx.d :])
    joint = torch.cat([tx.data, ty.data], dim=1)
    findings = Findings()
    if binned == "none":  # normal scores of ranks are not on the data's grid
        specs = _on_grid(sx, flags, specs, findings, "mi")
        specs = _on_grid(sy, flags, specs, findings, "mi", offset=sx.d)
        _check_range(sx, flags)
        _check_range(sy, flags, offset=sx.d)
    value, (px, py, pxy), cells = _mi_parts(joint, sx.d, flags, specs, mm)
    _check_cells(pxy, sx.n, "the joint sample (x, y)", findings)
    _check_copy(px, py, pxy, flags, sx.d)
    if binned == "none":
        _check_widths(sx, cells, flags, findings)
        _check_widths(sy, cells, flags, findings, offset=sx.d)
    se, df = None, _se_df(std_err, se_method, n_boot, sx.n)
    if std_err and se_method == "subsample":
        se = subsample_std_err(lambda a: _mi_parts(a, sx.d, flags, specs, mm)[0], [joint], seed=rng)
    elif std_err and se_method == "delta":
        se = mean_std_err(px.terms + py.terms - pxy.terms)
    elif std_err:
        se = bootstrap_std_err(lambda a: _mi_parts(a, sx.d, flags, specs, mm)[0], [joint], n_boot=n_boot, seed=rng)
    n = sx.n
    return Estimate(
        value=value,
        std_err=se,
        n=n,
        extras={
            "bins": list(cells.sizes),
            "discrete": flags,
            "occupied_cells": [px.occupied, py.occupied, pxy.occupied],
            "entropies": [px.entropy, py.entropy, pxy.entropy],  # of the normal scores for "copula"
            "transform": transform,
            "miller_madow_term": (_mm(px, n) + _mm(py, n) - _mm(pxy, n)) if mm else 0.0,
        },
        diagnostics=tuple(findings),
        std_err_df=df,
    )
