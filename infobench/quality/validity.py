"""Validity suite: do the scores see controlled failures of held-out real data?

Each *failure* degrades the real test split at increasing levels (level 0 is
the clean split, the family's own baseline) and every score is computed
against the reference (train split) for each level:

``noise``
    Gaussian pixel noise of standard deviation ``level`` (pixels in [0, 1]),
    then clamped to [0, 1] as an 8-bit image format would.
``blur``
    Gaussian blur of standard deviation ``level`` pixels (separable, reflected
    borders).
``drop_classes``
    ``level`` classes removed (a seeded choice, nested across levels). To
    keep n equal across levels, every level of this family, the clean one
    included, draws the same number of samples: as many as the classes kept
    at the strongest level hold.
``copies``
    A fraction ``level`` of the samples replaced by exact copies of distinct
    training samples (memorization).
``mix_noise``
    A fraction ``level`` of the samples replaced by uniform-noise images.

:func:`detection` turns the values into a verdict per (score, failure): the
score *detects* a failure when it moves in its worse direction monotonically
(Spearman correlation between level and "worseness" of at least
:data:`MIN_SPEARMAN`) and by more than twice its bootstrap standard
deviation on the clean split; it moves the *wrong way* when the same holds
with the opposite sign; otherwise it *misses*, or is *erratic* (moves by more
than the noise floor, but not monotonically). A score that misses a failure
is itself a finding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm, spearmanr

from infobench._validation import as_generator, check_float, check_int, renamed_keywords
from infobench.data import ImageSet
from infobench.quality._core import SCORES, _seed_for, resolve_scores
from infobench.quality.extractors import _in_memory
from infobench.quality.scoring import Scorer, check_n_boot, frame, parse_params, score_features

__all__ = [
    "FAILURES",
    "MIN_SPEARMAN",
    "VERDICTS",
    "check_suite_bootstrap",
    "degrade",
    "detection",
    "interval_calibration",
    "real_calibration",
    "run_validity",
]

FAILURES: dict[str, tuple[float, ...]] = {
    "noise": (0.05, 0.1, 0.2, 0.4),
    "blur": (0.5, 1.0, 1.5, 2.0),
    "drop_classes": (2, 4, 6),
    "copies": (0.25, 0.5, 0.75, 1.0),
    "mix_noise": (0.1, 0.25, 0.5, 1.0),
}
MIN_SPEARMAN = 0.8
VERDICTS = {"detects": "✓", "misses": "✗", "wrong way": "↯", "erratic": "~"}


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (t / sigma) ** 2)
    w = (w / w.sum()).to(x.dtype)
    c = x.shape[1]
    pad_h, pad_w = min(radius, x.shape[2] - 1), min(radius, x.shape[3] - 1)
    # Reflection needs the pad to be smaller than the side; a wider kernel is cut to fit.
    kh = w[radius - pad_h : radius + pad_h + 1]
    kw = w[radius - pad_w : radius + pad_w + 1]
    kh, kw = kh / kh.sum(), kw / kw.sum()
    y = torch.nn.functional.pad(x, (0, 0, pad_h, pad_h), mode="reflect")
    y = torch.nn.functional.conv2d(y, kh.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    y = torch.nn.functional.pad(y, (pad_w, pad_w, 0, 0), mode="reflect")
    return torch.nn.functional.conv2d(y, kw.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)


def degrade(images: ImageSet, failure: str, level: float, *, train: ImageSet | None = None, seed: Any = 0) -> ImageSet:
    """``images`` degraded by ``failure`` at ``level`` (see the module notes); level 0 returns them unchanged.

    ``drop_classes`` returns only the kept classes' images (use
    :func:`run_validity` for equal sizes); ``copies`` needs ``train``.
    """
    if failure not in FAILURES:
        raise ValueError(f"failure must be one of {list(FAILURES)}; got {failure!r}")
    level = check_float("level", level, low=0.0)
    rng = as_generator(seed)
    gen = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
    x, n = images.images, len(images)
    name = f"{failure}={level:g}"
    if level == 0:
        return images
    if failure == "noise":
        out = (x + level * torch.randn(x.shape, generator=gen, dtype=x.dtype)).clamp_(0.0, 1.0)
    elif failure == "blur":
        out = _blur(x, level)
    elif failure == "drop_classes":
        if images.labels is None or images.num_classes is None:
            raise ValueError("failure 'drop_classes' needs labelled images")
        k = int(level)
        if k != level or k >= images.num_classes:
            raise ValueError(f"drop_classes level must be an integer below {images.num_classes} classes; got {level!r}")
        dropped = rng.permutation(images.num_classes)[:k]
        keep = ~np.isin(images.labels.numpy(), dropped)
        return images.subset(np.flatnonzero(keep), name=name)
    else:
        if level > 1:
            raise ValueError(f"{failure} level is a fraction in [0, 1]; got {level!r}")
        m = int(round(level * n))
        where = torch.as_tensor(rng.choice(n, m, replace=False))
        out = x.clone()
        if failure == "copies":
            if train is None:
                raise ValueError("failure 'copies' needs the training images (train=...)")
            if m > len(train):
                raise ValueError(
                    f"copies level {level} needs {m} distinct training images; the train split has {len(train)}"
                )
            out[where] = train.images[torch.as_tensor(rng.choice(len(train), m, replace=False))]
        else:  # mix_noise
            out[where] = torch.rand((m, *x.shape[1:]), generator=gen, dtype=x.dtype)
    return ImageSet(out.contiguous(), images.labels, name, images.num_classes, images.classes)


def check_suite_bootstrap(n_boot: Any) -> int:
    """The validity suite's ``n_boot``: replicates on each clean baseline, at least 40 (0 refused)."""
    checked, _ = check_n_boot(n_boot, 0.95)
    if checked == 0:
        raise ValueError("n_boot must be at least 40: the clean baselines' replicates set the noise floor")
    return checked


