"""Standard errors shared by the estimators.

Two routes, chosen per method:

* estimators that are an average of per-point terms (KL/KSG kNN, KDE
  leave-one-out) report the standard error of that mean,
  ``std(terms, ddof=1) / sqrt(n)``;
* the others use a seeded bootstrap over rows, :func:`bootstrap_std_err`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import torch

from infobench._validation import as_generator, check_int

__all__ = ["mean_std_err", "bootstrap_std_err"]


def mean_std_err(terms: torch.Tensor | np.ndarray) -> float:
    """Standard error of the mean of per-point terms: ``s / sqrt(n)`` with ``ddof=1``.

    The terms of kNN estimators are weakly dependent (neighbours share
    points), so this is an approximation; the benchmark measures the coverage
    it achieves.
    """
    t = torch.as_tensor(terms, dtype=torch.float64).flatten()
    n = t.numel()
    if n < 2:
        return float("nan")
    return float(t.std(unbiased=True).item() / math.sqrt(n))


def bootstrap_std_err(
    statistic: Callable[..., float],
    arrays: Sequence[Any],
    *,
    n_boot: int = 100,
    seed: Any = None,
) -> float:
    """Bootstrap standard error of ``statistic(*arrays)`` resampling rows jointly.

    Parameters
    ----------
    statistic : callable
        Maps row-resampled arrays (same types as given) to a float.
    arrays : sequence of torch.Tensor or numpy.ndarray
        Paired arrays with the same number of rows.
    n_boot : int
        Number of bootstrap replicates (>= 2).
    seed : int, Generator or None
        Seed for the row draws.

    Returns
    -------
    float
        Standard deviation (ddof=1) of the replicates, in the statistic's units.
    """
    n_boot = check_int("n_boot", n_boot, low=2)
    rng = as_generator(seed)
    n = len(arrays[0])
    reps = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, size=n)
        picked = []
        for a in arrays:
            if isinstance(a, torch.Tensor):
                picked.append(a[torch.as_tensor(idx, device=a.device)])
            else:
                picked.append(a[idx])
        reps[b] = float(statistic(*picked))
    return float(np.std(reps, ddof=1))
