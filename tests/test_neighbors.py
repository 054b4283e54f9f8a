"""The exact kNN engine: both paths against a naive numpy implementation.

Distances from the matrix-product expansion (euclidean brute force) differ
from the direct formula by rounding only, so they are compared to 1e-12;
counts and max-norm distances are compared exactly, since the engine keeps
boundary points exact (see the module notes of ``_neighbors``).
"""

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from infobench.estimators import _exact_pairs as ep
from infobench.estimators import _kdtree
from infobench.estimators import _neighbors as nb

PATHS = ("tree", "brute")


def naive_dist(a, b, metric, blocks=None):
    """All pairwise KSG-norm distances by the direct formula."""
    blocks = (a.shape[1],) if blocks is None else tuple(blocks)
    diff = a[:, None, :] - b[None, :, :]
    out = None
    start = 0
    for w in blocks:
        part = diff[..., start : start + w]
        start += w
        val = np.abs(part).max(-1) if metric == "chebyshev" else np.sqrt((part**2).sum(-1))
        out = val if out is None else np.maximum(out, val)
    return out


def self_dist(x, metric, blocks=None):
    d = naive_dist(x, x, metric, blocks)
    np.fill_diagonal(d, np.inf)
    return d


def tol(metric):
    return 0.0 if metric == "chebyshev" else 1e-12


@pytest.mark.parametrize("metric", nb.METRICS)
@pytest.mark.parametrize("d", [1, 2, 3, 7, 20])
@pytest.mark.parametrize("algorithm", PATHS)
def test_kneighbors_matches_naive(metric, d, algorithm):
    rng = np.random.default_rng(d)
    x = rng.normal(size=(250, d)) * rng.uniform(0.5, 3, size=d) + 5.0
    D = self_dist(x, metric)
    res = nb.kneighbors(torch.from_numpy(x), 4, metric=metric, algorithm=algorithm, return_index=True)
    assert res.algorithm == algorithm
    want = np.sort(D, axis=1)[:, :4]
    np.testing.assert_allclose(res.dist.numpy(), want, rtol=tol(metric), atol=tol(metric))
    # the indices point at neighbours at those distances
    np.testing.assert_allclose(np.take_along_axis(D, res.index.numpy(), 1), want, rtol=1e-12, atol=1e-12)
    kth, _algo = nb.kth_distance(torch.from_numpy(x), 4, metric=metric, algorithm=algorithm)
    np.testing.assert_allclose(kth.numpy(), want[:, -1], rtol=tol(metric), atol=tol(metric))


@pytest.mark.parametrize("metric", nb.METRICS)
@pytest.mark.parametrize("d", [1, 3, 16])
@pytest.mark.parametrize("algorithm", PATHS)
def test_cross_kneighbors(metric, d, algorithm):
    rng = np.random.default_rng(10 + d)
    ref = rng.normal(size=(300, d))
    q = rng.normal(size=(60, d)) * 2
    want = np.sort(naive_dist(q, ref, metric), axis=1)[:, :3]
    res = nb.kneighbors(torch.from_numpy(q), 3, ref=torch.from_numpy(ref), metric=metric, algorithm=algorithm)
    np.testing.assert_allclose(res.dist.numpy(), want, rtol=tol(metric), atol=tol(metric))
    kth, _ = nb.kth_distance(torch.from_numpy(q), 3, ref=torch.from_numpy(ref), metric=metric, algorithm=algorithm)
    np.testing.assert_allclose(kth.numpy(), want[:, -1], rtol=tol(metric), atol=tol(metric))


