"""The one-pass exact pair search against brute force over every pair (exact_distances, cdist).

Every comparison is exact (``assert_array_equal``): the search must return
the distances of :func:`exact_distances` for the true k nearest rows, and
strict ball counts, whatever the screening dtype (float32 from 32
dimensions on), the tiling (small ``max_memory`` forces many tiles shared by
two worker threads) or the side (rows, columns).
"""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from infobench.estimators import _exact_pairs as ep
from infobench.estimators import _neighbors as nb


def all_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    i, j = np.meshgrid(np.arange(len(a)), np.arange(len(b)), indexing="ij")
    return ep.exact_distances(a[i.ravel()], b[j.ravel()]).reshape(len(a), len(b))


def knn_truth(dist: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k smallest per row, ties by index (a stable sort on the distances)."""
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(dist, order, axis=1), order


def _data(kind: str, n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "integer":  # many exact ties: every squared distance is an integer
        return rng.integers(-1, 2, size=(n, d)).astype(np.float64)
    x = rng.normal(size=(n, d)) * np.exp(rng.normal(size=d)) + 1000.0  # offset: centring matters
    return x


# 20 kB: 8-row tiles (column selection by plain topk); 400 kB: 168-row tiles,
# whose column side goes through the group minima of _group_smallest.
@pytest.mark.parametrize("max_memory", [20_000, 400_000])
@pytest.mark.parametrize("d", [1, 5, 40, 96])
@pytest.mark.parametrize("kind", ["normal", "integer"])
def test_self_search_matches_all_pairs_with_copies(d, kind, max_memory):
    x = _data(kind, 230, d, d)
    x[20:24] = x[3]  # copies: other rows at distance exactly 0
    dist = all_pairs(x, x)
    np.fill_diagonal(dist, np.inf)
    res = ep.pair_search(torch.as_tensor(x), 6, max_memory=max_memory)
    want_d, want_i = knn_truth(dist, 6)
    np.testing.assert_array_equal(res.rows.dist.numpy(), want_d)
    if kind == "normal":  # continuous data: no ties, so the indices are determined
        np.testing.assert_array_equal(res.rows.index.numpy(), want_i)
    assert (res.rows.dist.numpy()[[3, 20, 21, 22, 23], :4] == 0).all()


@pytest.mark.parametrize("max_memory", [30_000, 400_000])
@pytest.mark.parametrize("d", [2, 64])
@pytest.mark.parametrize("kind", ["normal", "integer"])
def test_cross_search_both_sides_and_both_ball_counts(d, kind, max_memory):
    rng = np.random.default_rng(7 + d)
    real = _data(kind, 210, d, 100 + d)
    fake = _data(kind, 170, d, 200 + d)
    fake[:60] = real[rng.choice(210, 60, replace=False)]  # copies of real rows
    rr = all_pairs(real, real)
    np.fill_diagonal(rr, np.inf)
    ff = all_pairs(fake, fake)
    np.fill_diagonal(ff, np.inf)
    r_radii = np.sort(rr, 1)[:, 4]
    f_radii = np.sort(ff, 1)[:, 4]
    rf = all_pairs(real, fake)
    res = ep.pair_search(
        torch.as_tensor(real),
        3,
        ref=torch.as_tensor(fake),
        both_sides=True,
        ref_radii=torch.as_tensor(f_radii),
        x_radii=torch.as_tensor(r_radii),
        max_memory=max_memory,
    )
    np.testing.assert_array_equal(res.rows.dist.numpy(), knn_truth(rf, 3)[0])
    np.testing.assert_array_equal(res.cols.dist.numpy(), knn_truth(rf.T, 3)[0])
    # real rows inside generated balls (recall), generated rows inside real balls (precision / density)
    np.testing.assert_array_equal(res.rows_inside.numpy(), (rf < f_radii[None, :]).sum(1))
    np.testing.assert_array_equal(res.cols_inside.numpy(), (rf < r_radii[:, None]).sum(0))
    if kind == "normal":  # (on the small integer grid many radii are 0: nothing is strictly inside)
        assert (res.cols_inside.numpy()[:60] >= 1).all()  # a copy of a real row is inside that row's ball


def test_certificate_failure_is_searched_again_exactly(monkeypatch):
    # A 64-d integer cube: hundreds of rows tie at each distance, far more than
    # the extra candidates, so the float32 certificate fails for most rows and
    # the float64 re-search must still give the exact k-th distances.
    monkeypatch.setattr(ep, "_EXTRA", 1)
    x = _data("integer", 300, 64, 5)
    dist = all_pairs(x, x)
    np.fill_diagonal(dist, np.inf)
    res = ep.pair_search(torch.as_tensor(x), 5, max_memory=50_000)
    np.testing.assert_array_equal(res.rows.dist.numpy(), knn_truth(dist, 5)[0])
    idx = res.rows.index.numpy()
    assert not (idx == np.arange(300)[:, None]).any()  # never a row itself


def test_kernel_sum_over_the_upper_triangle_equals_the_dense_sum():
    from scipy.spatial.distance import cdist

    x = np.random.default_rng(3).normal(size=(301, 9))
    dense = np.exp(-cdist(x, x, "sqeuclidean") / 1.3**2).sum()
    got = ep.gaussian_kernel_sum(torch.as_tensor(x), 1.3, max_memory=10_000)
    assert got == pytest.approx(dense, rel=1e-12)


def test_kernel_sum_from_float32_screening_keys_within_its_bound():
    # From 32 dimensions on the keys are float32: each term is within exp(+-slack / h^2)
    # of its exact value; the sum's relative error stays far below 1e-4 (module notes).
    from scipy.spatial.distance import cdist

    x = np.random.default_rng(4).normal(size=(400, 48)) + 50.0
    h = float(np.median(cdist(x[:100], x[:100])))
    dense = np.exp(-cdist(x, x, "sqeuclidean") / h**2).sum()
    got = ep.gaussian_kernel_sum(torch.as_tensor(x), h, max_memory=40_000)
    assert got == pytest.approx(dense, rel=1e-4)
    fused = ep.pair_search(torch.as_tensor(x), 3, kernel_bandwidth=h, max_memory=40_000)
    assert fused.kernel_sum == pytest.approx(got, rel=1e-12)  # the same keys, whichever call


def test_pair_search_validation():
    x = torch.zeros(5, 2)
    with pytest.raises(ValueError, match="ref must have 2 columns like x; got 3"):
        ep.pair_search(x, 1, ref=torch.zeros(4, 3))
    with pytest.raises(ValueError, match="k must be between 1 and 4; got 5"):
        ep.pair_search(x, 5)
    with pytest.raises(ValueError, match=r"ref_radii must have shape \(4,\); got \(3,\)"):
        ep.pair_search(x, 1, ref=torch.zeros(4, 2), ref_radii=torch.ones(3))
    with pytest.raises(ValueError, match="need ref"):
        ep.pair_search(x, 1, both_sides=True)
    with pytest.raises(ValueError, match="kernel_bandwidth is for a self-search"):
        ep.pair_search(x, 1, ref=torch.zeros(4, 2), kernel_bandwidth=1.0)


# ------------------------------------------------------------------ what replicates are derived from
@pytest.mark.parametrize("d", [3, 40])
@pytest.mark.parametrize("kind", ["normal", "integer"])
def test_pairs_inside_outer_radii_match_all_pairs(d, kind):
    rng = np.random.default_rng(11 + d)
    real, fake = _data(kind, 150, d, 300 + d), _data(kind, 130, d, 400 + d)
    fake[:30] = real[rng.choice(150, 30, replace=False)]
    rr, ff, rf = all_pairs(real, real), all_pairs(fake, fake), all_pairs(real, fake)
    np.fill_diagonal(rr, np.inf)
    np.fill_diagonal(ff, np.inf)
    r_in, r_out = np.sort(rr, 1)[:, 4], np.sort(rr, 1)[:, 12]
    f_in, f_out = np.sort(ff, 1)[:, 4], np.sort(ff, 1)[:, 12]
    res = ep.pair_search(
        torch.as_tensor(real),
        3,
        ref=torch.as_tensor(fake),
        both_sides=True,
        ref_radii=torch.as_tensor(f_in),
        x_radii=torch.as_tensor(r_in),
        ref_outer=torch.as_tensor(f_out),
        x_outer=torch.as_tensor(r_out),
        max_memory=30_000,
    )
    for pairs, dist, inner, outer in ((res.rows_pairs, rf, f_in, f_out), (res.cols_pairs, rf.T, r_in, r_out)):
        # dist[point, ball]: every pair closer than the ball's outer radius, and no other
        want = np.argwhere(dist < outer[None, :])
        got = np.stack([pairs.point, pairs.ball], 1)
        np.testing.assert_array_equal(
            got[np.lexsort((got[:, 0], got[:, 1]))], want[np.lexsort((want[:, 0], want[:, 1]))]
        )
        exact = np.isfinite(pairs.dist)
        np.testing.assert_array_equal(pairs.dist[exact], dist[pairs.point[exact], pairs.ball[exact]])
        # -inf only for pairs inside the inner radius (their distance was not needed)
        assert (dist[pairs.point[~exact], pairs.ball[~exact]] < inner[pairs.ball[~exact]]).all()
    # the counts of the inner radii are unchanged by the collection
    np.testing.assert_array_equal(res.rows_inside.numpy(), (rf < f_in[None, :]).sum(1))
    np.testing.assert_array_equal(res.cols_inside.numpy(), (rf < r_in[:, None]).sum(0))


def test_pairs_beyond_the_budget_are_dropped_not_wrong(monkeypatch):
    monkeypatch.setattr(ep, "_MIN_PAIR_BYTES", 0)
    x = np.random.default_rng(2).normal(size=(120, 4))
    d = all_pairs(x, x)
    np.fill_diagonal(d, np.inf)
    radii = torch.as_tensor(np.sort(d, 1)[:, 3])
    far = torch.as_tensor(np.full(120, 1e9))  # every pair inside: more pairs than a 4 kB budget holds
    res = ep.pair_search(torch.as_tensor(x), 2, ref=torch.as_tensor(x), ref_radii=radii, ref_outer=far, max_memory=4096)
    assert res.rows_pairs is None
    np.testing.assert_array_equal(res.rows_inside.numpy(), (all_pairs(x, x) < radii.numpy()[None, :]).sum(1))


@pytest.mark.parametrize("kind", ["normal", "integer"])
def test_neighbours_of_a_subset_from_longer_lists_equal_a_search_on_it(kind):
    # Exact lists of 9 neighbours; three quarters of the rows kept: the first 4 kept ones
    # are the subset's 4 nearest, ties by index; rows that keep fewer are searched again.
    x = _data(kind, 200, 6, 21)
    x[50:53] = x[7]
    rng = np.random.default_rng(5)
    full = ep.pair_search(torch.as_tensor(x), 9)
    rows = np.sort(rng.choice(200, 150, replace=False))
    keep = np.full(200, -1)
    keep[rows] = np.arange(150)
    sub = x[rows]
    dist = all_pairs(sub, sub)
    np.fill_diagonal(dist, np.inf)
    want_d, want_i = knn_truth(dist, 4)
    asked = []

    def research(pos):
        asked.append(pos)
        return want_d[pos], want_i[pos]

    nb, again = ep.neighbors_within(full.rows, 4, rows=rows, keep=keep, research=research)
    np.testing.assert_array_equal(nb.dist.numpy(), want_d)
    if kind == "normal":  # (ties wider than the candidate window leave the order of tied rows to the search)
        np.testing.assert_array_equal(nb.index.numpy(), want_i)
    lost = (keep[full.rows.index.numpy()[rows]] >= 0).sum(1) < 4
    np.testing.assert_array_equal(again, np.flatnonzero(lost))
    assert not asked or np.array_equal(asked[0], again)


def test_ball_counts_of_a_subset_from_the_outer_pairs_equal_brute_force():
    rng = np.random.default_rng(8)
    real, fake = rng.normal(size=(160, 5)), rng.normal(size=(140, 5)) * 1.2
    rr = all_pairs(real, real)
    np.fill_diagonal(rr, np.inf)
    srt = np.sort(rr, 1)
    res = ep.pair_search(
        torch.as_tensor(fake),
        2,
        ref=torch.as_tensor(real),
        ref_radii=torch.as_tensor(srt[:, 4]),
        ref_outer=torch.as_tensor(srt[:, 11]),
    )
    kr, kf = np.sort(rng.choice(160, 120, replace=False)), np.sort(rng.choice(140, 105, replace=False))
    sub_rr = all_pairs(real[kr], real[kr])
    np.fill_diagonal(sub_rr, np.inf)
    radii = np.sort(sub_rr, 1)[:, 4]  # the subset's own balls: never smaller than the full set's
    beyond = np.flatnonzero(radii >= srt[kr, 11])
    pos_r, pos_f = np.full(160, -1), np.full(140, -1)
    pos_r[kr], pos_f[kf] = np.arange(120), np.arange(105)
    want = (all_pairs(fake[kf], real[kr]) < radii[None, :]).sum(1)

    def recount(balls):
        return (all_pairs(fake[kf], real[kr][balls]) < radii[balls][None, :]).sum(1)

    got = ep.counts_within(res.rows_pairs, radii, points=pos_f, balls=pos_r, n_points=105, recount=recount, redo=beyond)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("d", [9, 48])
def test_kernel_sums_of_subsets_at_their_own_bandwidths(d):
    # From the tiles of one self-search, by a Taylor expansion in the bandwidth: exact for the
    # search's own bandwidth; within its 1e-7 bound otherwise (float64 keys below 32 dimensions,
    # float32 keys from 32 on, themselves good to ~1e-6); a bandwidth out of reach (2.5x) is
    # summed by a search of its own.
    rng = np.random.default_rng(d)
    x = torch.as_tensor(rng.normal(size=(300, d)) + 5.0)
    h0 = 1.3 * math.sqrt(d)
    subsets = [
        (np.sort(rng.choice(300, size, replace=False)), h0 * f) for size in (150, 75) for f in (1.0, 1.01, 0.97, 2.5)
    ]
    res = ep.pair_search(x, 3, kernel_bandwidth=h0, kernel_subsets=subsets, max_memory=30_000)
    tol = 1e-12 if d < ep.SCREEN_FLOAT32_MIN_DIM else 1e-6
    for (rows, h), got in zip(subsets, res.subset_kernel_sums):
        want = np.exp(-(all_pairs(x.numpy()[rows], x.numpy()[rows]) ** 2) / h**2).sum()
        assert got == pytest.approx(want, rel=tol)
    with pytest.raises(ValueError, match="kernel_subsets need kernel_bandwidth"):
        ep.pair_search(x, 3, kernel_subsets=subsets)


# ------------------------------------------------------------------ offsets, constant columns, mixed scales
def numpy_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Every pairwise distance by plain numpy float64 (a summation order of its own)."""
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def _awkward(kind: str, n: int, d: int, rng: np.random.Generator, const: float) -> np.ndarray:
    x = rng.normal(size=(n, d))
    if kind == "constant":  # a dead feature far from zero: the centre of its column must stay finite
        x[:, rng.integers(d)] = const
    elif kind == "offset":  # a common offset that dwarfs the spread: the keys cancel without centring
        x = x * 1e-3 + 1e4
    elif kind == "scales":  # columns twelve decades apart: the small ones are below the keys' rounding
        x = x * np.logspace(-6, 6, d)
    elif kind == "copies":  # duplicated rows: distance exactly 0, ties
        x[n // 2 :] = x[: n - n // 2]
    return x


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    kind=st.sampled_from(["constant", "offset", "scales", "copies"]),
    d=st.sampled_from([1, 2, 3, 7, 33]),  # 33: float32 screening keys
    k=st.integers(1, 6),
    const=st.sampled_from([4.0, -7.5, 100.0, 1e6, 2.0**200, 3e-300]),
    max_memory=st.sampled_from([20_000, None]),
)
def test_pair_search_is_exact_on_awkward_data(seed, kind, d, k, const, max_memory):
    rng = np.random.default_rng(seed)
    x = _awkward(kind, 37, d, rng, const)
    ref = _awkward(kind, 29, d, rng, const)
    if kind == "constant":
        ref[:, :] = np.where(x[0] == const, const, ref)  # the same dead column in both sets
    xx, xr = all_pairs(x, x), all_pairs(x, ref)
    np.fill_diagonal(xx, np.inf)
    # exact_distances is the one computation compared; plain numpy agrees to rounding
    np.testing.assert_allclose(xr, numpy_pairs(x, ref), rtol=1e-12, atol=0)
    res = ep.pair_search(torch.as_tensor(x), k, max_memory=max_memory)
    np.testing.assert_array_equal(res.rows.dist.numpy(), knn_truth(xx, k)[0])
    r_radii, x_radii = np.sort(xr, 0)[min(k, 28)], np.sort(xr, 1)[:, min(k, 28)]
    res = ep.pair_search(
        torch.as_tensor(x),
        k,
        ref=torch.as_tensor(ref),
        both_sides=True,
        ref_radii=torch.as_tensor(r_radii),
        x_radii=torch.as_tensor(x_radii),
        max_memory=max_memory,
    )
    np.testing.assert_array_equal(res.rows.dist.numpy(), knn_truth(xr, k)[0])
    np.testing.assert_array_equal(res.cols.dist.numpy(), knn_truth(xr.T, k)[0])
    np.testing.assert_array_equal(res.rows_inside.numpy(), (xr < r_radii[None, :]).sum(1))
    np.testing.assert_array_equal(res.cols_inside.numpy(), (xr < x_radii[:, None]).sum(0))
    got = ep.exact_kneighbors(torch.as_tensor(x), k, ref=torch.as_tensor(ref)).dist.numpy()
    np.testing.assert_array_equal(got, knn_truth(xr, k)[0])


def test_a_constant_column_far_from_zero_keeps_the_exact_distances():
    # 70 x 3 normal rows and a column of 4.0 (the centre of that column once overflowed to inf).
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(0)
    r = np.column_stack([rng.normal(size=(70, 3)), np.full(70, 4.0)])
    f = np.column_stack([rng.normal(size=(70, 3)), np.full(70, 4.0)])
    got = ep.exact_kneighbors(torch.as_tensor(f), 3, ref=torch.as_tensor(r)).dist[:, 2].numpy()
    np.testing.assert_allclose(got, np.sort(cdist(f, r), 1)[:, 2], rtol=1e-14, atol=0)


@pytest.mark.parametrize("value", [0.0, 4.0, -7.5, 1e6, 2.0**1000, -3e-300])
def test_the_centre_of_a_constant_column_is_its_value(value):
    x = torch.tensor(np.column_stack([np.full(50, value), np.arange(50.0)]))
    centre = nb._round_centre(x)
    assert centre[0, 0].item() == value
    assert centre[0, 1].item() == 24.0  # a column with spread: the median (24) on its power-of-two step (8)


def test_rows_the_float64_keys_do_not_certify_are_ranked_from_every_exact_distance(monkeypatch):
    # A 64-d integer cube with one extra candidate: hundreds of rows tie at the k-th distance, so even
    # the float64 keys cannot certify the candidates, and the rows go to the direct search.
    monkeypatch.setattr(ep, "_EXTRA", 1)
    calls = []
    direct = ep._direct_kneighbors
    monkeypatch.setattr(ep, "_direct_kneighbors", lambda *a: calls.append(a[2].size) or direct(*a))
    x = _data("integer", 300, 64, 5)
    dist = all_pairs(x, x)
    np.fill_diagonal(dist, np.inf)
    res = ep.pair_search(torch.as_tensor(x), 5, max_memory=50_000)
    assert sum(calls) > 0
    want_d, want_i = knn_truth(dist, 5)
    np.testing.assert_array_equal(res.rows.dist.numpy(), want_d)
    np.testing.assert_array_equal(res.rows.index.numpy(), want_i)  # ties by index, like the stable sort


def test_values_whose_float32_keys_would_overflow_are_screened_in_float64():
    # 40 dimensions of scale 1e25: |x|^2 ~ 1e52 overflows float32, whose keys would be inf - inf = nan.
    x = np.random.default_rng(4).normal(size=(80, 40)) * 1e25
    dist = all_pairs(x, x)
    np.fill_diagonal(dist, np.inf)
    radii = np.sort(dist, 1)[:, 3]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = ep.pair_search(torch.as_tensor(x), 4, ref=torch.as_tensor(x), ref_radii=torch.as_tensor(radii))
    np.testing.assert_array_equal(res.rows.dist.numpy()[:, 1:], want := knn_truth(dist, 3)[0])
    assert want.shape == (80, 3)
    np.testing.assert_array_equal(res.rows_inside.numpy(), (dist < radii[None, :]).sum(1) + (radii > 0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_stream_keeps_what_a_topk_over_every_key_keeps(dtype):
    """The CPU column side against topk (NaN above every number) over all keys, streamed in several tiles."""
    rng = np.random.default_rng(3)
    r, w, kc = 40, 30, 5
    D = rng.integers(0, 6, size=(r, w)).astype(dtype)  # many ties
    D[rng.random((r, w)) < 0.1] = np.nan
    D[rng.random((r, w)) < 0.1] = np.inf
    D[:, 0] = np.nan  # a column of NaN only: its slots still fill
    D[: r - 3, 1] = np.nan  # fewer numbers than slots
    key = np.full((w + 2, kc), np.inf, dtype=dtype)
    index = np.full((w + 2, kc), -1, dtype=np.int64)
    for s in range(0, r, 7):  # tiles of 7 rows into columns 2..w+1 of the side
        ep._stream_columns(D[s : s + 7], key, index, 2, s)
    assert (index[:2] == -1).all()
    want = torch.topk(torch.from_numpy(D), kc, dim=0, largest=False).values.T.numpy()
    got = np.sort(key[2:], axis=1)  # numpy sorts NaN last, like topk ranks it
    np.testing.assert_array_equal(got, want)
    # every kept key is the key of its row, each row kept once per column
    np.testing.assert_array_equal(key[2:], D[index[2:], np.arange(w)[:, None]])
    assert all(len(set(row)) == kc for row in index[2:])