@renamed_keywords(bootstrap="n_boot")
def run_validity(
    real: Any = "digits",
    *,
    extractor: Any = "classifier",
    scores: Any = None,
    failures: Any = None,
    n_boot: int = 40,
    seed: int = 0,
    device: Any = "auto",
    pca: int | None = None,
    cache: bool = True,
    progress: bool = False,
    scorer: Scorer | None = None,
    **params: Any,
) -> pd.DataFrame:
    """Score the degraded held-out split at every level of every failure.

    Parameters
    ----------
    real : dataset spec
        Needs a test split (a dataset name, folder or array file).
    failures : list of str or dict name -> levels, optional
        Default: :data:`FAILURES`.
    n_boot : int
        Replicates on each clean baseline (they set the noise floor of
        :func:`detection`); at least 40. ``bootstrap``, its deprecated name,
        is accepted until 0.2.0 (with a ``DeprecationWarning``).
    extractor, scores, seed, device, pca, cache, progress, **params
        As in :func:`infobench.quality.score`.
    scorer : Scorer, optional
        An already built reference (features, classifier) to reuse; it then
        stands for ``real``, ``extractor``, ``scores``, ``seed``,
        ``device``, ``pca``, ``cache``, ``progress`` and ``params``.

    Returns
    -------
    pandas.DataFrame
        The tidy columns of :func:`~infobench.quality.score` plus ``failure``
        and ``level``; ``fake`` names the condition.
    """
    p = parse_params(params)
    n_boot = check_suite_bootstrap(n_boot)
    plan = _plan(failures)
    if scorer is None:
        scorer = Scorer(
            real,
            extractor=extractor,
            scores=scores,
            seed=seed,
            device=device,
            pca=pca,
            cache=cache,
            progress=progress,
            params=p,
        )
    if scorer.real.held_out is None:
        raise ValueError("the validity suite needs real data with a test split (a dataset name, folder or array file)")
    # The suite degrades whole tensors: a streamed split is read into memory (the reference only for copies).
    held = _in_memory(scorer.real.held_out)
    train = _in_memory(scorer.real.reference) if "copies" in plan else None
    seeds = np.random.SeedSequence(scorer.seed).spawn(len(plan))
    records: list[dict[str, Any]] = []
    baselines: dict[int, list[dict[str, Any]]] = {}
    for (failure, levels), ss in zip(plan.items(), seeds):
        equal_size = _equal_size_classes(held, levels, ss) if failure == "drop_classes" else None
        for i, level in enumerate((0.0, *levels)):
            if equal_size is not None:
                images = equal_size[i]
            else:
                images = degrade(held, failure, level, train=train, seed=np.random.default_rng(ss.spawn(1)[0]))
            label = f"{failure}={level:g}"
            if level == 0 and len(images) in baselines:
                rows = baselines[len(images)]  # the same clean split: score it (and bootstrap it) once
            else:
                rows = scorer.score_images(images, label, source="validity", n_boot=n_boot if level == 0 else 0)
                if level == 0:
                    baselines[len(images)] = rows
            records += [dict(r, fake=label, failure=failure, level=float(level)) for r in rows]
    df = frame(records, scorer.attrs())
    df["failure"] = [r["failure"] for r in records]
    df["level"] = [r["level"] for r in records]
    return df