@pytest.mark.parametrize("metric", nb.METRICS)
@pytest.mark.parametrize("blocks", [(1, 1), (2, 3), (1, 4), (3, 3, 2)])
@pytest.mark.parametrize("algorithm", PATHS)
def test_block_norm_kneighbors(metric, blocks, algorithm):
    # very different block scales make the L2 order unlike the KSG-norm
    # order: the block-norm tree's bounds must follow the blocks, not L2
    rng = np.random.default_rng(sum(blocks))
    scales = np.concatenate([np.full(b, 10.0 ** (2 * i)) for i, b in enumerate(blocks)])
    x = rng.normal(size=(300, sum(blocks))) * scales
    D = self_dist(x, metric, blocks)
    res = nb.kneighbors(torch.from_numpy(x), 3, metric=metric, blocks=blocks, algorithm=algorithm)
    np.testing.assert_allclose(res.dist.numpy(), np.sort(D, 1)[:, :3], rtol=1e-12)


@pytest.mark.parametrize("metric", nb.METRICS)
@pytest.mark.parametrize("d", [1, 2, 5, 14])
@pytest.mark.parametrize("algorithm", PATHS)
@pytest.mark.parametrize("strict", [True, False])
def test_count_within_at_neighbour_radius(metric, d, algorithm, strict):
    # radius = the exact distance of the 5th neighbour: that neighbour sits
    # exactly on the boundary and must be counted only by "<="
    rng = np.random.default_rng(d)
    x = rng.normal(size=(300, d))
    D = self_dist(x, metric)
    radius = np.sort(D, 1)[:, 4]
    got = nb.count_within(
        torch.from_numpy(x), torch.from_numpy(radius), metric=metric, strict=strict, algorithm=algorithm
    ).numpy()
    want = (D < radius[:, None]).sum(1) if strict else (D <= radius[:, None]).sum(1)
    np.testing.assert_array_equal(got, want)
    assert (got == (4 if strict else 5)).all()


@pytest.mark.parametrize("algorithm", PATHS)
def test_count_within_integer_ties(algorithm):
    # integer data: many points lie exactly at the radius; strict excludes all of them
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, size=(200, 2)).astype(float)
    radius = rng.integers(0, 4, size=200).astype(float)
    for metric in nb.METRICS:
        D = self_dist(x, metric)
        for strict in (True, False):
            got = nb.count_within(
                torch.from_numpy(x), torch.from_numpy(radius), metric=metric, strict=strict, algorithm=algorithm
            ).numpy()
            want = (D < radius[:, None]).sum(1) if strict else (D <= radius[:, None]).sum(1)
            np.testing.assert_array_equal(got, want)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(-1e3, 1e3, allow_nan=False, width=64), min_size=3, max_size=40),
    picks=st.lists(st.integers(0, 10**6), min_size=3, max_size=40),
    strict=st.booleans(),
)
def test_count_1d_is_exact_predicate(values, picks, strict):
    # radii equal to actual pairwise distances put points exactly on the
    # boundary, where v_i +- r_i rounding would misplace searchsorted
    v = np.array(values)
    n = v.size
    j = np.array([picks[i % len(picks)] % n for i in range(n)])
    r = np.abs(v[j] - v)
    got = nb._count_1d(v, r, strict)
    d = np.abs(v[None, :] - v[:, None])
    np.fill_diagonal(d, np.inf)
    want = (d < r[:, None]).sum(1) if strict else (d <= r[:, None]).sum(1)
    np.testing.assert_array_equal(got, want)


def test_count_1d_rounding_boundary():
    # fl(0.1 + 0.2) = 0.30000000000000004 > 0.3: a naive searchsorted(v + r)
    # would count 0.3 as strictly inside the radius |0.3 - 0.1|
    v = np.array([0.1, 0.3, 0.7, 0.1 + 2**-40])
    r = np.array([abs(0.3 - 0.1), 0.2, 0.4, 0.0])
    got = nb._count_1d(v, r, strict=True)
    d = np.abs(v[None, :] - v[:, None])
    np.fill_diagonal(d, np.inf)
    np.testing.assert_array_equal(got, (d < r[:, None]).sum(1))


