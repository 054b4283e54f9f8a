"""The registered neural MI kernels: ``mine``, ``nwj``, ``infonce`` and ``smile``.

Each is ``infobench.mutual_information(x, y, method=<name>, ...)``: a thin
function whose keyword parameters are the fields of :class:`NeuralConfig`
that its method reads (``ema_rate`` only for ``mine``, ``tau`` only for
``smile``) plus the common ``std_err``, ``seed``, ``device``, ``dtype`` and
``progress``. The procedure is :func:`neural_mutual_information`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ParamSpec

from infobench.estimators._conditions import requires
from infobench.estimators.base import Estimate, register
from infobench.estimators.neural._config import NeuralConfig
from infobench.estimators.neural._estimate import neural_mutual_information

__all__ = ["mine", "nwj", "infonce", "smile"]

_P = ParamSpec("_P")
# Keywords of every kernel that are not NeuralConfig fields.
_COMMON = ("std_err", "seed", "device", "dtype", "progress")


def _named_errors(kernel: Callable[_P, Estimate]) -> Callable[_P, Estimate]:
    """Name the kernel and list its parameters when a call does not match its signature."""
    sig = inspect.signature(kernel)

    @functools.wraps(kernel)
    def checked(*args: _P.args, **kwargs: _P.kwargs) -> Estimate:
        try:
            sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{kernel.__name__}(): {exc}; valid parameters are {list(sig.parameters)}") from None
        return kernel(*args, **kwargs)

    return checked


def _estimate(method: str, arguments: Mapping[str, Any]) -> Estimate:
    """Run :func:`neural_mutual_information` on a kernel's arguments (its ``locals()``)."""
    fields = {k: v for k, v in arguments.items() if k not in ("x", "y", *_COMMON)}
    common = {k: arguments[k] for k in _COMMON}
    return neural_mutual_information(
        arguments["x"], arguments["y"], method=method, config=NeuralConfig(**fields), **common
    )


@register("mi", "mine")
@requires("saturated", "extreme-values", "unstable-training", "below-zero", "outlier-batch")
@_named_errors
def mine(
    x: Any,
    y: Any,
    *,
    critic: str = "separable",
    hidden: Sequence[int] = (256, 256),
    embed_dim: int = 32,
    activation: str = "silu",
    learning_rate: float = 5e-4,
    lr_schedule: str = "cosine",
    batch_size: int = 128,
    steps: int = 2000,
    weight_decay: float = 0.0,
    patience: int = 300,
    test_fraction: float = 0.5,
    validation_fraction: float = 0.2,
    eval_batch_size: int | None = None,
    transform: str = "copula",
    mixed_precision: bool = False,
    ema_rate: float = 0.01,
    standardize: bool | None = None,
    std_err: bool = False,
    seed: Any = None,
    device: Any = "auto",
    dtype: Any = None,
    progress: bool = False,
) -> Estimate:
    """MINE: Donsker-Varadhan bound with MINE's moving-average gradient correction (Belghazi et al. 2018).

    Trains the critic on the Donsker-Varadhan bound ``E_P[f] - log E_Q[e^f]``
    (:func:`dv_bound`) with the bias-corrected gradient of [MINE]_ Sec. 3.2
    (:func:`mine_gradient_surrogate`, moving-average rate ``ema_rate``) and
    reports the held-out DV bound. Its variance grows exponentially with the
    MI ([SMILE]_).

    Parameters
    ----------
    x, y : array-like, torch.Tensor, pandas DataFrame or Series
        Paired samples with the same number of rows.
    critic, hidden, embed_dim, activation, learning_rate, lr_schedule, batch_size, steps, weight_decay, patience, \
test_fraction, validation_fraction, eval_batch_size, transform, mixed_precision
        Hyperparameters: meaning and defaults are documented once, in :class:`NeuralConfig`.
    ema_rate : float, default 0.01
        Weight of the newest batch in the moving average of ``E_Q[e^f]`` used
        by the bias-corrected gradient; ``1.0`` gives the plain (biased)
        minibatch DV gradient.
    standardize : bool or None, default None
        Deprecated alias of ``transform`` (``True``: ``"scale"``, ``False``: ``"none"``).
    std_err, seed, device, dtype, progress
        As in :func:`neural_mutual_information`.

    Returns
    -------
    Estimate
        Held-out estimate in nats (never clipped), training records in
        ``extras``, doubts about the number in ``diagnostics``.

    Raises
    ------
    TrainingDivergedError
        The critic's training blew up (see :func:`neural_mutual_information`).

    Examples
    --------
    >>> import numpy as np, infobench
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=2000); y = 0.8 * x + 0.6 * rng.normal(size=2000)
    >>> est = infobench.mutual_information(x, y, method="mine", steps=400, hidden=(64, 64), seed=0)
    >>> round(est.value, 1)   # truth: -1/2 * log(1 - 0.8**2) = 0.51 nats
    0.5
    """
    return _estimate("mine", locals())


