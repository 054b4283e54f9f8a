"""Exact neighbour searches, ball counts and kernel sums between sets of feature vectors.

The sample-quality scores (precision, recall, density, coverage, kNN KL and
entropy of features, memorization, the Renyi kernel entropy) compare
neighbour distances with ball radii: a point exactly on a ball's boundary
must be outside, and a copy must be at distance exactly 0. Every distance
that is *compared* here comes from one computation, :func:`exact_distances`
(float64, a direct sum of squares per pair); the tiled matrix product of the
brute-force engine (:class:`~infobench.estimators._neighbors._Pairwise`) only
*screens* candidates:

1. **Screening keys** ``|q|^2 + |r|^2 - 2 q.r`` on data centred in float64.
   From :data:`SCREEN_FLOAT32_MIN_DIM` dimensions on the product dominates the
   cost and the keys are computed in float32 (twice the speed, half the
   memory); below, in float64. A key differs from the exact squared distance
   by at most ``slack = ((8 (d + 2) + 10) u) (|q|^2 + |r|^2)`` (centred norms,
   ``u`` the unit roundoff of the key dtype: ``8 (d + 2) u`` bounds the
   expansion's rounding, the module notes of ``_neighbors``; ``10 u`` the
   rounding of the centred data to that dtype).
2. **Candidates**: the ``k + extra`` smallest keys of every row (and with
   ``both_sides``, of every column), selected exactly with ``topk``.
3. **Exact re-ranking** by :func:`exact_distances` (ties by index).
4. **Certificate.** A row that is not a candidate has a key at least the
   largest candidate key ``K``, hence a squared distance of at least
   ``K - slack``; when that exceeds the k-th exact squared distance, the k
   nearest are exact. A row without the certificate (a near-tie spanning all
   extra candidates; none in 10,000 2048-d Gaussian rows with 8 extra) is
   searched again with float64 keys against every reference row and
   re-ranked the same way.

**Ball counts** ``#{j : |q_i - r_j| < rho_j}``: a pair whose key lies more than
``slack`` (plus the rounding of ``rho_j^2``) below or above ``rho_j^2`` is
decided by the key, every other pair by :func:`exact_distances`, so a point on
a boundary is outside whatever the rounding.

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
from dataclasses import dataclass

import numpy as np
import torch

from infobench.estimators._neighbors import (
    _UNIT_ROUNDOFF,
    Neighbors,
    _budget,
    _nudge_factor,
    _numpy64,
    _Pairwise,
    _round_centre,
    _run_tiles,
    _tile_rows,
)

__all__ = [
    "SCREEN_FLOAT32_MIN_DIM",
    "MAX_TILE_ROWS",
    "PairSearch",
    "exact_distances",
    "pair_search",
    "exact_kneighbors",
    "ball_counts",
    "gaussian_kernel_sum",
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
    """

    rows: Neighbors | None
    cols: Neighbors | None = None
    rows_inside: torch.Tensor | None = None
    cols_inside: torch.Tensor | None = None
    kernel_sum: float | None = None