def naive_ksg(x, y, k, metric, variant):
    Dx, Dy = self_dist(x, metric), self_dist(y, metric)
    J = np.maximum(Dx, Dy)
    eps = np.sort(J, 1)[:, k - 1]
    if variant == 1:
        return (Dx < eps[:, None]).sum(1), (Dy < eps[:, None]).sum(1), eps
    idx = np.argsort(J, 1, kind="stable")[:, :k]
    ex = np.take_along_axis(Dx, idx, 1).max(1)
    ey = np.take_along_axis(Dy, idx, 1).max(1)
    return (Dx <= ex[:, None]).sum(1), (Dy <= ey[:, None]).sum(1), eps


@pytest.mark.parametrize("metric", nb.METRICS)
@pytest.mark.parametrize("dims", [(1, 1), (2, 3), (1, 4), (7, 7)])
@pytest.mark.parametrize("variant", [1, 2])
def test_ksg_counts_paths_agree_with_naive(metric, dims, variant):
    rng = np.random.default_rng(sum(dims) + variant)
    n = 300
    x = rng.normal(size=(n, dims[0]))
    y = 0.7 * x[:, :1] + rng.normal(size=(n, dims[1]))
    nx, ny, eps = naive_ksg(x, y, 3, metric, variant)
    for algorithm in PATHS:
        res = nb.ksg_counts(
            torch.from_numpy(x), torch.from_numpy(y), 3, metric=metric, variant=variant, algorithm=algorithm
        )
        np.testing.assert_array_equal(res.nx.numpy(), nx)
        np.testing.assert_array_equal(res.ny.numpy(), ny)
        np.testing.assert_allclose(res.eps.numpy(), eps, rtol=1e-12)


@pytest.mark.parametrize("metric", nb.METRICS)
def test_ksg_counts_exact_with_ties(metric):
    # integer data, no jitter: the k-th neighbour's distance is shared by other
    # points, which KSG-1's strict count must exclude in both paths
    rng = np.random.default_rng(1)
    x = rng.integers(0, 30, size=(300, 2)).astype(float)
    y = (x[:, :1] + rng.integers(0, 30, size=(300, 1))).astype(float)
    nx, ny, _ = naive_ksg(x, y, 3, metric, 1)
    for algorithm in PATHS:
        res = nb.ksg_counts(torch.from_numpy(x), torch.from_numpy(y), 3, metric=metric, algorithm=algorithm)
        np.testing.assert_array_equal(res.nx.numpy(), nx)
        np.testing.assert_array_equal(res.ny.numpy(), ny)