def _plan(failures: Any) -> dict[str, tuple[float, ...]]:
    if failures is None:
        return dict(FAILURES)
    if isinstance(failures, str):
        failures = [f.strip() for f in failures.split(",") if f.strip()]
    # An unknown name's levels are never read: the loop raises on the name first.
    items = failures.items() if isinstance(failures, dict) else [(f, FAILURES.get(f, ())) for f in failures]
    plan: dict[str, tuple[float, ...]] = {}
    for name, levels in items:
        if name not in FAILURES:
            raise ValueError(f"unknown failure {name!r}; valid failures are {list(FAILURES)}")
        levels = tuple(float(v) for v in levels)
        if len(levels) < 2 or any(v <= 0 for v in levels) or list(levels) != sorted(set(levels)):
            raise ValueError(f"levels of {name!r} must be at least 2 increasing positive numbers; got {levels}")
        plan[name] = levels
    if not plan:
        raise ValueError("failures must name at least one failure")
    return plan


def _equal_size_classes(held: ImageSet, levels: tuple[float, ...], ss: np.random.SeedSequence) -> list[ImageSet]:
    """Clean and class-dropped sets of one common size (the kept classes' count at the largest level)."""
    kept = [degrade(held, "drop_classes", lv, seed=np.random.default_rng(ss)) if lv else held for lv in (0.0, *levels)]
    n = len(kept[-1])
    rng = np.random.default_rng(ss.spawn(1)[0])
    return [k.subset(np.sort(rng.choice(len(k), n, replace=False)), name=k.name) for k in kept]


def _worse(values: np.ndarray, direction: str) -> np.ndarray:
    return {"up": -values, "down": values, "zero": np.abs(values)}[direction]


def detection(df: pd.DataFrame) -> pd.DataFrame:
    """One verdict per (score, failure) from a :func:`run_validity` frame.

    Columns: ``score``, ``failure``, ``verdict`` (detects / misses / wrong
    way / erratic), ``change`` (value at the strongest level minus clean,
    signed so that positive is *worse*), ``noise_floor`` (twice the clean
    bootstrap standard deviation) and ``spearman`` (between level and
    worseness).
    """
    rows = []
    for (score_name, failure), sub in df.groupby(["score", "failure"], sort=False):
        sub = sub.sort_values("level")
        direction = SCORES[score_name].direction
        worse = _worse(sub["value"].to_numpy(dtype=float), direction)
        floor = 2.0 * float(sub["boot_std"].iloc[0])
        change = float(worse[-1] - worse[0])
        if not np.isfinite(worse).all() or not math.isfinite(floor):
            rho, verdict = float("nan"), "erratic"
        else:
            rho = float(spearmanr(sub["level"], worse).statistic) if np.ptp(worse) > 0 else 0.0
            if abs(change) <= floor:
                verdict = "misses"
            elif change > 0 and rho >= MIN_SPEARMAN:
                verdict = "detects"
            elif change < 0 and rho <= -MIN_SPEARMAN:
                verdict = "wrong way"
            else:
                verdict = "erratic"
        rows.append(
            {
                "score": score_name,
                "failure": failure,
                "verdict": verdict,
                "change": change,
                "noise_floor": floor,
                "spearman": rho,
            }
        )
    return pd.DataFrame(rows, columns=["score", "failure", "verdict", "change", "noise_floor", "spearman"])


