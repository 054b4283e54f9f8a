"""``infobench run``: the main job on the embedded default (digits), or a TOML configuration."""

from __future__ import annotations

import argparse
import dataclasses
import os

from rich.console import Console

from infobench._io import check_output_path
from infobench._progress import make_console
from infobench.mainjob import MainJobResult, load_config, run_main_job, to_toml
from infobench.mainjob.pipeline import STATE_DIR_NAME
from infobench.report import to_rich
from infobench.report.main_report import summary_tables


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="benchmark the estimators, train and score the reference generators, write a report",
        description="Benchmark every estimator on the smoke, entropy and kl suites, train (or reuse) the reference "
        "GAN, WGAN-GP and VAE on digits, score them and the held-out split, run the validity suite and write "
        "reports/<timestamp>/. Re-running resumes: finished cells and trained generators are reused. "
        "One run at a time per --out and --state folder: a second one is refused.",
    )
    p.add_argument("--quick", action="store_true", help="small budget (under 3 minutes on 2 CPU cores)")
    p.add_argument("--config", metavar="FILE", help="TOML file overriding the defaults (see --print-config)")
    p.add_argument("--print-config", action="store_true", help="print the configuration as TOML and exit")
    p.add_argument("--device", default=None, help="'auto' (default: CUDA when present), 'cpu', 'cuda', 'cuda:N'")
    p.add_argument("--out", default="reports", help="parent folder of the report (default: reports)")
    p.add_argument("--state", default=None, help="folder of reusable results (default: <out>/.state)")
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress reports on stderr (default: live in a terminal, plain lines in a log)",
    )
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    config = load_config(args.config, quick=args.quick)
    if args.device is not None:
        config = dataclasses.replace(config, device=args.device)
    console = make_console()
    if args.print_config:
        console.print(to_toml(config), markup=False, highlight=False, soft_wrap=True)
        return 0
    # run_main_job locks both folders; unusable ones are refused here, before any work.
    config_input = [("--config", args.config)]
    check_output_path(args.out, name="--out", kind="folder", inputs=config_input)
    state = args.state if args.state is not None else os.path.join(args.out, STATE_DIR_NAME)
    check_output_path(state, name="--state", kind="folder", inputs=config_input)
    result = run_main_job(
        config,
        out=args.out,
        state=args.state,
        progress=not args.no_progress,
        console=console,
        command=getattr(args, "command_line", "infobench run"),
    )
    _summary(console, result)
    return 0


def _summary(console: Console, result: MainJobResult) -> None:
    console.rule("[bold]summary")
    for table in summary_tables(result.summary, result.quality, result.runs, result.pairs):
        console.print(to_rich(table))
    total = sum(result.seconds.values())
    parts = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items())
    console.print(f"report: [bold]{result.report_dir}[/] (REPORT.md, report.html)  time: {total:.0f} s ({parts})")
