"""Score and score-parameter registries, per-comparison context and the outcome types shared by the score modules.

A *score group* is one function computing several related scores from a
:class:`Context` (e.g. precision, recall, density and coverage share their
neighbour searches). Each score is described by a :class:`ScoreSpec`: its
direction (``"up"``: higher is better, ``"down"``: lower is better,
``"zero"``: closer to zero is better), unit, range, whether it depends on
the sizes of the two sets, and how its bootstrap interval is drawn
(``"split"``: the score is recomputed on two disjoint halves of both
sets, with an estimated convergence rate; ``"subsample"``: on
subsamples of three quarters of every set drawn without replacement,
neighbourhoods recomputed; ``"generated"``: the same, of the generated set
alone, for a score conditional on the training split; see
:mod:`infobench.quality.bootstrap`). Each parameter of a score is declared
next to it with :func:`declare_param`; :class:`Params` is assembled from
the declarations.

Every neighbour search and ball test goes through the estimators' engine
(:func:`~infobench.estimators._exact_pairs.pair_search`): radii and ball
tests use the same exact distance, so a point on a ball's boundary is
outside. A :class:`Context` runs one self-search per set (half a pass over
its pairs) and one cross-search per pair of sets, which gives the nearest
neighbours in both directions and both ball counts at once.
"""

from __future__ import annotations

import hashlib
import importlib
import math
import pkgutil
import sys
import threading
import warnings
import zlib
from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from scipy.stats import binom

from infobench._validation import check_int, check_samples
from infobench.estimators.engine import (
    BallPairs,
    Neighbors,
    ball_counts,
    counts_within,
    gaussian_kernel_sum,
    neighbors_within,
    pair_distances,
    pair_search,
)
from infobench.quality._conditions import check_condition_codes

__all__ = [
    "DIRECTIONS",
    "SCORES",
    "GROUPS",
    "Context",
    "Outcome",
    "PARAMS",
    "ParamSpec",
    "Params",
    "ScoreSpec",
    "cli_options",
    "declare_param",
    "prepare",
    "register_group",
    "resolve_scores",
]

DIRECTIONS = {"up": "↑", "down": "↓", "zero": "→0"}


@dataclass(frozen=True, kw_only=True)
class ScoreSpec:
    """What one score measures and how to read it (every field is passed by keyword).

    Attributes
    ----------
    name : str
        Column id (``"fid"``, ``"precision"``, ...).
    label : str
        Short label for tables.
    direction : {"up", "down", "zero"}
        Which way is better.
    unit : str
        ``"nats"``, ``"fraction"``, ``"count"`` or ``""`` (dimensionless).
    family : {"information", "standard"}
        Information-theoretic scores or the standard ones of the literature.
    needs : {"probs", "features", "train"}
        Class probabilities, features, or features of the training split.
    bootstrap : {"split", "subsample", "generated"}
        How the bootstrap interval is drawn.
    group : str
        The computation that produces it.
    summary : str
        One line: what a change in the score means.
    value_range : (float, float)
        The values the score can take; intervals are kept inside it.
    size_dependent : bool
        The value depends on the relative sizes of the real and generated
        sets: it is computed at equal n, the larger set cut into chunks of
        the smaller one's size (see :func:`equal_size_contexts`).
    size_need : callable ``(params, set_kind) -> (rows, reason)``
        The fewest rows a set (``set_kind`` "real", "fake" or "train") needs,
        checked before any feature is computed (default: 2).
    interval_need : callable ``(context) -> reason``, optional
        Why the score gets no bootstrap interval on this context (``""``:
        it gets one): for a score whose replicates are known to misstate its
        spread on sets this small. The value is still reported.
    params : tuple of str
        The parameters the score reads, each declared with
        :func:`declare_param` before the score is registered (an undeclared
        name is an error); listed by ``available_scores``.
    conditions : tuple of str
        The validity conditions its formula needs (codes of
        :data:`infobench.estimators._conditions.CONDITIONS`; see
        :mod:`infobench.quality._conditions`), checked on the features of
        every comparison; ``pixel-range``, ``non-finite-features`` and
        ``reduced-precision`` hold for every score without being declared
        (:data:`~infobench.quality._conditions.DEFAULT_CONDITIONS`). An
        unknown code is an error.
    """

    name: str
    label: str
    direction: str
    unit: str
    family: str
    needs: str
    bootstrap: str
    group: str
    summary: str
    value_range: tuple[float, float] = (-math.inf, math.inf)
    size_dependent: bool = False
    size_need: Callable[[Any, str], tuple[int, str]] = field(default=lambda params, set_kind: (2, ""), repr=False)
    params: tuple[str, ...] = ()
    interval_need: Callable[[Any], str] | None = field(default=None, repr=False)
    conditions: tuple[str, ...] = ()

    @property
    def arrow(self) -> str:
        return DIRECTIONS[self.direction]


@dataclass
class Outcome:
    """The value of one score on one (real, generated) pair, with what it used."""

    value: float
    n_real: int
    n_fake: int
    extras: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    # A standard error the score computes itself (KID from its subsets); None: the bootstrap gives it.
    std_err: float | None = None


@dataclass(frozen=True)
class ParamSpec:
    """One score parameter, declared where it is used (:func:`declare_param`).

    Attributes
    ----------
    name : str
        Keyword of :class:`Params`, :func:`~infobench.quality.score` and
        :func:`~infobench.quality.score_features`.
    default : object
        Value when not given.
    check : callable ``(name, value)``
        Raises (naming ``name`` and the value) when ``value`` is not valid;
        its return value is not used (the value is kept as given). ``None``
        is accepted unchecked for a parameter whose default is ``None``.
    doc : str
        One line: what the parameter sets.
    cli : callable or None
        The option's argparse ``type`` when the parameter is exposed as
        ``--name-with-dashes`` on ``infobench score`` and ``infobench
        validity`` (help: ``doc`` and the default); ``None``: Python only.
    alias_of : str or None
        For a renamed parameter kept one release: the new name. Giving the
        alias warns (``DeprecationWarning``) and sets the new parameter.
    deprecated : str
        The advice of that warning (``"<name> is deprecated: <deprecated>"``).
    module : str
        The module that declared it.
    """

    name: str
    default: Any
    check: Callable[[str, Any], Any] = field(repr=False)
    doc: str
    cli: Callable[[str], Any] | None = field(default=None, repr=False)
    alias_of: str | None = None
    deprecated: str = ""
    module: str = ""

    @property
    def option(self) -> str:
        """The command-line option (``""`` when not exposed)."""
        return "--" + self.name.replace("_", "-") if self.cli is not None else ""

    @property
    def help(self) -> str:
        return f"{self.doc} (default {self.default})"