@renamed_keywords(redraws="n_draws", boot_draws="n_boot_draws", bootstrap="n_boot")
def interval_calibration(
    draw: Callable[[int], tuple[Any, ...] | Mapping[str, Any]],
    *,
    n_draws: int = 40,
    n_boot_draws: int = 5,
    n_boot: int = 100,
    level: float = 0.95,
    scores: Any = None,
    seed: int = 0,
    **params: Any,
) -> pd.DataFrame:
    """Do the intervals match the spread of the scores over fresh samples?

    ``draw(i)`` returns the ``i``-th independent ``(real, fake)`` pair of
    feature sets, or a ``(real, fake, train)`` triple whose ``train`` is
    the training split of memorization (``score_features(..., train=...)``;
    without it ``real`` is its own training split), or a mapping with the
    keys ``"real"`` and ``"fake"`` and optionally ``"train"``,
    ``"real_probs"`` and ``"fake_probs"`` (the class probabilities of the
    two sets, row for row, which the class-probability scores need): the
    keyword arguments of :func:`~infobench.quality.scoring.score_features`.
    Each score is computed on ``n_draws`` fresh draws (its standard
    deviation over them, ``fresh_sd``, is the spread the interval claims to
    describe) and bootstrapped (``n_boot`` replicates) on the first
    ``n_boot_draws`` of them. The deprecated names ``redraws``,
    ``boot_draws`` and ``bootstrap`` (of ``n_draws``, ``n_boot_draws`` and
    ``n_boot``) are accepted until 0.2.0 with a ``DeprecationWarning``.

    Returns
    -------
    pandas.DataFrame
        One row per score: ``n_real``, ``n_fake`` (sizes used), ``fresh_sd``,
        ``boot_std`` (mean over the bootstrapped draws), ``width`` (mean
        interval width), ``fresh_width`` (``2 z sd``: the width of a
        normal interval with the fresh spread), ``std_ratio`` =
        ``boot_std / fresh_sd`` and ``width_ratio`` = ``width / fresh_width``
        (1 when calibrated), and ``coverage_of_mean`` (share of the
        bootstrapped draws whose interval holds the mean over the fresh ones).
        ``std_ratio_se`` and ``width_ratio_se`` are the standard errors of the
        two ratios (delta method, the two factors independent): the relative
        error of ``fresh_sd``, about ``1 / sqrt(2 (n_draws - 1))`` (11 % for
        40 draws), combined with that of the mean over the bootstrapped
        draws, ``cv / sqrt(n_boot_draws)`` with ``cv`` the coefficient of
        variation of ``boot_std`` (or of the width) across them (0 for a
        single bootstrapped draw, whose spread is then unknown). A score
        that is constant over the fresh draws (``fresh_sd`` 0, e.g.
        ``classes_covered`` when every draw covers every class) has no
        spread to match: its ratios and their standard errors are NaN and
        ``note`` says so (empty for the other rows).
    """
    n_draws = check_int("n_draws", n_draws, low=3)
    n_boot_draws = check_int("n_boot_draws", n_boot_draws, low=1, high=n_draws)
    values: dict[str, list[float]] = {}
    boots: dict[str, list[tuple[float, float, float]]] = {}
    sizes: dict[str, tuple[int, int]] = {}
    for i in range(n_draws):
        sets = _draw_sets(draw(i), i)
        b = n_boot if i < n_boot_draws else 0
        df = score_features(**sets, scores=scores, n_boot=b, level=level, seed=seed + i, **params)
        for row in df.itertuples():
            values.setdefault(row.score, []).append(row.value)
            sizes[row.score] = (row.n_real, row.n_fake)
            if b:
                boots.setdefault(row.score, []).append((row.boot_std, row.ci_low, row.ci_high))
    z = float(norm.ppf(0.5 + level / 2))
    rows = []
    for name, vals in values.items():
        v = np.asarray(vals, dtype=float)
        sd = float(np.std(v, ddof=1))
        bs = np.asarray(boots[name], dtype=float)
        mean = float(v.mean())
        widths = bs[:, 2] - bs[:, 1]
        fresh_rel = 1.0 / math.sqrt(2.0 * (len(v) - 1))

        def rel_se(x: np.ndarray, fresh_rel: float = fresh_rel) -> float:
            cv = float(np.std(x, ddof=1) / np.mean(x)) if len(x) > 1 and np.mean(x) > 0 else 0.0
            return math.sqrt(fresh_rel**2 + cv**2 / len(x))

        row = {
            "score": name,
            "n_real": sizes[name][0],
            "n_fake": sizes[name][1],
            "fresh_mean": mean,
            "fresh_sd": sd,
            "boot_std": float(bs[:, 0].mean()),
            "width": float(widths.mean()),
            "fresh_width": 2 * z * sd,
            "std_ratio": math.nan,
            "width_ratio": math.nan,
            "coverage_of_mean": float(np.mean((bs[:, 1] <= mean) & (mean <= bs[:, 2]))),
            "std_ratio_se": math.nan,
            "width_ratio_se": math.nan,
            "note": "",
        }
        if sd > 0:
            row["std_ratio"] = row["boot_std"] / sd
            row["width_ratio"] = row["width"] / (2 * z * sd)
            row["std_ratio_se"] = row["std_ratio"] * rel_se(bs[:, 0])
            row["width_ratio_se"] = row["width_ratio"] * rel_se(widths)
        else:
            row["note"] = f"constant ({mean:g}) over the {len(v)} fresh redraws: no spread to calibrate against"
        rows.append(row)
    return pd.DataFrame(rows)


