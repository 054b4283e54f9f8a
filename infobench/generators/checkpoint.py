"""Checkpoints: atomic writes, safe loading, and the sampling interface of a trained model.

A checkpoint is a ``torch.save`` file holding only state dicts, tensors,
numbers, strings and lists (so it loads with ``torch.load(...,
weights_only=True)``, never unpickling arbitrary objects) plus the run's
:class:`~infobench.generators.config.TrainConfig` as a JSON string::

    {"format": "infobench.generators.checkpoint", "config": "<json>",
     "epoch": int, "step": int, "device": str,
     "models": {name: state_dict},        # generator, discriminator, generator_ema | vae
     "optimizers": {name: state_dict},
     "rng": {"data": ByteTensor, "noise": ByteTensor},
     "history": [ {column: value}, ... ],
     "latent_mixture": {"weights", "means", "scale_tril"},   # VAE only
     "sha256": str}                       # checksum of everything above

Every file is written to a temporary file in the same folder and moved into
place with ``os.replace``, so an interruption never leaves a half-written
checkpoint behind. ``sha256`` is the SHA-256 of every other entry (each
tensor's path, dtype, shape and raw bytes; every other value's path, type
and ``repr``), computed at save time and verified on load: a file whose bits
changed afterwards is refused as corrupt. Files written before the checksum
existed load with an :class:`UnverifiedCheckpointWarning`. Non-finite
weights (a run that diverged before it was saved) are refused on load, and
non-finite images on sampling.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from infobench._io import atomic_write, refused_load_reason
from infobench._validation import as_torch_generator, check_choice, check_int, resolve_device
from infobench.diagnostics import InfobenchWarning
from infobench.generators.config import TrainConfig, build_networks
from infobench.generators.models import ConvVAE, sample_mixture

__all__ = [
    "CHECKPOINT_NAME",
    "TrainedGenerator",
    "UnverifiedCheckpointWarning",
    "load",
    "read_checkpoint",
    "save_checkpoint",
    "state_checksum",
]

FORMAT = "infobench.generators.checkpoint"
CHECKPOINT_NAME = "checkpoint.pt"
_REQUIRED = ("config", "epoch", "models")
_CHECKSUM = "sha256"
# Entries holding network, optimiser and mixture parameters: all must be finite.
_FINITE = ("models", "optimizers", "latent_mixture")


class UnverifiedCheckpointWarning(InfobenchWarning):
    """A checkpoint written before checksums existed was loaded without verification."""


def _hash_into(h: Any, obj: Any, where: str) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"{where}:tensor:{t.dtype}:{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        h.update(f"{where}:dict:{len(obj)}\n".encode())
        for key, value in obj.items():
            _hash_into(h, value, f"{where}[{key!r}]")
    elif isinstance(obj, (list, tuple)):
        h.update(f"{where}:{type(obj).__name__}:{len(obj)}\n".encode())
        for i, value in enumerate(obj):
            _hash_into(h, value, f"{where}[{i}]")
    else:
        h.update(f"{where}:{type(obj).__name__}:{obj!r}\n".encode())


def state_checksum(state: dict[str, Any]) -> str:
    """SHA-256 (hex) of a checkpoint dict, ignoring its own ``"sha256"`` entry.

    Covers every entry in order: for a tensor its path, dtype, shape and raw
    bytes; for any other value its path, type and ``repr``. It is a function
    of the values, not of the file's layout, so it survives a
    ``torch.save``/``torch.load`` round trip exactly.
    """
    h = hashlib.sha256()
    _hash_into(h, {k: v for k, v in state.items() if k != _CHECKSUM}, "")
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Atomically ``torch.save`` a checkpoint dict with its checksum (see the module docstring)."""
    state = {"format": FORMAT, **{k: v for k, v in state.items() if k != _CHECKSUM}}
    state[_CHECKSUM] = state_checksum(state)
    return atomic_write(path, lambda fh: torch.save(state, fh))


def _non_finite(obj: Any, where: str) -> str | None:
    """Path of the first floating tensor under ``obj`` holding NaN or inf, else None."""
    if isinstance(obj, torch.Tensor):
        return where if obj.is_floating_point() and not bool(torch.isfinite(obj).all()) else None
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    for key, value in items:
        found = _non_finite(value, f"{where}[{key!r}]")
        if found is not None:
            return found
    return None


