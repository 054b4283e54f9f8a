"""The k-d tree behind every CPU neighbour search and range count of :mod:`._neighbors`, compiled with numba.

Why a tree of our own: the KSG joint distance with euclidean marginals,
``N(v) = max(||v_x||_2, ||v_y||_2)`` (Kraskov et al. 2004, Sec. II: the
maximum norm in the joint space, any norm in each marginal), is not a metric
that scipy's ``cKDTree`` or scikit-learn's trees accept. Searching it with an
L2 tree needs about three times the candidates (the L2 ball enclosing the
product of two 5-d balls is 2.95 times its volume), which made the default
KSG 5x5 no faster than a plain max-norm cKDTree KSG. Counting the points in a
ball was the other cost: cKDTree visits every point of a node that lies
wholly inside the ball, where this tree adds the node's size. Measured at
n = 1e5 on 2 cores, this tree was also faster than cKDTree (``workers=-1``)
for max-norm and plain euclidean kNN in 10-d and than scikit-learn's threaded
``KDTree`` for max-norm counts, so it serves them all: one engine.

Keys: squared euclidean block norms ``max_b ||v_b||_2^2`` (one block: plain
squared L2), or the max-norm ``max_j |v_j|`` (``metric="chebyshev"``).

The tree
    Median splits along the widest coordinate down to ``leaf_size`` points,
    with each node's *tight* bounding box. Building is ``O(n log n)``
    (quickselect per level).

Exactness
    Node bounds use the same arithmetic as the point distances: for a point
    ``p`` inside a box, ``fl(p_j - q_j)`` is at least the box's gap
    ``fl(lo_j - q_j)`` (rounding is monotone), and squares, sums and maxima
    of larger terms are never smaller. A node is therefore pruned, or counted
    whole, only when every one of its points would be, as computed. The
    searches are exact on the computed keys; :func:`knn_blocks` and
    :func:`count_ball` accumulate the coordinates in the same order, so a
    neighbour's own key compares equal to itself in both.

Threads
    The kernels are compiled with numba (``nogil``; compiled on first use,
    about 3 s, and cached on disk where a cache folder is writable) and run
    over row chunks in Python threads, as many as :func:`threads` (torch's
    thread count): no numba threading layer is involved, so callers may
    themselves be threaded.

This module is the only place these searches are computed; the engine in
:mod:`._neighbors` calls it and owns validation and exact-boundary rules.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar, cast

import numba
import numpy as np
import torch

from infobench._validation import check_choice

__all__ = ["Tree", "build", "knn_blocks", "count_ball", "threads", "LEAF_SIZE"]

# Leaf size, on the 5x5 KSG at n = 1e5: 8, 16 and 32 searched alike (4.2-4.3 s, one
# run each); alternating 16 and 32 in one process (three rounds), 32 searched slower
# (4.9-5.7 s against 3.8-4.8 s) and counted alike (2.4-3.0 s against 2.6-3.2 s).
LEAF_SIZE = 16
# Query rows per thread task: small enough to balance two to a few dozen
# cores, large enough that a task's setup is negligible.
_CHUNK_ROWS = 2048

_F = TypeVar("_F", bound=Callable[..., Any])


def _compiled(**options: Any) -> Callable[[_F], _F]:
    """``numba.njit(nogil=True, **options)`` with an on-disk cache where one can be written.

    numba refuses ``cache=True`` (``RuntimeError`` when the function is
    decorated, i.e. at import) when no cache folder is writable: a read-only
    install without a writable home folder. The kernels are then compiled
    once per process instead of failing the import.
    """

    def wrap(fn: _F) -> _F:
        try:
            return cast(_F, numba.njit(nogil=True, cache=True, **options)(fn))
        except RuntimeError:
            return cast(_F, numba.njit(nogil=True, cache=False, **options)(fn))

    return wrap


class Tree(NamedTuple):
    """Flat arrays of a k-d tree over ``points`` (node 0 is the root)."""

    points: np.ndarray  # (n, d) float64, C-contiguous
    index: np.ndarray  # type: ignore[assignment]  # permutation: leaf order of the points (shadows tuple.index)
    ordered: np.ndarray  # points[index], so that a leaf's points are contiguous in memory
    start: np.ndarray  # node -> first position in ``index``
    end: np.ndarray  # node -> one past its last position
    left: np.ndarray  # node -> left child, -1 for a leaf
    right: np.ndarray  # node -> right child
    lo: np.ndarray  # (nodes, d) lower corner of the tight bounding box
    hi: np.ndarray  # (nodes, d) upper corner


@_compiled()
def _select(
    index: np.ndarray, s: int, e: int, m: int, points: np.ndarray, dim: int
) -> None:  # pragma: no cover - compiled
    """Hoare quickselect: reorder ``index[s:e]`` so that position ``m`` holds its rank, smaller keys before it."""
    lo, hi = s, e - 1
    while hi > lo:
        a, b, c = points[index[lo], dim], points[index[(lo + hi) // 2], dim], points[index[hi], dim]
        pivot = max(min(a, b), min(max(a, b), c))  # median of three
        i, j = lo, hi
        while i <= j:
            while points[index[i], dim] < pivot:
                i += 1
            while points[index[j], dim] > pivot:
                j -= 1
            if i <= j:
                t = index[i]
                index[i] = index[j]
                index[j] = t
                i += 1
                j -= 1
        if m <= j:
            hi = j
        elif m >= i:
            lo = i
        else:
            break


@_compiled()
def _build(points: np.ndarray, leaf_size: int) -> tuple[np.ndarray, ...]:  # pragma: no cover - compiled
    n, d = points.shape
    index = np.arange(n)
    cap = 2 * (n // max(1, leaf_size // 2) + 1) + 1
    start = np.empty(cap, np.int64)
    end = np.empty(cap, np.int64)
    left = np.full(cap, -1, np.int64)
    right = np.full(cap, -1, np.int64)
    lo = np.empty((cap, d))
    hi = np.empty((cap, d))
    stack = np.empty(128, np.int64)
    start[0] = 0
    end[0] = n
    count = 1
    stack[0] = 0
    sp = 1
    while sp > 0:
        sp -= 1
        node = stack[sp]
        s, e = start[node], end[node]
        for j in range(d):
            lo[node, j] = np.inf
            hi[node, j] = -np.inf
        for t in range(s, e):
            p = index[t]
            for j in range(d):
                v = points[p, j]
                if v < lo[node, j]:
                    lo[node, j] = v
                if v > hi[node, j]:
                    hi[node, j] = v
        if e - s <= leaf_size:
            continue
        dim = 0
        width = -1.0
        for j in range(d):
            if hi[node, j] - lo[node, j] > width:
                width = hi[node, j] - lo[node, j]
                dim = j
        if width <= 0.0:  # all points equal: one leaf
            continue
        m = s + (e - s) // 2
        _select(index, s, e, m, points, dim)
        left[node] = count
        right[node] = count + 1
        start[count], end[count] = s, m
        start[count + 1], end[count + 1] = m, e
        stack[sp] = count
        stack[sp + 1] = count + 1
        sp += 2
        count += 2
    return (
        index,
        start[:count].copy(),
        end[:count].copy(),
        left[:count].copy(),
        right[:count].copy(),
        lo[:count].copy(),
        hi[:count].copy(),
    )


@_compiled(inline="always")
def _add(s: float, v: float, cheb: bool) -> float:  # pragma: no cover - compiled
    """One coordinate's contribution: ``max(s, |v|)`` (max-norm) or ``s + v^2`` (squared euclidean)."""
    if cheb:
        a = abs(v)
        return a if a > s else s
    return s + v * v


