"""Offline feature extractors and the per-input feature cache.

``"auto"`` (default)
    ``"classifier"`` when the reference set has class labels; otherwise the
    standard Inception features (clean resize) when ``inception-2015-12-05.pt``
    is found (:func:`find_inception`); otherwise ``"pixels"`` projected on
    64 principal components, with a warning that these numbers are not
    comparable with any published ones. Class-based scores need class
    probabilities: without labels and without the Inception file they are
    skipped, and ``info["skipped"]`` says why.
``"classifier"``
    A small CNN (:class:`ReferenceCNN`) trained by infobench on the real
    dataset's train split, cached in ``$INFOBENCH_CACHE/classifiers``
    (default ``~/.cache/infobench``) under a key made of everything that
    determines it (:func:`classifier_key`: the dataset's content fingerprint,
    the seed, :data:`ARCH_VERSION`, a hash of the training code's source and
    the torch version); trained when missing (written atomically, resumable
    epoch by epoch). Its held-out accuracy is measured
    on the real test split and reported. Features: the 64-d penultimate layer
    (before its ReLU, so no unit is constant zero); class probabilities: the
    softmax, in float64.
``"pixels"``
    Flattened pixels, optionally projected on the first ``pca`` principal
    components of the real reference set.
``"inception[:PATH]"``, ``"inception-legacy[:PATH]"``
    The TensorFlow Inception-v3 graph of the FID literature as the TorchScript
    file ``inception-2015-12-05.pt`` that StyleGAN2-ADA / StyleGAN3 and
    clean-fid load (Heusel et al. 2017; Karras et al. 2020; Parmar et al.
    2022, "On aliased resizing and surprising subtleties in GAN evaluation"),
    from ``PATH`` or the cache folders of those tools. Conventions, as in
    their metric code: images are quantised to uint8 values
    (``round(255 x)``), grey images repeat their plane to RGB, and the graph
    gets float32 NCHW in [0, 255] (it normalises ``(x - 128) / 128`` itself).
    ``inception`` uses clean-fid's "clean" resize: PIL bicubic to 299x299
    per image and channel on the uint8 values (float mode, not re-quantised);
    ``inception-legacy`` passes the images at their own size and lets the
    graph resize them (bilinear, as TensorFlow's FID and StyleGAN do).
    Features: the 2048-d pool layer (``return_features=True``); class
    probabilities: the graph's 1008-way softmax (with ``no_output_bias=True``
    when the graph accepts it, as StyleGAN2-ADA's Inception score does).
``"hub:DIR:ENTRY[:WEIGHTS]"``
    Any backbone from a local ``torch.hub`` folder (one with a
    ``hubconf.py``): ``torch.hub.load(DIR, ENTRY, source="local")``; with
    ``WEIGHTS``, the entry is called with ``pretrained=False`` (when it
    accepts it) and the state dict in ``WEIGHTS`` is loaded (strictly).
    Inputs follow the convention of ImageNet backbones such as DINOv2
    (Oquab et al. 2023; recommended for evaluation by Stein et al. 2023):
    RGB (grey repeated), resized to 224x224 (bicubic, anti-aliased),
    normalised with the ImageNet mean and standard deviation. The model's
    output (the class token for DINOv2) is the feature vector.
a user module
    ``"package.module:factory"`` (``factory()`` returns a ``torch.nn.Module``),
    a TorchScript file, or a module object. It receives float32 images
    ``(N, C, H, W)`` in [0, 1] and returns features ``(N, d)``, or a pair
    ``(features, logits)`` (or a dict with those keys) to enable the
    class-based scores.

Features are computed in streamed batches on the chosen device without
gradients (an :class:`~infobench.data.ImageStream` is decoded one batch at a
time) and cached per input in ``$INFOBENCH_CACHE/features/<extractor key>/``
under the content fingerprint of the images, so a second run on the same
file is free. Every finished batch is written first as its own file, so a
killed extraction resumes from the last finished batch. The extractor key
holds the weights' (or file's) hash and a hash of the extraction code.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import math
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from infobench._io import atomic_write
from infobench._progress import REPEATED_LOOP_SECONDS, progress as show_progress
from infobench._validation import check_int, resolve_device, spawn_seeds
from infobench.data import ImageSet, ImageStream, as_stream, sha256_tensors, stratified_split
from infobench.quality.inputs import _CALLABLE, _import_callable
from infobench._naming import slug

__all__ = [
    "ARCH_VERSION",
    "EMBED_DIM",
    "EXTRACTORS",
    "INCEPTION_FILE",
    "Extractor",
    "ReferenceCNN",
    "cache_root",
    "classifier_key",
    "code_hash",
    "extract",
    "find_inception",
    "inception_locations",
    "make_extractor",
    "train_classifier",
]

ARCH_VERSION = 1
EMBED_DIM = 64
EXTRACTORS = ("auto", "classifier", "pixels", "inception", "inception-legacy")
INCEPTION_FILE = "inception-2015-12-05.pt"
INCEPTION_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/" + INCEPTION_FILE
AUTO_PCA = 64  # principal components of the unlabelled fallback ("pixels")
_FORMAT = "infobench.quality.classifier"
# ImageNet statistics (the normalisation of torch.hub image backbones, DINOv2 included).
_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_HUB_SIZE = 224


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
    with show_progress(progress, epochs, f"training classifier on {train.name}", unit="epochs",
                       completed=start) as advance, _one_thread():
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


def _extract_code() -> str:
    """Code hash of everything between pixels and cached features (see :func:`code_hash`)."""
    return code_hash(_split_output, _wrap_forward, clean_resize, _to_uint8_rgb, _inception, _hub, _finish)


def classifier_key(train: ImageSet, seed: int) -> str:
    """Everything that determines the cached classifier, as one file-name-safe string.

    The training data's content fingerprint, the seed, :data:`ARCH_VERSION`,
    and :func:`code_hash` of the training code (:class:`ReferenceCNN`,
    :func:`train_classifier` and its schedule) with the torch version. Editing
    the training code therefore trains a new classifier instead of reusing one
    trained by other code (issue 12, item 6).
    """
    return f"{train.fingerprint()[:16]}-s{seed}-v{ARCH_VERSION}-c{_CLASSIFIER_CODE}-{_TARGET_STEPS}x{_BATCH}"


def _classifier(real, *, seed: int, device: torch.device, progress: bool) -> Extractor:
    train = _in_memory(real.reference)
    if train.labels is None:
        raise ValueError(
            f"the 'classifier' extractor needs class labels in the real data ({real.name!r} has none); "
            "use extractor='pixels', 'inception', 'hub:DIR:ENTRY' or a module"
        )
    key = classifier_key(train, seed)
    path = cache_root() / "classifiers" / f"{slug(real.name, max_len=40, default='data')}-{key}.pt"
    model = state = None
    if path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if state.get("format") != _FORMAT or state.get("key") != key:
                raise ValueError("written by another version")
            model = ReferenceCNN(tuple(state["image_shape"]), int(state["num_classes"]))
            model.load_state_dict(state["state_dict"])
        except Exception as exc:
            warnings.warn(f"retraining the classifier: cached file {str(path)!r} is unusable ({exc})", stacklevel=3)
            model = None
    if model is None:
        held_out = None if real.held_out is None else _in_memory(real.held_out)
        model, info = train_classifier(train, held_out, seed=seed, device=device, path=path, progress=progress)
        state = {"format": _FORMAT, "key": key, "torch": str(torch.__version__), "arch_version": ARCH_VERSION,
                 "image_shape": list(train.shape), "num_classes": int(model.head[-1].out_features),
                 "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, **info}
        _atomic_save(state, path)
        Path(str(path) + ".partial").unlink(missing_ok=True)
    model = model.to(device).eval()
    info = {k: state[k] for k in ("accuracy", "accuracy_n", "accuracy_on", "epochs", "seed", "arch_version")}
    info.update(path=str(path), dim=EMBED_DIM, cache_key=key)
    key = f"classifier-v{ARCH_VERSION}-{_sha256_tensors(*model.state_dict().values())[:16]}-{_EXTRACT_CODE}"
    return Extractor("classifier", key, lambda b: model(b), True, device, info)


def _in_memory(images: ImageSet | ImageStream) -> ImageSet:
    return images.load() if isinstance(images, ImageStream) else images


def _head(images: ImageSet | ImageStream, n: int) -> torch.Tensor:
    return images.read(0, min(n, len(images))) if isinstance(images, ImageStream) else images.images[:n]


def _pixels(real, *, pca: int | None, device: torch.device) -> Extractor:
    reference = _in_memory(real.reference)
    ref = reference.images.reshape(len(reference), -1).to(device=device, dtype=torch.float64)
    dim = ref.shape[1]
    if pca is None:
        return Extractor("pixels", "pixels", lambda b: (b.reshape(b.shape[0], -1), None), False, device, {"dim": dim})
    pca = check_int("pca", pca, low=1, high=min(dim, ref.shape[0]),
                    context=f" (images have {dim} pixels, the reference {ref.shape[0]} rows)")
    mean = ref.mean(0)
    # Principal axes of the reference: rows of V^T from the SVD of the centred data.
    basis = torch.linalg.svd(ref - mean, full_matrices=False).Vh[:pca]
    explained = float((torch.linalg.svdvals(ref - mean)[:pca] ** 2).sum() / ((ref - mean) ** 2).sum())
    key = f"pixels-pca{pca}-{_sha256_tensors(reference.images)[:16]}"

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


def _load_torchscript(path: Path, what: str) -> torch.jit.ScriptModule:
    try:
        with warnings.catch_warnings():
            # torch deprecates TorchScript, but it is the format the Inception graph and many backbones ship in.
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise ValueError(f"{what} {str(path)!r} is not a TorchScript file ({type(exc).__name__}: {exc})") from None


def _wrap_forward(module: nn.Module, where: str, prepare: Callable[[torch.Tensor], torch.Tensor] = lambda b: b):
    """``forward(batch) -> (features, logits or None)`` calling ``module(prepare(batch))``; errors name ``where``."""

    def forward(b):
        try:
            out = module(prepare(b))
        except Exception as exc:
            raise ValueError(f"{where} raised {type(exc).__name__}: {exc}") from None
        return _split_output(out, where, b.shape[0])

    return forward


def _probed(name: str, key: str, forward, real, device: torch.device, info: dict | None = None) -> Extractor:
    """The extractor, after one forward pass on two reference images (checks the output, finds the dimension)."""
    with torch.no_grad():
        probe_feats, probe_logits = forward(_head(real.reference, 2).to(device))
    return Extractor(name, key, forward, probe_logits is not None, device,
                     {"dim": int(probe_feats.shape[1]), **(info or {})})


def _module(spec: Any, real, *, device: torch.device) -> Extractor:
    if isinstance(spec, nn.Module) or isinstance(spec, torch.jit.ScriptModule):
        module, name = spec, type(spec).__name__
        key = f"module-{slug(name, max_len=40, default='data')}-{_sha256_tensors(*module.state_dict().values())[:16]}"
    elif isinstance(spec, (str, os.PathLike)) and Path(spec).expanduser().is_file():
        path = Path(spec).expanduser()
        module = _load_torchscript(path, "extractor")
        name = str(path)
        key = f"torchscript-{_file_hash(path)[:16]}"
    else:
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
    return _probed(name, f"{key}-{_EXTRACT_CODE}", _wrap_forward(module, f"extractor {name!r}"), real, device)


# ------------------------------------------------------------------ Inception
def inception_locations() -> list[Path]:
    """Where ``inception-2015-12-05.pt`` is looked for, in order.

    ``$INFOBENCH_CACHE/inception-2015-12-05.pt``; StyleGAN2-ADA / StyleGAN3's
    download cache (``$DNNLIB_CACHE_DIR/downloads`` or
    ``~/.cache/dnnlib/downloads``, files named ``<md5 of the URL>_inception-2015-12-05.pt``);
    clean-fid's default folder (the temporary directory, ``/tmp``).
    """
    places = [cache_root() / INCEPTION_FILE]
    env = os.environ.get("DNNLIB_CACHE_DIR")
    dnnlib = Path(env).expanduser() / "downloads" if env else Path.home() / ".cache" / "dnnlib" / "downloads"
    places += sorted(dnnlib.glob(f"*_{INCEPTION_FILE}")) if dnnlib.is_dir() else [dnnlib / f"<md5>_{INCEPTION_FILE}"]
    places.append(Path(tempfile.gettempdir()) / INCEPTION_FILE)
    return places


def find_inception() -> Path | None:
    """The first existing file of :func:`inception_locations`, or None."""
    return next((p for p in inception_locations() if p.is_file()), None)


def _missing_inception(path: Path | None) -> FileNotFoundError:
    looked = [str(path)] if path is not None else [str(p) for p in inception_locations()]
    return FileNotFoundError(
        f"the standard Inception features need the TorchScript file {INCEPTION_FILE} (the graph StyleGAN2-ADA and "
        f"clean-fid use; nothing is downloaded); looked for {', '.join(repr(p) for p in looked)}. Fetch it on a "
        f"machine with internet ({INCEPTION_URL}) and put it at {str(cache_root() / INCEPTION_FILE)!r}, or pass "
        "--extractor inception:PATH"
    )


def clean_resize(x: torch.Tensor, size: int = 299) -> torch.Tensor:
    """clean-fid's "clean" resize: PIL bicubic to ``size x size``, per image and channel, in float mode.

    ``x``: float ``(N, C, H, W)`` holding uint8 values; returns float32 on the
    CPU, not re-quantised (Parmar et al. 2022, section 3; clean-fid's
    ``make_resizer("PIL", False, "bicubic", (299, 299))``).
    """
    from PIL import Image  # deferred: PIL is only needed on this route

    planes = x.detach().cpu().to(torch.float32).numpy()
    out = np.empty((*planes.shape[:2], size, size), dtype=np.float32)
    for i, image in enumerate(planes):
        for c, plane in enumerate(image):
            out[i, c] = np.asarray(Image.fromarray(plane, mode="F").resize((size, size), resample=Image.BICUBIC))
    return torch.from_numpy(out)


def _to_uint8_rgb(b: torch.Tensor) -> torch.Tensor:
    """[0, 1] images -> float32 with the uint8 values ``round(255 x)``, grey planes repeated to RGB."""
    if b.shape[1] not in (1, 3):
        raise ValueError(f"the Inception and hub extractors take 1- or 3-channel images; got {b.shape[1]} channels")
    x = torch.round(b.to(torch.float32) * 255.0)
    return x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x


def _inception(path: Path | None, resize: str, real, *, device: torch.device) -> Extractor:
    if path is None:
        path = find_inception()
        if path is None:
            raise _missing_inception(None)
    path = Path(path).expanduser()
    if not path.is_file():
        raise _missing_inception(path)
    module = _load_torchscript(path, "Inception file").to(device).eval()
    where = f"Inception graph {str(path)!r}"

    def prepare(b: torch.Tensor) -> torch.Tensor:
        x = _to_uint8_rgb(b)
        return clean_resize(x).to(device) if resize == "clean" else x

    def call(x: torch.Tensor, **kwargs) -> torch.Tensor:
        try:
            return module(x, **kwargs)
        except Exception as exc:
            raise ValueError(f"{where} raised {type(exc).__name__}: {exc}") from None

    probe = prepare(_head(real.reference, 2).to(device))
    prob_kwargs: dict[str, bool] = {}
    with torch.no_grad():
        try:  # StyleGAN2-ADA's Inception score drops the output bias; older graphs lack the argument
            module(probe, no_output_bias=True)
            prob_kwargs = {"no_output_bias": True}
        except Exception:
            prob_kwargs = {}

    def forward(b: torch.Tensor):
        x = prepare(b)
        feats = call(x, return_features=True).reshape(b.shape[0], -1)
        probs = call(x, **prob_kwargs)
        # The graph returns probabilities; their logarithm is a logit vector with the same softmax.
        return feats, torch.log(probs.to(torch.float64))

    label = "clean (PIL bicubic to 299)" if resize == "clean" else "legacy (bilinear inside the graph)"
    key = f"inception-{resize}-{_file_hash(path)[:16]}-{_EXTRACT_CODE}"
    info = {"path": str(path), "resize": label, "comparable": True, "output_bias": not prob_kwargs}
    return _probed("inception" if resize == "clean" else "inception-legacy", key, forward, real, device, info)


# ------------------------------------------------------------------ torch.hub
def _hub(text: str, real, *, device: torch.device) -> Extractor:
    parts = text[len("hub:"):].split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"extractor must be 'hub:DIR:ENTRY' or 'hub:DIR:ENTRY:WEIGHTS'; got {text!r}")
    folder, entry = Path(parts[0]).expanduser(), parts[1]
    weights = Path(parts[2]).expanduser() if len(parts) == 3 else None
    if not (folder / "hubconf.py").is_file():
        raise FileNotFoundError(f"extractor {text!r}: {str(folder / 'hubconf.py')!r} does not exist (a local torch.hub folder is needed; nothing is downloaded)")
    if weights is not None and not weights.is_file():
        raise FileNotFoundError(f"extractor {text!r}: weights file {str(weights)!r} does not exist")
    try:
        if weights is None:
            model = torch.hub.load(str(folder), entry, source="local")
        else:
            try:
                model = torch.hub.load(str(folder), entry, source="local", pretrained=False)
            except TypeError:  # an entry without a `pretrained` argument
                model = torch.hub.load(str(folder), entry, source="local")
            state = torch.load(weights, map_location="cpu", weights_only=True)
            for wrapper in ("state_dict", "model"):
                if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
                    state = state[wrapper]
            model.load_state_dict(state)
    except Exception as exc:
        raise ValueError(f"extractor {text!r}: loading {entry!r} from {str(folder)!r} failed ({type(exc).__name__}: {exc})") from None
    if not isinstance(model, nn.Module):
        raise TypeError(f"extractor {text!r}: entry {entry!r} must return a torch.nn.Module; got {type(model).__name__}")
    model = model.to(device).eval()
    mean = torch.tensor(_IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(_IMAGENET_STD, device=device).view(1, 3, 1, 1)

    def prepare(b: torch.Tensor) -> torch.Tensor:
        x = b.to(torch.float32)
        x = x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x
        x = nn.functional.interpolate(x, size=(_HUB_SIZE, _HUB_SIZE), mode="bicubic", antialias=True, align_corners=False)
        return (x - mean) / std

    key = f"hub-{slug(entry, max_len=40, default='data')}-{_sha256_tensors(*model.state_dict().values())[:16]}-{_EXTRACT_CODE}"
    info = {"hub": str(folder), "entry": entry, "weights": None if weights is None else str(weights),
            "preprocess": f"RGB, bicubic to {_HUB_SIZE}x{_HUB_SIZE}, ImageNet mean/std"}
    return _probed(text, key, _wrap_forward(model, f"extractor {text!r}", prepare), real, device, info)


# ------------------------------------------------------------------ auto
def _auto(real, *, seed: int, device: torch.device, progress: bool) -> Extractor:
    if real.reference.labels is not None:
        return _classifier(real, seed=seed, device=device, progress=progress)
    path = find_inception()
    if path is not None:
        return _inception(path, "clean", real, device=device)
    dim = int(np.prod(real.reference.shape))
    pca = min(AUTO_PCA, dim, len(real.reference))
    message = (
        f"the real data {real.name!r} has no class labels and {INCEPTION_FILE} was not found (looked in "
        f"{', '.join(str(p) for p in inception_locations())}): scoring on pixels projected on {pca} principal "
        "components. These numbers are NOT comparable with published ones; put the Inception file there or pass "
        "--extractor inception:PATH or hub:DIR:ENTRY. Class-based scores are skipped."
    )
    warnings.warn(message, UserWarning, stacklevel=5)
    ext = _pixels(real, pca=pca, device=device)
    ext.info.update(comparable=False, warning=message)
    return ext


def _skipped_reason(unlabelled: bool) -> str:
    why = "the reference set has no labels and the extractor gives none" if unlabelled else "the extractor gives none"
    return f"class-based scores skipped: no class probabilities ({why})"


def make_extractor(
    spec: Any, real, *, seed: int = 0, device: Any = "auto", pca: int | None = None, progress: bool = False
) -> Extractor:
    """Build the extractor named by ``spec`` for the real data ``real`` (a :class:`~infobench.quality.inputs.RealData`).

    ``spec``: ``"auto"``, ``"classifier"``, ``"pixels"``, ``"inception[:PATH]"``,
    ``"inception-legacy[:PATH]"``, ``"hub:DIR:ENTRY[:WEIGHTS]"``,
    ``"package.module:factory"``, a TorchScript file path, or a
    ``torch.nn.Module`` (see the module docstring). Unknown names raise
    ``ValueError`` listing the valid ones; a missing Inception file raises
    ``FileNotFoundError`` saying where to put it.
    """
    ext = _make_extractor(spec, real, seed=seed, device=resolve_device(device), pca=pca, progress=progress)
    if not ext.has_probs:
        ext.info.setdefault("skipped", _skipped_reason(real.reference.labels is None))
    return ext


def _make_extractor(spec: Any, real, *, seed: int, device: torch.device, pca: int | None, progress: bool) -> Extractor:
    dev = device
    if spec == "auto" and pca is None:
        return _auto(real, seed=seed, device=dev, progress=progress)
    if spec == "classifier":
        return _classifier(real, seed=seed, device=dev, progress=progress)
    if spec in ("pixels", "auto"):  # "auto" with pca: the user asked for pixels
        return _pixels(real, pca=pca, device=dev)
    if pca is not None:
        raise ValueError(f"pca applies to extractor='pixels' only; got extractor={spec!r}")
    if isinstance(spec, nn.Module):
        return _module(spec, real, device=dev)
    if isinstance(spec, (str, os.PathLike)):
        text = os.fspath(spec)
        head, sep, rest = text.partition(":")
        if head in ("inception", "inception-legacy"):
            path = Path(rest) if sep and rest else None
            return _inception(path, "clean" if head == "inception" else "legacy", real, device=dev)
        if head == "hub":
            return _hub(text, real, device=dev)
        if Path(text).expanduser().is_file() or _CALLABLE.match(text):
            return _module(text, real, device=dev)
    raise ValueError(
        f"extractor must be one of {list(EXTRACTORS)}, 'inception:PATH', 'hub:DIR:ENTRY[:WEIGHTS]', "
        f"'package.module:factory', a TorchScript file or a torch.nn.Module; got {spec!r}"
    )


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
    with show_progress(progress, total, f"features of {stream.name}", unit="batches", completed=len(feats),
                       min_seconds=REPEATED_LOOP_SECONDS) as advance, torch.no_grad():
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
        shutil.rmtree(parts, ignore_errors=True)
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


_EXTRACT_CODE = _extract_code()
# Source hashes of the installed code, taken at import (monkeypatching a function later does not change them).
_CLASSIFIER_CODE = code_hash(ReferenceCNN, train_classifier, _epochs, _accuracy, _one_thread)
