"""Neural (variational) estimators of mutual information: MINE, NWJ, InfoNCE, SMILE.

Each method trains a *critic* ``f(x, y)`` by stochastic gradient ascent on a
variational bound of ``I(X; Y) = KL(P_XY || P_X P_Y)`` and then reports the
bound evaluated on a **held-out** test split. Training rows never enter the
reported number; test rows never enter training, early stopping or any other
choice (early stopping watches a validation part of the *training* rows), so
the estimate is not inflated by selecting the best of many test evaluations.

Layout
------
* bounds on a critic-score matrix ``scores[i, j] = f(x_i, y_j)`` (the diagonal
  holds the paired samples, the off-diagonal the product of marginals):
  :func:`dv_bound`, :func:`nwj_bound`, :func:`infonce_bound`,
  :func:`js_bound`, :func:`smile_bound`, :func:`mine_gradient_surrogate`;
* critics: :class:`SeparableCritic` (``g(x)ᵀ h(y)``) and :class:`JointCritic`
  (an MLP on ``[x, y]``), built by :func:`build_critic`;
* :class:`NeuralConfig`: every hyperparameter and its default, in one place;
* :func:`neural_mutual_information`: split, standardize, train, evaluate;
* the registered kernels :func:`mine`, :func:`nwj`, :func:`infonce` and
  :func:`smile` (``infobench.mutual_information(x, y, method="smile")``),
  whose keyword parameters are the fields of :class:`NeuralConfig` plus the
  common ``std_err``, ``seed``, ``device``, ``dtype`` and ``progress``.

References
----------
.. [MINE] Belghazi, M. I. et al. (2018). Mutual Information Neural
   Estimation. ICML. arXiv:1801.04062.
.. [NWJ] Nguyen, X., Wainwright, M. J., Jordan, M. I. (2010). Estimating
   divergence functionals and the likelihood ratio by convex risk
   minimization. IEEE Trans. Inf. Theory 56(11).
.. [CPC] van den Oord, A., Li, Y., Vinyals, O. (2018). Representation
   Learning with Contrastive Predictive Coding. arXiv:1807.03748.
.. [VBMI] Poole, B. et al. (2019). On Variational Bounds of Mutual
   Information. ICML. arXiv:1905.06922.
.. [SMILE] Song, J., Ermon, S. (2020). Understanding the Limitations of
   Variational Mutual Information Estimators. ICLR. arXiv:1910.06222.
.. [fGAN] Nowozin, S., Cseke, B., Tomioka, R. (2016). f-GAN: Training
   Generative Neural Samplers using Variational Divergence Minimization. NeurIPS.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import math
import numbers
import textwrap
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from infobench.diagnostics import InfobenchWarning
from infobench._validation import (
    as_generator,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_pair,
    resolve_dtype,
    spawn_seeds,
)
from infobench.estimators.base import Estimate, register

__all__ = [
    "METHODS",
    "NeuralConfig",
    "JointCritic",
    "SeparableCritic",
    "TrainingDivergedError",
    "TrainingUnstableWarning",
    "EstimateNearCeilingWarning",
    "build_critic",
    "logmeanexp_offdiag",
    "dv_bound",
    "nwj_bound",
    "infonce_bound",
    "js_bound",
    "smile_bound",
    "mine_gradient_surrogate",
    "neural_mutual_information",
    "mine",
    "nwj",
    "infonce",
    "smile",
]

METHODS = ("mine", "nwj", "infonce", "smile")
CRITICS = ("separable", "joint")
LR_SCHEDULES = ("cosine", "constant")
ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}
# Fields of NeuralConfig that only one method reads; the other kernels do not
# accept them (so ``method="nwj", tau=3`` is rejected instead of ignored).
_METHOD_ONLY = {"ema_rate": "mine", "tau": "smile"}
# Training-signal bookkeeping (NaN check, early stopping, progress) happens
# once per block of steps: one device sync per block instead of per step.
_BLOCK = 50
# An InfoNCE estimate this close to its ceiling log(batch) says little about
# the true MI, which may be far larger.
_CEILING_MARGIN = 0.05
# What a constant critic scores on each method's training objective: 0 for the
# DV, NWJ (at f = 1) and InfoNCE bounds, -log 4 for SMILE's Jensen-Shannon
# objective (at f = 0). Every trained critic can reach it, so one that reads
# far below it on rows it was not fitted to is broken, not merely poor.
_CONSTANT_CRITIC = {"mine": 0.0, "nwj": 0.0, "infonce": 0.0, "smile": -math.log(4.0)}
# Nats below those values (and, for the held-out estimate, also 3 standard
# errors) beyond which the run is refused as diverged. The diverged runs of
# issue 15 read 1e2 to 1e17 nats off; healthy runs on independent data read
# within 0.1 nat of 0 (tests/test_neural.py).
_DIVERGED_MARGIN = 1.0
# A training-batch or validation objective this many times max(1, |final
# objective|) nats below the constant critic's value, although the evaluated
# critic recovered, is reported as unstable training.
_EXCURSION_FACTOR = 10.0


class TrainingDivergedError(ValueError):
    """Training diverged; no estimate is returned (usually: learning rate too high).

    Raised when the training objective becomes NaN or infinite, when the
    held-out estimate is not finite, and when the evaluated critic scores far
    below a constant critic, on its validation objective or on the held-out
    bound, which a trained critic can only do when its optimisation has
    blown up (see :func:`neural_mutual_information`).
    """


class TrainingUnstableWarning(InfobenchWarning):
    """The training curves had a large excursion, although the evaluated critic looks sane.

    The best-validation critic is still evaluated and its estimate returned,
    but the run came close to diverging and the estimate is likely low: lower
    the learning rate.
    """


class EstimateNearCeilingWarning(InfobenchWarning):
    """An InfoNCE estimate close to log(batch size), the most it can report."""


# ===================================================================== bounds
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


def _eval_bound(method: str, scores: torch.Tensor, tau: float) -> torch.Tensor:
    """The bound each method *reports* (held-out and in the training curve)."""
    if method == "mine":
        return dv_bound(scores)
    if method == "nwj":
        return nwj_bound(scores)
    if method == "infonce":
        return infonce_bound(scores)
    return smile_bound(scores, tau)


# ==================================================================== critics
def _linear(fan_in: int, fan_out: int, gen: torch.Generator, *, bias: bool = True, init_fan_in: int | None = None
            ) -> nn.Linear:
    # PyTorch's default Linear init (kaiming_uniform with a=sqrt(5), which is
    # U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases), drawn from
    # our own generator; skip_init keeps nn.Linear from also drawing from (and
    # advancing) the global RNG.
    layer = torch.nn.utils.skip_init(nn.Linear, fan_in, fan_out, bias=bias)
    bound = 1.0 / math.sqrt(init_fan_in or fan_in)
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=gen)
        if layer.bias is not None:
            layer.bias.uniform_(-bound, bound, generator=gen)
    return layer


def _mlp(widths: list[int], activation: str, gen: torch.Generator) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(_linear(a, b, gen))
        if i < len(widths) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class SeparableCritic(nn.Module):
    """Separable critic ``f(x, y) = g(x)ᵀ h(y)`` with two MLPs ([VBMI]_ Sec. 4, [CPC]_).

    One batch of ``B`` pairs costs ``2 B`` network evaluations for all
    ``B²`` scores, so it is the cheap default. It represents critics of the
    form ``sum_k g_k(x) h_k(y)`` (``embed_dim`` terms), which include the log
    density ratio of jointly Gaussian pairs (a quadratic form), up to how
    well the MLPs approximate its factors.
    """

    def __init__(self, dim_x: int, dim_y: int, hidden: tuple[int, ...], embed_dim: int, activation: str,
                 gen: torch.Generator):
        super().__init__()
        self.g = _mlp([dim_x, *hidden, embed_dim], activation, gen)
        self.h = _mlp([dim_y, *hidden, embed_dim], activation, gen)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Scores ``(len(x), len(y))`` with ``[i, j] = f(x_i, y_j)``."""
        return self.g(x) @ self.h(y).T


