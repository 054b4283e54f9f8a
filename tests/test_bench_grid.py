"""Grids: expansion into cells, identity-keyed seeds, validation."""

import hashlib

import numpy as np
import pytest

from infobench.bench import EstimatorSpec, derive_seed, make_grid
from test_bench_fakes import FakeTask

MI = FakeTask(0.5)
MI2 = FakeTask(0.8)
H = FakeTask(kind="entropy")


def test_cells_cover_the_product_and_skip_specs_that_do_not_apply():
    grid = make_grid("bench-test-gauss[jitter=0,0.1],bench-test-gauss-h", [MI, H], n=[500, 100], seeds=3)
    cells = grid.cells()
    # MI task: 2 specs x 2 n x 3 seeds; entropy task: 1 spec x 2 x 3.
    assert len(cells) == 2 * 2 * 3 + 1 * 2 * 3
    assert grid.ns == (100, 500)
    assert {c.spec.method for c in cells if c.task is H} == {"bench-test-gauss-h"}
    assert len({c.key for c in cells}) == len(cells)
    assert [c.index for c in cells] == list(range(len(cells)))
    assert cells[0].key == "bench-test-gauss[jitter=0]|fake-mi-rho0.5-s1.0|n=100|seed=0"


def test_derive_seed_matches_an_independent_seedsequence_computation():
    text = "\x1f".join(["data", "task-a", "100", "2"]).encode()
    key = tuple(int(w) for w in np.frombuffer(hashlib.sha256(text).digest(), dtype="<u4"))
    state = np.random.SeedSequence(7, spawn_key=key).generate_state(2, dtype=np.uint32)
    expected = ((int(state[0]) << 32) | int(state[1])) >> 1
    assert derive_seed(7, "data", "task-a", 100, 2) == expected
    assert 0 <= expected < 2**63


def test_seeds_depend_on_cell_identity_not_on_grid_shape_or_order():
    small = {c.key: c for c in make_grid("bench-test-gauss", [MI], n=100, seeds=2, base_seed=3).cells()}
    big = {
        c.key: c
        for c in make_grid(
            "bench-test-gauss[jitter=0.1],bench-test-gauss", [MI2, MI], n=[1000, 100], seeds=5, base_seed=3
        ).cells()
    }
    for key, cell in small.items():
        assert big[key].data_seed == cell.data_seed
        assert big[key].estimator_seed == cell.estimator_seed
    # Every estimator of a (task, n, seed) sees the same data; estimator seeds differ.
    a = big["bench-test-gauss|fake-mi-rho0.5-s1.0|n=100|seed=1"]
    b = big["bench-test-gauss[jitter=0.1]|fake-mi-rho0.5-s1.0|n=100|seed=1"]
    assert a.data_seed == b.data_seed and a.estimator_seed != b.estimator_seed
    seeds = [c.data_seed for c in big.values()]
    assert len(set(seeds)) == len({(c.task_id, c.n, c.seed) for c in big.values()})
    other = make_grid("bench-test-gauss", [MI], n=100, seeds=2, base_seed=4).cells()
    assert {c.data_seed for c in other}.isdisjoint({c.data_seed for c in small.values()})


def test_explicit_replicate_indices_and_default_run_id():
    grid = make_grid("bench-test-gauss", [MI], n=100, seeds=[4, 7])
    assert grid.seeds == (4, 7)
    assert grid.default_run_id == make_grid("bench-test-gauss", [MI], n=[100], seeds=[4, 7]).default_run_id
    assert grid.default_run_id != make_grid("bench-test-gauss", [MI], n=100, seeds=3).default_run_id
    assert grid.default_run_id.startswith("grid-")


def test_spec_objects_are_accepted():
    grid = make_grid([EstimatorSpec("bench-test-gauss", {"jitter": 0.1})], [MI], n=10, seeds=1)
    assert [str(s) for s in grid.estimators] == ["bench-test-gauss[jitter=0.1]"]


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(estimators="nope"), ValueError, r"unknown estimator 'nope' in spec 'nope'.*valid methods are \["),
        (
            dict(estimators="bench-test-gauss[k=3]"),
            ValueError,
            r"unknown parameter 'k' in estimator spec 'bench-test-gauss\[k=3\]'",
        ),
        (dict(estimators="ksg[k=3"), ValueError, "malformed estimator spec"),
        (dict(n=1), ValueError, r"n must be an integer >= 2; got 1"),
        (dict(n=[]), ValueError, "n must list at least one sample size"),
        (dict(n="1000"), TypeError, "n must be integers"),
        (dict(n=2.5), TypeError, "n must be an integer"),
        (dict(seeds=0), ValueError, r"seeds must be an integer >= 1; got 0"),
        (dict(seeds=[-1]), ValueError, r"seeds must be an integer >= 0; got -1"),
        (dict(seeds=[]), ValueError, "seeds must list at least one replicate"),
        (dict(base_seed=-1), ValueError, r"base_seed must be an integer >= 0; got -1"),
        (dict(tasks=[]), ValueError, "a grid needs tasks"),
        (dict(tasks=[object()]), TypeError, "tasks must be infobench Task objects or task ids"),
        (
            dict(tasks=[FakeTask(kind="bogus")]),
            ValueError,
            r"has kind 'bogus'; expected one of \['mi', 'entropy', 'kl'\]",
        ),
    ],
)
def test_invalid_grids_raise_before_any_work(kwargs, exc, match):
    args = dict(estimators="bench-test-gauss", tasks=[MI], n=100, seeds=2)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        make_grid(args.pop("estimators"), args.pop("tasks"), **args)


def test_entropy_only_spec_on_mi_tasks_is_rejected():
    with pytest.raises(ValueError, match=r"unknown estimator 'bench-test-gauss-h'.*\(mi\)"):
        make_grid("bench-test-gauss-h", [MI], n=100, seeds=1)


def test_duplicate_task_ids_with_different_tasks_are_rejected():
    class Twin(FakeTask):
        @property
        def id(self):
            return "fake-mi-rho0.5-s1.0"

    with pytest.raises(ValueError, match="two different tasks share the id 'fake-mi-rho0.5-s1.0'"):
        make_grid("bench-test-gauss", [MI, Twin(0.9)], n=100, seeds=1)
    assert len(make_grid("bench-test-gauss", [MI, FakeTask(0.5)], n=100, seeds=1).tasks) == 1


def test_real_task_registry_ids_and_suites():
    tasks = pytest.importorskip("infobench.tasks")
    grid = make_grid("gaussian", ["normal-dense-x1-y1-rho0.75"], n=100, seeds=1)
    assert grid.tasks[0] is not None and grid.tasks[0].id == "normal-dense-x1-y1-rho0.75"
    smoke = make_grid("histogram", suite="smoke", n=100, seeds=1)
    assert [t.id for t in smoke.tasks] == [t.id for t in tasks.suite("smoke")]
    assert smoke.default_run_id.startswith("smoke-")
    with pytest.raises(ValueError, match="no-such-task"):
        make_grid("gaussian", ["no-such-task"], n=100, seeds=1)
    with pytest.raises(ValueError, match="no-such-suite"):
        make_grid("gaussian", suite="no-such-suite", n=100, seeds=1)
