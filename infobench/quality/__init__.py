"""Sample-quality scores for any generator's outputs.

>>> from infobench.quality import score
>>> df = score("digits", {"vae": "runs/vae/samples.npz", "real-test": "held-out"},
...            n_boot=200)                                              # doctest: +SKIP
>>> df.pivot(index="fake", columns="score", values="value")                # doctest: +SKIP

:func:`score` returns a tidy DataFrame (one row per generated set and score);
:func:`infobench.report.quality_tables.score_tables` turns it into the comparison
table that ``infobench score`` prints. The scores, their directions and
units are listed by :func:`available_scores`, their parameters by
:func:`available_params`; the extractors are described
in :mod:`infobench.quality.features`, the inputs in
:mod:`infobench.quality.inputs`, the intervals in
:mod:`infobench.quality.bootstrap`, the orchestration in
:mod:`infobench.quality.scoring`. This module only re-exports.
"""

from infobench.quality._core import DIRECTIONS, SCORES, Params, cli_options
from infobench.quality.scores_info import (
    class_kl,
    classes_covered,
    inception_score,
    knn_entropy,
    knn_kl,
    renyi_kernel_entropy,
    vendi_score,
)
from infobench.quality.scores_standard import fid, fid_infinity, frechet_distance, kid, memorization, prdc
from infobench.quality.scoring import COLUMNS, Scorer, available_params, available_scores, score, score_features

__all__ = [
    "COLUMNS",
    "DIRECTIONS",
    "Params",
    "SCORES",
    "available_params",
    "available_scores",
    "class_kl",
    "classes_covered",
    "cli_options",
    "fid",
    "fid_infinity",
    "frechet_distance",
    "inception_score",
    "kid",
    "knn_entropy",
    "knn_kl",
    "memorization",
    "prdc",
    "renyi_kernel_entropy",
    "Scorer",
    "score",
    "score_features",
    "vendi_score",
]
