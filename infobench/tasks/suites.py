"""Named suites of tasks and the registry (every task of every suite, by id).

``smoke``        a handful of low-dimensional tasks that every estimator handles in seconds;
``mi-standard``  about 40 MI tasks over all MI families, dimensions 1 to 25 per variable
                 (up to 50 jointly);
``entropy``      the entropy families and their transformed versions;
``staircase``    20-d Gaussian X and Y with I = 2, 4, 6, 8, 10 nats;
``kl``           pairs P, Q with closed-form D(P || Q): Gaussians of different means and
                 covariances, products of exponentials and of Laplaces, invertible maps of both;
``mixtures``     Gaussian mixtures (1 to 10 dimensions per variable, 2 to 8 components), Gaussian
                 tasks contaminated by outliers, class-conditional mixtures with a discrete label
                 (Monte-Carlo truths with their standard errors).
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable

from infobench.tasks.base import Task
from infobench.tasks.entropy_tasks import (
    AffineEntropy,
    ExponentialEntropy,
    GaussianCovEntropy,
    GaussianEntropy,
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
    Independent,
    RandomMixture,
    SwissRoll,
    Transformed,
)
from infobench.tasks.normal import DenseNormal, Normal, SparseNormal, StudentT, staircase

__all__ = ["SUITES", "suite", "list_tasks", "get_task"]

SUITES = ("smoke", "mi-standard", "entropy", "staircase", "kl", "mixtures")

STAIRCASE_LEVELS = (2.0, 4.0, 6.0, 8.0, 10.0)

# A fixed well-conditioned matrix with |det| != 1 for the affine entropy tasks.
_AFFINE_3D = ((2.0, 0.5, 0.0), (0.0, 1.0, -0.3), (0.4, 0.0, 0.5))


def _smoke() -> list[Task]:
    return [
        DenseNormal(1, 1, rho=0.75),
        StudentT(DenseNormal(1, 1, rho=0.5), nu=3),
        AdditiveUniform(eps=0.3),
        Transformed(DenseNormal(2, 2, rho=0.5), x="asinh", y="asinh"),
        CrossMixture(rho=0.9),
        Independent(2, 2),
        GaussianEntropy(2, rho=0.5),
        LaplaceEntropy(1),
    ]


def _mi_standard() -> list[Task]:
    sparse3 = SparseNormal(3, 3, rho=0.8, n_pairs=2)
    sparse5 = SparseNormal(5, 5, rho=0.8, n_pairs=2)
    return [
        # normal: dense equicorrelated, sparse paired correlation, a user covariance
        DenseNormal(1, 1, rho=0.5),
        DenseNormal(1, 1, rho=0.75),
        DenseNormal(2, 2, rho=0.5),
        DenseNormal(5, 5, rho=0.5),
        DenseNormal(25, 25, rho=0.5),
        sparse3,
        sparse5,
        SparseNormal(10, 10, rho=0.6, n_pairs=3),
        SparseNormal(25, 25, rho=0.5, n_pairs=5),
        Normal(((1.0, 0.6, 0.3), (0.6, 2.0, -0.4), (0.3, -0.4, 1.5)), dim_x=1),
        # Student-t: identity dispersion (all MI from the shared scale) and correlated
        StudentT(SparseNormal(1, 1, rho=0.0), nu=1),
        StudentT(SparseNormal(2, 2, rho=0.0), nu=2),
        StudentT(DenseNormal(1, 1, rho=0.5), nu=3),
        StudentT(DenseNormal(2, 2, rho=0.5), nu=5),
        StudentT(sparse5, nu=3),
        # additive uniform noise
        AdditiveUniform(eps=0.1),
        AdditiveUniform(eps=0.75),
        AdditiveUniform(eps=0.3, dim=3),
        # invertible transforms of the above (same truth as the base)
        Transformed(DenseNormal(1, 1, rho=0.75), x="normal-cdf", y="normal-cdf"),
        Transformed(sparse3, x="normal-cdf", y="normal-cdf"),
        Transformed(sparse5, x="half-cube", y="half-cube"),
        Transformed(StudentT(SparseNormal(1, 1, rho=0.0), nu=1), x="asinh", y="asinh"),
        Transformed(DenseNormal(1, 1, rho=0.75), x="wiggly", y="wiggly"),
        Transformed(sparse3, x="wiggly", y="wiggly"),
        Transformed(sparse3, x="spiral"),
        Transformed(sparse5, x="spiral", y="spiral"),
        # bimodal marginals, swiss roll
        Bimodal(DenseNormal(1, 1, rho=0.75)),
        Bimodal(sparse3),
        SwissRoll(rho=0.8),
        # Gaussian mixtures (Monte-Carlo truth)
        CrossMixture(rho=0.9),
        RandomMixture(1, 1, n_components=3, seed=0),
        RandomMixture(2, 2, n_components=3, seed=1),
        RandomMixture(5, 5, n_components=4, seed=2),
        # discrete X, continuous Y
        DiscreteContinuous(m=2),
        DiscreteContinuous(m=5),
        DiscreteContinuous(m=10),
        # independent pairs (I = 0)
        Independent(1, 1),
        Independent(5, 5),
        Independent(2, 2, marginal="uniform"),
        Independent(3, 3, marginal="laplace"),
    ]


def _entropy() -> list[Task]:
    g3 = GaussianEntropy(3, rho=0.5)
    return [
        GaussianEntropy(1),
        g3,
        GaussianEntropy(10, rho=0.3, scale=2.0),
        GaussianCovEntropy(((1.0, 0.8), (0.8, 2.0))),
        UniformEntropy((2.0,)),
        UniformEntropy((1.0, 3.0, 0.5)),
        LaplaceEntropy(1),
        LaplaceEntropy(5, scale=0.5),
        ExponentialEntropy(1),
        ExponentialEntropy(3, rate=2.0),
        StudentTEntropy(1, nu=3),
        StudentTEntropy(3, nu=5, rho=0.5),
        RandomMixtureEntropy(1, n_components=2, seed=0),
        RandomMixtureEntropy(2, n_components=3, seed=1),
        RandomMixtureEntropy(5, n_components=4, seed=2),
        AffineEntropy(g3, _AFFINE_3D),
        AffineEntropy(RandomMixtureEntropy(3, n_components=3, seed=3), _AFFINE_3D),
        TransformedEntropy(GaussianEntropy(2), "asinh"),
        TransformedEntropy(LaplaceEntropy(2), "half-cube"),
        TransformedEntropy(GaussianEntropy(1, scale=0.5), "normal-cdf"),
        TransformedEntropy(StudentTEntropy(1, nu=3), "wiggly"),
        TransformedEntropy(g3, "spiral"),
    ]


def _staircase() -> list[Task]:
    return [staircase(mi) for mi in STAIRCASE_LEVELS]


def _kl() -> list[Task]:
    g2 = GaussianKL(2, shift=1.0, rho_p=0.5)
    return [
        # Gaussians: mean shift, scale change, correlations, P = Q (D = 0)
        GaussianKL(1, shift=1.0),
        GaussianKL(1, shift=0.0, scale_q=2.0),
        GaussianKL(2, shift=0.0),
        g2,
        GaussianKL(5, shift=0.5, rho_p=0.5, rho_q=0.2, scale_q=1.5),
        GaussianKL(10, shift=0.3, rho_q=0.5),
        # products of exponentials and of Laplaces
        ExponentialKL(1, rate_p=1.0, rate_q=2.0),
        ExponentialKL(3, rate_p=1.0, rate_q=0.5),
        LaplaceKL(1, shift=1.0),
        LaplaceKL(3, shift=0.5, scale_q=2.0),
        # one invertible map applied to both sides (same divergence as the base)
        TransformedKL(g2, "asinh"),
        TransformedKL(g2, "spiral"),
        TransformedKL(GaussianKL(1, shift=1.0), "wiggly"),
        TransformedKL(LaplaceKL(1, shift=1.0), "half-cube"),
    ]


def _mixtures() -> list[Task]:
    return [
        # random Gaussian mixtures over (X, Y), several components
        RandomMixture(1, 1, n_components=5, seed=14),
        RandomMixture(2, 2, n_components=8, seed=4, separation=3.0),
        RandomMixture(3, 3, n_components=4, seed=5),
        RandomMixture(5, 5, n_components=6, seed=6),
        RandomMixture(10, 10, n_components=3, seed=7),
        RandomMixture(2, 10, n_components=4, seed=8),
        CrossMixture(rho=0.7),
        # inliers with dependence, outliers without
        Contaminated(DenseNormal(1, 1, rho=0.75), eps=0.05, outlier_scale=10.0),
        Contaminated(DenseNormal(2, 2, rho=0.5), eps=0.1, outlier_scale=5.0),
        Contaminated(SparseNormal(5, 5, rho=0.8, n_pairs=2), eps=0.02, outlier_scale=20.0),
        Contaminated(SparseNormal(10, 10, rho=0.6, n_pairs=3), eps=0.05, outlier_scale=10.0),
        # a discrete label, continuous mixtures given it
        ClassMixture(m=3, dim_y=1, n_components=2, seed=0),
        ClassMixture(m=5, dim_y=2, n_components=3, seed=1),
        ClassMixture(m=4, dim_y=5, n_components=2, seed=2, separation=1.0),
    ]


_BUILDERS: dict[str, Callable[[], list[Task]]] = {
    "smoke": _smoke,
    "mi-standard": _mi_standard,
    "entropy": _entropy,
    "staircase": _staircase,
    "kl": _kl,
    "mixtures": _mixtures,
}


@functools.cache
def _suite(name: str) -> tuple[Task, ...]:
    return tuple(_BUILDERS[name]())


@functools.lru_cache(maxsize=1)
def _registry() -> dict[str, Task]:
    reg: dict[str, Task] = {}
    for name in SUITES:
        for task in _suite(name):
            other = reg.setdefault(task.id, task)
            if other != task:  # pragma: no cover - guards the suite definitions above
                raise RuntimeError(f"two different tasks share the id {task.id!r}: {other!r} and {task!r}")
    return reg


def suite(name: str) -> list[Task]:
    """The tasks of a named suite (one of :data:`SUITES`), in a fixed order.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.
    """
    if not isinstance(name, str) or name not in _BUILDERS:
        raise ValueError(f"suite must be one of {list(SUITES)}; got {name!r}")
    return list(_suite(name))


def list_tasks() -> list[Task]:
    """Every registered task (the union of the suites, each id once), in suite order."""
    return list(_registry().values())


def get_task(task_id: str) -> Task:
    """The registered task with id ``task_id``.

    Raises
    ------
    TypeError
        If ``task_id`` is not a string.
    ValueError
        For an unknown id; the message suggests close ids and lists the valid ones.
    """
    if not isinstance(task_id, str):
        raise TypeError(f"task_id must be a string; got {type(task_id).__name__} {task_id!r}")
    reg = _registry()
    if task_id not in reg:
        close = difflib.get_close_matches(task_id, list(reg), n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise ValueError(f"unknown task id {task_id!r}{hint}; valid ids are {sorted(reg)}")
    return reg[task_id]
