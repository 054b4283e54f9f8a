"""Hand-built inputs of the report tests (a helper module, not a test module).

Small frames with the columns of the real producers: benchmark records of
:func:`infobench.bench.load_results` on an MI, an entropy and a KL task, a
quality-score frame of :func:`infobench.quality.score` and a training table,
so that report code is tested without running estimators or generators.
"""

from __future__ import annotations

import math

import pandas as pd

QUANTITIES = (("mi", "gauss-mi", 0.5), ("entropy", "gauss-h", 1.4), ("kl", "gauss-kl", 0.8))


def bench_records() -> pd.DataFrame:
    """Two estimators per quantity, two sizes, two seeds; the last cell failed."""
    rows = []
    for quantity, task, truth in QUANTITIES:
        for estimator, bias in ((f"{quantity}-a", 0.02), (f"{quantity}-b", -0.05)):
            for n in (100, 400):
                for seed in (0, 1):
                    est = truth + bias + (seed - 0.5) / n
                    rows.append(
                        {
                            "estimator": estimator,
                            "task_id": task,
                            "quantity": quantity,
                            "n": n,
                            "seed": seed,
                            "truth": truth,
                            "estimate": est,
                            "ok": True,
                            "std_err": 0.03,
                            "seconds": 0.01 * n / 100,
                        }
                    )
    rows[-1].update(ok=False, estimate=math.nan)
    return pd.DataFrame(rows)


def quality_frame() -> pd.DataFrame:
    """Three scores of two generated sets and the held-out ceiling, with bootstrap intervals."""
    values = {"gan": (3.1, 0.9, 12.0), "vae": (4.2, 0.4, 7.5), "real-test": (5.0, 0.05, 1.0)}
    rows = []
    for fake, (kl, prec, fid) in values.items():
        for score, family, unit, v in (
            ("kl_real_fake", "information", "nats", kl),
            ("precision", "standard", "fraction", prec),
            ("fid", "standard", "", fid),
        ):
            rows.append(
                {
                    "fake": fake,
                    "source": "held-out" if fake == "real-test" else "file",
                    "score": score,
                    "family": family,
                    "value": v,
                    "ci_low": 0.9 * v,
                    "ci_high": 1.1 * v,
                    "bootstrap": 40,
                    "level": 0.95,
                    "unit": unit,
                    "n_fake": 300,
                    "note": "",
                }
            )
    return pd.DataFrame(rows)


def training_frame() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"generator": "gan", "folder": "/x/gan", "epochs": 20, "seconds_per_epoch": 0.51, "loss_g": 1.2345678},
            {"generator": "vae", "folder": "/x/vae", "epochs": 30, "seconds_per_epoch": 0.33, "loss_g": math.nan},
        ]
    )
