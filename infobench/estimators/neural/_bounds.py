"""Variational bounds of mutual information on a critic-score matrix: pure functions.

Every bound takes ``scores[i, j] = f(x_i, y_j)`` for one batch of ``B`` joint
samples: the diagonal holds the paired samples (draws from ``P_XY``), the
``B (B - 1)`` off-diagonal pairs stand for the product of marginals
``P_X P_Y``. References are listed in :mod:`infobench.estimators.neural`.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

__all__ = [
    "logmeanexp_offdiag",
    "dv_bound",
    "nwj_bound",
    "infonce_bound",
    "js_bound",
    "smile_bound",
    "mine_gradient_surrogate",
    "reported_bound",
]


def _offdiag_count(scores: torch.Tensor) -> int:
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1] or scores.shape[0] < 2:
        raise ValueError(f"scores must be a square (B, B) matrix with B >= 2; got shape {tuple(scores.shape)}")
    return scores.shape[0] * (scores.shape[0] - 1)


def logmeanexp_offdiag(scores: torch.Tensor) -> torch.Tensor:
    """``log mean_{i != j} exp(scores[i, j])``: the log partition term over product-of-marginals pairs.

    The ``B (B - 1)`` off-diagonal pairs ``(x_i, y_j)`` of a batch of ``B``
    joint samples are (dependent) draws from ``P_X P_Y``; using all of them,
    rather than one shuffled pairing, lowers the variance of the partition
    estimate at no extra critic evaluations for a separable critic.
    """
    count = _offdiag_count(scores)
    eye = torch.eye(scores.shape[0], dtype=torch.bool, device=scores.device)
    return torch.logsumexp(scores.masked_fill(eye, float("-inf")).flatten(), dim=0) - math.log(count)


def dv_bound(scores: torch.Tensor) -> torch.Tensor:
    """Donsker–Varadhan bound ``E_P[f] - log E_Q[e^f]`` on one batch.

    The Donsker–Varadhan representation behind [MINE]_ (Sec. 3.1, the neural
    information measure of Definition 3.1), ``I_DV`` of [VBMI]_ Sec. 2.2;
    ``P`` are the diagonal (paired) scores, ``Q``
    the off-diagonal ones. With a finite batch the log of the mean is biased
    upward by Jensen's inequality, so the batch value is not a strict lower
    bound; its variance grows exponentially with the true MI ([SMILE]_).
    """
    _offdiag_count(scores)
    return scores.diagonal().mean() - logmeanexp_offdiag(scores)


def nwj_bound(scores: torch.Tensor) -> torch.Tensor:
    """Nguyen–Wainwright–Jordan bound ``E_P[f] - e^{-1} E_Q[e^f]`` on one batch.

    The f-divergence (convex-dual) representation of KL of [NWJ]_, written as
    ``I_NWJ`` in [VBMI]_ Sec. 2.2 (``I_TUBA`` with ``a(y) = e``, also
    "MINE-f"); its optimal critic is
    ``1 + log p(x, y) / (p(x) p(y))``. Unbiased in the batch (no log of a
    mean) but with variance exponential in the MI.
    """
    _offdiag_count(scores)
    return scores.diagonal().mean() - torch.exp(logmeanexp_offdiag(scores) - 1.0)


def infonce_bound(scores: torch.Tensor) -> torch.Tensor:
    """InfoNCE bound ``log B + mean_i [f(x_i, y_i) - logsumexp_j f(x_i, y_j)]``.

    ``log B`` minus the InfoNCE loss of [CPC]_ (their eq. 4; the bound is
    their Sec. 2.3 and App. A.1), ``I_NCE`` of [VBMI]_ Sec. 2.3, where
    ``I_NCE <= log B`` is shown. Each ``logsumexp`` row includes its own diagonal
    term, so every summand is ``<= 0`` exactly (also in floating point:
    ``logsumexp`` is ``max + log(sum(exp(s - max)))`` with the sum ``>= 1``),
    hence the value can never exceed ``log B`` (as rounded to the scores'
    dtype; the estimators reduce held-out scores in float64): low variance,
    but a bias that becomes severe once the true MI approaches ``log B``.
    """
    _offdiag_count(scores)
    b = scores.shape[0]
    return math.log(b) + (scores.diagonal() - torch.logsumexp(scores, dim=1)).mean()


def js_bound(scores: torch.Tensor) -> torch.Tensor:
    """Jensen–Shannon f-GAN bound ``-E_P[softplus(-f)] - E_Q[softplus(f)]`` on one batch.

    [fGAN]_ (Table 2, the GAN/JS row up to its ``log 4`` constant) as used
    in [SMILE]_ (SMILE and "NWJ (JS)") and [VBMI]_ to *train* the critic: its
    maximiser is the log density ratio ``f* = log p(x, y) / (p(x) p(y))``
    (a logistic classifier of joint against product pairs), which SMILE then
    plugs into a KL estimate. This value is not itself an MI estimate.
    """
    count = _offdiag_count(scores)
    diag = scores.diagonal()
    off = (F.softplus(scores).sum() - F.softplus(diag).sum()) / count
    return -F.softplus(-diag).mean() - off


def smile_bound(scores: torch.Tensor, tau: float = 5.0) -> torch.Tensor:
    """SMILE estimate ``E_P[f] - log E_Q[clip(e^f, e^-tau, e^tau)]`` on one batch.

    ``I_SMILE`` of [SMILE]_: the Donsker–Varadhan estimate with the density
    ratio clipped to ``[e^-tau, e^tau]`` inside the partition term only,
    which bounds its variance at the price of a bias that vanishes as ``tau``
    grows. ``tau = inf`` is :func:`dv_bound`. The bias is upward once the MI
    is large next to ``tau``: with the exact log density ratio as critic,
    clipping from above makes the partition term less than 1. On the 20-d
    Gaussian staircase with batches of 128 the optimal critic reads 2.03,
    4.27, 6.72, 9.32 and 12.02 nats at I = 2, 4, 6, 8, 10
    (``benchmarks/bench_neural.py``, oracle column).
    """
    _offdiag_count(scores)
    clipped = scores.clamp(-tau, tau)
    return scores.diagonal().mean() - logmeanexp_offdiag(clipped)


def mine_gradient_surrogate(scores: torch.Tensor, log_ema: torch.Tensor) -> torch.Tensor:
    """Objective whose gradient is MINE's bias-corrected DV gradient.

    The minibatch gradient of ``log E_Q[e^f]`` is
    ``E_B[∇f e^f] / E_B[e^f]``; its denominator is a biased estimate of
    ``E_Q[e^f]``. [MINE]_ Sec. 3.2 (the corrected gradient ``Ĝ_B``) replaces it by
    an exponential moving average. The surrogate
    ``mean_P(f) - mean_Q(e^f) / ema`` has exactly that gradient when
    ``ema`` is held constant; it is computed as ``exp(logmeanexp - log_ema)``
    so that it cannot overflow. Its *value* is not an MI estimate.

    Parameters
    ----------
    scores : torch.Tensor
        ``(B, B)`` critic scores.
    log_ema : torch.Tensor
        Log of the moving average of ``E_Q[e^f]`` (no gradient flows into it).
    """
    return scores.diagonal().mean() - torch.exp(logmeanexp_offdiag(scores) - log_ema.detach())


def reported_bound(method: str, scores: torch.Tensor, tau: float) -> torch.Tensor:
    """The bound each method *reports* (held-out and in the training curve)."""
    if method == "mine":
        return dv_bound(scores)
    if method == "nwj":
        return nwj_bound(scores)
    if method == "infonce":
        return infonce_bound(scores)
    return smile_bound(scores, tau)