@register("mi", "nwj")
@requires("saturated", "extreme-values", "unstable-training", "below-zero", "outlier-batch")
@_named_errors
def nwj(
    x: Any,
    y: Any,
    *,
    critic: str = "separable",
    hidden: Sequence[int] = (256, 256),
    embed_dim: int = 32,
    activation: str = "silu",
    learning_rate: float = 5e-4,
    lr_schedule: str = "cosine",
    batch_size: int = 128,
    steps: int = 2000,
    weight_decay: float = 0.0,
    patience: int = 300,
    test_fraction: float = 0.5,
    validation_fraction: float = 0.2,
    eval_batch_size: int | None = None,
    transform: str = "copula",
    mixed_precision: bool = False,
    standardize: bool | None = None,
    std_err: bool = False,
    seed: Any = None,
    device: Any = "auto",
    dtype: Any = None,
    progress: bool = False,
) -> Estimate:
    """NWJ: the f-divergence (convex dual) bound of Nguyen, Wainwright and Jordan (2010).

    Trains and reports ``E_P[f] - e^-1 E_Q[e^f]`` (:func:`nwj_bound`,
    ``I_NWJ`` of [VBMI]_ Sec. 2.2; MINE-f). Unbiased per batch for a fixed
    critic, with variance exponential in the MI.

    Parameters
    ----------
    x, y : array-like, torch.Tensor, pandas DataFrame or Series
        Paired samples with the same number of rows.
    critic, hidden, embed_dim, activation, learning_rate, lr_schedule, batch_size, steps, weight_decay, patience, \
test_fraction, validation_fraction, eval_batch_size, transform, mixed_precision
        Hyperparameters: meaning and defaults are documented once, in :class:`NeuralConfig`.
    standardize : bool or None, default None
        Deprecated alias of ``transform`` (``True``: ``"scale"``, ``False``: ``"none"``).
    std_err, seed, device, dtype, progress
        As in :func:`neural_mutual_information`.

    Returns
    -------
    Estimate
        Held-out estimate in nats (never clipped), training records in
        ``extras``, doubts about the number in ``diagnostics``.

    Raises
    ------
    TrainingDivergedError
        The critic's training blew up (see :func:`neural_mutual_information`).

    Examples
    --------
    >>> import numpy as np, infobench
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=2000); y = 0.8 * x + 0.6 * rng.normal(size=2000)
    >>> est = infobench.mutual_information(x, y, method="nwj", steps=400, hidden=(64, 64), seed=0)
    >>> round(est.value, 1)   # truth: -1/2 * log(1 - 0.8**2) = 0.51 nats
    0.5
    """
    return _estimate("nwj", locals())


