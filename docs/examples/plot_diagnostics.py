"""
Diagnostics: when a number is in doubt
======================================

Every estimator checks the conditions its formula needs on the data it receives. A
doubtful number comes back with a :class:`~infobench.Diagnostic` on
``Estimate.diagnostics`` (and one :class:`~infobench.DiagnosticWarning`); a number that
would certainly be wrong is refused with a ``ValueError`` that says why and what to do.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np

import infobench
from infobench import tasks

task = tasks.get_task("normal-dense-x1-y1-rho0.75")
x, y = task.sample(3000, seed=0)

# %%
# Clean continuous data: no diagnostic.
est = infobench.mutual_information(x, y, method="ksg", seed=0)
print(f"clean:   {est.value:.3f} nats (truth {task.truth:.3f}), diagnostics: {est.diagnostics}")

# %%
# The same data rounded to one decimal: the kNN estimators dither each value over its
# grid cell and say so (``quantised``, info); the MI of the rounded values is unchanged.
est = infobench.mutual_information(np.round(x, 1), np.round(y, 1), method="ksg", seed=0)
print(f"rounded: {est.value:.3f} nats")
for d in est.diagnostics:
    print(" ", d)

# %%
# One extreme row sets the covariance of the Gaussian estimator: ``extreme-values``
# (warning). ``warnings.simplefilter("error", infobench.DiagnosticWarning)`` would turn
# it into an error.
x_bad = x.copy()
x_bad[:30] = 200.0
with warnings.catch_warnings():
    warnings.simplefilter("ignore", infobench.DiagnosticWarning)
    est = infobench.mutual_information(x_bad, y, method="gaussian")
print(f"extreme: {est.value:.3f} nats")
for d in est.diagnostics:
    print(" ", d)

# %%
# A side that is a copy of the other has infinite MI: KSG refuses it.
try:
    infobench.mutual_information(x, x.copy(), method="ksg", seed=0)
except ValueError as err:
    print("refused:", err)

# %%
# Quantisation, measured: the kNN entropy of a standard normal rounded to a grid of
# step ``s`` estimates the entropy of the continuous quantity rounded, off by about
# ``(s/sd)^2 / 24`` nats, and warns once the grid is coarse (fewer than 8 steps per sd).
steps = [0.01, 0.05, 0.1, 0.25, 0.5]
z = np.random.default_rng(1).normal(size=(3000, 1))
values, flagged = [], []
for s in steps:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", infobench.DiagnosticWarning)
        est = infobench.entropy(np.round(z / s) * s, method="knn", seed=0)
    values.append(est.value)
    flagged.append(any(d.severity == "warning" for d in est.diagnostics))
truth = 0.5 * np.log(2 * np.pi * np.e)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(steps, values, marker="o", label="knn entropy of the rounded data")
ax.scatter(
    [s for s, f in zip(steps, flagged) if f],
    [v for v, f in zip(values, flagged) if f],
    s=120,
    facecolors="none",
    edgecolors="r",
    label="warning: coarse grid",
)
ax.axhline(truth, color="k", ls="--", lw=1, label=f"H of N(0, 1) = {truth:.3f} nats")
ax.set_xscale("log")
ax.set_xlabel("grid step (sd units)")
ax.set_ylabel("entropy (nats)")
ax.legend(fontsize=8)
fig.tight_layout()
