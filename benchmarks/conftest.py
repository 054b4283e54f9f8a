"""Shared fixtures for the speed suites.

Import helpers from here as ``from benchmarks.conftest import pick``: ``benchmarks``
is a package, so that import works under ``pytest benchmarks/bench_knn.py`` as
well as ``python -m pytest benchmarks/`` (pytest puts the repository root on
``sys.path``).

Sizes: the full sizes named in the issues by default; with
``--benchmark-disable`` (how CI runs them so they cannot rot) every suite
uses its small size, so the whole directory runs in well under a minute.
"""

import pytest


@pytest.fixture(scope="session")
def full_size(request) -> bool:
    """True when timings are being taken (not ``--benchmark-disable``)."""
    return not request.config.getoption("benchmark_disable", default=False)


def pick(full_size: bool, full, small):
    """``full`` when timings are taken, else ``small`` (the size of the untimed smoke run)."""
    return full if full_size else small
