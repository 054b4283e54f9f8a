"""Tasks: the protocol (shapes, dtypes, seeds, ids, params), suites, transforms and validation messages.

The truths themselves are checked against independent computations in
``tests/test_tasks_truth.py``.
"""

import json
import math

import numpy as np
import pytest
import torch
from scipy import special, stats

from infobench import tasks
from infobench.tasks import (
    AdditiveUniform,
    AffineEntropy,
    Bimodal,
    CrossMixture,
    DenseNormal,
    DiscreteContinuous,
    ExponentialEntropy,
    GaussianEntropy,
    GaussianMixture,
    Independent,
    LaplaceEntropy,
    Normal,
    RandomMixture,
    SparseNormal,
    StudentT,
    StudentTEntropy,
    SwissRoll,
    Transformed,
    TransformedEntropy,
    UniformEntropy,
)
from infobench.tasks.base import _cached_truth
from infobench.tasks.transforms import BIMODAL_X, BIMODAL_Y, TRANSFORMS, get_transform

ALL = tasks.list_tasks()


# ----------------------------------------------------------------- protocol
@pytest.mark.parametrize("task", ALL, ids=lambda t: t.id)
def test_sample_shapes_dtypes_and_reproducibility(task):
    out = task.sample(7, seed=3)
    again = task.sample(7, seed=np.random.default_rng(3))
    other = task.sample(7, seed=4)
    if task.kind == "kl":
        p, q = out
        assert p.shape == q.shape == (7, task.dim_x) and p.dtype == q.dtype == np.float64
        assert task.dim_y == 0
        np.testing.assert_array_equal(p, again[0])
        np.testing.assert_array_equal(q, again[1])
        assert not np.array_equal(p, other[0])
        arrays = (p, q)
    elif task.kind == "mi":
        x, y = out
        assert x.shape == (7, task.dim_x) and y.shape == (7, task.dim_y)
        assert x.dtype == (np.int64 if task.discrete_x else np.float64)
        assert y.dtype == (np.int64 if task.discrete_y else np.float64)
        np.testing.assert_array_equal(x, again[0])
        np.testing.assert_array_equal(y, again[1])
        assert not np.array_equal(y, other[1])
        arrays = (x, y)
    else:
        assert isinstance(out, np.ndarray) and out.shape == (7, task.dim_x) and out.dtype == np.float64
        assert task.dim_y == 0
        np.testing.assert_array_equal(out, again)
        assert not np.array_equal(out, other)
        arrays = (out,)
    assert all(np.isfinite(a).all() and a.flags.c_contiguous for a in arrays)


@pytest.mark.parametrize("task", ALL, ids=lambda t: t.id)
def test_metadata(task):
    assert task.kind in ("mi", "entropy", "kl")
    assert isinstance(task.family, str) and task.family
    assert isinstance(task.dim_x, int) and task.dim_x >= 1
    assert isinstance(task.dim_y, int) and task.dim_y >= (1 if task.kind == "mi" else 0)
    assert isinstance(task.truth, float) and math.isfinite(task.truth)
    assert isinstance(task.truth_std_err, float) and task.truth_std_err >= 0.0
    json.dumps(task.params)  # JSON-serialisable
    json.dumps(task.summary())
    assert str(task) == task.id and " " not in task.id


def test_ids_unique_and_registry_consistent():
    ids = [t.id for t in ALL]
    assert len(ids) == len(set(ids))
    union = {t.id for name in tasks.SUITES for t in tasks.suite(name)}
    assert union == set(ids)
    for t in ALL:
        assert tasks.get_task(t.id) is t


def test_pickle_roundtrip():
    # Bench workers receive tasks through pickle.
    import pickle

    for t in ALL:
        u = pickle.loads(pickle.dumps(t))
        assert u == t and u.id == t.id and u.truth == t.truth


