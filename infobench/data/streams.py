"""Image sets read lazily, batch by batch: large folders and array files never sit in memory whole.

An :class:`ImageStream` knows its length, image shape, labels and a content
fingerprint without decoding its images; :meth:`ImageStream.read` decodes the
rows ``[start, stop)`` as float32 ``(n, C, H, W)`` in [0, 1], the same values
:func:`~infobench.data.load_dataset` gives. Feature extraction
(:func:`infobench.quality.features.extract`) consumes streams batch by batch,
so a folder of 50,000 images costs one batch of pixels at a time.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infobench.data.datasets import (
    ImageSet,
    check_value_range,
    folder_files,
    load_dataset,
    normalise_images,
    read_images,
    resolve_range,
    stratified_split,
)
from infobench.diagnostics import Diagnostic

__all__ = ["ImageStream", "as_stream", "folder_stream", "array_stream", "open_stream", "sha256_tensors"]

_CHUNK = 1 << 20  # bytes hashed per read


@dataclass(frozen=True)
class ImageStream:
    """A lazily read image set.

    Attributes
    ----------
    name : str
    shape : (C, H, W)
    rows : numpy.ndarray
        Indices (into the underlying source) of the images of this stream, in order.
    reader : callable
        ``reader(indices) -> float32 tensor (len(indices), C, H, W)`` in [0, 1].
    content : callable
        ``content() -> str``: SHA-256 identifying the underlying source's bytes.
    labels : torch.Tensor or None
        int64 labels of ``rows``.
    diagnostics : tuple of Diagnostic
        What opening the source found about its pixels (``pixel-range``:
        values clipped to their range), as :attr:`ImageSet.diagnostics`.
    """

    name: str
    shape: tuple[int, int, int]
    rows: np.ndarray
    reader: Callable[[np.ndarray], torch.Tensor]
    content: Callable[[], str]
    labels: torch.Tensor | None = None
    num_classes: int | None = None
    classes: tuple[str, ...] | None = None
    diagnostics: tuple[Diagnostic, ...] = ()
    _memo: dict = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.rows)

    def read(self, start: int, stop: int) -> torch.Tensor:
        """Images ``[start, stop)`` of this stream (float32, [0, 1])."""
        return self.reader(self.rows[start:stop])

    def batches(self, batch_size: int, start: int = 0) -> Iterator[tuple[int, torch.Tensor]]:
        """``(offset, images)`` for consecutive batches from ``start``."""
        for s in range(start, len(self), batch_size):
            yield s, self.read(s, min(s + batch_size, len(self)))

    def subset(self, index: Any, name: str | None = None) -> ImageStream:
        """The stream of rows ``index`` (an index array or a slice)."""
        rows = self.rows[index]
        labels = None if self.labels is None else self.labels[torch.as_tensor(np.arange(len(self.rows))[index])]
        return ImageStream(
            name or self.name,
            self.shape,
            rows,
            self.reader,
            self.content,
            labels,
            self.num_classes,
            self.classes,
            self.diagnostics,
        )

    def fingerprint(self) -> str:
        """SHA-256 of the source's bytes, the selected rows and the labels (computed once)."""
        if "fp" not in self._memo:
            h = hashlib.sha256(self.content().encode())
            h.update(repr(self.shape).encode())
            h.update(np.ascontiguousarray(self.rows, dtype=np.int64).tobytes())
            if self.labels is not None:
                h.update(self.labels.numpy().tobytes())
            self._memo["fp"] = h.hexdigest()
        return self._memo["fp"]

    def load(self) -> ImageSet:
        """All images in memory as an :class:`ImageSet`."""
        return ImageSet(
            self.read(0, len(self)), self.labels, self.name, self.num_classes, self.classes, self.diagnostics
        )


def sha256_tensors(*tensors: torch.Tensor | None) -> str:
    """SHA-256 of the dtypes, shapes and bytes of ``tensors`` (``None`` hashes as a marker)."""
    h = hashlib.sha256()
    for t in tensors:
        if t is None:
            h.update(b"none")
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def as_stream(images: ImageSet) -> ImageStream:
    """An in-memory :class:`ImageSet` seen as a stream (no copy)."""
    return ImageStream(
        images.name,
        images.shape,
        np.arange(len(images)),
        lambda idx: images.images[torch.as_tensor(idx)],
        lambda: sha256_tensors(images.images),
        images.labels,
        images.num_classes,
        images.classes,
        images.diagnostics,
    )


