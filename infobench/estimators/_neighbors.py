"""The exact k-nearest-neighbour engine behind the kNN estimators.

Everything here is *exact*: no approximate search, no sampling. Two paths
compute the same quantities and are chosen per call (``algorithm="auto"``) or
forced (``"tree"`` / ``"brute"``):

``"tree"``
    CPU only, for low dimension (see :func:`resolve_algorithm`). Every
    neighbour search and range count runs on the k-d tree of
    :mod:`._kdtree`, compiled with numba, in ``torch.get_num_threads()``
    threads: it searches the KSG norm with euclidean blocks directly
    (scipy's and scikit-learn's trees do not support it), adds whole nodes
    to a count, and was faster than cKDTree (``workers=-1``) and
    scikit-learn's threaded ``KDTree`` on every search measured at n = 1e5
    (``benchmarks/bench_knn.py``). One-dimensional
    sets never build a tree: the ``k`` nearest neighbours of a point lie
    within ``k`` places of it in sorted order, and a count within a radius
    is two ``searchsorted`` calls.
``"brute"``
    Tiled torch brute force, for high dimension and for tensors on CUDA.
    Work proceeds in row tiles against all ``n`` columns; the number of rows
    per tile comes from a memory budget (``max_memory`` bytes, default
    :data:`CPU_TILE_BYTES` on the CPU and a quarter of the free memory, at most
    :data:`CUDA_TILE_BYTES`, on CUDA), so peak memory is about
    ``max(max_memory, n_buffers * n * itemsize)``, never ``n x n``. Max-norm
    distances come from ``torch.cdist(p=inf)``. Euclidean tiles hold
    *screening keys* from the matrix-product expansion on centred data, and
    every distance returned or compared is an exact one (see below). The k
    smallest keys per row are selected exactly through block minima (see
    :meth:`_Tiling.smallest`).

Metrics: ``"euclidean"`` and ``"chebyshev"`` (max-norm). A joint space made
of blocks (``blocks=(d_x, d_y)``) uses the KSG norm
``max(||dx||, ||dy||)`` with ``||.||`` the chosen metric on each block
(Kraskov et al. 2004, Sec. II: the maximum norm in the joint space, any norm
in the marginals); for the max-norm the blocks make no difference.

Exactness at the boundary (counts strictly inside ``epsilon``)
---------------------------------------------------------------
KSG counts the points with ``distance < epsilon_i``, where ``epsilon_i`` is
itself a distance to a neighbour that must *not* be counted. Floating-point
rounding must not flip such a point, nor make two rows 1e-9 apart look like
copies. The engine guarantees this as follows:

* **max-norm**: ``|a - b|`` is a correctly rounded subtraction and ``max`` is
  exact, so every path (the tree, sorting, torch) computes bit-identical
  distances and strict counts are exact. One-dimensional sorted counts fix
  the ``searchsorted`` boundary with the same ``|a - b|`` predicate.
  Euclidean blocks of one column each are the same norm and take this path.
* **euclidean brute force**: the expansion ``|a|^2 + |b|^2 - 2 a.b`` only
  *screens*. Its error for a pair is at most ``c (|a|^2 + |b|^2)`` on the
  centred data (``c = 8 (d + 2) u`` plus ``10 u`` for the centring, ``u`` the
  unit roundoff of the data's dtype; doubled in :func:`_key_slacks`), which
  exceeds the squared distance of near-duplicate rows: the expansion once
  returned 8e-8 for two 12-d rows 3e-9 apart, and 0 in 30 dimensions. Every
  distance the path returns and every pair it counts near a boundary is
  decided by the exact distance of the pair
  (:func:`~._pair_distances.pair_distances`: a direct float64 sum of
  squares in one fixed order, the computation of the quality scores'
  searches too), and a certificate shows that no other pair can matter:

  - *neighbours* (:func:`_exact_knn`): the ``k + 4`` smallest keys of every
    row are candidates; the k-th smallest squared distance is within the
    slack of the k-th smallest key, so only candidates with a key up to it
    plus twice the slack are ranked, by exact distance and then index. When
    the largest candidate key lies beyond that window, no other row can be
    as near; a row without this certificate (a cluster of more near-ties
    than candidates, exact ties on a grid) is ranked by its exact distance
    to every row.
  - *counts* (:func:`count_within`, KSG): a pair whose key is more than the
    slack below (above) the squared radius is inside (outside); the few
    pairs in between are decided by their exact distance. KSG finds the
    window of its epsilons without them: the k-th smallest key is within
    the joint slack of ``epsilon^2`` (variant 1); the largest marginal key
    over the k nearest by key is within the marginal slack of
    ``epsilon_x^2`` when those are the k nearest (variant 2; a row where
    near-ties make that uncertain is counted from every exact distance).
    Epsilons and counted distances come from the same exact computation, so
    the boundary neighbour compares equal to itself.

  On ordinary continuous data the windows hold about one pair per row (the
  boundary neighbour) and distances and counts are those of the expansion
  up to its rounding. The keys, windows and selections run on the data's
  device; the exact distances of the few undecided pairs on the CPU.
* **euclidean counts against a radius computed elsewhere** (the tree path,
  and :func:`count_within` on either path): the radius is nudged by a bound
  on the rounding error of the two computations (``8 (d + 2) u`` relative):
  down for strict counts, up for ``<=`` counts. A point is then
  misclassified only if its true distance lies within that bound (about
  1e-14 relative in float64) of the radius, which has probability ~1e-14 for
  continuous data and cannot happen for the exact ties of integer-valued
  data; near-duplicates (pairs 1e-12 apart) can put a neighbour within it.
  On the tree path the KSG epsilons are such radii too.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import TypeVar, cast

import numpy as np
import torch

from infobench._validation import check_choice, check_int
from infobench.estimators import _kdtree
from infobench.estimators._pair_distances import direct_kneighbors, direct_rows, pair_distances

_T = TypeVar("_T")
_S = TypeVar("_S")

__all__ = [
    "ALGORITHMS",
    "METRICS",
    "TREE_MAX_DIM",
    "Neighbors",
    "KsgCounts",
    "resolve_algorithm",
    "kneighbors",
    "kth_distance",
    "count_within",
    "ksg_counts",
    "log_unit_ball_volume",
]

METRICS = ("euclidean", "chebyshev")
ALGORITHMS = ("auto", "tree", "brute")
# A k-d tree stops paying off once a query's neighbourhood touches most
# leaves. On the CPU "auto" uses the tree up to TREE_MAX_DIM dimensions
# (measured on Gaussian data, k = 3: tree and brute force cost the same CPU
# time around 9-10 dimensions at n = 1e4 - 1e5), brute force above
# BRUTE_MIN_DIM, and in between brute force only while the number of pairs
# stays below BRUTE_MAX_PAIRS (brute force grows as n^2, a tree more slowly).
TREE_MAX_DIM = 10
BRUTE_MIN_DIM = 20
BRUTE_MAX_PAIRS = 4 * 10**10
CPU_TILE_BYTES = 256 * 2**20
# Per-buffer tile size on the CPU: every worker's buffers together stay in
# the last-level cache.
_CPU_CACHE_BYTES = 4 * 2**20
CUDA_TILE_BYTES = 4 * 2**30
_UNIT_ROUNDOFF = {torch.float64: 2.0**-53, torch.float32: 2.0**-24}
# Euclidean brute force: candidates beyond k whose exact distances may be
# needed (a row with more near-ties at its k-th neighbour is searched directly).
_EXTRA = 4


@dataclass(frozen=True)
class Neighbors:
    """k-nearest-neighbour distances (ascending) and, when asked, their row indices."""

    dist: torch.Tensor
    index: torch.Tensor | None
    algorithm: str


@dataclass(frozen=True)
class KsgCounts:
    """Per-point KSG neighbourhood statistics.

    Attributes
    ----------
    nx, ny : torch.Tensor (int64)
        Marginal counts (self excluded): ``< epsilon`` for variant 1,
        ``<= epsilon_x`` / ``<= epsilon_y`` for variant 2.
    eps : torch.Tensor
        Joint distance to the k-th neighbour (the KSG norm).
    algorithm : str
        ``"tree"`` or ``"brute"``.
    """

    nx: torch.Tensor
    ny: torch.Tensor
    eps: torch.Tensor
    algorithm: str


# ----------------------------------------------------------------- helpers
def log_unit_ball_volume(d: int, metric: str) -> float:
    """Log-volume of the unit-radius ball in ``d`` dimensions.

    Euclidean: ``pi^(d/2) / Gamma(d/2 + 1)``; max-norm: the cube ``[-1, 1]^d``
    of volume ``2^d``.
    """
    if metric == "chebyshev":
        return d * math.log(2.0)
    return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)


def resolve_algorithm(algorithm: str, d: int, device: torch.device, pairs: int = 0) -> str:
    """Pick ``"tree"`` or ``"brute"`` for ``pairs`` distances in (joint) dimension ``d`` on ``device``."""
    check_choice("algorithm", algorithm, ALGORITHMS)
    if algorithm != "auto":
        return algorithm
    if device.type != "cpu" or d > BRUTE_MIN_DIM:
        return "brute"
    if d <= TREE_MAX_DIM or pairs > BRUTE_MAX_PAIRS:
        return "tree"
    return "brute"


def _check_blocks(blocks: Sequence[int] | None, d: int) -> tuple[int, ...]:
    if blocks is None:
        return (d,)
    blocks = tuple(int(b) for b in blocks)
    if sum(blocks) != d or any(b < 1 for b in blocks):
        raise ValueError(f"blocks must be positive and sum to the dimension {d}; got {blocks}")
    return blocks


def _budget(device: torch.device, max_memory: int | None) -> int:
    if max_memory is not None:
        return check_int("max_memory", max_memory, low=1)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(min(CUDA_TILE_BYTES, free // 4))
    return CPU_TILE_BYTES


def _tile_rows(n_rows: int, n_cols: int, n_buffers: int, itemsize: int, budget: int) -> int:
    return int(max(1, min(n_rows, budget // max(1, n_cols * n_buffers * itemsize))))


def _numpy64(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().to("cpu", torch.float64).numpy())


def _to_torch(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(a))
    if t.is_floating_point():
        return t.to(device=like.device, dtype=like.dtype)
    return t.to(device=like.device, dtype=torch.int64)


def _block_norms(diff: np.ndarray, blocks: tuple[int, ...], metric: str) -> np.ndarray:
    """KSG norm ``max_b ||diff_b||`` of difference vectors (last axis), computed directly.

    1-D blocks use ``|.|`` for both metrics (the same value, computed exactly).
    """
    if metric == "chebyshev":
        return cast(np.ndarray, np.abs(diff).max(axis=-1))
    out = None
    start = 0
    for b in blocks:
        part = diff[..., start : start + b]
        start += b
        val = np.abs(part[..., 0]) if b == 1 else np.sqrt(np.einsum("...i,...i->...", part, part))
        out = val if out is None else np.maximum(out, val)
    return cast(np.ndarray, out)


def _nudge_factor(d: int, dtype: torch.dtype) -> float:
    return 8.0 * (d + 2) * _UNIT_ROUNDOFF.get(dtype, 2.0**-24)


# ------------------------------------------------------------- 1-D sorting
def _knn_1d(v: np.ndarray, k: int, ref: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Exact 1-D kNN: the k nearest lie within k places in sorted order."""
    self_mode = ref is None
    r = v if ref is None else ref
    order = np.argsort(r, kind="stable")
    s = r[order]
    m = s.size
    if self_mode:
        pos = np.empty(m, dtype=np.int64)
        pos[order] = np.arange(m)
        offsets = np.concatenate([np.arange(-k, 0), np.arange(1, k + 1)])
    else:
        pos = np.searchsorted(s, v)
        offsets = np.arange(-k, k)
    cand = pos[:, None] + offsets[None, :]
    valid = (cand >= 0) & (cand < m)
    cand_c = np.clip(cand, 0, m - 1)
    d = np.abs(s[cand_c] - v[:, None])
    d[~valid] = np.inf
    part = np.argsort(d, axis=1, kind="stable")[:, :k]
    dist = np.take_along_axis(d, part, axis=1)
    index = order[np.take_along_axis(cand_c, part, axis=1)]
    return dist, index


