"""Checks of a trained critic and of its inputs: what is refused, and the doubts reported with the number.

Refused (:class:`TrainingDivergedError`): a critic whose optimisation blew
up, so that its number means nothing. Reported (a
:class:`~infobench.diagnostics.Diagnostic` on the estimate, emitted once as
a :class:`~infobench.diagnostics.DiagnosticWarning` by the registry):

``unstable-training``
    The training curves fell far below a constant critic's score although
    the evaluated critic recovered: the estimate is likely too low.
``below-zero``
    The held-out estimate is below 0 by more than its standard error allows
    (MI is never negative; the critic fits the held-out rows worse than a
    constant would).
``near-ceiling``
    InfoNCE within 5 % of ``log(eval_batch_size)``, the most it can report.
``outlier-batch``
    Leaving out the most extreme held-out batch moves the estimate by more
    than 3 robust standard errors of the batch values (10 with fewer than 12
    batches): the number rests on a few held-out rows (typically a critic
    whose ``e^f`` overflows on pairs unlike its training pairs).
``extreme-values``
    With ``transform="scale"`` or ``"none"``, a column whose standard
    deviation exceeds 3 robust scales (the shared check of
    :func:`infobench.estimators._conditions.extreme_values`): the critic sees
    raw heavy-tailed coordinates, and a few rows can move the estimate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from infobench.diagnostics import Diagnostic, InfobenchWarning
from infobench.estimators._transforms import IQR_TO_SD
from infobench.estimators.neural._config import NeuralConfig

__all__ = [
    "TrainingDivergedError",
    "TrainingUnstableWarning",
    "EstimateNearCeilingWarning",
    "CONSTANT_CRITIC",
    "check_critic",
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
# errors, counted up to SE_CAP) beyond which the run is refused as diverged.
# Diverged runs read 1e2 to 1e17 nats off (tests/test_neural.py,
# test_diverged_critics_are_refused); healthy runs on independent data read
# within 0.1 nat of 0.
DIVERGED_MARGIN = 1.0
# The most of the held-out standard error that widens the divergence
# tolerance: a held-out bound whose standard error exceeds 1 nat is itself the
# sign of a critic that blew up on some held-out rows (NWJ on Student-t data
# with one degree of freedom: -5.9e10 +- 5.9e10 nats), not a wide interval
# around a usable number.
SE_CAP = 1.0
# A held-out estimate below -(BELOW_ZERO_MARGIN + 3 se) nats is reported as
# below-zero. The margin covers what the held-out standard error leaves out:
# a critic fitted to finite data reads slightly below 0 on independent rows
# (the four methods at their defaults on independent 5-d Gaussian pairs,
# n = 5,000: -0.013 to -0.021 nats, 5.5 standard errors below 0, on one seed).
BELOW_ZERO_MARGIN = 0.05
# The outlier-batch doubt: leaving out the most extreme held-out batch moves
# the estimate by more than OUTLIER_SES robust standard errors (IQR / 1.349 of
# the batch values over sqrt(batches)) and by more than OUTLIER_NATS. Fewer
# batches make the IQR noisier, so the factor depends on their number m. With
# normal batch values the ratio exceeds 3 in 0.05 % of draws at m = 12 and in
# none of 20,000 at m = 19 (the default 5,000 rows give 19 batches); it
# exceeds 10 in 0.01 % of draws at m = 7 (2,000 rows) to 11. Below 7 batches
# no factor separates an outlier from the noise of the IQR (0.1 % of draws
# exceed 10 at m = 6), and nothing is said. NWJ on a 5 x 5 Student-t task
# (nu = 3, truth 0.30) read -0.32 +- 0.55 nats, where its other runs read
# 0.19 +- 0.01: one held-out batch carried the mean.
OUTLIER_SES = {12: 3.0, 7: 10.0}
OUTLIER_NATS = 0.02
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
    """Deprecated, no longer emitted: unstable training is the ``unstable-training`` diagnostic.

    Kept one release so that warning filters naming it still import; the
    doubt now travels on :attr:`infobench.Estimate.diagnostics` and is
    emitted as a :class:`~infobench.diagnostics.DiagnosticWarning`.
    """


class EstimateNearCeilingWarning(InfobenchWarning):
    """Deprecated, no longer emitted: an InfoNCE estimate near log(batch) is the ``near-ceiling`` diagnostic.

    Kept one release so that warning filters naming it still import.
    """


def fix_hint(cfg: NeuralConfig) -> str:
    """The advice that ends every divergence message."""
    return f"Lower the learning_rate (now {cfg.learning_rate:g}; try {cfg.learning_rate / 10:g})" + (
        " or set transform='copula' (the default)" if cfg.transform == "none" else ""
    )


def check_critic(
    method: str,
    values: Sequence[float],
    se: float | None,
    trained: dict[str, Any],
    cfg: NeuralConfig,
    eval_batch_size: int,
) -> list[Diagnostic]:
    """Refuse the estimate of a diverged critic; return the doubts about a sane one (empty when none).

    A constant critic scores ``CONSTANT_CRITIC[method]`` on the training
    objective and 0 on every reported bound (DV, NWJ, InfoNCE, clipped DV), so
    it is a floor that any trained critic can reach. Raises
    :class:`TrainingDivergedError` (the number would be meaningless) when

    * the held-out estimate is below ``-(1 + 3 min(se, 1))`` nats: all four
      bounds are (up to SMILE's clipping and DV's finite-batch bias, both
      upward) lower bounds of a non-negative MI, so a critic reading far
      below 0 on unseen rows has blown up (MINE at learning rate 1: -1e10
      nats). The standard error widens the tolerance by at most 3 nats: one
      larger than a nat comes from held-out batches on which the critic
      overflowed, so the estimate below -4 nats is refused whatever it is;
    * the evaluated critic's objective on the validation rows (the last
      training block without validation) is more than 1 nat below the
      constant critic's. This catches SMILE, whose reported value has no
      upper bound (``E_P[f]`` is unclipped): at learning rate 100 it reads
      +6e17 nats while its Jensen-Shannon objective reads -5e13.

    Returns, as :class:`~infobench.diagnostics.Diagnostic`:

    * ``unstable-training`` when a training batch or validation check read
      more than ``10 max(1, |objective|)`` nats below the constant critic:
      the best-validation critic recovered, but the run nearly diverged.
      NWJ on the 20-d staircase at 10 nats (n = 20,000, 500 steps) triggers
      it with its own exponential variance (a batch reads -51 nats; the
      estimate is 2.9), which the message names;
    * ``below-zero`` when the estimate is below ``-(0.05 + 3 se)`` nats;
    * ``outlier-batch`` when leaving out the most extreme held-out batch
      moves the estimate by more than 3 robust standard errors of the batch
      values (10 with 7 to 11 batches; nothing is said below 7) and by more
      than 0.02 nats;
    * ``near-ceiling`` when an InfoNCE estimate is within 5 % of
      ``log(eval_batch_size)`` (:func:`infonce_bound` cannot exceed it, so
      its upper side needs no other check).
    """
    value = sum(values) / len(values)
    floor = CONSTANT_CRITIC[method]
    margin = DIVERGED_MARGIN + 3 * min(se or 0.0, SE_CAP)
    spread = "" if se is None else f" +- {se:.3g}"
    through = "" if se is None else f" with its standard error {se:.3g}"
    if value < -margin:
        raise TrainingDivergedError(
            f"{method} training diverged: the held-out estimate is {value:.4g} nats, far below the 0 that a "
            f"constant critic scores (tolerance {margin:.3g} nats{through}): no estimate is returned. {fix_hint(cfg)}"
        )
    objective = trained["objective"]
    where = "validation rows" if trained["validation_curve"] else "last training steps"
    if objective < floor - DIVERGED_MARGIN:
        raise TrainingDivergedError(
            f"{method} training diverged: the evaluated critic's training objective on the {where} is "
            f"{objective:.4g}, far below the {floor:.3f} of a constant critic (the estimate would have been "
            f"{value:.4g} nats): no estimate is returned. {fix_hint(cfg)}"
        )
    found = []
    limit = floor - EXCURSION_FACTOR * max(1.0, abs(objective))
    step, lowest = trained["lowest_train_objective"]
    kind = "training-batch"
    for s, v in trained["validation_curve"]:
        if v < lowest:
            step, lowest, kind = s, v, "validation"
    if lowest < limit:
        found.append(
            Diagnostic(
                "unstable-training",
                f"{method} training was unstable: the {kind} objective fell to {lowest:.4g} at step {step} "
                f"(a constant critic scores {floor:.3f}, the evaluated critic {objective:.4g}); the estimate "
                f"{value:.4g} nats is likely too low. {fix_hint(cfg)}"
                + (
                    f"; {method}'s variance grows exponentially with the MI: at several nats use method='smile'"
                    if method in ("mine", "nwj")
                    else ""
                ),
                subject="learning_rate",
            )
        )
    low = BELOW_ZERO_MARGIN + 3 * (se or 0.0)
    if value < -low:
        found.append(
            Diagnostic(
                "below-zero",
                f"the {method} estimate {value:.4g}{spread} nats is below 0 by more than {low:.3g} nats "
                f"({BELOW_ZERO_MARGIN:g} + 3 standard errors), which no mutual information is: the critic scores "
                "the held-out rows worse than a constant critic would, so this number is a poor bound, not an "
                f"estimate of the MI. {fix_hint(cfg)}, or train longer (more steps) or on more rows",
            )
        )
    found += _outlier_batch(method, values)
    if method == "infonce":
        ceiling = math.log(eval_batch_size)
        if value >= (1 - CEILING_MARGIN) * ceiling:
            found.append(
                Diagnostic(
                    "near-ceiling",
                    f"infonce estimate {value:.3f} nats is within {CEILING_MARGIN:.0%} of its ceiling "
                    f"log(eval_batch_size) = log({eval_batch_size}) = {ceiling:.3f} nats: the true MI may be much "
                    "larger; use a larger batch_size or method='smile'",
                    subject="eval_batch_size",
                )
            )
    return found


def _outlier_batch(method: str, values: Sequence[float]) -> list[Diagnostic]:
    """``outlier-batch`` when the estimate hangs on its most extreme held-out batch (see OUTLIER_SES)."""
    m = len(values)
    factors = [f for fewest, f in OUTLIER_SES.items() if m >= fewest]
    if not factors:
        return []
    v = np.asarray(values, dtype=np.float64)
    mean = float(v.mean())
    worst = int(np.argmax(np.abs(v - np.median(v))))
    rest = (mean * m - v[worst]) / (m - 1)
    q75, q25 = np.percentile(v, [75, 25])
    robust_se = (q75 - q25) / IQR_TO_SD / math.sqrt(m)
    shift = abs(mean - rest)
    if shift <= OUTLIER_NATS or shift <= factors[0] * robust_se:
        return []
    return [
        Diagnostic(
            "outlier-batch",
            f"the {method} estimate {mean:.4g} nats becomes {rest:.4g} without its most extreme held-out batch "
            f"(value {v[worst]:.4g}; the middle half of the {m} batches lies in [{q25:.4g}, {q75:.4g}]): the number "
            "rests on a few held-out rows, on which the critic extrapolates. Lower the learning_rate or train on more "
            "rows"
            + (
                "; or use method='smile' or 'infonce', whose partition terms are bounded"
                if method in ("mine", "nwj")
                else ""
            ),
        )
    ]
