"""``infobench tasks [--suite S] [--json]``: list the tasks with known ground truth."""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from infobench.report.listings import tasks_listing
from infobench.tasks import SUITES, list_tasks, suite


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tasks",
        help="list tasks with known entropy, mutual information or KL divergence",
        description="List the benchmark tasks: id, kind, family, dimensions and the exact truth in nats "
        "(with its Monte-Carlo standard error where the truth is a Monte-Carlo value).",
    )
    parser.add_argument(
        "--suite", default=None, metavar="S", help=f"one of {', '.join(SUITES)} (default: every registered task)"
    )
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
    table = tasks_listing(tasks, title)
    console.print(table)
    return 0