def test_tiles_bound_memory_and_do_not_change_results():
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.normal(size=(500, 6)))
    y = torch.from_numpy(rng.normal(size=(500, 6)))
    # a 20 kB budget means one row (3 buffers x 500 x 8 bytes = 12 kB) per tile
    assert nb._tile_rows(500, 500, 3, 8, 20_000) == 1
    assert nb._tile_rows(500, 500, 3, 8, 10**9) == 500
    for metric in nb.METRICS:
        big = nb.ksg_counts(x, y, 4, metric=metric, algorithm="brute")
        small = nb.ksg_counts(x, y, 4, metric=metric, algorithm="brute", max_memory=20_000)
        assert torch.equal(big.nx, small.nx) and torch.equal(big.ny, small.ny)
        a = nb.kneighbors(x, 5, metric=metric, algorithm="brute").dist
        b = nb.kneighbors(x, 5, metric=metric, algorithm="brute", max_memory=1).dist
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("metric", nb.METRICS)
def test_tile_workers_match_inline_tiles_and_restore_threads(metric):
    # with torch allowed 2 threads, CPU tiles go to 2 worker threads, each
    # running torch single-threaded; results must not depend on it, and the
    # caller's thread setting must be back afterwards
    rng = np.random.default_rng(8)
    x = torch.from_numpy(rng.normal(size=(700, 6)))
    y = torch.from_numpy(rng.normal(size=(700, 5)))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        tiling = nb._Tiling(700, 700, 3, 3, x, 200_000)
        assert tiling.workers == 2 and tiling.rows < 700
        multi = nb.ksg_counts(x, y, 3, metric=metric, algorithm="brute", max_memory=200_000)
        knn_multi = nb.kneighbors(x, 3, metric=metric, algorithm="brute", max_memory=200_000).dist
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    torch.set_num_threads(1)
    try:
        single = nb.ksg_counts(x, y, 3, metric=metric, algorithm="brute", max_memory=200_000)
        knn_single = nb.kneighbors(x, 3, metric=metric, algorithm="brute", max_memory=200_000).dist
    finally:
        torch.set_num_threads(before)
    assert torch.equal(multi.nx, single.nx) and torch.equal(multi.ny, single.ny)
    torch.testing.assert_close(knn_multi, knn_single, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("metric", nb.METRICS)
def test_threaded_tree_paths_at_larger_n(metric):
    # the compiled tree's queries run in threads over chunks of rows in leaf
    # order: results must come back to the right rows
    rng = np.random.default_rng(6)
    x = torch.from_numpy(rng.normal(size=(6000, 4)))
    tree = nb.kneighbors(x, 3, metric=metric, algorithm="tree", return_index=True)
    brute = nb.kneighbors(x, 3, metric=metric, algorithm="brute", return_index=True)
    torch.testing.assert_close(tree.dist, brute.dist, rtol=1e-12, atol=1e-12)
    assert torch.equal(tree.index, brute.index)
    radius = tree.dist[:, -1] * 1.7
    for strict in (True, False):
        a = nb.count_within(x, radius, metric=metric, strict=strict, algorithm="tree")
        b = nb.count_within(x, radius, metric=metric, strict=strict, algorithm="brute")
        assert torch.equal(a, b)


@pytest.mark.parametrize("blocks", [(2, 3), (5, 5), (1, 4)])
def test_block_norm_tree_against_brute_force_with_ties_queries_and_threads(blocks):
    # integer data: exact ties in the KSG norm everywhere; 5,000 rows run the
    # compiled tree in several threaded chunks; cross queries use a second set
    rng = np.random.default_rng(len(blocks) + sum(blocks))
    d = sum(blocks)
    x = torch.from_numpy(rng.integers(0, 4, size=(5000, d)).astype(float))
    q = torch.from_numpy(rng.integers(0, 4, size=(700, d)).astype(float) + 0.5)
    for ref, pts in ((None, x), (x, q)):
        tree = nb.kneighbors(pts, 4, ref=ref, blocks=blocks, algorithm="tree")
        brute = nb.kneighbors(pts, 4, ref=ref, blocks=blocks, algorithm="brute")
        torch.testing.assert_close(tree.dist, brute.dist, rtol=1e-12, atol=1e-12)
    radius = nb.kneighbors(x, 4, blocks=blocks, algorithm="brute").dist[:, -1]
    for strict in (True, False):
        a = nb.count_within(x, radius, strict=strict, algorithm="tree")
        b = nb.count_within(x, radius, strict=strict, algorithm="brute")
        assert torch.equal(a, b)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 70),
    blocks=st.sampled_from([(1,), (2,), (3,), (1, 1), (2, 1), (2, 3), (1, 2, 2)]),
    k_frac=st.floats(0.0, 1.0),
    scale=st.sampled_from([1.0, 1e-3, 1e6]),
    seed=st.integers(0, 2**31 - 1),
)
def test_compiled_tree_matches_brute_force(n, blocks, k_frac, scale, seed):
    # small integer grids (ties and copies everywhere) at several scales, any k up to n - 1:
    # the compiled tree's kNN under the block norm and its ball counts equal brute force
    rng = np.random.default_rng(seed)
    d = sum(blocks)
    pts = rng.integers(0, 3, size=(n, d)) * scale
    k = 1 + int(k_frac * (n - 2))
    tree = _kdtree.build(pts, leaf_size=4)
    key, idx = _kdtree.knn_blocks(tree, None, k, blocks)
    diff = pts[:, None, :] - pts[None, :, :]

    def squares(cols):  # summed one coordinate after another, in the kernels' order (same rounding)
        out = np.zeros((n, n))
        for j in cols:
            out = out + diff[..., j] * diff[..., j]
        return out

    edges = np.cumsum((0,) + blocks)
    D = np.max([squares(range(a, b)) for a, b in itertools.pairwise(edges)], axis=0)
    np.fill_diagonal(D, np.inf)
    np.testing.assert_array_equal(key, np.sort(D, 1)[:, :k])
    assert (idx != np.arange(n)[:, None]).all()
    assert (np.take_along_axis(D, idx, 1) == key).all()
    r2 = key[:, -1]  # squared radius of the k-th neighbour, exactly on the boundary
    full = squares(range(d))  # the point itself at 0 is counted
    for strict in (True, False):
        want = (full < r2[:, None]).sum(1) if strict else (full <= r2[:, None]).sum(1)
        np.testing.assert_array_equal(_kdtree.count_ball(tree, r2, strict), want)


