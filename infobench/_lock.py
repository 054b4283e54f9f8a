"""One writer at a time per output folder or results file.

Two processes writing the same output lose work without a word: two
``infobench train`` runs on one ``--out`` both finish and one checkpoint is
gone; two ``infobench run`` on one folder deleted each other's partial report.
:func:`output_lock` takes an exclusive ``flock`` and writes the holder's pid
into the lock file; a second process that finds the lock held refuses at
once with :class:`PathLockedError`, naming the path and the other pid. Every
command that writes a folder or a results file takes it before any work.

Whoever writes, locks: the library functions that write a named folder or
file (``train``, the benchmark runner's results database, ``write_report``,
``run_main_job``) lock it themselves; a command that writes what a library
function returned (``score --out``, ``sample -o``) locks its output file.

Where the lock lives: a **folder** is locked through
``<folder>/.infobench.lock``, a **file** (a results database, a table, an
``.npz`` of samples) through ``<parent>/.<name>.lock`` (the file itself is
replaced atomically by its writer, so it cannot carry the lock). The lock
file holds the holder's pid and is removed when the lock is released.

Folders created only to hold the lock are removed with it when nothing else
was written into them, so a command that fails before writing leaves no
trace.

``flock`` locks belong to the open file, so the kernel releases them when
their process ends, however it ends (SIGKILL included): a lock file left by a
dead process is stale and is simply taken over, its pid overwritten. A
released lock file is removed while another process may be waiting to open
it; the taker therefore checks, once it holds the lock, that its open file is
still the one at the path (same inode) and retries otherwise, so two
processes can never each hold a different copy.

A lock is not re-entrant: a second :func:`output_lock` of the same path in
the same process refuses too (each call opens the file anew). Lock several
paths at once with :func:`output_locks`, which takes each one once.

This module imports no infobench module (and nothing outside the standard
library).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["LOCK_NAME", "PathLockedError", "folder_lock", "folder_locks", "lock_file", "output_lock", "output_locks"]

LOCK_NAME = ".infobench.lock"
KINDS = ("folder", "file")


class PathLockedError(RuntimeError):
    """Another live process holds the lock of an output folder or file."""


def lock_file(path: str | os.PathLike, kind: str = "folder") -> Path:
    """The lock file of ``path``: ``<folder>/.infobench.lock`` or ``<parent>/.<name>.lock``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}; got {kind!r}")
    path = Path(path)
    return path / LOCK_NAME if kind == "folder" else path.parent / f".{path.name}.lock"


def _holder(path: Path) -> str:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        text = path.read_text(encoding="ascii").strip()
        if text:
            return text
    return "unknown"


def _acquire(lock: Path, target: Path, what: str, kind: str) -> int:
    """Open, ``flock`` and check ``lock``; return its descriptor holding the lock."""
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:  # the last holder removed the folder it had created: make it again
            lock.parent.mkdir(parents=True, exist_ok=True)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            other = "folder" if kind == "folder" else "path"
            raise PathLockedError(
                f"the {what} {str(target)!r} is in use by another infobench run (pid {_holder(lock)}); "
                f"wait for it to finish or give another {other}"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        # The last holder may have removed the file between our open and flock: a lock on a
        # file no longer at the path guards nothing.
        try:
            here = os.stat(lock)
            mine = os.fstat(fd)
            same = (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextlib.contextmanager
def output_lock(path: str | os.PathLike, *, kind: str = "folder", what: str | None = None) -> Iterator[Path]:
    """Hold the exclusive lock of an output folder or file for the ``with`` block.

    Parameters
    ----------
    path : path
        The folder (created if missing) or the file (its parent folder is
        created if missing; the file itself is not).
    kind : {"folder", "file"}
        Which of the two ``path`` is (see the module docstring for where the lock file lives).
    what : str, optional
        How the message names the path ("output folder", "results database");
        default ``"output folder"`` / ``"output file"``.

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    PathLockedError
        When another live process (or another ``with`` of this process) holds
        the lock. The message names the path and the holder's pid. The lock
        is not waited for.
    """
    lock = lock_file(path, kind)
    target = Path(path)
    what = what or f"output {kind}"
    created = _missing_folders(lock.parent)
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = _acquire(lock, target, what, kind)
    except BaseException:
        _remove_empty(created)
        raise
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        try:
            yield lock
        finally:
            # Removed while still held: a process waiting on this file sees another inode and retries.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock)
            # A command that failed before writing anything leaves no folder behind.
            _remove_empty(created)
    finally:
        os.close(fd)  # releases the flock


def _missing_folders(folder: Path) -> list[Path]:
    """The folders from ``folder`` up that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders this lock created, deepest first, while they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (results were written), or already gone
            return


@contextlib.contextmanager
def output_locks(items: Iterable[tuple[str | os.PathLike, str, str]]) -> Iterator[None]:
    """Lock several outputs, ``(path, kind, what)`` each, every lock file once, in a fixed order.

    The same folder given twice (``--state`` equal to ``--out``) is locked
    once: a second ``flock`` from this process on it would refuse this
    process itself.
    """
    seen: dict[Path, tuple[str | os.PathLike, str, str]] = {}
    for path, kind, what in items:
        seen.setdefault(lock_file(path, kind).resolve(), (path, kind, what))
    with contextlib.ExitStack() as stack:
        for key in sorted(seen):  # one order for every process
            path, kind, what = seen[key]
            stack.enter_context(output_lock(path, kind=kind, what=what))
        yield


def folder_lock(folder: str | os.PathLike, what: str = "output") -> contextlib.AbstractContextManager[Path]:
    """:func:`output_lock` of a folder named ``"<what> folder"`` in messages."""
    return output_lock(folder, kind="folder", what=f"{what} folder")


def folder_locks(folders: dict[str, str | os.PathLike]) -> contextlib.AbstractContextManager[None]:
    """:func:`output_locks` of folders given as ``{what: folder}``."""
    return output_locks((folder, "folder", f"{what} folder") for what, folder in folders.items())
