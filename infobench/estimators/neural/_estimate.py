"""The procedure behind every neural MI estimate: split the rows, scale, train a critic, evaluate it held out."""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Any

import torch

from infobench._validation import (
    as_generator,
    check_bool,
    check_choice,
    check_int,
    check_pair,
    resolve_dtype,
    spawn_seeds,
)
from infobench.estimators._conditions import Findings, extreme_values, monotone_copies
from infobench.estimators.base import Estimate
from infobench.estimators.neural._bounds import reported_bound
from infobench.estimators.neural._checks import TrainingDivergedError, check_critic
from infobench.estimators.neural._config import METHOD_ONLY, METHODS, NeuralConfig
from infobench.estimators.neural._critics import build_critic
from infobench.estimators.neural._training import evaluate, split_and_transform, train

__all__ = ["neural_mutual_information"]


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
    fit on and validation rows (``config.validation_fraction``); each column
    is mapped by ``config.transform`` (by default its normal scores) fitted on
    the training part alone; the critic is trained on the
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
        ``device``, ``dtype`` and, for InfoNCE, ``ceiling``
        (``log(eval_batch_size)``). ``diagnostics``: the doubts about this
        number (``unstable-training``, ``below-zero``, ``outlier-batch``,
        ``near-ceiling``, ``extreme-values``; see
        :mod:`infobench.estimators.neural._checks`), empty on clean data.

    Raises
    ------
    ValueError, TypeError
        Bad samples or hyperparameters, a batch larger than its split.
    TrainingDivergedError
        (a ``ValueError``) the training bound became NaN or infinite, or the
        evaluated critic scores far below a constant critic (held out or on
        its validation objective).
    """
    t0 = time.perf_counter()
    method = check_choice("method", method, list(METHODS))
    cfg = NeuralConfig() if config is None else config
    if not isinstance(cfg, NeuralConfig):
        raise TypeError(f"config must be a NeuralConfig or None; got {type(cfg).__name__}")
    std_err = check_bool("std_err", std_err)
    progress = check_bool("progress", progress)
    rng = as_generator(seed)
    # Validate and transform in float64 whatever the training precision:
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
    sizes = (
        f" (n={n}, test_fraction={cfg.test_fraction:g}, validation_fraction={cfg.validation_fraction:g}: "
        f"n_fit={n_fit}, n_validation={n_val}, n_test={n_test})"
    )
    check_int("batch_size", cfg.batch_size, low=2, high=n_fit, context=" and at most the rows to fit on" + sizes)
    if cfg.validation_fraction > 0 and n_val < 2:
        raise ValueError(
            f"validation_fraction={cfg.validation_fraction:g} leaves fewer than 2 validation rows"
            f"{sizes}; raise it or set validation_fraction=0"
        )
    eval_b = cfg.resolved_eval_batch_size
    if std_err and n_test < 2 * eval_b:
        raise ValueError(
            f"std_err=True needs at least 2 held-out batches of eval_batch_size={eval_b}{sizes}; "
            "lower eval_batch_size or raise test_fraction"
        )
    name = "eval_batch_size" if cfg.eval_batch_size is not None else "batch_size (also the evaluation batch)"
    check_int(name, eval_b, low=2, high=n_test, context=" and at most the held-out rows" + sizes)

    s_split, s_init, s_batches, s_eval = spawn_seeds(rng, 4)
    copies = monotone_copies(xs, ys)
    if copies:
        xc, yc = copies[0]
        raise ValueError(
            f"{yc} is a strictly monotone function of {xc} (a copy or a rescaled copy): their mutual information is "
            f"+inf, and a {method} bound on it only measures the critic and the batch size; drop the copied "
            "column, or add the noise the measurement really has"
        )
    findings = Findings()
    if cfg.transform != "copula":  # normal scores map every value inside about 4: nothing extreme reaches the critic
        for side in (xs, ys):
            extreme_values(
                side,
                findings,
                method=method,
                what=f"raw inputs (transform={cfg.transform!r})",
                fix="use transform='copula' (the default), on which MI does not depend",
            )
    found = list(findings)
    data = split_and_transform(xs.data, ys.data, n_test, n_val, cfg.transform, s_split, train_dtype)
    critic = build_critic(
        cfg.critic, xs.d, ys.d, hidden=cfg.hidden, embed_dim=cfg.embed_dim, activation=cfg.activation, seed=s_init
    ).to(device=dev, dtype=train_dtype)
    trained = train(method, critic, data, cfg, s_batches, min(eval_b, n_val), progress)
    test_perm = torch.randperm(n_test, generator=torch.Generator().manual_seed(s_eval)).to(dev)
    values = evaluate(
        functools.partial(reported_bound, method, tau=cfg.tau), critic, data.x_test, data.y_test, eval_b, test_perm
    )
    value = float(values.mean())
    if not math.isfinite(value):
        raise TrainingDivergedError(
            f"{method}: the held-out bound is {value} (the critic overflows on held-out rows); "
            f"lower the learning_rate (now {cfg.learning_rate:g}) or train with more data"
        )
    m = len(values)
    se = float(values.std(unbiased=True)) / math.sqrt(m) if m > 1 else None
    found += check_critic(method, values.tolist(), se, trained, cfg, eval_b)
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
    }
    if method == "infonce":
        extras["ceiling"] = math.log(eval_b)
    params = dataclasses.asdict(cfg)
    for field, owner in METHOD_ONLY.items():
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
        diagnostics=tuple(found),
    )
