"""Diagnostics: the doubts that travel with a number.

An estimator (or a quality score) checks the conditions its formula needs on
the data it actually receives. A condition that makes the number certainly
wrong raises ``ValueError`` with the reason and the fix; one that makes it
doubtful returns the number together with a :class:`Diagnostic`. Diagnostics
are stored on :attr:`infobench.Estimate.diagnostics`, emitted once as a
:class:`DiagnosticWarning` when the estimate is returned to the caller,
stored with every benchmark cell and flagged in every report table that shows
the number.

Every warning infobench emits derives from :class:`InfobenchWarning`, so one
filter silences them all or turns them into errors::

    import warnings, infobench
    warnings.simplefilter("error", infobench.DiagnosticWarning)   # doubtful numbers raise

This module imports no other infobench module.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SEVERITIES",
    "Diagnostic",
    "InfobenchWarning",
    "DiagnosticWarning",
    "as_diagnostics",
    "merge",
    "doubtful",
    "summary",
    "emit",
]

#: ``"warning"``: the number is returned but may be wrong (reports flag it);
#: ``"info"``: a decision taken on the data that a reader should know about
#: (for example which estimator ``auto`` chose for tied data and why).
SEVERITIES = ("warning", "info")


@dataclass(frozen=True)
class Diagnostic:
    """One finding about the data or the parameters behind a number.

    Attributes
    ----------
    code : str
        Stable kebab-case identifier of the condition (``"ties"``,
        ``"extreme-values"``, ``"shared-rows"``, ...); the README lists them.
    message : str
        One or two sentences: what was found, where (column or parameter and
        value), why it matters for this formula, and the fix.
    subject : str
        The column (``"x[0]"``, ``"p"``, ``"y['age']"``) or parameter
        (``"bandwidth"``) concerned; empty when the whole input is.
    severity : str
        One of :data:`SEVERITIES`.
    """

    code: str
    message: str
    subject: str = ""
    severity: str = "warning"

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {list(SEVERITIES)}; got {self.severity!r}")
        if not self.code or not isinstance(self.code, str):
            raise ValueError(f"code must be a non-empty string; got {self.code!r}")

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "subject": self.subject, "message": self.message}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Diagnostic:
        return cls(
            code=str(d["code"]),
            message=str(d.get("message", "")),
            subject=str(d.get("subject", "")),
            severity=str(d.get("severity", "warning")),
        )

    def __str__(self) -> str:
        where = f" ({self.subject})" if self.subject else ""
        return f"[{self.code}]{where} {self.message}"


class InfobenchWarning(UserWarning):
    """Base class of every warning infobench emits."""


class DiagnosticWarning(InfobenchWarning):
    """A number was returned with a doubt about it (see :class:`Diagnostic`).

    ``warning.diagnostic`` holds the :class:`Diagnostic`.
    """

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(str(diagnostic))
        self.diagnostic = diagnostic


def as_diagnostics(items: Iterable[Diagnostic | Mapping[str, Any]] | None) -> tuple[Diagnostic, ...]:
    """A tuple of :class:`Diagnostic` from diagnostics or their ``to_dict`` form."""
    if not items:
        return ()
    return tuple(d if isinstance(d, Diagnostic) else Diagnostic.from_dict(d) for d in items)


def merge(*groups: Iterable[Diagnostic] | None) -> tuple[Diagnostic, ...]:
    """Concatenate groups of diagnostics, dropping exact repeats, keeping the order."""
    seen: set[Diagnostic] = set()
    out: list[Diagnostic] = []
    for group in groups:
        for d in as_diagnostics(group):
            if d not in seen:
                seen.add(d)
                out.append(d)
    return tuple(out)


def doubtful(diagnostics: Iterable[Diagnostic] | None) -> bool:
    """Whether any diagnostic says the number may be wrong (severity ``"warning"``)."""
    return any(d.severity == "warning" for d in as_diagnostics(diagnostics))


def summary(diagnostics: Iterable[Diagnostic] | None, *, severity: str | None = "warning") -> str:
    """Short text for a table cell: the codes (with subjects), ``""`` when none.

    ``severity=None`` lists every diagnostic; the default lists the doubts only.
    """
    parts = []
    for d in as_diagnostics(diagnostics):
        if severity is not None and d.severity != severity:
            continue
        text = f"{d.code}({d.subject})" if d.subject else d.code
        if text not in parts:
            parts.append(text)
    return "; ".join(parts)


def emit(diagnostics: Iterable[Diagnostic] | None, *, stacklevel: int = 2) -> None:
    """Emit one :class:`DiagnosticWarning` per doubt (severity ``"warning"``)."""
    for d in as_diagnostics(diagnostics):
        if d.severity == "warning":
            warnings.warn(DiagnosticWarning(d), stacklevel=stacklevel + 1)
