"""Terminal listings: the tasks, the registered estimators, one estimate and its diagnostics.

The ``infobench tasks``, ``infobench estimators`` and ``infobench estimate``
commands print these rich tables; like every other table they are built here,
in :mod:`infobench.report`. :func:`diagnostic_lines` is the one terminal form
of a :class:`~infobench.diagnostics.Diagnostic`, for every command that
prints the doubts about its numbers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from rich.table import Table
from rich.text import Text

from infobench.bench.spec import format_value
from infobench.bench.store import decode_diagnostics
from infobench.diagnostics import Diagnostic, as_diagnostics, doubtful
from infobench.estimators.base import LOG2

__all__ = [
    "default_text",
    "diagnostic_lines",
    "doubtful_cells_text",
    "estimate_table",
    "estimators_listing",
    "tasks_listing",
]


def default_text(value: Any) -> str:
    """A parameter default as spec syntax (``format_value``), else its ``repr``."""
    try:
        return format_value(value)
    except (TypeError, ValueError):
        return repr(value)


def tasks_listing(tasks: Sequence[Any], title: str) -> Table:
    """One row per task: id, kind, family, dimensions, truth in nats and its Monte-Carlo standard error."""
    table = Table(
        title=f"infobench tasks: {title} ({len(tasks)})",
        caption="truth in nats; std err 0 = closed form, otherwise the Monte-Carlo standard error",
    )
    # Ids are long: they fold onto a second line in a narrow terminal, the numbers never do.
    table.add_column("id", overflow="fold", ratio=3)
    table.add_column("kind", no_wrap=True)
    table.add_column("family", overflow="fold", ratio=1)
    for name in ("dim_x", "dim_y", "truth\n(nats)", "truth\nstd err"):
        table.add_column(name, justify="right", no_wrap=True)
    for t in tasks:
        se = t.truth_std_err
        table.add_row(
            t.id, t.kind, t.family, str(t.dim_x), str(t.dim_y), f"{t.truth:.6f}", "0" if se == 0.0 else f"{se:.2e}"
        )
    return table


def estimators_listing(methods: pd.DataFrame) -> Table:
    """One row per registered method (:func:`infobench.estimators.available`) with its parameters' defaults."""
    # Text, not str: rich would read "[param=value]" as console markup.
    table = Table(
        title="infobench estimators",
        caption=Text("spec syntax: method[param=v1,v2;other=value]"),
        caption_justify="left",
    )
    for name in ("method", "estimates", "parameters (defaults)", "summary"):
        table.add_column(name, overflow="fold", no_wrap=name == "method")
    for r in methods.itertuples():
        params = ", ".join(f"{k}={default_text(v)}" for k, v in r.params.items())
        table.add_row(Text(r.method), Text(r.estimates), Text(params), Text(r.summary))
    return table


def estimate_table(r: dict[str, Any]) -> Table:
    """The record of ``infobench estimate`` (one estimate of a file's columns) as a two-column table."""
    what = {"mi": "I(X;Y)", "kl": "D(P||Q)"}.get(r["quantity"], "H(X)")
    # Text, not str: rich would read "ksg[k=5]" or a file name in brackets as markup.
    t = Table(title=Text(f"{what} of {r['file']}"), show_header=False, title_justify="left")
    t.add_column("field", style="bold")
    t.add_column("value")
    se = r["std_err"]
    rows = [
        ("estimator", r["estimator"]),
        ("X columns", f"{r['x']} ({r['dims'][0]} dims)"),
    ]
    if "chosen" in r:
        rows.insert(1, ("chosen", f"{r['chosen']}: {r['reason']}"))
    if r["quantity"] == "mi":
        rows.append(("Y columns", f"{r['y']} ({r['dims'][1]} dims)"))
    rows += [
        ("n", str(r["n"])),
        ("estimate", f"{r['value']:.6g} nats  ({r['bits']:.6g} bits)"),
    ]
    if se is not None and math.isfinite(se):
        rows.append(("std err", f"{se:.3g} nats  ({se / LOG2:.3g} bits)"))
    if r["interval95"] is not None:
        lo, hi = r["interval95"]
        rows.append(("95% interval", f"[{lo:.6g}, {hi:.6g}] nats"))
    rows.append(("seconds", f"{r['seconds']:.3g}"))
    for k, v in rows:
        t.add_row(k, Text(v))
    for line in diagnostic_lines(r.get("diagnostics")):
        t.add_row(Text("diagnostic", style=line.style), line)
    return t


_SEVERITY_STYLE = {"warning": "yellow", "info": "dim"}


def diagnostic_lines(diagnostics: Iterable[Diagnostic | Mapping[str, Any]] | None, *, where: str = "") -> list[Text]:
    """One rich ``Text`` per diagnostic: ``warning [code] (subject) message``, doubts in yellow, notes dimmed.

    ``where`` (e.g. a score or a generator's name) is put in front of each
    line. Diagnostics are :class:`~infobench.diagnostics.Diagnostic` objects or
    their ``to_dict`` form. The one terminal form of a diagnostic: ``infobench
    estimate`` prints it, and any command printing the doubts about its numbers
    can.
    """
    lines = []
    for d in as_diagnostics(diagnostics):
        head = f"{where}: " if where else ""
        lines.append(Text(f"{head}{d.severity} {d}", style=_SEVERITY_STYLE.get(d.severity, "")))
    return lines


def doubtful_cells_text(records: pd.DataFrame) -> str:
    """``"3 of 12 cells are doubtful (a warning diagnostic): ties(x[0]) x3"``, or ``""`` when none is.

    Counts the successful cells of benchmark records whose diagnostics
    include a warning, with the most frequent codes.
    """
    if "diagnostics" not in records or records.empty:
        return ""
    counts: Counter[str] = Counter()
    cells = 0
    for text in records.loc[records["ok"].astype(bool), "diagnostics"]:
        found = decode_diagnostics(text)
        if doubtful(found):
            cells += 1
            counts.update({f"{d.code}({d.subject})" if d.subject else d.code for d in found if d.severity == "warning"})
    if not cells:
        return ""
    codes = ", ".join(f"{code} x{n}" for code, n in counts.most_common(5))
    more = f" and {len(counts) - 5} more" if len(counts) > 5 else ""
    return f"{cells} of {len(records)} cells are doubtful (a warning diagnostic): {codes}{more}; the report flags them"
