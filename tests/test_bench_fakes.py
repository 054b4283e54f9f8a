"""Test doubles for the benchmark runner: a Task-like dataclass and test-only estimators.

Kept in an importable module (no tests here) because worker processes import
it: unpickling a FakeTask imports this module, which registers the test
estimators in the worker too.
"""

from __future__ import annotations

import math
import os
import signal
import time
from dataclasses import dataclass, field

import numpy as np

from infobench._validation import as_generator, check_samples
from infobench.estimators.base import Estimate, register


@dataclass(frozen=True)
class FakeTask:
    """Bivariate normal with correlation rho: I(X;Y) = -log(1 - rho^2) / 2 nats (closed form).

    With ``kind="entropy"``: X ~ N(0, sigma^2), H = log(sigma sqrt(2 pi e)).
    """

    rho: float = 0.5
    kind: str = "mi"
    sigma: float = 1.0
    family: str = "normal"
    discrete_x: bool = False
    discrete_y: bool = False
    truth_std_err: float = 0.0
    params: dict = field(default=None, compare=False, hash=False)

    def __post_init__(self):
        object.__setattr__(self, "params", {"rho": self.rho, "sigma": self.sigma})

    @property
    def id(self) -> str:
        return f"fake-{self.kind}-rho{self.rho}-s{self.sigma}"

    @property
    def dim_x(self) -> int:
        return 1

    @property
    def dim_y(self) -> int:
        return 1 if self.kind == "mi" else 0

    @property
    def truth(self) -> float:
        if self.kind == "mi":
            return -0.5 * math.log1p(-(self.rho**2))
        return math.log(self.sigma * math.sqrt(2 * math.pi * math.e))

    def sample(self, n, seed):
        rng = as_generator(seed)
        x = rng.normal(size=(n, 1)) * self.sigma
        if self.kind != "mi":
            return x
        y = self.rho * x / self.sigma + math.sqrt(1 - self.rho**2) * rng.normal(size=(n, 1))
        return x, y


@register("mi", "bench-test-gauss", replace=True)
def gauss_mi(
    x,
    y,
    *,
    delay: float = 0.0,
    fail: bool = False,
    jitter: float = 0.0,
    die: bool = False,
    std_err: bool = False,
    seed=None,
    discrete_x: bool | None = None,
    discrete_y: bool | None = None,
) -> Estimate:
    """Plug-in Gaussian MI -log(1 - r^2)/2 from the sample correlation r (test double).

    ``jitter`` adds seeded noise of that scale (to make the estimator seed matter),
    ``delay`` sleeps (to test time limits and kills), ``fail`` raises, ``die``
    kills its own process with SIGKILL (only ever used in worker processes).
    """
    xs, ys = check_samples(x, "x", device="cpu"), check_samples(y, "y", device="cpu")
    if fail:
        raise ValueError("bench-test-gauss was asked to fail")
    if die:
        os.kill(os.getpid(), signal.SIGKILL)
    if delay:
        time.sleep(delay)
    r = float(np.corrcoef(xs.data[:, 0].numpy(), ys.data[:, 0].numpy())[0, 1])
    value = -0.5 * math.log1p(-r * r)
    if jitter:
        value += jitter * float(as_generator(seed).normal())
    # Delta method: var(r) ~ (1 - r^2)^2 / n and dI/dr = r / (1 - r^2).
    se = abs(r) / math.sqrt(xs.n) if std_err else None
    extras = {"flags": (discrete_x, discrete_y)}
    return Estimate(value, se, xs.n, params={"delay": delay}, extras=extras)


@register("entropy", "bench-test-gauss-h", replace=True)
def gauss_entropy(x, *, std_err: bool = False) -> Estimate:
    """Plug-in Gaussian entropy log(s sqrt(2 pi e)) from the sample standard deviation s (test double)."""
    xs = check_samples(x, "x", device="cpu")
    s = float(xs.data[:, 0].std())
    se = 1 / math.sqrt(2 * xs.n) if std_err else None  # var(log s) ~ 1 / (2n)
    return Estimate(math.log(s * math.sqrt(2 * math.pi * math.e)), se, xs.n)


def reference_gauss_mi(task: FakeTask, n: int, data_seed: int) -> float:
    """Independent computation of what bench-test-gauss returns for a cell (jitter 0)."""
    x, y = task.sample(n, data_seed)
    r = np.corrcoef(x[:, 0], y[:, 0])[0, 1]
    return float(-0.5 * np.log1p(-r * r))