class JointCritic(nn.Module):
    """Joint (concatenation) critic ``f(x, y) = MLP([x, y])`` ([MINE]_, [VBMI]_ Sec. 4).

    The most flexible critic: ``B²`` network evaluations per batch. The first
    layer ``W [x; y] + b`` is applied as ``W_x x + b`` and ``W_y y`` separately
    and broadcast over pairs (the same function, initialised as one layer with
    ``fan_in = dim_x + dim_y``), which removes that layer's ``B²`` matmul.
    """

    # Pairs evaluated at once outside autograd, to bound memory on big batches.
    _CHUNK_PAIRS = 1 << 16

    def __init__(self, dim_x: int, dim_y: int, hidden: tuple[int, ...], activation: str, gen: torch.Generator):
        super().__init__()
        fan_in = dim_x + dim_y
        self.first_x = _linear(dim_x, hidden[0], gen, init_fan_in=fan_in)
        self.first_y = _linear(dim_y, hidden[0], gen, bias=False, init_fan_in=fan_in)
        self.act = ACTIVATIONS[activation]()
        self.rest = _mlp([*hidden, 1], activation, gen)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Scores ``(len(x), len(y))`` with ``[i, j] = f(x_i, y_j)``."""
        hx = self.first_x(x)
        hy = self.first_y(y)
        rows = len(x) if torch.is_grad_enabled() else max(1, self._CHUNK_PAIRS // max(1, len(y)))
        out = [self.rest(self.act(hx[i:i + rows, None, :] + hy[None, :, :])).squeeze(-1)
               for i in range(0, len(x), rows)]
        return torch.cat(out, dim=0)


def build_critic(critic: str, dim_x: int, dim_y: int, *, hidden=(256, 256), embed_dim: int = 32,
                 activation: str = "silu", seed: Any = 0) -> nn.Module:
    """Build a critic on the CPU with a deterministic initialisation.

    Parameters
    ----------
    critic : {"separable", "joint"}
        :class:`SeparableCritic` or :class:`JointCritic`.
    dim_x, dim_y : int
        Input dimensions.
    hidden, embed_dim, activation
        As in :class:`NeuralConfig`.
    seed : int, Generator or None
        Seeds the weights (drawn from a private ``torch.Generator``).

    Returns
    -------
    torch.nn.Module
        ``module(x, y)`` returns the ``(len(x), len(y))`` score matrix.
    """
    check_choice("critic", critic, CRITICS)
    check_int("dim_x", dim_x, low=1)
    check_int("dim_y", dim_y, low=1)
    hidden = _check_hidden(hidden)
    embed_dim = check_int("embed_dim", embed_dim, low=1)
    check_choice("activation", activation, list(ACTIVATIONS))
    gen = torch.Generator().manual_seed(spawn_seeds(seed, 1)[0])
    if critic == "separable":
        return SeparableCritic(dim_x, dim_y, hidden, embed_dim, activation, gen)
    return JointCritic(dim_x, dim_y, hidden, activation, gen)


# ============================================================ hyperparameters
def _check_hidden(hidden: Any) -> tuple[int, ...]:
    text = "hidden must be a non-empty sequence of positive integers (hidden layer widths)"
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, (list, tuple, np.ndarray)):
        if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
            raise TypeError(f"{text}; got the integer {hidden!r}: write ({hidden},) for one layer")
        raise TypeError(f"{text}; got {hidden!r}")
    widths = list(hidden)
    if not widths or any(isinstance(w, (bool, np.bool_)) or not isinstance(w, numbers.Integral) or int(w) < 1
                         for w in widths):
        raise ValueError(f"{text}; got {hidden!r}")
    return tuple(int(w) for w in widths)


@dataclass(frozen=True)
class NeuralConfig:
    """Hyperparameters of the neural MI estimators, with their defaults (the one place they are documented).

    Every field is also a keyword parameter of :func:`mine`, :func:`nwj`,
    :func:`infonce` and :func:`smile` (``ema_rate`` only of ``mine``, ``tau``
    only of ``smile``). Invalid values raise ``ValueError``/``TypeError`` on
    construction.

    Attributes
    ----------
    critic : {"separable", "joint"}, default "separable"
        ``"separable"``: ``g(x)ᵀ h(y)``, ``2B`` network passes per batch of
        ``B``. ``"joint"``: an MLP on ``[x, y]``, ``B²`` passes per batch
        (about 20x slower at ``B = 128``, more flexible).
    hidden : tuple of int, default (256, 256)
        Hidden layer widths of each MLP (of ``g`` and of ``h`` for the
        separable critic).
    embed_dim : int, default 32
        Output width of ``g`` and ``h`` (separable critic only).
    activation : str, default "silu"
        One of ``relu, leaky_relu, elu, gelu, silu, tanh``. SiLU
        (``x sigmoid(x)``, smooth) fits the quadratic log density ratios of
        Gaussian-like data with fewer units than ReLU's piecewise-linear
        pieces (staircase, I = 2: 1.93 against 1.87 nats for ReLU, cosine
        schedule).
    learning_rate : float, default 5e-4
        AdamW step size (the peak of the schedule). If training diverges
        (NaN loss) lower it.
    lr_schedule : {"cosine", "constant"}, default "cosine"
        ``"cosine"``: the step size at step ``t`` (from 0) is
        ``learning_rate * (1 + cos(pi t / steps)) / 2``, annealing to zero
        over ``steps`` (SGDR, Loshchilov & Hutter 2017, eq. 5 with one
        cycle and no restart). At a constant step size the critic keeps
        jittering around its optimum, and a jittered critic reads low: on the
        20-d staircase at I = 2 nats (n = 100,000, 1,500 steps, 2 seeds)
        SMILE read 1.75 with ``"constant"`` and 1.87 with ``"cosine"`` (both
        ReLU), 1.93 with cosine and SiLU. The mean step size is half the
        peak, so a run cut far short of convergence learns less than at a
        constant rate (2-d joint-critic test: 0.36 nats after 300 steps
        against 0.43 constant, 0.44 after 600): with a small ``steps``
        budget raise ``learning_rate`` or use ``"constant"``.
    batch_size : int, default 128
        Pairs per training step (``>= 2``, at most the rows to fit on). Also
        the default evaluation batch. InfoNCE can never report more than
        ``log(batch_size)`` nats.
    steps : int, default 2000
        Maximum number of optimiser steps.
    weight_decay : float, default 0.0
        AdamW decoupled weight decay.
    patience : int, default 300
        Early stopping: every 50 steps the training objective (the method's
        own bound; the JS bound for ``smile``) is measured on the validation
        rows, or, with ``validation_fraction=0``, averaged over those 50
        training steps; training stops when it has not improved by more than
        0.001 nats for ``patience`` steps. ``0`` always trains for ``steps``.
    test_fraction : float, default 0.5
        Share of the rows held out for the reported estimate, in ``(0, 1)``.
        Nothing about training or stopping ever looks at these rows.
    validation_fraction : float, default 0.2
        Share of the *training* rows set aside to watch for overfitting, in
        ``[0, 1)``. With finite data the critic memorises training pairs:
        the training estimate keeps rising while the held-out one falls (on
        a 5-d Gaussian with n=5000 the default critic's held-out estimate
        drops from 0.83 to 0.37 nats between steps 100 and 1000 while the
        training estimate rises from 0.78 to 1.15, truth 1.0, in one run),
        which the training signal cannot detect. The critic with the best
        validation objective is the one evaluated on the test rows. ``0``: no
        validation rows; the final critic is evaluated.
    eval_batch_size : int or None, default None
        Pairs per held-out batch (``None``: ``batch_size``). The estimate is
        the mean over the ``n_test // eval_batch_size`` disjoint held-out
        batches and ``std_err`` is their standard deviation over the square
        root of their number.
    standardize : bool, default True
        Centre and scale every column by the *training* split's mean and
        standard deviation. MI is invariant to per-variable affine maps, so
        this only conditions the optimisation.
    mixed_precision : bool, default False
        Train the critic under bfloat16 autocast (CUDA only); bounds and the
        held-out evaluation stay in full precision.
    ema_rate : float, default 0.01
        ``mine`` only: weight of the newest batch in the moving average of
        ``E_Q[e^f]`` used by the bias-corrected gradient ([MINE]_ Sec. 3.2);
        ``1.0`` gives the plain (biased) minibatch DV gradient.
    tau : float, default 5.0
        ``smile`` only: clip ``f`` to ``[-tau, tau]`` in the partition term
        ([SMILE]_); ``inf`` turns SMILE into DV evaluation of a JS-trained critic.
    """

    critic: str = "separable"
    hidden: tuple[int, ...] = (256, 256)
    embed_dim: int = 32
    activation: str = "silu"
    learning_rate: float = 5e-4
    lr_schedule: str = "cosine"
    batch_size: int = 128
    steps: int = 2000
    weight_decay: float = 0.0
    patience: int = 300
    test_fraction: float = 0.5
    validation_fraction: float = 0.2
    eval_batch_size: int | None = None
    standardize: bool = True
    mixed_precision: bool = False
    ema_rate: float = 0.01
    tau: float = 5.0

    def __post_init__(self) -> None:
        check_choice("critic", self.critic, CRITICS)
        object.__setattr__(self, "hidden", _check_hidden(self.hidden))
        object.__setattr__(self, "embed_dim", check_int("embed_dim", self.embed_dim, low=1))
        check_choice("activation", self.activation, list(ACTIVATIONS))
        object.__setattr__(self, "learning_rate",
                           check_float("learning_rate", self.learning_rate, low=0.0, low_open=True))
        check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        object.__setattr__(self, "batch_size", check_int("batch_size", self.batch_size, low=2))
        object.__setattr__(self, "steps", check_int("steps", self.steps, low=1))
        object.__setattr__(self, "weight_decay", check_float("weight_decay", self.weight_decay, low=0.0))
        object.__setattr__(self, "patience", check_int("patience", self.patience, low=0))
        object.__setattr__(self, "test_fraction", check_float("test_fraction", self.test_fraction, low=0.0,
                                                                high=1.0, low_open=True, high_open=True))
        object.__setattr__(self, "validation_fraction", check_float(
            "validation_fraction", self.validation_fraction, low=0.0, high=1.0, high_open=True))
        if self.eval_batch_size is not None:
            object.__setattr__(self, "eval_batch_size", check_int("eval_batch_size", self.eval_batch_size, low=2))
        object.__setattr__(self, "standardize", check_bool("standardize", self.standardize))
        object.__setattr__(self, "mixed_precision", check_bool("mixed_precision", self.mixed_precision))
        object.__setattr__(self, "ema_rate",
                           check_float("ema_rate", self.ema_rate, low=0.0, high=1.0, low_open=True))
        tau = self.tau
        if isinstance(tau, numbers.Real) and not isinstance(tau, bool) and float(tau) == math.inf:
            object.__setattr__(self, "tau", math.inf)
        else:
            object.__setattr__(self, "tau", check_float("tau", tau, low=0.0, low_open=True))

    @property
    def resolved_eval_batch_size(self) -> int:
        return self.batch_size if self.eval_batch_size is None else self.eval_batch_size

    def mutual_information(self, x: Any, y: Any, method: str = "smile", **kwargs: Any) -> Estimate:
        """Estimate ``I(X; Y)`` with these hyperparameters: :func:`neural_mutual_information`."""
        return neural_mutual_information(x, y, method=method, config=self, **kwargs)


# =============================================================== estimation
@contextlib.contextmanager
def _progress(enabled: bool, total: int, description: str) -> Iterator[Callable[[int, float], None]]:
    if not enabled:
        yield lambda advance, value: None
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("objective {task.fields[value]}"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total, value="-")
        yield lambda advance, value: bar.update(task, advance=advance, value=f"{value:.3f}")


@dataclass
class _Split:
    """Standardized data: rows to fit on, to validate (may be empty) and to report on."""

    x_fit: torch.Tensor
    y_fit: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def _split_and_scale(x: torch.Tensor, y: torch.Tensor, n_test: int, n_val: int, standardize: bool, seed: int,
                     dtype: torch.dtype) -> _Split:
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(x.shape[0], generator=gen).to(x.device)
    test, val, fit = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
    train = perm[n_test:]
    parts = []
    for v in (x, y):
        if standardize:
            # Training-side statistics only: the held-out rows must not
            # influence anything the critic sees.
            mean = v[train].mean(dim=0)
            std = v[train].std(dim=0)
            v = (v - mean) / torch.where(std > 0, std, torch.ones_like(std))
        parts.append([v[rows].to(dtype).contiguous() for rows in (fit, val, test)])
    (x_fit, x_val, x_test), (y_fit, y_val, y_test) = parts
    return _Split(x_fit, y_fit, x_val, y_val, x_test, y_test)


@torch.no_grad()
def _evaluate(bound: Callable[[torch.Tensor], torch.Tensor], critic: nn.Module, x: torch.Tensor, y: torch.Tensor,
              batch: int, perm: torch.Tensor) -> torch.Tensor:
    """``bound`` on each disjoint batch ``perm[k*batch:(k+1)*batch]``, reduced in float64."""
    was_training = critic.training
    critic.eval()
    wide = torch.float64 if x.device.type != "mps" else torch.float32
    values = []
    for k in range(x.shape[0] // batch):
        idx = perm[k * batch:(k + 1) * batch]
        values.append(bound(critic(x[idx], y[idx]).to(wide)))
    critic.train(was_training)
    return torch.stack(values).cpu().to(torch.float64)


def _train(method: str, critic: nn.Module, data: _Split, cfg: NeuralConfig, seed: int, val_batch: int,
           progress: bool) -> dict[str, Any]:
    x, y = data.x_fit, data.y_fit
    device = x.device
    n = x.shape[0]
    b = cfg.batch_size
    per_epoch = n // b
    gen = torch.Generator().manual_seed(seed)
    # One fixed batching of the validation rows: its noise then does not
    # change from check to check, only the critic does.
    val_perm = torch.randperm(data.x_val.shape[0], generator=gen).to(device)
    validate = data.x_val.shape[0] > 0
    # Early stopping watches the objective the critic is trained on. For
    # SMILE that is the JS bound, not the reported clipped-DV value: the
    # latter is not a bound and grows with an over-confident critic, so
    # picking its maximum would select for overestimation.
    monitor = js_bound if method == "smile" else functools.partial(_eval_bound, method, tau=cfg.tau)
    opt = torch.optim.AdamW(critic.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    autocast = (torch.autocast(device_type="cuda", dtype=torch.bfloat16) if cfg.mixed_precision
                else contextlib.nullcontext())
    log_keep = math.log1p(-cfg.ema_rate) if cfg.ema_rate < 1 else -math.inf
    log_rate = math.log(cfg.ema_rate)
    log_ema: torch.Tensor | None = None
    curve = torch.empty(cfg.steps, dtype=torch.float64, device=device)
    monitored = torch.empty(cfg.steps, dtype=torch.float64, device=device)
    val_curve: list[tuple[int, float]] = []
    best, best_step, best_state, since_best, stopped_early = -math.inf, 0, None, 0, False
    reference = -math.inf
    lowest = (0, math.inf)  # (step, value): the lowest training-batch objective
    signal = -math.inf
    steps_run = 0
    perm = torch.empty(0, dtype=torch.long)
    critic.train()
    t0 = time.perf_counter()
    with _progress(progress, cfg.steps, f"training {method}") as advance:
        for start in range(0, cfg.steps, _BLOCK):
            stop = min(cfg.steps, start + _BLOCK)
            for step in range(start, stop):
                if cfg.lr_schedule == "cosine":
                    for group in opt.param_groups:
                        group["lr"] = cfg.learning_rate * 0.5 * (1.0 + math.cos(math.pi * step / cfg.steps))
                k = step % per_epoch
                if k == 0:
                    perm = torch.randperm(n, generator=gen).to(device)
                idx = perm[k * b:(k + 1) * b]
                with autocast:
                    scores = critic(x[idx], y[idx])
                scores = scores.float() if cfg.mixed_precision else scores
                if method == "mine":
                    # mine_gradient_surrogate, with the log partition computed once.
                    lme = logmeanexp_offdiag(scores)
                    joint = scores.diagonal().mean()
                    fresh = lme.detach()
                    log_ema = fresh if log_ema is None else torch.logaddexp(log_ema + log_keep, fresh + log_rate)
                    objective = joint - torch.exp(lme - log_ema)
                    value = joint.detach() - fresh
                elif method == "smile":
                    objective = js_bound(scores)
                    value = smile_bound(scores.detach(), cfg.tau)
                else:
                    objective = _eval_bound(method, scores, cfg.tau)
                    value = objective.detach()
                opt.zero_grad(set_to_none=True)
                (-objective).backward()
                opt.step()
                curve[step] = value
                monitored[step] = objective.detach() if method == "smile" else value
            steps_run = stop
            block = curve[start:stop].cpu()
            block_monitored = monitored[start:stop].cpu()
            bad = (~(torch.isfinite(block) & torch.isfinite(block_monitored))).nonzero()
            if len(bad):
                first = int(bad[0])
                worst = block[first] if not torch.isfinite(block[first]) else block_monitored[first]
                raise TrainingDivergedError(
                    f"{method} training diverged: the training bound became {float(worst)} at step "
                    f"{start + first + 1} of {cfg.steps}; no estimate is returned. {_fix_hint(cfg)}"
                )
            low = int(torch.argmin(block_monitored))
            if float(block_monitored[low]) < lowest[1]:
                lowest = (start + low + 1, float(block_monitored[low]))
            if validate:
                signal = float(_evaluate(monitor, critic, data.x_val, data.y_val, val_batch, val_perm).mean())
                val_curve.append((stop, signal))
            else:
                signal = float(block_monitored.mean())
            advance(stop - start, signal)
            # The evaluated critic is the best one seen (any improvement);
            # patience counts from the last improvement of more than 0.001.
            if validate and math.isfinite(signal) and signal > best:
                best, best_step = signal, stop
                best_state = {k: v.detach().clone() for k, v in critic.state_dict().items()}
            if math.isfinite(signal) and signal > reference + 1e-3:
                reference, since_best = signal, 0
            else:
                since_best += stop - start
                if cfg.patience and since_best >= cfg.patience:
                    stopped_early = True
                    break
    if best_state is not None:
        critic.load_state_dict(best_state)
    seconds = time.perf_counter() - t0
    return {
        "train_curve": curve[:steps_run].cpu().tolist(),
        "validation_curve": val_curve,
        "steps_run": steps_run,
        "best_step": best_step if validate else steps_run,
        "objective": best if validate else signal,
        "lowest_train_objective": lowest,
        "stopped_early": stopped_early,
        "train_seconds": seconds,
        "steps_per_second": steps_run / seconds if seconds > 0 else math.inf,
    }


def _fix_hint(cfg: NeuralConfig) -> str:
    return (f"Lower the learning_rate (now {cfg.learning_rate:g}; try {cfg.learning_rate / 10:g})"
            + ("" if cfg.standardize else " or set standardize=True"))


def _check_divergence(method: str, value: float, se: float | None, trained: dict[str, Any],
                      cfg: NeuralConfig) -> str | None:
    """Refuse the estimate of a diverged critic; return a warning text for unstable training, else None.

    A constant critic scores ``_CONSTANT_CRITIC[method]`` on the training
    objective and 0 on every reported bound (DV, NWJ, InfoNCE, clipped DV), so
    it is a floor that any trained critic can reach. Raises
    :class:`TrainingDivergedError` (the number would be meaningless) when

    * the held-out estimate is below ``-(1 + 3 se)`` nats: all four bounds
      are (up to SMILE's clipping and DV's finite-batch bias, both upward)
      lower bounds of a non-negative MI, so a critic reading far below 0 on
      unseen rows has blown up (MINE at learning rate 1: -1e10 nats);
    * the evaluated critic's objective on the validation rows (the last
      training block without validation) is more than 1 nat below the
      constant critic's. This catches SMILE, whose reported value has no
      upper bound (``E_P[f]`` is unclipped): at learning rate 100 it reads
      +6e17 nats while its Jensen-Shannon objective reads -5e13.

    Returns a warning (the caller issues :class:`TrainingUnstableWarning`)
    when the estimate passes those checks but a training batch or validation
    check read more than ``10 max(1, |objective|)`` nats below the constant
    critic: the best-validation critic recovered, but the run nearly
    diverged. NWJ on the 20-d staircase at 10 nats (n = 20,000, 500 steps)
    triggers it with its own exponential variance (a batch reads -51 nats; the
    estimate is 2.9), which the message names. InfoNCE cannot exceed ``log(eval_batch_size)``
    (:func:`infonce_bound`), so its upper side needs no check.
    """
    floor = _CONSTANT_CRITIC[method]
    margin = _DIVERGED_MARGIN + 3 * (se or 0.0)
    if value < -margin:
        raise TrainingDivergedError(
            f"{method} training diverged: the held-out estimate is {value:.4g} nats, far below the 0 that a "
            f"constant critic scores (tolerance {margin:.3g} nats): no estimate is returned. {_fix_hint(cfg)}"
        )
    objective = trained["objective"]
    where = "validation rows" if trained["validation_curve"] else "last training steps"
    if objective < floor - _DIVERGED_MARGIN:
        raise TrainingDivergedError(
            f"{method} training diverged: the evaluated critic's training objective on the {where} is "
            f"{objective:.4g}, far below the {floor:.3f} of a constant critic (the estimate would have been "
            f"{value:.4g} nats): no estimate is returned. {_fix_hint(cfg)}"
        )
    limit = floor - _EXCURSION_FACTOR * max(1.0, abs(objective))
    step, lowest = trained["lowest_train_objective"]
    kind = "training-batch"
    for s, v in trained["validation_curve"]:
        if v < lowest:
            step, lowest, kind = s, v, "validation"
    if lowest < limit:
        return (f"{method} training was unstable: the {kind} objective fell to {lowest:.4g} at step {step} "
                f"(a constant critic scores {floor:.3f}, the evaluated critic {objective:.4g}); the estimate "
                f"{value:.4g} nats is likely too low. {_fix_hint(cfg)}"
                + (f"; {method}'s variance grows exponentially with the MI: at several nats use method='smile'"
                   if method in ("mine", "nwj") else ""))
    return None


def neural_mutual_information(
    x: Any,
    y: Any,
    *,
    method: str = "smile",
    config: NeuralConfig | None = None,
    std_err: bool = False,
    seed: Any = None,
    device: Any = "auto",
    dtype: Any = None,
    progress: bool = False,
) -> Estimate:
    """Estimate ``I(X; Y)`` in nats with a neural variational bound, reported on held-out data.

    Procedure: the rows are split at random into a test part
    (``config.test_fraction``) and a training part, itself split into rows to
    fit on and validation rows (``config.validation_fraction``); columns are
    standardized with training-part statistics; the critic is trained on the
    fit rows for at most ``config.steps`` steps, stopping early when its
    objective on the validation rows stops improving, and the critic with the
    best validation objective (the final one without validation rows) is
    evaluated on disjoint batches of the test rows. The estimate is the mean of those
    batch values. The test rows are used once, for that number only.

    Parameters
    ----------
    x, y : array-like, torch.Tensor, pandas DataFrame or Series
        Paired samples, shapes ``(n, d_x)`` and ``(n, d_y)`` (1-D means one
        variable). Tensors already on a GPU stay there with ``device="auto"``.
    method : {"mine", "nwj", "infonce", "smile"}
        The bound trained and reported (see the kernels of the same name).
    config : NeuralConfig or None
        Hyperparameters; ``None`` uses the defaults.
    std_err : bool
        Also report the standard error over held-out batches (needs at least
        two of them): their standard deviation over the square root of their
        number. It is conditional on the trained critic: it does not include
        the seed-to-seed variability of training.
    seed : int, numpy/torch Generator or None
        Seeds the split, the critic's initialisation, the batch order and the
        held-out batching. On the CPU an integer seed repeats a run exactly.
    device : "auto", "cpu", "cuda[:N]" or torch.device
        ``"auto"``: the device of a GPU tensor input, else CUDA when
        available, else the CPU.
    dtype : None, "float32" or "float64"
        Precision of training. ``None`` means float32 on every device (neural
        critics are trained in single precision: on the CPU float64 is
        about 2x slower and its extra precision is far below the estimator's
        statistical error); held-out bounds are always reduced in float64.
    progress : bool
        Show a rich progress bar on stderr.

    Returns
    -------
    Estimate
        ``value``: mean held-out bound (nats, never clipped); ``extras``:
        ``train_curve`` (training-batch estimate at every step),
        ``validation_curve`` (``(step, objective)`` every 50 steps; the
        objective is the JS bound for SMILE, the reported bound otherwise),
        ``steps_run``, ``best_step`` (the step of the evaluated critic),
        ``stopped_early``, ``n_fit``, ``n_validation``, ``n_test``,
        ``heldout_batch_values``, ``heldout_std_err``, ``batch_size``,
        ``eval_batch_size``, ``train_seconds``, ``steps_per_second``,
        ``device``, ``dtype``, ``warnings`` and, for InfoNCE, ``ceiling``
        (``log(eval_batch_size)``).

    Raises
    ------
    ValueError, TypeError
        Bad samples or hyperparameters, a batch larger than its split.
    TrainingDivergedError
        (a ``ValueError``) the training bound became NaN or infinite.
    """
    t0 = time.perf_counter()
    method = check_choice("method", method, list(METHODS))
    cfg = NeuralConfig() if config is None else config
    if not isinstance(cfg, NeuralConfig):
        raise TypeError(f"config must be a NeuralConfig or None; got {type(cfg).__name__}")
    std_err = check_bool("std_err", std_err)
    progress = check_bool("progress", progress)
    rng = as_generator(seed)
    # Validate and standardize in float64 whatever the training precision:
    # large offsets would lose their spread in float32 before centring.
    xs, ys = check_pair(x, y, device=device, dtype="float64")
    dev = xs.data.device
    train_dtype = torch.float32 if dtype is None else resolve_dtype(dtype, dev)
    if cfg.mixed_precision and dev.type != "cuda":
        raise ValueError(f"mixed_precision=True needs a CUDA device; the data is on {dev}")
    n = xs.n
    n_test = int(n * cfg.test_fraction)
    n_val = int((n - n_test) * cfg.validation_fraction)
    n_fit = n - n_test - n_val
    sizes = (f" (n={n}, test_fraction={cfg.test_fraction:g}, validation_fraction={cfg.validation_fraction:g}: "
             f"n_fit={n_fit}, n_validation={n_val}, n_test={n_test})")
    check_int("batch_size", cfg.batch_size, low=2, high=n_fit, context=" and at most the rows to fit on" + sizes)
    if cfg.validation_fraction > 0 and n_val < 2:
        raise ValueError(f"validation_fraction={cfg.validation_fraction:g} leaves fewer than 2 validation rows"
                         f"{sizes}; raise it or set validation_fraction=0")
    eval_b = cfg.resolved_eval_batch_size
    if std_err and n_test < 2 * eval_b:
        raise ValueError(
            f"std_err=True needs at least 2 held-out batches of eval_batch_size={eval_b}{sizes}; "
            "lower eval_batch_size or raise test_fraction"
        )
    name = "eval_batch_size" if cfg.eval_batch_size is not None else "batch_size (also the evaluation batch)"
    check_int(name, eval_b, low=2, high=n_test, context=" and at most the held-out rows" + sizes)

    s_split, s_init, s_batches, s_eval = spawn_seeds(rng, 4)
    data = _split_and_scale(xs.data, ys.data, n_test, n_val, cfg.standardize, s_split, train_dtype)
    critic = build_critic(cfg.critic, xs.d, ys.d, hidden=cfg.hidden, embed_dim=cfg.embed_dim,
                          activation=cfg.activation, seed=s_init).to(device=dev, dtype=train_dtype)
    trained = _train(method, critic, data, cfg, s_batches, min(eval_b, n_val), progress)
    test_perm = torch.randperm(n_test, generator=torch.Generator().manual_seed(s_eval)).to(dev)
    values = _evaluate(functools.partial(_eval_bound, method, tau=cfg.tau), critic, data.x_test, data.y_test,
                       eval_b, test_perm)
    value = float(values.mean())
    if not math.isfinite(value):
        raise TrainingDivergedError(
            f"{method}: the held-out bound is {value} (the critic overflows on held-out rows); "
            f"lower the learning_rate (now {cfg.learning_rate:g}) or train with more data"
        )
    m = len(values)
    se = float(values.std(unbiased=True)) / math.sqrt(m) if m > 1 else None
    unstable = _check_divergence(method, value, se, trained, cfg)
    extras: dict[str, Any] = {
        **trained,
        "n_fit": n_fit,
        "n_validation": n_val,
        "n_test": n_test,
        "batch_size": cfg.batch_size,
        "eval_batch_size": eval_b,
        "heldout_batch_values": values.tolist(),
        "heldout_std_err": se,
        "device": str(dev),
        "dtype": str(train_dtype).replace("torch.", ""),
        "warnings": [],
    }
    if unstable is not None:
        extras["warnings"].append(unstable)
        warnings.warn(unstable, TrainingUnstableWarning, stacklevel=3)
    if method == "infonce":
        ceiling = math.log(eval_b)
        extras["ceiling"] = ceiling
        if value >= (1 - _CEILING_MARGIN) * ceiling:
            text = (f"infonce estimate {value:.3f} nats is within {_CEILING_MARGIN:.0%} of its ceiling "
                    f"log(eval_batch_size) = log({eval_b}) = {ceiling:.3f} nats: the true MI may be much larger; "
                    "use a larger batch_size or method='smile'")
            extras["warnings"].append(text)
            warnings.warn(text, EstimateNearCeilingWarning, stacklevel=3)
    params = dataclasses.asdict(cfg)
    for field, owner in _METHOD_ONLY.items():
        if owner != method:
            params.pop(field)
    params.update(eval_batch_size=eval_b, std_err=std_err, device=str(dev), dtype=extras["dtype"])
    return Estimate(
        value=value,
        std_err=se if std_err else None,
        n=n,
        method=method,
        params=params,
        seconds=time.perf_counter() - t0,
        extras=extras,
    )


# ====================================================== registered kernels
_COMMON = {"std_err": False, "seed": None, "device": "auto", "dtype": None, "progress": False}


def _make_kernel(method: str, summary: str, notes: str) -> Callable[..., Estimate]:
    fields = [f for f in dataclasses.fields(NeuralConfig) if _METHOD_ONLY.get(f.name, method) == method]
    sig = inspect.Signature(
        [inspect.Parameter("x", inspect.Parameter.POSITIONAL_OR_KEYWORD),
         inspect.Parameter("y", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default) for f in fields]
        + [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v) for k, v in _COMMON.items()]
    )

    def kernel(*args: Any, **kwargs: Any) -> Estimate:
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{method}(): {exc}; valid parameters are {list(sig.parameters)}") from None
        bound.apply_defaults()
        a = dict(bound.arguments)
        common = {k: a.pop(k) for k in _COMMON}
        x, y = a.pop("x"), a.pop("y")
        return neural_mutual_information(x, y, method=method, config=NeuralConfig(**a), **common)

    kernel.__name__ = kernel.__qualname__ = method
    kernel.__module__ = __name__
    kernel.__signature__ = sig  # type: ignore[attr-defined]
    notes = textwrap.fill(notes, width=100, initial_indent="    ", subsequent_indent="    ")
    kernel.__doc__ = f"""{summary}