def exact_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``|a_i - b_i|`` of paired rows, computed directly, as float64.

    The one computation behind every distance that :func:`pair_search`
    compares: ``sqrt(sum((a - b)^2))`` row by row in numpy (contiguous rows,
    the same summation order for every pair of the same dimension), so the
    distance of a pair does not depend on which call, tile or argument order
    produced it. ``|a - b|`` is exactly ``|b - a|``, and a copy is at
    distance exactly 0.
    """
    diff = np.ascontiguousarray(a, dtype=np.float64) - np.ascontiguousarray(b, dtype=np.float64)
    diff *= diff
    return np.sqrt(diff.sum(axis=1))


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
    def combine(sides: list["_Side"]) -> "_Side":
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


def _exact_rank(qn: np.ndarray, rn: np.ndarray, side: _Side, k: int, slack: np.ndarray, budget: int,
                self_mode: bool, refine) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest by exact distance among the screened candidates, with the certificate (module notes).

    Only candidates whose key is within ``2 slack`` of the k-th smallest key
    can be among the k nearest (each of the k smallest keys is within
    ``slack`` of its squared distance): their distances come from
    :func:`exact_distances`, the others are left out. ``refine(rows, kc)``
    returns float64-searched candidate indices for rows without the
    certificate.
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
    d = qn.shape[1]
    chunk = max(1, _tile_rows(rows.size, d, 3, 8, budget))
    for s in range(0, rows.size, chunk):
        rr, cc = rows[s:s + chunk], cols[s:s + chunk]
        dist[rr, cc] = exact_distances(qn[rr], rn[idx[rr, cc]])
    pick = np.lexsort((idx, dist), axis=1)[:, :k]
    out_d = np.take_along_axis(dist, pick, axis=1)
    out_i = np.take_along_axis(idx, pick, axis=1)
    avail = rn.shape[0] - (1 if self_mode else 0)
    if kc < avail:
        # Any other row has key >= the largest candidate key, so squared distance >= that - slack.
        floor = key[:, -1] - slack
        bad = np.flatnonzero(~(floor > out_d[:, -1] ** 2 * (1.0 + 1e-12)))
        if bad.size:
            cand = refine(bad, kc)
            dd = exact_distances(np.repeat(qn[bad], kc, axis=0), rn[cand.ravel()]).reshape(bad.size, kc)
            o = np.lexsort((cand, dd), axis=1)[:, :k]
            out_d[bad] = np.take_along_axis(dd, o, axis=1)
            out_i[bad] = np.take_along_axis(cand, o, axis=1)
    return out_d, out_i


def pair_search(
    x: torch.Tensor,
    k: int,
    *,
    ref: torch.Tensor | None = None,
    both_sides: bool = False,
    ref_radii: torch.Tensor | None = None,
    x_radii: torch.Tensor | None = None,
    kernel_bandwidth: float | None = None,
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
    kernel_bandwidth : float, optional
        Self-search only: also the Gaussian kernel sum over every pair, from
        the same screening keys (:func:`gaussian_kernel_sum`).
    max_memory : int, optional
        Memory budget of the tiles in bytes (the estimators' knob).

    Returns
    -------
    PairSearch
    """
    self_mode = ref is None
    n, d = x.shape
    r = x if self_mode else ref
    m = r.shape[0]
    if r.shape[1] != d:
        raise ValueError(f"ref must have {d} columns like x; got {r.shape[1]}")
    if self_mode and (both_sides or ref_radii is not None or x_radii is not None):
        raise ValueError("both_sides, ref_radii and x_radii need ref (a cross-search)")
    if kernel_bandwidth is not None and not self_mode:
        raise ValueError("kernel_bandwidth is for a self-search (no ref)")
    avail_r = n - 1 if self_mode else m
    knn = not (k == 0 and kernel_bandwidth is not None)  # k=0: the kernel sum alone
    if knn and (not 1 <= k <= avail_r or (both_sides and k > n)):
        raise ValueError(f"k must be between 1 and {min(avail_r, n) if both_sides else avail_r}; got {k}")
    for name, rad, size in (("ref_radii", ref_radii, m), ("x_radii", x_radii, n)):
        if rad is not None and tuple(rad.shape) != (size,):
            raise ValueError(f"{name} must have shape ({size},); got {tuple(rad.shape)}")
    device = x.device
    budget = _budget(device, max_memory)
    x64 = x.to(torch.float64)
    r64 = x64 if self_mode else r.to(device=device, dtype=torch.float64)
    centre = _round_centre(r64)
    xc = x64 - centre
    rc = xc if self_mode else r64 - centre
    sdtype = torch.float32 if d >= SCREEN_FLOAT32_MIN_DIM else torch.float64
    xs = xc.to(sdtype)
    rs = xs if self_mode else rc.to(sdtype)
    pw = _Pairwise(xs, rs, "euclidean", (d,), m, centred=True)
    del xs, rs
    unit = _UNIT_ROUNDOFF[sdtype]
    factor = _nudge_factor(d, sdtype) + 10 * unit
    xn2 = (xc * xc).sum(1)
    rn2 = xn2 if self_mode else (rc * rc).sum(1)
    rmax, xmax = float(rn2.max()), float(xn2.max())
    kc_r = min(k + _EXTRA, avail_r)
    kc_c = min(k + _EXTRA, n - 1 if self_mode else n)
    want_cols = knn and (both_sides or self_mode)

    def thresholds(rad):
        """Squared radii in the key dtype, and the rounding of squaring and converting them."""
        if rad is None:
            return None, 0.0
        r2 = rad.to(device=device, dtype=torch.float64) ** 2
        return r2.to(sdtype), (4.0 * unit * float(r2.max()) if r2.numel() else 0.0)

    ref_thr, ref_thr_slack = thresholds(ref_radii)
    x_thr, x_thr_slack = thresholds(x_radii)
    counting = ref_thr is not None or x_thr is not None
    item = torch.finfo(sdtype).bits // 8
    workers = max(1, torch.get_num_threads()) if device.type == "cpu" else 1
    # per tile element: the key and a flag byte
    rows = max(1, min(MAX_TILE_ROWS, _tile_rows(n, m, workers, item + 1, budget)))
    if 2 * _GROUP <= rows < n:
        rows -= rows % _GROUP  # whole row groups for the column selection
    tiles = [(s, min(n, s + rows)) for s in range(0, n, rows)]
    # worker threads pay off only on large problems (starting them costs about a millisecond)
    workers = min(workers, len(tiles)) if n * m * d >= _MIN_THREADED_WORK else 1
    row_side = _Side(n, kc_r, sdtype, device)
    rows_inside = torch.zeros(n, dtype=torch.int64, device=device) if ref_thr is not None else None

    class State:
        def __init__(self):
            self.buf = torch.empty(rows * m, dtype=sdtype, device=device)
            self.flags = torch.empty(rows * m, dtype=torch.bool, device=device)
            self.cols = _Side(m, kc_c, sdtype, device) if want_cols else None
            self.cols_inside = torch.zeros(m, dtype=torch.int64, device=device) if x_thr is not None else None
            self.amb_rows: list[torch.Tensor] = []
            self.amb_cols: list[torch.Tensor] = []
            self.kernel = torch.zeros((), dtype=torch.float64, device=device)

    def count(st: State, D: torch.Tensor, s: int, e: int) -> None:
        """Both ball counts of the tile: one pass flags the pairs near or inside a ball, the few flagged decide."""
        tile_slack = factor * (float(xn2[s:e].max()) + rmax)
        sl_r, sl_c = tile_slack + ref_thr_slack, tile_slack + x_thr_slack
        flags = st.flags[: D.numel()].view(D.shape)
        if ref_thr is not None:
            torch.le(D, ref_thr[None, :] + sl_r, out=flags)
            if x_thr is not None:
                flags |= D <= (x_thr[s:e, None] + sl_c)
        else:
            torch.le(D, x_thr[s:e, None] + sl_c, out=flags)
        i, j = flags.nonzero(as_tuple=True)
        if not i.numel():
            return
        key = D[i, j]
        if ref_thr is not None:
            thr = ref_thr[j]
            inside = key < thr - sl_r
            rows_inside.index_add_(0, i[inside] + s, torch.ones_like(i[inside]))
            amb = (~inside) & (key <= thr + sl_r)
            if bool(amb.any()):
                st.amb_rows.append(torch.stack([i[amb] + s, j[amb]], 1))
        if x_thr is not None:
            thr = x_thr[s:e][i]
            inside = key < thr - sl_c
            st.cols_inside.index_add_(0, j[inside], torch.ones_like(j[inside]))
            amb = (~inside) & (key <= thr + sl_c)
            if bool(amb.any()):
                st.amb_cols.append(torch.stack([i[amb] + s, j[amb]], 1))

    def body(s: int, e: int, st: State) -> None:
        c0 = s if self_mode else 0
        width = m - c0
        D = st.buf[: (e - s) * width].view(e - s, width)
        pw.tile(s, e, D, None, c0)
        if self_mode:
            ar = torch.arange(e - s, device=device)
            D[ar, ar] = math.inf
        if knn:
            kr = min(kc_r, width)
            v, j = torch.topk(D, kr, dim=1, largest=False, sorted=False)
            row_side.key[s:e, :kr] = v
            row_side.index[s:e, :kr] = j + c0
        if want_cols:
            off = (e - s) if self_mode else 0  # self: the diagonal block is served by the row side
            if width > off:
                v2, i2 = _group_smallest(D[:, off:], min(kc_c, e - s))
                st.cols.merge(c0 + off, v2.T, (i2 + s).T)
        if counting:
            count(st, D, s, e)
        if kernel_bandwidth is not None:
            # In place (the selections are done); the masked diagonal gives exp(-inf) = 0.
            K = torch.exp_(D.clamp_(min=0.0).mul_(-1.0 / (kernel_bandwidth * kernel_bandwidth)))
            # the diagonal block holds (i, j) and (j, i): once; the pairs beyond it stand for both orders
            block = K[:, : e - s].sum(dtype=torch.float64)
            st.kernel += 2.0 * (K.sum(dtype=torch.float64) - block) + block

    states = _run_tiles(tiles, workers, State, body)
    del pw

    xn = _numpy64(x64)
    rn = xn if self_mode else _numpy64(r64)
    xn2_np, rn2_np = xn2.cpu().numpy(), rn2.cpu().numpy()

    def refine(q_c: torch.Tensor, r_c: torch.Tensor, r_n2: torch.Tensor, bad: np.ndarray, kc: int,
               exclude_self: bool) -> np.ndarray:
        """Candidates of rows ``bad`` from float64 keys against every reference row (in row chunks)."""
        out = np.empty((bad.size, kc), dtype=np.int64)
        chunk = max(1, _tile_rows(bad.size, r_c.shape[0], 2, 8, budget))
        for s in range(0, bad.size, chunk):
            b = torch.as_tensor(bad[s:s + chunk], device=device)
            q = q_c[b]
            keys = torch.addmm(r_n2[None, :], q, r_c.T, alpha=-2.0).add_((q * q).sum(1, keepdim=True))
            if exclude_self:
                keys[torch.arange(b.numel(), device=device), b] = math.inf
            out[s:s + chunk] = torch.topk(keys, kc, dim=1, largest=False).indices.cpu().numpy()
        return out

    def refine_rows(bad: np.ndarray, kc: int) -> np.ndarray:
        return refine(xc, rc, rn2, bad, kc, self_mode)

    result_rows = None
    if knn:
        side = _Side.combine([row_side] + [st.cols for st in states]) if self_mode else row_side
        rd, ri = _exact_rank(xn, rn, side, k, factor * (xn2_np + rmax), budget, self_mode, refine_rows)
        result_rows = Neighbors(torch.from_numpy(rd).to(device), torch.from_numpy(ri).to(device), "brute")
    result_cols = None
    if both_sides:
        cside = _Side.combine([st.cols for st in states])

        def refine_cols(bad: np.ndarray, kc: int) -> np.ndarray:
            return refine(rc, xc, xn2, bad, kc, False)

        cd, ci = _exact_rank(rn, xn, cside, k, factor * (rn2_np + xmax), budget, False, refine_cols)
        result_cols = Neighbors(torch.from_numpy(cd).to(device), torch.from_numpy(ci).to(device), "brute")

    cols_inside = None
    if ref_thr is not None:
        rows_inside = rows_inside + _decide(states, "amb_rows", xn, rn, _numpy64(ref_radii), 0, n, budget, device)
    if x_thr is not None:
        cols_inside = sum(st.cols_inside for st in states)
        cols_inside = cols_inside + _decide(states, "amb_cols", xn, rn, _numpy64(x_radii), 1, m, budget, device)
    kernel_sum = None
    if kernel_bandwidth is not None:
        kernel_sum = float(sum(st.kernel for st in states)) + n  # + the diagonal, exp(0) = 1
    return PairSearch(result_rows, result_cols, rows_inside, cols_inside, kernel_sum)


