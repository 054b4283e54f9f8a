"""What a command writes: its output paths are checked, then locked, before any work.

:func:`claim` refuses an unusable output at once
(:func:`infobench._io.check_output_path`: an input given as the output, a
folder where a file is wanted, a path that cannot be written) and holds the
output's lock (:func:`infobench._lock.output_lock`) for the whole command, so
a second command on the same output is refused before it computes anything.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from infobench._io import check_output_path
from infobench._lock import output_lock

__all__ = ["claim", "spec_paths"]


def spec_paths(name: str, specs: Iterable[str | None]) -> list[tuple[str, str]]:
    """``(name, path)`` pairs for data specs that may name files: ``x.npy``, ``mnist:PATH``, a folder.

    The part after a ``kind:`` prefix counts too; a spec that is not an
    existing path (``digits``, ``held-out``) is ignored by the output check.
    """
    pairs = []
    for spec in specs:
        if not spec:
            continue
        pairs.append((name, str(spec)))
        if ":" in str(spec):
            pairs.append((name, str(spec).split(":", 1)[1]))
    return pairs


@contextlib.contextmanager
def claim(
    path: str | os.PathLike | None,
    *,
    name: str,
    kind: str = "file",
    what: str | None = None,
    inputs: Iterable[tuple[str, Any]] = (),
) -> Iterator[Path | None]:
    """Check ``path`` and hold its lock for the ``with`` block; ``path=None`` (stdout) claims nothing."""
    if path is None:
        yield None
        return
    p = check_output_path(path, name=name, kind=kind, inputs=inputs)
    with output_lock(p, kind=kind, what=what):
        yield p
