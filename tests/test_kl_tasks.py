"""KL tasks: closed forms against Monte Carlo of the exact log density ratio; the grid on the kl suite."""

import numpy as np
import pytest

from infobench import tasks
from infobench.bench import load_results, make_grid, run_grid
from infobench.report.aggregate import leaderboard, summarize
from infobench.tasks import ExponentialKL, GaussianKL, LaplaceKL, TransformedKL

KL_SUITE = tasks.suite("kl")


@pytest.mark.parametrize("task", KL_SUITE, ids=lambda t: t.id)
def test_truth_matches_monte_carlo_log_ratio(task):
    # D(P||Q) = E_P[log p/q]: the mean of 100,000 exact log ratios over draws
    # from P has standard error sd/sqrt(n) (at most ~0.006 nats here); 5 of
    # them leaves a false-alarm rate below 1e-6.
    p, _ = task.sample(100_000, seed=11)
    r = task.log_ratio(p)
    se = r.std(ddof=1) / np.sqrt(len(r))
    assert abs(r.mean() - task.truth) <= 5 * se + 1e-12
    assert task.truth_std_err == 0.0


def test_equal_distributions_have_zero_divergence():
    t = GaussianKL(3, shift=0.0)
    assert t.truth == pytest.approx(0.0, abs=1e-14)
    p, _q = t.sample(10, seed=0)
    np.testing.assert_allclose(t.log_ratio(p), 0.0, atol=1e-12)


def test_closed_forms_by_hand():
    # N(0,1) vs N(1,1): shift^2/2. N(0,1) vs N(0,4): (1/4 - 1 + log 4)/2.
    assert GaussianKL(1, shift=1.0).truth == pytest.approx(0.5)
    assert GaussianKL(1, shift=0.0, scale_q=2.0).truth == pytest.approx(0.5 * (0.25 - 1 + np.log(4.0)))
    # d independent coordinates add up
    assert GaussianKL(4, shift=1.0).truth == pytest.approx(2.0)
    assert ExponentialKL(2, rate_p=1.0, rate_q=2.0).truth == pytest.approx(2 * (np.log(0.5) + 1.0))
    assert LaplaceKL(1, shift=0.0, scale_q=2.0).truth == pytest.approx(np.log(2.0) + 0.5 - 1.0)


def test_sample_shapes_seeds_and_transform():
    t = TransformedKL(GaussianKL(2, shift=1.0, rho_p=0.5), "spiral")
    p, q = t.sample(500, seed=3)
    assert p.shape == q.shape == (500, 2) and p.dtype == np.float64
    p2, q2 = t.sample(500, seed=3)
    np.testing.assert_array_equal(p, p2)
    np.testing.assert_array_equal(q, q2)
    assert t.truth == t.base.truth
    assert (t.kind, t.dim_x, t.dim_y) == ("kl", 2, 0)
    assert t.id == "spiral-kl-gaussian-d2-shift1-rhop0.5"
    # the map's Jacobians cancel: the log ratio at f(x) is the base's at x
    base_p, _ = t.base.sample(500, seed=3)
    np.testing.assert_allclose(t.log_ratio(p), t.base.log_ratio(base_p), rtol=1e-9, atol=1e-9)


def test_registered_and_listed():
    ids = [t.id for t in KL_SUITE]
    assert len(ids) == len(set(ids))
    for t in KL_SUITE:
        assert tasks.get_task(t.id) is t
        assert t.summary()["kind"] == "kl"


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: GaussianKL(0), r"dim must be an integer"),
        (lambda: GaussianKL(3, rho_p=-0.6), r"rho_p must be in \(-0.5, 1\)"),
        (lambda: GaussianKL(1, scale_q=0.0), r"scale_q must be"),
        (lambda: ExponentialKL(1, rate_p=-1.0), r"rate_p must be"),
        (lambda: LaplaceKL(1, scale_q=0.0), r"scale_q must be"),
        (lambda: TransformedKL(GaussianKL(1), "identity"), r"transform must not be 'identity'"),
        (lambda: TransformedKL(GaussianKL(1), "spiral"), r"needs dimension >= 2"),
        (lambda: TransformedKL(GaussianKL(1), "nope"), r"transform must be one of"),
        (lambda: TransformedKL(tasks.DenseNormal(1, 1, rho=0.5), "asinh"), r"base must be a KL task"),
    ],
)
def test_validation_messages(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_log_ratio_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\); got shape \(4, 3\)"):
        GaussianKL(2).log_ratio(np.zeros((4, 3)))


def test_grid_runs_stores_and_aggregates_kl(tmp_path):
    # knn is registered for entropy and KL: on a mixed grid it runs on both kinds of task.
    picked = [GaussianKL(1, shift=1.0), LaplaceKL(1, shift=1.0), tasks.GaussianEntropy(1)]
    grid = make_grid("knn", picked, n=400, seeds=2)
    assert {c.quantity for c in grid.cells()} == {"kl", "entropy"}
    db = tmp_path / "r.sqlite"
    run_grid("knn", picked, n=400, seeds=2, jobs=0, db=db, run="kl")
    df = load_results(db, run="kl")
    assert len(df) == 6 and df["ok"].all()
    kl = df[df["quantity"] == "kl"]
    assert set(kl["task_id"]) == {"kl-gaussian-d1-shift1", "kl-laplace-d1-shift1"}
    summary = summarize(df)
    row = summary[summary["task_id"] == "kl-gaussian-d1-shift1"].iloc[0]
    assert row["quantity"] == "kl" and row["truth"] == pytest.approx(0.5)
    # WKV at n=400, k=1 has a standard deviation of ~0.1 nats on this task
    assert abs(row["mean_estimate"] - 0.5) < 0.3
    board = leaderboard(summary)
    assert set(board["quantity"]) == {"kl", "entropy"}


def test_kl_suite_in_default_run_config():
    from infobench.mainjob.config import default_config

    b = default_config().benchmark
    assert "kl" in b.suites
    assert any(s.split("[")[0] == "knn" for s in b.entropy_estimators)
