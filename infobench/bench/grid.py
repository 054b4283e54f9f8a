"""A benchmark grid as data: estimator specs x tasks x sample sizes x seeds.

Seeds
-----
Every cell derives its seeds from the grid's one ``base_seed`` and the cell's
*identity*, never from its position or the order of execution:

* ``data_seed`` = f(base_seed, task id, n, replicate): every estimator sees
  the same sample of a (task, n, replicate), so differences between
  estimators are not sampling noise (common random numbers);
* ``estimator_seed`` = f(base_seed, spec, task id, n, replicate): the seed of
  stochastic estimators (bootstrap, neural training).

``f`` hashes the identity (SHA-256) into a ``numpy.random.SeedSequence``
spawn key under the base seed, so adding estimators, sizes or replicates to
a grid leaves the seeds of the existing cells unchanged.
"""

from __future__ import annotations

import hashlib
import json
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from infobench import tasks as task_registry
from infobench._validation import check_int
from infobench.bench.spec import EstimatorSpec, parse_specs
from infobench.estimators.base import get_method, methods_for

__all__ = ["Cell", "Grid", "derive_seed", "make_grid", "resolve_tasks", "task_quantity"]

# Task kinds and the estimator quantity that serves them.
_KIND_TO_QUANTITY = {"mi": "mi", "entropy": "entropy", "kl": "kl"}
_TASK_ATTRS = ("id", "kind", "sample", "truth")


def derive_seed(base_seed: int, *identity: Any) -> int:
    """A 63-bit seed that is a function of ``base_seed`` and ``identity`` only.

    The identity parts are joined, hashed with SHA-256 and used as the spawn
    key of ``numpy.random.SeedSequence(base_seed)``; the state it generates is
    the seed. Distinct identities give independent streams.
    """
    text = "\x1f".join(str(part) for part in identity).encode()
    words = np.frombuffer(hashlib.sha256(text).digest(), dtype="<u4")
    ss = np.random.SeedSequence(int(base_seed), spawn_key=tuple(int(w) for w in words))
    state = ss.generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 32 | int(state[1])) >> 1)


def task_quantity(task: Any) -> str:
    """The estimator quantity (``"mi"``, ``"entropy"`` or ``"kl"``) that a task's ``kind`` asks for."""
    kind = getattr(task, "kind", None)
    if kind not in _KIND_TO_QUANTITY:
        raise ValueError(
            f"task {getattr(task, 'id', task)!r} has kind {kind!r}; expected one of {list(_KIND_TO_QUANTITY)}"
        )
    return _KIND_TO_QUANTITY[kind]


def _check_task(task: Any) -> Any:
    missing = [a for a in _TASK_ATTRS if not hasattr(type(task), a) and not hasattr(task, a)]
    if missing:
        raise TypeError(
            f"tasks must be infobench Task objects or task ids; got {type(task).__name__} {task!r} "
            f"(missing {', '.join(missing)})"
        )
    if not isinstance(task.id, str) or not task.id:
        raise ValueError(f"task ids must be non-empty strings; got {task.id!r}")
    task_quantity(task)
    return task


def resolve_tasks(tasks: Any = None, suite: str | Iterable[str] | None = None) -> list[Any]:
    """Turn task objects, task ids and suite names into a list of unique tasks (in order)."""
    out: list[Any] = []
    if suite is not None:
        names = [suite] if isinstance(suite, str) else list(suite)
        for name in names:
            out.extend(task_registry.suite(name))
    if tasks is not None:
        items = [tasks] if isinstance(tasks, str) or not isinstance(tasks, Iterable) else list(tasks)
        for t in items:
            if isinstance(t, str):
                out.append(task_registry.get_task(t))
            else:
                out.append(t)
    if not out:
        raise ValueError("a grid needs tasks: give tasks=[...] (objects or ids) or suite=NAME")
    unique: dict[str, Any] = {}
    for t in out:
        _check_task(t)
        if t.id in unique:
            if unique[t.id] != t:
                raise ValueError(f"two different tasks share the id {t.id!r}; task ids must be unique")
            continue
        unique[t.id] = t
    return list(unique.values())


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return str(obj)


def to_json(obj: Any) -> str:
    """Canonical JSON (sorted keys; numpy values converted) as stored in the results database."""
    return json.dumps(obj, sort_keys=True, default=_json_default)


@dataclass(frozen=True)
class Cell:
    """One estimate to compute: an estimator spec on a task at sample size ``n``, replicate ``seed``.

    ``index`` is the cell's position in its grid (used to order results);
    it does not influence any number.
    """

    spec: EstimatorSpec
    task: Any = field(compare=False)
    n: int
    seed: int
    base_seed: int
    index: int = field(default=0, compare=False)

    @property
    def task_id(self) -> str:
        return self.task.id

    @property
    def quantity(self) -> str:
        return task_quantity(self.task)

    @property
    def key(self) -> str:
        """The cell's identity in a run: ``"spec|task id|n=N|seed=S"``."""
        return f"{self.spec}|{self.task.id}|n={self.n}|seed={self.seed}"

    @property
    def data_seed(self) -> int:
        """Seed of the task's sample; shared by every estimator on this (task, n, seed)."""
        return derive_seed(self.base_seed, "data", self.task.id, self.n, self.seed)

    @property
    def estimator_seed(self) -> int:
        """Seed handed to the estimator (its ``seed`` parameter, where it takes one)."""
        return derive_seed(self.base_seed, "estimator", str(self.spec), self.task.id, self.n, self.seed)