def test_compiled_kernels_fall_back_when_no_cache_folder_is_writable():
    # numba refuses cache=True for a function whose file has no writable cache location (here: no
    # file at all); the kernel is then compiled without a cache instead of failing the import
    namespace = {}
    exec(compile("def plus_one(a):\n    return a + 1\n", "<string>", "exec"), namespace)
    assert _kdtree._compiled()(namespace["plus_one"])(41) == 42


def test_compiled_tree_follows_torch_threads():
    # the tree runs on torch's thread budget (the benchmark runner sets it per job); one thread
    # walks the chunks inline and must give the same neighbours and counts as several threads
    rng = np.random.default_rng(12)
    x = torch.from_numpy(rng.normal(size=(6000, 6)))
    before = torch.get_num_threads()
    try:
        results = []
        for n_threads in (1, 2):
            torch.set_num_threads(n_threads)
            assert _kdtree.threads() == n_threads
            res = nb.kneighbors(x, 3, blocks=(3, 3), algorithm="tree", return_index=True)
            counts = nb.count_within(x, res.dist[:, -1], algorithm="tree")
            results.append((res.dist, res.index, counts))
    finally:
        torch.set_num_threads(before)
    for a, b in zip(*results):
        assert torch.equal(a, b)


def test_block_norm_tree_structure_and_degenerate_sets():
    rng = np.random.default_rng(8)
    pts = rng.normal(size=(1000, 3))
    pts[::3] = pts[0]  # a third of the rows are one point
    tree = _kdtree.build(pts, leaf_size=8)
    assert np.array_equal(np.sort(tree.index), np.arange(1000))
    leaves = np.flatnonzero(tree.left < 0)
    for node in range(len(tree.start)):
        inside = tree.points[tree.index[tree.start[node] : tree.end[node]]]
        assert (inside >= tree.lo[node]).all() and (inside <= tree.hi[node]).all()
        assert np.array_equal(tree.lo[node], inside.min(0)) and np.array_equal(tree.hi[node], inside.max(0))
    # leaves are small unless all their points are equal (then no split helps)
    for node in leaves:
        inside = tree.points[tree.index[tree.start[node] : tree.end[node]]]
        assert len(inside) <= 8 or (inside == inside[0]).all()
    # every row the same point: one leaf, all distances 0, counts n - 1
    same = torch.ones(40, 4)
    res = nb.kneighbors(same, 3, blocks=(2, 2), algorithm="tree", return_index=True)
    assert (res.dist == 0).all() and all(i not in res.index[i] for i in range(40))
    counts = nb.count_within(same, torch.full((40,), 0.5), algorithm="tree")
    assert (counts == 39).all()


