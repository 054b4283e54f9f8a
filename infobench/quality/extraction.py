"""Extraction: an :class:`Extractor` run over images in streamed batches, cached per input.

:func:`extract` computes features (and class probabilities) one batch at a
time without gradients and keeps them in the feature cache under the
extractor's key and the images' content fingerprint; every finished batch is
written first, so an interrupted extraction resumes.
"""

from __future__ import annotations

import math
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch

from infobench._progress import REPEATED_LOOP_SECONDS
from infobench._progress import progress as show_progress
from infobench._validation import check_int
from infobench.data import ImageSet, ImageStream, as_stream
from infobench.quality.cache import _atomic_save, cache_root

__all__ = ["Extractor", "extract"]


@dataclass
class Extractor:
    """A feature map ``images -> (features, logits or None)`` with a cache key.

    Attributes
    ----------
    name : str
        ``"classifier"``, ``"pixels"`` or the user module's spec.
    key : str
        Identifies the exact mapping (weights included): part of the feature cache key.
    forward : callable
        ``forward(batch on device) -> (features, logits or None)``.
    has_probs : bool
    device : torch.device
    info : dict
        Reported with the scores (classifier accuracy, cache path, dimension...).
    """

    name: str
    key: str
    forward: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]
    has_probs: bool
    device: torch.device
    info: dict[str, Any] = field(default_factory=dict)


def extract(
    images: ImageSet | ImageStream,
    extractor: Extractor,
    *,
    batch_size: int = 512,
    cache: bool = True,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Features (float64, ``(N, d)``) and class probabilities (float64 softmax, or None) of ``images``.

    ``images`` in memory or an :class:`~infobench.data.ImageStream`, read one
    batch of ``batch_size`` at a time (only the features are kept), run on
    the extractor's device without gradients. With ``cache``, the result is
    read from / written (atomically) to
    ``cache_root()/features/<extractor.key>/<fingerprint>.pt``; while it is
    computed, each finished batch is written to
    ``<fingerprint>.parts-b<batch_size>/<offset>.pt``, so an interrupted run
    resumes after the last finished batch (the part files are removed once
    the whole result is written).
    """
    batch_size = check_int("batch_size", batch_size, low=1)
    stream = images if isinstance(images, ImageStream) else as_stream(images)
    n = len(stream)
    path = parts = None
    if cache:
        folder = cache_root() / "features" / extractor.key
        fingerprint = stream.fingerprint()
        path = folder / f"{fingerprint}.pt"
        parts = folder / f"{fingerprint}.parts-b{batch_size}"
        if path.is_file():
            try:
                stored = torch.load(path, map_location="cpu", weights_only=True)
                return _finish(stored["features"], stored.get("logits"), extractor.device)
            except Exception as exc:  # unreadable cache entry: recompute and overwrite it
                warnings.warn(f"recomputing features: cached file {str(path)!r} is unusable ({exc})", stacklevel=2)
    feats, logits = _resume(parts, n, batch_size)
    total = math.ceil(n / batch_size)
    with (
        show_progress(
            progress,
            total,
            f"features of {stream.name}",
            unit="batches",
            completed=len(feats),
            min_seconds=REPEATED_LOOP_SECONDS,
        ) as advance,
        torch.no_grad(),
    ):
        for s, batch in stream.batches(batch_size, start=len(feats) * batch_size):
            f, lg = extractor.forward(batch.to(extractor.device))
            f = f.detach().cpu()
            lg = None if lg is None else lg.detach().cpu()
            if parts is not None:
                _atomic_save({"features": f, "logits": lg}, parts / f"{s:012d}.pt")
            feats.append(f)
            logits.append(lg)
            advance(1)
    features = torch.cat(feats)
    logit_t = None if any(lg is None for lg in logits) else torch.cat(logits)
    if path is not None:
        _atomic_save({"features": features, "logits": logit_t}, path)
        shutil.rmtree(cast(Path, parts), ignore_errors=True)
    return _finish(features, logit_t, extractor.device)


def _resume(parts: Path | None, n: int, batch_size: int) -> tuple[list, list]:
    """Features and logits of the consecutive finished batches stored under ``parts`` (from offset 0)."""
    feats: list[torch.Tensor] = []
    logits: list[torch.Tensor | None] = []
    if parts is None or not parts.is_dir():
        return feats, logits
    for s in range(0, n, batch_size):
        part = parts / f"{s:012d}.pt"
        if not part.is_file():
            break
        try:
            stored = torch.load(part, map_location="cpu", weights_only=True)
            f = stored["features"]
            if f.shape[0] != min(batch_size, n - s):
                raise ValueError(f"holds {f.shape[0]} rows")
        except Exception as exc:  # a damaged part: recompute from here
            warnings.warn(f"recomputing features from batch file {str(part)!r} ({exc})", stacklevel=3)
            break
        feats.append(f)
        logits.append(stored.get("logits"))
    return feats, logits


def _finish(features: torch.Tensor, logits: torch.Tensor | None, device) -> tuple[torch.Tensor, torch.Tensor | None]:
    features = features.to(device=device, dtype=torch.float64)
    if not bool(torch.isfinite(features).all()):
        raise ValueError("the extractor produced non-finite features (NaN or inf)")
    probs = None if logits is None else torch.softmax(logits.to(device=device, dtype=torch.float64), dim=1)
    return features, probs
