"""The hyperparameters of the neural MI estimators, their defaults and their checks, in one place."""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any, cast

from infobench._validation import check_bool, check_choice, check_float, check_int
from infobench.estimators._transforms import check_transform
from infobench.estimators.base import Estimate
from infobench.estimators.neural._critics import ACTIVATIONS, CRITICS, check_hidden

__all__ = ["METHODS", "LR_SCHEDULES", "METHOD_ONLY", "NeuralConfig", "DEFAULT_TRANSFORM"]

METHODS = ("mine", "nwj", "infonce", "smile")
LR_SCHEDULES = ("cosine", "constant")
# Fields of NeuralConfig that only one method reads; the other kernels do not
# accept them (so ``method="nwj", tau=3`` is rejected instead of ignored).
METHOD_ONLY = {"ema_rate": "mine", "tau": "smile"}
DEFAULT_TRANSFORM = "copula"


def _resolve_transform(transform: Any, standardize: Any) -> str:
    """``transform``, or what the deprecated ``standardize`` stands for (with a ``DeprecationWarning``)."""
    transform = check_transform(transform, quantity="mi")
    if standardize is None:
        return cast(str, transform)
    standardize = check_bool("standardize", standardize)
    if transform != DEFAULT_TRANSFORM:
        raise ValueError(
            f"pass transform, not also the deprecated standardize; got transform={transform!r}, "
            f"standardize={standardize}"
        )
    replacement = "scale" if standardize else "none"
    warnings.warn(
        f"standardize= is deprecated and will be removed; use transform={replacement!r} "
        f"(standardize={standardize}), or keep the default transform={DEFAULT_TRANSFORM!r}",
        DeprecationWarning,
        stacklevel=4,
    )
    return replacement


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
    transform : {"copula", "scale", "none"}, default "copula"
        Map applied to each column (each variable of ``x`` and of ``y``)
        before the critic sees it, fitted on the training rows (fit and
        validation) alone and applied unchanged to the held-out rows.
        ``"copula"``: the normal scores ``Phi^{-1}(rank / (m + 1))`` of each
        column among its ``m`` training values
        (:func:`~infobench.estimators._transforms.normal_scores`; a held-out
        value is ranked among the training values). MI is unchanged by any
        strictly increasing map of each variable, so this changes only what
        the critic must learn: every input is a standard-normal coordinate
        within about 4 of 0 whatever the tails, and no single row can steer
        the map or drive the critic out of the range it was trained on.
        ``"scale"``: centre each column on its training median and divide by
        its robust scale (IQR / 1.349,
        :func:`~infobench.estimators._transforms.robust_scale`), an affine
        map. ``"none"``: the columns as given. Heavy tails are where the
        choice matters: on Student-t pairs with one degree of freedom (1x1,
        truth 0.224 nats; n = 5,000, defaults, seeds 0-2; ``-k heavy`` in
        ``benchmarks/bench_neural.py``) the four methods read 0.19-0.21 with
        the copula; with each column divided by its standard deviation (the
        rule before ``transform``) SMILE read -0.005 to 0.66, MINE down to
        -2.45 and NWJ was refused in every run; with ``"scale"`` all four
        were refused (seed 0). On Gaussian tasks (1x1, 2x2, 5x5) the copula and the
        standard deviation agree within 0.02 nats.
        The held-out bound stays honest because the map ``T`` is a fixed
        function of the training rows: the critic evaluated on held-out
        rows is ``f(T_x(x), T_y(y))``, itself a critic of the raw data, and
        every bound holds for every critic; values ``T`` merges (ties,
        held-out values between two training values) lose information,
        which can only lower the bound (data processing inequality). Ranks
        taken over all rows would instead make the held-out rows' inputs,
        and through the training rows' ranks the critic itself, depend on
        the held-out rows.
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
    standardize : bool or None, default None
        Deprecated alias of ``transform``, kept for one release: ``True`` is
        ``transform="scale"``, ``False`` is ``transform="none"`` (it emits a
        ``DeprecationWarning``; it is ``None`` once resolved).
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
    transform: str = DEFAULT_TRANSFORM
    mixed_precision: bool = False
    ema_rate: float = 0.01
    tau: float = 5.0
    standardize: bool | None = None

    def __post_init__(self) -> None:
        check_choice("critic", self.critic, CRITICS)
        object.__setattr__(self, "hidden", check_hidden(self.hidden))
        object.__setattr__(self, "embed_dim", check_int("embed_dim", self.embed_dim, low=1))
        check_choice("activation", self.activation, list(ACTIVATIONS))
        object.__setattr__(
            self, "learning_rate", check_float("learning_rate", self.learning_rate, low=0.0, low_open=True)
        )
        check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        object.__setattr__(self, "batch_size", check_int("batch_size", self.batch_size, low=2))
        object.__setattr__(self, "steps", check_int("steps", self.steps, low=1))
        object.__setattr__(self, "weight_decay", check_float("weight_decay", self.weight_decay, low=0.0))
        object.__setattr__(self, "patience", check_int("patience", self.patience, low=0))
        object.__setattr__(
            self,
            "test_fraction",
            check_float("test_fraction", self.test_fraction, low=0.0, high=1.0, low_open=True, high_open=True),
        )
        object.__setattr__(
            self,
            "validation_fraction",
            check_float("validation_fraction", self.validation_fraction, low=0.0, high=1.0, high_open=True),
        )
        if self.eval_batch_size is not None:
            object.__setattr__(self, "eval_batch_size", check_int("eval_batch_size", self.eval_batch_size, low=2))
        object.__setattr__(self, "transform", _resolve_transform(self.transform, self.standardize))
        object.__setattr__(self, "standardize", None)
        object.__setattr__(self, "mixed_precision", check_bool("mixed_precision", self.mixed_precision))
        object.__setattr__(self, "ema_rate", check_float("ema_rate", self.ema_rate, low=0.0, high=1.0, low_open=True))
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
        # Imported here: the estimation module imports this one for NeuralConfig.
        from infobench.estimators.neural._estimate import neural_mutual_information

        return neural_mutual_information(x, y, method=method, config=self, **kwargs)
