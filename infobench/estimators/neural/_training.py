"""Training of a critic: the split and scaling of the rows, the loop, early stopping, held-out evaluation.

The rows are split once into rows to fit on, validation rows (a part of the
training rows) and held-out test rows; each column is mapped by a transform
fitted on the training rows. The loop trains on the fit rows only;
early stopping and the choice of the evaluated critic watch the validation
rows only; :func:`evaluate` is what is run on the test rows, once.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from infobench._progress import progress as show_progress
from infobench.estimators._transforms import normal_scores, robust_scale
from infobench.estimators.neural._bounds import js_bound, logmeanexp_offdiag, reported_bound, smile_bound
from infobench.estimators.neural._checks import TrainingDivergedError, fix_hint
from infobench.estimators.neural._config import NeuralConfig

__all__ = ["BLOCK", "Split", "fitted_transform", "split_and_transform", "evaluate", "train"]

# Training-signal bookkeeping (NaN check, early stopping, progress) happens
# once per block of steps: one device sync per block instead of per step.
BLOCK = 50


@dataclass
class Split:
    """Transformed data: rows to fit on, to validate (may be empty) and to report on."""

    x_fit: torch.Tensor
    y_fit: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def fitted_transform(v: torch.Tensor, train: torch.Tensor, transform: str, name: str) -> torch.Tensor:
    """Every row of ``v`` mapped column by column by ``transform``, fitted on the rows ``train`` alone.

    ``"copula"``: normal scores among the training values; ``"scale"``:
    ``(v - median) / robust scale`` of the training values; ``"none"``:
    ``v``. Nothing about the other rows enters the map.
    """
    if transform == "none":
        return v
    ref = v[train]
    if transform == "copula":
        return normal_scores(v, reference=ref)
    centre = ref.median(dim=0).values
    scale = torch.tensor(robust_scale(ref, f"{name} (training rows)"), dtype=v.dtype, device=v.device)
    return (v - centre) / scale


def split_and_transform(
    x: torch.Tensor, y: torch.Tensor, n_test: int, n_val: int, transform: str, seed: int, dtype: torch.dtype
) -> Split:
    """Split the rows at random (test, validation, fit); map each column by ``transform`` fitted on training rows.

    Training-side statistics only: the held-out rows do not influence
    anything the critic sees (they are mapped by the training rows' map).
    """
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(x.shape[0], generator=gen).to(x.device)
    test, val, fit = perm[:n_test], perm[n_test : n_test + n_val], perm[n_test + n_val :]
    train = perm[n_test:]
    parts = []
    for v, name in ((x, "x"), (y, "y")):
        v = fitted_transform(v, train, transform, name)
        parts.append([v[rows].to(dtype).contiguous() for rows in (fit, val, test)])
    (x_fit, x_val, x_test), (y_fit, y_val, y_test) = parts
    return Split(x_fit, y_fit, x_val, y_val, x_test, y_test)


@torch.no_grad()
def evaluate(
    bound: Callable[[torch.Tensor], torch.Tensor],
    critic: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch: int,
    perm: torch.Tensor,
) -> torch.Tensor:
    """``bound`` on each disjoint batch ``perm[k*batch:(k+1)*batch]``, reduced in float64."""
    was_training = critic.training
    critic.eval()
    wide = torch.float64 if x.device.type != "mps" else torch.float32
    values = []
    for k in range(x.shape[0] // batch):
        idx = perm[k * batch : (k + 1) * batch]
        values.append(bound(critic(x[idx], y[idx]).to(wide)))
    critic.train(was_training)
    return torch.stack(values).cpu().to(torch.float64)


def train(
    method: str, critic: nn.Module, data: Split, cfg: NeuralConfig, seed: int, val_batch: int, progress: bool
) -> dict[str, Any]:
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
    monitor = js_bound if method == "smile" else functools.partial(reported_bound, method, tau=cfg.tau)
    opt = torch.optim.AdamW(critic.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    autocast = (
        torch.autocast(device_type="cuda", dtype=torch.bfloat16) if cfg.mixed_precision else contextlib.nullcontext()
    )
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
    with show_progress(progress, cfg.steps, f"training {method}", unit="steps", value_name="objective") as advance:
        for start in range(0, cfg.steps, BLOCK):
            stop = min(cfg.steps, start + BLOCK)
            for step in range(start, stop):
                if cfg.lr_schedule == "cosine":
                    for group in opt.param_groups:
                        group["lr"] = cfg.learning_rate * 0.5 * (1.0 + math.cos(math.pi * step / cfg.steps))
                k = step % per_epoch
                if k == 0:
                    perm = torch.randperm(n, generator=gen).to(device)
                idx = perm[k * b : (k + 1) * b]
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
                    objective = reported_bound(method, scores, cfg.tau)
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
                    f"{start + first + 1} of {cfg.steps}; no estimate is returned. {fix_hint(cfg)}"
                )
            low = int(torch.argmin(block_monitored))
            if float(block_monitored[low]) < lowest[1]:
                lowest = (start + low + 1, float(block_monitored[low]))
            if validate:
                signal = float(evaluate(monitor, critic, data.x_val, data.y_val, val_batch, val_perm).mean())
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