def _checkpoint_file(path: str | os.PathLike) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"checkpoint must be a file or run-folder path; got {type(path).__name__} {path!r}")
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / CHECKPOINT_NAME
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint {str(p)!r} does not exist")
    return p


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load and check a checkpoint with ``torch.load(..., weights_only=True)`` on the CPU.

    ``path`` may be the checkpoint file or the run folder that holds
    ``checkpoint.pt``. Anything that is not an infobench checkpoint (other
    pickles, corrupt or truncated files) raises ``ValueError`` naming the file.
    """
    p = _checkpoint_file(path)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except (
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        OSError,
        ValueError,
        AttributeError,
    ) as exc:
        raise ValueError(
            f"cannot read checkpoint {str(p)!r} with weights_only=True: {refused_load_reason(exc)}"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{str(p)!r} is not an infobench generator checkpoint (no format tag {FORMAT!r})")
    recorded = state.pop(_CHECKSUM, None)
    if recorded is None:
        warnings.warn(
            f"checkpoint {str(p)!r} has no checksum (written by an older infobench): it is loaded unverified",
            UnverifiedCheckpointWarning,
            stacklevel=3,
        )
    elif recorded != state_checksum(state):
        raise ValueError(
            f"checkpoint {str(p)!r} is corrupt: checksum mismatch (its contents changed after it was "
            "written); restore it from a copy or train again"
        )
    missing = [k for k in _REQUIRED if k not in state]
    if missing:
        raise ValueError(f"checkpoint {str(p)!r} lacks {missing}")
    for key in _FINITE:
        bad = _non_finite(state.get(key, {}), key)
        if bad is not None:
            raise ValueError(
                f"checkpoint {str(p)!r} holds non-finite values (NaN or inf) in {bad}: the run diverged "
                "before it was saved; train again with a lower --lr"
            )
    state["config"] = TrainConfig.from_json(state["config"])
    state["path"] = str(p)
    return state


@contextlib.contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    """Evaluation mode for sampling, restoring the previous mode (the module may be mid-training)."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


