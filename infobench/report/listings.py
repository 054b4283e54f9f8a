"""Terminal listings of what infobench offers: the tasks and the registered estimators.

The ``infobench tasks`` and ``infobench estimators`` commands print these
rich tables; like every other table they are built here, in :mod:`infobench.report`.
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd
from rich.table import Table
from rich.text import Text

from infobench.bench.spec import format_value

__all__ = ["default_text", "estimators_listing", "tasks_listing"]


def default_text(value: Any) -> str:
    """A parameter default as spec syntax (``format_value``), else its ``repr``."""
    try:
        return format_value(value)
    except (TypeError, ValueError):
        return repr(value)


def tasks_listing(tasks: Sequence[Any], title: str) -> Table:
    """One row per task: id, kind, family, dimensions, truth in nats and its Monte-Carlo standard error."""
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
    return table


def estimators_listing(methods: pd.DataFrame) -> Table:
    """One row per registered method (:func:`infobench.estimators.available`) with its parameters' defaults."""
    # Text, not str: rich would read "[param=value]" as console markup.
    table = Table(title="infobench estimators", caption=Text("spec syntax: method[param=v1,v2;other=value]"),
                  caption_justify="left")
    for name in ("method", "estimates", "parameters (defaults)", "summary"):
        table.add_column(name, overflow="fold", no_wrap=name == "method")
    for r in methods.itertuples():
        params = ", ".join(f"{k}={default_text(v)}" for k, v in r.params.items())
        table.add_row(Text(r.method), Text(r.estimates), Text(params), Text(r.summary))
    return table
