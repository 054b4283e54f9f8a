"""The neighbour engine as other packages use it: exact pair searches, ball counts, the thread budget.

The engine itself lives in this package's private modules (the brute-force
tiles of ``_neighbors``, the compiled k-d tree of ``_kdtree``, the exact pair
searches of ``_exact_pairs``, the exact distance of a pair in
``_pair_distances``); this module names what code outside
:mod:`infobench.estimators` may use of it, so that no other package imports a
private module. It registers no estimation method.
"""

from infobench.estimators._exact_pairs import (
    BallPairs,
    PairSearch,
    ball_counts,
    counts_within,
    exact_kneighbors,
    gaussian_kernel_sum,
    neighbors_within,
    pair_search,
)
from infobench.estimators._kdtree import threads
from infobench.estimators._neighbors import Neighbors
from infobench.estimators._pair_distances import exact_distances, pair_distances

__all__ = [
    "BallPairs",
    "Neighbors",
    "PairSearch",
    "ball_counts",
    "counts_within",
    "exact_distances",
    "exact_kneighbors",
    "gaussian_kernel_sum",
    "neighbors_within",
    "pair_distances",
    "pair_search",
    "threads",
]