def test_equal_parameters_give_equal_tasks_and_ids():
    assert DenseNormal(1, 1, -0.0).id == DenseNormal(1, 1, 0.0).id
    a, b = DenseNormal(2, 3, rho=0.25), DenseNormal(2, 3, 0.25)
    assert a == b and hash(a) == hash(b) and a.id == b.id == "normal-dense-x2-y3-rho0.25"
    cov = np.array([[1.0, 0.3], [0.3, 1.0]])
    assert Normal(cov, 1).id == Normal(cov.tolist(), 1).id
    assert Normal(cov, 1).id != Normal(cov * 2, 1).id


def test_seed_types():
    t = DenseNormal(1, 1, 0.5)
    x1, _ = t.sample(5, torch.Generator().manual_seed(1))
    x2, _ = t.sample(5, torch.Generator().manual_seed(1))
    np.testing.assert_array_equal(x1, x2)
    # One generator advances between calls: successive draws differ.
    rng = np.random.default_rng(0)
    assert not np.array_equal(t.sample(5, rng)[0], t.sample(5, rng)[0])


def test_truth_is_cached_and_monte_carlo_deterministic():
    t = RandomMixture(1, 1, n_components=2, seed=5)
    first = (t.truth, t.truth_std_err)
    hits = _cached_truth.cache_info().hits
    assert RandomMixture(1, 1, n_components=2, seed=5).truth == first[0]  # a new, equal task hits the cache
    assert _cached_truth.cache_info().hits == hits + 1
    assert t._compute_truth() == first  # recomputing from scratch gives the identical number
    assert first[1] > 0.0


# ------------------------------------------------------------------- suites
def test_suite_contents():
    assert tasks.SUITES == ("smoke", "mi-standard", "entropy", "staircase", "kl", "mixtures")
    smoke, standard, entropy, stairs, kl, mixtures = (tasks.suite(s) for s in tasks.SUITES)
    assert 6 <= len(smoke) <= 8 and max(max(t.dim_x, t.dim_y) for t in smoke) <= 2
    assert len(standard) == 40 and all(t.kind == "mi" for t in standard)
    assert min(t.dim_x for t in standard) == 1 and max(t.dim_x + t.dim_y for t in standard) == 50
    assert {t.family for t in standard} == {
        "normal",
        "student-t",
        "uniform-noise",
        "transformed",
        "bimodal",
        "swissroll",
        "mixture",
        "discrete-continuous",
        "independent",
    }
    assert all(t.kind == "entropy" for t in entropy)
    assert {t.family for t in entropy} == {
        "gaussian",
        "uniform",
        "laplace",
        "exponential",
        "student-t",
        "mixture",
        "transformed",
    }
    assert [t.truth for t in stairs] == [2.0, 4.0, 6.0, 8.0, 10.0]
    assert all(t.dim_x == t.dim_y == 20 and t.family == "staircase" for t in stairs)
    assert all(t.kind == "kl" for t in kl)
    assert {t.family for t in kl} == {"gaussian", "exponential", "laplace", "transformed"}
    assert all(t.kind == "mi" and t.truth > 0.05 for t in mixtures)
    assert {t.family for t in mixtures} == {"mixture", "outliers", "discrete-continuous"}
    assert max(t.dim_x for t in mixtures) == 10 and min(t.dim_x for t in mixtures) == 1


def test_staircase_contract():
    for mi in (0.0, 2.0, 10.0):
        t = tasks.staircase(mi)
        assert t.truth == mi and (t.dim_x, t.dim_y) == (20, 20)
        cov = t.covariance_matrix()
        # The determinant formula agrees with the defining value.
        ld = np.linalg.slogdet
        assert 0.5 * (ld(cov[:20, :20])[1] + ld(cov[20:, 20:])[1] - ld(cov)[1]) == pytest.approx(mi, abs=1e-12)
        assert -10 * math.log(1 - t.rho**2) == pytest.approx(mi, abs=1e-12)
    assert tasks.staircase(3.0, dim=4).dim_x == 4


