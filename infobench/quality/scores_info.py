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
from functools import partial
from typing import Any

import numpy as np
import torch

from infobench._validation import check_float
from infobench.estimators.engine import exact_kneighbors, gaussian_kernel_sum
from infobench.estimators.knn import knn_entropy as knn_entropy_estimate
from infobench.estimators.knn import knn_kl_divergence
from infobench.estimators.terms import knn_entropy_terms, wkv_kl_terms
from infobench.quality._conditions import DENSITY_CONDITIONS, effective_dim
from infobench.quality._core import (
    Context,
    Outcome,
    ScoreSpec,
    as_features,
    declare_param,
    neighbor_need,
    register_group,
    rows_digest,
    same_dim,
)
from infobench.quality._linalg import SINGLE_PRECISION, symmetric_eigenvalues

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
def as_probs(p: Any, name: str, device: Any = "auto") -> torch.Tensor:
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
    s, hm, hc = _inception(as_probs(probs, "probs"))
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
    r, f = as_probs(real_probs, "real_probs"), as_probs(fake_probs, "fake_probs")
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
    r, f = as_probs(real_probs, "real_probs"), as_probs(fake_probs, "fake_probs")
    same_dim(r, f, "real_probs", "fake_probs")
    ratio = check_float("ratio", ratio, low=0.0, high=1.0, low_open=True)
    return _covered(r, f, ratio)[0]


# ------------------------------------------------------------------ kNN estimators
def knn_entropy(x: Any, *, k: int = 3, device: Any = "auto") -> float:
    """Kozachenko-Leonenko entropy estimate in nats, Euclidean norm.

    ``infobench.entropy(x, "knn", k=k, jitter=0, transform="none").value``
    (:func:`infobench.estimators.knn.knn_entropy`, Kraskov et al. 2004,
    eq. 20): the one implementation, in the feature space's own Euclidean
    geometry (no per-column rescaling, as every other quality score; the
    estimators' default ``transform="scale"`` would reweight the feature
    axes). Exact duplicate rows raise its
    ``ValueError`` (a zero neighbour distance; a distribution with atoms has
    no finite differential entropy).
    """
    return knn_entropy_estimate(x, k=k, jitter=0, device=device, transform="none").value


def knn_kl(p: Any, q: Any, *, k: int = 3, device: Any = "auto") -> float:
    """kNN estimate of ``D(P || Q)`` in nats (Wang, Kulkarni & Verdu 2009, eq. 5).

    ``infobench.kl_divergence(p, q, "knn", k=k, jitter=0, transform="none").value``
    (:func:`infobench.estimators.knn.knn_kl_divergence`): the one
    implementation, in the feature space's own geometry. Rows shared by P and Q or repeated in P (a zero
    neighbour distance) raise its ``ValueError``. The scores
    ``kl_real_fake`` / ``kl_fake_real`` apply the same per-point terms
    (:func:`infobench.estimators.terms.wkv_kl_terms`) at equal sample sizes:
    with ``n != m`` the ``log(m / (n - 1))`` term is far off for features of
    lower intrinsic dimension than ``d``. Measured on the digits classifier's
    64-d features: two disjoint draws of the *same* training features, 359
    against 1,079 rows, read -11.8 and +11.8 nats; at 359 against 359 rows
    -0.35 and -0.41.
    """
    return knn_kl_divergence(p, q, k=k, jitter=0, device=device, transform="none").value


def _kl_value(ctx: Context, p: str, q: str) -> float:
    """WKV ``D(P || Q)`` from the context's exact neighbour distances; NaN when a distance is 0."""
    k = ctx.params.knn_k
    rho = ctx.self_knn(p).dist[:, k - 1]
    nu = ctx.cross(p, q).dist[:, k - 1]
    if bool((rho <= 0).any() or (nu <= 0).any()):
        return float("nan")
    n, m = rho.shape[0], ctx.features(q).shape[0]
    return float(wkv_kl_terms(torch.log(nu), torch.log(rho), n, m, effective_dim(ctx)).mean())


