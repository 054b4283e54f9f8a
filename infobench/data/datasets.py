"""Image datasets that load offline: scikit-learn's digits, MNIST-style IDX files,
image folders and numpy arrays.

Every loader returns an :class:`ImageSet` whose ``images`` are a float32
tensor of shape ``(N, C, H, W)`` with values in ``[0, 1]``. Nothing is ever
downloaded: a missing file raises ``FileNotFoundError`` naming the file and
every folder it was looked for in; a corrupt file raises ``ValueError`` naming
the file.

Splits
------
MNIST and Fashion-MNIST come with an official split (``train-*`` and
``t10k-*`` files); CIFAR-10 too (``data_batch_*.bin`` and ``test_batch.bin``). Every other dataset (digits, folders, arrays) is split
80 % / 20 % by ``seed``: stratified by class when labels are known, a plain
permutation otherwise. The split depends only on ``seed`` and the data, so it
is the same on every machine.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from infobench._io import refused_load_reason
from infobench._validation import as_generator, check_choice
from infobench.data.cifar import load_cifar10
from infobench.diagnostics import Diagnostic

__all__ = [
    "ImageSet",
    "IMAGE_SUFFIXES",
    "RANGE_SLACK",
    "check_value_range",
    "default_range",
    "normalise_images",
    "resolve_range",
    "scale_images",
    "SPLITS",
    "TEST_FRACTION",
    "load_dataset",
    "load_images",
    "read_idx",
    "stratified_split",
]

SPLITS = ("train", "test", "all")
TEST_FRACTION = 0.2
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
ARRAY_SUFFIXES = (".npy", ".npz")
# Keys looked for (in this order) in .npz / .pt files.
IMAGE_KEYS = ("images", "x", "arr_0")
LABEL_KEYS = ("labels", "y")

_IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# File stems of the official MNIST / Fashion-MNIST distributions, per split.
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# torchvision's folder names under ROOT (ROOT/<name>/raw/...).
_TORCHVISION_NAMES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


@dataclass(frozen=True)
class ImageSet:
    """A set of images with optional class labels.

    Attributes
    ----------
    images : torch.Tensor
        float32, shape ``(N, C, H, W)``, values in ``[0, 1]``.
    labels : torch.Tensor or None
        int64, shape ``(N,)``, values in ``[0, num_classes)``.
    name : str
        Where the images came from (a dataset spec or a path) and the split.
    num_classes : int or None
        Number of classes when labels are known.
    classes : tuple of str or None
        Class names, where known (class sub-folder names of an image folder).
    diagnostics : tuple of Diagnostic
        What loading found about the pixels (values clipped to their range,
        ``pixel-range``); the scores of these images carry them.
    """

    images: torch.Tensor
    labels: torch.Tensor | None
    name: str
    num_classes: int | None
    classes: tuple[str, ...] | None = None
    diagnostics: tuple[Diagnostic, ...] = ()

    def __post_init__(self) -> None:
        imgs = self.images
        if not isinstance(imgs, torch.Tensor) or imgs.dtype != torch.float32 or imgs.ndim != 4:
            raise TypeError("ImageSet.images must be a float32 tensor of shape (N, C, H, W)")
        if self.labels is not None:
            lab = self.labels
            if not isinstance(lab, torch.Tensor) or lab.dtype != torch.int64 or lab.shape != (imgs.shape[0],):
                raise TypeError(f"ImageSet.labels must be an int64 tensor of shape ({imgs.shape[0]},) or None")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(int(s) for s in self.images.shape[1:])  # type: ignore[return-value]

    def subset(self, index: Any, name: str | None = None) -> ImageSet:
        """The images (and labels) at ``index`` (a slice, an index array or a boolean mask)."""
        if isinstance(index, np.ndarray):
            index = torch.from_numpy(index)
        labels = None if self.labels is None else self.labels[index]
        return ImageSet(self.images[index], labels, name or self.name, self.num_classes, self.classes, self.diagnostics)

    def fingerprint(self) -> str:
        """SHA-256 of the pixel values, labels and shape: identifies the exact data a model saw."""
        h = hashlib.sha256()
        h.update(repr(tuple(self.images.shape)).encode())
        h.update(self.images.detach().cpu().contiguous().numpy().tobytes())
        if self.labels is not None:
            h.update(self.labels.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()


# ------------------------------------------------------------------ splits
def stratified_split(
    labels: np.ndarray | None, n: int, seed: Any, test_fraction: float = TEST_FRACTION
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/test index split, stratified by class when ``labels`` is given.

    Each class ``c`` with ``n_c`` members sends ``round(test_fraction * n_c)``
    of them (chosen by a permutation drawn from ``seed``) to the test set, so
    class proportions are the same in both parts. Returns sorted index arrays
    ``(train, test)``: the original order is kept within each part.
    """
    rng = as_generator(seed)
    test_parts = []
    groups = [np.arange(n)] if labels is None else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    for members in groups:
        n_test = int(round(test_fraction * len(members)))
        test_parts.append(rng.permutation(members)[:n_test])
    test = np.sort(np.concatenate(test_parts)) if test_parts else np.empty(0, dtype=np.int64)
    mask = np.ones(n, dtype=bool)
    mask[test] = False
    return np.flatnonzero(mask), test