def test_unknown_names():
    with pytest.raises(
        ValueError,
        match=r"suite must be one of \['smoke', 'mi-standard', 'entropy', 'staircase', 'kl', 'mixtures'\]; got 'nope'",
    ):
        tasks.suite("nope")
    with pytest.raises(
        ValueError, match=r"unknown task id 'normal-dense-x1-y1-rho0.7'.*did you mean.*valid ids are \["
    ):
        tasks.get_task("normal-dense-x1-y1-rho0.7")
    with pytest.raises(TypeError, match="task_id must be a string; got int 3"):
        tasks.get_task(3)


# --------------------------------------------------------------- transforms
@pytest.mark.parametrize("name", [n for n in TRANSFORMS if n != "identity"])
def test_transform_inverse_and_log_jacobian(name):
    t = get_transform(name)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)) * 1.5
    y = t.forward(x)
    np.testing.assert_allclose(t.inverse(y), x, rtol=1e-9, atol=1e-9)
    # log|det J| against a central finite-difference Jacobian (h = 1e-6: error ~1e-10 relative)
    h = 1e-6
    for row in x[:20]:
        jac = np.stack(
            [(t.forward((row + h * e)[None]) - t.forward((row - h * e)[None]))[0] / (2 * h) for e in np.eye(3)], axis=1
        )
        assert np.linalg.slogdet(jac)[1] == pytest.approx(t.log_abs_det_jacobian(row[None])[0], abs=1e-6)


def test_spiral_keeps_norm_and_volume():
    t = get_transform("spiral")
    x = np.random.default_rng(1).normal(size=(50, 4))
    np.testing.assert_allclose(np.linalg.norm(t.forward(x), axis=1), np.linalg.norm(x, axis=1), rtol=1e-12)
    assert np.all(t.log_abs_det_jacobian(x) == 0.0)


def test_wiggly_is_strictly_increasing():
    t = get_transform("wiggly")
    grid = np.linspace(-50, 50, 200_001)
    assert np.all(np.diff(t.forward(grid)) > 0)
    assert np.exp(t.log_derivative(grid)).min() >= 0.148 - 1e-12


@pytest.mark.parametrize(
    "task",
    [
        Transformed(DenseNormal(2, 2, 0.5), x="normal-cdf", y="half-cube"),
        Transformed(SparseNormal(3, 3, 0.8), x="asinh", y="wiggly"),
        Bimodal(SparseNormal(2, 2, 0.8)),
    ],
    ids=lambda t: t.id,
)
def test_componentwise_transforms_keep_ranks(task):
    # A strictly increasing map per coordinate keeps every rank, hence the
    # copula, hence the MI; check it on the very samples the task returns.
    bx, by = task.base.sample(2000, seed=9)
    x, y = task.sample(2000, seed=9)
    for a, b in ((bx, x), (by, y)):
        np.testing.assert_array_equal(np.argsort(a, axis=0), np.argsort(b, axis=0))
    assert task.truth == task.base.truth


def test_spiral_task_is_the_map_of_the_base_sample():
    task = Transformed(SparseNormal(3, 3, 0.8), x="spiral")
    bx, by = task.base.sample(100, seed=2)
    x, y = task.sample(100, seed=2)
    np.testing.assert_allclose(x, get_transform("spiral").forward(bx), rtol=1e-14)
    np.testing.assert_array_equal(y, by)
    assert task.id == "spiral-x-normal-sparse-x3-y3-pairs3-rho0.8"


