"""The extractor builders: one per kind of ``extractor`` spec, and :func:`make_extractor` that picks one.

``"classifier"`` (the reference CNN, trained and cached), ``"pixels"``
(optionally on principal components), ``"inception[-legacy][:PATH]"``,
``"hub:DIR:ENTRY[:WEIGHTS]"``, a user module, and ``"auto"`` that chooses
among them (the conventions of each: :mod:`infobench.quality.features`).
Every extractor key ends with :data:`_EXTRACT_CODE`, the source hash of the
code between pixels and cached features.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from infobench._naming import slug
from infobench._validation import check_int, resolve_device
from infobench.data import ImageSet, ImageStream
from infobench.quality.cache import _atomic_save, _file_hash, _sha256_tensors, cache_root, code_hash
from infobench.quality.classifier import ARCH_VERSION, EMBED_DIM, ReferenceCNN, classifier_key, train_classifier
from infobench.quality.extraction import Extractor, _finish
from infobench.quality.inception import (
    INCEPTION_FILE,
    _missing_inception,
    _to_uint8_rgb,
    clean_resize,
    find_inception,
    inception_locations,
)
from infobench.quality.inputs import _CALLABLE, _import_callable

__all__ = ["AUTO_PCA", "EXTRACTORS", "make_extractor"]

EXTRACTORS = ("auto", "classifier", "pixels", "inception", "inception-legacy")
AUTO_PCA = 64  # principal components of the unlabelled fallback ("pixels")
_FORMAT = "infobench.quality.classifier"
# ImageNet statistics (the normalisation of torch.hub image backbones, DINOv2 included).
_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_HUB_SIZE = 224


def _extract_code() -> str:
    """Code hash of everything between pixels and cached features (see :func:`code_hash`)."""
    return code_hash(_split_output, _wrap_forward, clean_resize, _to_uint8_rgb, _inception, _hub, _finish)


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
        state = {
            "format": _FORMAT,
            "key": key,
            "torch": str(torch.__version__),
            "arch_version": ARCH_VERSION,
            "image_shape": list(train.shape),
            "num_classes": int(cast(nn.Linear, model.head[-1]).out_features),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            **info,
        }
        _atomic_save(state, path)
        Path(str(path) + ".partial").unlink(missing_ok=True)
    model = model.to(device).eval()
    info = {
        k: cast(dict, state)[k] for k in ("accuracy", "accuracy_n", "accuracy_on", "epochs", "seed", "arch_version")
    }
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
    pca = check_int(
        "pca",
        pca,
        low=1,
        high=min(dim, ref.shape[0]),
        context=f" (images have {dim} pixels, the reference {ref.shape[0]} rows)",
    )
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
    return Extractor(
        name, key, forward, probe_logits is not None, device, {"dim": int(probe_feats.shape[1]), **(info or {})}
    )


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
    parts = text[len("hub:") :].split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"extractor must be 'hub:DIR:ENTRY' or 'hub:DIR:ENTRY:WEIGHTS'; got {text!r}")
    folder, entry = Path(parts[0]).expanduser(), parts[1]
    weights = Path(parts[2]).expanduser() if len(parts) == 3 else None
    if not (folder / "hubconf.py").is_file():
        raise FileNotFoundError(
            f"extractor {text!r}: {str(folder / 'hubconf.py')!r} does not exist (a local torch.hub folder is needed; nothing is downloaded)"
        )
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
        raise ValueError(
            f"extractor {text!r}: loading {entry!r} from {str(folder)!r} failed ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"extractor {text!r}: entry {entry!r} must return a torch.nn.Module; got {type(model).__name__}"
        )
    model = model.to(device).eval()
    mean = torch.tensor(_IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(_IMAGENET_STD, device=device).view(1, 3, 1, 1)

    def prepare(b: torch.Tensor) -> torch.Tensor:
        x = b.to(torch.float32)
        x = x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x
        x = nn.functional.interpolate(
            x, size=(_HUB_SIZE, _HUB_SIZE), mode="bicubic", antialias=True, align_corners=False
        )
        return (x - mean) / std

    key = f"hub-{slug(entry, max_len=40, default='data')}-{_sha256_tensors(*model.state_dict().values())[:16]}-{_EXTRACT_CODE}"
    info = {
        "hub": str(folder),
        "entry": entry,
        "weights": None if weights is None else str(weights),
        "preprocess": f"RGB, bicubic to {_HUB_SIZE}x{_HUB_SIZE}, ImageNet mean/std",
    }
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


_EXTRACT_CODE = _extract_code()
