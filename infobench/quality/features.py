"""Offline feature extractors and the per-input feature cache.

``"classifier"`` (default)
    A small CNN (:class:`ReferenceCNN`) trained by infobench on the real
    dataset's train split, cached in ``$INFOBENCH_CACHE/classifiers``
    (default ``~/.cache/infobench``) under the dataset's content fingerprint,
    the seed and :data:`ARCH_VERSION`; trained when missing (written
    atomically, resumable epoch by epoch). Its held-out accuracy is measured
    on the real test split and reported. Features: the 64-d penultimate layer
    (before its ReLU, so no unit is constant zero); class probabilities: the
    softmax, in float64.
``"pixels"``
    Flattened pixels, optionally projected on the first ``pca`` principal
    components of the real reference set.
a user module
    ``"package.module:factory"`` (``factory()`` returns a ``torch.nn.Module``),
    a TorchScript file, or a module object. It receives float32 images
    ``(N, C, H, W)`` in [0, 1] and returns features ``(N, d)``, or a pair
    ``(features, logits)`` (or a dict with those keys) to enable the
    class-based scores.

Features are computed in batches on the chosen device without gradients and
cached per input in ``$INFOBENCH_CACHE/features/<extractor key>/`` under the
SHA-256 of the images, so a second run on the same file is free.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from infobench._validation import check_int, resolve_device, spawn_seeds
from infobench.data import ImageSet, stratified_split
from infobench.quality._progress import progress_bar
from infobench.report.render import slug

__all__ = [
    "ARCH_VERSION",
    "EMBED_DIM",
    "EXTRACTORS",
    "Extractor",
    "ReferenceCNN",
    "cache_root",
    "extract",
    "make_extractor",
    "train_classifier",
]

ARCH_VERSION = 1
EMBED_DIM = 64
EXTRACTORS = ("classifier", "pixels")
_FORMAT = "infobench.quality.classifier"


def cache_root() -> Path:
    """``$INFOBENCH_CACHE`` if set, else ``~/.cache/infobench``."""
    env = os.environ.get("INFOBENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "infobench"


def _atomic_save(obj: Any, path: Path) -> None:
    from infobench._io import atomic_write

    atomic_write(path, lambda fh: torch.save(obj, fh))


def _sha256_tensors(*tensors: torch.Tensor | None) -> str:
    h = hashlib.sha256()
    for t in tensors:
        if t is None:
            h.update(b"none")
            continue
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


# ------------------------------------------------------------------ the CNN
class ReferenceCNN(nn.Module):
    """The small CNN behind the ``"classifier"`` extractor.

    ``conv(C->32) BN ReLU [maxpool]* conv(32->32) BN ReLU maxpool
    conv(32->64) BN ReLU avgpool(2x2) dropout linear(256->64) |
    ReLU dropout linear(64->classes)`` (BN: batch normalisation, which lifts
    held-out accuracy on digits from about 97.5 % to about 99 %).
    Extra max-pools bring larger images down to at most 8 pixels a side first
    (28x28 MNIST: two), so the cost per image stays small.
    ``forward`` returns ``(features, logits)``, features being the 64-d
    penultimate layer before its ReLU.
    """

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, width: int = 32):
        super().__init__()
        c, h, w = image_shape
        if min(h, w) < 4:
            raise ValueError(f"the classifier extractor needs images of at least 4x4 pixels; got {h}x{w}")
        pools = []
        side = min(h, w)
        while side > 8:
            pools.append(nn.MaxPool2d(2))
            side //= 2
        self.body = nn.Sequential(
            nn.Conv2d(c, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), *pools,
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(8 * width, EMBED_DIM),
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(0.3), nn.Linear(EMBED_DIM, num_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.body(x)
        return z, self.head(z)


# About 700 optimizer steps (30 epochs of the 1,438 digits): enough for > 97 %
# held-out accuracy on digits; large sets get at least two epochs.
_TARGET_STEPS, _MIN_EPOCHS, _MAX_EPOCHS, _BATCH = 700, 2, 30, 64


def _epochs(n: int) -> int:
    steps = math.ceil(n / _BATCH)
    return min(_MAX_EPOCHS, max(_MIN_EPOCHS, math.ceil(_TARGET_STEPS / steps)))


@contextlib.contextmanager
def _one_thread():
    """Run the training loop on one intra-op thread, then restore the setting.

    The classifier's convolutions are tiny (64 images of 8x8 per step on
    digits): splitting each op across threads costs more in synchronisation
    than it saves, and on a busy machine it made training 15x slower.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, device) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, len(images), 1024):
            logits = model(images[s : s + 1024].to(device))[1]
            correct += int((logits.argmax(1).cpu() == labels[s : s + 1024]).sum())
    return correct / len(images)