class TrainedGenerator:
    """A trained GAN generator or VAE decoder that draws images.

    Obtain one with :func:`load`; :func:`infobench.generators.train` passes
    one (sharing the live networks) to its ``callback``.

    Attributes
    ----------
    config : TrainConfig
    epoch : int
        Completed training epochs.
    image_shape : (C, H, W)
    """

    def __init__(
        self,
        config: TrainConfig,
        network: nn.Module,
        epoch: int,
        device: torch.device,
        mixture: dict[str, torch.Tensor] | None = None,
    ):
        self.config = config
        self.network = network
        self.epoch = int(epoch)
        self.device = device
        self.mixture = mixture

    @property
    def kind(self) -> str:
        return self.config.kind

    @property
    def image_shape(self) -> tuple[int, int, int]:
        channels, height, width = self.config.image_shape
        return (channels, height, width)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def __repr__(self) -> str:
        return (
            f"TrainedGenerator(kind={self.kind!r}, dataset={self.config.dataset!r}, "
            f"image_shape={self.image_shape}, epoch={self.epoch}, device={str(self.device)!r})"
        )

    def to(self, device: Any) -> TrainedGenerator:
        self.device = resolve_device(device)
        self.network.to(self.device)
        return self

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] for latent codes ``z`` of shape (B, latent_dim), float32 on ``self.device``.

        GAN: ``(tanh(G(z)) + 1) / 2``; VAE: the decoder mean ``sigmoid(logits)``
        (the conditional expectation E[x | z], not a noisy draw).
        """
        with torch.no_grad(), _eval_mode(self.network):
            z = z.to(self.device, torch.float32)
            if self.kind == "vae":
                return cast(ConvVAE, self.network).decode_mean(z).float()
            return ((torch.tanh(self.network(z)) + 1) / 2).float()

    def latent_codes(self, n: int, seed: Any = 0, *, prior: str | None = None) -> torch.Tensor:
        """``n`` latent codes (float32, CPU) drawn from ``seed``; see :meth:`sample` for ``prior``."""
        n = check_int("n", n, low=1)
        prior = self._prior(prior)
        gen = as_torch_generator(seed, "cpu")
        if prior == "mixture":
            assert self.mixture is not None  # load() and _prior refuse a mixture prior without a fitted mixture
            return sample_mixture(self.mixture, n, gen)
        return torch.randn(n, self.latent_dim, generator=gen)

    def _prior(self, prior: str | None) -> str:
        if prior is None:
            return self.config.latent_prior or "normal"
        check_choice("prior", prior, ("normal", "mixture"))
        if prior == "mixture" and self.mixture is None:
            raise ValueError(
                f"prior='mixture' needs the latent mixture of a VAE checkpoint; this {self.kind} has none "
                "(use prior='normal')"
            )
        return prior

    def sample(self, n: int, seed: Any = 0, *, batch_size: int = 1024, prior: str | None = None) -> torch.Tensor:
        """Draw ``n`` images.

        Latent codes are drawn on the CPU from ``seed`` (the same codes on every
        device) and decoded in batches of ``batch_size``.

        Parameters
        ----------
        n : int
            Number of images, >= 1.
        seed : int, numpy.random.Generator or torch.Generator
        batch_size : int
            Images decoded per forward pass (memory bound only).
        prior : {None, "normal", "mixture"}
            Distribution of the latent codes: ``"normal"`` is N(0, I) (GANs,
            and the VAE's prior); ``"mixture"`` is the VAE's ex-post Gaussian
            mixture fitted to its encoder means. ``None``: the run's
            ``latent_prior`` (``"mixture"`` for a default VAE).

        Returns
        -------
        torch.Tensor
            float32 on the CPU, shape ``(n, C, H, W)``, values in [0, 1].
        """
        batch_size = check_int("batch_size", batch_size, low=1)
        z = self.latent_codes(n, seed, prior=prior)
        images = torch.cat([self.decode(z[i : i + batch_size]).cpu() for i in range(0, len(z), batch_size)])
        bad = int((~torch.isfinite(images)).flatten(1).any(dim=1).sum())
        if bad:
            raise ValueError(
                f"{self!r} drew {bad} of {n} images with non-finite pixels (NaN or inf): its weights "
                "are broken (a diverged run); train again with a lower --lr"
            )
        return images


def sampling_weights(config: TrainConfig) -> str:
    """Name of the state dict that draws images: the VAE, the generator's moving average, or the generator."""
    if config.kind == "vae":
        return "vae"
    return "generator_ema" if config.ema is not None else "generator"


def load(checkpoint: str | os.PathLike, *, device: Any = "auto") -> TrainedGenerator:
    """Load a trained generator for sampling.

    Parameters
    ----------
    checkpoint : path
        A ``checkpoint.pt`` written by :func:`infobench.generators.train`, or
        its run folder.
    device : str or torch.device
        Where to run the network; ``"auto"`` picks CUDA when available.

    Returns
    -------
    TrainedGenerator
        ``.sample(n, seed)`` -> float32 tensor (n, C, H, W) in [0, 1].

    Examples
    --------
    >>> model = load("runs/vae-digits")                      # doctest: +SKIP
    >>> images = model.sample(10_000, seed=0)                # doctest: +SKIP
    """
    dev = resolve_device(device)
    state = read_checkpoint(checkpoint)
    cfg: TrainConfig = state["config"]
    net = build_networks(cfg)["vae" if cfg.kind == "vae" else "generator"]
    name = sampling_weights(cfg)
    if name not in state["models"]:
        raise ValueError(f"checkpoint {state['path']!r} has no {name!r} weights")
    try:
        net.load_state_dict(state["models"][name])
    except RuntimeError as exc:
        raise ValueError(
            f"checkpoint {state['path']!r} weights do not match its config ({str(exc).splitlines()[0]})"
        ) from None
    mixture = state.get("latent_mixture")
    if cfg.kind == "vae" and cfg.latent_prior == "mixture" and mixture is None:
        raise ValueError(f"checkpoint {state['path']!r} has latent_prior='mixture' but no fitted mixture")
    return TrainedGenerator(cfg, net.to(dev), int(state["epoch"]), dev, mixture)