def test_duplicates_give_zero_distances_and_self_is_dropped():
    x = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 2.0], [3.0, 1.0]])
    for algorithm in PATHS:
        res = nb.kneighbors(torch.from_numpy(x), 2, metric="chebyshev", algorithm=algorithm, return_index=True)
        np.testing.assert_array_equal(res.dist.numpy()[:3], 0.0)
        idx = res.index.numpy()
        assert all(i not in idx[i] for i in range(5))


def test_float32_matches_float64():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 5))
    a = nb.kneighbors(torch.from_numpy(x), 3, algorithm="brute").dist.numpy()
    b = nb.kneighbors(torch.from_numpy(x).float(), 3, algorithm="brute").dist.numpy()
    np.testing.assert_allclose(a, b, rtol=1e-4)


def test_auto_choice():
    cpu = torch.device("cpu")
    assert nb.resolve_algorithm("auto", 2, cpu) == "tree"
    assert nb.resolve_algorithm("auto", nb.TREE_MAX_DIM, cpu, 10**8) == "tree"
    assert nb.resolve_algorithm("auto", nb.TREE_MAX_DIM + 1, cpu, 10**8) == "brute"
    # brute force grows as n^2: between the two dimensions, large n keeps the tree
    assert nb.resolve_algorithm("auto", nb.TREE_MAX_DIM + 1, cpu, 10**12) == "tree"
    assert nb.resolve_algorithm("auto", nb.BRUTE_MIN_DIM + 1, cpu, 10**12) == "brute"
    assert nb.resolve_algorithm("auto", 2, torch.device("cuda")) == "brute"
    assert nb.resolve_algorithm("tree", 50, cpu) == "tree"


def test_log_unit_ball_volume():
    assert nb.log_unit_ball_volume(2, "euclidean") == pytest.approx(math.log(math.pi))
    assert nb.log_unit_ball_volume(3, "euclidean") == pytest.approx(math.log(4 / 3 * math.pi))
    assert nb.log_unit_ball_volume(3, "chebyshev") == pytest.approx(3 * math.log(2))


def test_engine_validation():
    x = torch.zeros(10, 2)
    with pytest.raises(ValueError, match=r"metric must be one of \['euclidean', 'chebyshev'\]; got 'cosine'"):
        nb.kneighbors(x, 2, metric="cosine")
    with pytest.raises(ValueError, match=r"algorithm must be one of \['auto', 'tree', 'brute'\]; got 'kd'"):
        nb.kneighbors(x, 2, algorithm="kd")
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 9\] \(n=10\); got 10"):
        nb.kneighbors(x, 10)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 4\] \(m=4\); got 5"):
        nb.kneighbors(x, 5, ref=torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"ref must have 2 columns like x; got 3"):
        nb.kneighbors(x, 2, ref=torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"blocks must be positive and sum to the dimension 2; got \(1, 2\)"):
        nb.kneighbors(x, 2, blocks=(1, 2))
    with pytest.raises(ValueError, match=r"radius must have shape \(10,\); got \(3,\)"):
        nb.count_within(x, torch.ones(3))
    with pytest.raises(ValueError, match=r"max_memory must be an integer >= 1; got 0"):
        nb.kneighbors(x, 2, algorithm="brute", max_memory=0)
    with pytest.raises(ValueError, match=r"variant must be one of \[1, 2\]; got 3"):
        nb.ksg_counts(x, x, 2, variant=3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_brute_matches_cpu_tree():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2000, 3))
    y = x[:, :1] + rng.normal(size=(2000, 2))
    xc, yc = torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()
    for metric in nb.METRICS:
        gpu = nb.ksg_counts(xc, yc, 3, metric=metric)
        assert gpu.algorithm == "brute" and gpu.nx.device.type == "cuda"
        cpu = nb.ksg_counts(torch.from_numpy(x), torch.from_numpy(y), 3, metric=metric, algorithm="tree")
        assert torch.equal(gpu.nx.cpu(), cpu.nx) and torch.equal(gpu.ny.cpu(), cpu.ny)
        d_gpu = nb.kneighbors(xc, 3, metric=metric).dist.cpu().numpy()
        d_cpu = nb.kneighbors(torch.from_numpy(x), 3, metric=metric, algorithm="tree").dist.numpy()
        np.testing.assert_allclose(d_gpu, d_cpu, rtol=1e-12)


