"""Exact neighbour searches, ball counts and kernel sums between sets of feature vectors.

The sample-quality scores (precision, recall, density, coverage, kNN KL and
entropy of features, memorization, the Renyi kernel entropy) compare
neighbour distances with ball radii: a point exactly on a ball's boundary
must be outside, and a copy must be at distance exactly 0. Every distance
that is *compared* here comes from one computation, :func:`exact_distances`
(float64, a direct sum of squares per pair); a tiled matrix product only
*screens* candidates:

1. **Screening keys** ``|q|^2 + |r|^2 - 2 q.r`` on data centred in float64.
   From :data:`SCREEN_FLOAT32_MIN_DIM` dimensions on the product dominates the
   cost and the keys are computed in float32 (twice the speed, half the
   memory); below, in float64. A key differs from the exact squared distance
   by at most ``slack = ((8 (d + 2) + 10) u) (|q|^2 + |r|^2)`` (centred norms,
   ``u`` the unit roundoff of the key dtype: ``8 (d + 2) u`` bounds the
   expansion's rounding, the module notes of ``_neighbors``; ``10 u`` the
   rounding of the centred data to that dtype).
   One product per tile, the reference norms as its initial value and the
   query norms added after it (no augmented copy of the data).
2. **Candidates**: the ``k + extra`` smallest keys of every row (and with
   ``both_sides``, of every column), selected exactly: ``topk`` per row; per
   column on the CPU, each tile streams into the running candidates
   (:func:`_stream_columns`), elsewhere a grouped ``topk`` and a merge.
3. **Exact re-ranking** by :func:`exact_distances` (ties by index).
4. **Certificate.** A row that is not a candidate has a key at least the
   largest candidate key ``K``, hence a squared distance of at least
   ``K - slack``; when that exceeds the k-th exact squared distance, the k
   nearest are exact. A row without the certificate (a near-tie spanning all
   extra candidates; none in 10,000 2048-d Gaussian rows with 8 extra) is
   searched again with float64 keys against every reference row and
   re-ranked the same way, under the same certificate with the float64
   slack; a row without that one either (a tie within float64 rounding, or
   keys that are not finite) is ranked by the exact distance to every
   reference row. Nothing in the result rests on an uncertified key, and
   the centre of step 1 is always finite (a constant column is centred at
   its value exactly, :func:`~infobench.estimators._neighbors._round_centre`).
   Float32 keys are used only while they cannot overflow (squared centred
   norms below an eighth of the float32 maximum), else float64.

**Ball counts** ``#{j : |q_i - r_j| < rho_j}``: a pair whose key lies more than
``slack`` (plus the rounding of ``rho_j^2``) below or above ``rho_j^2`` is
decided by the key, every other pair by :func:`exact_distances`, so a point on
a boundary is outside whatever the rounding.

**Pairs within outer radii** (``ref_outer`` / ``x_outer``): for the
replicates of a subsampling scheme the same pass also returns every pair
whose exact distance is below a second, larger radius per ball (the
distance of its owner's last kept neighbour), with its exact distance, or
``-inf`` when the key alone puts the pair inside the inner radius (it is
then inside every larger one). A subsample's balls are never smaller than
the full set's (its k-th nearest other row is at least as far), and no
larger than the outer radius while k of the kept neighbours survive, so its
strict ball counts follow from these pairs alone (:func:`counts_within`).

**Subsets without a new search.** The k nearest rows of a query row among a
subset of the reference rows are the first k members of the subset in its
exact list of ``L > k`` nearest (ordered by exact distance, ties by index:
an ordering a subset keeps when its rows keep their order); a row with
fewer than k of them in the subset is searched again
(:func:`neighbors_within`). Both give bit for bit the distances a search on
the subset gives, and its indices (rows tied at one distance beyond a
search's candidate window, as on an integer grid, may be listed in another
order by either).

**One pass per pair of sets.** A self-search computes only the tiles on and
above the diagonal: pair ``(i, j)`` with ``j`` beyond row ``i``'s tile serves
row ``i`` (a row-wise selection) and row ``j`` (a column-wise one), so it
costs half a pass over the ``n^2`` pairs. A cross-search with
``both_sides=True`` gives the nearest reference rows of every query row,
the nearest query rows of every reference row and both ball counts from one
pass over the ``n m`` pairs. On the CPU, row tiles go to one worker thread
per torch thread (each runs torch single-threaded, with its own column-side
accumulators merged at the end); a tile has up to :data:`MAX_TILE_ROWS` rows
within the memory budget, enough rows for the product to run at the speed
of a large matrix product in high dimension.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import cast

import numpy as np
import torch

from infobench.estimators._kdtree import _compiled
from infobench.estimators._neighbors import (
    _UNIT_ROUNDOFF,
    Neighbors,
    _budget,
    _nudge_factor,
    _numpy64,
    _round_centre,
    _run_tiles,
    _tile_rows,
)
from infobench.estimators._pair_distances import _direct_kneighbors, exact_distances, pair_distances

__all__ = [
    "SCREEN_FLOAT32_MIN_DIM",
    "MAX_TILE_ROWS",
    "PairSearch",
    "BallPairs",
    "exact_distances",
    "pair_search",
    "exact_kneighbors",
    "ball_counts",
    "gaussian_kernel_sum",
    "neighbors_within",
    "counts_within",
]

SCREEN_FLOAT32_MIN_DIM = 32
MAX_TILE_ROWS = 512
# Candidates beyond k: the certificate fails only when the rounding window of
# the k-th neighbour's key holds this many other rows.
_EXTRA = 8
# Rows per group of the column-wise selection (_group_smallest).
_GROUP = 8
# Below this many pair-coordinates (n * m * d) a search runs on the calling thread.
_MIN_THREADED_WORK = 2**27
# Elements of a float64 chunk of a tile's cubic kernel values (:class:`_CubicPlan`, kept in cache).
_CUBIC_CHUNK = 2**17
# Memory the pairs inside outer radii may take at least (24 bytes a pair), whatever the tile budget.
_MIN_PAIR_BYTES = 2**26


@dataclass(frozen=True)
class PairSearch:
    """Result of :func:`pair_search`.

    Attributes
    ----------
    rows : Neighbors or None
        The ``k`` nearest reference rows of every query row (self-search: the
        ``k`` nearest other rows), exact float64 distances, ascending (None
        for a kernel sum alone, ``k=0``).
    cols : Neighbors or None
        With ``both_sides``: the ``k`` nearest query rows of every reference row.
    rows_inside : torch.Tensor or None
        With ``ref_radii``: per query row, ``#{j : |x_i - ref_j| < ref_radii_j}``.
    cols_inside : torch.Tensor or None
        With ``x_radii``: per reference row, ``#{i : |x_i - ref_j| < x_radii_i}``.
    kernel_sum : float or None
        With ``kernel_bandwidth`` (self-search):
        ``sum_{i,j} exp(-|x_i - x_j|^2 / bandwidth^2)`` over all ordered pairs,
        diagonal included (see :func:`gaussian_kernel_sum`).
    rows_pairs : BallPairs or None
        With ``ref_outer``: the pairs ``(query row, ref ball)`` with
        ``|x_i - ref_j| < ref_outer_j`` (None when they exceeded the pair budget).
    cols_pairs : BallPairs or None
        With ``x_outer``: the pairs ``(ref row, query ball)`` with
        ``|x_i - ref_j| < x_outer_i``, likewise.
    subset_kernel_sums : numpy.ndarray or None
        With ``kernel_subsets``: the kernel sum of each subset at its own
        bandwidth (:func:`pair_search`).
    cubic_sums : numpy.ndarray or None
        With ``cubic_subsets``: per subset, the cubic kernel sums over the
        subset and over its two halves (:func:`pair_search`).
    """

    rows: Neighbors | None
    cols: Neighbors | None = None
    rows_inside: torch.Tensor | None = None
    cols_inside: torch.Tensor | None = None
    kernel_sum: float | None = None
    rows_pairs: BallPairs | None = None
    cols_pairs: BallPairs | None = None
    subset_kernel_sums: np.ndarray | None = None
    cubic_sums: np.ndarray | None = None


@dataclass(frozen=True)
class BallPairs:
    """Pairs (point, ball) with the point closer to the ball's centre than the ball's outer radius.

    Attributes
    ----------
    point, ball : numpy.ndarray of int32 (int64 beyond 2**31 rows)
        Row of the counted point and row of the ball's centre.
    dist : numpy.ndarray of float64
        Their exact distance (:func:`exact_distances`), or ``-inf`` for a
        pair certainly inside the ball's inner radius.
    """

    point: np.ndarray
    ball: np.ndarray
    dist: np.ndarray


class _Side:
    """Running ``kc`` smallest keys (and their row indices) of ``m`` rows, merged tile by tile."""

    def __init__(self, m: int, kc: int, dtype: torch.dtype, device: torch.device):
        self.key = torch.full((m, kc), math.inf, dtype=dtype, device=device)
        self.index = torch.full((m, kc), -1, dtype=torch.int64, device=device)

    def merge(self, start: int, key: torch.Tensor, index: torch.Tensor) -> None:
        """Merge candidates ``key``/``index`` of shape ``(c, j)`` into rows ``start:start + c``."""
        end = start + key.shape[0]
        k_all = torch.cat([self.key[start:end], key], dim=1)
        i_all = torch.cat([self.index[start:end], index], dim=1)
        v, pos = torch.topk(k_all, self.key.shape[1], dim=1, largest=False, sorted=False)
        self.key[start:end] = v
        self.index[start:end] = i_all.gather(1, pos)

    @staticmethod
    def combine(sides: list[_Side]) -> _Side:
        first = sides[0]
        if len(sides) > 1:
            first.merge(0, torch.cat([s.key for s in sides[1:]], dim=1), torch.cat([s.index for s in sides[1:]], dim=1))
        return first


def _group_smallest(D: torch.Tensor, kc: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``kc`` smallest keys of every *column* of a tile (unsorted) and their rows.

    Rows are taken in groups of :data:`_GROUP`: a column's ``kc`` smallest keys
    lie in at most ``kc`` groups, whose minima are then among the column's
    ``kc`` smallest group minima, so ``topk`` runs over the group minima and
    the ``kc`` chosen groups only (a column-wise ``topk`` over the whole tile
    costs several times more). Any key not returned is at least the largest
    key returned, as with a full ``topk``.
    """
    r, c = D.shape
    g = _GROUP
    if r % g or r // g <= kc:
        return torch.topk(D, min(kc, r), dim=0, largest=False, sorted=False)
    mins = D.view(r // g, g, c).amin(dim=1)
    _, groups = torch.topk(mins, kc, dim=0, largest=False, sorted=False)
    rows = (groups.unsqueeze(1) * g + torch.arange(g, device=D.device).view(1, g, 1)).reshape(kc * g, c)
    v, pos = torch.topk(D.gather(0, rows), kc, dim=0, largest=False, sorted=False)
    return v, rows.gather(0, pos)


@_compiled()
def _stream_columns(
    D: np.ndarray, key: np.ndarray, index: np.ndarray, start: int, row0: int
) -> None:  # pragma: no cover - compiled
    """Stream the rows of tile ``D`` into the kept ``kc`` smallest keys of its columns (CPU column side).

    Column ``j`` of the tile is row ``start + j`` of ``key`` / ``index`` (a
    worker's running candidates, index ``-1`` for a free slot), the tile's
    row ``i`` is query row ``row0 + i``. A key enters while its column has a
    free slot, and then when it is below the largest key kept (NaN ranks
    above every number, as in ``topk``), replacing it: the same kept set as a
    ``topk`` over every key seen (ties aside), and a key left out is at
    least the largest kept. After a column's first rows, almost every key
    costs one comparison with the column's threshold.
    """
    r, w = D.shape
    kc = key.shape[1]
    thr = np.empty(w, dtype=key.dtype)
    worst = np.zeros(w, dtype=np.int64)
    is_open = np.zeros(w, dtype=np.bool_)
    for j in range(w):
        _column_worst(key, index, start + j, kc, thr, worst, is_open, j)
    for i in range(r):
        for j in range(w):
            v = D[i, j]
            if v < thr[j] or is_open[j]:
                c = start + j
                if is_open[j] and index[c, worst[j]] >= 0 and v != v:
                    continue  # a NaN does not replace a NaN
                key[c, worst[j]] = v
                index[c, worst[j]] = row0 + i
                _column_worst(key, index, c, kc, thr, worst, is_open, j)


@_compiled()
def _column_worst(
    key: np.ndarray,
    index: np.ndarray,
    c: int,
    kc: int,
    thr: np.ndarray,
    worst: np.ndarray,
    is_open: np.ndarray,
    j: int,
) -> None:  # pragma: no cover - compiled
    """The slot of row ``c`` that the next key may replace: a free one, a NaN, else the largest (``thr``)."""
    best = -1
    for t in range(kc):
        if index[c, t] < 0:  # a free slot first
            worst[j] = t
            is_open[j] = True
            thr[j] = -np.inf
            return
        if key[c, t] != key[c, t]:
            best = t  # a NaN: any number replaces it
        elif best < 0 or (key[c, best] == key[c, best] and key[c, t] > key[c, best]):
            best = t
    if key[c, best] != key[c, best]:
        worst[j] = best
        is_open[j] = True
        thr[j] = -np.inf
        return
    worst[j] = best
    is_open[j] = False
    thr[j] = key[c, best]


def _exact_rank(
    qn: np.ndarray,
    rn: np.ndarray,
    side: _Side,
    k: int,
    slack: np.ndarray,
    budget: int,
    self_mode: bool,
    refine: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest by exact distance among the screened candidates, with the certificate (module notes).

    Only candidates whose key is within ``2 slack`` of the k-th smallest key
    can be among the k nearest (each of the k smallest keys is within
    ``slack`` of its squared distance): their distances come from
    :func:`exact_distances`, the others are left out. ``refine(rows, kc)``
    returns float64-searched candidate indices (and the floor of the squared
    distances of the other rows) for rows without the certificate; a row
    that the float64 keys do not certify either gets its k nearest from the
    exact distances to every reference row (:func:`_direct_kneighbors`).
    """
    key = side.key.to(torch.float64).cpu().numpy()
    idx = side.index.cpu().numpy()
    order = np.argsort(key, axis=1, kind="stable")
    key = np.take_along_axis(key, order, axis=1)
    idx = np.take_along_axis(idx, order, axis=1)
    n, kc = idx.shape
    need = key <= (key[:, k - 1] + 2.0 * slack)[:, None]
    need[:, :k] = True
    rows, cols = np.nonzero(need)
    dist = np.full((n, kc), np.inf)
    dist[rows, cols] = pair_distances(qn, rn, rows, idx[rows, cols])
    pick = np.lexsort((idx, dist), axis=1)[:, :k]
    out_d = np.take_along_axis(dist, pick, axis=1)
    out_i = np.take_along_axis(idx, pick, axis=1)
    avail = rn.shape[0] - (1 if self_mode else 0)
    if kc < avail:
        # Any other row has key >= the largest candidate key, so squared distance >= that - slack.
        floor = key[:, -1] - slack
        bad = np.flatnonzero(~(floor > out_d[:, -1] ** 2 * (1.0 + 1e-12)))
        if bad.size:
            cand, floor64 = refine(bad, kc)
            dd = pair_distances(qn, rn, np.repeat(bad, kc), cand.ravel()).reshape(bad.size, kc)
            o = np.lexsort((cand, dd), axis=1)[:, :k]
            out_d[bad] = np.take_along_axis(dd, o, axis=1)
            out_i[bad] = np.take_along_axis(cand, o, axis=1)
            # The float64 keys carry the same certificate; a row without it (a near-tie within their
            # rounding, or keys that are not finite) gets its k nearest from every exact distance.
            worse = bad[~(floor64 > out_d[bad, -1] ** 2 * (1.0 + 1e-12))]
            if worse.size:
                out_d[worse], out_i[worse] = _direct_kneighbors(qn, rn, worse, k, self_mode, budget)
    return out_d, out_i


def pair_search(
    x: torch.Tensor,
    k: int,
    *,
    ref: torch.Tensor | None = None,
    both_sides: bool = False,
    ref_radii: torch.Tensor | None = None,
    x_radii: torch.Tensor | None = None,
    ref_outer: torch.Tensor | None = None,
    x_outer: torch.Tensor | None = None,
    kernel_bandwidth: float | None = None,
    kernel_subsets: list[tuple[np.ndarray, float]] | None = None,
    cubic_subsets: tuple[np.ndarray, np.ndarray | None] | None = None,
    max_memory: int | None = None,
) -> PairSearch:
    """Exact k nearest neighbours and strict ball counts between ``x`` and ``ref`` in one pass (module notes).

    Parameters
    ----------
    x : torch.Tensor, shape (n, d)
        Query rows (any float dtype; distances are float64).
    k : int
        Neighbours per row: ``1 <= k <= n - 1`` without ``ref``, ``<= m``
        with it (and ``<= n`` for the column side); 0 with
        ``kernel_bandwidth``: the kernel sum alone.
    ref : torch.Tensor, shape (m, d), optional
        Reference rows; without it, a self-search (each row excluded from its
        own neighbours).
    both_sides : bool
        Also the ``k`` nearest query rows of every reference row (cross-search).
    ref_radii : torch.Tensor, shape (m,), optional
        Ball radii around the reference rows: ``rows_inside`` counts the balls
        holding each query row strictly.
    x_radii : torch.Tensor, shape (n,), optional
        Ball radii around the query rows: ``cols_inside`` counts the balls
        holding each reference row strictly.
    ref_outer, x_outer : torch.Tensor, optional
        Outer radii (at least ``ref_radii`` / ``x_radii``, which they need):
        also the pairs inside them (``rows_pairs`` / ``cols_pairs``, module
        notes), for the ball counts of subsets (:func:`counts_within`).
    kernel_bandwidth : float, optional
        Self-search only: also the Gaussian kernel sum over every pair, from
        the same screening keys (:func:`gaussian_kernel_sum`).
    kernel_subsets : list of (rows, bandwidth), optional
        With ``kernel_bandwidth``: also the kernel sum over the pairs of each
        subset ``rows`` (increasing row indices) at its own bandwidth, from
        the same keys (:class:`_SubsetPlan`: a Taylor expansion in the
        bandwidth around ``kernel_bandwidth``, exact for an equal one, within
        ``1e-7`` relative otherwise; a subset whose bandwidth is too far from
        it is summed by a search of its own).
    cubic_subsets : (numpy.ndarray, numpy.ndarray or None), optional
        ``(rows, cols)``, each ``(S, m)`` row indices of ``x`` and of ``ref``
        (a self-search: ``cols`` None, the pairs within ``rows``): also the
        sums of the cubic polynomial kernel ``(x_i . y_j / d + 1)^3`` (KID's)
        over the pairs of each subset (``i != j`` in a self-search) and of its
        two halves (positions ``< m // 2`` and ``m // 2`` to ``2 (m // 2)``),
        ``cubic_sums`` of shape ``(S, 3)``. The products come from the
        screening keys (:class:`_CubicPlan`).
    max_memory : int, optional
        Memory budget of the tiles in bytes (the estimators' knob).

    Returns
    -------
    PairSearch
    """
    knn = _check_pair_search(
        x, k, ref, both_sides, ref_radii, x_radii, ref_outer, x_outer, kernel_bandwidth, kernel_subsets
    )
    self_mode = ref is None
    n, d = x.shape
    device = x.device
    budget = _budget(device, max_memory)
    screen, cubic = _screen(x, ref, cubic_subsets)
    m = screen.rn2.shape[0]
    balls = _Balls.of(ref_radii, x_radii, ref_outer, x_outer, device, screen.sdtype, screen.unit)
    rows, tiles, workers = _tiling(n, m, d, screen.sdtype, device, budget)
    avail_r = n - 1 if self_mode else m
    search = _Search(
        self_mode=self_mode,
        n=n,
        m=m,
        knn=knn,
        want_cols=knn and (both_sides or self_mode),
        kc_r=min(k + _EXTRA, avail_r),
        kc_c=min(k + _EXTRA, n - 1 if self_mode else n),
        rows=rows,
        sdtype=screen.sdtype,
        device=device,
        factor=screen.factor,
        xn2=screen.xn2,
        rmax=float(screen.rn2.max()),
        balls=balls,
        pair_cap=_pair_cap(device, budget),
        cubic=cubic,
        kernel_bandwidth=kernel_bandwidth,
        plan=(
            _SubsetPlan(kernel_subsets, cast(float, kernel_bandwidth), n, screen.sdtype, device)
            if kernel_subsets
            else None
        ),
    )
    row_side = _Side(n, search.kc_r, screen.sdtype, device)
    rows_inside = torch.zeros(n, dtype=torch.int64, device=device) if balls.ref_thr is not None else None
    states = _run_tiles(
        tiles, workers, partial(_TileState, search), partial(_search_tile, search, screen, row_side, rows_inside)
    )

    xn = _numpy64(screen.x64)
    rn = xn if self_mode else _numpy64(screen.r64)
    result_rows = result_cols = None
    if knn:
        side = _Side.combine([row_side] + [st.cols for st in states]) if self_mode else row_side
        refine_rows = partial(_refine, screen.x64, screen.r64, screen.centre, screen.rn2, self_mode, budget, device)
        result_rows = _ranked(
            xn,
            rn,
            side,
            k,
            screen.factor * (screen.xn2.cpu().numpy() + search.rmax),
            budget,
            self_mode,
            refine_rows,
            device,
        )
    if both_sides:
        refine_cols = partial(_refine, screen.r64, screen.x64, screen.centre, screen.xn2, False, budget, device)
        result_cols = _ranked(
            rn,
            xn,
            _Side.combine([st.cols for st in states]),
            k,
            screen.factor * (screen.rn2.cpu().numpy() + float(screen.xn2.max())),
            budget,
            False,
            refine_cols,
            device,
        )
    rows_inside, cols_inside, rows_pairs, cols_pairs = _ball_results(
        states, rows_inside, xn, rn, ref_radii, x_radii, ref_outer, x_outer, n, m, budget, device
    )
    kernel_sum = None
    if kernel_bandwidth is not None:
        kernel_sum = float(sum(st.kernel for st in states)) + n  # + the diagonal, exp(0) = 1
    subset_sums = None
    if search.plan is not None:
        subset_sums = search.plan.sums(sum(st.moments for st in states), x, max_memory)
    cubic_sums = None
    if cubic is not None:
        cubic_sums = sum(st.cubic for st in states).cpu().numpy() * (2.0 if self_mode else 1.0)
    return PairSearch(
        result_rows, result_cols, rows_inside, cols_inside, kernel_sum, rows_pairs, cols_pairs, subset_sums, cubic_sums
    )


# ------------------------------------------------------------------ the steps of pair_search
def _check_pair_search(
    x: torch.Tensor,
    k: int,
    ref: torch.Tensor | None,
    both_sides: bool,
    ref_radii: torch.Tensor | None,
    x_radii: torch.Tensor | None,
    ref_outer: torch.Tensor | None,
    x_outer: torch.Tensor | None,
    kernel_bandwidth: float | None,
    kernel_subsets: list[tuple[np.ndarray, float]] | None,
) -> bool:
    """Check the arguments of :func:`pair_search`; True when it searches neighbours (not ``k = 0``, kernel alone)."""
    self_mode = ref is None
    n, d = x.shape
    r = x if ref is None else ref
    m = r.shape[0]
    if r.shape[1] != d:
        raise ValueError(f"ref must have {d} columns like x; got {r.shape[1]}")
    if self_mode and (both_sides or ref_radii is not None or x_radii is not None):
        raise ValueError("both_sides, ref_radii and x_radii need ref (a cross-search)")
    if kernel_bandwidth is not None and not self_mode:
        raise ValueError("kernel_bandwidth is for a self-search (no ref)")
    if kernel_subsets and kernel_bandwidth is None:
        raise ValueError("kernel_subsets need kernel_bandwidth (the bandwidth the expansion is about)")
    avail_r = n - 1 if self_mode else m
    knn = not (k == 0 and kernel_bandwidth is not None)  # k=0: the kernel sum alone
    if knn and (not 1 <= k <= avail_r or (both_sides and k > n)):
        raise ValueError(f"k must be between 1 and {min(avail_r, n) if both_sides else avail_r}; got {k}")
    for name, rad, size in (
        ("ref_radii", ref_radii, m),
        ("x_radii", x_radii, n),
        ("ref_outer", ref_outer, m),
        ("x_outer", x_outer, n),
    ):
        if rad is not None and tuple(rad.shape) != (size,):
            raise ValueError(f"{name} must have shape ({size},); got {tuple(rad.shape)}")
    if (ref_outer is not None and ref_radii is None) or (x_outer is not None and x_radii is None):
        raise ValueError("ref_outer and x_outer need the inner radii ref_radii and x_radii")
    return knn


@dataclass(frozen=True)
class _Screened:
    """The data centred in float64 and the setting of its screening keys (module notes, step 1).

    ``xs`` / ``rs``: the centred rows rounded to the key dtype ``sdtype``, with
    their squared norms ``xs_n2`` / ``rs_n2`` in that dtype (the norms that
    enter the keys); ``xn2`` / ``rn2``: the squared norms of the float64
    centred rows (the slacks).
    """

    x64: torch.Tensor
    r64: torch.Tensor
    centre: torch.Tensor
    sdtype: torch.dtype
    unit: float
    factor: float  # slack of a key per unit of |q|^2 + |r|^2
    xn2: torch.Tensor
    rn2: torch.Tensor
    xs: torch.Tensor
    rs: torch.Tensor
    xs_n2: torch.Tensor
    rs_n2: torch.Tensor

    def tile(self, s: int, e: int, out: torch.Tensor, c0: int) -> None:
        """Keys ``|q|^2 + |r|^2 - 2 q.r`` of query rows ``s:e`` against the reference rows from ``c0`` on, in ``out``.

        One product with the reference norms as its initial value (``-2`` scales
        exactly), then the query norms: no augmented copy of the data. The
        rounding stays within the slack of the module notes (the product's
        ``d u |q| |r|`` and two additions, against ``8 (d + 2) u (|q|^2 + |r|^2)``).
        """
        torch.addmm(self.rs_n2[None, c0:], self.xs[s:e], self.rs[c0:].T, alpha=-2.0, out=out)
        out.add_(self.xs_n2[s:e, None])


# Elements of the float64 scratch of one step of the centring pass (rows of every set go through it in chunks).
_CENTRE_CHUNK = 2**18


@dataclass(frozen=True)
class _Rows:
    """One set's rows centred in float64 (:func:`_centred`): rounded to the key dtype, with their norms."""

    xs: torch.Tensor  # the centred rows in the key dtype
    n2: torch.Tensor  # float64 squared norms of the float64 centred rows (the slacks)
    s_n2: torch.Tensor  # squared norms of ``xs``, in the key dtype (the keys)
    lin: torch.Tensor | None  # float64 ``(x - c) . c`` (the cubic kernel), when asked


def _centred(x64: torch.Tensor, centre: torch.Tensor, sdtype: torch.dtype, lin: bool) -> _Rows:
    """Centre the rows of ``x64`` at ``centre`` in float64 and round them to ``sdtype``, with their norms.

    One pass over row chunks of :data:`_CENTRE_CHUNK` elements (the float64
    centred copy is never made whole), on the CPU one worker thread per
    torch thread as for the tiles (:func:`_run_tiles`).
    """
    n, d = x64.shape
    device = x64.device
    xs = torch.empty((n, d), dtype=sdtype, device=device)
    n2 = torch.empty(n, dtype=torch.float64, device=device)
    s_n2 = torch.empty(n, dtype=sdtype, device=device)
    dots = torch.empty(n, dtype=torch.float64, device=device) if lin else None
    cc = centre.reshape(-1)
    step = max(1, _CENTRE_CHUNK // max(1, d))
    tiles = [(s, min(n, s + step)) for s in range(0, n, step)]
    workers = max(1, torch.get_num_threads()) if device.type == "cpu" and n * d >= _MIN_THREADED_WORK // 8 else 1

    def body(s: int, e: int, buf: torch.Tensor) -> None:
        c = torch.sub(x64[s:e], centre, out=buf[: (e - s) * d].view(e - s, d))
        torch.sum(c * c, 1, out=n2[s:e])
        if dots is not None:
            torch.mv(c, cc, out=dots[s:e])
        xs[s:e] = c
        t = xs[s:e]
        torch.sum(t * t, 1, out=s_n2[s:e])

    _run_tiles(tiles, min(workers, len(tiles)), lambda: torch.empty(step * d, dtype=torch.float64, device=device), body)
    return _Rows(xs, n2, s_n2, dots)


def _screen(
    x: torch.Tensor, ref: torch.Tensor | None, cubic_subsets: tuple[np.ndarray, np.ndarray | None] | None
) -> tuple[_Screened, _CubicPlan | None]:
    """Centre the data, round it to the key dtype with its norms (and build the cubic sums' plan)."""
    self_mode = ref is None
    n, d = x.shape
    device = x.device
    r = x if ref is None else ref
    m = r.shape[0]
    x64 = x.to(torch.float64)
    r64 = x64 if self_mode else r.to(device=device, dtype=torch.float64)
    centre = _round_centre(r64)
    sdtype = torch.float32 if d >= SCREEN_FLOAT32_MIN_DIM else torch.float64
    lin = cubic_subsets is not None
    qx = _centred(x64, centre, sdtype, lin)
    qr = qx if self_mode else _centred(r64, centre, sdtype, lin)
    if sdtype == torch.float32 and n and m:
        # |q|^2 + |r|^2 - 2 q.r and its partial sums stay below 4 max |.|^2: finite float32 keys
        # need the squared norms below an eighth of the float32 maximum (module notes, step 4).
        if not max(float(qx.n2.max()), float(qr.n2.max())) < torch.finfo(torch.float32).max / 8:
            sdtype = torch.float64
            qx = _centred(x64, centre, sdtype, lin)
            qr = qx if self_mode else _centred(r64, centre, sdtype, lin)
    cubic = None
    if cubic_subsets is not None:
        cubic = _CubicPlan(
            cubic_subsets,
            qx.s_n2,
            qr.s_n2,
            cast(torch.Tensor, qx.lin),
            cast(torch.Tensor, qr.lin),
            centre,
            n,
            self_mode,
        )
    unit = _UNIT_ROUNDOFF[sdtype]
    factor = _nudge_factor(d, sdtype) + 10 * unit
    return _Screened(x64, r64, centre, sdtype, unit, factor, qx.n2, qr.n2, qx.xs, qr.xs, qx.s_n2, qr.s_n2), cubic


def _thresholds(
    rad: torch.Tensor | None, device: torch.device, sdtype: torch.dtype, unit: float
) -> tuple[torch.Tensor | None, float]:
    """Squared radii in the key dtype, and the rounding of squaring and converting them."""
    if rad is None:
        return None, 0.0
    r2 = rad.to(device=device, dtype=torch.float64) ** 2
    return r2.to(sdtype), (4.0 * unit * float(r2.max()) if r2.numel() else 0.0)


@dataclass(frozen=True)
class _Balls:
    """The squared ball radii of a search in the key dtype, with their rounding slacks.

    ``*_thr``: the radii counted; ``*_flag``: how far the tiles flag pairs,
    the outer radii where pairs are collected (else the radii themselves).
    """

    ref_thr: torch.Tensor | None
    ref_thr_slack: float
    x_thr: torch.Tensor | None
    x_thr_slack: float
    ref_flag: torch.Tensor | None
    ref_flag_slack: float
    x_flag: torch.Tensor | None
    x_flag_slack: float
    collect_rows: bool  # pairs inside ref_outer are collected
    collect_cols: bool  # pairs inside x_outer are collected

    @classmethod
    def of(
        cls,
        ref_radii: torch.Tensor | None,
        x_radii: torch.Tensor | None,
        ref_outer: torch.Tensor | None,
        x_outer: torch.Tensor | None,
        device: torch.device,
        sdtype: torch.dtype,
        unit: float,
    ) -> _Balls:
        ref_thr, ref_thr_slack = _thresholds(ref_radii, device, sdtype, unit)
        x_thr, x_thr_slack = _thresholds(x_radii, device, sdtype, unit)
        ref_flag, ref_flag_slack = (
            _thresholds(ref_outer, device, sdtype, unit) if ref_outer is not None else (ref_thr, ref_thr_slack)
        )
        x_flag, x_flag_slack = (
            _thresholds(x_outer, device, sdtype, unit) if x_outer is not None else (x_thr, x_thr_slack)
        )
        return cls(
            ref_thr,
            ref_thr_slack,
            x_thr,
            x_thr_slack,
            ref_flag,
            ref_flag_slack,
            x_flag,
            x_flag_slack,
            ref_outer is not None,
            x_outer is not None,
        )

    @property
    def counting(self) -> bool:
        return self.ref_thr is not None or self.x_thr is not None


def _tiling(
    n: int, m: int, d: int, sdtype: torch.dtype, device: torch.device, budget: int
) -> tuple[int, list[tuple[int, int]], int]:
    """Rows per tile, the row tiles, and the worker threads that run them."""
    item = torch.finfo(sdtype).bits // 8
    workers = max(1, torch.get_num_threads()) if device.type == "cpu" else 1
    # per tile element: the key and a flag byte
    rows = max(1, min(MAX_TILE_ROWS, _tile_rows(n, m, workers, item + 1, budget)))
    if 2 * _GROUP <= rows < n:
        rows -= rows % _GROUP  # whole row groups for the column selection
    tiles = [(s, min(n, s + rows)) for s in range(0, n, rows)]
    # worker threads pay off only on large problems (starting them costs about a millisecond)
    workers = min(workers, len(tiles)) if n * m * d >= _MIN_THREADED_WORK else 1
    return rows, tiles, workers


def _pair_cap(device: torch.device, budget: int) -> int:
    """Pairs kept for the outer radii, per worker (beyond it the collection is dropped: None)."""
    workers_max = max(1, torch.get_num_threads()) if device.type == "cpu" else 1
    return max(1, max(budget, _MIN_PAIR_BYTES) // (24 * workers_max))


@dataclass(frozen=True)
class _Search:
    """What every tile of one :func:`pair_search` reads."""

    self_mode: bool
    n: int
    m: int
    knn: bool
    want_cols: bool  # the column side's candidates (cross-search with both_sides, or a self-search)
    kc_r: int
    kc_c: int
    rows: int  # rows per tile
    sdtype: torch.dtype
    device: torch.device
    factor: float
    xn2: torch.Tensor
    rmax: float
    balls: _Balls
    pair_cap: int
    cubic: _CubicPlan | None
    kernel_bandwidth: float | None
    plan: _SubsetPlan | None


class _TileState:
    """One worker's buffers and accumulators."""

    def __init__(self, search: _Search):
        rows, m, sdtype, device = search.rows, search.m, search.sdtype, search.device
        self.buf = torch.empty(rows * m, dtype=sdtype, device=device)
        self.flags = torch.empty(rows * m, dtype=torch.bool, device=device)
        self.cols = _Side(m, search.kc_c, sdtype, device) if search.want_cols else None
        self.cols_inside = torch.zeros(m, dtype=torch.int64, device=device) if search.balls.x_thr is not None else None
        self.amb_rows: list[torch.Tensor] = []
        self.amb_cols: list[torch.Tensor] = []
        # (i, j, sure) of the pairs inside the outer radii: sure pairs are inside the inner radius
        self.out_rows: list[torch.Tensor] | None = [] if search.balls.collect_rows else None
        self.out_cols: list[torch.Tensor] | None = [] if search.balls.collect_cols else None
        self.out_size = 0
        self.kernel = torch.zeros((), dtype=torch.float64, device=device)
        if search.cubic is not None:
            self.cubic = torch.zeros((search.cubic.subsets, 3), dtype=torch.float64, device=device)
            self.cubic_acc = torch.empty(
                rows * search.cubic.parts * search.cubic.subsets, dtype=torch.float64, device=device
            )
            self.cubic_buf = torch.empty(min(rows * m, max(rows, _CUBIC_CHUNK)), dtype=torch.float64, device=device)
        if search.plan is not None:
            self.moments = torch.zeros(
                (search.plan.order + 1, search.plan.members.shape[1]), dtype=torch.float64, device=device
            )
            self.ubuf = torch.empty(rows * m, dtype=sdtype, device=device)
            self.tbuf = torch.empty(rows * m, dtype=sdtype, device=device)


def _collect(st: _TileState, attr: str, i: torch.Tensor, j: torch.Tensor, sure: torch.Tensor, cap: int) -> None:
    """Keep the pairs ``(i, j, sure)`` in ``st.<attr>``, or drop the collection past ``cap`` pairs."""
    store = getattr(st, attr)
    if store is None:
        return
    st.out_size += int(i.numel())
    if st.out_size > cap:
        setattr(st, attr, None)
        return
    store.append(torch.stack([i, j, sure.to(torch.int64)], 1))


def _count_tile(
    search: _Search, st: _TileState, rows_inside: torch.Tensor | None, D: torch.Tensor, s: int, e: int
) -> None:
    """Both ball counts of the tile: one pass flags the pairs near or inside a ball, the few flagged decide."""
    b = search.balls
    # Each is read only where its radii are given (the tensor is then set).
    ref_flag, x_flag = cast(torch.Tensor, b.ref_flag), cast(torch.Tensor, b.x_flag)
    tile_slack = search.factor * (float(search.xn2[s:e].max()) + search.rmax)
    sl_r, sl_c = tile_slack + b.ref_thr_slack, tile_slack + b.x_thr_slack
    fl_r, fl_c = tile_slack + b.ref_flag_slack, tile_slack + b.x_flag_slack
    flags = st.flags[: D.numel()].view(D.shape)
    if b.ref_thr is not None:
        torch.le(D, ref_flag[None, :] + fl_r, out=flags)
        if b.x_thr is not None:
            flags |= D <= (x_flag[s:e, None] + fl_c)
    else:
        torch.le(D, x_flag[s:e, None] + fl_c, out=flags)
    i, j = flags.nonzero(as_tuple=True)
    if not i.numel():
        return
    key = D[i, j]
    if b.ref_thr is not None:
        thr = b.ref_thr[j]
        inside = key < thr - sl_r
        cast(torch.Tensor, rows_inside).index_add_(0, i[inside] + s, torch.ones_like(i[inside]))
        amb = (~inside) & (key <= thr + sl_r)
        if bool(amb.any()):
            st.amb_rows.append(torch.stack([i[amb] + s, j[amb]], 1))
        if b.collect_rows:
            near = key <= ref_flag[j] + fl_r
            _collect(st, "out_rows", i[near] + s, j[near], inside[near], search.pair_cap)
    if b.x_thr is not None:
        thr = b.x_thr[s:e][i]
        inside = key < thr - sl_c
        cast(torch.Tensor, st.cols_inside).index_add_(0, j[inside], torch.ones_like(j[inside]))
        amb = (~inside) & (key <= thr + sl_c)
        if bool(amb.any()):
            st.amb_cols.append(torch.stack([i[amb] + s, j[amb]], 1))
        if b.collect_cols:
            near = key <= x_flag[s:e][i] + fl_c
            _collect(st, "out_cols", i[near] + s, j[near], inside[near], search.pair_cap)


def _kernel_tile(search: _Search, st: _TileState, D: torch.Tensor, ar: torch.Tensor, s: int, e: int) -> None:
    """Add the tile's Gaussian kernel sum (and the subsets' moments) from its keys, overwriting them."""
    h = cast(float, search.kernel_bandwidth)
    plan = search.plan
    if plan is not None:
        # u = |x_i - x_j|^2 / h^2 (0 on the masked diagonal) for the moments sum_S exp(-u) u^p
        U = st.ubuf[: D.numel()].view(D.shape)
        torch.mul(D.clamp_(min=0.0), 1.0 / (h * h), out=U)
        U[ar, ar] = 0.0
        K = torch.exp(U.neg(), out=D)
        K[ar, ar] = 0.0
    else:
        # In place (the selections are done); the masked diagonal gives exp(-inf) = 0.
        K = torch.exp_(D.clamp_(min=0.0).mul_(-1.0 / (h * h)))
    # the diagonal block holds (i, j) and (j, i): once; the pairs beyond it stand for both orders
    block = K[:, : e - s].sum(dtype=torch.float64)
    st.kernel += 2.0 * (K.sum(dtype=torch.float64) - block) + block
    if plan is not None:
        plan.accumulate(st, K, U, s, e)


def _search_tile(
    search: _Search,
    screen: _Screened,
    row_side: _Side,
    rows_inside: torch.Tensor | None,
    s: int,
    e: int,
    st: _TileState,
) -> None:
    """One row tile: its screening keys, row and column candidates, ball counts and kernel sums."""
    c0 = s if search.self_mode else 0
    width = search.m - c0
    D = st.buf[: (e - s) * width].view(e - s, width)
    screen.tile(s, e, D, c0)
    ar = None
    if search.self_mode:
        ar = torch.arange(e - s, device=search.device)
        D[ar, ar] = math.inf
    if search.knn:
        kr = min(search.kc_r, width)
        v, j = torch.topk(D, kr, dim=1, largest=False, sorted=False)
        row_side.key[s:e, :kr] = v
        row_side.index[s:e, :kr] = j + c0
    if search.want_cols:
        off = (e - s) if search.self_mode else 0  # self: the diagonal block is served by the row side
        if width > off:
            side = cast(_Side, st.cols)
            if D.device.type == "cpu":
                _stream_columns(D[:, off:].numpy(), side.key.numpy(), side.index.numpy(), c0 + off, s)
            else:
                v2, i2 = _group_smallest(D[:, off:], min(search.kc_c, e - s))
                side.merge(c0 + off, v2.T, (i2 + s).T)
    if search.balls.counting:
        _count_tile(search, st, rows_inside, D, s, e)
    if search.cubic is not None:
        search.cubic.accumulate(st, D, s, e, c0)
    if search.kernel_bandwidth is not None:
        _kernel_tile(search, st, D, cast(torch.Tensor, ar), s, e)


def _refine(
    q64: torch.Tensor,
    r64: torch.Tensor,
    centre: torch.Tensor,
    r_n2: torch.Tensor,
    exclude_self: bool,
    budget: int,
    device: torch.device,
    bad: np.ndarray,
    kc: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates of rows ``bad`` from float64 keys against every reference row (in row chunks), with their floor.

    Returns the ``kc`` candidate indices per row and a lower bound on the
    squared distance of every other row: the largest candidate key less the
    float64 slack ``(8 (d + 2) + 10) u (|q|^2 + max |r|^2)`` (module notes,
    step 1); ``nan`` where the keys are not finite, so that the caller
    certifies nothing from them. ``q64`` and ``r64`` are the float64 rows
    before centring at ``centre`` (the keys' centre, module notes).
    """
    out = np.empty((bad.size, kc), dtype=np.int64)
    floor = np.empty(bad.size)
    r_c = r64 - centre
    factor = _nudge_factor(r_c.shape[1], torch.float64) + 10 * _UNIT_ROUNDOFF[torch.float64]
    rmax = float(r_n2.max())
    chunk = max(1, _tile_rows(bad.size, r_c.shape[0], 2, 8, budget))
    for s in range(0, bad.size, chunk):
        b = torch.as_tensor(bad[s : s + chunk], device=device)
        q = q64[b] - centre
        q2 = (q * q).sum(1, keepdim=True)
        keys = torch.addmm(r_n2[None, :], q, r_c.T, alpha=-2.0).add_(q2)
        if exclude_self:
            keys[torch.arange(b.numel(), device=device), b] = math.inf
        v, i = torch.topk(keys, kc, dim=1, largest=False)
        out[s : s + chunk] = i.cpu().numpy()
        top = v[:, -1].cpu().numpy()
        fl = top - factor * (q2[:, 0].cpu().numpy() + rmax)
        fl[~np.isfinite(top)] = np.nan
        floor[s : s + chunk] = fl
    return out, floor


def _ranked(
    qn: np.ndarray,
    rn: np.ndarray,
    side: _Side,
    k: int,
    slack: np.ndarray,
    budget: int,
    exclude_self: bool,
    refine: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]],
    device: torch.device,
) -> Neighbors:
    """The exact k nearest of the screened candidates (:func:`_exact_rank`), as :class:`Neighbors` on ``device``."""
    dist, index = _exact_rank(qn, rn, side, k, slack, budget, exclude_self, refine)
    return Neighbors(torch.from_numpy(dist).to(device), torch.from_numpy(index).to(device), "brute")


def _ball_results(
    states: list[_TileState],
    rows_inside: torch.Tensor | None,
    xn: np.ndarray,
    rn: np.ndarray,
    ref_radii: torch.Tensor | None,
    x_radii: torch.Tensor | None,
    ref_outer: torch.Tensor | None,
    x_outer: torch.Tensor | None,
    n: int,
    m: int,
    budget: int,
    device: torch.device,
) -> tuple[torch.Tensor | None, torch.Tensor | None, BallPairs | None, BallPairs | None]:
    """The exact ball counts and pairs: the tiles' sure counts plus the exact decisions of the undecided pairs."""
    cols_inside: torch.Tensor | None = None
    if ref_radii is not None:
        rows_inside = cast(torch.Tensor, rows_inside) + _decide(
            states, "amb_rows", xn, rn, _numpy64(ref_radii), 0, n, budget, device
        )
    if x_radii is not None:
        cols_inside = cast(torch.Tensor, sum(cast(torch.Tensor, st.cols_inside) for st in states))
        cols_inside = cols_inside + _decide(states, "amb_cols", xn, rn, _numpy64(x_radii), 1, m, budget, device)
    rows_pairs = cols_pairs = None
    if ref_outer is not None:
        rows_pairs = _outer_pairs(states, "out_rows", xn, rn, _numpy64(ref_outer), 0, budget)
    if x_outer is not None:
        cols_pairs = _outer_pairs(states, "out_cols", xn, rn, _numpy64(x_outer), 1, budget)
    return rows_inside, cols_inside, rows_pairs, cols_pairs


class _SubsetPlan:
    """Kernel sums of row subsets, each at its own bandwidth, from the tiles of one self-search.

    With ``u = |x_i - x_j|^2 / h_0^2`` (``h_0`` the search's bandwidth) and
    ``r = h_0^2 / h^2 - 1`` for a subset of bandwidth ``h``,
    ``exp(-|x_i - x_j|^2 / h^2) = exp(-u) sum_p (-r u)^p / p!`` (Taylor),
    so each subset's sum is a combination of the moments
    ``M_p = sum_{i,j in S} exp(-u) u^p``, ``p = 0..P``: one product of each
    tile with the subsets' membership columns per moment. The remainder of
    the expansion per pair is at most
    ``(|r| / (1 - |r|))^(P+1) / sqrt(2 pi (P+1))`` (the maximum of
    ``u^(P+1) exp(-(1 - |r|) u)`` and Stirling): ``P`` is the smallest
    order that keeps it below :attr:`PAIR_BOUND` for every subset with
    ``|r| / (1 - |r|) < 1/2`` (at most :attr:`MAX_ORDER`), and a subset whose
    bound times its number of pairs exceeds :attr:`TOLERANCE` of its sum is
    summed by a search of its own (the float32 keys of 32 dimensions and more
    are themselves good to about ``1e-6``, module notes).
    """

    MAX_ORDER = 10
    PAIR_BOUND = 1e-10
    TOLERANCE = 1e-7

    def __init__(
        self,
        subsets: list[tuple[np.ndarray, float]],
        bandwidth: float,
        n: int,
        dtype: torch.dtype,
        device: torch.device,
    ):
        self.subsets = [(np.asarray(rows, dtype=np.int64), float(h)) for rows, h in subsets]
        self.r = np.array([bandwidth**2 / h**2 - 1.0 for _, h in self.subsets])
        rho = np.abs(self.r) / np.maximum(1.0 - np.abs(self.r), 1e-300)
        rho[np.abs(self.r) >= 1.0] = np.inf
        # the smallest order whose per-pair bound is below the tolerance for the subsets within reach
        reach = rho < 0.5
        self.order = 0
        worst = float(rho[reach].max()) if reach.any() else 0.0
        while worst > 0 and self.order < self.MAX_ORDER and self._bound(worst, self.order) > self.PAIR_BOUND:
            self.order += 1
        self.bound = np.array([self._bound(v, self.order) if np.isfinite(v) else np.inf for v in rho])
        members = torch.zeros((n, len(self.subsets)), dtype=dtype, device=device)
        for c, (rows, _) in enumerate(self.subsets):
            members[torch.as_tensor(rows, device=device), c] = 1.0
        self.members = members
        self.sizes = np.array([rows.size for rows, _ in self.subsets], dtype=np.float64)

    @staticmethod
    def _bound(rho: float, order: int) -> float:
        return rho ** (order + 1) / math.sqrt(2.0 * math.pi * (order + 1))

    def accumulate(self, st: _TileState, K: torch.Tensor, U: torch.Tensor, s: int, e: int) -> None:
        """Add the tile's moments: the diagonal block once, the pairs beyond it for both orders."""
        T = st.tbuf[: K.numel()].view(K.shape)
        T.copy_(K)
        mine = self.members[s:e]
        b = e - s
        for p in range(self.order + 1):
            diag = (mine * (T[:, :b] @ mine)).sum(0, dtype=torch.float64)
            off = (mine * (T[:, b:] @ self.members[e:])).sum(0, dtype=torch.float64) if T.shape[1] > b else 0.0
            st.moments[p] += diag + 2.0 * off
            if p < self.order:
                T.mul_(U)

    def sums(self, moments: torch.Tensor, x: torch.Tensor, max_memory: int | None) -> np.ndarray:
        """Each subset's kernel sum (diagonal included): the series, or its own search when out of reach."""
        mom = moments.cpu().numpy()
        coef = np.array([[(-r) ** p / math.factorial(p) for r in self.r] for p in range(self.order + 1)])
        out: np.ndarray = (coef * mom).sum(0) + self.sizes  # + the diagonal, exp(0) = 1
        pairs = self.sizes**2
        far = np.flatnonzero(~(self.bound * pairs <= self.TOLERANCE * out))
        for c in far:
            rows, h = self.subsets[c]
            out[c] = gaussian_kernel_sum(x[torch.as_tensor(rows, device=x.device)], h, max_memory=max_memory)
        return out


class _CubicPlan:
    """Sums of KID's cubic kernel over subsets of pairs, from the tiles of a search.

    ``x . y = xc . yc + c . xc + c . yc + c . c`` for data centred at ``c``,
    and ``xc . yc = (|xc|^2 + |yc|^2 - key) / 2`` with the norms that
    entered the key (module notes): the product of a pair is within
    ``slack / 2`` of its exact value (about ``sqrt(d) u |xc| |yc|`` in
    practice: float32 keys from 32 dimensions on, else float64), the rest
    of the arithmetic is float64, so each kernel value ``(x . y / d + 1)^3``
    is within ``3 (x . y / d + 1)^2 slack / (2 d)`` of its float64 value;
    these errors are independent from pair to pair and a subset of ``m``
    rows averages ``m^2`` of them. A kernel value is
    ``(u_i + v_j - key / (2 d))^3`` with the per-row terms
    ``u_i = (|xc_i|^2 / 2 + c . xc_i + c . c) / d + 1`` and
    ``v_j = (|yc_j|^2 / 2 + c . yc_j) / d``, computed over column chunks of
    a tile that stay in cache. Each chunk's kernel values are summed per
    half of a subset (and the rest of a subset of odd size) by one float64
    product with the columns' memberships (``2 S`` columns, ``3 S`` for odd
    subsets); a row's sums over the columns of its own subsets and halves
    give the subset's sum (the three parts) and the halves' sums. A
    self-search sums each unordered pair once, ``j > i``, and the caller
    doubles the sums.
    """

    def __init__(
        self,
        subsets: tuple[np.ndarray, np.ndarray | None],
        xs_n2: torch.Tensor,
        rs_n2: torch.Tensor,
        x_lin: torch.Tensor,
        r_lin: torch.Tensor,
        centre: torch.Tensor,
        n: int,
        self_mode: bool,
    ):
        rows, cols = subsets
        rows = np.asarray(rows, dtype=np.int64)
        cols = rows if cols is None else np.asarray(cols, dtype=np.int64)
        self.subsets, self.m = rows.shape
        self.self_mode = self_mode
        device = xs_n2.device
        cc = centre.reshape(-1)
        self.d = cc.shape[0]
        self.scale = -0.5 / self.d
        # the squared norms that entered the keys (key dtype), in float64
        self.u = (0.5 * xs_n2.to(torch.float64) + x_lin + float(cc @ cc)) / self.d + 1.0
        self.v = (0.5 * rs_n2.to(torch.float64) + r_lin) / self.d
        h = self.m // 2
        self.parts = 2 if self.m == 2 * h else 3  # the halves, and the rest of odd subsets
        whole, first, second = slice(None), slice(0, h), slice(h, 2 * h)
        self.q_members = self._members(rows, n, (whole, first, second), device)
        self.r_members = self._members(cols, rs_n2.shape[0], (first, second, slice(2 * h, None))[: self.parts], device)

    def _members(self, rows: np.ndarray, n: int, parts: tuple[slice, ...], device: torch.device) -> torch.Tensor:
        """``(n, P S)`` float64: membership of each row in part ``p`` of subset ``c`` at column ``p S + c``."""
        out = torch.zeros((n, len(parts) * self.subsets), dtype=torch.float64, device=device)
        sub = torch.arange(self.subsets, device=device)
        for c, cols in enumerate(parts):
            part = torch.as_tensor(rows[:, cols], device=device)
            out[part, (c * self.subsets + sub)[:, None].expand_as(part)] = 1.0
        return out

    def accumulate(self, st: _TileState, D: torch.Tensor, s: int, e: int, c0: int) -> None:
        r, w = D.shape
        S = self.subsets
        A = st.cubic_acc[: r * self.parts * S].view(r, self.parts * S).zero_()
        step = max(1, _CUBIC_CHUNK // r)
        diag = (e - s) if self.self_mode else 0  # self-search: the pairs j > i only (the diagonal block holds both)
        for a in range(0, w, step):
            b = min(w, a + step)
            K = st.cubic_buf[: r * (b - a)].view(r, b - a)
            torch.add(self.v[None, c0 + a : c0 + b], D[:, a:b], alpha=self.scale, out=K)
            K.add_(self.u[s:e, None]).pow_(3)
            if a < diag:
                K[:, : min(b, diag) - a].triu_(1 - a)
            A.addmm_(K, self.r_members[c0 + a : c0 + b])
        q = self.q_members[s:e]
        halves = (q[:, S:] * A[:, : 2 * S]).sum(0).view(2, S)
        whole = (q[:, :S] * A.view(r, self.parts, S).sum(1)).sum(0)
        st.cubic += torch.stack([whole, halves[0], halves[1]], 1)


def _outer_pairs(
    states: list[_TileState], attr: str, xn: np.ndarray, rn: np.ndarray, outer: np.ndarray, axis: int, budget: int
) -> BallPairs | None:
    """The collected pairs inside the outer radii, as (point, ball, exact distance or -inf when sure inside).

    ``axis`` 0: the balls are the reference rows (column ``j``), the points
    the query rows; 1: the other way round. Pairs whose exact distance
    reaches the outer radius are dropped.
    """
    parts = [getattr(st, attr) for st in states]
    if any(p is None for p in parts):
        return None
    flat = [t for p in parts for t in p]
    if not flat:
        empty = np.zeros(0, dtype=np.int64)
        return BallPairs(empty, empty, np.zeros(0))
    ijs = torch.cat(flat).cpu().numpy()
    i, j, sure = ijs[:, 0], ijs[:, 1], ijs[:, 2].astype(bool)
    dist = np.full(i.size, -np.inf)
    todo = np.flatnonzero(~sure)
    dist[todo] = pair_distances(xn, rn, i[todo], j[todo])
    point, ball = (i, j) if axis == 0 else (j, i)
    keep = dist < outer[ball]
    order = np.lexsort((point[keep], ball[keep]))
    small = np.int32 if max(xn.shape[0], rn.shape[0]) < 2**31 else np.int64  # half the memory traffic of replicates
    return BallPairs(point[keep][order].astype(small), ball[keep][order].astype(small), dist[keep][order])


def _decide(
    states: list[_TileState],
    attr: str,
    xn: np.ndarray,
    rn: np.ndarray,
    radii: np.ndarray,
    axis: int,
    size: int,
    budget: int,
    device: torch.device,
) -> torch.Tensor:
    """Exact decisions of the undecided pairs ``(i, j)``: counts per row (axis 0) or per column (axis 1).

    The ball belongs to the other side: ``radii[j]`` for row counts, ``radii[i]`` for column counts.
    Pairs are decided in chunks within the memory budget.
    """
    pairs = [p for st in states for p in getattr(st, attr)]
    counts = np.zeros(size, dtype=np.int64)
    if pairs:
        ij = torch.cat(pairs).cpu().numpy()
        i, j = ij[:, 0], ij[:, 1]
        hit = pair_distances(xn, rn, i, j) < (radii[j] if axis == 0 else radii[i])
        counts += np.bincount((i if axis == 0 else j)[hit], minlength=size)
    return torch.from_numpy(counts).to(device)


def exact_kneighbors(
    x: torch.Tensor, k: int, *, ref: torch.Tensor | None = None, max_memory: int | None = None
) -> Neighbors:
    """The ``k`` nearest euclidean neighbours with distances from :func:`exact_distances` (:func:`pair_search`).

    Parameters
    ----------
    x, k, ref, max_memory
        As in :func:`pair_search`.

    Returns
    -------
    Neighbors
        ``dist`` float64 on ``x``'s device, ``index`` int64, both ``(n, k)``.
    """
    return cast(Neighbors, pair_search(x, k, ref=ref, max_memory=max_memory).rows)


def ball_counts(
    query: torch.Tensor, ref: torch.Tensor, radii: torch.Tensor, *, max_memory: int | None = None
) -> torch.Tensor:
    """For each query row, the number of balls ``B(ref_i, radii_i)`` holding it strictly.

    Counts ``#{i : |q - ref_i| < radii_i}`` with the distance of
    :func:`exact_distances` (precision, recall and density of Kynkäänniemi et
    al. 2019 and Naeem et al. 2020) through :func:`pair_search`, so a point
    exactly on a boundary (a copy of a reference row's k-th neighbour) is
    outside, whatever the rounding.

    Parameters
    ----------
    query : torch.Tensor, shape (n, d)
    ref : torch.Tensor, shape (m, d)
    radii : torch.Tensor, shape (m,)
        Radii from :func:`exact_kneighbors` (or any non-negative values).

    Returns
    -------
    torch.Tensor
        int64 counts of shape (n,), on ``query``'s device.
    """
    if ref.shape[1] != query.shape[1]:
        raise ValueError(f"ref must have {query.shape[1]} columns like query; got {ref.shape[1]}")
    if radii.shape != (ref.shape[0],):
        raise ValueError(f"radii must have shape ({ref.shape[0]},); got {tuple(radii.shape)}")
    return cast(torch.Tensor, pair_search(query, 1, ref=ref, ref_radii=radii, max_memory=max_memory).rows_inside)


def gaussian_kernel_sum(x: torch.Tensor, bandwidth: float, *, max_memory: int | None = None) -> float:
    """``sum_{i,j} exp(-|x_i - x_j|^2 / bandwidth^2)`` over all ordered pairs, diagonal included.

    From the screening keys of a self-search (:func:`pair_search` with
    ``kernel_bandwidth``): the pairs on and above the diagonal tiles only
    (the kernel is symmetric), the diagonal terms exactly 1. A smooth kernel
    needs no exact boundary: a key is within ``slack`` (module notes) of the
    squared distance, so each term is within a factor
    ``exp(+-slack / bandwidth^2)`` of its exact value (float32 keys in 2048
    dimensions: at most about 1e-3 relative for a bandwidth near the median
    distance, typically 1e-6).
    """
    if x.shape[0] < 2:
        return float(x.shape[0])
    return cast(float, pair_search(x, 0, kernel_bandwidth=bandwidth, max_memory=max_memory).kernel_sum)


def neighbors_within(
    nb: Neighbors | tuple[np.ndarray, np.ndarray],
    k: int,
    *,
    rows: np.ndarray | None,
    keep: np.ndarray | None,
    research: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    device: torch.device | None = None,
) -> tuple[Neighbors, np.ndarray]:
    """The ``k`` nearest kept reference rows of query rows ``rows``, from their longer exact lists (module notes).

    Parameters
    ----------
    nb : Neighbors or (dist, index) numpy arrays
        Exact ``L``-nearest lists (``L >= k``) of every query row of the full
        sets, ordered by exact distance and then index.
    k : int
    rows : numpy.ndarray or None
        The query rows kept, increasing (None: all).
    keep : numpy.ndarray or None
        Position of every full reference row among the kept ones, ``-1``
        for a dropped row (None: all kept, positions unchanged); kept rows
        keep their order, so ties stay ordered by index.
    research : callable ``(positions) -> (dist, index)``
        The exact k nearest of the query rows at ``positions`` (of the kept
        query rows) among the kept reference rows, for the rows fewer than
        ``k`` of whose listed neighbours are kept.
    device : torch.device, optional
        Where the result goes (default: ``nb``'s device, else the CPU).

    Returns
    -------
    (Neighbors, numpy.ndarray)
        Distances and positions among the kept reference rows, ``(n', k)``,
        bit for bit those of a search on the kept rows; and the positions of
        the rows that were searched again.
    """
    if isinstance(nb, Neighbors):
        device = nb.dist.device if device is None else device
        dist, index = nb.dist.cpu().numpy(), cast(torch.Tensor, nb.index).cpu().numpy()
    else:
        dist, index = nb
    if rows is not None:
        dist, index = dist[rows], index[rows]
    n = dist.shape[0]
    out_d = np.empty((n, k))
    out_i = np.empty((n, k), dtype=np.int64)
    if keep is None:
        out_d[:], out_i[:] = dist[:, :k], index[:, :k]
        again = np.zeros(0, dtype=np.int64)
    else:
        pos = keep[index]
        valid = pos >= 0
        rank = np.cumsum(valid, axis=1)
        enough = rank[:, -1] >= k
        take = valid & (rank <= k) & enough[:, None]  # the first k kept, in list order
        out_d[enough] = dist[take].reshape(-1, k)
        out_i[enough] = pos[take].reshape(-1, k)
        again = np.flatnonzero(~enough)
        if again.size:
            out_d[again], out_i[again] = research(again)
    device = torch.device("cpu") if device is None else device
    return Neighbors(torch.from_numpy(out_d).to(device), torch.from_numpy(out_i).to(device), "brute"), again


def counts_within(
    pairs: BallPairs,
    radii: np.ndarray,
    *,
    points: np.ndarray | None,
    balls: np.ndarray | None,
    n_points: int,
    recount: Callable[[np.ndarray], np.ndarray] | None = None,
    redo: np.ndarray | None = None,
) -> np.ndarray:
    """Per kept point, the number of kept balls holding it strictly, from the pairs inside the outer radii.

    Parameters
    ----------
    pairs : BallPairs
        Every pair closer than its ball's outer radius (:func:`pair_search`).
    radii : numpy.ndarray
        The kept balls' radii (each at least its full-set radius, at most its
        outer radius unless listed in ``redo``).
    points, balls : numpy.ndarray or None
        Position of every full-set point (ball) among the kept ones, ``-1``
        when dropped (None: all kept).
    n_points : int
        Number of kept points.
    recount : callable ``(ball positions) -> counts``, optional
        Exact counts per kept point of the balls ``redo`` (whose radius may
        pass the outer one), from a search.
    redo : numpy.ndarray, optional
        Positions of the kept balls to count through ``recount``.
    """
    p = pairs.point if points is None else points[pairs.point]
    b = pairs.ball if balls is None else balls[pairs.ball]
    ok = (p >= 0) & (b >= 0)
    p, b, dist = p[ok], b[ok], pairs.dist[ok]
    hit = dist < radii[b]
    if redo is not None and redo.size:
        skip = np.zeros(radii.shape[0], dtype=bool)
        skip[redo] = True
        hit &= ~skip[b]
    counts = np.bincount(p[hit], minlength=n_points).astype(np.int64)
    if redo is not None and redo.size:
        counts += cast(Callable[[np.ndarray], np.ndarray], recount)(redo)
    return counts