def _count_1d(v: np.ndarray, radius: np.ndarray, strict: bool) -> np.ndarray:
    """Exact count of ``j != i`` with ``|v_j - v_i| < r_i`` (``<=`` if not strict).

    ``searchsorted`` against ``v_i +- r_i`` rounds the sum; the boundary is then
    moved to where the engine's own predicate ``|v_j - v_i|`` changes, one
    run of equal values at a time (the predicate is monotone in ``v_j`` on
    each side of ``v_i``), so the result is exactly the predicate's count.
    Work happens in sorted order, where the searched keys are nearly sorted
    too (much faster binary searches).
    """
    order = np.argsort(v)  # ties need no stable order: runs of equal values are handled below
    s = v[order]
    r = radius[order]
    n = s.size
    idx = np.arange(n)
    # a[i]: first index of the run of values equal to s[i]
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.not_equal(s[1:], s[:-1], out=starts[1:])
    a = np.maximum.accumulate(np.where(starts, idx, 0))

    def inside(j: np.ndarray, i: np.ndarray) -> np.ndarray:
        d = np.abs(s[j] - s[i])
        hit: np.ndarray = d < r[i] if strict else d <= r[i]
        return hit

    # upper part: values >= s_i that are inside, the range [a, b)
    b = np.maximum(np.searchsorted(s, s + r, side="left" if strict else "right"), a)
    while True:  # include inside values at b (skipping whole runs of equal values)
        sel = idx[b < n]
        sel = sel[inside(b[sel], sel)]
        if sel.size == 0:
            break
        b[sel] = np.searchsorted(s, s[b[sel]], side="right")
    while True:  # exclude outside values below b
        sel = idx[b > a]
        sel = sel[~inside(b[sel] - 1, sel)]
        if sel.size == 0:
            break
        b[sel] = np.maximum(np.searchsorted(s, s[b[sel] - 1], side="left"), a[sel])
    # lower part: values < s_i that are inside, the range [c, a)
    c = np.minimum(np.searchsorted(s, s - r, side="right" if strict else "left"), a)
    while True:
        sel = idx[c > 0]
        sel = sel[inside(c[sel] - 1, sel)]
        if sel.size == 0:
            break
        c[sel] = np.searchsorted(s, s[c[sel] - 1], side="left")
    while True:
        sel = idx[c < a]
        sel = sel[~inside(c[sel], sel)]
        if sel.size == 0:
            break
        c[sel] = np.minimum(np.searchsorted(s, s[c[sel]], side="right"), a[sel])
    self_in = (0.0 < r) if strict else (0.0 <= r)
    counts = np.empty(n, dtype=np.int64)
    counts[order] = b - c - self_in
    return counts


