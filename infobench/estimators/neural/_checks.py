"""Checks of a trained critic: divergence (refused), unstable training and the InfoNCE ceiling (reported)."""

from __future__ import annotations

import math
from typing import Any

from infobench.diagnostics import InfobenchWarning
from infobench.estimators.neural._config import NeuralConfig

__all__ = [
    "TrainingDivergedError",
    "TrainingUnstableWarning",
    "EstimateNearCeilingWarning",
    "CONSTANT_CRITIC",
    "check_divergence",
    "fix_hint",
]

# An InfoNCE estimate this close to its ceiling log(batch) says little about
# the true MI, which may be far larger.
CEILING_MARGIN = 0.05
# What a constant critic scores on each method's training objective: 0 for the
# DV, NWJ (at f = 1) and InfoNCE bounds, -log 4 for SMILE's Jensen-Shannon
# objective (at f = 0). Every trained critic can reach it, so one that reads
# far below it on rows it was not fitted to is broken, not merely poor.
CONSTANT_CRITIC = {"mine": 0.0, "nwj": 0.0, "infonce": 0.0, "smile": -math.log(4.0)}
# Nats below those values (and, for the held-out estimate, also 3 standard
# errors) beyond which the run is refused as diverged. Diverged runs read
# 1e2 to 1e17 nats off (tests/test_neural.py, test_diverged_critics_are_refused);
# healthy runs on independent data read within 0.1 nat of 0.
DIVERGED_MARGIN = 1.0
# A training-batch or validation objective this many times max(1, |final
# objective|) nats below the constant critic's value, although the evaluated
# critic recovered, is reported as unstable training.
EXCURSION_FACTOR = 10.0


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


def fix_hint(cfg: NeuralConfig) -> str:
    """The advice that ends every divergence message."""
    return (f"Lower the learning_rate (now {cfg.learning_rate:g}; try {cfg.learning_rate / 10:g})"
            + ("" if cfg.standardize else " or set standardize=True"))


def check_divergence(method: str, value: float, se: float | None, trained: dict[str, Any],
                     cfg: NeuralConfig) -> str | None:
    """Refuse the estimate of a diverged critic; return a warning text for unstable training, else None.

    A constant critic scores ``CONSTANT_CRITIC[method]`` on the training
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
    floor = CONSTANT_CRITIC[method]
    margin = DIVERGED_MARGIN + 3 * (se or 0.0)
    if value < -margin:
        raise TrainingDivergedError(
            f"{method} training diverged: the held-out estimate is {value:.4g} nats, far below the 0 that a "
            f"constant critic scores (tolerance {margin:.3g} nats): no estimate is returned. {fix_hint(cfg)}"
        )
    objective = trained["objective"]
    where = "validation rows" if trained["validation_curve"] else "last training steps"
    if objective < floor - DIVERGED_MARGIN:
        raise TrainingDivergedError(
            f"{method} training diverged: the evaluated critic's training objective on the {where} is "
            f"{objective:.4g}, far below the {floor:.3f} of a constant critic (the estimate would have been "
            f"{value:.4g} nats): no estimate is returned. {fix_hint(cfg)}"
        )
    limit = floor - EXCURSION_FACTOR * max(1.0, abs(objective))
    step, lowest = trained["lowest_train_objective"]
    kind = "training-batch"
    for s, v in trained["validation_curve"]:
        if v < lowest:
            step, lowest, kind = s, v, "validation"
    if lowest < limit:
        return (f"{method} training was unstable: the {kind} objective fell to {lowest:.4g} at step {step} "
                f"(a constant critic scores {floor:.3f}, the evaluated critic {objective:.4g}); the estimate "
                f"{value:.4g} nats is likely too low. {fix_hint(cfg)}"
                + (f"; {method}'s variance grows exponentially with the MI: at several nats use method='smile'"
                   if method in ("mine", "nwj") else ""))
    return None
