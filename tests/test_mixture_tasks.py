"""Mixture and outlier tasks: Monte-Carlo truths against independent Monte Carlo, limits with closed forms."""

import math

import numpy as np
import pytest

from infobench import tasks
from infobench.tasks import (
    ClassMixture,
    Contaminated,
    DenseNormal,
    RandomMixture,
    RandomMixtureEntropy,
    SparseNormal,
    StudentT,
)

MIXTURES = tasks.suite("mixtures")


@pytest.mark.parametrize("task", MIXTURES, ids=lambda t: t.id)
def test_truth_matches_independent_monte_carlo(task):
    # The stored truth is stratified Monte Carlo with a fixed seed; here the
    # pointwise MI is averaged over 50,000 draws of the task's own sampler
    # (a different code path and seed). Both errors are reported, so 5
    # combined standard errors bound the difference (false alarm < 1e-6).
    x, y = task.sample(50_000, seed=123)
    r = task.pointwise_mi(x, y)
    se = math.hypot(r.std(ddof=1) / math.sqrt(len(r)), task.truth_std_err)
    assert abs(r.mean() - task.truth) <= 5 * se
    assert 0.0 < task.truth_std_err < 0.01


@pytest.mark.parametrize(("dim_x", "dim_y", "k", "seed", "separation"), [(1, 1, 3, 0, 2.0), (2, 3, 8, 4, 3.0)])
def test_random_mixture_entropy_and_mi_tasks_are_one_distribution(dim_x, dim_y, k, seed, separation):
    # Equal parameters give the same mixture on R^(dim_x + dim_y): the MI task's
    # (X, Y) draws are the entropy task's, number for number.
    mi = RandomMixture(dim_x, dim_y, n_components=k, seed=seed, separation=separation)
    h = RandomMixtureEntropy(dim_x + dim_y, n_components=k, seed=seed, separation=separation)
    for n, s in [(1, 0), (257, 11)]:
        np.testing.assert_array_equal(np.hstack(mi.sample(n, s)), h.sample(n, s))
    for a, b in zip(
        (mi.mixture.weights, mi.mixture.means, mi.mixture.covs), (h.mixture.weights, h.mixture.means, h.mixture.covs)
    ):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("task", "truth"),
    [
        (RandomMixture(1, 1, n_components=3, seed=0), 0.41303836459097404),
        (RandomMixture(2, 3, n_components=8, seed=4, separation=3.0), 1.1675637635781797),
        (RandomMixtureEntropy(2, n_components=3, seed=1), 3.1707063487906266),
        (RandomMixtureEntropy(5, n_components=8, seed=4, separation=3.0), 8.807578800095914),
    ],
    ids=lambda v: getattr(v, "id", ""),
)
def test_random_mixture_truths_are_pinned(task, truth):
    # A task's parameters fix its mixture and its Monte-Carlo truth (fixed seed):
    # the stored values must not move (1e-9 allows other BLAS builds' rounding;
    # the standard errors are ~1e-3).
    assert task.truth == pytest.approx(truth, rel=1e-9)


def test_contamination_of_independent_unit_normals_is_independent():
    # Inliers N(0, I) and outliers N(0, 1^2 I): the mixture is N(0, I), I = 0 exactly,
    # and every pointwise term is 0 up to rounding.
    t = Contaminated(SparseNormal(2, 2, rho=0.0, n_pairs=1), eps=0.3, outlier_scale=1.0)
    assert t.truth == pytest.approx(0.0, abs=1e-12)
    x, y = t.sample(100, seed=0)
    np.testing.assert_allclose(t.pointwise_mi(x, y), 0.0, atol=1e-12)


def test_few_outliers_leave_the_base_mi_nearly_unchanged():
    base = DenseNormal(1, 1, rho=0.75)
    t = Contaminated(base, eps=1e-4, outlier_scale=10.0)
    # the outliers move I by O(eps log(1/eps)) ~ 1e-3 nats
    assert abs(t.truth - base.truth) < 5e-3
    assert t.id == "outliers-eps0.0001-s10-normal-dense-x1-y1-rho0.75"
    assert (t.dim_x, t.dim_y, t.family) == (1, 1, "outliers")


def test_separated_classes_give_log_m():
    # Means ~ N(0, 1000^2): the classes do not overlap, Y determines X, I = H(X) = log m.
    t = ClassMixture(m=3, dim_y=2, n_components=2, seed=0, separation=1000.0)
    assert t.truth == pytest.approx(math.log(3), abs=1e-6)


def test_class_mixture_protocol():
    t = ClassMixture(m=4, dim_y=3, n_components=2, seed=1)
    x, y = t.sample(400, seed=2)
    assert x.dtype == np.int64 and x.shape == (400, 1) and set(np.unique(x)) == {0, 1, 2, 3}
    assert y.shape == (400, 3) and y.dtype == np.float64
    assert 0.0 < t.truth < math.log(4)
    assert t.discrete_x and not t.discrete_y
    assert t.id == "class-mixture-m4-y3-k2-s1"


def test_ksg_with_discrete_label_reads_class_mixture():
    import infobench

    t = ClassMixture(m=3, dim_y=1, n_components=2, seed=0)
    x, y = t.sample(4000, seed=5)
    est = infobench.mutual_information(x, y, "ksg")  # the int64 label is detected as discrete
    # the mixed KSG estimator at n=4000 has a spread of ~0.02 nats here; its
    # bias on this smooth 1-d conditional is of the same order
    assert est.value == pytest.approx(t.truth, abs=0.08)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Contaminated(StudentT(DenseNormal(1, 1, rho=0.5), nu=3)), r"base must be a Gaussian MI task"),
        (lambda: Contaminated(DenseNormal(1, 1, rho=0.5), eps=1.0), r"eps must be"),
        (lambda: Contaminated(DenseNormal(1, 1, rho=0.5), outlier_scale=0.0), r"outlier_scale must be"),
        (lambda: ClassMixture(m=1), r"m must be an integer"),
        (lambda: ClassMixture(m=2, dim_y=0), r"dim_y must be an integer"),
        (lambda: ClassMixture(m=2, n_components=0), r"n_components must be an integer"),
    ],
)
def test_validation_messages(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()