@dataclass(frozen=True)
class Grid:
    """Estimator specs x tasks x sample sizes x replicate seeds; build one with :func:`make_grid`."""

    estimators: tuple[EstimatorSpec, ...]
    tasks: tuple[Any, ...]
    ns: tuple[int, ...]
    seeds: tuple[int, ...]
    base_seed: int = 0
    label: str = "grid"

    def applies(self, spec: EstimatorSpec, task: Any) -> bool:
        """Whether ``spec``'s method estimates the quantity ``task`` asks for."""
        return spec.method in methods_for(task_quantity(task))

    def cells(self) -> list[Cell]:
        """All cells, ordered task, n, seed, estimator; specs that do not apply to a task are left out."""
        out: list[Cell] = []
        for task in self.tasks:
            specs = [s for s in self.estimators if self.applies(s, task)]
            for n in self.ns:
                for seed in self.seeds:
                    for spec in specs:
                        out.append(Cell(spec, task, n, seed, self.base_seed, len(out)))
        return out

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (what the results store keeps for the run)."""
        return {
            "estimators": [str(s) for s in self.estimators],
            "tasks": [t.id for t in self.tasks],
            "n": list(self.ns),
            "seeds": list(self.seeds),
            "base_seed": self.base_seed,
            "label": self.label,
        }

    def fingerprint(self) -> str:
        """Short hash of the grid's content: the default run id is ``"<label>-<fingerprint>"``."""
        d = self.describe()
        d.pop("label")
        return hashlib.sha256(to_json(d).encode()).hexdigest()[:10]

    @property
    def default_run_id(self) -> str:
        return f"{self.label}-{self.fingerprint()}"


def _check_ns(n: Any) -> tuple[int, ...]:
    items = [n] if isinstance(n, numbers.Integral) or isinstance(n, str) else n
    try:
        items = list(items)
    except TypeError:
        raise TypeError(f"n must be an integer or a list of integers; got {n!r}") from None
    out = []
    for v in items:
        if isinstance(v, str):
            raise TypeError(f"n must be integers; got {v!r} (the CLI parses '1000,5000'; Python takes [1000, 5000])")
        v = check_int("n", v, low=2)
        if v not in out:
            out.append(v)
    if not out:
        raise ValueError("n must list at least one sample size; got none")
    return tuple(sorted(out))


def _check_seeds(seeds: Any) -> tuple[int, ...]:
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        count = check_int("seeds", seeds, low=1)
        return tuple(range(count))
    try:
        items = list(seeds)
    except TypeError:
        raise TypeError(f"seeds must be a count (int >= 1) or a list of replicate indices; got {seeds!r}") from None
    out = []
    for v in items:
        v = check_int("seeds", v, low=0)
        if v not in out:
            out.append(v)
    if not out:
        raise ValueError("seeds must list at least one replicate index; got none")
    return tuple(out)


def validate_spec_params(spec: EstimatorSpec, quantities: Sequence[str]) -> None:
    """Check that ``spec``'s method exists for one of ``quantities`` and takes its parameters."""
    found = [q for q in quantities if spec.method in methods_for(q)]
    if not found:
        valid = sorted({m for q in quantities for m in methods_for(q)})
        raise ValueError(
            f"unknown estimator {spec.method!r} in spec {str(spec)!r} for the grid's tasks "
            f"({'/'.join(quantities)}); valid methods are {valid}"
        )
    for q in found:
        accepted = get_method(q, spec.method).params
        for name, _ in spec.params:
            if name not in accepted:
                raise ValueError(
                    f"unknown parameter {name!r} in estimator spec {str(spec)!r}; "
                    f"{spec.method} ({q}) takes {sorted(accepted)}"
                )


def make_grid(
    estimators: Any,
    tasks: Any = None,
    *,
    suite: str | Iterable[str] | None = None,
    n: int | Iterable[int] = 1000,
    seeds: int | Iterable[int] = 3,
    base_seed: int = 0,
) -> Grid:
    """Build and validate a :class:`Grid`.

    Parameters
    ----------
    estimators : str, EstimatorSpec or list of them
        Specs in the syntax of :mod:`infobench.bench.spec` (``"ksg[k=3,5],kde,histogram"``).
    tasks : Task, task id, or list of them, optional
        Tasks with ground truth (:mod:`infobench.tasks`, or objects with the same interface).
    suite : str or list of str, optional
        Suite name(s) from ``infobench.tasks.SUITES``; added to ``tasks``.
    n : int or list of int
        Sample sizes (>= 2).
    seeds : int or list of int
        Replicates: a count ``S`` (replicates ``0..S-1``) or explicit indices.
    base_seed : int
        The one seed every cell's seeds derive from, with the cell's identity (:mod:`infobench.bench.grid`).

    Raises
    ------
    ValueError
        Malformed specs, unknown methods or parameters, unknown tasks or
        suites, a spec that applies to none of the tasks, bad sizes or seeds.
    """
    specs = parse_specs(estimators)
    base_seed = check_int("base_seed", base_seed, low=0)
    ns = _check_ns(n)
    reps = _check_seeds(seeds)
    task_list = resolve_tasks(tasks, suite)
    quantities = sorted({task_quantity(t) for t in task_list})
    for spec in specs:
        validate_spec_params(spec, quantities)
    if suite is not None and tasks is None and isinstance(suite, str):
        label = suite
    else:
        label = "grid"
    return Grid(tuple(specs), tuple(task_list), ns, reps, base_seed, label)