def test_mixture_quantile_solves_the_cdf_equation():
    t = np.concatenate([np.linspace(-38, 38, 3001), [0.0, 1e-12, -1e-12]])
    for q in (BIMODAL_X, BIMODAL_Y):
        s = q(t)
        # Compare in log space on the far tail so that tiny tail masses count.
        lower = special.logsumexp(
            np.log(q.weights)[:, None] + special.log_ndtr((s - np.array(q.means)[:, None]) / np.array(q.stds)[:, None]),
            axis=0,
        )
        upper = special.logsumexp(
            np.log(q.weights)[:, None]
            + special.log_ndtr(-(s - np.array(q.means)[:, None]) / np.array(q.stds)[:, None]),
            axis=0,
        )
        neg = t <= 0
        np.testing.assert_allclose(lower[neg], special.log_ndtr(t[neg]), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(upper[~neg], special.log_ndtr(-t[~neg]), rtol=1e-12, atol=1e-12)
        assert np.all(np.diff(s[:3001]) > 0)  # strictly increasing on the sorted grid


def test_bimodal_marginal_is_the_mixture():
    x, y = Bimodal(DenseNormal(1, 1, 0.75)).sample(3000, seed=0)
    for sample, q in ((x[:, 0], BIMODAL_X), (y[:, 0], BIMODAL_Y)):
        cdf = lambda s, q=q: sum(w * special.ndtr((s - m) / sd) for w, m, sd in zip(q.weights, q.means, q.stds))  # noqa: E731
        # Exact marginal: the KS statistic of 3000 draws is ~0.016 on average;
        # 0.04 is beyond the 0.1% critical value (0.036).
        assert stats.kstest(sample, cdf).statistic < 0.04


def test_discrete_continuous_and_swissroll_samples():
    x, y = DiscreteContinuous(5).sample(1000, seed=0)
    assert set(np.unique(x)) == set(range(5)) and x.dtype == np.int64
    assert np.all((y >= x) & (y < x + 2))
    x, y = SwissRoll(0.8).sample(500, seed=0)
    r = np.linalg.norm(x, axis=1)
    assert np.all((r > 1.5 * np.pi - 1e-9) & (r < 4.5 * np.pi + 1e-9)) and np.all((y > 0) & (y < 1))


# --------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "n, exc, msg",
    [
        (0, ValueError, r"n must be an integer >= 1; got 0"),
        (-3, ValueError, r"n must be an integer >= 1; got -3"),
        (2.5, TypeError, r"n must be an integer >= 1; got 2.5"),
        ("10", TypeError, r"n must be an integer >= 1; got '10'"),
    ],
)
def test_bad_n(n, exc, msg):
    with pytest.raises(exc, match=msg):
        DenseNormal(1, 1, 0.5).sample(n, 0)
    with pytest.raises(exc, match=msg):
        GaussianEntropy(2).sample(n, 0)


def test_bad_seed():
    with pytest.raises(ValueError, match="seed must be a non-negative integer; got -1"):
        DenseNormal(1, 1, 0.5).sample(5, -1)
    with pytest.raises(TypeError, match="seed must be an int"):
        DenseNormal(1, 1, 0.5).sample(5, "x")


