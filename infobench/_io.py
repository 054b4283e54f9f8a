"""Output files: atomic writes, and the checks every output path passes before any work.

Readers see either the old file or the complete new one, never a partial
write: an interrupted run loses no finished result. :func:`check_output_path`
refuses, before a command computes anything, an output that would destroy
one of its inputs or that cannot be written; :func:`os_error_text` turns an
``OSError`` into one line naming the path.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "check_output_path", "current_umask", "os_error_text", "refused_load_reason"]


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
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
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
        detail = [
            line.strip()
            for line in text.splitlines()
            if line.strip().lower().startswith(("unsupported global", "trying to load unsupported"))
        ]
        what = f" ({detail[0].rstrip('.')})" if detail else ""
        return (
            "it is not a trusted infobench file: it holds Python objects that infobench never writes"
            f"{what}; it was refused without running any of its code"
        )
    first = text.splitlines()[0] if text else ""
    return f"not an infobench checkpoint, or corrupt ({type(exc).__name__}: {first})"


_FILE_TYPES = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a pipe"),
    (stat.S_ISSOCK, "a socket"),
)


def _file_type(mode: int) -> str:
    return next((name for test, name in _FILE_TYPES if test(mode)), "not a regular file")


def check_output_path(
    path: str | os.PathLike, *, name: str, kind: str = "file", inputs: Iterable[tuple[str, Any]] = ()
) -> Path:
    """Refuse an output path that cannot be written, before any work is done.

    Nothing is created: the checks only look. They refuse, each with a
    one-line ``ValueError`` naming the parameter and the path:

    * a path that is one of the ``inputs`` (writing it would destroy that input);
    * for ``kind="file"``: an existing folder, or anything but a regular file
      (``/dev/null``, a pipe); for ``kind="folder"``: an existing file;
    * a path below an existing file (``afile/x.db``);
    * a folder that cannot be written (no permission, read-only file system),
      probed by creating and removing a temporary file in the nearest existing
      folder, and an existing file without write permission.

    Parameters
    ----------
    path : path
        The output (a file, or a folder that the command creates or fills).
    name : str
        How the message names it (``"--out"``, ``"db"``).
    kind : {"file", "folder"}
        What the command writes at ``path``.
    inputs : iterable of (name, path) pairs
        The command's inputs; entries that are not existing paths (a dataset
        name, None) are ignored.

    Returns
    -------
    Path
        ``path`` as a :class:`~pathlib.Path`.
    """
    if kind not in ("file", "folder"):
        raise ValueError(f"kind must be 'file' or 'folder'; got {kind!r}")
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ValueError(f"{name} must be a path; got {path!r}")
    p = Path(path).expanduser()
    shown = str(path)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        mode = None
    except NotADirectoryError:
        mode = None  # a parent is a file: reported below
    except OSError as exc:
        raise ValueError(f"{name} {shown!r} cannot be used: {exc.strerror}") from None
    if mode is not None:
        for what, other in inputs:
            try:
                same = other is not None and os.path.samefile(p, Path(other).expanduser())
            except (OSError, TypeError, ValueError):  # not an existing path: a dataset name, a missing file
                same = False
            if same:
                raise ValueError(
                    f"{name} {shown!r} is also the input {what}; writing it would destroy that input: give another path"
                )
        if kind == "file" and stat.S_ISDIR(mode):
            raise ValueError(f"{name} must name a file; {shown!r} is a folder")
        if kind == "file" and not stat.S_ISREG(mode):
            raise ValueError(f"{name} must name a regular file; {shown!r} is {_file_type(mode)}")
        if kind == "folder" and not stat.S_ISDIR(mode):
            what = "a file" if stat.S_ISREG(mode) else _file_type(mode)
            raise ValueError(f"{name} must name a folder; {shown!r} is {what}")
    # The nearest existing folder: where the output (or its missing parents) will be created.
    folder = p if mode is not None and stat.S_ISDIR(mode) else p.parent
    while not folder.exists():
        if folder == folder.parent:
            break
        folder = folder.parent
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{name} {shown!r} cannot be created: {str(folder)!r} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".infobench-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(
            f"{name} {shown!r} is not writable: cannot create files in {str(folder)!r} ({exc.strerror})"
        ) from None
    if mode is not None and stat.S_ISREG(mode) and not os.access(p, os.W_OK):
        raise ValueError(f"{name} {shown!r} is not writable (no write permission)")
    return p


def os_error_text(exc: OSError) -> str:
    """One line for an ``OSError``: what failed and the path(s) it names.

    ``FileExistsError: [Errno 17] File exists: 'afile'`` becomes
    ``"'afile': file exists"``; an error raised with a message of its own
    (no errno) keeps that message.
    """
    if exc.errno is None or not exc.strerror:
        return str(exc)
    reason = exc.strerror[:1].lower() + exc.strerror[1:]
    if exc.filename is None:
        return reason
    where = (
        repr(os.fsdecode(exc.filename)) if isinstance(exc.filename, (str, bytes, os.PathLike)) else repr(exc.filename)
    )
    if exc.filename2 is not None:
        where += f" -> {os.fsdecode(exc.filename2)!r}"
    return f"{where}: {reason}"
