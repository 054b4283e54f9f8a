"""``infobench estimators [--quantity Q] [--json]``: the registered estimation methods and their parameters."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table
from rich.text import Text

from infobench.bench.spec import format_value
from infobench.estimators import available


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "estimators",
        help="list estimation methods, what they estimate and their parameters",
        description="List the registered estimators. Use them in specs such as 'ksg[k=3,5]' "
        "(see 'infobench bench --help').",
    )
    parser.add_argument("--quantity", choices=["entropy", "mi", "kl"], default=None,
                        help="only methods for this quantity")
    parser.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    parser.set_defaults(func=run)


def _default_text(value) -> str:
    try:
        return format_value(value)
    except (TypeError, ValueError):
        return repr(value)


def run(args: argparse.Namespace) -> int:
    df = available(args.quantity)
    if args.json:
        records = [
            {"method": r.method, "quantity": r.quantity, "estimates": r.estimates,
             "params": {k: _default_text(v) for k, v in r.params.items()}, "summary": r.summary}
            for r in df.itertuples()
        ]
        print(json.dumps(records, indent=2))
        return 0
    # Text, not str: rich would read "[param=value]" as console markup.
    table = Table(title="infobench estimators", caption=Text("spec syntax: method[param=v1,v2;other=value]"),
                  caption_justify="left")
    for name in ("method", "estimates", "parameters (defaults)", "summary"):
        table.add_column(name, overflow="fold", no_wrap=name == "method")
    for r in df.itertuples():
        params = ", ".join(f"{k}={_default_text(v)}" for k, v in r.params.items())
        table.add_row(Text(r.method), Text(r.estimates), Text(params), Text(r.summary))
    Console().print(table)
    return 0
