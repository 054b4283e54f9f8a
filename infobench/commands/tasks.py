"""``infobench tasks [--suite S] [--json]``: list the tasks with known ground truth."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from infobench.tasks import SUITES, list_tasks, suite


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tasks",
        help="list tasks with known entropy / mutual information",
        description="List the benchmark tasks: id, kind, family, dimensions and the exact truth in nats "
        "(with its Monte-Carlo standard error where the truth is a Monte-Carlo value).",
    )
    parser.add_argument("--suite", default=None, metavar="S",
                        help=f"one of {', '.join(SUITES)} (default: every registered task)")
    parser.add_argument("--json", action="store_true", help="print JSON records (with parameters) instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    tasks = list_tasks() if args.suite is None else suite(args.suite)
    console = Console()
    if not console.is_terminal:
        # Piped or redirected: no terminal width to respect, keep ids on one line.
        console = Console(width=max(console.width, 160))
    if args.json:
        console.print_json(json.dumps([t.summary() for t in tasks]))
        return 0
    title = f"suite {args.suite!r}" if args.suite else "all registered tasks"
    table = Table(title=f"infobench tasks: {title} ({len(tasks)})",
                  caption="truth in nats; std err 0 = closed form, otherwise the Monte-Carlo standard error")
    # Ids are long: they fold onto a second line in a narrow terminal, the numbers never do.
    table.add_column("id", overflow="fold", ratio=3)
    table.add_column("kind", no_wrap=True)
    table.add_column("family", overflow="fold", ratio=1)
    for name in ("dim_x", "dim_y", "truth\n(nats)", "truth\nstd err"):
        table.add_column(name, justify="right", no_wrap=True)
    for t in tasks:
        se = t.truth_std_err
        table.add_row(t.id, t.kind, t.family, str(t.dim_x), str(t.dim_y), f"{t.truth:.6f}",
                      "0" if se == 0.0 else f"{se:.2e}")
    console.print(table)
    return 0