def _apply_split(
    images: np.ndarray, labels: np.ndarray | None, split: str, seed: Any
) -> tuple[np.ndarray, np.ndarray | None]:
    if split == "all":
        return images, labels
    train, test = stratified_split(labels, len(images), seed)
    idx = train if split == "train" else test
    return images[idx], None if labels is None else labels[idx]


# ------------------------------------------------------------------ IDX
def _read_bytes(path: Path) -> bytes:
    """Read a file, decompressing ``.gz``; a broken gzip stream names the file."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise ValueError(f"cannot read {str(path)!r}: corrupt or truncated file ({exc})") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX file (the MNIST format), optionally gzip-compressed.

    The header is two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B
    int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions
    ``d``, then ``d`` big-endian uint32 sizes; the data follows in big-endian
    C order (LeCun et al., "THE MNIST DATABASE", file format section).

    Parameters
    ----------
    path : str or path-like
        ``*.idx?-ubyte`` or ``*.idx?-ubyte.gz``.

    Returns
    -------
    numpy.ndarray
        Native-endian array of the stored shape and type.

    Raises
    ------
    ValueError
        Bad magic bytes, unknown type code, or a payload whose size does not
        match the header; the message names the file.
    """
    path = Path(path)
    raw = _read_bytes(path)
    where = f"IDX file {str(path)!r}"
    if len(raw) < 4:
        raise ValueError(f"{where} is too short for an IDX header ({len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{where} has a bad magic number {raw[:4].hex()} (must start with 0000); not an IDX file")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{where} has unknown data type code 0x{code:02x}; valid codes are 08, 09, 0b, 0c, 0d, 0e")
    if ndim == 0:
        raise ValueError(f"{where} declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{where} is truncated inside its header ({len(raw)} bytes, needs {header})")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        raise ValueError(
            f"{where} has {got} data bytes but its header declares shape {tuple(shape)} "
            f"of {dtype.name[1:] if dtype.name.startswith('>') else dtype.name} ({expected} bytes); "
            "the file is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _idx_candidates(name: str, folder: Path) -> list[Path]:
    """Folders searched for the IDX files, in order: torchvision's layout, ``raw/``, flat."""
    tv = _TORCHVISION_NAMES[name]
    return [folder / tv / "raw", folder / "raw", folder]


def _find_idx(stem: str, folders: Sequence[Path], dataset: str) -> Path:
    # Some mirrors spell the stem with a dot (train-images.idx3-ubyte).
    variants = [stem, stem.replace("-idx", ".idx")]
    for folder in folders:
        for v in variants:
            for suffix in ("", ".gz"):
                p = folder / (v + suffix)
                if p.is_file():
                    return p
    looked = ", ".join(repr(str(f)) for f in folders)
    raise FileNotFoundError(
        f"{dataset} file {stem}[.gz] not found; looked in {looked} "
        "(nothing is downloaded: place the IDX files there, flat or in torchvision's ROOT/"
        f"{_TORCHVISION_NAMES[dataset]}/raw layout)"
    )


def _load_idx_split(name: str, folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    folders = _idx_candidates(name, folder)
    img_path = _find_idx(_IDX_FILES[split][0], folders, name)
    lab_path = _find_idx(_IDX_FILES[split][1], folders, name)
    images = read_idx(img_path)
    labels = read_idx(lab_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"IDX file {str(img_path)!r} must hold uint8 images of shape (N, H, W); "
            f"got {images.dtype} of shape {images.shape}"
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"IDX file {str(lab_path)!r} must hold integer labels of shape (N,); got shape {labels.shape}")
    if len(labels) != len(images):
        raise ValueError(
            f"IDX files {str(img_path)!r} ({len(images)} images) and {str(lab_path)!r} "
            f"({len(labels)} labels) disagree on the number of examples"
        )
    return images[:, None].astype(np.float32) / np.float32(255.0), labels.astype(np.int64)


def _load_idx_dataset(name: str, folder: Path, split: str) -> ImageSet:
    if not folder.is_dir():
        raise FileNotFoundError(f"{name} folder {str(folder)!r} does not exist (nothing is downloaded)")
    parts = ["train", "test"] if split == "all" else [split]
    loaded = [_load_idx_split(name, folder, s) for s in parts]
    images = np.concatenate([p[0] for p in loaded])
    labels = np.concatenate([p[1] for p in loaded])
    return _make_set(images, labels, f"{name}:{folder}[{split}]", num_classes=10)


# ------------------------------------------------------------------ digits
def _load_digits(split: str, seed: Any) -> ImageSet:
    # Deferred: sklearn.datasets pulls in much of scikit-learn, needed only for this dataset.
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Pixel values are integers 0..16 (counts of set pixels in 4x4 blocks).
    images = (bunch.images.astype(np.float32) / np.float32(16.0))[:, None]
    labels = bunch.target.astype(np.int64)
    images, labels = _apply_split(images, labels, split, seed)
    return _make_set(images, labels, f"digits[{split}]", num_classes=10)


# ------------------------------------------------------------------ arrays
#: An excursion outside the pixel range up to this fraction of its width (on either side) is a small
#: overshoot of a decoder without a final squashing layer: clipped and reported. Beyond it the values follow
#: another convention and are refused.
RANGE_SLACK = 0.1
#: The conventions a refused array is compared with, to name the one it looks like.
_CONVENTIONS = ((0.0, 1.0), (-1.0, 1.0), (0.0, 255.0), (0.0, 65535.0))
#: The command-line option of each range parameter, named in the fix of a refusal.
RANGE_OPTIONS = {"value_range": "--range", "real_range": "--real-range"}


def default_range(dtype: Any) -> tuple[float, float]:
    """The pixel range an array of ``dtype`` is read with when none is declared.

    ``uint8`` and every other integer type except ``uint16``: ``[0, 255]``
    (8-bit pixel values); ``uint16``: ``[0, 65535]`` (16-bit images);
    ``bool``: ``[0, 1]``; floating types: ``[0, 1]``. The range never comes
    from the data's own minimum and maximum.
    """
    dt = np.dtype(dtype)
    if dt == np.uint16:
        return (0.0, 65535.0)
    if dt.kind in "iu":
        return (0.0, 255.0)
    return (0.0, 1.0)


def _looks_like(lo: float, hi: float, current: tuple[float, float]) -> tuple[float, float] | None:
    """The narrowest usual convention holding ``[lo, hi]`` (within the slack) and half filled by it, other than ``current``."""
    for c_lo, c_hi in _CONVENTIONS:
        slack = RANGE_SLACK * (c_hi - c_lo)
        if (c_lo, c_hi) != current and lo >= c_lo - slack and hi <= c_hi + slack and hi - lo >= (c_hi - c_lo) / 2:
            return (c_lo, c_hi)
    return None


def _fix_text(param: str, rng: tuple[float, float] | None) -> str:
    option = RANGE_OPTIONS.get(param)
    if rng is None:
        return f"pass {param}=(low, high)" + (f" ({option}=LOW,HIGH on the command line)" if option else "")
    lo, hi = rng
    return f"pass {param}=({lo:g}, {hi:g})" + (f" ({option}={lo:g},{hi:g} on the command line)" if option else "")


def resolve_range(
    lo_seen: float,
    hi_seen: float,
    dtype: Any,
    where: str,
    value_range: tuple[float, float] | None,
    *,
    param: str = "value_range",
) -> tuple[tuple[float, float], Diagnostic | None]:
    """The pixel range of data spanning ``[lo_seen, hi_seen]``, and a diagnostic when they must be clipped to it.

    The range is ``value_range`` when declared, else :func:`default_range`
    of ``dtype``. Values inside it pass silently. An excursion of at most
    :data:`RANGE_SLACK` of the range's width on each side (a decoder without
    a final sigmoid, ``-0.001``) is clipped, with a warning diagnostic
    ``pixel-range``. Anything wider raises.

    Raises
    ------
    ValueError
        Values beyond the slack: the message names ``where``, the values'
        span, the range and where it came from, and the fix (``param`` and its
        command-line option, with the convention the values look like).
    """
    declared = value_range is not None
    lo, hi = value_range if value_range is not None else default_range(dtype)
    if lo_seen >= lo and hi_seen <= hi:
        return (lo, hi), None
    width = hi - lo
    under, over = max(lo - lo_seen, 0.0) / width, max(hi_seen - hi, 0.0) / width
    source = f"declared {param}" if declared else f"the default range of {np.dtype(dtype)} data"
    if under <= RANGE_SLACK and over <= RANGE_SLACK:
        return (lo, hi), Diagnostic(
            "pixel-range",
            (
                f"{where}: pixel values span [{lo_seen:g}, {hi_seen:g}], outside [{lo:g}, {hi:g}] ({source}) by up to "
                f"{max(under, over):.2%} of the range (a decoder without a final sigmoid or tanh?); they were clipped "
                f"to the range. If the images follow another convention, {_fix_text(param, None)}"
            ),
            subject=param,
        )
    guess = _looks_like(lo_seen, hi_seen, (lo, hi))
    looks = f"they look like [{guess[0]:g}, {guess[1]:g}]: " if guess else ""
    raise ValueError(
        f"{where}: pixel values span [{lo_seen:g}, {hi_seen:g}], outside [{lo:g}, {hi:g}] ({source}) by more "
        f"than {RANGE_SLACK:.0%} of the range, so they follow another convention; {looks}{_fix_text(param, guess)}"
        " (the range is never guessed from the data)"
    )


def check_value_range(value_range: Any, param: str = "value_range") -> tuple[float, float] | None:
    """Validate a pixel range ``param``: ``None`` or a finite pair ``(low, high)`` with ``low < high``."""
    if value_range is None:
        return None
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise TypeError(f"{param} must be None or a pair (low, high) of numbers; got {value_range!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"{param} must be finite with low < high; got {value_range!r}")
    return lo, hi


def _to_nchw(arr: np.ndarray, where: str) -> np.ndarray:
    """Accept (N, H, W), (N, C, H, W) and channels-last (N, H, W, C) with C in {1, 3}."""
    if arr.ndim == 3:
        return arr[:, None]
    if arr.ndim == 4:
        if arr.shape[1] in (1, 3):
            return arr
        if arr.shape[3] in (1, 3):
            return np.moveaxis(arr, 3, 1)
        raise ValueError(
            f"{where}: cannot find the channel axis of images of shape {arr.shape} "
            "(expected (N, C, H, W) or (N, H, W, C) with C = 1 or 3)"
        )
    raise ValueError(f"{where}: images must have shape (N, H, W), (N, C, H, W) or (N, H, W, C); got {arr.shape}")


def normalise_images(
    arr: Any, where: str, value_range: tuple[float, float] | None, *, param: str = "value_range"
) -> np.ndarray:
    """Validate an image array and scale it to float32 in [0, 1] (see :func:`scale_images`)."""
    return scale_images(arr, where, value_range, param=param)[0]


def scale_images(
    arr: Any, where: str, value_range: tuple[float, float] | None, *, param: str = "value_range"
) -> tuple[np.ndarray, tuple[Diagnostic, ...]]:
    """Validate an image array and scale it linearly from its pixel range to float32 in [0, 1].

    The range is ``value_range`` when declared, else that of the dtype
    (:func:`default_range`); never the data's minimum and maximum. A small
    excursion outside it is clipped and reported (the returned diagnostics);
    more raises (:func:`resolve_range`).
    """
    arr = np.asarray(arr)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{where}: images must have a numeric dtype; got {arr.dtype}")
    arr = _to_nchw(arr, where)
    if arr.shape[0] == 0 or 0 in arr.shape:
        raise ValueError(f"{where}: no images (shape {arr.shape})")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{where}: images contain NaN or inf")
    (lo, hi), found = resolve_range(float(arr.min()), float(arr.max()), arr.dtype, where, value_range, param=param)
    out = (arr.astype(np.float64) - lo) / (hi - lo)
    if found is not None:
        np.clip(out, 0.0, 1.0, out=out)
    return np.ascontiguousarray(out, dtype=np.float32), (() if found is None else (found,))


def _normalise_labels(labels: Any, n: int, where: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iub":
        if labels.dtype.kind == "f" and np.isfinite(labels).all() and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise TypeError(f"{where}: labels must be integers; got dtype {labels.dtype}")
    if labels.shape != (n,):
        raise ValueError(f"{where}: labels must have shape ({n},) to match the images; got {labels.shape}")
    if n and labels.min() < 0:
        raise ValueError(f"{where}: labels must be non-negative class indices; got minimum {labels.min()}")
    return labels.astype(np.int64)


def _pick_key(keys: Sequence[str], wanted: Sequence[str]) -> str | None:
    for k in wanted:
        if k in keys:
            return k
    return None


def _read_array_file(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Images and optional labels from .npy, .npz or .pt (a tensor or a dict of tensors)."""
    where = str(path)
    suffix = path.suffix.lower()
    if suffix not in (*ARRAY_SUFFIXES, ".pt"):
        raise ValueError(f"{where!r}: unsupported suffix {suffix!r}; expected .npy, .npz or .pt")
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False), None
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
            arrays = obj if isinstance(obj, dict) else {"images": obj}
    except FileNotFoundError:
        raise
    except Exception as exc:  # corrupt zip / npy header / pickle payload / object arrays
        reason = (
            refused_load_reason(exc)
            if suffix == ".pt"
            else f"corrupt or unsupported file ({type(exc).__name__}: {exc})"
        )
        raise ValueError(f"cannot read {where!r}: {reason}") from None
    ik = _pick_key(list(arrays), IMAGE_KEYS)
    if ik is None:
        raise ValueError(f"{where!r} has no image array: expected a key in {list(IMAGE_KEYS)}; found {list(arrays)}")
    lk = _pick_key(list(arrays), LABEL_KEYS)
    return _as_numpy(arrays[ik], where), None if lk is None else _as_numpy(arrays[lk], where)


def _as_numpy(value: Any, where: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return (value.double() if value.is_floating_point() else value).numpy()
    if isinstance(value, np.ndarray):
        return value
    raise ValueError(f"{where!r}: expected arrays or tensors; got {type(value).__name__}")


# ------------------------------------------------------------------ folders
def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _read_image(path: Path) -> np.ndarray:
    """One image as an (H, W) or (H, W, 3) array in [0, 1]; alpha is dropped.

    An image whose header claims more than twice ``PIL.Image.MAX_IMAGE_PIXELS``
    pixels (a decompression bomb) is refused with a ``ValueError`` naming it.
    """
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode.startswith("I;16"):
                return np.asarray(im, dtype=np.float64) / 65535.0
            if mode in ("1", "L", "LA", "I", "F") or (mode == "P" and _palette_is_grey(im)):
                if mode in ("I", "F"):
                    raise ValueError(
                        f"image {str(path)!r} has pixel mode {mode!r} with no fixed range; save it as 8-bit"
                    )
                return np.asarray(im.convert("L"), dtype=np.float64) / 255.0
            return np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0
    except Image.DecompressionBombError as exc:
        raise ValueError(
            f"image {str(path)!r} is too large to load safely (a possible decompression bomb): {exc}; "
            "raise PIL.Image.MAX_IMAGE_PIXELS if the file is trusted"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError)):
            raise
        raise ValueError(f"cannot read image {str(path)!r}: corrupt or not an image ({exc})") from None


def _palette_is_grey(im) -> bool:
    pal = np.asarray(im.getpalette() or [], dtype=np.int64).reshape(-1, 3)
    return bool(len(pal)) and bool(np.all(pal[:, 0] == pal[:, 1]) and np.all(pal[:, 1] == pal[:, 2]))


def folder_files(folder: Path) -> tuple[list[Path], np.ndarray | None, tuple[str, ...] | None]:
    """The image files of ``folder`` in order, with labels and class names when it has class sub-folders.

    Images either all sit at the top level (no labels) or in one sub-folder
    per class (labels follow the sorted folder names); a mix raises.
    """
    top = _image_files(folder)
    subdirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    class_dirs = [d for d in subdirs if _image_files(d)]
    if top and class_dirs:
        raise ValueError(
            f"image folder {str(folder)!r} mixes images at its top level with class sub-folders "
            f"({class_dirs[0].name!r}); use one layout"
        )
    if not top and not class_dirs:
        raise ValueError(
            f"image folder {str(folder)!r} contains no images with suffixes {list(IMAGE_SUFFIXES)} "
            "(at its top level or in class sub-folders)"
        )
    if top:
        return top, None, None
    files, lab = [], []
    for c, d in enumerate(class_dirs):
        fs = _image_files(d)
        files += fs
        lab += [c] * len(fs)
    return files, np.asarray(lab, dtype=np.int64), tuple(d.name for d in class_dirs)


def read_images(
    files: Sequence[Path], *, colour: bool | None = None, size: tuple[int, int] | None = None
) -> np.ndarray:
    """float32 ``(N, C, H, W)`` images in [0, 1] of ``files`` (all of one size).

    ``colour``: True makes grey images RGB (the grey plane repeated), False
    requires grey images, None picks RGB when any file is in colour.
    ``size``: the required ``(H, W)`` (default: the first file's).
    """
    arrays = [_read_image(f) for f in files]
    ref_shape, ref_file = (size, None) if size is not None else (arrays[0].shape[:2], files[0])
    for f, a in zip(files, arrays):
        if a.shape[:2] != tuple(ref_shape):
            against = f"{str(ref_file)!r} is" if ref_file is not None else "the first images are"
            raise ValueError(
                f"image {str(f)!r} is {a.shape[1]}x{a.shape[0]} pixels but {against} "
                f"{ref_shape[1]}x{ref_shape[0]}; all images must have the same size"
            )
    has_colour = any(a.ndim == 3 for a in arrays)
    if colour is False and has_colour:
        bad = next(f for f, a in zip(files, arrays) if a.ndim == 3)
        raise ValueError(
            f"image {str(bad)!r} is in colour but the first images are grey; convert the folder to one mode"
        )
    if colour or has_colour:
        arrays = [np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a for a in arrays]
        stacked = np.stack(arrays).transpose(0, 3, 1, 2)
    else:
        stacked = np.stack(arrays)[:, None]
    return stacked.astype(np.float32)


def _load_folder(folder: Path) -> tuple[np.ndarray, np.ndarray | None, tuple[str, ...] | None]:
    files, labels, classes = folder_files(folder)
    return read_images(files), labels, classes


# ------------------------------------------------------------------ public
def _make_set(
    images: np.ndarray,
    labels: np.ndarray | None,
    name: str,
    num_classes: int | None = None,
    classes=None,
    diagnostics: tuple[Diagnostic, ...] = (),
) -> ImageSet:
    lab = None if labels is None else torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64))
    if lab is not None and num_classes is None:
        num_classes = int(lab.max()) + 1 if len(lab) else 0
    return ImageSet(
        torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)), lab, name, num_classes, classes, diagnostics
    )


def _resolve_path(text: str, root: Path | None) -> Path:
    p = Path(text).expanduser()
    if root is not None and not p.is_absolute():
        p = root / p
    return p


def load_dataset(
    spec: str,
    *,
    split: str = "train",
    seed: Any = 0,
    root: str | os.PathLike | None = None,
    value_range: Sequence[float] | None = None,
) -> ImageSet:
    """Load a training dataset by name or path, offline.

    Parameters
    ----------
    spec : str
        ``"digits"`` (scikit-learn's bundled 8x8 digits: 1,797 images,
        10 classes, pixel counts 0..16 scaled to [0, 1]);
        ``"mnist:PATH"`` or ``"fashion-mnist:PATH"`` (IDX files, optionally
        ``.gz``, in ``PATH`` itself, ``PATH/raw`` or torchvision's
        ``PATH/MNIST/raw`` / ``PATH/FashionMNIST/raw``; ``"mnist"`` alone uses
        ``root``); ``"cifar10:PATH"`` (the binary batches
        ``data_batch_1..5.bin`` / ``test_batch.bin`` in ``PATH`` or
        ``PATH/cifar-10-batches-bin``: 3x32x32 RGB, 10 classes, official
        train/test split; see :mod:`infobench.data.cifar`); a folder of PNG/JPEG/BMP images, optionally one sub-folder
        per class (labels follow the sorted folder names); or a ``.npy`` /
        ``.npz`` file (keys ``images`` or ``x``, optional ``labels`` or ``y``;
        layouts (N, H, W), (N, C, H, W) or (N, H, W, C)).
    split : {"train", "test", "all"}
        MNIST-style data use their official split; everything else is split
        80/20 by ``seed``, stratified by class when labels are known.
    seed : int or numpy.random.Generator
        Seed of the train/test split (ignored by MNIST-style data).
    root : path, optional
        Folder that relative paths in ``spec`` are resolved against; the data
        folder for a bare ``"mnist"`` / ``"fashion-mnist"``.
    value_range : (low, high), optional
        Pixel range of a ``.npy`` / ``.npz`` file, mapped linearly to [0, 1]
        (default: from the dtype, see :func:`load_images`). Named datasets
        and image files have ranges of their own.

    Returns
    -------
    ImageSet
        float32 images in [0, 1] of shape (N, C, H, W), int64 labels or None.

    Raises
    ------
    FileNotFoundError
        A missing file or folder (the message says where it looked).
    ValueError
        Unknown names, bad split, corrupt files, mixed image sizes,
        out-of-range pixel values.

    Examples
    --------
    >>> ds = load_dataset("digits", split="train", seed=0)
    >>> ds.images.shape, ds.num_classes
    (torch.Size([1438, 1, 8, 8]), 10)
    """
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(
            f"dataset must be a string such as 'digits', 'mnist:PATH' or a path; got {type(spec).__name__} {spec!r}"
        )
    split = check_choice("split", split, SPLITS)
    as_generator(seed)  # validate before any file I/O
    vr = check_value_range(value_range)
    root_path = None if root is None else Path(root).expanduser()
    text = os.fspath(spec)
    head, sep, rest = text.partition(":")
    if head == "digits":
        if sep:
            raise ValueError(f"dataset 'digits' takes no path; got {text!r}")
        return _load_digits(split, seed)
    if head == "cifar10" or head in _TORCHVISION_NAMES:
        if sep and rest:
            folder = _resolve_path(rest, root_path)
        elif root_path is not None:
            folder = root_path
        else:
            raise ValueError(
                f"dataset {text!r} needs a folder: write '{head}:PATH' or pass root=PATH (nothing is downloaded)"
            )
        if head in _TORCHVISION_NAMES:
            return _load_idx_dataset(head, folder, split)
        cifar_images, cifar_labels, cifar_classes = load_cifar10(folder, split)
        return _make_set(
            cifar_images.astype(np.float32) / np.float32(255.0),
            cifar_labels,
            f"cifar10:{folder}[{split}]",
            10,
            cifar_classes,
        )
    path = _resolve_path(text, root_path)
    if not path.exists():
        raise FileNotFoundError(
            f"dataset {text!r} is neither a known name ('digits', 'mnist:PATH', 'fashion-mnist:PATH', 'cifar10:PATH') "
            f"nor an existing file or folder (looked for {str(path)!r})"
        )
    if path.is_dir():
        images, labels, classes = _load_folder(path)
        images, labels = _apply_split(images, labels, split, seed)
        return _make_set(images, labels, f"{path}[{split}]", len(classes) if classes else None, classes)
    if path.suffix.lower() not in ARRAY_SUFFIXES:
        raise ValueError(
            f"dataset file {str(path)!r} has unsupported suffix {path.suffix!r}; "
            f"expected one of {list(ARRAY_SUFFIXES)} or a folder of images"
        )
    images, labels = _read_array_file(path)
    images, found = scale_images(images, str(path), vr)
    if labels is not None:
        labels = _normalise_labels(labels, len(images), str(path))
    images, labels = _apply_split(images, labels, split, seed)
    return _make_set(images, labels, f"{path}[{split}]", diagnostics=found)


def load_images(path: str | os.PathLike, *, value_range: Sequence[float] | None = None) -> ImageSet:
    """Load generated samples (all of them, no split) from a file or image folder.

    Parameters
    ----------
    path : path
        ``.npy``, ``.npz`` (key ``images``/``x``/``arr_0``, optional
        ``labels``/``y``), ``.pt`` (a tensor or a dict with ``images``,
        read with ``weights_only=True``), or a folder of images.
    value_range : (low, high), optional
        Pixel range of array data, mapped linearly to [0, 1]. By default it
        comes from the dtype, never from the values: uint8 and other integer
        types -> (0, 255), uint16 -> (0, 65535), bool -> (0, 1), floats ->
        (0, 1); tanh outputs in [-1, 1] must be declared. A small excursion
        outside the range (up to 10 % of its width: a decoder without a final
        sigmoid) is clipped and reported in ``diagnostics``; values further
        out raise, naming the convention they look like. Image files have
        the range of their bit depth.

    Returns
    -------
    ImageSet
        float32 images in [0, 1], shape (N, C, H, W).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file or folder path; got {type(path).__name__} {path!r}")
    vr = check_value_range(value_range)
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"images path {str(p)!r} does not exist")
    if p.is_dir():
        images, labels, classes = _load_folder(p)
        return _make_set(images, labels, str(p), len(classes) if classes else None, classes)
    if p.suffix.lower() not in (*ARRAY_SUFFIXES, ".pt"):
        raise ValueError(
            f"images file {str(p)!r} has unsupported suffix {p.suffix!r}; expected .npy, .npz, .pt or a folder"
        )
    images, labels = _read_array_file(p)
    images, found = scale_images(images, str(p), vr)
    if labels is not None:
        labels = _normalise_labels(labels, len(images), str(p))
    return _make_set(images, labels, str(p), diagnostics=found)
