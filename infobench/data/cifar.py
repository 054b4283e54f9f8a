"""CIFAR-10 from its binary distribution (``cifar-10-binary.tar.gz``), read without pickle.

Each of ``data_batch_1.bin`` ... ``data_batch_5.bin`` (train) and
``test_batch.bin`` (test) holds 10,000 records of 3,073 bytes: one label byte
(0-9), then the 32x32 red, green and blue planes (1,024 bytes each, rows in
order), i.e. the image in CHW order (Krizhevsky, 2009, "Learning multiple
layers of features from tiny images", and the dataset's web page). The class
names are the lines of ``batches.meta.txt``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["CIFAR10_CLASSES", "CIFAR10_FILES", "RECORD_BYTES", "cifar10_folder", "read_cifar10_batch", "load_cifar10"]

RECORD_BYTES = 1 + 3 * 32 * 32
CIFAR10_FILES = {
    "train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    "test": ("test_batch.bin",),
}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# The archive unpacks into this folder; PATH may be it or its parent.
_SUBFOLDER = "cifar-10-batches-bin"


def cifar10_folder(path: Path) -> Path:
    """The folder holding the ``.bin`` batches: ``path`` itself or ``path/cifar-10-batches-bin``."""
    if not path.is_dir():
        raise FileNotFoundError(f"cifar10 folder {str(path)!r} does not exist (nothing is downloaded)")
    for folder in (path, path / _SUBFOLDER):
        if (folder / CIFAR10_FILES["test"][0]).is_file() or (folder / CIFAR10_FILES["train"][0]).is_file():
            return folder
    raise FileNotFoundError(
        f"no CIFAR-10 binary batches (data_batch_1.bin ... test_batch.bin) in {str(path)!r} or "
        f"{str(path / _SUBFOLDER)!r}; unpack cifar-10-binary.tar.gz there (nothing is downloaded)"
    )


def read_cifar10_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images ``(N, 3, 32, 32)`` and int64 labels ``(N,)`` of one binary batch file.

    Raises
    ------
    FileNotFoundError
        The file is missing.
    ValueError
        Its size is not a multiple of 3,073 bytes, or a label is not in 0..9.
    """
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 batch {str(path)!r} not found (nothing is downloaded)")
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % RECORD_BYTES:
        raise ValueError(
            f"CIFAR-10 batch {str(path)!r} has {raw.size} bytes, not a positive multiple of the "
            f"{RECORD_BYTES}-byte record (1 label byte + 3x32x32 pixels); the file is truncated or not a CIFAR-10 batch"
        )
    records = raw.reshape(-1, RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise ValueError(f"CIFAR-10 batch {str(path)!r} has label {int(labels.max())}; labels must be 0..9")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def load_cifar10(path: Path, split: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """uint8 images, labels and class names of ``split`` ("train", "test" or "all") of the folder ``path``."""
    folder = cifar10_folder(path)
    names = CIFAR10_FILES["train"] + CIFAR10_FILES["test"] if split == "all" else CIFAR10_FILES[split]
    parts = [read_cifar10_batch(folder / name) for name in names]
    meta = folder / "batches.meta.txt"
    classes: tuple[str, ...] = CIFAR10_CLASSES
    if meta.is_file():
        lines = tuple(
            line.strip() for line in meta.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()
        )
        if len(lines) == 10:
            classes = lines
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), classes
