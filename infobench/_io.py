"""Atomic file writes, shared by checkpoints, caches, plots and reports.

Readers see either the old file or the complete new one, never a partial
write: an interrupted run loses no finished result.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Callable

__all__ = ["atomic_write", "current_umask", "refused_load_reason"]


def current_umask() -> int:
    """The process's file-creation mask, read without changing it where the OS allows.

    Linux reports it in ``/proc/self/status``; elsewhere it is read by setting and
    restoring it (``os.umask`` has no read-only form).
    """
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], *, binary: bool = True) -> Path:
    """Write ``path`` via a temporary file in the same folder and ``os.replace``.

    ``write(fh)`` receives the open temporary file. Readers see either the old
    file or the complete new one, never a partial write. The file gets the
    mode a plain ``open(path, "w")`` would give it (``0o666`` less the umask),
    not the ``0o600`` of :func:`tempfile.mkstemp`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def refused_load_reason(exc: BaseException) -> str:
    """Why ``torch.load(..., weights_only=True)`` refused or failed to read a file, in one line.

    For a pickle holding objects other than tensors and plain data this says
    so and names the object, *without* torch's advice to retry with
    ``weights_only=False`` (which would run the file's code): such a file is
    not a trusted infobench file.
    """
    text = str(exc)
    if isinstance(exc, pickle.UnpicklingError) and "weights only load failed" in text.lower():
        detail = [line.strip() for line in text.splitlines()
                  if line.strip().lower().startswith(("unsupported global", "trying to load unsupported"))]
        what = f" ({detail[0].rstrip('.')})" if detail else ""
        return ("it is not a trusted infobench file: it holds Python objects that infobench never writes"
                f"{what}; it was refused without running any of its code")
    first = text.splitlines()[0] if text else ""
    return f"not an infobench checkpoint, or corrupt ({type(exc).__name__}: {first})"
