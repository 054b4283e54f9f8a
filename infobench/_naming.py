"""The one rule for file names derived from text (imports no infobench module).

:func:`slug` turns a title, a task id or a data-set name into a file-name stem;
the reports (:mod:`infobench.report.render`) and the feature caches
(:mod:`infobench.quality.features`) both name files with it, so it lives here,
below every package, and importing one of them does not import the other.
"""

from __future__ import annotations

import re

__all__ = ["slug"]


def slug(text: str, *, max_len: int = 60, default: str = "item") -> str:
    """A file-name stem for ``text``: lower case, runs of characters other than ``a-z0-9._-`` -> ``-``.

    Leading and trailing ``-``, ``_`` and ``.`` are stripped and the result is cut to
    ``max_len`` characters; ``default`` when nothing is left. The one rule for
    every file name derived from a title, a task id or a data-set name.
    """
    stem = re.sub(r"[^a-z0-9._-]+", "-", str(text).lower()).strip("-_.")[:max_len].strip("-_.")
    return stem or default