@register("mi", "infonce")
@requires("saturated", "extreme-values", "unstable-training", "below-zero", "outlier-batch", "near-ceiling")
@_named_errors
def infonce(
    x: Any,
    y: Any,
    *,
    critic: str = "separable",
    hidden: Sequence[int] = (256, 256),
    embed_dim: int = 32,
    activation: str = "silu",
    learning_rate: float = 5e-4,
    lr_schedule: str = "cosine",
    batch_size: int = 128,
    steps: int = 2000,
    weight_decay: float = 0.0,
    patience: int = 300,
    test_fraction: float = 0.5,
    validation_fraction: float = 0.2,
    eval_batch_size: int | None = None,
    transform: str = "copula",
    mixed_precision: bool = False,
    standardize: bool | None = None,
    std_err: bool = False,
    seed: Any = None,
    device: Any = "auto",
    dtype: Any = None,
    progress: bool = False,
) -> Estimate:
    """InfoNCE: the contrastive (CPC) bound, never above log(batch size) (van den Oord et al. 2018).

    Trains and reports ``log B + mean_i [f(x_i, y_i) - logsumexp_j f(x_i, y_j)]``
    (:func:`infonce_bound`; [CPC]_ eq. 4, ``I_NCE`` of [VBMI]_ Sec. 2.3).
    Low variance, but it cannot exceed ``log(eval_batch_size)``;
    ``extras['ceiling']`` holds that value and the estimate carries a
    ``near-ceiling`` diagnostic when it is within 5% of it.

    Parameters
    ----------
    x, y : array-like, torch.Tensor, pandas DataFrame or Series
        Paired samples with the same number of rows.
    critic, hidden, embed_dim, activation, learning_rate, lr_schedule, batch_size, steps, weight_decay, patience, \
test_fraction, validation_fraction, eval_batch_size, transform, mixed_precision
        Hyperparameters: meaning and defaults are documented once, in :class:`NeuralConfig`.
    standardize : bool or None, default None
        Deprecated alias of ``transform`` (``True``: ``"scale"``, ``False``: ``"none"``).
    std_err, seed, device, dtype, progress
        As in :func:`neural_mutual_information`.

    Returns
    -------
    Estimate
        Held-out estimate in nats (never clipped), training records in
        ``extras``, doubts about the number in ``diagnostics``.

    Raises
    ------
    TrainingDivergedError
        The critic's training blew up (see :func:`neural_mutual_information`).

    Examples
    --------
    >>> import numpy as np, infobench
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=2000); y = 0.8 * x + 0.6 * rng.normal(size=2000)
    >>> est = infobench.mutual_information(x, y, method="infonce", steps=400, hidden=(64, 64), seed=0)
    >>> round(est.value, 1)   # truth: -1/2 * log(1 - 0.8**2) = 0.51 nats
    0.5
    """
    return _estimate("infonce", locals())


@register("mi", "smile")
@requires("saturated", "extreme-values", "unstable-training", "below-zero", "outlier-batch")
@_named_errors
def smile(
    x: Any,
    y: Any,
    *,
    critic: str = "separable",
    hidden: Sequence[int] = (256, 256),
    embed_dim: int = 32,
    activation: str = "silu",
    learning_rate: float = 5e-4,
    lr_schedule: str = "cosine",
    batch_size: int = 128,
    steps: int = 2000,
    weight_decay: float = 0.0,
    patience: int = 300,
    test_fraction: float = 0.5,
    validation_fraction: float = 0.2,
    eval_batch_size: int | None = None,
    transform: str = "copula",
    mixed_precision: bool = False,
    tau: float = 5.0,
    standardize: bool | None = None,
    std_err: bool = False,
    seed: Any = None,
    device: Any = "auto",
    dtype: Any = None,
    progress: bool = False,
) -> Estimate:
    """SMILE: JS-trained critic, clipped Donsker-Varadhan estimate (Song & Ermon 2020; tau=5).

    Trains the critic on the Jensen-Shannon bound (:func:`js_bound`, whose
    optimum is the log density ratio) and reports :func:`smile_bound`,
    ``E_P[f] - log E_Q[clip(e^f, e^-tau, e^tau)]``, the DV estimate with
    ``e^f`` clipped in the partition term ([SMILE]_ ``I_SMILE``): variance
    bounded in ``tau``, at a bias that is upward and grows with the MI (see
    :func:`smile_bound`).

    Parameters
    ----------
    x, y : array-like, torch.Tensor, pandas DataFrame or Series
        Paired samples with the same number of rows.
    critic, hidden, embed_dim, activation, learning_rate, lr_schedule, batch_size, steps, weight_decay, patience, \
test_fraction, validation_fraction, eval_batch_size, transform, mixed_precision
        Hyperparameters: meaning and defaults are documented once, in :class:`NeuralConfig`.
    tau : float, default 5.0
        Clip ``f`` to ``[-tau, tau]`` in the partition term; ``inf`` turns
        SMILE into the DV evaluation of a JS-trained critic.
    standardize : bool or None, default None
        Deprecated alias of ``transform`` (``True``: ``"scale"``, ``False``: ``"none"``).
    std_err, seed, device, dtype, progress
        As in :func:`neural_mutual_information`.

    Returns
    -------
    Estimate
        Held-out estimate in nats (never clipped), training records in
        ``extras``, doubts about the number in ``diagnostics``.

    Raises
    ------
    TrainingDivergedError
        The critic's training blew up (see :func:`neural_mutual_information`).

    Examples
    --------
    >>> import numpy as np, infobench
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=2000); y = 0.8 * x + 0.6 * rng.normal(size=2000)
    >>> est = infobench.mutual_information(x, y, method="smile", steps=400, hidden=(64, 64), seed=0)
    >>> round(est.value, 1)   # truth: -1/2 * log(1 - 0.8**2) = 0.51 nats
    0.5
    """
    return _estimate("smile", locals())