# ------------------------------------------------------------------ kernels
def _vendi_terms(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(Xn^T Xn, number of zero rows)`` of the rows of ``a`` scaled to unit length (zero rows left out)."""
    norms = np.sqrt((a * a).sum(1))
    zero = norms == 0
    xn = a[~zero] / norms[~zero, None]
    return xn.T @ xn, np.array(float(zero.sum()))


def _vendi_from_gram(gram: np.ndarray, zeros: float, n: int, q: float, single: bool = False) -> float:
    """Vendi score of order q from ``Xn^T Xn`` of ``n`` unit rows (nan when a row was zero: cosine undefined).

    ``single``: the eigenvalues in float32 (the halves of split replicates, see infobench.quality._linalg).
    """
    if zeros > 0:
        return float("nan")
    # Nonzero eigenvalues of K/n = Xn Xn^T / n equal those of the d x d matrix Xn^T Xn / n
    # (small dense algebra in numpy: see scores_standard.mean_cov).
    lam = symmetric_eigenvalues(gram / n, single)
    # Rounding leaves eigenvalues of a PSD matrix at about -1e-16: they are zeros.
    lam = lam[lam > 1e-12 * float(np.abs(lam).max())]
    if q == 1:
        h = float(-(lam * np.log(lam)).sum())
    elif math.isinf(q):
        h = -math.log(float(lam.max()))
    else:
        h = math.log(float((lam**q).sum())) / (1.0 - q)
    return math.exp(h)


def _vendi(x: torch.Tensor, q: float) -> float:
    gram, zeros = _vendi_terms(x.detach().to(torch.float64).cpu().numpy())
    return _vendi_from_gram(gram, float(zeros), x.shape[0], q)


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


def median_distance(
    x: torch.Tensor, rng: np.random.Generator, max_rows: int = 1000, rows: np.ndarray | None = None
) -> float:
    """Median Euclidean distance between distinct rows of a seeded subset of at most ``max_rows`` rows.

    The lower median of the ``m (m - 1) / 2`` pairwise distances (as
    ``torch.median``), from squared distances ``|a|^2 + |b|^2 - 2 a.b`` in
    float64 (as ``torch.cdist`` computes them for more than 25 rows).
    ``rows`` (increasing): of ``x[rows]`` instead (the same value, without
    the copy of the rows not drawn).
    """
    rows = np.arange(x.shape[0]) if rows is None else np.asarray(rows)
    n = rows.shape[0]
    if n > max_rows:
        rows = rows[np.sort(rng.choice(n, max_rows, replace=False))]
    m = rows.shape[0]
    if m < 2:
        return float("nan")
    if x.device.type == "cpu":
        # numpy: torch's thread pool makes many small calls slow on a busy machine (see scores_standard.mean_cov)
        a = x[torch.as_tensor(rows)].detach().to(torch.float64).numpy()
        sq = (a * a).sum(1)
        d2 = sq[:, None] + sq[None, :] - 2.0 * (a @ a.T)
        # The full matrix holds every pair twice after the m diagonal entries (set to -inf):
        # the pair of rank r sits at m + 2 r.
        np.fill_diagonal(d2, -np.inf)
        kth = m + 2 * ((m * (m - 1) // 2 - 1) // 2)
        return math.sqrt(max(float(np.partition(d2.ravel(), kth)[kth]), 0.0))
    t = x[torch.as_tensor(rows, device=x.device)].to(torch.float64)
    tsq = (t * t).sum(1)
    td2 = tsq[:, None] + tsq[None, :] - 2.0 * (t @ t.T)
    iu = torch.triu_indices(m, m, offset=1, device=x.device)
    vals = td2[iu[0], iu[1]]
    return math.sqrt(max(float(torch.kthvalue(vals, (vals.numel() - 1) // 2 + 1).values), 0.0))


def _rke(x: torch.Tensor, bandwidth: float, max_memory: int | None) -> float:
    n = x.shape[0]
    # Sum of squared Gaussian-kernel entries exp(-|a-b|^2 / (2 s^2))^2 = exp(-|a-b|^2 / s^2).
    return -math.log(gaussian_kernel_sum(x, bandwidth, max_memory=max_memory) / (n * n))


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
    ScoreSpec(
        name="inception",
        label="IS",
        direction="up",
        unit="",
        family="information",
        needs="probs",
        bootstrap="split",
        group="inception",
        summary="exp I(x; predicted class): confident and diverse class predictions",
        value_range=(1.0, math.inf),
    ),
    ScoreSpec(
        name="h_marginal",
        label="H(ŷ)",
        direction="up",
        unit="nats",
        family="information",
        needs="probs",
        bootstrap="split",
        group="inception",
        summary="entropy of the predicted-class distribution (class diversity)",
    ),
    ScoreSpec(
        name="h_conditional",
        label="E H(ŷ|x)",
        direction="down",
        unit="nats",
        family="information",
        needs="probs",
        bootstrap="split",
        group="inception",
        summary="mean entropy of each sample's class prediction (classifier confidence)",
    ),
]


@register_group("inception", _INCEPTION)
def _group_inception(ctx: Context, names: tuple[str, ...]) -> dict[str, Outcome]:
    s, hm, hc = _inception(ctx.fake_probs)
    vals = {"inception": s, "h_marginal": hm, "h_conditional": hc}
    return {n: Outcome(vals[n], 0, ctx.fake_probs.shape[0]) for n in names}


declare_param(
    "coverage_ratio",
    0.1,
    check=partial(check_float, low=0.0, high=1.0, low_open=True),
    doc="a class is covered when its share of generated predictions is at least this fraction of its "
    "share of real predictions",
)
_CLASSES = [
    ScoreSpec(
        name="class_kl",
        label="KL(p_real(ŷ)‖p_gen(ŷ))",
        direction="down",
        unit="nats",
        family="information",
        needs="probs",
        bootstrap="split",
        group="classes",
        summary="divergence of predicted-class frequencies (class imbalance, missing classes)",
    ),
    ScoreSpec(
        name="classes_covered",
        label="classes",
        direction="up",
        unit="count",
        family="information",
        needs="probs",
        bootstrap="split",
        group="classes",
        summary="number of classes generated at >= coverage_ratio of their real rate",
        value_range=(0.0, math.inf),
        params=("coverage_ratio",),
    ),
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
    ScoreSpec(
        name="kl_real_fake",
        label="KL(real‖gen)",
        direction="down",
        unit="nats",
        family="information",
        needs="features",
        bootstrap="subsample",
        group="knn_kl",
        summary="kNN KL divergence of real from generated features at equal n (missing modes)",
        size_dependent=True,
        size_need=neighbor_need,
        params=("knn_k",),
        conditions=(*DENSITY_CONDITIONS, "below-zero"),
    ),
    ScoreSpec(
        name="kl_fake_real",
        label="KL(gen‖real)",
        direction="down",
        unit="nats",
        family="information",
        needs="features",
        bootstrap="subsample",
        group="knn_kl",
        summary="kNN KL divergence of generated from real features at equal n (off-manifold samples)",
        size_dependent=True,
        size_need=neighbor_need,
        params=("knn_k",),
        conditions=(*DENSITY_CONDITIONS, "below-zero"),
    ),
]
_UNDEFINED = "undefined: some samples coincide exactly (zero kNN distance), see memorization"


@register_group("knn_kl", _KL)
def _group_kl(ctx: Context, names: tuple[str, ...]) -> dict[str, Outcome]:
    """Both kNN KL directions on one equal-size pair (the equal-size rule chunks the larger set)."""
    out = {}
    for name, (p, q) in (("kl_real_fake", ("real", "fake")), ("kl_fake_real", ("fake", "real"))):
        if name in names:
            v = _kl_value(ctx, p, q)
            out[name] = Outcome(
                v,
                ctx.real.shape[0],
                ctx.fake.shape[0],
                extras={"k": ctx.params.knn_k},
                note=_UNDEFINED if math.isnan(v) else "",
            )
    return out


_ENTROPY = [
    ScoreSpec(
        name="entropy_gap",
        label="H(gen)−H(real)",
        direction="zero",
        unit="nats",
        family="information",
        needs="features",
        bootstrap="subsample",
        group="knn_entropy",
        summary="kNN entropy of generated minus held-out real features at equal n (<0: less diverse, >0: noisier)",
        size_need=neighbor_need,
        params=("knn_k",),
        conditions=DENSITY_CONDITIONS,
    ),
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
            eps = exact_kneighbors(x, k, max_memory=ctx.params.max_memory).dist[:, k - 1]
        else:
            eps = ctx.self_knn(which).dist[:, k - 1]
        logs.append(torch.log(eps))
    d = effective_dim(ctx)
    h_fake, h_real = (float(knn_entropy_terms(t, n, d, k).mean()) for t in logs)
    note = ""
    if not (math.isfinite(h_fake) and math.isfinite(h_real)):
        note = "exact duplicates: a set with atoms has differential entropy -inf"
    real_side = "held-out" if ctx.heldout is not None else "reference"
    gap = d * (float(logs[0].mean()) - float(logs[1].mean()))
    return {
        "entropy_gap": Outcome(
            gap, n, n, extras={"h_fake": h_fake, "h_real": h_real, "real_side": real_side, "k": k}, note=note
        )
    }


def _check_order(name: str, q: Any) -> None:
    """A Renyi order: a number >= 0, ``inf`` allowed."""
    if not (isinstance(q, (int, float)) and not isinstance(q, bool)):
        raise TypeError(f"{name} must be a number >= 0 (or inf); got {q!r}")
    if not (q >= 0) or math.isnan(q):
        raise ValueError(f"{name} must be a number >= 0 (or inf); got {q!r}")


declare_param("vendi_q", 1.0, check=_check_order, cli=float, doc="order q of the Vendi score (1: Shannon; inf allowed)")
declare_param(
    "rke_bandwidth",
    None,
    check=partial(check_float, low=0.0, low_open=True),
    doc="Gaussian kernel width of the Renyi kernel entropy (None: the median distance between real features)",
)
_DIVERSITY = [
    ScoreSpec(
        name="vendi",
        label="Vendi",
        direction="up",
        unit="count",
        family="information",
        needs="features",
        bootstrap="split",
        group="vendi",
        summary="effective number of distinct generated samples (cosine kernel, order q)",
        value_range=(1.0, math.inf),
        params=("vendi_q",),
        conditions=("collapsed-set", "copied-rows"),
    ),
    ScoreSpec(
        name="rke",
        label="RKE",
        direction="up",
        unit="nats",
        family="information",
        needs="features",
        bootstrap="split",
        group="rke",
        summary="Renyi-2 kernel entropy of generated features (Gaussian kernel; exp = mode count)",
        params=("rke_bandwidth",),
        conditions=("collapsed-set", "copied-rows"),
    ),
]


@register_group("vendi", _DIVERSITY[:1])
def _group_vendi(ctx: Context, names: tuple[str, ...]) -> dict[str, Outcome]:
    # the Gram of the unit rows from sums shared with the root's replicates (Context.row_sums)
    gram, zeros = ctx.row_sums("fake", "vendi", _vendi_terms)
    single = ctx.cache.get(SINGLE_PRECISION, False)
    v = _vendi_from_gram(gram, float(zeros), ctx.fake.shape[0], ctx.params.vendi_q, single)
    note = "undefined: a feature vector is zero (cosine kernel)" if math.isnan(v) else ""
    return {"vendi": Outcome(v, 0, ctx.fake.shape[0], extras={"q": ctx.params.vendi_q}, note=note)}


def _rke_bandwidth(ctx: Context, real_rows: np.ndarray | None = None) -> float:
    """The kernel width: ``rke_bandwidth``, or the median distance between this context's real rows.

    From the context's own real set, so that the intervals include the
    variability of the median heuristic (a fixed width made them half as wide).
    ``real_rows``: of the context on those rows of ``ctx``'s real set
    instead (a split replicate's), the same value; each is computed once per
    root context.
    """
    bw = ctx.params.rke_bandwidth
    if bw is not None:
        return bw
    rows = ctx.root_index("real") if real_rows is None else ctx.root_index("real")[real_rows]
    table = ctx.shared.setdefault("rke_bandwidth", {})
    key = rows_digest(rows)
    if key not in table:
        table[key] = median_distance(ctx.real, ctx.rng("rke_bandwidth"), rows=real_rows)
    return table[key]


def _prepare_rke(ctx: Context) -> None:
    # the generated set's self-search (kNN KL, entropy, PRDC) then gives the kernel sum from its own tiles
    ctx.want_kernel_sum("fake", _rke_bandwidth(ctx))


def _plan_rke(ctx: Context, subsets: list[tuple[np.ndarray, np.ndarray]]) -> None:
    # every half of the split replicates: its kernel sum from the same tiles, at its own width
    for real_rows, fake_rows in subsets:
        ctx.want_kernel_sum("fake", _rke_bandwidth(ctx, real_rows), rows=fake_rows)


@register_group("rke", _DIVERSITY[1:], prepare=_prepare_rke, plan_split=_plan_rke)
def _group_rke(ctx: Context, names: tuple[str, ...]) -> dict[str, Outcome]:
    bw = _rke_bandwidth(ctx)
    n = ctx.fake.shape[0]
    value = -math.log(ctx.kernel_sum("fake", bw) / (n * n))
    return {"rke": Outcome(value, ctx.real.shape[0], n, extras={"bandwidth": bw})}
