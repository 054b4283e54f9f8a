"""``infobench estimators [--quantity Q] [--json]``: the registered estimation methods and their parameters."""

from __future__ import annotations

import argparse
import json

from rich.console import Console

from infobench.estimators import available
from infobench.report.listings import default_text, estimators_listing


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "estimators",
        help="list estimation methods, what they estimate and their parameters",
        description="List the registered estimators. Use them in specs such as 'ksg[k=3,5]' "
        "(see 'infobench bench --help').",
    )
    parser.add_argument(
        "--quantity", choices=["entropy", "mi", "kl"], default=None, help="only methods for this quantity"
    )
    parser.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    df = available(args.quantity)
    if args.json:
        records = [
            {
                "method": r.method,
                "quantity": r.quantity,
                "estimates": r.estimates,
                "params": {k: default_text(v) for k, v in r.params.items()},
                "summary": r.summary,
            }
            for r in df.itertuples()
        ]
        print(json.dumps(records, indent=2))
        return 0
    table = estimators_listing(df)
    Console().print(table)
    return 0