def train_classifier(
    train: ImageSet,
    test: ImageSet | None,
    *,
    seed: int = 0,
    device: Any = "auto",
    path: str | os.PathLike | None = None,
    progress: bool = False,
    epochs: int | None = None,
) -> tuple[ReferenceCNN, dict[str, Any]]:
    """Train :class:`ReferenceCNN` on ``train`` and measure its accuracy on ``test``.

    AdamW (weight decay 1e-4) with a one-cycle learning rate (peak 3e-3),
    batches of 64, cross-entropy, ``epochs`` epochs (default: about 700
    optimizer steps, at least 2 and at most 30 epochs). Deterministic for a
    given ``seed``: initialisation, each epoch's shuffle and dropout draw from
    seeds derived with :func:`~infobench._validation.spawn_seeds`, inside
    :func:`torch.random.fork_rng` so the global RNG is untouched. With
    ``path``, the state after every epoch is written atomically to
    ``path + ".partial"`` and an interrupted run resumes from it.

    Without ``test``, a stratified 20 % of ``train`` is held out to measure
    the accuracy (and not trained on).

    Returns
    -------
    (model, info)
        The model in eval mode on ``device``; ``info`` holds ``accuracy``,
        ``accuracy_n``, ``accuracy_on``, ``epochs``, ``seed``, ``arch_version``.
    """
    if train.labels is None or train.num_classes is None:
        raise ValueError(
            f"the 'classifier' extractor needs class labels in the real data ({train.name!r} has none); "
            "use extractor='pixels' or a module"
        )
    dev = resolve_device(device)
    x, y = train.images, train.labels
    if test is None or test.labels is None:
        tr, te = stratified_split(y.numpy(), len(y), seed)
        test = train.subset(te, name=f"{train.name} (20% held out)")
        x, y = x[torch.as_tensor(tr)], y[torch.as_tensor(tr)]
    num_classes = max(int(train.num_classes), int(y.max()) + 1)
    epochs = _epochs(len(x)) if epochs is None else check_int("epochs", epochs, low=1)
    seeds = spawn_seeds(seed, epochs + 1)
    partial = None if path is None else Path(str(path) + ".partial")
    steps_per_epoch = math.ceil(len(x) / _BATCH)
    devices = [dev] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seeds[-1])
        model = ReferenceCNN(train.shape, num_classes).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * steps_per_epoch)
    start = 0
    if partial is not None and partial.is_file():
        try:
            state = torch.load(partial, map_location=dev, weights_only=True)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            start = int(state["epoch"])
        except Exception as exc:  # a stale or corrupt partial file: start over
            warnings.warn(f"ignoring unreadable partial classifier state {str(partial)!r} ({exc})", stacklevel=2)
            start = 0
    with progress_bar(progress, f"training classifier on {train.name}", epochs) as advance, _one_thread():
        advance(start)
        for epoch in range(start, epochs):
            model.train()
            order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seeds[epoch]))
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(seeds[epoch])
                for s in range(0, len(x), _BATCH):
                    idx = order[s : s + _BATCH]
                    logits = model(x[idx].to(dev))[1]
                    loss = nn.functional.cross_entropy(logits, y[idx].to(dev))
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
            if partial is not None:
                _atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                              "scheduler": sched.state_dict(), "epoch": epoch + 1}, partial)
            advance(1)
    model.eval()
    acc = _accuracy(model, test.images, test.labels, dev)
    info = {"accuracy": acc, "accuracy_n": len(test), "accuracy_on": test.name, "epochs": epochs,
            "seed": int(seed), "arch_version": ARCH_VERSION}
    return model, info


# ------------------------------------------------------------------ extractors
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


