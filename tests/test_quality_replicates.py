"""Replicates that reuse the full computation equal the computation on the subsample.

The subsample replicates (neighbour scores) derive their searches and ball
counts from longer exact lists and ball pairs kept by the full searches
(:meth:`infobench.quality._core.Context.keep_neighbors`): every value must
be bit for bit what a context built directly on the subsample gives. The
split replicates of RKE take their kernel sums from the generated set's
self-search (one Taylor expansion per bandwidth, exact below 32 dimensions
up to rounding).
"""

import math

import numpy as np
import pytest
import torch

import infobench.quality._core as core
from infobench.quality import score_features
from infobench.quality._core import GROUPS, SCORES, Context, Params, spare_neighbors
from infobench.quality.bootstrap import SUBSAMPLE_FRACTION, subsample


def _groups():
    core._ensure_loaded()
    return [
        (fn, members)
        for fn, members in GROUPS.values()
        if SCORES[members[0]].bootstrap in ("subsample", "generated") and SCORES[members[0]].needs != "probs"
    ]


def _sets(kind, rng):
    if kind == "gauss64":
        return rng.normal(size=(260, 64)), rng.normal(size=(260, 64)) + 0.1, None
    if kind == "gauss3":
        return rng.normal(size=(220, 3)), rng.normal(size=(220, 3)) * 1.5, None
    if kind == "copies":  # copies inside and across the sets, and a held-out split
        real, fake = rng.normal(size=(240, 40)), rng.normal(size=(240, 40))
        fake[:60] = real[rng.choice(240, 60, replace=False)]
        real[10:14] = real[3]
        return real, fake, rng.normal(size=(240, 40))
    if kind == "integer":  # exact ties everywhere
        return (
            rng.integers(-1, 2, size=(250, 5)).astype(float),
            rng.integers(-1, 2, size=(250, 5)).astype(float),
            None,
        )
    if kind == "tiny":
        return rng.normal(size=(12, 2)), rng.normal(size=(12, 2)), None
    raise ValueError(kind)


def _same(a, b):
    return a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("kind", ["gauss64", "gauss3", "copies", "integer", "tiny"])
def test_derived_replicates_equal_the_computation_on_the_subsample(kind, monkeypatch):
    rng = np.random.default_rng(3)
    real, fake, held = (None if a is None else torch.as_tensor(a) for a in _sets(kind, rng))
    params = Params(max_memory=40_000)  # many tiles on two worker threads
    root = Context(real, fake, None, None, None, params, 5, heldout=held)
    root.keep_neighbors(SUBSAMPLE_FRACTION)
    groups = _groups()
    for fn, members in groups:
        fn(root, members)
    searches = []
    real_search = core.pair_search
    monkeypatch.setattr(core, "pair_search", lambda *a, **k: searches.append(1) or real_search(*a, **k))
    draws = np.random.default_rng(7)
    for _ in range(6):
        sub = subsample(root, draws)
        ir, jf = sub.origin
        fresh = Context(
            real[torch.as_tensor(ir)], fake[torch.as_tensor(jf)], None, None, real, params, 5, heldout=sub.heldout
        )
        fresh.cache = {}
        for fn, members in groups:
            got, want = fn(sub, members), fn(fresh, members)
            for m in members:
                assert _same(got[m].value, want[m].value), (kind, m, got[m].value, want[m].value)
        # memorization's replicates: the generated set alone
        rows = np.sort(draws.choice(fake.shape[0], int(0.75 * fake.shape[0]), replace=False))
        gsub = root.resample_fake(rows)
        gfresh = Context(real, fake[torch.as_tensor(rows)], None, None, real, params, 5, heldout=held)
        fn = GROUPS["memorization"][0]
        assert fn(gsub, ("memorization",))["memorization"].value == fn(gfresh, ("memorization",))["memorization"].value


def test_derived_replicates_search_only_rows_that_lost_their_neighbours(monkeypatch):
    # With longer lists the replicates run no search at all (here); with lists of k
    # neighbours only, most rows lose one and are searched again: the values stay the same.
    rng = np.random.default_rng(4)
    real, fake = torch.as_tensor(rng.normal(size=(300, 16))), torch.as_tensor(rng.normal(size=(300, 16)))

    def replicate_values(spare):
        monkeypatch.setattr(core, "spare_neighbors", spare)
        root = Context(real, fake, None, None, None, Params(), 1)
        root.keep_neighbors(SUBSAMPLE_FRACTION)
        for fn, members in _groups():
            fn(root, members)
        calls = []
        real_search, again = core.pair_search, core._search_again
        monkeypatch.setattr(core, "pair_search", lambda *a, **k: calls.append(1) or real_search(*a, **k))
        monkeypatch.setattr(core, "_search_again", lambda q, rows, *a, **k: calls.append(1) or again(q, rows, *a, **k))
        draws, vals = np.random.default_rng(2), []
        for _ in range(5):
            sub = subsample(root, draws)
            for fn, members in _groups():
                vals += [out.value for out in fn(sub, members).values()]
        monkeypatch.setattr(core, "pair_search", real_search)
        monkeypatch.setattr(core, "_search_again", again)
        return vals, len(calls)

    long_vals, long_calls = replicate_values(spare_neighbors)
    short_vals, short_calls = replicate_values(lambda k, fraction, miss=1e-4: k)
    assert long_calls == 0 and short_calls > 0
    assert long_vals == short_vals


