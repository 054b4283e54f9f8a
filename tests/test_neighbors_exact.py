"""Exact brute force on near-duplicate data: every path against a direct numpy float64 computation.

The euclidean brute-force path screens pairs with the matrix-product
expansion, whose absolute error (about ``1e-14 |x|^2``) exceeds the squared
distance of two rows 1e-9 apart; every distance it returns or compares must
still be the direct one (see the module notes of ``_neighbors``). The
reference here is numpy: ``sqrt(sum((a - b)^2))`` in float64 over every pair,
on the float64 values of the input, ties broken by row index. Distances
agree to rounding (relative 1e-12 in float64; float32 outputs are the float64
distance rounded once, 2**-24); counts agree exactly.
"""

import numpy as np
import pytest
import torch

from infobench.estimators import _neighbors as nb
from infobench.estimators.knn import knn_entropy, ksg_mutual_information

PATHS = ("tree", "brute")
KINDS = ("pairs-1e-9", "pairs-1e-12", "copies", "clusters", "grid", "offset-column", "mixed-scales")


def make(kind, n, d, seed=0, gap=None):
    """``n x d`` float64 data of one kind of near-duplicates (pairs ``gap`` apart) or exact ties."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * 3.0 + 5.0
    if kind in ("pairs-1e-9", "pairs-1e-12", "offset-column", "mixed-scales"):
        gap = gap if gap is not None else 1e-12 if kind == "pairs-1e-12" else 1e-9
        x[1:80:2] = x[0:80:2] + gap * rng.normal(size=(40, d))
    if kind == "offset-column":
        x[:, -1] = 1e8  # a constant far from zero: it adds nothing to any distance
    if kind == "mixed-scales":
        x *= np.logspace(-3, 3, d)
    if kind == "copies":
        x[100:140] = x[:40]
    if kind == "clusters":  # clusters of 15 near-copies: more near-ties than the search's candidates
        centres = rng.normal(size=(n // 15 + 1, d)) * 3.0 + 5.0
        x = centres[np.arange(n) // 15] + 1e-10 * rng.normal(size=(n, d))
    if kind == "grid":
        x = rng.integers(0, 3, size=(n, d)).astype(np.float64)
    return x


def direct(a, b, blocks=None, metric="euclidean"):
    """All pairwise (KSG-norm) distances, directly in float64."""
    blocks = (a.shape[1],) if blocks is None else blocks
    diff = a[:, None, :] - b[None, :, :]
    out, start = None, 0
    for w in blocks:
        part = diff[..., start : start + w]
        start += w
        val = np.abs(part).max(-1) if metric == "chebyshev" else np.sqrt((part * part).sum(-1))
        out = val if out is None else np.maximum(out, val)
    return out


def self_direct(x, blocks=None, metric="euclidean"):
    D = direct(x, x, blocks, metric)
    np.fill_diagonal(D, np.inf)
    return D


def nearest(D, k):
    """The k nearest columns of every row, by distance and then index."""
    return np.argsort(D, axis=1, kind="stable")[:, :k]


def naive_ksg(x, y, k, metric, variant, dtype=np.float64):
    """KSG counts by the direct distances; max-norm differences rounded to ``dtype`` like the data's."""
    if metric == "chebyshev":  # |a - b| is exact in the data's own dtype (the engine's predicate)
        x, y = x.astype(dtype), y.astype(dtype)
    Dx, Dy = self_direct(x, metric=metric), self_direct(y, metric=metric)
    J = np.maximum(Dx, Dy)
    nn = nearest(J, k)
    eps = np.take_along_axis(J, nn, 1)[:, -1]
    if variant == 1:
        return (Dx < eps[:, None]).sum(1), (Dy < eps[:, None]).sum(1), eps
    ex = np.take_along_axis(Dx, nn, 1).max(1)
    ey = np.take_along_axis(Dy, nn, 1).max(1)
    return (Dx <= ex[:, None]).sum(1), (Dy <= ey[:, None]).sum(1), eps


def as_input(x, dtype):
    """The tensor of the given dtype and the float64 values it holds (the reference's data)."""
    t = torch.from_numpy(x).to(dtype)
    return t, t.double().numpy()


