"""The validity conditions of the quality scores: declared per score, checked on the features received.

Each :class:`~infobench.quality._core.ScoreSpec` names the conditions its
formula needs in ``conditions`` (codes of the estimators' catalogue,
:data:`infobench.estimators._conditions.CONDITIONS`, where the quality codes
below are declared too). :func:`check_features` checks them on the real,
generated and training features a comparison actually uses, with one pass over
the values of each set (finiteness, column variances) and one sort of short
row keys, and returns per score the
:class:`~infobench.diagnostics.Diagnostic` objects that travel with its value
(the ``diagnostics`` column of :func:`~infobench.quality.score`); a condition
whose failure makes every number certainly wrong raises ``ValueError`` with
the reason and the fix. Rows are told apart by a few columns of large
variance first (:func:`row_groups`), and only rows that agree there are
compared whole. Clean features (distinct rows, more rows than
dimensions, neighbourhoods small against the set) pass silently.

The rules (``n``: rows of the smaller of the two sets, ``d``: feature
dimension, ``k``: the neighbour order a score reads):

``pixel-range``
    images outside their pixel range by a small excursion were clipped
    (:func:`infobench.data.datasets.resolve_range`): a warning on every score of the set.
``non-finite-features``
    NaN or inf features: refused (the extractor is broken or the images are).
``covariance-rank``
    ``n <= d`` for a covariance score (FID, FID∞): the Gaussian fits are
    rank-deficient, their covariances estimated from fewer rows than
    dimensions; a warning (the FID of such sets is dominated by its
    ``O(d / n)`` bias).
``neighbourhood-size``
    ``k > n / 10`` (:data:`NEIGHBOURHOOD_SHARE`): each ball of ``k``
    neighbours holds more than a tenth of its set, so the manifolds of the
    neighbour scores (precision, recall, density, coverage, memorization, the
    kNN entropy and KL scores) cover most of the space whatever the data; a warning.
``collapsed-set``
    every row of a set is the same point: refused for the real set (there is
    no reference to compare with); a warning for the generated set of the
    neighbour scores (its neighbour radii are 0: a collapsed generator, whose
    number measures the collapse and not the formula's assumptions).
``duplicate-rows``
    more than :data:`DUPLICATE_SHARE` of a set's rows have ``k`` or more exact
    copies: their ``k``-th neighbour is at distance 0 (balls of radius 0, a
    kNN entropy of ``log 0``); a warning for the neighbour scores.
``copied-rows``
    generated rows equal to real (or training) rows, beyond what the real
    set's own repeats explain (as :func:`~infobench.estimators._conditions.shared_rows` estimates it)
    and above :data:`COPIED_SHARE` of the generated rows: a generator that
    copies its training images scores as the data itself; a warning on every
    feature score but memorization, which measures exactly this.
``reduced-precision``
    features given in float16 / bfloat16 (:func:`~infobench.quality.score_features`):
    distances below their resolution (about ``1e-3`` relative) tie; an info note.
``degenerate-columns``
    columns constant over every set, or equal over every set to an earlier
    column, carry no dimension of the density: the kNN KL and entropy-gap
    formulas (which multiply by ``d``) use :func:`effective_dim` instead of
    the column count (adapted, an info note).
``below-zero``
    read off the result, not the features (:func:`value_doubts`): a kNN KL
    score whose whole interval lies below 0, which no divergence is; a
    warning.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from infobench.diagnostics import Diagnostic
from infobench.estimators.conditions import CONDITIONS, declare_condition, type_name

__all__ = [
    "COPIED_SHARE",
    "DEFAULT_CONDITIONS",
    "DENSITY_CONDITIONS",
    "DUPLICATE_SHARE",
    "NEIGHBOURHOOD_SHARE",
    "NEIGHBOUR_CONDITIONS",
    "value_doubts",
    "QUALITY_CONDITIONS",
    "check_condition_codes",
    "check_features",
    "degenerate_columns",
    "effective_dim",
    "key_columns",
    "row_groups",
]

#: A neighbour order above this share of the smaller set's rows: balls too large to separate anything.
NEIGHBOURHOOD_SHARE = 0.1
#: More than this share of a set's rows with k or more exact copies: the duplicate-rows warning.
DUPLICATE_SHARE = 0.01
#: Generated rows copied from the real set beyond this share (and beyond chance): the copied-rows warning.
COPIED_SHARE = 0.01

QUALITY_CONDITIONS = (
    declare_condition(
        "pixel-range",
        "(quality) pixels inside the range of their dtype or the declared value_range / real_range",
        "refused when values leave the range by more than 10 % of its width (another convention: the message "
        "names the one they look like and the parameter that declares it); a smaller excursion is clipped, with "
        "a warning on every score of the set",
    ),
    declare_condition(
        "non-finite-features",
        "(quality) finite features",
        "refused: NaN or inf features come from a broken extractor or broken images",
    ),
    declare_condition(
        "covariance-rank",
        "(quality) more rows than feature dimensions for a covariance (FID, FID∞)",
        "warning when a set has no more rows than dimensions: the Gaussian fit's covariance is rank-deficient "
        "and the distance dominated by its O(d / n) bias; reduce the dimension (--pca) or score more samples",
    ),
    declare_condition(
        "neighbourhood-size",
        "(quality) neighbour orders small against the sets (k <= n / 10)",
        "warning when k (or knn_k) exceeds a tenth of the smaller set: each neighbourhood covers much of the set "
        "and the neighbour scores lose their resolution",
    ),
    declare_condition(
        "collapsed-set",
        "(quality) sets of more than one distinct point",
        "refused for the real set (no reference); a warning on the neighbour scores of a generated set whose "
        "rows are all the same point (radii 0)",
    ),
    declare_condition(
        "duplicate-rows",
        "(quality) no rows with k or more exact copies (their k-th neighbour at distance 0)",
        "warning when more than 1 % of a set's rows have k or more exact copies",
    ),
    declare_condition(
        "copied-rows",
        "(quality) generated rows that are not copies of real or training rows",
        "warning on every feature score but memorization when more than 1 % of the generated rows equal a real "
        "or training row beyond what the real set's own repeats explain",
    ),
    declare_condition(
        "reduced-precision",
        "(quality) features resolved finely (float32 or float64)",
        "info note when features arrive in float16 or bfloat16",
    ),
    declare_condition(
        "degenerate-columns",
        "(quality) kNN density scores: features of full dimension d (the d of their formula)",
        "adapted: feature columns constant over every set, or equal to an earlier column, are not counted in d "
        "(a constant pixel column otherwise inflates the kNN KL and entropy gap by d / d_eff); an info note",
    ),
)

#: The conditions of the scores built on k nearest neighbours (declared by their ScoreSpecs).
NEIGHBOUR_CONDITIONS = ("neighbourhood-size", "collapsed-set", "duplicate-rows", "copied-rows")
#: The kNN density scores (KL, entropy gap) also need the dimension of their formula.
DENSITY_CONDITIONS = (*NEIGHBOUR_CONDITIONS, "degenerate-columns")
#: Conditions of every score (its inputs), whatever it declares.
DEFAULT_CONDITIONS = ("pixel-range", "non-finite-features", "reduced-precision")


def value_doubts(row: dict[str, Any], spec: Any) -> tuple[Diagnostic, ...]:
    """Doubts read off a score's value and interval (``below-zero``), for one tidy row of :func:`~infobench.quality.score`.

    A score that declares ``below-zero`` (a KL divergence, which is never
    negative) is doubted when its whole interval lies below 0: its kNN
    estimator's bias, not the sets, set the number. Without an interval
    there is no scale to judge the sign against, and nothing is said.
    """
    if "below-zero" not in spec.conditions or not row["ci_high"] < 0:
        return ()
    message = (
        f"{spec.label} is {row['value']:.4g} nats with its {row['level']:.0%} interval [{row['ci_low']:.3g}, "
        f"{row['ci_high']:.3g}] wholly below 0, which no KL divergence is: the kNN estimator's bias (high "
        "dimension, sets of different spread) sets this number, so neither its sign nor its size compares the "
        "sets; reduce the dimension (pca=D / --pca D) or score more samples"
    )
    return (Diagnostic("below-zero", message, subject="fake"),)


def check_condition_codes(name: str, codes: Iterable[str]) -> None:
    """Raise when a score declares a condition code missing from the catalogue."""
    unknown = [c for c in codes if c not in CONDITIONS]
    if unknown:
        raise ValueError(
            f"score {name!r} declares unknown condition {unknown[0]!r}; declared conditions are {sorted(CONDITIONS)}"
        )


def _rows(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().to("cpu", torch.float64).numpy())


#: Rows are first told apart by this many columns (those of largest variance); only rows that agree on them
#: are compared whole.
_KEY_COLUMNS = 16


def _keys(a: np.ndarray) -> np.ndarray:
    """One opaque key per row (its bytes, ``-0.0`` read as ``0.0``): equal keys iff equal rows."""
    a = np.ascontiguousarray(a) + 0.0
    return a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).ravel()


def key_columns(*sets: np.ndarray) -> np.ndarray:
    """The columns that tell rows apart first: the :data:`_KEY_COLUMNS` of largest pooled variance."""
    d = sets[0].shape[1]
    if d <= _KEY_COLUMNS:
        return np.arange(d)
    # The spread of a few hundred evenly spaced rows: the choice only decides how many rows are compared whole.
    sample = np.concatenate([a[:: max(1, a.shape[0] // 256)] for a in sets])
    return np.sort(np.argsort(-np.var(sample, axis=0), kind="stable")[:_KEY_COLUMNS])


def row_groups(a: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """A group id per row, equal exactly for equal rows.

    Rows are sorted by their values in ``cols`` (a few columns); only the rows
    that tie there (the candidates for copies) are compared whole, so distinct
    continuous features cost one sort of short keys.
    """
    _, inv, counts = np.unique(_keys(a[:, cols]), return_inverse=True, return_counts=True)
    ids = inv.ravel().astype(np.int64)
    cand = np.flatnonzero(counts[ids] > 1)
    if cand.size and cols.size < a.shape[1]:
        _, inv2 = np.unique(_keys(a[cand]), return_inverse=True)
        ids[cand] = counts.size + inv2.ravel()
    return ids


def _copies(ids: np.ndarray) -> np.ndarray:
    """Per row: how many other rows share its group (are equal to it)."""
    _, inv, counts = np.unique(ids, return_inverse=True, return_counts=True)
    return counts[inv.ravel()] - 1


def _shared(a: np.ndarray, b: np.ndarray, cols: np.ndarray) -> int:
    """Rows of ``a`` equal to some row of ``b``: candidates that match on ``cols`` compared whole."""
    ka, kb = _keys(a[:, cols]), _keys(b[:, cols])
    ca, cb = np.flatnonzero(np.isin(ka, kb)), np.flatnonzero(np.isin(kb, ka))
    if not ca.size or cols.size == a.shape[1]:
        return int(ca.size)
    return int(np.isin(_keys(a[ca]), _keys(b[cb])).sum())


def degenerate_columns(*sets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns constant over every set, and columns equal (over every set) to an earlier column.

    One pass over the values (column minima and maxima); columns that agree
    on a few values (their range and three rows of each set) are compared
    whole. Returns two sorted index arrays.
    """
    lo = np.min([a.min(axis=0) for a in sets], axis=0)
    hi = np.max([a.max(axis=0) for a in sets], axis=0)
    constant = np.flatnonzero(lo == hi)
    varying = np.flatnonzero(lo != hi)
    if varying.size < 2:
        return constant, np.zeros(0, dtype=np.int64)
    probe = np.column_stack([lo, hi] + [a[i] for a in sets for i in (0, a.shape[0] // 2, -1)])[varying]
    _, inv, counts = np.unique(_keys(probe), return_inverse=True, return_counts=True)
    cand = varying[counts[inv.ravel()] > 1]
    if not cand.size:
        return constant, np.zeros(0, dtype=np.int64)
    whole = np.concatenate([a[:, cand] for a in sets]).T
    _, first = np.unique(_keys(whole), return_index=True)
    duplicated = np.setdiff1d(cand, cand[first])
    return constant, duplicated


def effective_dim(ctx: Any) -> int:
    """The dimension of the kNN density formulas for a context: columns neither constant nor repeated.

    Computed once per comparison on the root sets (real, generated and the
    held-out split when there is one) and shared with its resampled contexts.
    """
    if "effective_dim" not in ctx.shared:
        sets = [_rows(t) for t in ctx.shared["root"]] + ([] if ctx.heldout is None else [_rows(ctx.heldout)])
        constant, duplicated = degenerate_columns(*sets)
        ctx.shared["effective_dim"] = max(sets[0].shape[1] - constant.size - duplicated.size, 1)
    return ctx.shared["effective_dim"]


def check_features(
    specs: dict[str, Any],
    sets: dict[str, torch.Tensor | None],
    params: Any,
    *,
    inputs: dict[str, Iterable[Diagnostic]] | None = None,
    source_eps: dict[str, float] | None = None,
) -> dict[str, tuple[Diagnostic, ...]]:
    """The diagnostics of each score in ``specs`` on the feature sets a comparison uses.

    Parameters
    ----------
    specs : dict name -> ScoreSpec
        The requested scores (their ``conditions`` and ``needs``).
    sets : dict
        ``"real"``, ``"fake"`` (``(n, d)`` features) and optionally ``"train"``
        (``None``: the real set is the training split).
    params : Params
        The neighbour orders ``k`` and ``knn_k``.
    inputs : dict, optional
        Diagnostics found on the images of a set (``pixel-range``), by set
        name: each goes to every score of that set.
    source_eps : dict, optional
        Machine epsilon of the type each set's features arrived in.

    Raises
    ------
    ValueError
        ``non-finite-features`` or a ``collapsed-set`` real set (certainly wrong numbers).
    """
    feats = {k: v for k, v in sets.items() if v is not None}
    arrays = {k: _rows(v) for k, v in feats.items()}
    for which, a in arrays.items():
        if np.isfinite(a.sum(axis=0)).all():  # NaN or inf anywhere makes its column's sum non-finite
            continue
        bad = ~np.isfinite(a)
        if bad.any():
            rows, cols = np.nonzero(bad)
            raise ValueError(
                f"{which} features hold {int(bad.sum())} non-finite value(s) (NaN or inf; first at row {int(rows[0])}, "
                f"column {int(cols[0])}): every score of them would be wrong; check the extractor and the images "
                "(a diverged generator draws NaN pixels)"
            )
    cols = key_columns(*arrays.values())
    copies = {k: _copies(row_groups(a, cols)) for k, a in arrays.items()}
    if "real" in copies and copies["real"].size and (copies["real"] == copies["real"].size - 1).all():
        raise ValueError(
            f"every one of the {copies['real'].size} real feature rows is the same point (collapsed-set): there is "
            "no reference distribution to compare with; check the real data (constant images) and the extractor"
        )
    found: list[tuple[str, Diagnostic, str]] = []  # (code, diagnostic, set it concerns)
    for which, diags in (inputs or {}).items():
        for d in diags:
            found.append((d.code, d, which))
    for which, eps in (source_eps or {}).items():
        if eps > 2.0**-23 and which in feats:
            found.append(
                (
                    "reduced-precision",
                    Diagnostic(
                        "reduced-precision",
                        (
                            f"{which} features arrived as {type_name(eps)} (relative resolution {eps:.1g}): distances below "
                            "that tie; pass float32 or float64 features"
                        ),
                        subject=which,
                        severity="info",
                    ),
                    which,
                )
            )
    n = min(a.shape[0] for w, a in arrays.items() if w in ("real", "fake"))
    d = arrays["fake"].shape[1]
    for which in ("real", "fake"):
        rows = arrays[which].shape[0]
        if rows <= d:
            found.append(
                (
                    "covariance-rank",
                    Diagnostic(
                        "covariance-rank",
                        (
                            f"the {which} set has {rows} rows for {d} feature dimensions: its covariance is rank-deficient "
                            f"(rank <= {rows - 1}) and the Fréchet distance is dominated by its O(d / n) bias; reduce the "
                            "dimension (pca=D / --pca D) or score more samples"
                        ),
                        subject=which,
                    ),
                    which,
                )
            )
    for param in ("k", "knn_k"):
        order = int(getattr(params, param))
        if order > NEIGHBOURHOOD_SHARE * n:
            found.append(
                (
                    "neighbourhood-size",
                    Diagnostic(
                        "neighbourhood-size",
                        (
                            f"{param}={order} exceeds {NEIGHBOURHOOD_SHARE:.0%} of the smaller set ({n} rows): each "
                            f"neighbourhood covers much of its set and the neighbour scores lose their resolution; use "
                            f"{param} <= {max(1, int(NEIGHBOURHOOD_SHARE * n))} or score more samples"
                        ),
                        subject=param,
                    ),
                    param,
                )
            )
    fake_copies = copies["fake"]
    if fake_copies.size > 1 and (fake_copies == fake_copies.size - 1).all():
        found.append(
            (
                "collapsed-set",
                Diagnostic(
                    "collapsed-set",
                    (
                        f"all {fake_copies.size} generated feature rows are the same point (a collapsed generator, or constant "
                        "images): their neighbour radii are 0, so the neighbour scores measure the collapse, not the "
                        "distribution"
                    ),
                    subject="fake",
                ),
                "fake",
            )
        )
    else:
        kmax = max(int(params.k), int(params.knn_k))
        for which, c in copies.items():
            share = float((c >= kmax).mean()) if c.size else 0.0
            if share > DUPLICATE_SHARE:
                found.append(
                    (
                        "duplicate-rows",
                        Diagnostic(
                            "duplicate-rows",
                            (
                                f"{share:.1%} of the {which} rows have {kmax} or more exact copies: their k-th neighbour is at "
                                "distance 0 (balls of radius 0, log 0 in a kNN entropy); remove repeated samples"
                            ),
                            subject=which,
                        ),
                        which,
                    )
                )
    for ref in ("real", "train"):
        if ref not in arrays:
            continue
        m = arrays["fake"].shape[0]
        shared = _shared(arrays["fake"], arrays[ref], cols)
        # What independent draws would share, from how often the generated rows repeat among themselves.
        expected = float((copies["fake"] > 0).sum()) * arrays[ref].shape[0] / max(m - 1, 1)
        if shared > COPIED_SHARE * m and shared > 3.0 * expected:
            found.append(
                (
                    "copied-rows",
                    Diagnostic(
                        "copied-rows",
                        (
                            f"{shared} of the {m} generated rows ({shared / m:.1%}) equal a {ref} row, where the {ref} set's own "
                            f"repeats explain about {expected:.1f}: a generator that copies its training data scores like the "
                            "data itself; see the memorization score"
                        ),
                        subject=ref,
                    ),
                    "fake",
                )
            )
    constant, duplicated = degenerate_columns(*arrays.values())
    if constant.size or duplicated.size:
        found.append(
            (
                "degenerate-columns",
                Diagnostic(
                    "degenerate-columns",
                    (
                        f"{constant.size} feature column(s) are constant over every set and {duplicated.size} repeat an "
                        f"earlier column (first: {np.concatenate([constant, duplicated])[:4].tolist()}): the kNN density "
                        f"scores use the dimension d = {d - constant.size - duplicated.size} of the others, not {d}"
                    ),
                    severity="info",
                ),
                "fake",
            )
        )
    out: dict[str, tuple[Diagnostic, ...]] = {}
    for name, spec in specs.items():
        declared = set(DEFAULT_CONDITIONS) | set(spec.conditions)
        mine: list[Diagnostic] = []
        for code, diag, which in found:
            if code not in declared or diag in mine:
                continue
            if code == "neighbourhood-size" and which not in spec.params:
                continue  # the order this score does not read
            mine.append(diag)
        out[name] = tuple(mine)
    return out