# ------------------------------------------------------------------- trees
def _both(
    fn: Callable[..., _T], a: np.ndarray, b: np.ndarray, ra: np.ndarray | None = None, rb: np.ndarray | None = None
) -> tuple[_T, _T]:
    """``fn`` on the two marginals; 1-D ones (single-threaded numpy that
    releases the GIL) run side by side, others use every core themselves."""
    args = [(a,) if ra is None else (a, ra), (b,) if rb is None else (b, rb)]
    if _kdtree.threads() > 1 and a.shape[1] == 1 and b.shape[1] == 1 and a.shape[0] >= 4096:
        with ThreadPoolExecutor(2) as pool:
            first, second = pool.map(lambda arg: fn(*arg), args)
            return first, second
    return fn(*args[0]), fn(*args[1])


def _tree_metric(metric: str, blocks: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
    """The compiled tree's key for ``metric`` on ``blocks``.

    The max-norm ignores blocks; euclidean blocks that are all 1-D make the
    KSG norm the max-norm (``max_b |v_b|``); otherwise squared euclidean
    blocks (one block: plain L2).
    """
    if metric == "chebyshev" or (len(blocks) > 1 and all(b == 1 for b in blocks)):
        return "chebyshev", (sum(blocks),)
    return "euclidean", blocks


def _tree_knn(
    z: np.ndarray, k: int, ref: np.ndarray | None, metric: str, blocks: tuple[int, ...], kth_only: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """CPU kNN. Returns ``(kth distance (n,), None)`` or ``(dist (n, k), index (n, k))``.

    1-D sets are sorted; others use the compiled tree of :mod:`._kdtree`,
    which excludes each point itself by index (a duplicate row is a
    neighbour at distance 0).
    """
    if z.shape[1] == 1:
        dist, idx = _knn_1d(z[:, 0], k, None if ref is None else ref[:, 0])
    else:
        key_metric, key_blocks = _tree_metric(metric, blocks)
        tree = _kdtree.build(z if ref is None else ref)
        key, idx = _kdtree.knn_blocks(tree, None if ref is None else z, k, key_blocks, key_metric)
        dist = np.sqrt(key) if key_metric == "euclidean" else key
    return (dist[:, -1], None) if kth_only else (dist, idx)


def _tree_count(v: np.ndarray, radius: np.ndarray, metric: str, strict: bool, dtype: torch.dtype) -> np.ndarray:
    """Count ``j != i`` within ``radius_i`` of row ``i`` on the CPU (sorting in 1-D, else the compiled tree)."""
    _n, d = v.shape
    if d == 1:
        return _count_1d(v[:, 0], radius, strict)
    if metric == "chebyshev":
        # max-norm distances are computed exactly, so the tree's own < and <= are the predicates
        key = radius
    else:
        f = _nudge_factor(d, dtype)
        r = radius * (1.0 - f) if strict else radius * (1.0 + f)
        key = r * r
    counts = _kdtree.count_ball(_kdtree.build(v), key, strict, metric) - 1  # the point itself
    if strict:
        counts[radius == 0] = 0  # nothing lies strictly within a radius of 0
    return counts


# ------------------------------------------------------------- brute force
class _Pairwise:
    """Tiles of pairwise distance *keys* between query rows and reference rows.

    The key is the squared distance for the euclidean metric (the matrix
    product expansion ``|a|^2 + |b|^2 - 2 a.b`` in one augmented product, on
    data centred near the reference median to limit cancellation) and the
    distance itself for the max-norm (``cdist``, exact). With several blocks
    the key is the maximum over blocks.

    Tiles have ``width`` columns, a multiple of the selection block: the
    reference side is padded with columns whose key comes out as ``+inf``
    from the same arithmetic (a ``+inf`` times the constant 1 in the product,
    ``|a - inf|`` otherwise), so padding costs no extra pass.
    """

    def __init__(
        self, q: torch.Tensor, r: torch.Tensor, metric: str, blocks: tuple[int, ...], width: int, centred: bool = False
    ):
        self.metric = metric
        self.width = width
        pad = width - r.shape[0]
        if metric == "chebyshev":
            blocks = (q.shape[1],)
        self.parts: list[tuple[str, torch.Tensor, torch.Tensor]] = []
        self.sq_norms: list[tuple[torch.Tensor, torch.Tensor] | None] = []
        start = 0
        for b in blocks:
            qb, rb = q[:, start : start + b], r[:, start : start + b]
            start += b
            if metric == "euclidean" and b > 1:
                # The centre is a median rounded to a power-of-two step no
                # larger than the column's spread, so integer-valued data
                # stays exact (and exact ties stay ties); a median, because
                # one extreme row would pull a mean away from every other
                # row and the expansion would cancel their distances away.
                # ``centred``: the caller has centred the data already.
                if not centred:
                    centre = _round_centre(rb)
                    qb, rb = qb - centre, rb - centre
                qn = (qb * qb).sum(1, keepdim=True)
                rn = (rb * rb).sum(1, keepdim=True)
                left = torch.cat([qb, qn, torch.ones_like(qn)], dim=1).contiguous()
                right = torch.cat([-2.0 * rb, torch.ones_like(rn), rn], dim=1)
                filler = torch.zeros(pad, b + 2, dtype=r.dtype, device=r.device)
                filler[:, -1] = math.inf
                self.parts.append(("mm", left, torch.cat([right, filler]).T.contiguous()))
                self.sq_norms.append((qn.flatten(), rn.max()))
            elif metric == "euclidean":  # a 1-D block: (a - b)^2 directly
                filler = torch.full((pad, b), math.inf, dtype=r.dtype, device=r.device)
                self.parts.append(("sq", qb.contiguous(), torch.cat([rb, filler]).T.contiguous()))
                self.sq_norms.append(None)
            else:  # max-norm: rows kept as rows for cdist
                filler = torch.full((pad, b), math.inf, dtype=r.dtype, device=r.device)
                self.parts.append(("abs", qb.contiguous(), torch.cat([rb, filler]).contiguous()))
                self.sq_norms.append(None)

    def tile(self, s: int, e: int, out: torch.Tensor, tmp: torch.Tensor | None, c0: int = 0) -> torch.Tensor:
        """Keys of rows ``s:e`` against the reference rows from ``c0`` on (in ``out``, or a new tensor)."""
        for bi, (kind, left, right) in enumerate(self.parts):
            dst = out if bi == 0 else cast(torch.Tensor, tmp)
            if kind == "mm":
                torch.mm(left[s:e], right[:, c0:], out=dst)
            elif kind == "sq":  # a 1-D euclidean block
                torch.sub(left[s:e], right[:, c0:], out=dst)
                dst.mul_(dst)
            else:
                # The max-norm, the only block. cdist computes max |a - b|
                # exactly like the other paths, in one call: a per-dimension
                # loop of small ops costs a thread barrier per op.
                return torch.cdist(left[s:e], right[c0:], p=math.inf)
            if bi > 0:
                torch.maximum(out, cast(torch.Tensor, tmp), out=out)
        return out

    def key(self, radius: torch.Tensor) -> torch.Tensor:
        return radius * radius if self.metric == "euclidean" else radius

    def distance(self, key: torch.Tensor) -> torch.Tensor:
        return key.clamp_min(0).sqrt() if self.metric == "euclidean" else key


def _round_centre(r: torch.Tensor) -> torch.Tensor:
    """A robust centre of the columns of ``r``: the median of at most 1,024 evenly spaced rows,
    rounded to a power-of-two step no larger than their median absolute deviation.

    The step is at least the spacing of the floating-point numbers at the
    median (``2^floor(log2 |median|) eps``), so ``median / step`` stays below
    ``2 / eps`` and the rounded centre is finite: a column with no spread
    (constant, or mostly one value) is centred at its median exactly, and
    its constant entries become exact zeros.
    """

    def lower_median(cols: np.ndarray) -> np.ndarray:
        """The lower median of each row (``torch.median``'s), NaN where the row has one: a selection."""
        k = (cols.shape[1] - 1) // 2
        med: np.ndarray = np.partition(cols, k, axis=1)[:, k]
        med[np.isnan(cols).any(axis=1)] = np.nan
        return med

    sub = r[:: max(1, r.shape[0] // 1024)]
    if r.device.type == "cpu" and r.dtype in (torch.float32, torch.float64) and sub.shape[0]:
        # the columns as contiguous rows: numpy's selection, an order of magnitude faster than
        # torch's column-wise median in high dimension, and the same values
        cols = np.ascontiguousarray(sub.detach().numpy().T)
        mid = lower_median(cols)
        centre = torch.from_numpy(mid).reshape(1, -1)
        spread = torch.from_numpy(lower_median(np.abs(cols - mid[:, None]))).reshape(1, -1)
    else:
        centre = sub.median(dim=0, keepdim=True).values
        spread = (sub - centre).abs().median(dim=0, keepdim=True).values
    info = torch.finfo(r.dtype)
    step = torch.exp2(torch.floor(torch.log2(spread)))  # 0 for no spread
    ulp = torch.exp2(torch.floor(torch.log2(centre.abs().clamp_min(info.tiny)))) * info.eps
    step = torch.maximum(step, ulp)
    return torch.round(centre / step) * step


class _Scratch:
    """One worker's tile buffers: ``count`` float tiles and a bool tile."""

    def __init__(self, count: int, rows: int, width: int, like: torch.Tensor):
        self.width = width
        size = rows * width
        flat = torch.empty(count * size, dtype=like.dtype, device=like.device)
        self._float = [flat[i * size : (i + 1) * size] for i in range(count)]
        self._bool = torch.empty(size, dtype=torch.bool, device=like.device)

    def views(self, rows: int) -> list[torch.Tensor]:
        return [b[: rows * self.width].view(rows, self.width) for b in self._float]

    def count_below(self, D: torch.Tensor, thr: torch.Tensor, strict: bool) -> torch.Tensor:
        """Per-row count of ``D < thr`` (``<=``) through the bool buffer (two cheap passes)."""
        flags = self._bool[: D.numel()].view(D.shape)
        (torch.lt if strict else torch.le)(D, thr[:, None], out=flags)
        return _count_true(flags)


def _count_true(flags: torch.Tensor) -> torch.Tensor:
    """Per-row number of ``True`` in a contiguous bool matrix, eight flags a machine word.

    The rows are summed as int64 words in runs of at most 255 words, so
    each of a sum's eight bytes holds a count of at most 255 (no carry into
    the next byte); the bytes of those sums are then added. Several times
    faster than a byte-wise sum on the CPU.
    """
    rows, width = flags.shape
    if width % 8 or not flags.is_contiguous() or flags.storage_offset() % 8:
        return flags.view(torch.uint8).sum(1, dtype=torch.int32)
    nw = width // 8
    run = _word_run(nw)
    sums = flags.view(torch.int64).view(rows, nw // run, run).sum(2)
    return sums.view(torch.uint8).sum(1, dtype=torch.int32)


@lru_cache(maxsize=64)
def _word_run(words: int) -> int:
    """The largest divisor of ``words`` up to 255 (words summed at once without a carry between bytes)."""
    return max(r for r in range(1, min(words, 255) + 1) if words % r == 0)


def _run_tiles(
    tiles: list[tuple[int, int]], workers: int, make_state: Callable[[], _S], body: Callable[[int, int, _S], None]
) -> list[_S]:
    """Call ``body(s, e, state)`` for every row tile, on ``workers`` threads; return the states.

    Each worker makes its own ``state`` (buffers, accumulators) with
    ``make_state()`` and runs torch single-threaded: independent tiles need
    no thread barrier per torch call. Tiles are handed out from one queue.
    """
    states: list[_S] = []
    lock = threading.Lock()
    pending = iter(tiles)

    def next_tiles() -> Iterator[tuple[int, int]]:
        while True:
            with lock:
                item = next(pending, None)
            if item is None:
                return
            yield item

    def work() -> None:
        state = make_state()
        with lock:
            states.append(state)
        for s, e in next_tiles():
            body(s, e, state)

    if workers <= 1:
        work()
        return states

    def worker() -> None:
        torch.set_num_threads(1)  # this thread's torch calls only
        work()

    before = torch.get_num_threads()
    try:
        with ThreadPoolExecutor(workers) as pool:
            for fut in [pool.submit(worker) for _ in range(workers)]:
                fut.result()
    finally:
        # set_num_threads in a worker also changes the default that new
        # threads start from: restore it
        torch.set_num_threads(before)
    return states


class _Tiling:
    """Row tiles against all (padded) columns, sized from the memory budget.

    On the CPU, tiles are handed out to ``torch.get_num_threads()`` worker
    threads, each with its own buffers and running torch single-threaded:
    independent tiles need no thread barrier per torch call, so brute force
    keeps its speed when other processes share the cores (two intra-op
    threads were 6x slower than one here under such load). Each tile buffer
    is also kept near :data:`_CPU_CACHE_BYTES`.
    """

    def __init__(self, n_rows: int, n_cols: int, k: int, n_buffers: int, like: torch.Tensor, budget: int):
        # block of the k-smallest selection: about sqrt(n / k) columns
        self.block = int(max(16, 2 ** round(math.log2(max(1.0, math.sqrt(n_cols / max(k, 1)))))))
        self.width = -(-n_cols // self.block) * self.block
        self.like = like
        self.n_rows = n_rows
        self.n_buffers = n_buffers
        cpu = like.device.type == "cpu"
        item = like.element_size()
        self.workers = max(1, torch.get_num_threads()) if cpu else 1
        rows = _tile_rows(n_rows, self.width, n_buffers * self.workers, item, budget)
        if cpu:
            rows = min(rows, max(8, _CPU_CACHE_BYTES // (self.width * item)))
        self.rows = rows
        self.workers = min(self.workers, -(-n_rows // rows))
        self._in_block = torch.arange(self.block, device=like.device)
        self._diag = torch.arange(rows, device=like.device)

    def run(self, body: Callable[[int, int, list[torch.Tensor], _Scratch], None]) -> None:
        """Call ``body(s, e, tiles, scratch)`` for every row tile ``s:e``.

        ``body`` writes its results into disjoint rows of shared outputs, so
        workers need no other coordination.
        """
        tiles = [(s, min(self.n_rows, s + self.rows)) for s in range(0, self.n_rows, self.rows)]
        _run_tiles(
            tiles,
            self.workers,
            lambda: _Scratch(self.n_buffers, self.rows, self.width, self.like),
            lambda s, e, scratch: body(s, e, scratch.views(e - s), scratch),
        )

    def mask_self(self, tiles: list[torch.Tensor], s: int, e: int) -> None:
        """Exclude each point from its own neighbours: its key becomes ``+inf``."""
        ar = self._diag[: e - s]
        for t in tiles:
            t[ar, ar + s] = math.inf

    def smallest(self, D: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` smallest keys per row (ascending) and their columns, exactly.

        The k-th smallest key of a row is at most the k-th smallest of its
        block minima, so the k smallest keys all lie in the k blocks with the
        smallest minima: a cheap reduction picks those blocks and ``topk``
        runs over ``k * block`` keys instead of the whole row. (Ties may pick
        different, equally near, columns than a full ``topk``.)
        """
        r = D.shape[0]
        nb = self.width // self.block
        mins = D.view(r, nb, self.block).amin(dim=2)
        kb = min(k, nb)
        _, blocks = torch.topk(mins, kb, dim=1, largest=False, sorted=False)
        cols = (blocks.unsqueeze(2) * self.block + self._in_block).view(r, -1)
        vals, local = torch.topk(D.gather(1, cols), k, dim=1, largest=False, sorted=True)
        return vals, cols.gather(1, local)


def _all_scalar(metric: str, blocks: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
    """Euclidean blocks of one column each are the max-norm (``|a - b|`` per block): exact like it."""
    if metric == "euclidean" and all(b == 1 for b in blocks):
        return "chebyshev", (sum(blocks),)
    return metric, blocks


class _ExactNorm:
    """Exact euclidean block distances of pairs of rows and their KSG norm ``max_b |a_b - c_b|``.

    Each block's distance is :func:`~._pair_distances.pair_distances` on the
    float64 copies of its columns: the one computation behind every distance
    the brute-force path returns or compares (module notes).
    """

    def __init__(self, q: torch.Tensor, r: torch.Tensor | None, blocks: tuple[int, ...]):
        qn = _numpy64(q)
        rn = qn if r is None else _numpy64(r)
        self.m = rn.shape[0]
        self.parts: list[tuple[np.ndarray, np.ndarray]] = []
        start = 0
        for b in blocks:
            a = np.ascontiguousarray(qn[:, start : start + b])
            self.parts.append((a, a if r is None else np.ascontiguousarray(rn[:, start : start + b])))
            start += b

    def block(self, bi: int, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
        a, c = self.parts[bi]
        return pair_distances(a, c, ia, ib)

    def __call__(self, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
        out = self.block(0, ia, ib)
        for bi in range(1, len(self.parts)):
            np.maximum(out, self.block(bi, ia, ib), out=out)
        return out


def _key_slacks(pw: _Pairwise, blocks: tuple[int, ...], s: int, e: int, top: torch.Tensor) -> list[torch.Tensor]:
    """Per euclidean block, a bound (float64, rows ``s:e``) on ``|key - exact squared distance|``.

    It holds for every pair whose key or squared distance is near or below
    ``top`` (per row); a pair far beyond it is beyond it whatever the
    rounding. A block of two or more columns: the expansion's error is at
    most ``c (|a|^2 + |b|^2)`` on the centred data, ``c = 8 (d + 2) u`` (module
    notes) plus ``10 u`` for rounding the data when centring it (the exact
    distances come from the data itself); a reference row with
    ``|b|^2 > 8 (|a|^2 + top)`` lies more than twice ``sqrt(top)`` away whatever
    the rounding, so ``|b|^2`` is capped there and one extreme row does not
    widen every other row's bound. A one-column block: ``(a - b)^2`` directly,
    within ``3 u`` of its value. Everything is doubled, which also covers the
    rounding of the exact distances themselves (float64).
    """
    dtype = pw.parts[0][1].dtype
    u = _UNIT_ROUNDOFF.get(dtype, 2.0**-24)
    top = top.to(torch.float64).clamp_min(0.0)
    out = []
    for b, norms in zip(blocks, pw.sq_norms):
        if norms is None:
            out.append(8.0 * u * top + torch.finfo(dtype).tiny)
            continue
        qn, rmax = norms
        q = qn[s:e].to(torch.float64) * (1.0 + 2.0 * (b + 2) * u)  # the norms' own rounding
        far = torch.clamp(8.0 * (q + top), max=float(rmax) * (1.0 + 2.0 * (b + 2) * u))
        out.append(2.0 * (_nudge_factor(b, dtype) + 10.0 * u) * (q + far))
    return out


def _rounded(v: torch.Tensor, dtype: torch.dtype, down: bool) -> torch.Tensor:
    """float64 ``v`` in ``dtype``, rounded down (or up): a window never narrows by the conversion."""
    t = v.to(dtype)
    if dtype == torch.float64:
        return t
    wrong = t.to(torch.float64) > v if down else t.to(torch.float64) < v
    return torch.where(wrong, torch.nextafter(t, torch.full_like(t, -math.inf if down else math.inf)), t)


def _window(
    D: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, scratch: _Scratch, cand: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Count the keys of each row below ``lo`` (surely inside) and find those in ``[lo, hi]`` (undecided).

    Returns the counts, which of the candidate columns ``cand`` lie in the
    window, and the rows with an undecided key elsewhere than at a candidate.
    """
    below = scratch.count_below(D, lo, True)
    within = scratch.count_below(D, hi, False) - below
    flags = None
    if cand is not None:
        g = D.gather(1, cand)
        flags = (g >= lo[:, None]) & (g <= hi[:, None])
        within = within - flags.sum(1)
    return below, flags, (within > 0).nonzero()[:, 0]


def _window_pairs(D: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``(row, column)`` of every key of rows ``rows`` (of the tile) within ``[lo, hi]``."""
    sub = D[rows]
    i, j = ((sub >= lo[rows, None]) & (sub <= hi[rows, None])).nonzero(as_tuple=True)
    return torch.stack([rows[i], j], 1)


def _exact_knn(
    keys: torch.Tensor,
    cand: torch.Tensor,
    slack: torch.Tensor,
    k: int,
    avail: int,
    norm: _ExactNorm,
    exclude_self: bool,
    budget: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The exact k nearest (distance, then index) from the ``kc`` smallest keys of every row, with a certificate.

    A row's k-th smallest squared distance is within ``slack`` of its k-th
    smallest key ``K``, so only candidates with a key up to ``K + 2 slack``
    can be among its k nearest: their exact distances (``norm``) rank them.
    Every other row has a key at least the largest candidate key; when that
    exceeds ``K + 2 slack`` (or every row is a candidate) no other row is
    as near, which certifies the result. A row without the certificate (more
    near-ties at its k-th neighbour than candidates, keys that are not
    finite) is ranked by its exact distance to every row.
    """
    key = keys.to(torch.float64).cpu().numpy()
    idx = cand.cpu().numpy()
    sl = slack.cpu().numpy()
    n, kc = idx.shape
    edge = key[:, k - 1] + 2.0 * sl
    sure = np.isfinite(edge) & ((kc >= avail) | (key[:, -1] > edge))
    need = (key <= edge[:, None]) & sure[:, None]
    rows, cols = np.nonzero(need)
    dist = np.full((n, kc), np.inf)
    dist[rows, cols] = norm(rows, idx[rows, cols])
    pick = np.lexsort((idx, dist), axis=1)[:, :k]
    out_d = np.take_along_axis(dist, pick, axis=1)
    out_i = np.take_along_axis(idx, pick, axis=1)
    bad = np.flatnonzero(~sure)
    if bad.size:
        out_d[bad], out_i[bad] = direct_kneighbors(norm, norm.m, bad, k, exclude_self, budget)
    return out_d, out_i


def _brute_knn(
    q: torch.Tensor,
    ref: torch.Tensor | None,
    k: int,
    metric: str,
    blocks: tuple[int, ...],
    need_index: bool,
    budget: int,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The k nearest by brute force; euclidean keys only screen candidates for :func:`_exact_knn`."""
    metric, blocks = _all_scalar(metric, blocks)
    self_mode = ref is None
    r = q if ref is None else ref
    n = q.shape[0]
    euclid = metric == "euclidean"
    avail = r.shape[0] - (1 if self_mode else 0)
    kc = min(k + _EXTRA, avail) if euclid else k
    tiling = _Tiling(n, r.shape[0], k, 2, q, budget)  # blocks sized for k: kc - k more keys cost little
    pw = _Pairwise(q, r, metric, blocks, tiling.width)
    dist = torch.empty(n, kc, dtype=q.dtype, device=q.device)
    index = torch.empty(n, kc, dtype=torch.int64, device=q.device) if need_index or euclid else None

    def body(s: int, e: int, tiles: list[torch.Tensor], scratch: _Scratch) -> None:
        D = pw.tile(s, e, tiles[0], tiles[1])
        if self_mode:
            tiling.mask_self([D], s, e)
        v, i = tiling.smallest(D, kc)
        dist[s:e] = v
        if index is not None:
            index[s:e] = i

    tiling.run(body)
    if not euclid:
        return pw.distance(dist), index
    slack = torch.stack(_key_slacks(pw, blocks, 0, n, dist[:, -1])).amax(0)
    norm = _ExactNorm(q, ref, blocks)
    out_d, out_i = _exact_knn(dist, cast(torch.Tensor, index), slack, k, avail, norm, self_mode, budget)
    exact = torch.from_numpy(out_d).to(device=q.device, dtype=q.dtype)
    return exact, torch.from_numpy(out_i).to(q.device) if need_index else None


def _brute_count(x: torch.Tensor, radius: torch.Tensor, metric: str, strict: bool, budget: int) -> torch.Tensor:
    """Counts within ``radius``: euclidean keys decide the pairs clearly in or out, exact distances the rest.

    The radius comes from another computation, so it is nudged as on the
    tree path (module notes): a pair is inside when its exact distance is
    below ``radius (1 - 8 (d + 2) u)`` (strict) or at most
    ``radius (1 + 8 (d + 2) u)``; pairs whose key lies within the rounding
    window of that threshold are decided by their exact distance.
    """
    n, d = x.shape
    metric, _ = _all_scalar(metric, (d,))
    radius = radius.to(x.dtype)
    tiling = _Tiling(n, n, 1, 2, x, budget)
    pw = _Pairwise(x, x, metric, (d,), tiling.width)
    counts = torch.empty(n, dtype=torch.int64, device=x.device)
    if metric == "chebyshev":  # exact keys: the predicate itself

        def body_max(s: int, e: int, tiles: list[torch.Tensor], scratch: _Scratch) -> None:
            D = pw.tile(s, e, tiles[0], tiles[1])
            tiling.mask_self([D], s, e)
            counts[s:e] = scratch.count_below(D, radius[s:e], strict)

        tiling.run(body_max)
        return counts
    f = _nudge_factor(d, x.dtype)
    thr = radius.to(torch.float64) * ((1.0 - f) if strict else (1.0 + f))
    T = thr * thr
    slack = _key_slacks(pw, (d,), 0, n, T)[0] + 4.0 * _UNIT_ROUNDOFF[torch.float64] * T
    lo = _rounded(T - slack, x.dtype, True)
    hi = _rounded(T + slack, x.dtype, False)
    pairs: list[torch.Tensor] = []

    def body(s: int, e: int, tiles: list[torch.Tensor], scratch: _Scratch) -> None:
        D = pw.tile(s, e, tiles[0], tiles[1])
        tiling.mask_self([D], s, e)
        below, _, rows = _window(D, lo[s:e], hi[s:e], scratch, None)
        counts[s:e] = below
        if rows.numel():
            pairs.append(_window_pairs(D, lo[s:e], hi[s:e], rows) + torch.tensor([s, 0], device=x.device))

    tiling.run(body)
    if pairs:
        ij = torch.cat(pairs).cpu().numpy()
        i, j = ij[:, 0], ij[:, 1]
        keep = (j < n) & (j != i)
        i, j = i[keep], j[keep]
        dd = _ExactNorm(x, None, (d,))(i, j)
        t = thr.cpu().numpy()[i]
        hit = dd < t if strict else dd <= t
        counts += torch.from_numpy(np.bincount(i[hit], minlength=n)).to(x.device)
    return counts


def _brute_ksg(
    x: torch.Tensor, y: torch.Tensor, k: int, metric: str, variant: int, budget: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fused KSG statistics: epsilons and counts from the same distance tiles.

    The max-norm (and euclidean blocks of one column) computes every
    distance exactly: epsilons and counts come straight from the tiles.
    Euclidean blocks go through :func:`_brute_ksg_exact`.
    """
    metric, _ = _all_scalar(metric, (x.shape[1], y.shape[1]))
    if metric == "euclidean":
        return _brute_ksg_exact(x, y, k, variant, budget)
    n = x.shape[0]
    tiling = _Tiling(n, n, k, 3, x, budget)
    px = _Pairwise(x, x, metric, (x.shape[1],), tiling.width)
    py = _Pairwise(y, y, metric, (y.shape[1],), tiling.width)
    nx = torch.empty(n, dtype=torch.int64, device=x.device)
    ny = torch.empty_like(nx)
    eps = torch.empty(n, dtype=x.dtype, device=x.device)

    def body(s: int, e: int, tiles: list[torch.Tensor], scratch: _Scratch) -> None:
        bx, by, tmp = tiles
        Dx = px.tile(s, e, bx, tmp)
        Dy = py.tile(s, e, by, tmp)
        tiling.mask_self([Dx, Dy], s, e)
        J = torch.maximum(Dx, Dy, out=tmp)
        v, i = tiling.smallest(J, k)
        kth = v[:, -1]
        eps[s:e] = kth
        if variant == 1:
            nx[s:e] = scratch.count_below(Dx, kth, True)
            ny[s:e] = scratch.count_below(Dy, kth, True)
        else:
            nx[s:e] = scratch.count_below(Dx, Dx.gather(1, i).amax(dim=1), False)
            ny[s:e] = scratch.count_below(Dy, Dy.gather(1, i).amax(dim=1), False)

    tiling.run(body)
    return nx, ny, eps


def _brute_ksg_exact(
    x: torch.Tensor, y: torch.Tensor, k: int, variant: int, budget: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """KSG statistics with euclidean blocks, every epsilon and every counted pair decided by exact distances.

    One pass over the tiles: the ``k + extra`` smallest joint keys of every
    row (for :func:`_exact_knn`) and, per marginal, the count of keys surely
    inside the row's ball and the pairs whose key lies within the rounding
    window of its radius. The window: variant 1, ``eps^2`` is within the
    joint slack of the k-th smallest joint key (order statistics move by no
    more than the values); variant 2, ``eps_x^2`` is within the marginal
    slack of the largest marginal key over the k nearest by key, when those
    are the k nearest (no other candidate key within twice the joint slack
    of the k-th); a row where they may not be is counted directly. Then the
    exact k nearest give the epsilons, and exact distances decide the pairs
    in the windows.
    """
    n = x.shape[0]
    blocks = (x.shape[1], y.shape[1])
    kc = min(k + _EXTRA, n - 1)
    tiling = _Tiling(n, n, k, 3, x, budget)
    pws = (
        _Pairwise(x, x, "euclidean", (blocks[0],), tiling.width),
        _Pairwise(y, y, "euclidean", (blocks[1],), tiling.width),
    )
    keys = torch.empty(n, kc, dtype=x.dtype, device=x.device)
    cand = torch.empty(n, kc, dtype=torch.int64, device=x.device)
    counts = [torch.empty(n, dtype=torch.int64, device=x.device) for _ in blocks]
    in_window = [torch.empty(n, kc, dtype=torch.bool, device=x.device) for _ in blocks]
    direct = torch.zeros(n, dtype=torch.bool, device=x.device)
    pairs: list[list[torch.Tensor]] = [[], []]
    shift = torch.tensor([1, 0], device=x.device)

    def body(s: int, e: int, tiles: list[torch.Tensor], scratch: _Scratch) -> None:
        bx, by, tmp = tiles
        D = (pws[0].tile(s, e, bx, tmp), pws[1].tile(s, e, by, tmp))
        tiling.mask_self(list(D), s, e)
        v, i = tiling.smallest(torch.maximum(D[0], D[1], out=tmp), kc)
        keys[s:e] = v
        cand[s:e] = i
        top = v[:, -1].to(torch.float64)
        sl = _key_slacks_both(pws, blocks, s, e, top)
        joint = torch.maximum(sl[0], sl[1])
        kth = v[:, k - 1].to(torch.float64)
        unsure = ~torch.isfinite(top)
        if variant == 2 and kc > k:
            unsure |= ~(v[:, k].to(torch.float64) > kth + 2.0 * joint)
        direct[s:e] = unsure
        for b in (0, 1):
            if variant == 1:
                centre, half = kth, joint + sl[b]
            else:
                centre, half = D[b].gather(1, i[:, :k]).amax(1).to(torch.float64), 2.0 * sl[b]
            lo = _rounded(centre - half, x.dtype, True)
            hi = _rounded(centre + half, x.dtype, False)
            below, flags, rows = _window(D[b], lo, hi, scratch, i)
            flags = cast(torch.Tensor, flags)
            counts[b][s:e] = below
            if rows.numel():
                flags[rows] = False  # these rows' window pairs are all taken from the tile
                pairs[b].append(_window_pairs(D[b], lo, hi, rows) + shift * s)
            in_window[b][s:e] = flags

    tiling.run(body)
    norm = _ExactNorm(torch.cat([x, y], 1), None, blocks)
    slack = torch.maximum(*_key_slacks_both(pws, blocks, 0, n, keys[:, -1].to(torch.float64)))
    dist, nearest = _exact_knn(keys, cand, slack, k, n - 1, norm, True, budget)
    eps = dist[:, -1]
    strict = variant == 1
    rows_direct = direct.cpu().numpy().nonzero()[0]
    cand_np = cand.cpu().numpy()
    out = []
    for b in (0, 1):
        thr = eps if strict else norm.block(b, np.repeat(np.arange(n), k), nearest.ravel()).reshape(n, k).max(1)
        ii, cc = np.nonzero(in_window[b].cpu().numpy())
        jj = cand_np[ii, cc]
        if pairs[b]:
            extra = torch.cat(pairs[b]).cpu().numpy()
            ii, jj = np.concatenate([ii, extra[:, 0]]), np.concatenate([jj, extra[:, 1]])
        keep = (jj < n) & (jj != ii)
        ii, jj = ii[keep], jj[keep]
        dd = norm.block(b, ii, jj)
        hit = dd < thr[ii] if strict else dd <= thr[ii]
        cnt = counts[b].cpu().numpy() + np.bincount(ii[hit], minlength=n)
        for part, dd_rows in direct_rows(partial(norm.block, b), n, rows_direct, True, budget):
            cnt[part] = (dd_rows < thr[part, None]).sum(1) if strict else (dd_rows <= thr[part, None]).sum(1)
        out.append(torch.from_numpy(cnt).to(x.device))
    return out[0], out[1], torch.from_numpy(eps).to(device=x.device, dtype=x.dtype)


def _key_slacks_both(
    pws: tuple[_Pairwise, _Pairwise], blocks: tuple[int, int], s: int, e: int, top: torch.Tensor
) -> list[torch.Tensor]:
    """The slacks of the two marginals' keys, rows ``s:e`` (:func:`_key_slacks`)."""
    return [_key_slacks(pws[b], blocks[b : b + 1], s, e, top)[0] for b in (0, 1)]


# -------------------------------------------------------------- public API
def _check_metric(metric: str) -> str:
    return cast(str, check_choice("metric", metric, METRICS))


def kneighbors(
    x: torch.Tensor,
    k: int,
    *,
    ref: torch.Tensor | None = None,
    metric: str = "euclidean",
    blocks: Sequence[int] | None = None,
    algorithm: str = "auto",
    return_index: bool = False,
    max_memory: int | None = None,
) -> Neighbors:
    """Exact distances from each row of ``x`` to its ``k`` nearest neighbours.

    Parameters
    ----------
    x : torch.Tensor, shape (n, d)
        Query points (CPU or CUDA).
    k : int
        Number of neighbours; ``1 <= k <= n - 1`` without ``ref`` (the point
        itself is excluded), ``1 <= k <= len(ref)`` with it.
    ref : torch.Tensor, shape (m, d), optional
        Reference points; by default the neighbours are searched in ``x``
        itself, excluding each point.
    metric : {"euclidean", "chebyshev"}
    blocks : sequence of int, optional
        Column blocks of a product space; the distance is the maximum over
        blocks of the block distances (the KSG joint norm).
    algorithm : {"auto", "tree", "brute"}
        See the module notes. ``"tree"`` on CUDA data runs on the CPU copy.
    return_index : bool
        Also return the neighbours' row indices (into ``ref`` or ``x``).
    max_memory : int, optional
        Tile budget in bytes for the brute-force path.

    Returns
    -------
    Neighbors
        ``dist`` of shape (n, k), ascending, in ``x``'s dtype and device.
    """
    metric, k, ref, algo = _check_query(x, k, ref, metric, algorithm)
    blocks = _check_blocks(blocks, x.shape[1])
    if algo == "tree":
        tdist, tidx = _tree_knn(_numpy64(x), k, None if ref is None else _numpy64(ref), metric, blocks, False)
        index = _to_torch(cast(np.ndarray, tidx), x.new_empty(0, dtype=torch.int64)) if return_index else None
        return Neighbors(_to_torch(tdist, x), index, algo)
    dist, idx = _brute_knn(x, ref, k, metric, blocks, return_index, _budget(x.device, max_memory))
    return Neighbors(dist, idx, algo)


def _check_query(
    x: torch.Tensor, k: int, ref: torch.Tensor | None, metric: str, algorithm: str
) -> tuple[str, int, torch.Tensor | None, str]:
    """Validate a neighbour query; returns ``(metric, k, ref on x's device, algorithm)``."""
    metric = _check_metric(metric)
    n, d = x.shape
    algo = resolve_algorithm(algorithm, d, x.device, n * (n if ref is None else ref.shape[0]))
    if ref is None:
        return metric, check_int("k", k, low=1, high=n - 1, context=f" (n={n})"), None, algo
    if ref.shape[1] != d:
        raise ValueError(f"ref must have {d} columns like x; got {ref.shape[1]}")
    k = check_int("k", k, low=1, high=ref.shape[0], context=f" (m={ref.shape[0]})")
    return metric, k, ref.to(device=x.device, dtype=x.dtype), algo


def kth_distance(
    x: torch.Tensor,
    k: int,
    *,
    ref: torch.Tensor | None = None,
    metric: str = "euclidean",
    algorithm: str = "auto",
    max_memory: int | None = None,
) -> tuple[torch.Tensor, str]:
    """Distance to the k-th nearest neighbour only, and the path used.

    Same parameters as :func:`kneighbors`; on the tree path only the k-th
    column is requested from the tree, which saves time and memory.
    """
    metric, k, ref, algo = _check_query(x, k, ref, metric, algorithm)
    if algo != "tree":
        return kneighbors(x, k, ref=ref, metric=metric, algorithm=algo, max_memory=max_memory).dist[:, -1], algo
    dist, _ = _tree_knn(_numpy64(x), k, None if ref is None else _numpy64(ref), metric, (x.shape[1],), True)
    return _to_torch(dist, x), algo


def count_within(
    x: torch.Tensor,
    radius: torch.Tensor,
    *,
    metric: str = "euclidean",
    strict: bool = True,
    algorithm: str = "auto",
    max_memory: int | None = None,
) -> torch.Tensor:
    """Count, for each row ``i``, the other rows within ``radius[i]`` of it.

    ``strict=True`` counts ``dist < radius`` (KSG-1, Ross), ``False`` counts
    ``dist <= radius`` (KSG-2). The point itself is never counted. See the
    module notes for how boundary points are kept exact.

    Returns
    -------
    torch.Tensor
        int64 counts of shape (n,), on ``x``'s device.
    """
    metric = _check_metric(metric)
    n, d = x.shape
    if radius.shape != (n,):
        raise ValueError(f"radius must have shape ({n},); got {tuple(radius.shape)}")
    algo = resolve_algorithm(algorithm, d, x.device, n * n)
    if algo == "tree":
        counts = _tree_count(_numpy64(x), _numpy64(radius.reshape(-1, 1))[:, 0], metric, strict, x.dtype)
        return _to_torch(counts, radius.new_empty(0, dtype=torch.int64))
    return _brute_count(x, radius.to(device=x.device), metric, strict, _budget(x.device, max_memory))


def ksg_counts(
    x: torch.Tensor,
    y: torch.Tensor,
    k: int,
    *,
    metric: str = "euclidean",
    variant: int = 1,
    algorithm: str = "auto",
    max_memory: int | None = None,
) -> KsgCounts:
    """Per-point neighbourhood counts of the KSG estimators (Kraskov et al. 2004).

    The joint distance is ``max(||x_i - x_j||, ||y_i - y_j||)``. Variant 1
    (eq. 8): ``eps_i`` is the joint distance to the k-th neighbour and
    ``n_x(i) = #{j != i : ||x_i - x_j|| < eps_i}``. Variant 2 (eq. 9):
    ``eps_x(i)``, ``eps_y(i)`` are the largest marginal distances within the
    k-neighbourhood and ``n_x(i) = #{j != i : ||x_i - x_j|| <= eps_x(i)}``.
    """
    metric = _check_metric(metric)
    check_choice("variant", variant, (1, 2))
    n = x.shape[0]
    k = check_int("k", k, low=1, high=n - 1, context=f" (n={n})")
    dx, dy = x.shape[1], y.shape[1]
    algo = resolve_algorithm(algorithm, dx + dy, x.device, n * n)
    if algo == "brute":
        nx, ny, eps = _brute_ksg(x, y, k, metric, variant, _budget(x.device, max_memory))
        return KsgCounts(nx, ny, eps, algo)
    xn, yn = _numpy64(x), _numpy64(y)
    z = np.hstack([xn, yn])
    blocks = (dx, dy)
    dist, idx = _tree_knn(z, k, None, metric, blocks, kth_only=variant == 1)
    keps = dist if variant == 1 else dist[:, -1]
    if variant == 1:
        cx, cy = _both(lambda v: _tree_count(v, keps, metric, True, x.dtype), xn, yn)
    else:
        ex = _block_norms(xn[:, None, :] - xn[idx], (dx,), metric).max(axis=1)
        ey = _block_norms(yn[:, None, :] - yn[idx], (dy,), metric).max(axis=1)
        cx, cy = _both(lambda v, r: _tree_count(v, r, metric, False, x.dtype), xn, yn, ex, ey)
    like = x.new_empty(0, dtype=torch.int64)
    return KsgCounts(_to_torch(cx, like), _to_torch(cy, like), _to_torch(keps, x), algo)