_DRAW_KEYS = ("real", "fake", "train", "real_probs", "fake_probs")


def _draw_sets(sets: Any, i: int) -> dict[str, Any]:
    """The keyword arguments of ``score_features`` from what ``draw(i)`` returned (tuple or mapping)."""
    if isinstance(sets, tuple) and len(sets) in (2, 3):
        return dict(zip(("real", "fake", "train"), sets))
    if isinstance(sets, Mapping):
        keys = set(sets)
        if {"real", "fake"} <= keys <= set(_DRAW_KEYS):
            return dict(sets)
        raise TypeError(
            f"draw({i}) must return a mapping with the keys 'real' and 'fake' and optionally 'train', "
            f"'real_probs', 'fake_probs'; got keys {sorted(map(str, keys))}"
        )
    raise TypeError(
        f"draw({i}) must return (real, fake), (real, fake, train) or a mapping of those and "
        f"real_probs, fake_probs; got {type(sets).__name__}" + (f" of {len(sets)}" if isinstance(sets, tuple) else "")
    )


@renamed_keywords(redraws="n_draws", boot_draws="n_boot_draws", bootstrap="n_boot")
def real_calibration(
    scorer: Scorer,
    *,
    n_draws: int = 40,
    size: int | None = None,
    n_boot_draws: int = 5,
    n_boot: int = 40,
    scores: Any = None,
) -> pd.DataFrame:
    """:func:`interval_calibration` on real data: redraws are disjoint subsets of a finite pool.

    The pool is the features of ``scorer``'s real data, train and test
    splits together (1,797 rows for ``digits``), with their class
    probabilities row for row when the extractor gives them (the
    class-probability scores: Inception-style score, its two entropies,
    class KL, classes covered). When a score needs a
    training split (memorization), ``size`` rows of the pool, drawn once
    (seeded by the scorer's seed), are that split for every redraw:
    memorization's interval is conditional on the training split (the
    ``"generated"`` scheme of :mod:`infobench.quality.bootstrap`), so the
    spread it must match is over fresh generated sets with the training split
    fixed. Redraw ``i`` permutes the rest of the pool (seeded by the scorer's
    seed and ``i``) and takes its first ``size`` rows as the real set and the
    next ``size`` as the generated one (features and probabilities alike), so
    the sets of a redraw are disjoint samples of the same distribution (the
    pool's) and different redraws overlap. Memorization then measures its
    base rate (the share of generated samples that land inside a training
    sample's nearest-neighbour ball by chance) on a training split disjoint
    from both other sets, as the validity suite's clean held-out split does
    against the train split.

    For a two-sample contrast (a difference of means over the two sets; class
    KL near its zero, a function of the difference of the two mean class
    distributions) the spread over such redraws equals the spread over
    independent samples (the finite-population corrections of the two means
    cancel against their negative covariance); a score of one set alone
    (Vendi, RKE, and the Inception-style score and its two entropies, of the
    generated set) has its spread shrunk by the finite-population factor
    ``sqrt(1 - size / pool)`` (``pool`` the rows the generated set is drawn
    from: 1,797 for ``digits`` without memorization, so up to 1.10x too wide
    at 300 rows, 1.05x at 150) and a score built on within-set terms of both
    sets (kNN KL, entropy gap) by up to ``sqrt(1 - 2 size / pool)``, so their
    ratios read up to 1.10x and 1.22x too wide at the default size.
    Memorization, given the training split, is a mean over the generated set
    drawn from the rest of the pool: its spread is shrunk by
    ``sqrt(1 - size / (pool - size))`` (its ratio reads up to 1.12x too wide
    at the default size, 1.05x at 150 rows of the 1,797 ``digits`` rows). A
    score constant over the redraws (classes covered, when every draw covers
    every class) has no ratio (NaN, with a ``note``; see
    :func:`interval_calibration`).

    Parameters
    ----------
    scorer : Scorer
        The real data, extractor, scores, seed and score parameters.
    size : int, optional
        Rows per set; default: a sixth of the pool. At most a half of the
        pool (two sets), a third when a score needs the training split.
    scores : str or list of str, optional
        The scores to measure (default: every score of ``scorer``; the
        class-probability scores need an extractor with class probabilities).
    n_draws, n_boot_draws, n_boot
        As in :func:`interval_calibration` (so are their deprecated names
        ``redraws``, ``boot_draws`` and ``bootstrap``).
    """
    names = list(scorer.names if scores is None else resolve_scores(scores, has_probs=scorer.extractor.has_probs))
    with_probs = any(SCORES[n].needs == "probs" for n in names)
    held_feats, held_probs = scorer.heldout_feats, None
    if scorer.real.held_out is not None and (held_feats is None or with_probs):
        # the scorer extracts the held-out split for the entropy gap only (features; the cache makes this cheap)
        held_feats, held_probs = scorer.features(scorer.real.held_out)
    pool = torch.cat([scorer.real_feats] + ([] if held_feats is None else [held_feats])).cpu().numpy()
    pool_probs = None
    if with_probs:
        pool_probs = torch.cat([scorer.real_probs] + ([] if held_feats is None else [held_probs])).cpu().numpy()
    with_train = any(SCORES[n].needs == "train" for n in names)
    sets = 3 if with_train else 2
    what = "three disjoint sets (real, generated, train)" if with_train else "two disjoint sets"
    size = check_int(
        "size",
        pool.shape[0] // 6 if size is None else size,
        low=2,
        high=pool.shape[0] // sets,
        context=f" ({what} from a pool of {pool.shape[0]} feature rows)",
    )

    fixed = None
    if with_train:
        fixed = np.random.default_rng(_seed_for(scorer.seed, "calibration:train")).permutation(pool.shape[0])
    rest = np.arange(pool.shape[0]) if fixed is None else fixed[size:]
    train = None if fixed is None else pool[fixed[:size]]

    def draw(i: int) -> dict[str, Any]:
        idx = rest[np.random.default_rng([scorer.seed, i]).permutation(rest.shape[0])]
        real, fake = idx[:size], idx[size : 2 * size]
        sets = {"real": pool[real], "fake": pool[fake], "train": train}
        if pool_probs is not None:
            sets.update(real_probs=pool_probs[real], fake_probs=pool_probs[fake])
        return sets

    return interval_calibration(
        draw,
        n_draws=n_draws,
        n_boot_draws=n_boot_draws,
        n_boot=n_boot,
        scores=names,
        seed=scorer.seed,
        device=scorer.device,
        **scorer.params.as_dict(),
    )