BAD = [
    (lambda: DenseNormal(0, 1, 0.5), ValueError, r"dim_x must be an integer >= 1; got 0"),
    (lambda: DenseNormal(1, 1.5, 0.5), TypeError, r"dim_y must be an integer >= 1; got 1.5"),
    (lambda: DenseNormal(1, 1, 1.0), ValueError, r"rho must be in \(-1, 1\) .* dimension d=2 .*got 1.0"),
    (lambda: DenseNormal(2, 2, -0.5), ValueError, r"rho must be in \(-0.3333, 1\) .* d=4 .*got -0.5"),
    (lambda: DenseNormal(1, 1, float("nan")), ValueError, r"rho must be a finite number; got nan"),
    (lambda: SparseNormal(2, 2, -1.0), ValueError, r"rho must be a finite number in \(-1.0, 1.0\); got -1.0"),
    (
        lambda: SparseNormal(2, 3, 0.5, n_pairs=3),
        ValueError,
        r"n_pairs must be an integer in \[1, 2\] \(min\(dim_x, dim_y\)\); got 3",
    ),
    (
        lambda: Normal([[1, 2], [2, 1]], 1),
        ValueError,
        r"covariance must be positive definite; its smallest eigenvalue is -1",
    ),
    (
        lambda: Normal([[1, 0.5], [0.2, 1]], 1),
        ValueError,
        r"covariance must be symmetric; got entry \[0,1\]=0.5 but \[1,0\]=0.2",
    ),
    (lambda: Normal([[1, np.nan], [np.nan, 1]], 1), ValueError, r"covariance must contain only finite numbers"),
    (lambda: Normal(np.eye(3), 3), ValueError, r"dim_x must be an integer in \[1, 2\] \(covariance is 3x3\); got 3"),
    (
        lambda: Normal(np.eye(2)[None], 1),
        ValueError,
        r"covariance must be a non-empty square matrix; got shape \(1, 2, 2\)",
    ),
    (lambda: Normal([[1.0]], 1), ValueError, r"covariance must be at least 2x2"),
    (lambda: StudentT(DenseNormal(1, 1, 0.5), nu=0), ValueError, r"nu must be a finite number > 0.0; got 0"),
    (
        lambda: StudentT(DenseNormal(1, 1, 0.5), nu=0.05),
        ValueError,
        r"nu must be >= 0.1 \(smaller degrees of freedom draw scales beyond the float64 range\); got 0.05",
    ),
    (lambda: tasks.staircase(-1.0), ValueError, r"mi must be a finite number >= 0.0; got -1.0"),
    (lambda: tasks.staircase(2.0, dim=0), ValueError, r"dim must be an integer >= 1; got 0"),
    (lambda: StudentT(DenseNormal(1, 1, 0.5), nu=-2), ValueError, r"nu must be a finite number > 0.0; got -2"),
    (lambda: StudentT(Independent(1, 1), nu=3), TypeError, r"dispersion must be a Gaussian MI task .*got Independent"),
    (lambda: AdditiveUniform(0.0), ValueError, r"eps must be a finite number > 0.0; got 0.0"),
    (lambda: AdditiveUniform(float("inf")), ValueError, r"eps must be a finite number > 0.0; got inf"),
    (lambda: AdditiveUniform(0.1, dim=0), ValueError, r"dim must be an integer >= 1; got 0"),
    (
        lambda: Transformed(DenseNormal(1, 1, 0.5), x="cube"),
        ValueError,
        r"x must be one of \['asinh', .*\]; got 'cube'",
    ),
    (
        lambda: Transformed(DenseNormal(1, 1, 0.5), y="spiral"),
        ValueError,
        r"y='spiral' needs dimension >= 2; the base task's dim_y is 1",
    ),
    (lambda: Transformed(DenseNormal(1, 1, 0.5)), ValueError, r"x and y are both 'identity'"),
    (lambda: Transformed(DiscreteContinuous(3), x="asinh"), ValueError, r"x='asinh': the base task's X is discrete"),
    (lambda: Transformed(GaussianEntropy(2), x="asinh"), TypeError, r"base must be an MI task; got GaussianEntropy"),
    (lambda: Bimodal(DiscreteContinuous(3)), ValueError, r"base must have continuous X and Y"),
    (lambda: SwissRoll(1.5), ValueError, r"rho must be a finite number in \(-1.0, 1.0\); got 1.5"),
    (lambda: DiscreteContinuous(0), ValueError, r"m must be an integer >= 1; got 0"),
    (
        lambda: Independent(1, 1, marginal="cauchy"),
        ValueError,
        r"marginal must be one of \['normal', 'uniform', 'laplace'\]; got 'cauchy'",
    ),
    (lambda: CrossMixture(1.0), ValueError, r"rho must be a finite number in \(-1.0, 1.0\); got 1.0"),
    (lambda: RandomMixture(1, 1, n_components=0), ValueError, r"n_components must be an integer >= 1; got 0"),
    (
        lambda: GaussianMixture([0.5, 0.6], np.zeros((2, 2)), [np.eye(2)] * 2, 1),
        ValueError,
        r"weights must sum to 1; got sum 1.1",
    ),
    (
        lambda: GaussianMixture([1.5, -0.5], np.zeros((2, 2)), [np.eye(2)] * 2, 1),
        ValueError,
        r"weights must be finite and > 0",
    ),
    (
        lambda: GaussianMixture([0.5, 0.5], np.zeros((3, 2)), [np.eye(2)] * 2, 1),
        ValueError,
        r"means must have shape \(2, d\) \(one row per weight\); got shape \(3, 2\)",
    ),
    (
        lambda: GaussianMixture([0.5, 0.5], np.zeros((2, 2)), [np.eye(2)], 1),
        ValueError,
        r"covariances must hold 2 matrices \(one per weight\); got 1",
    ),
    (
        lambda: GaussianMixture([0.5, 0.5], np.zeros((2, 2)), [np.eye(2), -np.eye(2)], 1),
        ValueError,
        r"covariances\[1\] must be positive definite",
    ),
    (
        lambda: GaussianMixture([0.5, 0.5], np.zeros((2, 2)), [np.eye(2)] * 2, 2),
        ValueError,
        r"dim_x must be an integer in \[1, 1\] \(the mixture has dimension 2\); got 2",
    ),
    (lambda: GaussianEntropy(3, rho=-0.6), ValueError, r"rho must be in \(-0.5, 1\) .* d=3 .*got -0.6"),
    (lambda: GaussianEntropy(2, scale=0), ValueError, r"scale must be a finite number > 0.0; got 0"),
    (lambda: UniformEntropy((1.0, -2.0)), ValueError, r"widths\[1\] must be a finite number > 0.0; got -2.0"),
    (lambda: UniformEntropy(()), ValueError, r"widths must be a non-empty 1-D sequence; got shape \(0,\)"),
    (lambda: LaplaceEntropy(2, scale=-1), ValueError, r"scale must be a finite number > 0.0; got -1"),
    (lambda: ExponentialEntropy(2, rate=0), ValueError, r"rate must be a finite number > 0.0; got 0"),
    (lambda: StudentTEntropy(2, nu=0), ValueError, r"nu must be a finite number > 0.0; got 0"),
    (
        lambda: TransformedEntropy(StudentTEntropy(1, nu=2), "normal-cdf"),
        ValueError,
        r"transform 'normal-cdf' needs a finite second moment; the base Student-t has nu=2.0 <= 2",
    ),
    (
        lambda: TransformedEntropy(StudentTEntropy(1, nu=0.5), "wiggly"),
        ValueError,
        r"the base's tails are too heavy to integrate this bounded transform",
    ),
    (lambda: StudentTEntropy(1, nu=0.01), ValueError, r"nu must be >= 0.1"),
    (
        lambda: TransformedEntropy(GaussianEntropy(1), "spiral"),
        ValueError,
        r"transform 'spiral' needs dimension >= 2; the base has dim 1",
    ),
    (lambda: TransformedEntropy(GaussianEntropy(2), "identity"), ValueError, r"transform 'identity' changes nothing"),
    (
        lambda: TransformedEntropy(AffineEntropy(GaussianEntropy(2), np.eye(2)), "asinh"),
        ValueError,
        r"transform 'asinh' is componentwise and needs the base's marginal densities",
    ),
    (
        lambda: TransformedEntropy(DenseNormal(1, 1, 0.5), "asinh"),
        TypeError,
        r"base must be an entropy task; got DenseNormal",
    ),
    (
        lambda: AffineEntropy(GaussianEntropy(2), [[1, 2], [2, 4]]),
        ValueError,
        r"matrix must be invertible; its condition number is",
    ),
    (
        lambda: AffineEntropy(GaussianEntropy(2), np.eye(3)),
        ValueError,
        r"matrix must have shape \(2, 2\) to match the base; got shape \(3, 3\)",
    ),
]


@pytest.mark.parametrize("make, exc, msg", BAD, ids=[m for _, _, m in BAD])
def test_validation_messages(make, exc, msg):
    with pytest.raises(exc, match=msg):
        make()


def test_log_prob_shape_check():
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\); got shape \(5, 3\)"):
        GaussianEntropy(2).log_prob(np.zeros((5, 3)))
    assert GaussianEntropy(1).log_prob(np.zeros(4)).shape == (4,)
