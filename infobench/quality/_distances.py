"""Tiled Euclidean neighbour searches for the sample-quality scores.

Memory is bounded by tiling: a block of query rows is compared with every
reference row at once, so the largest temporary is ``tile x n_ref`` values
(about :data:`TILE_BYTES`), never ``n x n``. Candidates are ranked with the
matrix-product expansion ``|a|^2 + |b|^2 - 2 a.b`` (fast, BLAS) and the
distances that are returned are then recomputed directly as ``|a - b|``, so
an exact copy has distance exactly 0 (the expansion would leave a rounding
residue of about ``1e-8 |a|``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["TILE_BYTES", "CrossResult", "knn_self", "knn_cross", "kernel_sum"]

# Size of the largest temporary per tile; 64 MiB keeps n = 50,000 well inside memory.
TILE_BYTES = 64 * 2**20
# Extra candidates re-ranked with exact distances, so rounding in the expansion
# cannot swap the k-th neighbour with the (k+1)-th.
_SLACK = 4


def _tile_rows(width: int, itemsize: int, tile_bytes: int | None) -> int:
    """Rows per tile so that one ``rows x width`` temporary fits the budget."""
    budget = TILE_BYTES if tile_bytes is None else int(tile_bytes)
    return max(1, budget // max(1, width * itemsize))


def _augment(q: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``[q, |q|^2, 1]`` and ``[-2 r, 1, |r|^2]^T``: their product is the squared-distance tile in one matmul."""
    q_sq = (q * q).sum(1, keepdim=True)
    r_sq = (ref * ref).sum(1, keepdim=True)
    left = torch.cat([q, q_sq, torch.ones_like(q_sq)], dim=1)
    right = torch.cat([-2.0 * ref, torch.ones_like(r_sq), r_sq], dim=1).T.contiguous()
    return left, right


def _exact(q: torch.Tensor, ref: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Distances ``|q_i - ref[idx[i, j]]|`` computed directly (no cancellation)."""
    return torch.linalg.vector_norm(q[:, None, :] - ref[idx], dim=-1)


@dataclass
class CrossResult:
    """Neighbours of each query row among the reference rows.

    Attributes
    ----------
    dist : torch.Tensor
        ``(n_query, k)`` Euclidean distances to the k nearest reference rows,
        ascending.
    index : torch.Tensor
        ``(n_query, k)`` their reference row indices.
    inside : torch.Tensor or None
        ``(n_query,)`` int64: the number of reference balls
        ``B(ref_i, radii_i)`` that contain the query strictly
        (``|q - ref_i| < radii_i``), when ``radii`` were given.
    """

    dist: torch.Tensor
    index: torch.Tensor
    inside: torch.Tensor | None = None


def knn_cross(
    query: torch.Tensor,
    ref: torch.Tensor,
    k: int,
    *,
    radii: torch.Tensor | None = None,
    exclude_self: bool = False,
    tile_bytes: int | None = None,
) -> CrossResult:
    """k nearest reference rows of every query row, in tiles.

    Parameters
    ----------
    query, ref : torch.Tensor
        ``(n_q, d)`` and ``(n_r, d)`` floating tensors on the same device.
    k : int
        Number of neighbours (``k <= n_r``, or ``n_r - 1`` with ``exclude_self``).
    radii : torch.Tensor, optional
        ``(n_r,)`` ball radii around the reference rows; when given, the
        number of balls containing each query is counted in the same pass
        (precision, recall and density of Kynkaanniemi et al. 2019 and
        Naeem et al. 2020).
    exclude_self : bool
        ``query`` is ``ref``: row ``i`` is not its own neighbour (nor its own ball).
    tile_bytes : int, optional
        Memory budget of one tile (default :data:`TILE_BYTES`).
    """
    n_q, n_r = query.shape[0], ref.shape[0]
    avail = n_r - 1 if exclude_self else n_r
    if not 1 <= k <= avail:
        raise ValueError(f"k must be in [1, {avail}] for {n_r} reference rows; got {k}")
    kc = min(avail, k + _SLACK)
    left, right = _augment(query, ref)
    r2 = None if radii is None else radii * radii
    # The exact re-ranking holds a (tile, kc, d) block: bound it by the same budget.
    tile = _tile_rows(max(n_r, kc * ref.shape[1]), query.element_size(), tile_bytes)
    dists, idxs, counts = [], [], []
    for start in range(0, n_q, tile):
        stop = min(n_q, start + tile)
        q = query[start:stop]
        # Rounding can leave tiny negative squared distances; they only rank
        # candidates (exact distances are recomputed) or fall below any radius^2 > 0.
        d2 = left[start:stop] @ right
        if exclude_self:
            rows = torch.arange(stop - start, device=d2.device)
            d2[rows, rows + start] = float("inf")
        if r2 is not None:
            counts.append((d2 < r2[None, :]).sum(1))
        cand = torch.topk(d2, kc, dim=1, largest=False, sorted=False).indices
        del d2
        exact = _exact(q, ref, cand)
        order = torch.argsort(exact, dim=1)[:, :k]
        dists.append(torch.gather(exact, 1, order))
        idxs.append(torch.gather(cand, 1, order))
    return CrossResult(
        torch.cat(dists),
        torch.cat(idxs),
        None if r2 is None else torch.cat(counts),
    )


def knn_self(x: torch.Tensor, k: int, *, tile_bytes: int | None = None) -> CrossResult:
    """k nearest other rows of every row of ``x`` (a row is not its own neighbour)."""
    return knn_cross(x, x, k, exclude_self=True, tile_bytes=tile_bytes)


def kernel_sum(x: torch.Tensor, bandwidth: float, *, tile_bytes: int | None = None) -> float:
    """``sum_{i,j} exp(-|x_i - x_j|^2 / bandwidth^2)`` over all ordered pairs, diagonal included, in tiles."""
    n = x.shape[0]
    left, right = _augment(x, x)
    tile = _tile_rows(n, x.element_size(), tile_bytes)
    total = torch.zeros((), dtype=x.dtype, device=x.device)
    scale = -1.0 / (bandwidth * bandwidth)
    for start in range(0, n, tile):
        d2 = (left[start : start + tile] @ right).clamp_(min=0.0)
        total += torch.exp_(d2.mul_(scale)).sum()
    return float(total)