@_compiled(inline="always")
def _box_key(
    q: np.ndarray, lo: np.ndarray, hi: np.ndarray, node: int, bstart: np.ndarray, cheb: bool
) -> float:  # pragma: no cover - compiled
    """Lower bound of the block key from ``q`` to any point of ``node``'s box."""
    key = 0.0
    for b in range(len(bstart) - 1):
        s = 0.0
        for j in range(bstart[b], bstart[b + 1]):
            g = lo[node, j] - q[j]
            g2 = q[j] - hi[node, j]
            if g2 > g:
                g = g2
            if g > 0.0:
                s = _add(s, g, cheb)
        if s > key:
            key = s
    return key


@_compiled()
def _knn_rows(
    ordered: np.ndarray,
    index: np.ndarray,
    start: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    end: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    queries: np.ndarray,
    rows: np.ndarray,
    k: int,
    bstart: np.ndarray,
    cheb: bool,
    self_mode: bool,
    out_key: np.ndarray,
    out_idx: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """k nearest under the block key (see :func:`knn_blocks`) for ``queries[rows]`` (depth first, nearer child first)."""
    stack = np.empty(256, np.int64)
    skey = np.empty(256)
    kd = np.empty(k)
    ki = np.empty(k, np.int64)
    nb = len(bstart) - 1
    for i in rows:
        q = queries[i]
        skip = i if self_mode else -1
        for t in range(k):
            kd[t] = np.inf
            ki[t] = -1
        stack[0] = 0
        skey[0] = 0.0
        sp = 1
        while sp > 0:
            sp -= 1
            node = stack[sp]
            if skey[sp] >= kd[k - 1]:
                continue
            if left[node] < 0:
                for t in range(start[node], end[node]):
                    p = index[t]
                    if p == skip:
                        continue
                    pt = ordered[t]
                    worst = kd[k - 1]
                    key = 0.0
                    for b in range(nb):
                        s = 0.0
                        for j in range(bstart[b], bstart[b + 1]):
                            s = _add(s, pt[j] - q[j], cheb)
                        if s > key:
                            key = s
                            if key >= worst:
                                break
                    if key < worst:
                        m = k - 1
                        while m > 0 and kd[m - 1] > key:
                            kd[m] = kd[m - 1]
                            ki[m] = ki[m - 1]
                            m -= 1
                        kd[m] = key
                        ki[m] = p
            else:
                a, c = left[node], right[node]
                ka = _box_key(q, lo, hi, a, bstart, cheb)
                kc = _box_key(q, lo, hi, c, bstart, cheb)
                if ka <= kc:  # the nearer child is popped first
                    stack[sp], skey[sp], stack[sp + 1], skey[sp + 1] = c, kc, a, ka
                else:
                    stack[sp], skey[sp], stack[sp + 1], skey[sp + 1] = a, ka, c, kc
                sp += 2
        for t in range(k):
            out_key[i, t] = kd[t]
            out_idx[i, t] = ki[t]


@_compiled()
def _count_rows(
    ordered: np.ndarray,
    index: np.ndarray,
    start: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    end: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    queries: np.ndarray,
    rows: np.ndarray,
    r2: np.ndarray,
    strict: bool,
    cheb: bool,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Number of points with key ``< r2[i]`` (``<=`` if not strict) of ``queries[rows]`` (key: see :func:`count_ball`)."""
    stack = np.empty(256, np.int64)
    d = ordered.shape[1]
    for i in rows:
        q = queries[i]
        r = r2[i]
        count = 0
        stack[0] = 0
        sp = 1
        while sp > 0:
            sp -= 1
            node = stack[sp]
            near = 0.0
            far = 0.0
            for j in range(d):
                a = lo[node, j] - q[j]
                b = q[j] - hi[node, j]
                g = a if a > b else b
                if g > 0.0:
                    near = _add(near, g, cheb)
                far = _add(far, -a if -a > -b else -b, cheb)
            if near > r or (strict and near == r):
                continue
            if far < r or (not strict and far == r):
                count += end[node] - start[node]
                continue
            if left[node] < 0:
                for t in range(start[node], end[node]):
                    pt = ordered[t]
                    s = 0.0
                    for j in range(d):
                        s = _add(s, pt[j] - q[j], cheb)
                    if s < r or (not strict and s == r):
                        count += 1
            else:
                stack[sp] = left[node]
                stack[sp + 1] = right[node]
                sp += 2
        out[i] = count


def build(points: np.ndarray, leaf_size: int = LEAF_SIZE) -> Tree:
    """Build the tree over ``points`` (any float array of shape (n, d); copied to float64)."""
    pts = np.ascontiguousarray(points, dtype=np.float64)
    index, *nodes = _build(pts, leaf_size)
    return Tree(pts, index, pts[index], *nodes)


def threads() -> int:
    """This process's compute threads: torch's setting, the one budget every engine follows.

    The benchmark runner sets it per job (cores // jobs), and the brute-force
    tiles of :mod:`._neighbors` and :mod:`._exact_pairs` use the same number.
    """
    return max(1, torch.get_num_threads())


def _run(kernel: Callable[..., None], tree: Tree, queries: np.ndarray, order: np.ndarray, *args: Any) -> None:
    """``kernel`` over ``order`` in row chunks, on :func:`threads` threads (the kernels release the GIL)."""
    chunks = np.array_split(order, max(1, -(-order.size // _CHUNK_ROWS)))
    arrays = (tree.ordered, tree.index, tree.start, tree.left, tree.right, tree.end, tree.lo, tree.hi, queries)
    workers = threads()
    if workers == 1 or len(chunks) == 1:
        for rows in chunks:
            kernel(*arrays, rows, *args)
        return
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda rows: kernel(*arrays, rows, *args), chunks))


def _query_order(tree: Tree, queries: np.ndarray | None) -> np.ndarray:
    """Rows in a spatially coherent order: the tree's leaf order, or that of a quick tree over ``queries``."""
    if queries is None:
        return tree.index
    return _build(np.ascontiguousarray(queries, dtype=np.float64), 4 * LEAF_SIZE)[0]


def _key_kind(metric: str) -> bool:
    """True for max-norm keys, False for squared euclidean ones."""
    return bool(check_choice("metric", metric, ("euclidean", "chebyshev")) == "chebyshev")


def knn_blocks(
    tree: Tree, queries: np.ndarray | None, k: int, blocks: tuple[int, ...], metric: str = "euclidean"
) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest neighbours under the block key.

    The key of a difference ``v`` is ``max_b ||v_b||_2^2`` (``"euclidean"``:
    the squared KSG norm with euclidean blocks; one block is plain squared
    L2) or ``max_j |v_j|`` (``"chebyshev"``: the max-norm itself, blocks
    make no difference).

    Parameters
    ----------
    tree : Tree
        Tree over the reference points.
    queries : ndarray of shape (m, d) or None
        ``None``: the tree's own points, each excluding itself (by index, so
        a duplicate of a point is a neighbour at distance 0).
    k : int
        ``1 <= k <=`` the number of candidates.
    blocks : tuple of int
        Column block widths, summing to ``d``.
    metric : {"euclidean", "chebyshev"}

    Returns
    -------
    key, index : ndarray of shape (m, k)
        Keys in ascending order and the neighbours' rows.
    """
    cheb = _key_kind(metric)
    self_mode = queries is None
    q = tree.points if self_mode else np.ascontiguousarray(queries, dtype=np.float64)
    bstart = np.concatenate([[0], np.cumsum(blocks)]).astype(np.int64)
    key = np.empty((q.shape[0], k))
    idx = np.empty((q.shape[0], k), dtype=np.int64)
    _run(_knn_rows, tree, q, _query_order(tree, None if self_mode else q), k, bstart, cheb, self_mode, key, idx)
    return key, idx


def count_ball(tree: Tree, radius_key: np.ndarray, strict: bool, metric: str = "euclidean") -> np.ndarray:
    """For each point of ``tree``, the points (itself included) with key ``< radius_key`` (``<=`` if not strict).

    The key is the squared euclidean distance (``"euclidean"``) or the
    max-norm distance (``"chebyshev"``), as in :func:`knn_blocks`.
    """
    cheb = _key_kind(metric)
    out = np.empty(tree.points.shape[0], dtype=np.int64)
    _run(
        _count_rows,
        tree,
        tree.points,
        tree.index,
        np.ascontiguousarray(radius_key, dtype=np.float64),
        bool(strict),
        cheb,
        out,
    )
    return out