# Declared by the score modules (declare_param), in declaration order; read by Params and the CLI.
PARAMS: dict[str, ParamSpec] = {}
_RESERVED = {"as_dict", "replace"}


def declare_param(
    name: str,
    default: Any,
    *,
    check: Callable[[str, Any], Any],
    doc: str,
    cli: Callable[[str], Any] | None = None,
    alias_of: str | None = None,
    deprecated: str = "",
) -> ParamSpec:
    """Declare a score parameter next to the score that reads it (one declaration per parameter).

    Parameters
    ----------
    name : str
        A new keyword (an identifier not declared yet).
    default : object
        Its value when not given; it must pass ``check`` (or be ``None``).
    check : callable ``(name, value)``
        A validator of :mod:`infobench._validation`, e.g.
        ``functools.partial(check_int, low=1)``: raises naming the parameter
        and the value.
    doc : str
        One line, listed by :func:`~infobench.quality.scoring.available_params`
        and used as the CLI help.
    cli : callable, optional
        argparse ``type`` of the option ``--name-with-dashes`` (default: not
        on the command line).
    alias_of, deprecated : str, optional
        A deprecated alias of the already-declared parameter ``alias_of``
        (see :class:`ParamSpec`).

    Returns
    -------
    ParamSpec

    Raises
    ------
    ValueError
        A name that is not an identifier, reserved or already declared, an
        empty or multi-line ``doc``, or an unknown ``alias_of``.
    """
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_") or name in _RESERVED:
        raise ValueError(
            f"score parameter name must be an identifier not starting with '_' and not one of "
            f"{sorted(_RESERVED)}; got {name!r}"
        )
    if name in PARAMS:
        raise ValueError(f"score parameter {name!r} is already declared (in {PARAMS[name].module})")
    if not isinstance(doc, str) or not doc.strip() or "\n" in doc:
        raise ValueError(f"doc of score parameter {name!r} must be one non-empty line; got {doc!r}")
    if alias_of is not None and alias_of not in PARAMS:
        raise ValueError(f"score parameter {name!r}: alias_of must name a declared parameter; got {alias_of!r}")
    if default is not None:
        check(name, default)
    module = sys._getframe(1).f_globals.get("__name__", "")
    spec = ParamSpec(name, default, check, doc, cli, alias_of, deprecated, module)
    PARAMS[name] = spec
    return spec


def _check_params(values: dict[str, Any]) -> dict[str, Any]:
    """Every declared parameter's value (given or default), validated; deprecated aliases resolved."""
    unknown = sorted(set(values) - set(PARAMS))
    if unknown:
        raise ValueError(f"unknown score parameter {unknown[0]!r}; valid parameters are {list(PARAMS)}")
    out = {name: values.get(name, spec.default) for name, spec in PARAMS.items()}
    aliases = [(spec, spec.alias_of) for spec in PARAMS.values() if spec.alias_of is not None]
    for spec, target in aliases:
        alias = spec.name
        if out[alias] is None:
            continue
        spec.check(alias, out[alias])
        if out[target] is not None and out[target] != out[alias]:
            raise ValueError(
                f"{alias} is a deprecated alias of {target}: give one; got {target}={out[target]}, {alias}={out[alias]}"
            )
        # stacklevel 4: _check_params <- Params.__init__ <- the caller of Params(...).
        warnings.warn(f"{alias} is deprecated: {spec.deprecated}", DeprecationWarning, stacklevel=4)
        out[target], out[alias] = out[alias], None
    for name, spec in PARAMS.items():
        if spec.alias_of is None and not (out[name] is None and spec.default is None):
            spec.check(name, out[name])
    return out


class Params:
    """Hyper-parameters of the scores, validated once, before any work.

    Built from the parameters declared with :func:`declare_param` by the
    score modules (each next to the score that reads it; the neighbour
    parameters of :class:`Context` in this module):
    ``Params(k=3, vendi_q=2.0)`` gives every other parameter its default.
    The values are read as attributes (``params.k``); a ``Params`` is
    immutable (assignment raises ``dataclasses.FrozenInstanceError``),
    hashable and compares equal to one with the same values.
    :func:`~infobench.quality.scoring.available_params` lists every
    parameter with its default, its one-line doc and its CLI option.

    Parameters
    ----------
    **values
        Declared parameter names and their values. The parameters of this
        module: ``k`` (int, 5: neighbourhood size of precision, recall,
        density and coverage, as in Naeem et al. 2020), ``knn_k`` (int, 3:
        neighbour index of the kNN entropy and KL divergence scores),
        ``max_memory`` (int bytes or None: budget of one distance tile, the
        estimators' ``max_memory``) and ``tile_bytes`` (its deprecated alias,
        one release; read back as ``None``).

    Raises
    ------
    ValueError
        An unknown name (the message lists the valid ones), or a value out
        of its parameter's range (the message names the parameter and the
        value).
    TypeError
        A value of the wrong type, named likewise.
    """

    __slots__ = ("_values",)

    def __init__(self, **values: Any) -> None:
        _ensure_loaded()
        object.__setattr__(self, "_values", _check_params(values))

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("_"):
            try:
                return self._values[name]
            except KeyError:
                pass
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._values))

    def __eq__(self, other: Any) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in self._values.items()) + ")"

    def __reduce__(self):
        return _params_from_values, (dict(self._values),)

    def as_dict(self) -> dict[str, Any]:
        """Every parameter and its value, in declaration order (a deprecated alias reads ``None``)."""
        return dict(self._values)

    def replace(self, **changes: Any) -> Params:
        """A copy with ``changes`` (validated like the constructor's keywords)."""
        kept = {k: v for k, v in self._values.items() if k in PARAMS and PARAMS[k].alias_of is None}
        return type(self)(**{**kept, **changes})


