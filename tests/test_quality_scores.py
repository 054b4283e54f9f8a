"""Quality scores on synthetic features: closed forms and independent implementations."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.spatial.distance import cdist
from scipy.special import digamma, gammaln

import infobench
from infobench.quality import (
    class_kl,
    classes_covered,
    fid,
    fid_infinity,
    frechet_distance,
    inception_score,
    kid,
    knn_entropy,
    knn_kl,
    memorization,
    prdc,
    renyi_kernel_entropy,
    score_features,
    scores_standard,
    vendi_score,
)
from infobench.quality._core import SCORES, Params
from infobench.quality.bootstrap import check_bootstrap, percentile_interval


def _spd(rng, d, cond=10.0):
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return (q * np.linspace(1.0, cond, d)) @ q.T


# ------------------------------------------------------------------ FID
def test_frechet_distance_matches_scipy_sqrtm(rng):
    # Independent float64 route: scipy's general matrix square root of S1 S2.
    # Well-conditioned inputs (condition number 10): both routes are accurate to ~1e-12.
    for d in (2, 16, 64):
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        s1, s2 = _spd(rng, d), _spd(rng, d)
        covmean = scipy.linalg.sqrtm(s1 @ s2)
        ref = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)
        got = frechet_distance(mu1, s1, mu2, s2)
        assert got == pytest.approx(ref, rel=1e-6)


def test_frechet_distance_closed_form_for_diagonal_covariances():
    # Commuting covariances: tr((S1 S2)^1/2) = sum sqrt(a_i b_i), so FD = |dmu|^2 + sum (sqrt a - sqrt b)^2.
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 16.0])
    mu1, mu2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    expected = 5.0 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)
    assert frechet_distance(mu1, np.diag(a), mu1, np.diag(a)) == pytest.approx(0.0, abs=1e-12)
    # A singular S1 (no Cholesky factor) takes the eigendecomposition route.
    a0 = np.array([0.0, 4.0, 9.0])
    expected0 = 5.0 + np.sum((np.sqrt(a0) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a0), mu2, np.diag(b)) == pytest.approx(expected0, rel=1e-12)


def test_fid_uses_unbiased_covariances(rng):
    a, b = rng.normal(size=(300, 5)), rng.normal(size=(200, 5)) * 1.5 + 0.3
    expected = frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert fid(a, b) == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_rejects_bad_shapes():
    with pytest.raises(ValueError, match="mu1, mu2 of shape"):
        frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="NaN or inf"):
        frechet_distance(np.array([np.nan, 0.0]), np.eye(2), np.zeros(2), np.eye(2))


def test_fid_infinity_is_the_intercept_of_its_fit_and_removes_the_bias():
    fids, infs = [], []
    for s in range(5):
        rng = np.random.default_rng(100 + s)
        a, b = rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8))
        res = fid_infinity(a, b, seed=s)
        slope, intercept = np.polyfit(1.0 / np.asarray(res["sizes"], float), res["fids"], 1)
        assert res["value"] == pytest.approx(intercept, rel=1e-9, abs=1e-12)
        assert res["slope"] == pytest.approx(slope, rel=1e-9)
        assert res["slope"] > 0  # FID's bias grows like 1/N
        fids.append(fid(a, b))
        infs.append(res["value"])
    # Same distribution: true FID is 0. FID's bias (~0.02 here) is a multiple of
    # the extrapolation's spread (~0.01 per run); the mean of 5 runs is far inside.
    assert np.mean(fids) > 0.015
    assert abs(np.mean(infs)) < 0.3 * np.mean(fids)


def test_fid_infinity_validation(rng):
    a = rng.normal(size=(50, 2))
    with pytest.raises(ValueError, match="min_fraction must be a finite number in \\(0.0, 1.0\\)"):
        fid_infinity(a, a, min_fraction=1.0)
    with pytest.raises(ValueError, match="points must be an integer >= 3"):
        fid_infinity(a, a, points=2)
    with pytest.raises(ValueError, match=r"fid_inf needs at least 10 samples in each set \(5 d, d=2\)"):
        fid_infinity(a[:9], a[:9])
    b = rng.normal(size=(5, 1))  # sizes from 4 d = 4 to 5: two distinct sizes
    with pytest.raises(ValueError, match="at least 3 distinct sample sizes"):
        fid_infinity(b, b)


def test_fid_infinity_fits_no_size_below_4d(rng):
    a, b = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    res = fid_infinity(a, b, min_fraction=0.05)
    assert min(res["sizes"]) == 64 and max(res["sizes"]) == 400
    assert 0.0 <= res["r2"] <= 1.0


def test_fid_inf_score_is_undefined_below_5d_with_a_note(rng):
    a, b = rng.normal(size=(100, 30)), rng.normal(size=(100, 30))
    row = score_features(a, b, scores=["fid", "fid_inf"]).set_index("score").loc["fid_inf"]
    assert math.isnan(row["value"]) and "needs at least 150 samples" in row["note"]


# ------------------------------------------------------------------ KID
def _mmd2_unbiased(x, y):
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1.0) ** 3  # noqa: E731
    m, n = len(x), len(y)
    kxx, kyy = k(x, x), k(y, y)
    return (
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * k(x, y).mean()
    )


def test_kid_with_whole_sets_equals_the_full_unbiased_mmd(rng):
    # subset_size >= n: every subset is a permutation of the whole set, so each
    # subset value (and their mean) is the full-sample unbiased MMD^2.
    x, y = rng.normal(size=(120, 6)), rng.normal(size=(120, 6)) + 0.2
    mean, std = kid(x, y, subsets=5, subset_size=1000)
    assert mean == pytest.approx(_mmd2_unbiased(x, y), rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-10)


def test_kid_gram_path_equals_per_subset_path(rng, monkeypatch):
    x, y = rng.normal(size=(150, 4)), rng.normal(size=(90, 4)) * 1.2
    fast = kid(x, y, subsets=20, subset_size=40, seed=3)
    monkeypatch.setattr(scores_standard, "KID_GRAM_ENTRIES", 0)
    slow = kid(x, y, subsets=20, subset_size=40, seed=3)
    assert fast == pytest.approx(slow, rel=1e-10)


def test_kid_subsets_match_an_independent_loop(rng):
    x, y = rng.normal(size=(80, 3)), rng.normal(size=(70, 3))
    mean, std = kid(x, y, subsets=10, subset_size=30, seed=7)
    # Same subsets, drawn as documented: the "kid" stream of the seeded context.
    from infobench.quality._core import _seed_for

    seed = int(np.random.default_rng(7).integers(0, 2**62))
    g = np.random.default_rng(_seed_for(seed, "kid"))
    ix = [g.choice(80, 30, replace=False) for _ in range(10)]
    iy = [g.choice(70, 30, replace=False) for _ in range(10)]
    vals = [_mmd2_unbiased(x[i], y[j]) for i, j in zip(ix, iy)]
    assert mean == pytest.approx(np.mean(vals), rel=1e-10)
    assert std == pytest.approx(np.std(vals, ddof=1), rel=1e-8)


def test_kid_is_unbiased_near_zero_for_equal_distributions(rng):
    # Unbiased: may be negative; over independent draws it centres on 0. The
    # spread across 20 draws (~1e-3 here) bounds the mean well inside 3 std.
    vals = [
        kid(rng.normal(size=(200, 4)), rng.normal(size=(200, 4)), subsets=10, subset_size=100, seed=s)[0]
        for s in range(20)
    ]
    assert abs(np.mean(vals)) < 3 * np.std(vals) / math.sqrt(len(vals))
    assert min(vals) < 0  # never clipped


def _with_variance(v: float, size: int, rng) -> np.ndarray:
    z = rng.normal(size=size)
    return (z - z.mean()) / z.std(ddof=1) * math.sqrt(v)  # sample variance (ddof 1) exactly v


def test_kid_std_err_solves_the_hoeffding_form_and_keeps_a_negative_linear_term(rng):
    # Spreads built to match Var(U_m) - Var(U_n) = a (1/m - 1/n) + b (1/m^2 - 1/n^2)
    # exactly, at m and at h = m/2 (two disjoint halves per subset, pooled).
    m, h, n, s = 100, 50, 1000, 40
    for a, b in ((2.0, 30.0), (-0.01, 30.0)):  # root-n part present; a noisy negative estimate of a zero one
        s2m, s2h = a * (1 / m - 1 / n) + b * (1 / m**2 - 1 / n**2), a * (1 / h - 1 / n) + b * (1 / h**2 - 1 / n**2)
        vals, halves = _with_variance(s2m, s, rng), _with_variance(s2h, 2 * s, rng).reshape(s, 2)
        assert a / n + b / n**2 > 0
        want = math.sqrt(a / n + b / n**2 + s2m / s)
        assert scores_standard.kid_std_err(vals, halves, m, n) == pytest.approx(want, rel=1e-9)
    # A negative extrapolated variance falls back to the best single term (here b alone).
    a, b = -0.1, 30.0
    s2m, s2h = a * (1 / m - 1 / n) + b * (1 / m**2 - 1 / n**2), a * (1 / h - 1 / n) + b * (1 / h**2 - 1 / n**2)
    vals, halves = _with_variance(s2m, s, rng), _with_variance(s2h, 2 * s, rng).reshape(s, 2)
    design = np.array([1 / m**2 - 1 / n**2, 1 / h**2 - 1 / n**2])
    b_only = float(design @ [s2m, s2h]) / float(design @ design)
    got = scores_standard.kid_std_err(vals, halves, m, n)
    assert got == pytest.approx(math.sqrt(b_only / n**2 + s2m / s), rel=1e-9)
    assert math.isnan(scores_standard.kid_std_err(vals, halves, m, 150))  # m > n/2: no own standard error


# ------------------------------------------------------------------ PRDC and memorization
def _prdc_reference(real, fake, k):
    # Transcription of Naeem et al.'s reference code (clovaai/generative-evaluation-prdc).
    rr = cdist(real, real)
    ff = cdist(fake, fake)
    rf = cdist(real, fake)
    r_real = np.partition(rr, k, axis=1)[:, k]
    r_fake = np.partition(ff, k, axis=1)[:, k]
    precision = (rf < r_real[:, None]).any(axis=0).mean()
    recall = (rf < r_fake[None, :]).any(axis=1).mean()
    density = (1.0 / k) * (rf < r_real[:, None]).sum(axis=0).mean()
    coverage = (rf.min(axis=1) < r_real).mean()
    return dict(precision=precision, recall=recall, density=density, coverage=coverage)


@pytest.mark.parametrize("k", [1, 5])
def test_prdc_matches_the_reference_implementation(rng, k):
    real, fake = rng.normal(size=(300, 5)), rng.normal(size=(250, 5)) * 1.3 + 0.2
    got = prdc(real, fake, k=k)
    ref = _prdc_reference(real, fake, k)
    for name in ref:
        assert got[name] == pytest.approx(ref[name], abs=1e-12), name


def test_prdc_validation(rng):
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 9\]"):
        prdc(rng.normal(size=(10, 2)), rng.normal(size=(20, 2)), k=10)
    with pytest.raises(ValueError, match="same feature dimension"):
        prdc(rng.normal(size=(10, 2)), rng.normal(size=(20, 3)))


def test_memorization_counts_copies_and_matches_brute_force(rng):
    train = rng.normal(size=(200, 4))
    fake = rng.normal(size=(100, 4))
    fake[:30] = train[rng.choice(200, 30, replace=False)]  # exact copies
    d_ft = cdist(fake, train)
    d_tt = cdist(train, train)
    np.fill_diagonal(d_tt, np.inf)
    nearest = d_ft.argmin(1)
    expected = np.mean(d_ft.min(1) < d_tt.min(1)[nearest])
    got = memorization(fake, train)
    assert got == pytest.approx(expected, abs=1e-12)
    assert memorization(train[:50], train) == 1.0


# ------------------------------------------------------------------ kNN estimators
def test_knn_entropy_matches_infobench_estimator(rng):
    x = rng.normal(size=(500, 6))
    ref = infobench.entropy(x, "knn", k=3, jitter=False, transform="none").value
    assert knn_entropy(x, k=3) == pytest.approx(ref, rel=1e-10)


def test_knn_entropy_closed_form_gaussian(rng):
    # H(N(0, I_2)) = log(2 pi e). KL standard error here is ~0.02 nats; 0.08 is 4 s.e.
    x = rng.normal(size=(4000, 2))
    assert knn_entropy(x, k=3) == pytest.approx(math.log(2 * math.pi * math.e), abs=0.08)


def test_knn_entropy_explicit_formula(rng):
    x = rng.normal(size=(60, 3))
    d = cdist(x, x)
    np.fill_diagonal(d, np.inf)
    eps = np.sort(d, axis=1)[:, 2]
    logv = 1.5 * math.log(math.pi) - gammaln(2.5)
    expected = digamma(60) - digamma(3) + logv + 3 * np.mean(np.log(eps))
    assert knn_entropy(x, k=3) == pytest.approx(expected, rel=1e-12)


def test_knn_kl_matches_infobench_estimator(rng):
    p, q = rng.normal(size=(400, 3)), rng.normal(size=(300, 3)) + 0.5
    ref = infobench.kl_divergence(p, q, "knn", k=3, jitter=False, transform="none").value
    assert knn_kl(p, q, k=3) == pytest.approx(ref, rel=1e-10)


def test_kl_scores_at_equal_sizes_equal_the_estimator(rng):
    p, q = rng.normal(size=(200, 4)), rng.normal(size=(200, 4)) + 0.3
    df = score_features(p, q, scores=["kl_real_fake", "kl_fake_real"]).set_index("score")["value"]
    assert df["kl_real_fake"] == pytest.approx(knn_kl(p, q, k=3), rel=1e-10)
    assert df["kl_fake_real"] == pytest.approx(knn_kl(q, p, k=3), rel=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kl_scores_compare_equal_sizes_on_low_dimensional_features(seed):
    # One distribution: a 3-d Gaussian embedded linearly in 40-d, 300 against
    # 1,200 rows. The textbook WKV estimate at these unequal sizes is about
    # -16 / +17 nats (its log(m / (n - 1)) term assumes 40-d scaling); the
    # scores cut the larger set into 4 chunks of 300 and read about 0.
    # Measured over seeds 0-4: kl_real_fake 0.41, 0.56, -1.19, 0.43, 0.16;
    # kl_fake_real -0.17, -0.32, -0.41, -0.01, 0.18 (sd <= 0.7; band 2.5).
    rng = np.random.default_rng(seed)
    embed = rng.normal(size=(3, 40))
    p, q = rng.normal(size=(300, 3)) @ embed, rng.normal(size=(1200, 3)) @ embed
    assert abs(knn_kl(p, q, k=3)) > 10 and abs(knn_kl(q, p, k=3)) > 10
    df = score_features(p, q, scores=["kl_real_fake", "kl_fake_real"])
    # The tables say which n each score used: 300 a side, 4 reference chunks.
    assert (df["n_real"] == 300).all() and (df["n_fake"] == 300).all()
    assert all(e["reference_chunks"] == 4 for e in df["extras"])
    for value in df["value"]:
        assert abs(value) < 2.5


def test_knn_kl_and_entropy_raise_the_estimators_error_for_shared_samples(rng):
    # One implementation: the estimators' clear error, no NaN / -inf.
    p = rng.normal(size=(50, 2))
    with pytest.raises(ValueError, match="rows shared by p and q"):
        knn_kl(p, np.vstack([p[:5], rng.normal(size=(50, 2))]), k=1)
    with pytest.raises(ValueError, match="duplicate rows"):
        knn_entropy(np.vstack([p, p[:3]]), k=1)


def test_kl_scores_note_shared_samples(rng):
    # Inside the score table a copy makes the kNN KL undefined: NaN with a note saying why.
    p = rng.normal(size=(60, 2))
    q = np.vstack([p[:5], rng.normal(size=(55, 2))])
    row = score_features(p, q, scores=["kl_real_fake"], knn_k=1).iloc[0]
    assert math.isnan(row["value"]) and "coincide exactly" in row["note"]


# ------------------------------------------------------------------ class-based scores
def test_inception_score_closed_forms():
    onehot = np.eye(10)[np.arange(200) % 10]
    s = inception_score(onehot)
    assert s["score"] == pytest.approx(10.0, rel=1e-12)
    assert s["h_marginal"] == pytest.approx(math.log(10), rel=1e-12)
    assert s["h_conditional"] == 0.0
    same = np.tile([0.5, 0.3, 0.2], (50, 1))
    assert inception_score(same)["score"] == pytest.approx(1.0, rel=1e-12)


def test_class_kl_and_coverage(rng):
    pr = rng.dirichlet(np.ones(4), size=100)
    pf = rng.dirichlet(np.ones(4), size=80)
    from scipy.stats import entropy

    assert class_kl(pr, pf) == pytest.approx(entropy(pr.mean(0), pf.mean(0)), rel=1e-12)
    real = np.eye(4)[np.arange(100) % 4]
    fake = np.eye(4)[np.r_[np.zeros(60, int), np.ones(38, int), np.full(2, 2)]]
    # class 2 at 2% vs 25% real is below 0.1 x 25%; class 3 absent.
    assert classes_covered(real, fake, ratio=0.1) == 2
    assert classes_covered(real, fake, ratio=0.05) == 3


def test_probabilities_are_validated():
    with pytest.raises(ValueError, match="must hold probabilities"):
        inception_score(np.array([[0.5, 0.6], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="one column per class"):
        inception_score(np.ones((3, 1)))


# ------------------------------------------------------------------ diversity
def _eig_cosine(x):
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    lam = np.linalg.eigvalsh(xn @ xn.T / len(x))
    return lam[lam > 1e-12]


@pytest.mark.parametrize("q", [0.5, 1.0, 2.0, math.inf])
def test_vendi_matches_the_n_by_n_eigendecomposition(rng, q):
    x = rng.normal(size=(80, 5)) + 1.0
    lam = _eig_cosine(x)
    if q == 1.0:
        h = -np.sum(lam * np.log(lam))
    elif math.isinf(q):
        h = -np.log(lam.max())
    else:
        h = np.log(np.sum(lam**q)) / (1 - q)
    assert vendi_score(x, q=q) == pytest.approx(math.exp(h), rel=1e-9)


def test_vendi_closed_forms(rng):
    assert vendi_score(np.tile(rng.normal(size=(1, 4)), (30, 1))) == pytest.approx(1.0, rel=1e-9)
    assert vendi_score(np.eye(6)) == pytest.approx(6.0, rel=1e-9)  # orthogonal: 6 distinct samples
    assert math.isnan(vendi_score(np.vstack([np.zeros(3), np.ones(3)])))


def test_rke_matches_the_n_by_n_kernel(rng):
    x = rng.normal(size=(70, 3))
    k = np.exp(-cdist(x, x, "sqeuclidean") / (2 * 1.3**2))
    lam = np.linalg.eigvalsh(k / len(x))
    assert renyi_kernel_entropy(x, bandwidth=1.3) == pytest.approx(-np.log(np.sum(lam**2)), rel=1e-9)
    assert renyi_kernel_entropy(np.zeros((5, 2)), bandwidth=1.0) == pytest.approx(0.0, abs=1e-12)


# ------------------------------------------------------------------ bootstrap
def test_check_bootstrap_messages():
    assert check_bootstrap(0, 0.95) == (0, 0.95)
    with pytest.raises(ValueError, match="bootstrap must be 0 or at least 40 replicates for a 0.95 interval; got 10"):
        check_bootstrap(10, 0.95)
    with pytest.raises(ValueError, match="level must be a finite number in \\(0.0, 1.0\\)"):
        check_bootstrap(100, 1.0)
    with pytest.raises(ValueError, match="bootstrap must be an integer >= 0"):
        check_bootstrap(-1, 0.9)


def test_percentile_interval_is_recentred():
    reps = np.arange(101.0) + 0.5  # mean 50.5, 2.5% / 97.5% quantiles 3.0 and 98.0
    assert percentile_interval(reps, 10.0, 0.95) == pytest.approx((10 - 47.5, 10 + 47.5))
    # 10 of 100 replicates at -inf: the 5% quantile is -inf, read off without interpolation.
    lo, hi = percentile_interval(np.r_[np.full(10, -np.inf), np.zeros(90)], -np.inf, 0.9)
    assert lo == -np.inf and hi == 0.0
    assert all(math.isnan(v) for v in percentile_interval(np.r_[np.nan, 1.0], 1.0, 0.9))
    # Integer-valued scores (class counts) keep integer bounds: plain order statistics.
    assert percentile_interval(np.r_[np.full(10, 8.0), np.full(90, 10.0)], 10.0, 0.9) == (8.0, 10.0)


@pytest.mark.parametrize("case", ["mean", "degenerate"])
def test_split_rate_estimate_on_statistics_of_known_rate(case):
    # The split scheme's rate estimate on two statistics whose variance is known
    # in closed form, through its own replicates (disjoint halves and quarters):
    # a sample mean, Var(T_m) = 1/m (root-n, gamma = 1: r = v4/v2 = 2), and the
    # degenerate V-statistic |mean|^2 of zero-mean d-dim normal rows, chi^2_d / m
    # with Var(T_m) = 2d/m^2 (gamma = 2: r = 4). Over 8 samples (B = 60) the
    # mean ratio was 2.06-2.14 and 3.74-3.79 and the mean of Var(T_n)-estimate /
    # truth 0.95-1.07 and 1.09-1.25 (one sample's: sd ~0.2 and ~0.5, so the
    # bounds are ~2.5 standard errors of the mean of 8); the two ratio bounds
    # are far from each other's values, so a rate estimate that did not tell a
    # root-n score from a degenerate one fails.
    from infobench.quality._core import Context, Outcome, Params
    from infobench.quality.bootstrap import _split_replicates

    n, d = 1000, (1 if case == "mean" else 50)

    def stat(ctx, wanted):
        m = ctx.fake.mean(0)
        t = float(m[0]) if case == "mean" else float((m**2).sum())
        return {"t": Outcome(t, ctx.real.shape[0], ctx.fake.shape[0])}

    ratios, rel = [], []
    for s in range(8):
        x = torch.as_tensor(np.random.default_rng(s).normal(size=(n, d)))
        ctx = Context(x, x, None, None, None, Params(), s)
        dev, ratio = _split_replicates(ctx, [(stat, ("t",))], 60, None)["t"]
        ratios.append(ratio)
        rel.append(np.mean(dev**2) / (1 / n if case == "mean" else 2 * d / n**2))
    if case == "mean":
        assert np.mean(ratios) < 2.4 and 0.82 < np.mean(rel) < 1.18
    else:
        assert np.mean(ratios) > 3.4 and 0.6 < np.mean(rel) < 1.6


@pytest.mark.slow
def test_neighbour_score_intervals_match_the_spread_over_fresh_samples():
    # Coverage recomputes its neighbourhoods on subsamples: its bootstrap
    # std must match the std over fresh draws of both sets (the old
    # fixed-neighbourhood bootstrap gave 0.35 of it). The fresh std from 30
    # draws is known to ~13 %, the bootstrap std of one draw (B = 100) to
    # ~15 %; with 3/4-subsamples this draw reads 1.59, and over 200 fresh
    # draws (30 bootstrapped) the std ratio was 1.41 +- 0.08 and the interval
    # width ratio 1.31 +- 0.07 (half-samples: 1.21 and 1.16).
    vals = []
    for s in range(30):
        r = np.random.default_rng(1000 + s)
        vals.append(prdc(r.normal(size=(400, 3)), r.normal(size=(400, 3)) * 1.5)["coverage"])
    fresh = np.std(vals, ddof=1)
    r = np.random.default_rng(7)
    row = score_features(
        r.normal(size=(400, 3)), r.normal(size=(400, 3)) * 1.5, scores=["coverage"], n_boot=100, seed=1
    ).iloc[0]
    assert 0.6 < row["boot_std"] / fresh < 1.7
    assert 0.0 <= row["ci_low"] < row["value"] < row["ci_high"] <= 1.0
    assert row["extras"]["interval"] == {"kind": "subsample", "fraction": 0.75}


@pytest.mark.slow
def test_fid_split_intervals_match_the_spread_over_fresh_samples_when_degenerate():
    # Identical distributions: FID is degenerate (its spread falls like 1/n), and
    # a half-sample's spread around T_n is sqrt(Var(T_{n/2}) - Var(T_n)) =
    # sqrt(3) sd(T_n) (the old half-sample intervals: 1.5-1.7x). The split
    # scheme's estimated rate must bring it back. Fresh sd from 40 draws: ~11 %;
    # the mean boot_std over 6 draws (B = 60): ~8 %; so [0.7, 1.4] is about
    # 2.5 standard errors wide on either side of 1, and excludes sqrt(3).
    n, d = 600, 8
    draws = [np.random.default_rng(3000 + s) for s in range(40)]
    pairs = [(r.normal(size=(n, d)), r.normal(size=(n, d))) for r in draws]
    fresh = np.std([fid(x, y) for x, y in pairs], ddof=1)
    boot = [score_features(x, y, scores=["fid"], n_boot=60, seed=s).iloc[0] for s, (x, y) in enumerate(pairs[:6])]
    ratio = np.mean([row["boot_std"] for row in boot]) / fresh
    assert 0.7 < ratio < 1.4
    assert all(row["extras"]["interval"]["kind"] == "split" for row in boot)
    assert np.mean([row["extras"]["interval"]["variance_ratio"] for row in boot]) > 3.0  # degenerate: ~4


def test_intervals_stay_inside_the_score_range(rng):
    # A perfect match: precision and coverage 1 (copies), intervals may not pass 1.
    x = rng.normal(size=(120, 3))
    df = score_features(x, x.copy(), scores=["precision", "coverage", "fid"], n_boot=40, seed=0)
    for row in df.itertuples():
        lo, hi = SCORES[row.score].value_range
        assert lo <= row.ci_low <= row.ci_high <= hi, row.score


def test_no_interval_when_the_resampled_sets_are_too_small(rng):
    # 6 rows: enough for k = 5 neighbours, not in a subsample of 3/4 (4 rows);
    # FD-infinity fits 5 d = 10 rows, but its interval needs 14 d = 28 (its halves
    # of 15 could not be fitted either). Both keep their value and say why they
    # have no interval.
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    row = score_features(x, y, scores=["precision"], n_boot=40).iloc[0]
    assert row["value"] == row["value"] and math.isnan(row["ci_low"]) and math.isnan(row["ci_high"])
    assert row["note"] == "no interval: the score is undefined on the subsamples (too few rows)"
    x, y = rng.normal(size=(15, 2)), rng.normal(size=(15, 2))
    row = score_features(x, y, scores=["fid_inf"], n_boot=40).iloc[0]
    assert math.isnan(row["ci_low"]) and math.isnan(row["ci_high"]) and row["value"] == row["value"]
    assert "no interval: FID-infinity's interval needs 28 rows per set (14 d)" in row["note"]


def test_score_features_is_seeded_and_tidy(rng):
    real, fake = rng.normal(size=(200, 4)), rng.normal(size=(150, 4)) + 0.3
    a = score_features(real, fake, n_boot=40, seed=5)
    b = score_features(real, fake, n_boot=40, seed=5)
    pd_cols = ["value", "ci_low", "ci_high"]
    np.testing.assert_array_equal(a[pd_cols].to_numpy(), b[pd_cols].to_numpy())
    assert set(a["direction"]) <= {"up", "down", "zero"}
    assert "inception" not in set(a["score"])  # no probabilities given: class scores skipped
    fid_row = a[a["score"] == "fid"].iloc[0]
    assert fid_row["ci_low"] <= fid_row["value"] <= fid_row["ci_high"]
    assert (a["n_fake"] > 0).all()


def test_scores_move_the_documented_way_on_gaussians(rng):
    real = rng.normal(size=(800, 4))
    near = rng.normal(size=(800, 4))
    far = rng.normal(size=(800, 4)) * 2.0 + 1.0
    names = ["fid", "kid", "precision", "coverage", "kl_real_fake", "kl_fake_real"]
    a = score_features(real, near, scores=names).set_index("score")["value"]
    b = score_features(real, far, scores=names).set_index("score")["value"]
    for n in ("fid", "kid", "kl_real_fake", "kl_fake_real"):
        assert b[n] > a[n], n
    for n in ("precision", "coverage"):
        assert b[n] < a[n], n


def test_score_features_bad_input(rng):
    real = rng.normal(size=(50, 3))
    with pytest.raises(ValueError, match="unknown score 'fidd'"):
        score_features(real, real, scores=["fidd"])
    with pytest.raises(ValueError, match="needs class probabilities"):
        score_features(real, real, scores=["inception"])
    with pytest.raises(ValueError, match="fake has 4 samples; score 'precision' needs at least 6"):
        score_features(real, real[:4], scores=["precision"])
    with pytest.raises(ValueError, match="fake contains non-finite values"):
        bad = real.copy()
        bad[2, 1] = np.nan
        score_features(real, bad)
    with pytest.raises(ValueError, match="unknown score parameter 'kk'"):
        score_features(real, real, kk=3)
    with pytest.raises(ValueError, match="must not be empty"):
        score_features(real, np.zeros((0, 3)))
    with pytest.raises(ValueError, match="same feature dimension"):
        score_features(real, rng.normal(size=(50, 2)))
    probs = rng.dirichlet(np.ones(3), size=50)
    with pytest.raises(ValueError, match="fake_probs must hold probabilities"):
        score_features(real, real, real_probs=probs, fake_probs=probs * 2)
    with pytest.raises(ValueError, match="fake_probs must have one row per sample \\(50\\); got 40"):
        score_features(real, real, real_probs=probs, fake_probs=probs[:40])


def test_params_validation():
    with pytest.raises(ValueError, match="vendi_q must be a number >= 0"):
        Params(vendi_q=-1.0)
    with pytest.raises(ValueError, match="coverage_ratio must be a finite number in \\(0.0, 1.0\\]"):
        Params(coverage_ratio=0.0)
    with pytest.raises(TypeError, match="k must be an integer >= 1"):
        Params(k=2.5)


# ------------------------------------------------------------------ exact neighbour semantics
def test_prdc_of_a_copy_is_exactly_one_in_64d():
    # Ball radii and ball tests come from one exact distance: the copy of each
    # real row's k-th neighbour sits on that row's ball boundary and is outside.
    # (The fast-expansion ball test counted them in at random: density 1.065.)
    x = np.random.default_rng(0).normal(size=(1000, 64))
    got = prdc(x, x.copy(), k=5)
    assert got == {"precision": 1.0, "recall": 1.0, "density": 1.0, "coverage": 1.0}


def test_prdc_with_half_copies_matches_brute_force_with_one_distance(rng):
    from infobench.estimators._exact_pairs import exact_distances

    real = rng.normal(size=(400, 64))
    fake = rng.normal(size=(400, 64))
    fake[:200] = real[rng.choice(400, 200, replace=False)]
    k = 5

    def pairwise(a, b):
        i, j = np.meshgrid(np.arange(len(a)), np.arange(len(b)), indexing="ij")
        return exact_distances(a[i.ravel()], b[j.ravel()]).reshape(len(a), len(b))

    rr, ff, fr = pairwise(real, real), pairwise(fake, fake), pairwise(fake, real)
    np.fill_diagonal(rr, np.inf)
    np.fill_diagonal(ff, np.inf)
    r_real, r_fake = np.sort(rr, 1)[:, k - 1], np.sort(ff, 1)[:, k - 1]
    expected = {
        "precision": (fr < r_real[None, :]).any(1).mean(),
        "recall": (fr.T < r_fake[None, :]).any(1).mean(),
        "density": (fr < r_real[None, :]).sum(1).mean() / k,
        "coverage": (fr.min(0) < r_real).mean(),
    }
    assert prdc(real, fake, k=k) == expected  # exactly: the same distances, the same strict tests


# ------------------------------------------------------------------ equal-size rule
@pytest.mark.slow
def test_coverage_against_a_10x_reference_reads_as_at_equal_n():
    # Held-out real data against a reference 10x larger: the equal-size rule
    # cuts the reference into 10 chunks of the generated size and averages.
    # Without it coverage reads far lower (each real ball is tiny), which is
    # what a table comparing sets of different sizes must not show.
    rng = np.random.default_rng(5)
    d, n = 8, 300
    big, small, held = rng.normal(size=(10 * n, d)), rng.normal(size=(n, d)), rng.normal(size=(n, d))
    at_10x = score_features(big, held, scores=["coverage"], n_boot=60, seed=0).iloc[0]
    at_eq = score_features(small, held, scores=["coverage"], n_boot=60, seed=0).iloc[0]
    assert at_10x["n_real"] == at_eq["n_real"] == n and at_10x["extras"]["reference_chunks"] == 10
    # The two read the same within the equal-n interval: their difference is within its half-width.
    assert abs(at_10x["value"] - at_eq["value"]) <= (at_eq["ci_high"] - at_eq["ci_low"]) / 2
    assert prdc(big, held)["coverage"] < at_eq["ci_low"] - 0.2  # the raw score at unequal sizes


# ------------------------------------------------------------------ knobs, declarations, calibration
def test_max_memory_is_the_knob_and_tile_bytes_a_deprecated_alias(rng):
    with pytest.warns(DeprecationWarning, match="tile_bytes is deprecated: use max_memory"):
        p = Params(tile_bytes=4096)
    assert p.max_memory == 4096 and p.tile_bytes is None
    with pytest.raises(ValueError, match="tile_bytes is a deprecated alias of max_memory: give one"):
        Params(max_memory=8192, tile_bytes=4096)
    with pytest.raises(ValueError, match="max_memory must be an integer >= 1024"):
        Params(max_memory=10)
    real, fake = rng.normal(size=(150, 4)), rng.normal(size=(150, 4))
    a = score_features(real, fake, scores=["precision", "rke"], max_memory=2048)
    b = score_features(real, fake, scores=["precision", "rke"])
    np.testing.assert_allclose(a["value"], b["value"], rtol=1e-12)  # tiles change nothing but memory


def test_scores_declare_options_and_size_needs():
    from infobench.quality._core import cli_options

    assert set(cli_options()) == {"k", "knn_k", "vendi_q"}
    assert SCORES["precision"].size_need(Params(k=7), "fake") == (8, "k=7, knn_k=3")
    assert SCORES["fid"].size_need(Params(), "fake") == (2, "")


def test_interval_calibration_and_its_table():
    from infobench.quality.validity import interval_calibration
    from infobench.report.quality_tables import calibration_table

    def draw(i):
        r = np.random.default_rng(50 + i)
        return r.normal(size=(120, 3)), r.normal(size=(120, 3))

    cal = interval_calibration(draw, n_draws=6, n_boot_draws=2, n_boot=40, scores="coverage,fid")
    assert list(cal["score"]) == ["fid", "coverage"]
    np.testing.assert_allclose(cal["std_ratio"], cal["boot_std"] / cal["fresh_sd"])
    # Standard errors of the ratios: at least the fresh sd's own relative error, 1 / sqrt(2 (6 - 1)).
    assert (cal["std_ratio_se"] >= cal["std_ratio"] / math.sqrt(10) - 1e-12).all()
    assert (cal["width_ratio_se"] >= cal["width_ratio"] / math.sqrt(10) - 1e-12).all()
    assert (cal["fresh_sd"] > 0).all() and (cal["n_real"] == 120).all()
    table = calibration_table(cal)
    assert table.header[0] == "score" and len(table.rows) == 2
    assert table.rows[0][4] == f"{cal['std_ratio'][0]:.2f} ± {cal['std_ratio_se'][0]:.2f}"
    with pytest.raises(ValueError, match="n_boot_draws must be an integer in \\[1, 6\\]"):
        interval_calibration(draw, n_draws=6, n_boot_draws=7)


def test_interval_calibration_uses_a_drawn_training_split():
    from infobench.quality.validity import interval_calibration

    # The training split is near-copies of the generated set: memorization about 1 against it,
    # about a half (the base rate of independent draws) against the real set as its own training split.
    def sets(i):
        r = np.random.default_rng(70 + i)
        real, fake = r.normal(size=(120, 3)), r.normal(size=(120, 3))
        return real, fake, fake[:100] + 1e-6 * r.normal(size=(100, 3))

    cal = interval_calibration(sets, n_draws=4, n_boot_draws=1, n_boot=40, scores="coverage,memorization")
    row = cal.set_index("score").loc["memorization"]
    direct = [score_features(*sets(i)[:2], train=sets(i)[2], scores="memorization")["value"][0] for i in range(4)]
    assert direct == [memorization(sets(i)[1], sets(i)[2]) for i in range(4)]
    assert row["fresh_mean"] == pytest.approx(np.mean(direct), abs=1e-15) and row["n_real"] == 100
    assert np.mean(direct) > 0.9  # the 20 generated samples without a copy may still land in a ball
    # Without the third set the real set is the training split (and the other scores do not change).
    pairs = interval_calibration(
        lambda i: sets(i)[:2], n_draws=4, n_boot_draws=1, n_boot=40, scores="coverage,memorization"
    ).set_index("score")
    assert pairs.loc["memorization", "fresh_mean"] == pytest.approx(
        np.mean([memorization(sets(i)[1], sets(i)[0]) for i in range(4)]), abs=1e-15
    )
    assert pairs.loc["memorization", "fresh_mean"] < 0.8 and pairs.loc["memorization", "n_real"] == 120
    assert pairs.loc["coverage", "fresh_mean"] == cal.set_index("score").loc["coverage", "fresh_mean"]
    with pytest.raises(
        TypeError,
        match="draw\\(0\\) must return \\(real, fake\\), \\(real, fake, train\\) or a "
        "mapping of those and real_probs, fake_probs; got tuple of 1",
    ):
        interval_calibration(lambda i: sets(i)[:1], n_draws=4, n_boot_draws=1)


def test_interval_calibration_draws_class_probabilities():
    from infobench.quality.validity import interval_calibration
    from infobench.report.quality_tables import calibration_table

    # A draw as a mapping carries the class probabilities of both sets: the class scores are measured, each
    # redraw's value that of score_features called directly. The arg-max classes cycle through all 4 classes,
    # so every draw covers every class and classes_covered is constant (no ratio, and the table says so).
    def sets(i):
        r = np.random.default_rng(90 + i)
        logits = r.normal(size=(240, 4)) + 3 * np.eye(4)[np.arange(240) % 4]
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        feats = r.normal(size=(240, 3))
        return {"real": feats[:120], "fake": feats[120:], "real_probs": probs[:120], "fake_probs": probs[120:]}

    names = "inception,h_marginal,h_conditional,class_kl,classes_covered,fid"
    cal = interval_calibration(sets, n_draws=4, n_boot_draws=2, n_boot=40, scores=names).set_index("score")
    direct = [score_features(**sets(i), scores=names).set_index("score")["value"] for i in range(4)]
    for name in names.split(","):
        assert cal.loc[name, "fresh_mean"] == pytest.approx(np.mean([d[name] for d in direct]), rel=1e-12)
    assert cal.loc["inception", "n_fake"] == 120 and cal.loc["class_kl", "n_real"] == 120
    for name in ("inception", "h_marginal", "h_conditional", "class_kl", "fid"):
        assert cal.loc[name, "fresh_sd"] > 0 and cal.loc[name, "width_ratio"] > 0 and cal.loc[name, "note"] == ""
    row = cal.loc["classes_covered"]
    assert row["fresh_mean"] == 4 and row["fresh_sd"] == 0
    assert all(math.isnan(row[c]) for c in ("std_ratio", "width_ratio", "std_ratio_se", "width_ratio_se"))
    assert row["note"] == "constant (4) over the 4 fresh redraws: no spread to calibrate against"
    table = calibration_table(cal.reset_index())
    assert [r[4:] for r in table.rows if r[0] == SCORES["classes_covered"].label] == [["constant", "constant"]]
    # IS reads no real set: its size is "120 generated", not "0 vs 120"
    assert [r[1] for r in table.rows if r[0] == SCORES["inception"].label] == ["120 generated"]
    assert [r[1] for r in table.rows if r[0] == SCORES["class_kl"].label] == ["120 vs 120"]
    # A mapping without the generated set, or with an unknown key, is refused by name.
    with pytest.raises(
        TypeError,
        match="draw\\(0\\) must return a mapping with the keys 'real' and 'fake' and "
        "optionally 'train', 'real_probs', 'fake_probs'; "
        "got keys \\['probs', 'real'\\]",
    ):
        interval_calibration(lambda i: {"real": sets(i)["real"], "probs": None}, n_draws=4, n_boot_draws=1)


def test_memorization_interval_is_conditional_on_the_training_split():
    # Generated rows copied from the training split: every copy keeps its original in every
    # replicate (only the generated set is subsampled), so all replicates read 1 and the interval
    # is [1, 1]. Subsampling the training split too would drop originals and read below 1.
    rng = np.random.default_rng(5)
    train = rng.normal(size=(300, 2))
    df = score_features(
        rng.normal(size=(300, 2)), train[:80].copy(), train=train, scores="memorization", n_boot=40
    ).set_index("score")
    assert df.loc["memorization", "value"] == 1.0
    assert (df.loc["memorization", "ci_low"], df.loc["memorization", "ci_high"]) == (1.0, 1.0)
    assert df.loc["memorization", "extras"]["interval"] == {"kind": "generated", "fraction": 0.75}


def test_generated_only_replicates_share_the_whole_sets_searches():
    from infobench.quality._core import Context

    rng = np.random.default_rng(6)
    real, fake = torch.as_tensor(rng.normal(size=(50, 3))), torch.as_tensor(rng.normal(size=(40, 3)))
    ctx = Context(real, fake, None, None, None, Params(), seed=0)
    whole = ctx.self_knn("train")  # the real set is its own training split
    sub = ctx.resample_fake(np.arange(0, 40, 2))
    assert sub.self_knn("train") is whole and sub.self_knn("real") is whole
    assert torch.equal(sub.fake, fake[::2]) and torch.equal(sub.features("train"), real)
    # the replicate's memorization equals a direct computation on the subsample
    assert scores_standard._memorization_value(sub) == memorization(fake[::2], real)


@pytest.mark.slow
def test_memorization_interval_matches_fresh_generated_sets():
    # Given the training split, memorization is a mean of one indicator per generated row: the
    # three-quarter subsamples of the generated set with the sqrt(3) correction must match the spread
    # over fresh generated sets (200 redraws, 40 bootstrapped with 50 replicates: measured width
    # ratio 0.88 +- 0.05; percentile widths from 50 replicates run a few per cent short).
    from infobench.quality.validity import interval_calibration

    train = np.random.default_rng(1).normal(size=(300, 2))

    def draw(i):
        r = np.random.default_rng(100 + i)
        return r.normal(size=(300, 2)), r.normal(size=(300, 2)), train

    row = (
        interval_calibration(draw, n_draws=200, n_boot_draws=40, n_boot=50, scores="memorization")
        .set_index("score")
        .loc["memorization"]
    )
    assert 0.7 < row["width_ratio"] < 1.3
    assert 0.75 < row["std_ratio"] < 1.3


def test_fid_infinity_interval_needs_14_d_rows():
    # Below 14 d rows the split halves fit sizes 4 d .. n/2 only (under a factor 1.75 in N) and their
    # intervals measured 1.4-1.65x the fresh spread: the value is reported without an interval.
    from infobench.quality.scores_standard import FID_INF_INTERVAL_MIN_PER_DIM

    d = 8
    rng = np.random.default_rng(11)
    small, big = FID_INF_INTERVAL_MIN_PER_DIM * d - 1, FID_INF_INTERVAL_MIN_PER_DIM * d
    for n, has_interval in ((small, False), (big, True)):
        real, fake = rng.normal(size=(n, d)), rng.normal(size=(n, d))
        row = score_features(real, fake, scores="fid_inf", n_boot=40).set_index("score").loc["fid_inf"]
        assert np.isfinite(row["value"])  # the value is defined from 5 d rows
        assert np.isfinite(row["ci_low"]) == has_interval and np.isfinite(row["ci_high"]) == has_interval
        assert ("no interval" in row["note"]) == (not has_interval)


@pytest.mark.parametrize("seed", [1, 2])
def test_split_interval_of_a_count_contains_its_value(seed):
    # classes_covered moves in a few split replicates only (a rare class missing from one half).
    # Its split deviations are symmetric about the value by construction; centring them on their own
    # mean shifted the interval off the value (these seeds gave [9.9912, 9.99999...] for 10).
    rng = np.random.default_rng(seed)
    labels_r = rng.integers(0, 10, 150)
    labels_f = np.where(rng.random(150) < 0.03, 9, rng.integers(0, 9, 150))
    rp, fp = np.eye(10)[labels_r] * 0.98 + 0.002, np.eye(10)[labels_f] * 0.98 + 0.002
    row = score_features(
        rng.normal(size=(150, 4)),
        rng.normal(size=(150, 4)),
        real_probs=rp,
        fake_probs=fp,
        scores="classes_covered",
        n_boot=40,
        seed=seed,
    ).iloc[0]
    assert row["value"] == 10 and row["ci_low"] <= 10 <= row["ci_high"]


def test_rke_from_the_shared_self_search_equals_rke_alone():
    # With other neighbour scores the generated set's kernel sum comes from its
    # self-search tiles (Context.want_kernel_sum); alone, from its own pass: same keys.
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(300, 40)), rng.normal(size=(300, 40)) + 0.2
    alone = score_features(real, fake, scores=["rke"]).set_index("score")["value"]["rke"]
    shared = score_features(real, fake, scores=["rke", "kl_fake_real", "precision"]).set_index("score")["value"]
    assert shared["rke"] == pytest.approx(alone, rel=1e-12)


def test_subset_moments_equal_the_direct_mean_and_covariance():
    # Small subsets from their own sums, large ones from the whole set minus the complement.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 6)) * 3.0 + 1e4  # a large mean: the shift keeps the precision
    subsets = [np.sort(rng.choice(200, m, replace=False)) for m in (5, 100, 101, 199, 200)]
    for (mu, cov), idx in zip(scores_standard._subset_moments(x, subsets), subsets):
        want_mu, want_cov = scores_standard.mean_cov(x[idx])
        np.testing.assert_allclose(mu, want_mu, rtol=1e-13)
        np.testing.assert_allclose(cov, want_cov, rtol=1e-9, atol=1e-9)


def test_context_ball_counts_of_a_set_in_its_own_balls_match_all_pairs():
    # inside(real, train) with no separate training split is the real set against itself.
    from infobench.estimators._exact_pairs import exact_distances
    from infobench.quality._core import Context

    x = np.random.default_rng(0).normal(size=(50, 4))
    t = torch.as_tensor(x)
    ctx = Context(t, t[:30].clone(), None, None, None, Params(), 0)
    rad = ctx.radii("real").numpy()
    i, j = np.meshgrid(np.arange(50), np.arange(50), indexing="ij")
    pair = exact_distances(x[i.ravel()], x[j.ravel()]).reshape(50, 50)
    np.testing.assert_array_equal(ctx.inside("real", "train").numpy(), (pair < rad[None, :]).sum(1))