def rtol_of(dtype):
    return 1e-12 if dtype == torch.float64 else 2.0**-23


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("d", [12, 30])
@pytest.mark.parametrize("kind", KINDS)
def test_kneighbors_and_kth_distance_are_the_direct_distances(kind, d, dtype):
    t, x = as_input(make(kind, 200, d), dtype)
    D = self_direct(x)
    want = np.sort(D, 1)[:, :4]
    for algorithm in PATHS:
        res = nb.kneighbors(t, 4, algorithm=algorithm, return_index=True, max_memory=2**16)
        np.testing.assert_allclose(res.dist.double().numpy(), want, rtol=rtol_of(dtype), atol=0)
        # the indices point at rows at those distances
        at = np.take_along_axis(D, res.index.numpy(), 1)
        np.testing.assert_allclose(at, want, rtol=rtol_of(dtype), atol=0)
        kth, _ = nb.kth_distance(t, 4, algorithm=algorithm)
        np.testing.assert_allclose(kth.double().numpy(), want[:, -1], rtol=rtol_of(dtype), atol=0)
    if kind != "grid":  # brute force: the nearest by distance, then index (no ties but on the grid)
        res = nb.kneighbors(t, 4, algorithm="brute", return_index=True)
        np.testing.assert_array_equal(res.index.numpy(), nearest(D, 4))


@pytest.mark.parametrize("kind", ["pairs-1e-9", "copies", "clusters", "grid"])
def test_cross_and_block_searches_are_the_direct_distances(kind):
    x = make(kind, 240, 14)
    q, ref = x[:90], x[90:]
    q[:20] = ref[:20] + 1e-9  # queries 1e-9 from reference rows
    res = nb.kneighbors(torch.from_numpy(q), 3, ref=torch.from_numpy(ref), algorithm="brute")
    np.testing.assert_allclose(res.dist.numpy(), np.sort(direct(q, ref), 1)[:, :3], rtol=1e-12, atol=0)
    for blocks in [(2, 12), (1, 13), (7, 7), (1, 1, 12)]:
        want = np.sort(self_direct(x, blocks), 1)[:, :3]
        for algorithm in PATHS:
            got = nb.kneighbors(torch.from_numpy(x), 3, blocks=blocks, algorithm=algorithm).dist.numpy()
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind", KINDS)
def test_count_within_decides_every_pair_exactly(kind, dtype):
    t, x = as_input(make(kind, 200, 16), dtype)
    D = self_direct(x)
    f = nb._nudge_factor(16, dtype)
    for k in (1, 3):
        # radii: a neighbour's own distance (the neighbour on the boundary), and half-way radii
        r = nb.kth_distance(t, k, algorithm="brute")[0]
        for radius in (r, r * 1.5):
            rad = radius.double().numpy()
            for strict in (True, False):
                # the documented predicate: the radius nudged by the rounding bound (module notes)
                want = (D < rad[:, None] * (1 - f)).sum(1) if strict else (D <= rad[:, None] * (1 + f)).sum(1)
                for algorithm in PATHS:
                    got = nb.count_within(t, radius, strict=strict, algorithm=algorithm, max_memory=2**16)
                    np.testing.assert_array_equal(got.numpy(), want, err_msg=f"{algorithm} strict={strict}")


def test_count_within_near_duplicates_at_their_own_distance():
    # The distance of two rows 1e-9 apart is far below the expansion's rounding; a strict count at it
    # holds nothing, a count at twice it holds the partner (brute force counted 0 before).
    x = make("pairs-1e-9", 200, 30)
    t = torch.from_numpy(x)
    r = torch.from_numpy(np.sort(self_direct(x), 1)[:, 0])
    for algorithm in PATHS:
        assert (nb.count_within(t, r, algorithm=algorithm)[:80] == 0).all()
        assert (nb.count_within(t, 2 * r, algorithm=algorithm)[:80] == 1).all()
        assert (nb.count_within(t, r, strict=False, algorithm=algorithm)[:80] == 1).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("metric", nb.METRICS)