# ------------------------------------------------ exact euclidean balls
def _cdist_radii(x, k):
    from scipy.spatial.distance import cdist

    d = cdist(x, x)
    np.fill_diagonal(d, np.inf)
    return np.sort(d, axis=1)[:, k - 1]


@pytest.mark.parametrize("d", [1, 3, 64])
def test_exact_kneighbors_match_cdist_with_copies(d):
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(d)
    x = rng.normal(size=(300, d))
    x[10:13] = x[0]  # three copies of row 0
    ref = rng.normal(size=(200, d))
    ref[5] = x[7]
    res = ep.exact_kneighbors(torch.as_tensor(x), 4)
    np.testing.assert_allclose(res.dist.numpy(), np.sort(self_dist(x, "euclidean"), 1)[:, :4], rtol=1e-14, atol=0)
    assert (res.dist[[0, 10, 11, 12], :3] == 0).all()  # copies are at distance exactly 0
    cross = ep.exact_kneighbors(torch.as_tensor(x), 2, ref=torch.as_tensor(ref), max_memory=4096)
    dc = cdist(x, ref)
    np.testing.assert_allclose(cross.dist.numpy(), np.sort(dc, 1)[:, :2], rtol=1e-14, atol=0)
    assert cross.dist[7, 0] == 0.0 and cross.index[7, 0] == 5
    # distances are those of exact_distances, bit for bit
    again = ep.exact_distances(np.repeat(x, 2, axis=0), ref[cross.index.numpy().ravel()]).reshape(-1, 2)
    np.testing.assert_array_equal(cross.dist.numpy(), again)


@pytest.mark.parametrize("d", [1, 2, 64])
def test_ball_counts_match_brute_force_cdist_with_ties_and_copies(d):
    from scipy.spatial.distance import cdist

    # Integer-valued features: every squared distance is an exact integer, so
    # cdist and the engine compute bit-identical distances, and the many exact
    # ties (and copies) sit exactly on ball boundaries.
    rng = np.random.default_rng(100 + d)
    real = rng.integers(-2, 3, size=(250, d)).astype(np.float64)
    fake = rng.integers(-2, 3, size=(180, d)).astype(np.float64)
    fake[:90] = real[rng.choice(250, 90, replace=False)]  # half copies
    fake[90:95] = fake[0]  # copies among the generated rows
    radii = _cdist_radii(real, 5)
    own = ep.exact_kneighbors(torch.as_tensor(real), 5).dist[:, 4].numpy()
    np.testing.assert_array_equal(own, radii)
    expected = (cdist(fake, real) < radii[None, :]).sum(1)
    got = ep.ball_counts(torch.as_tensor(fake), torch.as_tensor(real), torch.as_tensor(own), max_memory=8192)
    np.testing.assert_array_equal(got.numpy(), expected)


