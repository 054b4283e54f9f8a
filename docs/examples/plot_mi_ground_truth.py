"""
Mutual information against the truth
====================================

KSG, the Gaussian baseline and ``auto`` on a correlated Gaussian pair whose mutual
information is known in closed form, ``I = -1/2 log(1 - rho^2)``, over growing sample sizes.
"""

import matplotlib.pyplot as plt

import infobench
from infobench import tasks

task = tasks.get_task("normal-dense-x1-y1-rho0.75")
sizes = [200, 500, 1000, 2000, 5000]
fig, ax = plt.subplots(figsize=(6, 3.5))
for method in ("ksg", "gaussian", "auto"):
    values, errors = [], []
    for n in sizes:
        x, y = task.sample(n, seed=0)
        est = infobench.mutual_information(x, y, method=method, std_err=True, seed=0)
        values.append(est.value)
        errors.append(1.96 * est.std_err)
    ax.errorbar(sizes, values, yerr=errors, marker="o", capsize=3, label=method)
    print(method, [round(v, 3) for v in values])
ax.axhline(task.truth, color="k", ls="--", lw=1, label=f"truth {task.truth:.3f} nats")
ax.set_xscale("log")
ax.set_xlabel("n")
ax.set_ylabel("MI (nats)")
ax.legend()
fig.tight_layout()