def test_spare_neighbors():
    # the smallest list a 3/4 subsample keeps k of with probability 1 - 1e-4
    assert spare_neighbors(5, 0.75) == 16 and spare_neighbors(3, 0.75) == 12 and spare_neighbors(1, 0.75) == 7


def test_intervals_with_derived_replicates_equal_those_with_fresh_searches(monkeypatch):
    # The whole pipeline: the same intervals whether replicates derive or search (RKE's kernel
    # sums of the halves from the full pass: equal to rounding below 32 dimensions).
    rng = np.random.default_rng(9)
    real, fake = rng.normal(size=(300, 8)), rng.normal(size=(300, 8)) * 1.1
    scores = "precision,recall,density,coverage,kl_real_fake,entropy_gap,memorization,rke,fid,vendi"
    new = score_features(real, fake, scores=scores, n_boot=40, seed=3)
    monkeypatch.setattr(core.Context, "keep_neighbors", lambda self, fraction: None)
    monkeypatch.setattr(core, "SPLIT_PLANS", {})
    monkeypatch.setattr("infobench.quality.bootstrap.SPLIT_PLANS", {})
    old = score_features(real, fake, scores=scores, n_boot=40, seed=3)
    for col in ("value", "ci_low", "ci_high", "boot_std"):
        np.testing.assert_allclose(new[col].to_numpy(), old[col].to_numpy(), rtol=1e-12, atol=0)
    neighbour = new["bootstrap_kind"].isin(["subsample", "generated"]).to_numpy()
    np.testing.assert_array_equal(
        new[neighbour][["ci_low", "ci_high"]].to_numpy(), old[neighbour][["ci_low", "ci_high"]].to_numpy()
    )


def test_split_halves_side_by_side_equal_one_after_the_other(monkeypatch):
    # With two threads the two halves of a split replicate run on two single-threaded workers:
    # the same intervals as run in turn (to the rounding of the LAPACK calls).
    import infobench.quality.bootstrap as bs

    rng = np.random.default_rng(12)
    real, fake = rng.normal(size=(160, 130)), rng.normal(size=(160, 130)) + 0.05
    side = score_features(real, fake, scores="fid,vendi", n_boot=40, seed=4)
    monkeypatch.setattr(bs, "threads", lambda: 1)
    turn = score_features(real, fake, scores="fid,vendi", n_boot=40, seed=4)
    for col in ("value", "ci_low", "ci_high"):
        np.testing.assert_allclose(side[col].to_numpy(), turn[col].to_numpy(), rtol=1e-9)


@pytest.mark.parametrize("n", [203, 64, 5])
def test_split_halves_are_unions_of_random_groups_with_the_sums_of_their_rows(n):
    # Each half of a split replicate holds n // 2 rows: half of the random groups of its set
    # and half of the rows left over, the two halves disjoint. FID's moments and Vendi's Gram
    # of a half come from the groups' sums, each group summed once per grouping: they equal
    # those computed on the half's rows to rounding.
    import infobench.quality.bootstrap as bs
    from infobench.quality.scores_info import _vendi_terms
    from infobench.quality.scores_standard import _moments, mean_cov

    rng = np.random.default_rng(n)
    real, fake = torch.as_tensor(rng.normal(size=(n, 5))), torch.as_tensor(rng.normal(size=(n + 7, 5)) + 1.0)
    ctx = Context(real, fake, None, None, None, Params(), 3)
    draws = bs.split_draws(ctx, 2 * bs.SPLIT_BLOCK + 3)
    for halves in draws:
        for which, size in ((0, n), (1, n + 7)):
            a, b = halves[0][which], halves[1][which]
            assert a.size == b.size == size // 2 and np.intersect1d(a, b).size == 0
        for rows_real, rows_fake in halves:
            sub = ctx.resample(rows_real, rows_fake)
            for which, rows in (("real", rows_real), ("fake", rows_fake)):
                mu, cov = _moments(sub, which)
                ref_mu, ref_cov = mean_cov(ctx.features(which)[torch.as_tensor(rows)])
                np.testing.assert_allclose(mu, ref_mu, rtol=1e-10, atol=1e-12)
                np.testing.assert_allclose(cov, ref_cov, rtol=1e-9, atol=1e-12)
            gram, zeros = sub.row_sums("fake", "vendi", _vendi_terms)
            ref_gram, _ = _vendi_terms(fake[torch.as_tensor(rows_fake)].numpy())
            np.testing.assert_allclose(gram, ref_gram, rtol=1e-10, atol=1e-12)
            assert float(zeros) == 0.0