@pytest.mark.parametrize("variant", [1, 2])
@pytest.mark.parametrize("kind", KINDS)
def test_ksg_counts_are_the_direct_counts(kind, variant, metric, dtype):
    t, z = as_input(make(kind, 200, 24), dtype)
    for dx in (1, 8, 12):
        x, y = z[:, :dx], z[:, dx:]
        nx, ny, eps = naive_ksg(x, y, 3, metric, variant, np.float32 if dtype == torch.float32 else np.float64)
        if kind == "grid" and variant == 2 and metric == "chebyshev":
            continue  # exact ties: which tied k-th neighbour the max-norm path takes is not specified
        got = nb.ksg_counts(
            t[:, :dx], t[:, dx:], 3, metric=metric, variant=variant, algorithm="brute", max_memory=2**16
        )
        assert got.algorithm == "brute"
        np.testing.assert_allclose(got.eps.double().numpy(), eps, rtol=rtol_of(dtype), atol=0)
        np.testing.assert_array_equal(got.nx.numpy(), nx, err_msg=f"nx, dx={dx}")
        np.testing.assert_array_equal(got.ny.numpy(), ny, err_msg=f"ny, dx={dx}")
        # The tree: float64 only (it nudges float32 radii by 8 (d + 2) 2**-24, module notes); variant 2
        # on exact ties depends on which tied neighbour is taken; and pairs 1e-12 apart put a
        # neighbour within the tree's nudge (2e-14 relative) of the radius: it is left out there.
        if dtype == torch.float64 and (kind != "grid" or variant == 1) and kind != "pairs-1e-12":
            tree = nb.ksg_counts(t[:, :dx], t[:, dx:], 3, metric=metric, variant=variant, algorithm="tree")
            np.testing.assert_array_equal(tree.nx.numpy(), nx)
            np.testing.assert_array_equal(tree.ny.numpy(), ny)


def test_ordinary_data_keep_their_results():
    # Continuous data without near-ties: the exact path returns what the expansion did (to rounding)
    # and the same counts, one tile or many, one thread or several.
    rng = np.random.default_rng(5)
    z = torch.from_numpy(rng.normal(size=(600, 24)))
    x, y = z[:, :12], z[:, 12:]
    base = nb.ksg_counts(x, y, 4, algorithm="brute")
    tree = nb.ksg_counts(x, y, 4, algorithm="tree")
    np.testing.assert_allclose(base.eps.numpy(), tree.eps.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(base.nx.numpy(), tree.nx.numpy())
    np.testing.assert_array_equal(base.ny.numpy(), tree.ny.numpy())
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        tiled = nb.ksg_counts(x, y, 4, algorithm="brute", max_memory=2**14)
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(tiled.eps.numpy(), base.eps.numpy())
    np.testing.assert_array_equal(tiled.nx.numpy(), base.nx.numpy())


def test_knn_entropy_brute_equals_tree_on_near_duplicates():
    # 1e-7 apart: above the estimator's duplicate floor, far below the expansion's rounding at d = 12
    x = make("pairs-1e-9", 400, 12, gap=1e-7)
    tree = knn_entropy(x, k=1, algorithm="tree", seed=0)
    brute = knn_entropy(x, k=1, algorithm="brute", seed=0)
    assert brute.extras["algorithm"] == "brute" and tree.extras["algorithm"] == "tree"
    assert np.isfinite(brute.value)
    assert brute.value == pytest.approx(tree.value, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("variant", [1, 2])
def test_ksg_brute_equals_tree_on_near_duplicates(variant):
    z = make("pairs-1e-9", 400, 12, gap=1e-7)
    x, y = z[:, :6], z[:, 6:]
    tree = ksg_mutual_information(x, y, k=3, variant=variant, metric="euclidean", algorithm="tree", seed=0)
    brute = ksg_mutual_information(x, y, k=3, variant=variant, metric="euclidean", algorithm="brute", seed=0)
    assert brute.extras["algorithm"] == "brute" and tree.extras["algorithm"] == "tree"
    assert brute.value == pytest.approx(tree.value, rel=1e-12, abs=1e-12)
