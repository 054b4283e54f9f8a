"""Distributions with known entropy or mutual information, to benchmark estimators.

Every task is a frozen dataclass (:class:`Task`) with an ``id`` built from
its parameters, ``kind`` (``"mi"``, ``"entropy"`` or ``"kl"``), ``family``, ``dim_x``,
``dim_y``, JSON ``params``, ``sample(n, seed)`` and the exact ``truth`` in
nats (closed form, or a cached Monte-Carlo value with ``truth_std_err``).

Examples
--------
>>> from infobench import tasks
>>> t = tasks.get_task("normal-dense-x1-y1-rho0.75")
>>> x, y = t.sample(1000, seed=0)
>>> x.shape, y.shape, round(t.truth, 3)
((1000, 1), (1000, 1), 0.413)
>>> [t.id for t in tasks.suite("staircase")][:2]
['staircase-d20-mi2', 'staircase-d20-mi4']
"""

from infobench.tasks.base import EntropyTask, KLTask, MITask, Task
from infobench.tasks.entropy_tasks import (
    AffineEntropy,
    ExponentialEntropy,
    GaussianCovEntropy,
    GaussianEntropy,
    GaussianMixtureEntropy,
    LaplaceEntropy,
    RandomMixtureEntropy,
    StudentTEntropy,
    TransformedEntropy,
    UniformEntropy,
)
from infobench.tasks.kl_tasks import ExponentialKL, GaussianKL, LaplaceKL, TransformedKL
from infobench.tasks.mi_tasks import (
    AdditiveUniform,
    Bimodal,
    ClassMixture,
    Contaminated,
    CrossMixture,
    DiscreteContinuous,
    GaussianMixture,
    Independent,
    RandomMixture,
    SwissRoll,
    Transformed,
)
from infobench.tasks.normal import DenseNormal, Normal, SparseNormal, Staircase, StudentT, staircase
from infobench.tasks.suites import SUITES, get_task, list_tasks, suite
from infobench.tasks.transforms import TRANSFORMS

__all__ = [
    "Task",
    "MITask",
    "EntropyTask",
    "KLTask",
    "SUITES",
    "TRANSFORMS",
    "get_task",
    "list_tasks",
    "suite",
    "staircase",
    # MI tasks
    "DenseNormal",
    "SparseNormal",
    "Normal",
    "Staircase",
    "StudentT",
    "AdditiveUniform",
    "Transformed",
    "Bimodal",
    "SwissRoll",
    "GaussianMixture",
    "CrossMixture",
    "RandomMixture",
    "DiscreteContinuous",
    "Independent",
    "Contaminated",
    "ClassMixture",
    # entropy tasks
    "GaussianEntropy",
    "GaussianCovEntropy",
    "UniformEntropy",
    "LaplaceEntropy",
    "ExponentialEntropy",
    "StudentTEntropy",
    "GaussianMixtureEntropy",
    "RandomMixtureEntropy",
    "TransformedEntropy",
    "AffineEntropy",
    # KL tasks
    "GaussianKL",
    "ExponentialKL",
    "LaplaceKL",
    "TransformedKL",
]