{notes}

    Parameters
    ----------
    x, y : array-like, torch.Tensor, pandas DataFrame or Series
        Paired samples with the same number of rows.
    {", ".join(f.name for f in fields)}
        Hyperparameters: meaning and defaults are documented once, in :class:`NeuralConfig`.
    std_err, seed, device, dtype, progress
        As in :func:`neural_mutual_information`.

    Returns
    -------
    Estimate
        Held-out estimate in nats (never clipped), training diagnostics in ``extras``.

    Examples
    --------
    >>> import numpy as np, infobench
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(4000, 2)); y = 0.8 * x + 0.6 * rng.normal(size=(4000, 2))
    >>> est = infobench.mutual_information(x, y, method="{method}", steps=300, seed=0)
    >>> # truth: -2/2 * log(1 - 0.8**2) = 1.02 nats
    """
    return kernel


mine = register("mi", "mine")(_make_kernel(
    "mine",
    "MINE: Donsker-Varadhan bound with MINE's moving-average gradient correction (Belghazi et al. 2018).",
    "Trains the critic on the DV bound (:func:`dv_bound`) with the bias-corrected gradient of [MINE]_ "
    "Sec. 3.2 (:func:`mine_gradient_surrogate`, moving-average rate ``ema_rate``) and reports the "
    "held-out DV bound. Its variance grows exponentially with the MI ([SMILE]_).",
))
nwj = register("mi", "nwj")(_make_kernel(
    "nwj",
    "NWJ: the f-divergence (convex dual) bound of Nguyen, Wainwright and Jordan (2010).",
    "Trains and reports ``E_P[f] - e^-1 E_Q[e^f]`` (:func:`nwj_bound`, ``I_NWJ`` of [VBMI]_; "
    "MINE-f). Unbiased per batch for a fixed critic, with variance exponential in the MI.",
))
infonce = register("mi", "infonce")(_make_kernel(
    "infonce",
    "InfoNCE: the contrastive (CPC) bound, never above log(batch size) (van den Oord et al. 2018).",
    "Trains and reports :func:`infonce_bound` ([CPC]_, ``I_NCE`` of [VBMI]_). Low variance, "
    "but it cannot exceed ``log(eval_batch_size)``; ``extras['ceiling']`` holds that value and an "
    ":class:`EstimateNearCeilingWarning` is issued when the estimate is within 5% of it.",
))
smile = register("mi", "smile")(_make_kernel(
    "smile",
    "SMILE: JS-trained critic, clipped Donsker-Varadhan estimate (Song & Ermon 2020; tau=5).",
    "Trains the critic on the Jensen-Shannon bound (:func:`js_bound`, whose optimum is the log density "
    "ratio) and reports :func:`smile_bound`, the DV estimate with ``e^f`` clipped to ``[e^-tau, e^tau]`` "
    "in the partition term ([SMILE]_): variance bounded in ``tau``, at a bias that is upward and grows "
    "with the MI (see :func:`smile_bound`).",
))