def _hash_files(paths: list[Path], base: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(os.fspath(p.relative_to(base)).encode() + b"\0")
        with open(p, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
    return h.hexdigest()


def folder_stream(folder: str | os.PathLike) -> ImageStream:
    """A folder of PNG/JPEG/BMP images (optionally one sub-folder per class), read on demand.

    The shape and colour mode come from the first image; grey images in a
    colour folder become RGB. Every image must have the first one's size (a
    batch holding another size raises naming the file). The fingerprint
    hashes the relative file names and file bytes.
    """
    folder = Path(folder).expanduser()
    files, labels, classes = folder_files(folder)
    first = read_images(files[:1])
    c, h, w = first.shape[1:]
    colour = c == 3

    def reader(idx: np.ndarray) -> torch.Tensor:
        if len(idx) == 0:
            return torch.empty((0, c, h, w))
        return torch.from_numpy(read_images([files[i] for i in idx], colour=colour, size=(h, w)))

    lab = None if labels is None else torch.from_numpy(labels)
    return ImageStream(
        str(folder),
        (int(c), int(h), int(w)),
        np.arange(len(files)),
        reader,
        lambda: _hash_files(files, folder),
        lab,
        None if classes is None else len(classes),
        classes,
    )


def array_stream(path: str | os.PathLike, *, value_range: tuple[float, float] | None = None) -> ImageStream:
    """A ``.npy`` file of images ((N, H, W), (N, C, H, W) or (N, H, W, C)), memory-mapped.

    The pixel range is ``value_range`` or the dtype's
    (:func:`~infobench.data.datasets.default_range`); one pass over the whole
    array (in chunks, no copy) checks the values against it as
    :func:`~infobench.data.load_images` does (a small excursion is clipped
    and reported in :attr:`ImageStream.diagnostics`, more raises); each batch
    is scaled to [0, 1] when read.
    """
    path = Path(path).expanduser()
    if path.suffix.lower() != ".npy":
        raise ValueError(f"array_stream reads .npy files (memory-mapped); got {str(path)!r}")
    vr = check_value_range(value_range)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ValueError(
            f"cannot read {str(path)!r}: corrupt or unsupported file ({type(exc).__name__}: {exc})"
        ) from None
    where = str(path)
    probe = normalise_images(np.zeros((1, *arr.shape[1:]), dtype=arr.dtype), where, None)
    vr, found = resolve_range(*_span(arr, where), arr.dtype, where, vr)

    def reader(idx: np.ndarray) -> torch.Tensor:
        # A batch's excursion is inside the whole file's, reported once above; it is clipped again here.
        return torch.from_numpy(normalise_images(np.asarray(arr[np.sort(idx)])[np.argsort(np.argsort(idx))], where, vr))

    def content() -> str:
        return _hash_files([path], path.parent)

    c, h, w = (int(s) for s in probe.shape[1:])
    return ImageStream(
        where, (c, h, w), np.arange(arr.shape[0]), reader, content, diagnostics=() if found is None else (found,)
    )


def _span(arr: np.ndarray, where: str) -> tuple[float, float]:
    """Minimum and maximum of a memory-mapped array, in chunks (never copied whole); NaN or inf raise."""
    if arr.shape[0] == 0:
        raise ValueError(f"{where}: no images (shape {arr.shape})")
    lo, hi = np.inf, -np.inf
    for s in range(0, arr.shape[0], 4096):
        part = np.asarray(arr[s : s + 4096])
        if part.dtype.kind == "f" and not np.isfinite(part).all():
            raise ValueError(f"{where}: images contain NaN or inf")
        lo, hi = min(lo, float(part.min())), max(hi, float(part.max()))
    return lo, hi


def open_stream(
    spec: str | os.PathLike, *, split: str = "all", seed: Any = 0, value_range: tuple[float, float] | None = None
) -> ImageStream:
    """A stream over an image folder or ``.npy`` file; ``split`` as in :func:`~infobench.data.load_dataset`.

    Other dataset specs (``digits``, ``mnist:``, ``cifar10:``, ``.npz``) are
    loaded with :func:`~infobench.data.load_dataset` and wrapped. ``value_range``: the pixel range
    of array files (as in :func:`~infobench.data.load_images`).
    """
    path = Path(os.fspath(spec)).expanduser()
    if path.is_dir():
        stream = folder_stream(path)
    elif path.is_file() and path.suffix.lower() == ".npy":
        stream = array_stream(path, value_range=value_range)
    else:
        return as_stream(load_dataset(os.fspath(spec), split=split, seed=seed, value_range=value_range))
    if split == "all":
        return stream
    labels = None if stream.labels is None else stream.labels.numpy()
    train, test = stratified_split(labels, len(stream), seed)
    return stream.subset(train if split == "train" else test, name=f"{stream.name}[{split}]")
