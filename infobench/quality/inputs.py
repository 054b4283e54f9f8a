"""Real and generated image sets for scoring: parsing, loading, value ranges and shapes.

Real (reference) data
    A dataset spec that :func:`infobench.data.load_dataset`
    understands (``"digits"``, ``"mnist:PATH"``, ``"fashion-mnist:PATH"``, an
    image folder, a ``.npy``/``.npz`` file): its *train* split is the
    reference every score compares against (and the training set of the
    classifier and of the memorization score); its *test* split is what
    ``"held-out"`` means. In Python, an :class:`ImageSet`, array or tensor is
    used whole as the reference (no held-out split).
Generated data
    ``.npy``/``.npz``/``.pt`` arrays or image folders (read by
    :func:`~infobench.data.load_images`), an infobench generator
    checkpoint (``checkpoint.pt``, its run folder, or ``checkpoint:PATH``), a
    callable given as ``"package.module:function"`` that returns a batch for
    ``(n, seed)``, ``"held-out"`` (the real test split), or in Python an
    array, tensor, :class:`ImageSet` or callable.

Pixel ranges come from the dtype (uint8 and other integers -> [0, 255], uint16
-> [0, 65535], bool and floats -> [0, 1]) or are declared: ``value_range`` for
the generated sets, ``real_range`` for the real data's arrays; they are never
guessed from the values. A small excursion outside the range (up to 10 % of its
width, a decoder without a final sigmoid) is clipped and reported as a
``pixel-range`` diagnostic that travels with every score of the set; values
further out raise, naming the convention they look like and the parameter to
declare it with (:func:`infobench.data.datasets.resolve_range`). Image files
have the range of their bit depth; a generator checkpoint's samples are in
[0, 1] by its contract. Channel counts must match the reference. Images of another
height or width are resized to the reference size with bilinear interpolation
and an anti-aliasing filter when shrinking
(``torch.nn.functional.interpolate(mode="bilinear", antialias=True,
align_corners=False)``), so downsampling does not alias.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infobench._validation import as_generator
from infobench.data import (
    ImageSet,
    ImageStream,
    check_value_range,
    folder_stream,
    load_dataset,
    load_images,
    open_stream,
    scale_images,
)
from infobench.diagnostics import Diagnostic
from infobench.generators import load as load_generator

__all__ = ["HELD_OUT", "RealData", "FakeSource", "load_real", "parse_fake", "materialize", "match_shape", "subsample"]

HELD_OUT = "held-out"
_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_CHECKPOINT_PREFIX = "checkpoint:"


@dataclass(frozen=True)
class RealData:
    """The reference set, its held-out split (if any) and a name for messages and cache keys.

    With ``stream=True`` in :func:`load_real`, image folders and ``.npy``
    files are :class:`~infobench.data.ImageStream` objects read batch by batch.
    """

    reference: ImageSet | ImageStream
    held_out: ImageSet | ImageStream | None
    name: str


def _array_to_set(x: Any, where: str, value_range: tuple[float, float] | None, param: str = "value_range") -> ImageSet:
    if isinstance(x, ImageSet):
        return x
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        x = x.float().numpy() if x.is_floating_point() else x.numpy()
    arr, found = scale_images(np.asarray(x), where, value_range, param=param)
    return ImageSet(torch.from_numpy(arr), None, where, None, diagnostics=found)


def load_real(real: Any, *, seed: Any = 0, value_range: Any = None, root: Any = None, stream: bool = False) -> RealData:
    """Load the reference (train split) and held-out (test split) data.

    Parameters
    ----------
    real : str, path, ImageSet, array or tensor
        A dataset spec (split by :func:`load_dataset`) or in-memory images
        used whole as the reference.
    seed : int
        Seed of the train/test split of datasets without an official one.
    value_range : (low, high), optional
        Pixel range of in-memory arrays and ``.npy``/``.npz`` files (default:
        the dtype's); messages call it ``real_range``, the keyword of
        :func:`~infobench.quality.score`.
    stream : bool
        Read image folders and ``.npy`` files lazily (the same splits and
        values, one batch at a time); other specs are loaded in memory.
    """
    vr = check_value_range(value_range, "real_range")
    if isinstance(real, (str, os.PathLike)):
        spec = os.fspath(real)
        path = Path(spec).expanduser() if root is None else Path(root).expanduser() / spec
        train: ImageSet | ImageStream
        test: ImageSet | ImageStream
        try:
            if stream and (path.is_dir() or (path.is_file() and path.suffix.lower() == ".npy")):
                train, test = (open_stream(path, split=s, seed=seed, value_range=vr) for s in ("train", "test"))
            else:
                train = load_dataset(spec, split="train", seed=seed, root=root, value_range=vr)
                test = load_dataset(spec, split="test", seed=seed, root=root, value_range=vr)
        except (
            ValueError
        ) as exc:  # the loaders' range parameter is value_range; score()'s for the real data is real_range
            raise ValueError(_as_real_range(str(exc))) from None
        train, test = _real_range_diagnostics(train), _real_range_diagnostics(test)
        if len(train) == 0:
            raise ValueError(f"real dataset {spec!r} has an empty train split")
        return RealData(train, test if len(test) else None, spec)
    if isinstance(real, (ImageSet, np.ndarray, torch.Tensor, list, tuple)):
        ref = _array_to_set(real, "real", vr, "real_range")
        return RealData(ref, None, ref.name)
    raise TypeError(
        f"real must be a dataset spec ('digits', 'mnist:PATH', a folder or array file), an ImageSet, "
        f"an array or a tensor; got {type(real).__name__}"
    )


def _as_real_range(text: str) -> str:
    return text.replace("value_range", "real_range").replace("--range=", "--real-range=")


def _real_range_diagnostics(images: ImageSet | ImageStream) -> ImageSet | ImageStream:
    """The real set with its pixel-range diagnostics naming ``real_range`` (the loaders name ``value_range``)."""
    if not images.diagnostics:
        return images
    found = tuple(Diagnostic(d.code, _as_real_range(d.message), "real_range", d.severity) for d in images.diagnostics)
    return dataclasses.replace(images, diagnostics=found)


@dataclass(frozen=True)
class FakeSource:
    """A parsed generated-data source (cheap to build: nothing is loaded yet).

    ``kind`` is one of ``"held-out"``, ``"file"`` (array file or image folder),
    ``"checkpoint"``, ``"callable"`` or ``"array"`` (in-memory).
    """

    name: str
    kind: str
    spec: Any

    @property
    def fixed_size(self) -> bool:
        """True when the set has a size of its own (files, arrays, held-out); False when it draws n samples."""
        return self.kind in ("held-out", "file", "array")


def _is_checkpoint(path: Path) -> bool:
    if path.is_dir():
        return (path / "checkpoint.pt").is_file()
    if path.suffix.lower() == ".ckpt":
        return True
    if path.suffix.lower() != ".pt":
        return False
    # A generated-images .pt is a tensor or a dict with an image tensor; a
    # checkpoint is a dict tagged with its format.
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return False  # let the image loader report the corrupt file
    return isinstance(obj, dict) and str(obj.get("format", "")).startswith("infobench.generators")


def parse_fake(spec: Any, name: str) -> FakeSource:
    """Classify a generated-data spec without loading it; a bad spec raises naming ``name``."""
    where = f"fake {name!r}"
    if isinstance(spec, (ImageSet, np.ndarray, torch.Tensor)):
        return FakeSource(name, "array", spec)
    if callable(spec):
        return FakeSource(name, "callable", spec)
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(
            f"{where} must be a path, 'held-out', 'package.module:function', a callable, an array or an ImageSet; "
            f"got {type(spec).__name__}"
        )
    text = os.fspath(spec)
    if text == HELD_OUT:
        return FakeSource(name, "held-out", text)
    if text.startswith(_CHECKPOINT_PREFIX):
        path = Path(text[len(_CHECKPOINT_PREFIX) :]).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"{where}: checkpoint {str(path)!r} does not exist")
        return FakeSource(name, "checkpoint", path)
    path = Path(text).expanduser()
    if path.exists():
        return FakeSource(name, "checkpoint" if _is_checkpoint(path) else "file", path)
    if _CALLABLE.match(text):
        return FakeSource(name, "callable", _import_callable(text, where))
    raise FileNotFoundError(
        f"{where}: {text!r} is not an existing file or folder, {HELD_OUT!r}, 'checkpoint:PATH' "
        "or 'package.module:function'"
    )


def _import_callable(text: str, where: str) -> Callable[..., Any]:
    module_name, _, attr = text.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ValueError(f"{where}: cannot import module {module_name!r} ({type(exc).__name__}: {exc})") from None
    fn: object = getattr(module, attr, None)
    if fn is None or not callable(fn):
        raise ValueError(f"{where}: module {module_name!r} has no callable {attr!r}")
    return fn


def _call(
    fn: Callable[[int, int], Any], n: int, seed: int, where: str, value_range: tuple[float, float] | None
) -> ImageSet:
    try:
        out = fn(n, seed)
    except Exception as exc:
        label = getattr(fn, "__name__", repr(fn))
        raise ValueError(f"{where}: {label}(n={n}, seed={seed}) raised {type(exc).__name__}: {exc}") from None
    if isinstance(out, ImageSet):
        out = out.images
    if not isinstance(out, (np.ndarray, torch.Tensor)):
        raise TypeError(f"{where}: the callable must return an array or tensor of images; got {type(out).__name__}")
    got = tuple(out.shape)
    if len(got) not in (3, 4) or got[0] != n:
        raise ValueError(
            f"{where}: the callable must return {n} images of shape (n, C, H, W) or (n, H, W); got shape {got}"
        )
    return _array_to_set(out, where, value_range)


def materialize(
    source: FakeSource, real: RealData, *, n: int | None, seed: int, value_range: Any = None, stream: bool = False
) -> ImageSet | ImageStream:
    """Load or draw the generated images of ``source`` (``n`` of them for checkpoints and callables).

    Sets of fixed size with more than ``n`` images are subsampled without
    replacement (seeded by ``seed`` and the source name, so every run and
    every score sees the same rows); fewer than ``n`` raise. With
    ``stream``, an image folder is read lazily (an :class:`~infobench.data.ImageStream`).
    """
    where = f"fake {source.name!r}"
    vr = check_value_range(value_range)
    if source.kind == "held-out":
        if real.held_out is None:
            raise ValueError(
                f"{where}: {HELD_OUT!r} needs a real dataset with a test split (a dataset name, folder or array "
                "file given as real); in-memory real data has none"
            )
        images = real.held_out
    elif source.kind == "file":
        if stream and Path(source.spec).is_dir():
            images = folder_stream(source.spec)
        else:
            images = load_images(source.spec, value_range=vr)
    elif source.kind == "array":
        images = _array_to_set(source.spec, where, vr)
    elif source.kind == "checkpoint":
        try:
            model = load_generator(source.spec)
        except (ValueError, TypeError, FileNotFoundError) as exc:
            raise type(exc)(f"{where}: {exc}") from None
        # A checkpoint's samples are in [0, 1] by its contract (TrainedGenerator.sample), whatever value_range says.
        images = _call(lambda m, s: model.sample(m, s), _need_n(n, where), seed, where, (0.0, 1.0))
    else:
        images = _call(source.spec, _need_n(n, where), seed, where, vr)
    if len(images) == 0:
        raise ValueError(f"{where}: no images")
    return images if n is None or not source.fixed_size else subsample(images, n, seed, source.name)


def subsample(images: ImageSet | ImageStream, n: int, seed: int, name: str) -> ImageSet | ImageStream:
    """``n`` of the images, drawn without replacement (seeded by ``seed`` and ``name``; all of them if n == len)."""
    if len(images) < n:
        raise ValueError(f"fake {name!r} has {len(images)} images; n={n} were requested")
    if len(images) == n:
        return images
    rng = as_generator(np.random.SeedSequence([seed, zlib.crc32(name.encode())]))
    return images.subset(np.sort(rng.choice(len(images), n, replace=False)))


def _need_n(n: int | None, where: str) -> int:
    if n is None:  # pragma: no cover - score() always resolves n for drawn sets
        raise ValueError(f"{where}: n must be given to draw samples")
    return n


def match_shape(
    images: ImageSet | ImageStream, reference: ImageSet | ImageStream, where: str, *, resize: bool = True
) -> tuple[ImageSet | ImageStream, str]:
    """Check channels against the reference and resize other heights/widths (anti-aliased bilinear).

    Returns the images and a note (empty when nothing was changed). A stream
    that needs resizing is loaded into memory first.
    """
    c, h, w = images.shape
    rc, rh, rw = reference.shape
    if c != rc:
        raise ValueError(
            f"{where} has {c} channel(s) but the real data has {rc} (image shape {(c, h, w)} vs {(rc, rh, rw)}); "
            "convert the images first (e.g. to greyscale)"
        )
    if (h, w) == (rh, rw):
        return images, ""
    if not resize:
        raise ValueError(f"{where} images are {h}x{w} pixels but the real images are {rh}x{rw} (resize=False)")
    if isinstance(images, ImageStream):
        images = images.load()
    x = torch.nn.functional.interpolate(
        images.images, size=(rh, rw), mode="bilinear", antialias=True, align_corners=False
    )
    # The triangle filter's weights are non-negative and sum to one, so the output
    # stays in [0, 1] up to float32 rounding (~1e-7); only that residue is removed.
    x = x.clamp_(0.0, 1.0)
    note = f"resized from {h}x{w} to {rh}x{rw} (bilinear, anti-aliased)"
    return ImageSet(
        x.contiguous(), images.labels, images.name, images.num_classes, images.classes, images.diagnostics
    ), note