def _classifier(real, *, seed: int, device: torch.device, progress: bool) -> Extractor:
    train = real.reference
    if train.labels is None:
        raise ValueError(
            f"the 'classifier' extractor needs class labels in the real data ({real.name!r} has none); "
            "use extractor='pixels' or a module"
        )
    fp = train.fingerprint()[:16]
    path = cache_root() / "classifiers" / f"{slug(real.name, max_len=40, default='data')}-{fp}-s{seed}-v{ARCH_VERSION}.pt"
    model = state = None
    if path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if state.get("format") != _FORMAT or state.get("arch_version") != ARCH_VERSION:
                raise ValueError("written by another version")
            model = ReferenceCNN(tuple(state["image_shape"]), int(state["num_classes"]))
            model.load_state_dict(state["state_dict"])
        except Exception as exc:
            warnings.warn(f"retraining the classifier: cached file {str(path)!r} is unusable ({exc})", stacklevel=3)
            model = None
    if model is None:
        model, info = train_classifier(train, real.held_out, seed=seed, device=device, path=path, progress=progress)
        state = {"format": _FORMAT, "arch_version": ARCH_VERSION, "image_shape": list(train.shape),
                 "num_classes": int(model.head[-1].out_features),
                 "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, **info}
        _atomic_save(state, path)
        Path(str(path) + ".partial").unlink(missing_ok=True)
    model = model.to(device).eval()
    info = {k: state[k] for k in ("accuracy", "accuracy_n", "accuracy_on", "epochs", "seed", "arch_version")}
    info.update(path=str(path), dim=EMBED_DIM)
    key = f"classifier-v{ARCH_VERSION}-{_sha256_tensors(*model.state_dict().values())[:16]}"
    return Extractor("classifier", key, lambda b: model(b), True, device, info)


def _pixels(real, *, pca: int | None, device: torch.device) -> Extractor:
    ref = real.reference.images.reshape(len(real.reference), -1).to(device=device, dtype=torch.float64)
    dim = ref.shape[1]
    if pca is None:
        return Extractor("pixels", "pixels", lambda b: (b.reshape(b.shape[0], -1), None), False, device, {"dim": dim})
    pca = check_int("pca", pca, low=1, high=min(dim, ref.shape[0]),
                    context=f" (images have {dim} pixels, the reference {ref.shape[0]} rows)")
    mean = ref.mean(0)
    # Principal axes of the reference: rows of V^T from the SVD of the centred data.
    basis = torch.linalg.svd(ref - mean, full_matrices=False).Vh[:pca]
    explained = float((torch.linalg.svdvals(ref - mean)[:pca] ** 2).sum() / ((ref - mean) ** 2).sum())
    key = f"pixels-pca{pca}-{_sha256_tensors(real.reference.images)[:16]}"

    def forward(b):
        return ((b.reshape(b.shape[0], -1).to(torch.float64) - mean) @ basis.T, None)

    return Extractor("pixels", key, forward, False, device, {"dim": pca, "pca": pca, "explained_variance": explained})


def _split_output(out: Any, where: str, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    logits = None
    if isinstance(out, dict):
        if "features" not in out:
            raise ValueError(f"{where} returned a dict without 'features'; got keys {sorted(out)}")
        feats, logits = out["features"], out.get("logits")
    elif isinstance(out, (tuple, list)):
        if len(out) != 2:
            raise ValueError(f"{where} must return features or (features, logits); got a sequence of {len(out)}")
        feats, logits = out
    else:
        feats = out
    if not isinstance(feats, torch.Tensor) or feats.shape[0] != n:
        got = tuple(feats.shape) if isinstance(feats, torch.Tensor) else type(feats).__name__
        raise ValueError(f"{where} must return a tensor of {n} feature rows; got {got}")
    if logits is not None and (not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[0] != n):
        raise ValueError(f"{where} must return logits of shape ({n}, classes); got {getattr(logits, 'shape', logits)}")
    return feats.reshape(n, -1), logits


def _module(spec: Any, real, *, device: torch.device) -> Extractor:
    if isinstance(spec, nn.Module) or isinstance(spec, torch.jit.ScriptModule):
        module, name = spec, type(spec).__name__
        key = f"module-{slug(name, max_len=40, default='data')}-{_sha256_tensors(*module.state_dict().values())[:16]}"
    elif isinstance(spec, (str, os.PathLike)) and Path(spec).expanduser().is_file():
        path = Path(spec).expanduser()
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:
            raise ValueError(f"extractor {str(path)!r} is not a TorchScript file ({type(exc).__name__}: {exc})") from None
        name = str(path)
        key = f"torchscript-{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"
    else:
        from infobench.quality.inputs import _import_callable

        name = str(spec)
        factory = _import_callable(name, f"extractor {name!r}")
        try:
            module = factory()
        except Exception as exc:
            raise ValueError(f"extractor {name!r}: {name}() raised {type(exc).__name__}: {exc}") from None
        if not isinstance(module, nn.Module):
            raise TypeError(f"extractor {name!r} must return a torch.nn.Module; got {type(module).__name__}")
        key = f"module-{slug(name, max_len=40, default='data')}-{_sha256_tensors(*module.state_dict().values())[:16]}"
    module = module.to(device).eval()
    where = f"extractor {name!r}"

    def forward(b):
        try:
            out = module(b)
        except Exception as exc:
            raise ValueError(f"{where} raised {type(exc).__name__}: {exc}") from None
        return _split_output(out, where, b.shape[0])

    with torch.no_grad():
        probe_feats, probe_logits = forward(real.reference.images[:2].to(device))
    info = {"dim": int(probe_feats.shape[1])}
    return Extractor(name, key, forward, probe_logits is not None, device, info)


def make_extractor(
    spec: Any, real, *, seed: int = 0, device: Any = "auto", pca: int | None = None, progress: bool = False
) -> Extractor:
    """Build the extractor named by ``spec`` for the real data ``real`` (a :class:`~infobench.quality.inputs.RealData`).

    ``spec``: ``"classifier"``, ``"pixels"``, ``"package.module:factory"``, a
    TorchScript file path, or a ``torch.nn.Module``. Unknown names raise
    ``ValueError`` listing the valid ones.
    """
    dev = resolve_device(device)
    if spec == "classifier":
        return _classifier(real, seed=seed, device=dev, progress=progress)
    if spec == "pixels":
        return _pixels(real, pca=pca, device=dev)
    if pca is not None:
        raise ValueError(f"pca applies to extractor='pixels' only; got extractor={spec!r}")
    if isinstance(spec, nn.Module):
        return _module(spec, real, device=dev)
    if isinstance(spec, (str, os.PathLike)):
        text = os.fspath(spec)
        from infobench.quality.inputs import _CALLABLE

        if Path(text).expanduser().is_file() or _CALLABLE.match(text):
            return _module(text, real, device=dev)
    raise ValueError(
        f"extractor must be one of {list(EXTRACTORS)}, 'package.module:factory', a TorchScript file or a "
        f"torch.nn.Module; got {spec!r}"
    )


def extract(
    images: ImageSet,
    extractor: Extractor,
    *,
    batch_size: int = 512,
    cache: bool = True,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Features (float64, ``(N, d)``) and class probabilities (float64 softmax, or None) of ``images``.

    Batches of ``batch_size`` run on the extractor's device without gradients.
    With ``cache``, results are read from / written (atomically) to
    ``cache_root()/features/<extractor.key>/<sha256 of the images>.pt``.
    """
    batch_size = check_int("batch_size", batch_size, low=1)
    path = None
    if cache:
        path = cache_root() / "features" / extractor.key / f"{_sha256_tensors(images.images)}.pt"
        if path.is_file():
            try:
                stored = torch.load(path, map_location="cpu", weights_only=True)
                return _finish(stored["features"], stored.get("logits"), extractor.device)
            except Exception as exc:  # unreadable cache entry: recompute and overwrite it
                warnings.warn(f"recomputing features: cached file {str(path)!r} is unusable ({exc})", stacklevel=2)
    feats, logits = [], []
    n = len(images)
    with progress_bar(progress, f"features of {images.name}", math.ceil(n / batch_size)) as advance, torch.no_grad():
        for s in range(0, n, batch_size):
            f, lg = extractor.forward(images.images[s : s + batch_size].to(extractor.device))
            feats.append(f.detach().cpu())
            if lg is not None:
                logits.append(lg.detach().cpu())
            advance(1)
    features = torch.cat(feats)
    logit_t = torch.cat(logits) if logits else None
    if path is not None:
        _atomic_save({"features": features, "logits": logit_t}, path)
    return _finish(features, logit_t, extractor.device)


def _finish(features: torch.Tensor, logits: torch.Tensor | None, device) -> tuple[torch.Tensor, torch.Tensor | None]:
    features = features.to(device=device, dtype=torch.float64)
    if not bool(torch.isfinite(features).all()):
        raise ValueError("the extractor produced non-finite features (NaN or inf)")
    probs = None if logits is None else torch.softmax(logits.to(device=device, dtype=torch.float64), dim=1)
    return features, probs