def _decide(states, attr: str, xn: np.ndarray, rn: np.ndarray, radii: np.ndarray, axis: int, size: int,
            budget: int, device: torch.device) -> torch.Tensor:
    """Exact decisions of the undecided pairs ``(i, j)``: counts per row (axis 0) or per column (axis 1).

    The ball belongs to the other side: ``radii[j]`` for row counts, ``radii[i]`` for column counts.
    Pairs are decided in chunks within the memory budget.
    """
    pairs = [p for st in states for p in getattr(st, attr)]
    counts = np.zeros(size, dtype=np.int64)
    if pairs:
        ij = torch.cat(pairs).cpu().numpy()
        chunk = max(1, _tile_rows(ij.shape[0], xn.shape[1], 3, 8, budget))
        for s in range(0, ij.shape[0], chunk):
            i, j = ij[s:s + chunk, 0], ij[s:s + chunk, 1]
            hit = exact_distances(xn[i], rn[j]) < (radii[j] if axis == 0 else radii[i])
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
    return pair_search(x, k, ref=ref, max_memory=max_memory).rows


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
    return pair_search(query, 1, ref=ref, ref_radii=radii, max_memory=max_memory).rows_inside


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
    return pair_search(x, 0, kernel_bandwidth=bandwidth, max_memory=max_memory).kernel_sum
