"""The speed suites (pytest-benchmark), a package so that ``pytest benchmarks/bench_x.py`` and
``python -m pytest benchmarks/`` both import them, and their shared ``benchmarks.conftest``,
the same way (pytest puts the repository root on ``sys.path``, above this package)."""
