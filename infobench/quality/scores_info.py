"""Information-theoretic sample-quality scores, in nats.

* Inception-style score ``exp(I(x; y))`` with its parts ``H(y)`` (diversity
  of predicted classes) and ``E_x[H(y | x)]`` (confidence);
* ``KL(p_real(y) || p_gen(y))`` over predicted classes and the number of
  classes covered;
* kNN KL divergence between real and generated features, both directions;
* the kNN (Kozachenko-Leonenko) entropy gap between generated and real
  features;
* the Vendi score of order q and the Renyi kernel entropy (diversity).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from infobench._validation import check_float, check_int
from infobench.quality._core import Context, Outcome, Params, ScoreSpec, TermStat, as_features, register_group, same_dim
from infobench.quality._distances import kernel_sum, knn_cross, knn_self

__all__ = [
    "inception_score",
    "class_kl",
    "classes_covered",
    "knn_entropy",
    "knn_kl",
    "vendi_score",
    "renyi_kernel_entropy",
    "median_distance",
]


# ------------------------------------------------------------------ class-based
def _as_probs(p: Any, name: str, device: Any = "auto") -> torch.Tensor:
    """Validate class probabilities: ``(n, C >= 2)``, non-negative rows summing to 1 (to 1e-6)."""
    t = as_features(p, name, device=device, min_samples=1)
    if t.shape[1] < 2:
        raise ValueError(f"{name} must have one column per class (at least 2); got shape {tuple(t.shape)}")
    if bool((t < 0).any()) or not torch.allclose(t.sum(1), torch.ones_like(t[:, 0]), atol=1e-6):
        raise ValueError(f"{name} must hold probabilities: non-negative rows summing to 1")
    return t


def _inception(probs: torch.Tensor) -> tuple[float, float, float]:
    h_cond = float(torch.special.entr(probs).sum(1).mean())
    h_marg = float(torch.special.entr(probs.mean(0)).sum())
    return math.exp(h_marg - h_cond), h_marg, h_cond


def inception_score(probs: Any) -> dict[str, float]:
    """Inception-style score ``exp(I(x; y)) = exp(H(y) - E_x[H(y | x)])`` (Salimans et al. 2016; Barratt & Sharma 2018).

    ``I(x; y)`` is the mutual information between a sample and the class
    predicted for it: with ``p(y | x_i)`` the classifier's softmax and
    ``p(y) = (1/n) sum_i p(y | x_i)``, ``H(y) = -sum_c p(c) log p(c)`` and
    ``E_x[H(y|x)] = (1/n) sum_i -sum_c p(c|x_i) log p(c|x_i)``. Computed on the
    whole set, without the 10-split average of the original code (which
    mixes sample size into the value; Barratt & Sharma 2018, Sec. 3.2).

    Parameters
    ----------
    probs : array-like (n, C)
        Class probabilities of generated samples.

    Returns
    -------
    dict
        ``score`` (between 1 and C), ``h_marginal`` and ``h_conditional`` in nats.
    """
    s, hm, hc = _inception(_as_probs(probs, "probs"))
    return {"score": s, "h_marginal": hm, "h_conditional": hc}


def _class_kl(real_probs: torch.Tensor, fake_probs: torch.Tensor) -> float:
    pr, pg = real_probs.mean(0), fake_probs.mean(0)
    return float((torch.special.xlogy(pr, pr) - torch.special.xlogy(pr, pg)).sum())


def class_kl(real_probs: Any, fake_probs: Any) -> float:
    """``KL(p_real(y) || p_gen(y))`` in nats between the mean predicted class distributions.

    ``p_real(c) = (1/n) sum_i p(c | x_i)`` over real samples, ``p_gen`` the same
    over generated ones (soft predictions, so a class the generator never
    produces still has a small positive probability and the divergence is
    finite unless a probability underflows to zero, in which case it is
    ``inf``, never clipped).
    """
    r, f = _as_probs(real_probs, "real_probs"), _as_probs(fake_probs, "fake_probs")
    same_dim(r, f, "real_probs", "fake_probs")
    return _class_kl(r, f)


def _covered(real_probs: torch.Tensor, fake_probs: torch.Tensor, ratio: float) -> tuple[int, list[int], list[int]]:
    c = real_probs.shape[1]
    real_counts = torch.bincount(real_probs.argmax(1), minlength=c).to(torch.float64)
    fake_counts = torch.bincount(fake_probs.argmax(1), minlength=c).to(torch.float64)
    real_share = real_counts / real_counts.sum()
    fake_share = fake_counts / fake_counts.sum()
    covered = (real_share > 0) & (fake_share >= ratio * real_share)
    return int(covered.sum()), real_counts.long().tolist(), fake_counts.long().tolist()


def classes_covered(real_probs: Any, fake_probs: Any, *, ratio: float = 0.1) -> int:
    """Number of classes the generator produces at a rate of at least ``ratio`` times the real rate.

    Each sample is assigned its arg-max class. Class ``c`` is covered when
    ``share_gen(c) >= ratio * share_real(c)`` and ``share_real(c) > 0``; the
    threshold keeps a few misclassified samples from counting as a mode.
    """
    r, f = _as_probs(real_probs, "real_probs"), _as_probs(fake_probs, "fake_probs")
    same_dim(r, f, "real_probs", "fake_probs")
    ratio = check_float("ratio", ratio, low=0.0, high=1.0, low_open=True)
    return _covered(r, f, ratio)[0]


# ------------------------------------------------------------------ kNN estimators
def _log_unit_ball(d: int) -> float:
    return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)


def _kl_entropy_const(n: int, d: int, k: int) -> float:
    from scipy.special import digamma

    return float(digamma(n) - digamma(k)) + _log_unit_ball(d)


def knn_entropy(x: Any, *, k: int = 3, device: Any = "auto") -> float:
    """Kozachenko-Leonenko entropy estimate in nats, Euclidean norm.

    ``H = psi(n) - psi(k) + log V_d + (d / n) sum_i log eps_i`` where
    ``eps_i`` is the distance from ``x_i`` to its k-th nearest neighbour and
    ``V_d = pi^{d/2} / Gamma(d/2 + 1)`` the volume of the unit ball
    (Kozachenko & Leonenko 1987; Kraskov et al. 2004, eq. 20). The same
    estimator as ``infobench.entropy(x, "knn")``, computed on the tiled
    neighbour search shared by the quality scores. Exact duplicates give
    ``-inf`` (a distribution with atoms has differential entropy -inf).
    """
    t = as_features(x, "x", device=device)
    k = check_int("k", k, low=1, high=t.shape[0] - 1, context=f" (n={t.shape[0]})")
    eps = knn_self(t, k).dist[:, k - 1]
    return _kl_entropy_const(t.shape[0], t.shape[1], k) + t.shape[1] * float(torch.log(eps).mean())


def _wkv(log_ratio: torch.Tensor, d: int, n: int, m: int) -> TermStat:
    """``d * mean(log(nu / rho)) + log(m / (n - 1))`` over per-row terms ``log_ratio`` (NaN if any is not finite)."""
    const = math.log(m / (n - 1))

    def fn(t: torch.Tensor) -> float:
        if not bool(torch.isfinite(t).all()):
            return float("nan")
        return d * float(t.mean()) + const

    return TermStat((log_ratio,), fn)


def knn_kl(p: Any, q: Any, *, k: int = 3, device: Any = "auto") -> float:
    """kNN estimate of ``D(P || Q)`` in nats (Wang, Kulkarni & Verdu 2009, eq. 5).

    ``D = (d / n) sum_i log(nu_k(i) / rho_k(i)) + log(m / (n - 1))`` with
    ``rho_k(i)`` the distance from ``p_i`` to its k-th nearest neighbour among
    the other ``n - 1`` samples of P and ``nu_k(i)`` to its k-th nearest among
    the ``m`` samples of Q. ``nan`` when a distance is exactly zero (duplicated
    or shared samples: the estimator is undefined there). The scores
    ``kl_real_fake`` / ``kl_fake_real`` apply it at equal sample sizes
    (:func:`_kl_equal_n`): with ``n != m`` its ``log(m / (n - 1))`` term is
    far off for features of lower intrinsic dimension than ``d``.
    """
    a, b = as_features(p, "p", device=device), as_features(q, "q", device=device)
    same_dim(a, b, "p", "q")
    k = check_int("k", k, low=1, high=min(a.shape[0] - 1, b.shape[0]), context=f" (n={a.shape[0]}, m={b.shape[0]})")
    ctx = Context(a, b, None, None, None, Params(k=k, knn_k=k), seed=0)
    return _kl_terms(ctx, "real", "fake").value()


def _kl_terms(ctx: Context, p: str, q: str) -> TermStat:
    k = ctx.params.knn_k
    rho = ctx.self_knn(p).dist[:, k - 1]
    nu = ctx.cross(p, q).dist[:, k - 1]
    return _wkv(torch.log(nu) - torch.log(rho), ctx.real.shape[1], rho.shape[0], ctx.features(q).shape[0])


# ------------------------------------------------------------------ kernels
def _vendi(x: torch.Tensor, q: float) -> float:
    norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    if bool((norms == 0).any()):
        return float("nan")
    xn = (x / norms).cpu().numpy()
    # Nonzero eigenvalues of K/n = Xn Xn^T / n equal those of the d x d matrix Xn^T Xn / n
    # (small dense algebra in numpy: see scores_standard.mean_cov).
    lam = np.linalg.eigvalsh(xn.T @ xn / x.shape[0])
    # Rounding leaves eigenvalues of a PSD matrix at about -1e-16: they are zeros.
    lam = lam[lam > 1e-12 * float(np.abs(lam).max())]
    if q == 1:
        h = float(-(lam * np.log(lam)).sum())
    elif math.isinf(q):
        h = -math.log(float(lam.max()))
    else:
        h = math.log(float((lam**q).sum())) / (1.0 - q)
    return math.exp(h)


def vendi_score(x: Any, *, q: float = 1.0, device: Any = "auto") -> float:
    """Vendi score of order q with the cosine-similarity kernel (Friedman & Dieng 2023; Pasarkar & Dieng 2023).

    ``VS_q = exp(H_q(lambda))`` where ``lambda`` are the eigenvalues of
    ``K / n``, ``K_ij = cos(x_i, x_j)``, and ``H_q`` is the Renyi entropy of
    order q: ``-sum l log l`` for q = 1, ``log(sum l^q) / (1 - q)`` otherwise,
    ``-log max l`` for q = inf. The effective number of distinct samples:
    1 when all are parallel, at most ``min(n, d)``. ``K = X X^T`` with unit
    rows, so its nonzero eigenvalues are those of the ``d x d`` matrix
    ``X^T X``: O(n d^2) time, no ``n x n`` matrix. ``nan`` if a feature
    vector is zero (cosine undefined).
    """
    t = as_features(x, "x", device=device, min_samples=1)
    q = float(q)
    if not q >= 0:
        raise ValueError(f"q must be a number >= 0 (or inf); got {q!r}")
    return _vendi(t, q)


def median_distance(x: torch.Tensor, rng: np.random.Generator, max_rows: int = 1000) -> float:
    """Median Euclidean distance between distinct rows of a seeded subset of at most ``max_rows`` rows."""
    n = x.shape[0]
    if n > max_rows:
        x = x[torch.as_tensor(np.sort(rng.choice(n, max_rows, replace=False)), device=x.device)]
    d = torch.cdist(x, x)
    iu = torch.triu_indices(x.shape[0], x.shape[0], offset=1, device=x.device)
    return float(d[iu[0], iu[1]].median())


def _rke(x: torch.Tensor, bandwidth: float, tile_bytes: int | None) -> float:
    n = x.shape[0]
    # Sum of squared Gaussian-kernel entries exp(-|a-b|^2 / (2 s^2))^2 = exp(-|a-b|^2 / s^2).
    return -math.log(kernel_sum(x, bandwidth, tile_bytes=tile_bytes) / (n * n))


def renyi_kernel_entropy(x: Any, *, bandwidth: float, device: Any = "auto") -> float:
    """Renyi kernel entropy of order 2 in nats (Jalali et al. 2023).

    ``RKE = -log sum_i lambda_i^2 = -log((1/n^2) sum_{i,j} k(x_i, x_j)^2)``
    where ``lambda`` are the eigenvalues of ``K / n`` with the Gaussian kernel
    ``k(a, b) = exp(-|a - b|^2 / (2 bandwidth^2))``. ``exp(RKE)`` is the
    "RKE mode count": about the number of well-separated modes of width
    below ``bandwidth``. The double sum is accumulated in tiles.
    """
    t = as_features(x, "x", device=device, min_samples=1)
    bandwidth = check_float("bandwidth", bandwidth, low=0.0, low_open=True)
    return _rke(t, bandwidth, None)


# ------------------------------------------------------------------ groups
_INCEPTION = [
    ScoreSpec("inception", "IS", "up", "", "information", "probs", "resample", "inception",
              "exp I(x; predicted class): confident and diverse class predictions"),
    ScoreSpec("h_marginal", "H(ŷ)", "up", "nats", "information", "probs", "resample", "inception",
              "entropy of the predicted-class distribution (class diversity)"),
    ScoreSpec("h_conditional", "E H(ŷ|x)", "down", "nats", "information", "probs", "resample", "inception",
              "mean entropy of each sample's class prediction (classifier confidence)"),
]


@register_group("inception", _INCEPTION)
def _group_inception(ctx: Context, names: tuple[str, ...]) -> dict[str, Outcome]:
    s, hm, hc = _inception(ctx.fake_probs)
    vals = {"inception": s, "h_marginal": hm, "h_conditional": hc}
    return {n: Outcome(vals[n], 0, ctx.fake_probs.shape[0]) for n in names}


_CLASSES = [
    ScoreSpec("class_kl", "KL(p_real(ŷ)‖p_gen(ŷ))", "down", "nats", "information", "probs", "resample", "classes",
              "divergence of predicted-class frequencies (class imbalance, missing classes)"),
    ScoreSpec("classes_covered", "classes", "up", "count", "information", "probs", "resample", "classes",
              "number of classes generated at >= coverage_ratio of their real rate"),
]


@register_group("classes", _CLASSES)
def _group_classes(ctx: Context, names: tuple[str, ...]) -> dict[str, Outcome]:
    n_r, n_f = ctx.real_probs.shape[0], ctx.fake_probs.shape[0]
    out = {}
    if "class_kl" in names:
        out["class_kl"] = Outcome(_class_kl(ctx.real_probs, ctx.fake_probs), n_r, n_f)
    if "classes_covered" in names:
        cov, rc, fc = _covered(ctx.real_probs, ctx.fake_probs, ctx.params.coverage_ratio)
        out["classes_covered"] = Outcome(
            float(cov), n_r, n_f, extras={"num_classes": ctx.real_probs.shape[1], "real_counts": rc, "fake_counts": fc}
        )
    return out


_KL = [
    ScoreSpec("kl_real_fake", "KL(real‖gen)", "down", "nats", "information", "features", "terms", "knn_kl",
              "kNN KL divergence of real from generated features at equal n (missing modes)"),
    ScoreSpec("kl_fake_real", "KL(gen‖real)", "down", "nats", "information", "features", "terms", "knn_kl",
              "kNN KL divergence of generated from real features at equal n (off-manifold samples)"),
]
_UNDEFINED = "undefined: some samples coincide exactly (zero kNN distance), see memorization"


def _equal_chunks(x: torch.Tensor, n: int, rng: np.random.Generator) -> list[torch.Tensor]:
    """``x`` itself when it has ``n`` rows, else ``len(x) // n`` disjoint random chunks of ``n`` rows."""
    if x.shape[0] == n:
        return [x]
    perm = torch.as_tensor(rng.permutation(x.shape[0]), device=x.device)
    return [x[perm[i * n:(i + 1) * n]] for i in range(x.shape[0] // n)]


def _kl_equal_n(ctx: Context, p: str, q: str) -> tuple[TermStat, int, int]:
    """WKV ``D(P || Q)`` with both samples at the size ``n`` of the smaller one.

    The larger set is cut into ``len // n`` disjoint random chunks of ``n``
    rows (the ``len mod n`` rows left over are not used) and the estimate
    averages over them, so the sample-size term ``log(m / (n - 1))`` is
    ``log(n / (n - 1))``. At
    unequal sizes that term assumes that neighbour distances shrink like
    ``size^(-1/d)`` with the ambient ``d``; features that fill a
    lower-dimensional set shrink faster, and ``d log(nu / rho)`` then swamps
    it. Measured on the digits classifier's 64-d features: two disjoint
    draws of the *same* training features, 359 against 1,079 rows, read
    -11.8 and +11.8 nats; at 359 against 359 rows -0.35 and -0.41.

    Returns the terms (one per row of P: for a chunked P, its rows' own
    terms; for a chunked Q, each P row's ``log nu - log rho`` averaged over
    the Q chunks), ``n`` and the number of chunks.
    """
    big_p, big_q = ctx.features(p), ctx.features(q)
    n = min(big_p.shape[0], big_q.shape[0])
    if big_p.shape[0] == big_q.shape[0]:
        return _kl_terms(ctx, p, q), n, 1
    k, tile = ctx.params.knn_k, ctx.params.tile_bytes
    rng = ctx.rng(f"knn_kl:{p}|{q}")
    ps, qs = _equal_chunks(big_p, n, rng), _equal_chunks(big_q, n, rng)
    parts = []
    for pc in ps:
        log_rho = torch.log(knn_self(pc, k, tile_bytes=tile).dist[:, k - 1])
        log_nu = torch.stack([torch.log(knn_cross(pc, qc, k, tile_bytes=tile).dist[:, k - 1]) for qc in qs])
        parts.append(log_nu.mean(0) - log_rho)
    return _wkv(torch.cat(parts), big_p.shape[1], n, n), n, max(len(ps), len(qs))


@register_group("knn_kl", _KL)
def _group_kl(ctx: Context, names: tuple[str, ...]) -> dict[str, Outcome]:
    out = {}
    for name, (p, q) in (("kl_real_fake", ("real", "fake")), ("kl_fake_real", ("fake", "real"))):
        if name in names:
            t, n, chunks = _kl_equal_n(ctx, p, q)
            v = t.value()
            out[name] = Outcome(v, ctx.real.shape[0], ctx.fake.shape[0], terms=t,
                                extras={"k": ctx.params.knn_k, "n_per_side": n, "chunks": chunks},
                                note=_UNDEFINED if math.isnan(v) else "")
    return out


_ENTROPY = [
    ScoreSpec("entropy_gap", "H(gen)−H(real)", "zero", "nats", "information", "features", "terms", "knn_entropy",
              "kNN entropy of generated minus held-out real features at equal n (<0: less diverse, >0: noisier)"),
]


@register_group("knn_entropy", _ENTROPY)
def _group_entropy(ctx: Context, names: tuple[str, ...]) -> dict[str, Outcome]:
    """``H(gen) - H(real)`` at equal n, the real side being held-out data when the context has it.

    A classifier's features of its own training data are more concentrated
    than those of unseen data (about 5 nats lower entropy for the digits
    CNN), so the reference set would put the zero of the gap in the wrong
    place; features of the held-out split do not have that offset.
    """
    k = ctx.params.knn_k
    base = ctx.features("heldout")
    n = min(base.shape[0], ctx.fake.shape[0])
    rng = ctx.rng("entropy_gap")
    logs = []
    for which in ("fake", "heldout"):
        x = ctx.features(which)
        if x.shape[0] > n:
            # Equal sample sizes: the estimator's finite-n bias then cancels in the gap.
            x = x[torch.as_tensor(np.sort(rng.choice(x.shape[0], n, replace=False)), device=x.device)]
            eps = knn_self(x, k, tile_bytes=ctx.params.tile_bytes).dist[:, k - 1]
        else:
            eps = ctx.self_knn(which).dist[:, k - 1]
        logs.append(torch.log(eps))
    d = ctx.real.shape[1]
    const = _kl_entropy_const(n, d, k)
    terms = TermStat(tuple(logs), lambda f, r: d * (float(f.mean()) - float(r.mean())))
    h_fake, h_real = (const + d * float(t.mean()) for t in logs)
    note = ""
    if not (math.isfinite(h_fake) and math.isfinite(h_real)):
        note = "exact duplicates: a set with atoms has differential entropy -inf"
    real_side = "held-out" if ctx.heldout is not None else "reference"
    return {"entropy_gap": Outcome(terms.value(), n, n, terms=terms,
                                   extras={"h_fake": h_fake, "h_real": h_real, "real_side": real_side, "k": k},
                                   note=note)}


_DIVERSITY = [
    ScoreSpec("vendi", "Vendi", "up", "count", "information", "features", "resample", "vendi",
              "effective number of distinct generated samples (cosine kernel, order q)"),
    ScoreSpec("rke", "RKE", "up", "nats", "information", "features", "resample", "rke",
              "Renyi-2 kernel entropy of generated features (Gaussian kernel; exp = mode count)"),
]


@register_group("vendi", _DIVERSITY[:1])
def _group_vendi(ctx: Context, names: tuple[str, ...]) -> dict[str, Outcome]:
    v = _vendi(ctx.fake, ctx.params.vendi_q)
    note = "undefined: a feature vector is zero (cosine kernel)" if math.isnan(v) else ""
    return {"vendi": Outcome(v, 0, ctx.fake.shape[0], extras={"q": ctx.params.vendi_q}, note=note)}


@register_group("rke", _DIVERSITY[1:])
def _group_rke(ctx: Context, names: tuple[str, ...]) -> dict[str, Outcome]:
    bw = ctx.params.rke_bandwidth
    if bw is None:
        bw = ctx.shared.get("rke_bandwidth")
        if bw is None:
            bw = ctx.shared["rke_bandwidth"] = median_distance(ctx.real, ctx.rng("rke_bandwidth"))
    return {"rke": Outcome(_rke(ctx.fake, bw, ctx.params.tile_bytes), ctx.real.shape[0], ctx.fake.shape[0],
                           extras={"bandwidth": bw})}
