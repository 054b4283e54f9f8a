"""Orchestration of the quality scores: inputs -> features -> score groups -> a tidy frame.

:func:`score` (images, any generator) and :func:`score_features` (feature
matrices) compute every requested score through :func:`~infobench.quality.bootstrap.evaluate`;
:class:`Scorer` prepares the real side once (data, extractor, real
features) for many generated sets (``score`` and the validity suite).
:mod:`infobench.quality` re-exports the public names.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import pandas as pd
import torch

from infobench._progress import REPEATED_LOOP_SECONDS
from infobench._progress import progress as show_progress
from infobench._validation import (
    as_generator,
    check_bool,
    check_int,
    check_samples,
    renamed_keywords,
    resolve_device,
)
from infobench.diagnostics import Diagnostic, emit, merge
from infobench.quality._conditions import check_features, value_doubts
from infobench.quality._core import PARAMS, SCORES, Context, Params, as_features, prepare, resolve_scores, same_dim
from infobench.quality.bootstrap import check_bootstrap, evaluate
from infobench.quality.features import extract, make_extractor
from infobench.quality.inputs import load_real, match_shape, materialize, parse_fake, subsample
from infobench.quality.scores_info import as_probs

__all__ = [
    "COLUMNS",
    "Scorer",
    "available_params",
    "available_scores",
    "check_n_boot",
    "check_sizes",
    "frame",
    "parse_params",
    "score",
    "score_features",
]

COLUMNS = [
    "fake",
    "source",
    "score",
    "label",
    "direction",
    "unit",
    "family",
    "value",
    "ci_low",
    "ci_high",
    "boot_std",
    "bootstrap",
    "bootstrap_kind",
    "level",
    "n_real",
    "n_fake",
    "note",
    "extras",
    "diagnostics",
]


def available_scores() -> pd.DataFrame:
    """The registered scores: name, label, direction (up/down/zero), unit, family, needs, bootstrap kind, summary.

    The ``params`` column names the parameters each score reads and
    ``param_defaults`` gives them as ``name=default``; their one-line docs
    are listed by :func:`available_params`.
    """
    resolve_scores(None)
    rows = []
    for s in SCORES.values():
        row = {f.name: getattr(s, f.name) for f in dataclasses.fields(s) if f.name != "size_need"}
        row["param_defaults"] = ", ".join(f"{p}={PARAMS[p].default}" for p in s.params)
        rows.append(row)
    return pd.DataFrame(rows)


def available_params() -> pd.DataFrame:
    """The declared score parameters: name, default, CLI option, the scores reading them, doc, declaring module.

    Each is declared next to the score that reads it
    (:func:`~infobench.quality._core.declare_param`); the keywords of
    :func:`score`, :func:`score_features` and :class:`~infobench.quality._core.Params`.
    """
    resolve_scores(None)
    return pd.DataFrame(
        [
            {
                "name": p.name,
                "default": p.default,
                "option": p.option,
                "scores": ",".join(n for n, s in SCORES.items() if p.name in s.params),
                "doc": p.doc,
                "module": p.module,
            }
            for p in PARAMS.values()
        ],
        columns=["name", "default", "option", "scores", "doc", "module"],
        dtype=object,
    )


def _fake_dict(fake: Any, names: Any) -> dict[str, Any]:
    if isinstance(fake, dict):
        if names is not None:
            raise ValueError("names must not be given when fake is a dict (its keys are the names)")
        items = list(fake.items())
    else:
        specs = list(fake) if isinstance(fake, (list, tuple)) else [fake]
        if names is None:
            labels = [s if isinstance(s, str) else f"fake{i}" for i, s in enumerate(specs)]
        else:
            labels = [s.strip() for s in names.split(",")] if isinstance(names, str) else list(names)
            if len(labels) != len(specs):
                raise ValueError(f"names must give one name per fake set: {len(specs)} sets, {len(labels)} names")
        items = list(zip(labels, specs))
    if not items:
        raise ValueError("fake must name at least one generated set; got none")
    out: dict[str, Any] = {}
    for label, spec in items:
        if not isinstance(label, str) or not label:
            raise ValueError(f"fake set names must be non-empty strings; got {label!r}")
        if label in out:
            raise ValueError(f"fake set names must be unique; {label!r} appears twice")
        out[label] = spec
    return out


def check_sizes(what: str, size: int, names: tuple[str, ...], params: Params, set_kind: str) -> None:
    """Raise when a set is too small for a requested score (each score declares its ``size_need``)."""
    if size == 0:
        raise ValueError(f"{what} is empty")
    for name in names:
        spec = SCORES[name]
        if spec.needs == "probs" and set_kind == "train":
            continue
        need, why = spec.size_need(params, set_kind)
        if size < need:
            raise ValueError(
                f"{what} has {size} sample{'' if size == 1 else 's'}; score {name!r} needs at least "
                f"{need}" + (f" ({why})" if why else "")
            )


def check_n_boot(n_boot: Any, level: Any) -> tuple[int, float]:
    """``n_boot`` and ``level`` checked by :func:`~infobench.quality.bootstrap.check_bootstrap`, errors naming ``n_boot``.

    ``n_boot = 0``: no interval; else at least ``2 / (1 - level)`` replicates.
    """
    n_boot = check_int("n_boot", n_boot, low=0)
    try:
        return check_bootstrap(n_boot, level)
    except ValueError as exc:  # the check names its own parameter ``bootstrap``
        raise ValueError(str(exc).replace("bootstrap must", "n_boot must", 1)) from None


@renamed_keywords(bootstrap="n_boot")
def score_features(
    real: Any,
    fake: Any,
    *,
    real_probs: Any = None,
    fake_probs: Any = None,
    train: Any = None,
    scores: Any = None,
    n_boot: int = 0,
    level: float = 0.95,
    seed: int = 0,
    device: Any = "auto",
    **params: Any,
) -> pd.DataFrame:
    """Scores of one generated feature set against real features (no images, no extractor).

    Parameters
    ----------
    real, fake : array-like (n, d), (m, d)
        Features.
    real_probs, fake_probs : array-like (n, C), (m, C), optional
        Class probabilities; the class-based scores need both.
    train : array-like, optional
        Training-split features for memorization (default: ``real``).
    scores, n_boot, level, seed, device, **params
        As in :func:`score` (``bootstrap``, the deprecated name of ``n_boot``,
        is accepted until 0.2.0 with a ``DeprecationWarning``).

    Returns
    -------
    pandas.DataFrame
        The tidy rows of :func:`score` with ``fake == "fake"``.
    """
    p = parse_params(params)
    n_boot, level = check_n_boot(n_boot, level)
    seed = _check_seed(seed)
    dev = resolve_device(device)
    rs = check_samples(real, "real", device=dev, dtype="float64", min_samples=2, allow_constant=True)
    fs = check_samples(fake, "fake", device=dev, dtype="float64", min_samples=2, allow_constant=True)
    r, f = rs.data, fs.data
    same_dim(r, f, "real", "fake")
    t = None if train is None else as_features(train, "train", device=dev)
    if t is not None:
        same_dim(r, t, "real", "train")
        if t.shape == r.shape and torch.equal(t, r):
            t = None  # the reference is its own training split: share its neighbour searches
    has_probs = real_probs is not None and fake_probs is not None
    names = resolve_scores(scores, has_probs=has_probs)
    rp = fp = None
    if has_probs:
        rp, fp = as_probs(real_probs, "real_probs", dev), as_probs(fake_probs, "fake_probs", dev)
        same_dim(rp, fp, "real_probs", "fake_probs")
        for x, nm, ref in ((rp, "real_probs", r), (fp, "fake_probs", f)):
            if x.shape[0] != ref.shape[0]:
                raise ValueError(f"{nm} must have one row per sample ({ref.shape[0]}); got {x.shape[0]}")
    check_sizes("real", r.shape[0], names, p, "real")
    check_sizes("fake", f.shape[0], names, p, "fake")
    if t is not None:
        check_sizes("train", t.shape[0], tuple(n for n in names if SCORES[n].needs == "train"), p, "train")
    found = check_features(
        {n: SCORES[n] for n in names},
        {"real": r, "fake": f, "train": t},
        p,
        source_eps={"real": max(rs.source_eps), "fake": max(fs.source_eps)},
    )
    ctx = Context(r, f, rp, fp, t, p, seed)
    prepare(ctx, names)
    rows = [
        with_diagnostics(dict(row, fake="fake", source="features"), found)
        for row in evaluate(ctx, names, bootstrap=n_boot, level=level)
    ]
    emit(merge(*(r["diagnostics"] for r in rows)), stacklevel=3)  # 3: the caller, past the renamed_keywords wrapper
    return frame(rows, {"params": p.as_dict()})


def with_diagnostics(row: dict[str, Any], found: dict[str, tuple[Diagnostic, ...]]) -> dict[str, Any]:
    """``row`` with the ``diagnostics`` of its score (a list of :meth:`Diagnostic.to_dict` dicts).

    Those of its features (``found``, :func:`check_features`), then those read off its value and interval
    (:func:`value_doubts`).
    """
    doubts = (*found.get(row["score"], ()), *value_doubts(row, SCORES[row["score"]]))
    return dict(row, diagnostics=[d.to_dict() for d in doubts])


def parse_params(params: dict[str, Any]) -> Params:
    """The :class:`Params` of keyword arguments (an unknown name raises, listing the declared ones)."""
    return Params(**params)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a non-negative integer; got {seed!r}")
    as_generator(seed)
    return int(seed)


def frame(rows: list[dict[str, Any]], attrs: dict[str, Any]) -> pd.DataFrame:
    for row in rows:
        spec = SCORES[row["score"]]
        row.update(label=spec.label, direction=spec.direction, unit=spec.unit, family=spec.family)
    df = pd.DataFrame(rows, columns=COLUMNS)
    df.attrs.update(attrs)
    return df


@renamed_keywords(bootstrap="n_boot")
def score(
    real: Any,
    fake: Any,
    *,
    names: Any = None,
    extractor: Any = "auto",
    scores: Any = None,
    n: int | None = None,
    n_boot: int = 0,
    level: float = 0.95,
    seed: int = 0,
    device: Any = "auto",
    value_range: Any = None,
    real_range: Any = None,
    resize: bool = True,
    pca: int | None = None,
    batch_size: int = 512,
    cache: bool = True,
    progress: bool = False,
    scorer: Scorer | None = None,
    **params: Any,
) -> pd.DataFrame:
    """Score generated image sets against real data.

    Parameters
    ----------
    real : str, path, ImageSet, array or tensor
        ``"digits"``, ``"mnist:PATH"``, an image folder or array file (its
        train split is the reference, its test split is ``"held-out"``), or
        in-memory images used whole as the reference.
    fake : spec, list of specs, or dict name -> spec
        Each spec: an array file (``.npy``/``.npz``/``.pt``), an image
        folder, a generator checkpoint, ``"package.module:function"`` (called
        as ``function(n, seed)``), ``"held-out"``, an array/tensor/ImageSet
        or a callable. See :mod:`infobench.quality.inputs`.
    names : str or list of str, optional
        One name per fake set (default: the spec strings).
    extractor : str or torch.nn.Module
        ``"auto"`` (default: the classifier for labelled real data, else the
        standard Inception features when the file is found, else pixels with
        PCA and a warning), ``"classifier"``, ``"pixels"``,
        ``"inception[:PATH]"``, ``"inception-legacy[:PATH]"``,
        ``"hub:DIR:ENTRY[:WEIGHTS]"``, ``"package.module:factory"``, a
        TorchScript file or a module (:mod:`infobench.quality.features`).
        Image folders and ``.npy`` files are read in streamed batches.
    scores : str or list of str, optional
        Score names (:func:`available_scores`); default: every score the
        extractor allows (class-based scores need class probabilities).
    n : int, optional
        Generated samples per set. Default: the size of the smallest set
        that has a fixed size (files, arrays, ``"held-out"``), so that every
        row is scored at the same n (most scores depend on n); sets drawn
        from a checkpoint or callable then draw that many, or as many as the
        held-out split (else the reference) when all sets are drawn.
    n_boot : int
        Bootstrap replicates for the intervals (0: none; else at least
        ``2 / (1 - level)``). See :mod:`infobench.quality.bootstrap`. The
        deprecated name ``bootstrap`` is accepted until 0.2.0 (with a
        ``DeprecationWarning``); the output column keeps the name
        ``bootstrap``.
    level : float
        Confidence level of the intervals.
    seed : int
        Seeds the train/test split, the classifier, drawn samples, subsets and
        the bootstrap.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``.
    value_range : (low, high), optional
        Pixel range of generated arrays (default: from the dtype: uint8 and
        other integers ``(0, 255)``, uint16 ``(0, 65535)``, bool and floats
        ``(0, 1)``; never guessed from the values). A small excursion outside
        it (up to 10 % of its width) is clipped and reported as a
        ``pixel-range`` diagnostic; values further out raise. Image files
        have the range of their bit depth, checkpoints' samples ``(0, 1)``.
    real_range : (low, high), optional
        The same for the real data's arrays (``.npy``/``.npz`` specs and
        in-memory images).
    resize : bool
        Resize generated images of another height/width to the real size
        (anti-aliased bilinear); False makes a size mismatch an error.
    pca : int, optional
        Principal components kept by the ``"pixels"`` extractor.
    batch_size : int
        Images per forward pass of the extractor.
    cache : bool
        Read and write the feature cache (``$INFOBENCH_CACHE``).
    progress : bool
        Report progress on stderr (classifier training, features, bootstrap): a live bar in a terminal,
        plain lines in a log.
    scorer : Scorer, optional
        An already built reference (data, extractor, real features) to reuse;
        it then stands for ``real``, ``extractor``, ``scores``, ``seed``,
        ``device``, ``pca``, ``batch_size``, ``cache``, ``progress`` and the
        score parameters.
    **params
        Score parameters (:class:`~infobench.quality._core.Params`), each
        declared by the module of the score that reads it; listed with their
        defaults and docs by :func:`available_params` (e.g. ``k``, ``knn_k``,
        ``vendi_q``, ``max_memory``).

    Returns
    -------
    pandas.DataFrame
        Tidy: one row per (fake set, score) with columns :data:`COLUMNS`
        (``value``, interval ``ci_low``/``ci_high``, ``boot_std``, sample
        sizes ``n_real``/``n_fake``, ``direction`` up/down/zero, ``unit``,
        ``note``, ``diagnostics``: the doubts about the value as a list of
        :meth:`~infobench.diagnostics.Diagnostic.to_dict` dicts, see
        :mod:`infobench.quality._conditions`...). Each doubt is also emitted
        once as a :class:`~infobench.diagnostics.DiagnosticWarning`. ``df.attrs`` holds the extractor's description
        (``extractor``; the classifier's held-out accuracy), ``real``,
        ``seed`` and ``params``.
    """
    p = parse_params(params)
    n_boot, level = check_n_boot(n_boot, level)
    resize = check_bool("resize", resize)
    if n is not None:
        n = check_int("n", n, low=1)
    resolve_scores(scores)  # unknown names fail now, before any loading or training
    sources = [parse_fake(spec, label) for label, spec in _fake_dict(fake, names).items()]
    t0 = time.perf_counter()
    if scorer is None:
        scorer = Scorer(
            real,
            extractor=extractor,
            scores=scores,
            seed=seed,
            device=device,
            pca=pca,
            batch_size=batch_size,
            cache=cache,
            progress=progress,
            params=p,
            stream=True,
            real_range=real_range,
        )
    real_data = scorer.real

    # Fixed-size sets are loaded first: the smallest fixes the common n.
    loaded: dict[str, Any] = {}
    for src in sources:
        if src.fixed_size:
            loaded[src.name] = materialize(
                src, real_data, n=None, seed=scorer.seed, value_range=value_range, stream=True
            )
    if n is None:
        if loaded:
            n = min(len(s) for s in loaded.values())
        else:
            n = len(real_data.held_out) if real_data.held_out is not None else len(real_data.reference)
    for src in sources:
        if src.fixed_size:
            loaded[src.name] = subsample(loaded[src.name], n, scorer.seed, src.name)
        else:
            loaded[src.name] = materialize(src, real_data, n=n, seed=scorer.seed, value_range=value_range)
        scorer.check_size(f"fake {src.name!r}", len(loaded[src.name]))

    records = []
    for src in sources:
        records += scorer.score_images(
            loaded[src.name], src.name, source=src.kind, n_boot=n_boot, level=level, resize=resize
        )
    emit(merge(*(r["diagnostics"] for r in records)), stacklevel=3)  # 3: the caller, past renamed_keywords
    return frame(records, dict(scorer.attrs(), seconds=time.perf_counter() - t0))


class Scorer:
    """The real side of a comparison, prepared once: data, extractor, real features.

    :func:`score` and the validity suite score many generated sets against
    the same reference through one ``Scorer``. Parameters as in :func:`score`
    (``params`` a :class:`Params`); ``stream=True`` reads image folders and
    ``.npy`` files batch by batch (:func:`~infobench.quality.inputs.load_real`);
    ``real_range`` is the pixel range of the real data's arrays.
    """

    def __init__(
        self,
        real: Any,
        *,
        extractor: Any = "auto",
        scores: Any = None,
        seed: int = 0,
        device: Any = "auto",
        pca: int | None = None,
        batch_size: int = 512,
        cache: bool = True,
        progress: bool = False,
        params: Params | None = None,
        stream: bool = False,
        real_range: Any = None,
    ):
        self.params = Params() if params is None else params
        self.seed = _check_seed(seed)
        self.device = resolve_device(device)
        self.cache = check_bool("cache", cache)
        self.progress = check_bool("progress", progress)
        self.batch_size = check_int("batch_size", batch_size, low=1)
        resolve_scores(scores)
        self.real = load_real(real, seed=self.seed, stream=check_bool("stream", stream), value_range=real_range)
        self.extractor = make_extractor(
            extractor, self.real, seed=self.seed, device=self.device, pca=pca, progress=self.progress
        )
        self.names = resolve_scores(scores, has_probs=self.extractor.has_probs)
        check_sizes(f"real {self.real.name!r}", len(self.real.reference), self.names, self.params, "real")
        self.real_feats, self.real_probs = self.features(self.real.reference)
        self.heldout_feats = None
        if "entropy_gap" in self.names and self.real.held_out is not None:
            self.heldout_feats = self.features(self.real.held_out)[0]

    def features(self, images):
        return extract(images, self.extractor, batch_size=self.batch_size, cache=self.cache, progress=self.progress)

    def check_size(self, what: str, size: int) -> None:
        check_sizes(what, size, self.names, self.params, "fake")

    @renamed_keywords(bootstrap="n_boot")
    def score_images(
        self,
        images,
        name: str,
        *,
        source: str = "array",
        n_boot: int = 0,
        level: float = 0.95,
        resize: bool = True,
        names: tuple[str, ...] | None = None,
    ) -> list[dict[str, Any]]:
        """Tidy records of every score of ``images`` (an ImageSet) against the reference.

        ``n_boot`` and ``level`` as in :func:`score` (``bootstrap``: the deprecated name of ``n_boot``).
        """
        images, resize_note = match_shape(images, self.real.reference, f"fake {name!r}", resize=resize)
        feats, probs = self.features(images)
        wanted = names or self.names
        found = check_features(
            {n: SCORES[n] for n in wanted},
            {"real": self.real_feats, "fake": feats},
            self.params,
            inputs={"real": self.real.reference.diagnostics, "fake": images.diagnostics},
        )
        ctx = Context(
            self.real_feats, feats, self.real_probs, probs, None, self.params, self.seed, heldout=self.heldout_feats
        )
        prepare(ctx, wanted)
        with show_progress(
            self.progress and n_boot > 0,
            n_boot,
            f"bootstrap {name}",
            unit="replicates",
            min_seconds=REPEATED_LOOP_SECONDS,
        ) as advance:
            rows = evaluate(ctx, wanted, bootstrap=n_boot, level=level, advance=advance)
        return [
            with_diagnostics(
                dict(row, fake=name, source=source, note="; ".join(x for x in (row["note"], resize_note) if x)), found
            )
            for row in rows
        ]

    def attrs(self) -> dict[str, Any]:
        return {
            "real": self.real.name,
            "n_reference": len(self.real.reference),
            "extractor": {"name": self.extractor.name, **self.extractor.info},
            "seed": self.seed,
            "params": self.params.as_dict(),
        }