def _params_from_values(values: dict[str, Any]) -> Params:
    """Unpickle: the values were validated when the original was built."""
    p = object.__new__(Params)
    object.__setattr__(p, "_values", values)
    return p


# The neighbour parameters: Context reads them (self_knn, radii, cross, inside).
declare_param(
    "k",
    5,
    check=partial(check_int, low=1),
    cli=int,
    doc="neighbourhood size of precision, recall, density and coverage (Naeem et al. 2020)",
)
declare_param(
    "knn_k",
    3,
    check=partial(check_int, low=1),
    cli=int,
    doc="neighbour index of the kNN entropy and KL divergence scores",
)
declare_param(
    "max_memory",
    None,
    check=partial(check_int, low=1024),
    doc="memory budget in bytes of one distance tile (None: the estimators' default)",
)
declare_param(
    "tile_bytes",
    None,
    check=partial(check_int, low=1024),
    alias_of="max_memory",
    deprecated="use max_memory (bytes)",
    doc="deprecated alias of max_memory (one release)",
)


def neighbor_need(params: Params, set_kind: str) -> tuple[int, str]:
    """Size need of the neighbour scores: more rows than the largest neighbour order."""
    return max(params.k, params.knn_k) + 1, f"k={params.k}, knn_k={params.knn_k}"


def cli_options() -> dict[str, ParamSpec]:
    """The declared parameters exposed on the command line, with the score modules loaded."""
    _ensure_loaded()
    return {name: spec for name, spec in PARAMS.items() if spec.cli is not None}


SCORES: dict[str, ScoreSpec] = {}
# group name -> (function(ctx, names) -> {score: Outcome}, its score names in order)
GROUPS: dict[str, tuple[Callable[[Context, tuple[str, ...]], dict[str, Outcome]], tuple[str, ...]]] = {}
# group name -> function(ctx) announcing work that a shared pass can do (see prepare)
PREPARE: dict[str, Callable[[Context], None]] = {}
# group name -> function(ctx, subsets) announcing the work of its split replicates (see register_group)
SPLIT_PLANS: dict[str, Callable[[Context, list[tuple[np.ndarray, np.ndarray]]], None]] = {}


def register_group(
    name: str,
    specs: list[ScoreSpec],
    prepare: Callable[[Context], None] | None = None,
    plan_split: Callable[[Context, list[tuple[np.ndarray, np.ndarray]]], None] | None = None,
):
    """Decorator: register a score group computing ``specs``.

    ``prepare(ctx)``, when given, runs on the root context before any group
    computes (:func:`prepare`), so that the group can announce work that a
    shared neighbour pass does at little extra cost (e.g.
    :meth:`Context.want_kernel_sum`). ``plan_split(ctx, subsets)``, when
    given, runs on the root context before any group computes when the
    group's interval comes from split replicates: ``subsets`` lists the
    ``(real rows, generated rows)`` of every half the replicates
    will use, so that the root's passes can compute their parts too.
    """

    def deco(func):
        for spec in specs:
            if spec.name in SCORES:
                raise ValueError(f"score {spec.name!r} is already registered")
            if spec.direction not in DIRECTIONS:
                raise ValueError(f"direction must be one of {list(DIRECTIONS)}; got {spec.direction!r}")
            check_condition_codes(spec.name, spec.conditions)
            undeclared = [p for p in spec.params if p not in PARAMS]
            if undeclared:
                raise ValueError(
                    f"score {spec.name!r} reads undeclared parameter {undeclared[0]!r} "
                    f"(declare it with declare_param first); declared: {list(PARAMS)}"
                )
        for spec in specs:
            SCORES[spec.name] = spec
        GROUPS[name] = (func, tuple(s.name for s in specs))
        if prepare is not None:
            PREPARE[name] = prepare
        if plan_split is not None:
            SPLIT_PLANS[name] = plan_split
        return func

    return deco


def prepare(ctx: Context, names: tuple[str, ...]) -> None:
    """Run the ``prepare`` hooks of the groups that compute any of ``names`` on the root context.

    ``ctx.requested`` holds ``names`` for the hooks (which passes will run anyway).
    """
    ctx.requested = tuple(names)
    for group, (_, members) in GROUPS.items():
        if group in PREPARE and any(n in names for n in members):
            PREPARE[group](ctx)


_LOADED = False


def _ensure_loaded() -> None:
    """Import every ``infobench/quality/scores_*.py``: each declares its parameters and registers its scores."""
    global _LOADED
    if _LOADED:
        return
    package = Path(__file__).parent
    for info in sorted(pkgutil.iter_modules([str(package)]), key=lambda m: m.name):
        if info.name.startswith("scores_"):
            importlib.import_module(f"infobench.quality.{info.name}")
    _LOADED = True


def resolve_scores(scores: Any, *, has_probs: bool = True, has_train: bool = True) -> tuple[str, ...]:
    """Validate score names (``None``: every score the inputs allow) and return them in registry order.

    Raises
    ------
    ValueError
        An unknown name (the message lists the valid ones), or a class-based
        score requested from an extractor without class probabilities.
    """
    _ensure_loaded()
    if scores is None:
        return tuple(n for n, s in SCORES.items() if has_probs or s.needs != "probs")
    if isinstance(scores, str):
        scores = [s.strip() for s in scores.split(",") if s.strip()]
    try:
        wanted = list(scores)
    except TypeError:
        raise TypeError(f"scores must be None, a comma-separated string or a list of names; got {scores!r}") from None
    if not wanted:
        raise ValueError("scores must name at least one score; got an empty list")
    for name in wanted:
        if not isinstance(name, str) or name not in SCORES:
            raise ValueError(f"unknown score {name!r}; valid scores are {list(SCORES)}")
        if SCORES[name].needs == "probs" and not has_probs:
            raise ValueError(
                f"score {name!r} needs class probabilities, which this extractor does not give "
                "(use the 'classifier' extractor or a module returning (features, logits))"
            )
    return tuple(n for n in SCORES if n in set(wanted))


