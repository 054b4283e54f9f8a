"""One ``infobench run`` at a time per output and state folder.

Two runs writing into the same ``--out`` used to lose work: the second
deleted the first one's ``.<stamp>.partial`` folder at start and the first
failed minutes later. :func:`folder_lock` takes an exclusive ``flock`` on
``<folder>/.infobench.lock`` and writes the holder's pid into it; a second
run that finds the lock held refuses at once with
:class:`FolderLockedError`, naming the folder and the other pid.

``flock`` locks belong to the open file, so the kernel releases them when
their process ends, however it ends (SIGKILL included): a lock file left by a
dead run is stale and is simply taken over, its pid overwritten. The file
itself is never deleted (deleting it would let a third run lock a new file
while a second still holds the old one).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

__all__ = ["LOCK_NAME", "FolderLockedError", "folder_lock", "folder_locks"]

LOCK_NAME = ".infobench.lock"


class FolderLockedError(RuntimeError):
    """Another live process holds the folder's lock."""


def _holder(path: Path) -> str:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        text = path.read_text(encoding="ascii").strip()
        if text:
            return text
    return "unknown"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "output") -> Iterator[Path]:
    """Hold the exclusive lock of ``folder`` (created if missing) for the ``with`` block.

    Parameters
    ----------
    folder : path
        The folder to lock; the lock file is ``<folder>/.infobench.lock``.
    what : str
        How the message names the folder ("output", "state").

    Raises
    ------
    FolderLockedError
        When another live process holds the lock (the message names the folder
        and that process's pid). The lock is not waited for.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderLockedError(
                f"the {what} folder {str(folder)!r} is in use by another infobench run (pid {_holder(path)}); "
                "wait for it to finish or give another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the flock


@contextlib.contextmanager
def folder_locks(folders: dict[str, str | os.PathLike]) -> Iterator[None]:
    """Lock several folders (``{what: folder}``), each real folder once, in a fixed order.

    The same folder given twice (``--state`` equal to ``--out``) is locked once:
    a second ``flock`` from this process on it would refuse this process itself.
    """
    seen: dict[Path, str] = {}
    for what, folder in folders.items():
        Path(folder).mkdir(parents=True, exist_ok=True)
        seen.setdefault(Path(folder).resolve(), what)
    with contextlib.ExitStack() as stack:
        for real in sorted(seen):  # one order for every process: no lock-order deadlock
            stack.enter_context(folder_lock(real, seen[real]))
        yield
