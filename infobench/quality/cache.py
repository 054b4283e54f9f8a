"""Where the feature extractors keep what they compute, and the keys that name it.

:func:`cache_root` is the one cache folder (``$INFOBENCH_CACHE``, default
``~/.cache/infobench``); :func:`code_hash` hashes the source of the code that
produced an artefact, so that a code change gives a new key; the file and
tensor hashes name weights and inputs; every file is saved atomically.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
from pathlib import Path
from typing import Any

import torch

from infobench._io import atomic_write
from infobench.data import sha256_tensors

__all__ = ["cache_root", "code_hash"]


def cache_root() -> Path:
    """``$INFOBENCH_CACHE`` if set, else ``~/.cache/infobench``."""
    env = os.environ.get("INFOBENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "infobench"


def _atomic_save(obj: Any, path: Path) -> None:
    atomic_write(path, lambda fh: torch.save(obj, fh))


_sha256_tensors = sha256_tensors


def code_hash(*objects: Any) -> str:
    """SHA-256 (16 hex digits) of the source code of ``objects`` (functions, classes) and the torch version.

    Part of every cache key whose content a code change could alter: a
    changed training function or model class gives a new key, so an old
    artefact is never silently reused.
    """
    h = hashlib.sha256(str(torch.__version__).encode())
    for obj in objects:
        try:
            h.update(inspect.getsource(obj).encode())
        except (OSError, TypeError):  # no source (e.g. a frozen build): fall back on the qualified name
            h.update(f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}".encode())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=64)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _file_hash(path: Path) -> str:
    st = path.stat()
    return _file_sha256(str(path.resolve()), st.st_size, st.st_mtime_ns)
