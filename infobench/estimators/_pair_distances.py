"""Exact euclidean distances of pairs of rows: the one computation every exact comparison rests on.

:func:`pair_distances` (and :func:`exact_distances`, the same for rows paired in
order) sums the squared differences of a pair directly in float64, in one
fixed order, so the distance of a pair does not depend on which call, tile or
argument order produced it; a copy is at distance exactly 0. The exact pair
searches of the quality scores (:mod:`._exact_pairs`) and the brute-force
path of the kNN engine (:mod:`._neighbors`) both screen pairs with the
matrix-product expansion and decide with these distances. :func:`direct_rows`
and :func:`direct_kneighbors` are the last resort of both: every distance of
some query rows, without any key.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np

from infobench.estimators._kdtree import _compiled, threads

__all__ = ["exact_distances", "pair_distances", "direct_rows", "direct_kneighbors", "PairDistance"]

# ``dist(ia, ib)``: the exact distances of the pairs ``(ia[t], ib[t])``.
PairDistance = Callable[[np.ndarray, np.ndarray], np.ndarray]


def exact_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``|a_i - b_i|`` of paired rows, computed directly, as float64.

    The one computation behind every distance that :func:`pair_search`
    compares: ``sqrt(sum((a - b)^2))`` row by row (:func:`pair_distances`
    with the rows paired in order), so the distance of a pair does not
    depend on which call, tile or argument order produced it. ``|a - b|`` is
    exactly ``|b - a|``, and a copy is at distance exactly 0.
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"exact_distances needs two arrays of the same shape (n, d); got {a.shape} and {b.shape}")
    idx = np.arange(a.shape[0], dtype=np.int64)
    return pair_distances(a, b, idx, idx)


def pair_distances(a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """``|a[ia[t]] - b[ib[t]]|`` for every ``t``: the exact distances of :func:`exact_distances`, without copying rows.

    ``a`` and ``b`` are C-contiguous float64 ``(n, d)`` and ``(m, d)``
    arrays. The sum of squares runs over the coordinates in one fixed order
    (eight running sums over coordinates ``k mod 8``, added pairwise, then
    the rest), the same for every pair of a dimension, compiled
    (:func:`_pair_distances_kernel`), over chunks of pairs on
    :func:`~infobench.estimators._kdtree.threads` threads.
    """
    ia = np.ascontiguousarray(ia, dtype=np.int64).ravel()
    ib = np.ascontiguousarray(ib, dtype=np.int64).ravel()
    out = np.empty(ia.size)
    if not ia.size:
        return out
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    workers = threads()
    chunk = max(4096, -(-ia.size // workers))
    starts = list(range(0, ia.size, chunk))
    if workers == 1 or len(starts) == 1:
        _pair_distances_kernel(a, b, ia, ib, out, 0, ia.size)
        return out
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda st: _pair_distances_kernel(a, b, ia, ib, out, st, min(ia.size, st + chunk)), starts))
    return out


@_compiled()
def _pair_distances_kernel(
    a: np.ndarray, b: np.ndarray, ia: np.ndarray, ib: np.ndarray, out: np.ndarray, start: int, stop: int
) -> None:  # pragma: no cover - compiled
    d = a.shape[1]
    full = d - d % 8
    for t in range(start, stop):
        i = ia[t]
        j = ib[t]
        s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
        for k in range(0, full, 8):
            x0 = a[i, k] - b[j, k]
            x1 = a[i, k + 1] - b[j, k + 1]
            x2 = a[i, k + 2] - b[j, k + 2]
            x3 = a[i, k + 3] - b[j, k + 3]
            x4 = a[i, k + 4] - b[j, k + 4]
            x5 = a[i, k + 5] - b[j, k + 5]
            x6 = a[i, k + 6] - b[j, k + 6]
            x7 = a[i, k + 7] - b[j, k + 7]
            s0 += x0 * x0
            s1 += x1 * x1
            s2 += x2 * x2
            s3 += x3 * x3
            s4 += x4 * x4
            s5 += x5 * x5
            s6 += x6 * x6
            s7 += x7 * x7
        total = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
        for k in range(full, d):
            x = a[i, k] - b[j, k]
            total += x * x
        out[t] = math.sqrt(total)


def direct_rows(
    dist: PairDistance, m: int, rows: np.ndarray, exclude_self: bool, budget: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(part, dd)`` chunks of query rows ``rows`` and their exact distances ``dd`` to all ``m`` reference rows.

    In row chunks within the memory budget (48 bytes a pair); with
    ``exclude_self`` a row's distance to itself is ``+inf``.
    """
    chunk = max(1, budget // (48 * max(m, 1)))
    cols = np.arange(m, dtype=np.int64)
    for s in range(0, rows.size, chunk):
        part = rows[s : s + chunk]
        dd = dist(np.repeat(part, m), np.tile(cols, part.size)).reshape(part.size, m)
        if exclude_self:
            dd[np.arange(part.size), part] = np.inf
        yield part, dd


def direct_kneighbors(
    dist: PairDistance, m: int, rows: np.ndarray, k: int, exclude_self: bool, budget: int
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest of query rows ``rows`` among ``m`` reference rows by the exact distances ``dist`` (ties by index).

    The last resort of a certificate: no key, no bound, the exact distance of
    every pair (:func:`direct_rows`).
    """
    out_d = np.empty((rows.size, k))
    out_i = np.empty((rows.size, k), dtype=np.int64)
    s = 0
    for part, dd in direct_rows(dist, m, rows, exclude_self, budget):
        o = np.lexsort((np.broadcast_to(np.arange(m, dtype=np.int64), dd.shape), dd), axis=1)[:, :k]
        out_d[s : s + part.size] = np.take_along_axis(dd, o, axis=1)
        out_i[s : s + part.size] = o
        s += part.size
    return out_d, out_i


def _direct_kneighbors(
    qn: np.ndarray, rn: np.ndarray, rows: np.ndarray, k: int, exclude_self: bool, budget: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`direct_kneighbors` with the distances of :func:`pair_distances` between ``qn`` and ``rn``."""
    return direct_kneighbors(partial(pair_distances, qn, rn), rn.shape[0], rows, k, exclude_self, budget)