@pytest.mark.parametrize("d", [3, 64])
def test_ball_counts_match_all_pairs_on_continuous_data_with_copies(d):
    # Continuous data: against every pair by exact_distances (no tiles, no expansion).
    # (cdist sums in another order: mixing its distances with the engine's radii
    # would count boundary copies at random, the bug this engine fixes.)
    rng = np.random.default_rng(200 + d)
    real = rng.normal(size=(250, d))
    fake = rng.normal(size=(180, d))
    fake[:90] = real[rng.choice(250, 90, replace=False)]
    own = ep.exact_kneighbors(torch.as_tensor(real), 5).dist[:, 4].numpy()
    i, j = np.meshgrid(np.arange(len(fake)), np.arange(len(real)), indexing="ij")
    pair = ep.exact_distances(fake[i.ravel()], real[j.ravel()]).reshape(len(fake), len(real))
    got = ep.ball_counts(torch.as_tensor(fake), torch.as_tensor(real), torch.as_tensor(own), max_memory=8192)
    np.testing.assert_array_equal(got.numpy(), (pair < own[None, :]).sum(1))
    assert (got.numpy()[:90] >= 1).all()  # a copy of a real row is inside that row's ball


def test_ball_counts_integer_ties_and_boundary_is_outside():
    # On an integer grid many points lie exactly on a ball's boundary: outside (strict <).
    g = np.array([[i, j] for i in range(6) for j in range(6)], dtype=np.float64)
    radii = np.full(len(g), 1.0)
    got = ep.ball_counts(torch.as_tensor(g), torch.as_tensor(g), torch.as_tensor(radii))
    np.testing.assert_array_equal(got.numpy(), np.ones(len(g)))  # only the point itself (distance 0 < 1)


def test_ball_counts_validation():
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match=r"radii must have shape \(3,\); got \(4,\)"):
        ep.ball_counts(x, torch.zeros(3, 2), torch.ones(4))
    with pytest.raises(ValueError, match="ref must have 2 columns like query; got 3"):
        ep.ball_counts(x, torch.zeros(3, 3), torch.ones(3))


def test_gaussian_kernel_sum_matches_the_dense_kernel():
    from scipy.spatial.distance import cdist

    x = np.random.default_rng(3).normal(size=(257, 7))
    dense = np.exp(-cdist(x, x, "sqeuclidean") / 0.7**2).sum()
    assert ep.gaussian_kernel_sum(torch.as_tensor(x), 0.7, max_memory=4096) == pytest.approx(dense, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    value=st.sampled_from([0.0, 3.0, 4.0, -7.5, 1e6, 2.0**200]),
    offset=st.sampled_from([0.0, 1e4]),
    d=st.sampled_from([2, 3, 7]),
    metric=st.sampled_from(nb.METRICS),
    algorithm=st.sampled_from(PATHS),
)
def test_a_constant_column_adds_nothing_on_either_path(seed, value, offset, d, metric, algorithm):
    # A column constant at `value` (its centre once overflowed to inf from 4 on, and every brute
    # distance was nan) next to columns of spread 1 around `offset`: distances, counts on the
    # boundary (radius = an exact distance) and the KSG statistics are those without the column.
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, d)) + offset
    xc = torch.from_numpy(np.column_stack([x, np.full(60, value)]))
    D = self_dist(x, metric)
    res = nb.kneighbors(xc, 3, metric=metric, algorithm=algorithm)
    np.testing.assert_allclose(res.dist.numpy(), np.sort(D, 1)[:, :3], rtol=tol(metric), atol=0)
    radius = np.sort(D, 1)[:, 2]
    for strict in (True, False):
        got = nb.count_within(xc, torch.from_numpy(radius), metric=metric, strict=strict, algorithm=algorithm)
        want = (D < radius[:, None]).sum(1) if strict else (D <= radius[:, None]).sum(1)
        np.testing.assert_array_equal(got.numpy(), want)
    y = torch.from_numpy(np.column_stack([rng.normal(size=(60, 2)), np.full(60, value)]))
    got = nb.ksg_counts(xc, y, 3, metric=metric, variant=1, algorithm=algorithm)
    nx, ny, eps = naive_ksg(x, y.numpy()[:, :2], 3, metric, 1)
    np.testing.assert_allclose(got.eps.numpy(), eps, rtol=tol(metric), atol=0)
    np.testing.assert_array_equal(got.nx.numpy(), nx)
    np.testing.assert_array_equal(got.ny.numpy(), ny)
