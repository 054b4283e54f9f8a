"""``infobench run``: the main job on the embedded default (digits), or a TOML configuration."""

from __future__ import annotations

import argparse
import dataclasses


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="benchmark the estimators, train and score the reference generators, write a report",
        description="Benchmark every estimator on the smoke and entropy suites, train (or reuse) the reference "
        "GAN, WGAN-GP and VAE on digits, score them and the held-out split, run the validity suite and write "
        "reports/<timestamp>/. Re-running resumes: finished cells and trained generators are reused.",
    )
    p.add_argument("--quick", action="store_true", help="small budget (under 3 minutes on 2 CPU cores)")
    p.add_argument("--config", metavar="FILE", help="TOML file overriding the defaults (see --print-config)")
    p.add_argument("--print-config", action="store_true", help="print the configuration as TOML and exit")
    p.add_argument("--device", default=None, help="'auto' (default: CUDA when present), 'cpu', 'cuda', 'cuda:N'")
    p.add_argument("--out", default="reports", help="parent folder of the report (default: reports)")
    p.add_argument("--state", default=None, help="folder of reusable results (default: <out>/.state)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from rich.console import Console

    from infobench.mainjob import load_config, run_main_job, to_toml

    config = load_config(args.config, quick=args.quick)
    if args.device is not None:
        config = dataclasses.replace(config, device=args.device)
    import sys

    # In a terminal rich fits the window; in a log file 120 columns keep the tables unwrapped.
    console = Console() if sys.stdout.isatty() else Console(width=120)
    if args.print_config:
        console.print(to_toml(config), markup=False, highlight=False, soft_wrap=True)
        return 0
    result = run_main_job(config, out=args.out, state=args.state, progress=not args.no_progress, console=console)
    _summary(console, result)
    return 0


def _summary(console, result) -> None:
    from infobench.report import leaderboard, leaderboard_table, to_rich

    console.rule("[bold]summary")
    console.print(to_rich(leaderboard_table(leaderboard(result.summary))))
    if result.quality is not None:
        console.print(to_rich(_compact_quality(result.quality)))
    total = sum(result.seconds.values())
    parts = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items())
    console.print(f"report: [bold]{result.report_dir}[/] (REPORT.md, report.html)  time: {total:.0f} s ({parts})")


# Scores shown in the terminal summary (the report has all of them with intervals).
SUMMARY_SCORES = {"inception": "IS", "classes_covered": "classes", "kl_real_fake": "KL(r‖g)",
                  "kl_fake_real": "KL(g‖r)", "fid": "FID", "kid": "KID", "precision": "prec", "recall": "recall",
                  "memorization": "memo"}


def _compact_quality(df):
    """One row per generated set, values only, so the table fits an 80-column terminal."""
    from infobench.quality import SCORES
    from infobench.quality._core import DIRECTIONS
    from infobench.report.quality_tables import best_flags
    from infobench.report import Table, format_value

    import pandas as pd

    names = [s for s in SUMMARY_SCORES if s in set(df["score"])]
    fakes = list(dict.fromkeys(df["fake"]))
    ceiling = {f for f in fakes if (df.loc[df["fake"] == f, "source"] == "held-out").all()}
    order = [f for f in fakes if f not in ceiling] + [f for f in fakes if f in ceiling]
    rows = [[f + (" *" if f in ceiling else "")] for f in order]
    best = [[False] for _ in order]
    for s in names:
        sub = df[df["score"] == s].set_index("fake").reindex(order)
        flags = best_flags(sub["value"].astype(float), SCORES[s].direction,
                           pd.Series([f not in ceiling for f in order], index=sub.index))
        for i, f in enumerate(order):
            rows[i].append(format_value(float(sub.loc[f, "value"]), "seconds"))  # 3 significant digits
            best[i].append(bool(flags.loc[f]))
    header = ["generated"] + [f"{SUMMARY_SCORES[s]} {DIRECTIONS[SCORES[s].direction]}" for s in names]
    return Table(title="Generators (full table with intervals in the report)", header=header, rows=rows,
                 best=best, labels=1, note="* held-out real data: the ceiling, not ranked. KL in nats; r = real, g = generated; "
                 "memo = memorized fraction.")