def _seed_for(root: int, label: str) -> np.random.SeedSequence:
    # crc32 (not hash()) so that seeds are the same in every process.
    return np.random.SeedSequence([root, zlib.crc32(label.encode())])


class Context:
    """Features (and class probabilities) of one real / generated pair, with shared neighbour searches.

    Parameters
    ----------
    real, fake : torch.Tensor
        ``(n, d)`` float64 features.
    real_probs, fake_probs : torch.Tensor or None
        ``(n, C)`` float64 class probabilities.
    train : torch.Tensor or None
        Features of the training split for memorization; ``None``: ``real`` is the training split.
    params : Params
    seed : int
        Root seed; every group draws from its own child stream so that adding
        or removing scores does not change the others.
    heldout : torch.Tensor or None
        Features of real data the feature extractor was not trained on (the
        test split): the real side of the entropy gap when given.
    """

    def __init__(
        self,
        real,
        fake,
        real_probs,
        fake_probs,
        train,
        params: Params,
        seed: int,
        shared=None,
        origin=None,
        heldout=None,
    ):
        self.real = real
        self.heldout = heldout
        self.fake = fake
        self.real_probs = real_probs
        self.fake_probs = fake_probs
        self.train = train
        self.params = params
        self.seed = int(seed)
        # Constants derived from the full real set (e.g. a kernel width), kept by resampled copies.
        self.shared: dict[str | tuple[str, ...], Any] = {"root": (real, fake)} if shared is None else shared
        # Row indices of this context's sets in the root context's sets (None: the root itself).
        self.origin: tuple[np.ndarray, np.ndarray] | None = origin
        self._self: dict[str, Neighbors] = {}
        self._cross: dict[tuple[str, str], Neighbors] = {}
        self._inside: dict[tuple[str, str], torch.Tensor] = {}
        # Values derived from this context's sets by one score group and read by another (e.g. moments).
        self.cache: dict[Any, Any] = {}
        self._kernel_wanted: dict[str, float] = {}
        self._subsets_wanted: dict[str, list[tuple[np.ndarray, float]]] = {}
        self._kernel: dict[tuple[str, float], float] = {}
        # Replicates of this context will keep this share of its rows (see keep_neighbors).
        self.replicate_fraction: float | None = None
        # The longer exact lists and ball pairs kept for those replicates.
        self._long_self: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._long_cross: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._ball_pairs: dict[tuple[str, str], BallPairs | None] = {}
        # A context made by resample(): its parent and, per set key, (parent key, rows or None for all).
        self._parent: Context | None = None
        self._lineage: dict[str, tuple[str, np.ndarray | None]] = {}
        # Per set key: rows whose neighbours a derivation searched again (their ball counts are recounted).
        self._searched_again: dict[str, np.ndarray] = {}
        # The scores requested of this context (set by prepare), and the cubic-kernel subset sums announced.
        self.requested: tuple[str, ...] = ()
        self.cubic_wanted: tuple[np.ndarray, np.ndarray] | None = None
        self._cubic: dict[str, np.ndarray] = {}

    # -------------------------------------------------------------- sets
    def features(self, which: str) -> torch.Tensor:
        if which == "heldout":
            return self.real if self.heldout is None else self.heldout
        if which == "train":
            return self.real if self.train is None else self.train
        return self.real if which == "real" else self.fake

    def _key(self, which: str) -> str:
        if (which == "train" and self.train is None) or (which == "heldout" and self.heldout is None):
            return "real"
        return which

    def rng(self, label: str) -> np.random.Generator:
        return np.random.default_rng(_seed_for(self.seed, label))

    def root_index(self, which: str) -> np.ndarray:
        """Indices of this context's ``which`` rows among the root context's rows."""
        n = self.features(which).shape[0]
        if self.origin is None:
            return np.arange(n)
        return self.origin[0 if which == "real" else 1]

    def resample(
        self, idx_real: np.ndarray | None, idx_fake: np.ndarray, idx_heldout: np.ndarray | None = None
    ) -> Context:
        """A context on rows ``idx_real`` / ``idx_fake`` (and of the held-out split when given).

        ``idx_real=None`` keeps the real set whole (no copy). The training
        split is kept whole (a ``real`` that is its own training split
        becomes a separate, unchanged one): only memorization reads it, and
        its replicates hold it fixed (:meth:`resample_fake`). Without
        ``idx_heldout`` the held-out split is kept whole.
        """
        idx_fake = np.asarray(idx_fake)
        jf = torch.as_tensor(idx_fake, device=self.fake.device)
        real, real_probs, origin_real = self.real, self.real_probs, self.root_index("real")
        if idx_real is not None:
            idx_real = np.asarray(idx_real)
            ir = torch.as_tensor(idx_real, device=self.real.device)
            real, real_probs = self.real[ir], None if self.real_probs is None else self.real_probs[ir]
            origin_real = origin_real[idx_real]
        heldout = self.heldout
        if idx_heldout is not None and heldout is not None:
            idx_heldout = np.asarray(idx_heldout)
            heldout = heldout[torch.as_tensor(idx_heldout, device=heldout.device)]
        out = Context(
            real,
            self.fake[jf],
            real_probs,
            None if self.fake_probs is None else self.fake_probs[jf],
            self.real if self.train is None else self.train,
            self.params,
            self.seed,
            self.shared,
            (origin_real, self.root_index("fake")[idx_fake]),
            heldout,
        )
        out._parent = self
        out._lineage = {"real": ("real", idx_real), "fake": ("fake", idx_fake), "train": (self._key("train"), None)}
        if self.heldout is not None:
            out._lineage["heldout"] = ("heldout", None if idx_heldout is None else idx_heldout)
        return out

    def resample_fake(self, idx_fake: np.ndarray) -> Context:
        """A context on rows ``idx_fake`` of the generated set, every other set whole.

        The whole sets' self-searches are shared with this context (they are
        the same rows), so a replicate computes only the searches that involve
        the generated rows.
        """
        out = self.resample(None, idx_fake)
        for which in ("real", "train"):
            key = self._key(which)
            if key in self._self:
                out._self[out._key(which)] = self._self[key]
        return out

    # ---------------------------------------------------------- neighbours
    def keep_neighbors(self, fraction: float) -> None:
        """Announce replicates on subsamples of ``fraction`` of each set, before any search.

        The searches of this context then keep, per row, enough exact
        neighbours that a subsample keeps ``k`` of them with probability
        ``1 - 1e-4`` (:func:`spare_neighbors`), and the cross-searches keep
        every pair inside the largest ball a subsample can have; a
        replicate's searches and ball counts follow from them without a new
        pass (:meth:`resample`; rows that run out are searched again).
        """
        self.replicate_fraction = float(fraction)

    def _long(self, k: int, avail: int) -> int:
        """Neighbours a search keeps: ``k``, or more for replicates (:meth:`keep_neighbors`)."""
        if self.replicate_fraction is None:
            return k
        return min(avail, spare_neighbors(k, self.replicate_fraction))

    def _source(self, key: str) -> tuple[Context, str, np.ndarray | None, np.ndarray | None] | None:
        """Where set ``key`` comes from when its searches can be derived from the parent's longer lists.

        ``(parent, parent key, rows kept or None, position of every parent row
        among them or None)``; None when this context searches itself (no
        parent, a parent without longer lists, or a context that keeps longer
        lists of its own).
        """
        parent = self._parent
        if parent is None or parent.replicate_fraction is None or self.replicate_fraction is not None:
            return None
        if key not in self._lineage:
            return None
        pkey, rows = self._lineage[key]
        pkey = parent._key(pkey)
        if rows is None:
            return parent, pkey, None, None
        n_parent = parent.features(pkey).shape[0]
        if rows.size < 0.5 * n_parent:  # too few rows kept: most would be searched again
            return None
        pos = np.full(n_parent, -1, dtype=np.int64)
        pos[rows] = np.arange(rows.size)
        return parent, pkey, rows, pos

    def self_knn(self, which: str) -> Neighbors:
        """The ``max(k, knn_k)`` nearest other rows of every row of ``which`` (exact distances)."""
        key = self._key(which)
        if key not in self._self:
            x = self.features(key)
            kmax = max(self.params.k, self.params.knn_k)
            if x.shape[0] <= kmax:
                raise ValueError(
                    f"{key} features need more than {kmax} samples for neighbour scores "
                    f"(k={self.params.k}, knn_k={self.params.knn_k}); got {x.shape[0]}"
                )
            src = self._source(key)
            if src is not None and src[1] in src[0]._long_self:
                parent, pkey, rows, pos = src

                def research(again: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                    return _search_again(x, again, kmax, x, self.params.max_memory, exclude_self=True)

                nb, again = neighbors_within(
                    parent._long_self[pkey], kmax, rows=rows, keep=pos, research=research, device=x.device
                )
                self._self[key] = nb
                self._searched_again[key] = again
                return nb
            bandwidth = self._kernel_wanted.pop(key, None)
            subsets = self._subsets_wanted.pop(key, None)
            if subsets and bandwidth is None:
                bandwidth = subsets[0][1]
            cubic = (
                None
                if self.cubic_wanted is None or key not in ("real", "fake")
                else (self.cubic_wanted[0 if key == "real" else 1], None)
            )
            res = pair_search(
                x,
                self._long(kmax, x.shape[0] - 1),
                kernel_bandwidth=bandwidth,
                kernel_subsets=subsets,
                cubic_subsets=cubic,
                max_memory=self.params.max_memory,
            )
            if cubic is not None:
                self._cubic[key] = _asked(res.cubic_sums)
            if self.replicate_fraction is not None:
                self._long_self[key] = _as_numpy(_asked(res.rows))
            self._self[key] = _first(_asked(res.rows), kmax)
            if bandwidth is not None:
                self._kernel[(key, bandwidth)] = _asked(res.kernel_sum)
            if subsets:
                self._keep_subset_sums(key, subsets, _asked(res.subset_kernel_sums))
        return self._self[key]

    def want_kernel_sum(self, which: str, bandwidth: float, rows: np.ndarray | None = None) -> None:
        """Announce :meth:`kernel_sum` of ``which``: computed with its self-search, from the same tiles.

        ``rows`` (increasing): the kernel sum of that subset of the rows
        instead, as a context on those rows (e.g. a split replicate) will ask
        for it; announced before the self-search, it comes from the same
        tiles (``kernel_subsets`` of :func:`pair_search`).
        """
        key = self._key(which)
        if key in self._self:
            return
        if rows is None:
            self._kernel_wanted[key] = bandwidth
        else:
            self._subsets_wanted.setdefault(key, []).append((np.asarray(rows), float(bandwidth)))

    def kernel_sum(self, which: str, bandwidth: float) -> float:
        """``sum_{i,j} exp(-|x_i - x_j|^2 / bandwidth^2)`` over the rows of ``which`` (ordered pairs, diagonal included)."""
        key = self._key(which)
        if (key, bandwidth) not in self._kernel:
            found = self._shared_kernel_sums().get((key, rows_digest(self._root_rows(key)), float(bandwidth)))
            if found is None:
                x = self.features(key)
                subsets = self._subsets_wanted.pop(key, None)
                if subsets and x.shape[0] > 1:  # one pass for this sum and the announced subsets'
                    res = pair_search(
                        x, 0, kernel_bandwidth=bandwidth, kernel_subsets=subsets, max_memory=self.params.max_memory
                    )
                    self._keep_subset_sums(key, subsets, _asked(res.subset_kernel_sums))
                    found = _asked(res.kernel_sum)
                else:
                    found = gaussian_kernel_sum(x, bandwidth, max_memory=self.params.max_memory)
            self._kernel[(key, bandwidth)] = found
        return self._kernel[(key, bandwidth)]

    def _keep_subset_sums(self, key: str, subsets: list[tuple[np.ndarray, float]], sums: np.ndarray) -> None:
        """Keep announced subset kernel sums for the contexts on those subsets (keyed by their root rows)."""
        mine = self._root_rows(key)
        table = self._shared_kernel_sums()
        for (rows, h), value in zip(subsets, sums):
            table[(key, rows_digest(mine[rows]), h)] = float(value)

    def row_sums(
        self, which: str, name: str, terms: Callable[[np.ndarray], tuple[np.ndarray, ...]]
    ) -> tuple[np.ndarray, ...]:
        """Sums over the rows of ``which`` of additive per-row terms, shared between the root and its replicates.

        ``terms(rows)`` returns the sums of the terms over the given rows
        (float64 numpy arrays of the ``which`` features, e.g. ``(sum x,
        sum x x^T)`` for moments); ``name`` identifies ``terms``. The sums
        of every row set are kept by the root context (keyed by its rows), so
        a context whose rows are the root's minus a row set already summed
        (the other half of a split replicate) costs a subtraction, and one
        with more than half of the root's rows sums the rows it lacks. Rows
        that are a union of random groups announced in ``shared[("row_groups",
        which)]`` (the halves of the split replicates, see
        :func:`~infobench.quality.bootstrap.split_draws`) are summed from the
        groups' sums instead, each computed once per grouping: no pass over
        the rows.
        """
        key = self._key(which)
        table = self.shared.setdefault(("row_sums", name, key), {})
        n_root = self.shared["root"][0 if key == "real" else 1].shape[0] if key in ("real", "fake") else None
        rows = self._root_rows(key)
        mine = rows_digest(rows)
        if mine in table:
            return table[mine]
        layout = self.shared.get(("row_groups", key), {}).get(mine)
        if layout is not None:
            return self._group_row_sums(key, name, terms, *layout)
        whole = rows_digest(np.arange(n_root)) if n_root is not None else mine
        if n_root is not None and rows.size < n_root and whole in table:
            rest = np.setdiff1d(np.arange(n_root), rows, assume_unique=True)
            other = table.get(rows_digest(rest))
            if other is None and rest.size < rows.size:
                other = terms(self._root_features(key)[rest])
            if other is not None:
                table[mine] = tuple(t - o for t, o in zip(table[whole], other))
                return table[mine]
        x = self.features(key).detach().cpu().numpy()
        table[mine] = terms(x)
        return table[mine]

    def _group_row_sums(
        self,
        key: str,
        name: str,
        terms: Callable[[np.ndarray], tuple[np.ndarray, ...]],
        grouping: int,
        groups: list[np.ndarray],
        members: tuple[int, ...],
        extra: np.ndarray,
    ) -> tuple[np.ndarray, ...]:
        """``terms`` summed over the root rows of ``groups[members]`` and ``extra`` (a split replicate's half).

        Each group's sums are computed once per grouping, by the first half
        that needs them (the two halves of a replicate hold disjoint groups,
        so the two threads that compute them side by side split that pass),
        and those of an earlier grouping are dropped: one grouping's sums are
        held at a time (``len(groups)`` times the size of ``terms``).
        """
        with self.shared.setdefault(("group_sums_lock",), threading.Lock()):
            entry: tuple[int, list[tuple[np.ndarray, ...] | None], list[threading.Lock]] | None = self.shared.get(
                ("group_sums", name, key)
            )
            if entry is None or entry[0] != grouping:
                entry = (grouping, [None] * len(groups), [threading.Lock() for _ in groups])
                self.shared[("group_sums", name, key)] = entry
        _, sums, locks = entry
        x = self._root_features(key)
        parts: list[tuple[np.ndarray, ...]] = []  # sums[g] of each member, in order
        for g in members:
            with locks[g]:
                part = sums[g]
                if part is None:
                    part = sums[g] = terms(x[groups[g]])
            parts.append(part)
        out = [np.array(t, dtype=np.float64, copy=True) for t in parts[0]]
        for part in parts[1:]:
            for o, t in zip(out, part):
                o += t
        if extra.size:
            for o, t in zip(out, terms(x[extra])):
                o += t
        return tuple(out)

    def _root_features(self, key: str) -> np.ndarray:
        return self.shared["root"][0 if key == "real" else 1].detach().cpu().numpy()

    def want_cubic_sums(self, rows_real: np.ndarray, rows_fake: np.ndarray) -> None:
        """Announce :meth:`cubic_sums` of the subsets ``rows_real`` / ``rows_fake`` (``(S, m)`` each), before any search."""
        self.cubic_wanted = (np.asarray(rows_real), np.asarray(rows_fake))

    def cubic_sums(self) -> dict[str, np.ndarray]:
        """The announced cubic-kernel sums (KID's) from the passes: ``real``, ``fake`` (pairs ``i != j``) and ``cross``.

        Each ``(S, 3)``: per subset, over the subset and over its two halves
        (``cubic_subsets`` of :func:`pair_search`). Runs the three passes that
        have not run yet (with the searches they also give).
        """
        self.self_knn("real")
        self.self_knn("fake")
        self.cross("real", "fake")
        return self._cubic

    def _shared_kernel_sums(self) -> dict:
        return self.shared.setdefault("kernel_sums", {})

    def _root_rows(self, key: str) -> np.ndarray:
        """Rows of set ``key`` among the root context's rows of the same set."""
        if key in ("real", "fake"):
            return self.root_index(key)
        return np.arange(self.features(key).shape[0])

    def radii(self, which: str) -> torch.Tensor:
        """Distance of every row of ``which`` to its k-th nearest other row (the PRDC ball radius)."""
        return self.self_knn(which).dist[:, self.params.k - 1]

    def _has_radii(self, which: str) -> bool:
        return self.features(which).shape[0] > max(self.params.k, self.params.knn_k)

    def _outer(self, which: str) -> torch.Tensor | None:
        """The largest ball radius of ``which`` a replicate can have without a new search (last kept neighbour)."""
        key = self._key(which)
        if key not in self._long_self:
            return None
        return torch.from_numpy(self._long_self[key][0][:, -1].copy()).to(self.features(key).device)

    def _pair(self, a: str, b: str) -> None:
        """One cross-search between sets ``a`` and ``b``: nearest neighbours both ways, both ball counts."""
        if self._derive_pair(a, b):
            return
        q, r = self.features(a), self.features(b)
        kk = min(self.params.knn_k, r.shape[0], q.shape[0])
        long = self._long(kk, min(r.shape[0], q.shape[0]))
        ref_radii = self.radii(b) if self._has_radii(b) else None
        x_radii = self.radii(a) if self._has_radii(a) else None
        ref_outer = self._outer(b) if ref_radii is not None else None
        x_outer = self._outer(a) if x_radii is not None and a != b else None
        if a == b:  # a set against itself (each row is its own nearest, at distance 0)
            res = pair_search(
                q, long, ref=r, ref_radii=ref_radii, ref_outer=ref_outer, max_memory=self.params.max_memory
            )
            self._keep_cross(a, b, _asked(res.rows), kk)
            if res.rows_inside is not None:
                self._inside[(a, b)] = res.rows_inside
            if ref_outer is not None:
                self._ball_pairs[(a, b)] = res.rows_pairs
            return
        cubic = None
        if self.cubic_wanted is not None and {a, b} == {"real", "fake"}:
            cubic = self.cubic_wanted if a == "real" else self.cubic_wanted[::-1]
        res = pair_search(
            q,
            long,
            ref=r,
            both_sides=True,
            ref_radii=ref_radii,
            x_radii=x_radii,
            ref_outer=ref_outer,
            x_outer=x_outer,
            cubic_subsets=cubic,
            max_memory=self.params.max_memory,
        )
        if cubic is not None:
            self._cubic["cross"] = _asked(res.cubic_sums)
        self._keep_cross(a, b, _asked(res.rows), kk)
        self._keep_cross(b, a, _asked(res.cols), kk)
        if res.rows_inside is not None:
            self._inside[(a, b)] = res.rows_inside
        if res.cols_inside is not None:
            self._inside[(b, a)] = res.cols_inside
        if ref_outer is not None:
            self._ball_pairs[(a, b)] = res.rows_pairs
        if x_outer is not None:
            self._ball_pairs[(b, a)] = res.cols_pairs

    def _keep_cross(self, a: str, b: str, nb: Neighbors, kk: int) -> None:
        if self.replicate_fraction is not None:
            self._long_cross[(a, b)] = _as_numpy(nb)
        self._cross[(a, b)] = _first(nb, kk)

    def _derive_pair(self, a: str, b: str) -> bool:
        """The cross-search of ``a`` and ``b`` from the parent's longer lists and ball pairs, when it has them."""
        sa, sb = self._source(a), self._source(b)
        if sa is None or sb is None:
            return False
        parent = sa[0]
        pa, pb = sa[1], sb[1]
        q, r = self.features(a), self.features(b)
        kk = min(self.params.knn_k, r.shape[0], q.shape[0])
        with_a, with_b = self._has_radii(a), self._has_radii(b)
        need = [(pa, pb)] + ([(pb, pa)] if a != b else [])
        if not all(key in parent._long_cross for key in need):
            return False
        if with_b and parent._ball_pairs.get((pa, pb)) is None:
            return False
        if with_a and a != b and parent._ball_pairs.get((pb, pa)) is None:
            return False
        mem = self.params.max_memory

        def derive(qs, rs, qx, rx) -> Neighbors:
            def research(again: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                return _search_again(qx, again, kk, rx, mem, exclude_self=False)

            return neighbors_within(
                parent._long_cross[(qs[1], rs[1])], kk, rows=qs[2], keep=rs[3], research=research, device=qx.device
            )[0]

        self._cross[(a, b)] = derive(sa, sb, q, r)
        if a != b:
            self._cross[(b, a)] = derive(sb, sa, r, q)
        if with_b:
            pairs = parent._ball_pairs[(pa, pb)]
            assert pairs is not None  # checked above: without them there is no derivation
            self._inside[(a, b)] = self._derived_counts(pairs, a, b, sa, sb)
        if with_a and a != b:
            pairs = parent._ball_pairs[(pb, pa)]
            assert pairs is not None  # likewise
            self._inside[(b, a)] = self._derived_counts(pairs, b, a, sb, sa)
        return True

    def _derived_counts(self, pairs: BallPairs, a: str, b: str, sa, sb) -> torch.Tensor:
        """Per row of ``a``: the ``b`` balls holding it strictly, from the parent's ball pairs."""
        q, r = self.features(a), self.features(b)
        radii = self.radii(b)
        redo = self._searched_again.get(self._key(b), np.zeros(0, dtype=np.int64))

        def recount(balls: np.ndarray) -> np.ndarray:
            if balls.size * q.shape[0] * q.shape[1] <= _DIRECT_WORK:  # a few balls: every point directly
                qn, rn, rad = q.detach().cpu().numpy(), r.detach().cpu().numpy(), radii.cpu().numpy()
                every = np.arange(q.shape[0])
                counts = np.zeros(q.shape[0], dtype=np.int64)
                for j in balls:
                    counts += pair_distances(qn, rn, every, np.full(every.size, j)) < rad[j]
                return counts
            ix = torch.as_tensor(balls, device=r.device)
            return ball_counts(q, r[ix], radii[ix], max_memory=self.params.max_memory).cpu().numpy()

        counts = counts_within(
            pairs, radii.cpu().numpy(), points=sa[3], balls=sb[3], n_points=q.shape[0], recount=recount, redo=redo
        )
        return torch.from_numpy(counts).to(radii.device)

    def cross(self, query: str, ref: str) -> Neighbors:
        """The ``knn_k`` nearest ``ref`` rows of every ``query`` row (exact distances)."""
        key = (self._key(query), self._key(ref))
        if key not in self._cross:
            self._pair(*key)
        return self._cross[key]

    def inside(self, query: str, ref: str) -> torch.Tensor:
        """Per ``query`` row: the number of ``ref`` balls (radius :meth:`radii`) holding it strictly."""
        key = (self._key(query), self._key(ref))
        if key not in self._inside:
            self.radii(key[1])  # raises when the set is too small for balls
            self._pair(*key)
        return self._inside[key]


def rows_digest(rows: np.ndarray) -> bytes:
    """A short fingerprint of a row-index array (keys of the results shared between contexts)."""
    return hashlib.blake2b(np.ascontiguousarray(rows, dtype=np.int64).tobytes(), digest_size=16).digest()


def spare_neighbors(k: int, fraction: float, miss: float = 1e-4) -> int:
    """Neighbours to keep so that a subsample of ``fraction`` of the rows keeps ``k`` of them with probability ``1 - miss``.

    The smallest ``L`` with ``P(Binomial(L, fraction) < k) <= miss`` (each
    listed neighbour stays with probability about ``fraction``): 16 for
    ``k = 5`` and 12 for ``k = 3`` at three quarters.
    """
    lst = k
    while binom.cdf(k - 1, lst, fraction) > miss:
        lst += 1
    return lst


_T = TypeVar("_T")


def _asked(value: _T | None) -> _T:
    """A result of :func:`pair_search` that the call asked for (``k >= 1``, ``both_sides``, a bandwidth, ...).

    :func:`pair_search` returns every result its arguments ask for, so the
    value is present; the narrowing is for the type checker.
    """
    assert value is not None, "pair_search returns every result it is asked for"
    return value


def _index(nb: Neighbors) -> torch.Tensor:
    """The row indices of ``nb``: the exact searches here (:func:`pair_search`, ``neighbors_within``) always give them."""
    assert nb.index is not None, "the exact neighbour searches return row indices"
    return nb.index


def _as_numpy(nb: Neighbors) -> tuple[np.ndarray, np.ndarray]:
    return nb.dist.cpu().numpy(), _index(nb).cpu().numpy()


def _first(nb: Neighbors, k: int) -> Neighbors:
    if nb.dist.shape[1] == k:
        return nb
    return Neighbors(nb.dist[:, :k], _index(nb)[:, :k], nb.algorithm)


# Below this many pair-coordinates a row searched again is compared with every reference row directly.
_DIRECT_WORK = 2**22


def _search_again(
    q: torch.Tensor, rows: np.ndarray, k: int, ref: torch.Tensor, max_memory: int | None, exclude_self: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest ``ref`` rows of the query rows ``rows`` (a row itself excluded when ``exclude_self``).

    A few rows are compared with every reference row directly (the exact
    distances of :func:`~infobench.estimators._exact_pairs.exact_distances`, ties by index), more by a search.
    """
    if rows.size * ref.shape[0] * ref.shape[1] <= _DIRECT_WORK:
        qn, rn = q.detach().cpu().numpy(), ref.detach().cpu().numpy()
        m = rn.shape[0]
        dist = pair_distances(qn, rn, np.repeat(rows, m), np.tile(np.arange(m), rows.size)).reshape(rows.size, m)
        if exclude_self:
            dist[np.arange(rows.size), rows] = np.inf
        index = np.broadcast_to(np.arange(m), dist.shape)
        first = np.lexsort((index, dist), axis=1)[:, :k]
        return np.take_along_axis(dist, first, axis=1), first
    x = q[torch.as_tensor(rows, device=q.device)]
    if not exclude_self:
        nb = _asked(pair_search(x, k, ref=ref, max_memory=max_memory).rows)
        return nb.dist.cpu().numpy(), _index(nb).cpu().numpy()
    # One more, then the row itself is dropped by index (copies of it stay, ordered by index).
    nb = _asked(pair_search(x, k + 1, ref=ref, max_memory=max_memory).rows)
    dist, index = nb.dist.cpu().numpy(), _index(nb).cpu().numpy()
    other = index != rows[:, None]
    first = np.argsort(~other, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(dist, first, axis=1), np.take_along_axis(index, first, axis=1)


def equal_size_contexts(ctx: Context, max_chunks: int = 10) -> list[Context]:
    """The equal-size rule: ``ctx`` itself when both sets have the same size, else chunk contexts.

    The larger of the real and generated sets is cut into disjoint random
    chunks of the smaller one's size ``n`` (seeded; at most ``max_chunks``,
    the rows left over are not used); each chunk is paired with the whole
    smaller set. A size-dependent score is the mean of its values over the
    chunks: it reads what it would at equal n, with the variance of the
    reference subset averaged down.
    """
    n_r, n_f = ctx.real.shape[0], ctx.fake.shape[0]
    if n_r == n_f:
        return [ctx]
    key = ("equal_size", max_chunks)
    if key in ctx.cache:  # the score groups share the chunks and their searches
        return ctx.cache[key]
    n = min(n_r, n_f)
    big = max(n_r, n_f)
    rng = ctx.rng("equal_size")
    perm = rng.permutation(big)
    chunks = [np.sort(perm[i * n : (i + 1) * n]) for i in range(min(max_chunks, big // n))]
    whole = np.arange(n)
    if n_r > n_f:
        out = [ctx.resample(c, whole) for c in chunks]
    else:
        out = [ctx.resample(whole, c) for c in chunks]
    if ctx.replicate_fraction is not None:
        for c in out:  # each chunk is the base of its own replicates
            c.keep_neighbors(ctx.replicate_fraction)
    ctx.cache[key] = out
    return out


def as_features(x: Any, name: str, *, device: Any = "auto", min_samples: int = 2) -> torch.Tensor:
    """Validate a feature matrix (rows are samples) and return it as float64 on ``device``."""
    return check_samples(x, name, device=device, dtype="float64", min_samples=min_samples, allow_constant=True).data


def same_dim(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same feature dimension; got {a.shape[1]} and {b.shape[1]}"
        )
    if a.device != b.device:
        raise ValueError(f"{name_a} and {name_b} must be on the same device; got {a.device} and {b.device}")
