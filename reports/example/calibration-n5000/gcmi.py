"""gcmi on the mi-standard calibration suite (README.md beside this file has the command).

gcmi is not in ``SUITE_METHODS`` of ``benchmarks/bench_calibration.py``: this runs the same
``records()`` / ``calibration()`` path for it, with ``n_boot=30`` as the suite uses for ``gaussian``.
Env: ``INFOBENCH_CAL_SUITE_SEEDS``, ``INFOBENCH_CAL_CSV`` (prefix), ``INFOBENCH_CAL_SUITE_N``.
"""

import os

import pandas as pd

from benchmarks.bench_calibration import records, SUITE_N
from infobench import tasks
from infobench.report.aggregate import calibration

seeds, out = int(os.environ["INFOBENCH_CAL_SUITE_SEEDS"]), os.environ["INFOBENCH_CAL_CSV"]
parts = []
for t in tasks.suite("mi-standard"):
    parts.append(records("mi", "gcmi", t.id, SUITE_N, seeds, {"n_boot": 30}))
    pd.concat(parts, ignore_index=True).to_csv(f"{out}-mi-standard-records.csv", index=False)
calibration(pd.concat(parts, ignore_index=True), per_task=True).to_csv(f"{out}-mi-standard.csv", index=False)
