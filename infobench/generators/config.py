"""Training configuration of the reference generators: defaults, validation, networks.

A :class:`TrainConfig` is stored as JSON next to (and inside) every
checkpoint; it is everything needed to rebuild the networks and to check that
a resumed run continues the same experiment.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch
from torch import nn

from infobench._validation import check_bool, check_choice, check_float, check_int, spawn_seeds
from infobench.data import SPLITS
from infobench.generators.models import DECODERS, ConvVAE, Discriminator, Generator, dcgan_init

__all__ = ["KINDS", "DEFAULTS", "TrainConfig", "build_networks", "make_config", "run_seeds"]

KINDS = ("gan", "wgan-gp", "vae")

# Defaults chosen on scikit-learn's digits (benchmarks/bench_generators.py):
# each reaches the quality bar (a logistic regression trained on
# real digits assigns >= 10 classes with mean max-probability > 0.8) inside
# the default epochs, a few minutes at most on 2 shared CPU cores.
DEFAULTS: dict[str, dict[str, Any]] = {
    # Adam(2e-4, betas (0.5, 0.999)): Radford et al. (2016), section 4.
    # Samples come from an exponential moving average of the generator's
    # weights (Yazici et al., 2019, "The unusual effectiveness of averaging in
    # GAN training").
    "gan": dict(epochs=80, batch_size=64, lr=2e-4, beta1=0.5, beta2=0.999, latent_dim=32, ema=0.999),
    # lambda 10 and Adam betas (0, 0.9) as in Gulrajani et al. (2017),
    # algorithm 1; n_critic 2 and lr 2e-4 (paper: 5 and 1e-4) reach the quality
    # bar on the digits in about half the wall time (0.80 after 80 epochs
    # against 0.75 with the paper's values after 120).
    "wgan-gp": dict(
        epochs=100,
        batch_size=64,
        lr=2e-4,
        beta1=0.0,
        beta2=0.9,
        latent_dim=32,
        n_critic=2,
        gp_weight=10.0,
        ema=0.999,
    ),
    # latent_prior="mixture": samples decode z drawn from a Gaussian mixture
    # fitted to the encoder means after each epoch (ex-post density
    # estimation, Ghosh et al., 2020, section 4), which avoids the regions of
    # N(0, I) that no training image maps to (mean classifier confidence 0.86
    # against 0.71 with N(0, I) codes after 60 epochs); "normal" samples N(0, I).
    "vae": dict(
        epochs=50,
        batch_size=64,
        lr=1e-3,
        beta1=0.9,
        beta2=0.999,
        latent_dim=16,
        decoder="bernoulli",
        latent_prior="mixture",
        mixture_components=10,
    ),
}


def default_width(image_shape: tuple[int, int, int]) -> int:
    """Channels of the finest hidden layer: 32 up to 16x16 pixels (digits), 64 above (MNIST, 32x32).

    Small images need little capacity, and on a CPU the cost of a step grows
    with width squared.
    """
    return 32 if image_shape[1] * image_shape[2] <= 256 else 64


LATENT_PRIORS = ("mixture", "normal")
# Settings that exist for some kinds only (None elsewhere).
_KIND_ONLY = {
    "decoder": ("vae",),
    "latent_prior": ("vae",),
    "mixture_components": ("vae",),
    "n_critic": ("wgan-gp",),
    "gp_weight": ("wgan-gp",),
    "ema": ("gan", "wgan-gp"),
}
# Fields a resumed run may change; every other field must match the checkpoint.
RESUMABLE_CHANGES = ("epochs", "compile")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (JSON-serialisable).

    ``image_shape``, ``num_classes`` and ``data_sha256`` are filled in from
    the loaded dataset; ``data_sha256`` lets a resumed run check that it sees
    exactly the same images.
    """

    kind: str
    dataset: str
    image_shape: tuple[int, int, int]
    epochs: int
    batch_size: int
    lr: float
    beta1: float
    beta2: float
    latent_dim: int
    width: int
    seed: int
    split: str = "train"
    split_seed: int = 0
    max_samples: int | None = None
    num_classes: int | None = None
    data_sha256: str = ""
    decoder: str | None = None
    n_critic: int | None = None
    gp_weight: float | None = None
    ema: float | None = None
    latent_prior: str | None = None
    mixture_components: int | None = None
    amp: bool = False
    compile: bool = False
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"checkpoint config is not valid JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise ValueError("checkpoint config must be a JSON object")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - names)
        if unknown:
            raise ValueError(f"checkpoint config has unknown fields {unknown}; was it written by a newer infobench?")
        if raw.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
            raise ValueError(
                f"checkpoint format_version {raw['format_version']} is newer than this infobench ({FORMAT_VERSION})"
            )
        if "image_shape" in raw:
            raw["image_shape"] = tuple(raw["image_shape"])
        try:
            cfg = cls(**raw)
        except TypeError as exc:
            raise ValueError(f"checkpoint config is incomplete ({exc})") from None
        return check_config(cfg)

    def differences(self, other: TrainConfig) -> list[str]:
        """Names of fields (other than those a resume may change) that differ."""
        return [
            f.name
            for f in fields(self)
            if f.name not in RESUMABLE_CHANGES and getattr(self, f.name) != getattr(other, f.name)
        ]


def check_config(cfg: TrainConfig) -> TrainConfig:
    """Validate every field; messages name the parameter and the value."""
    check_choice("kind", cfg.kind, KINDS)
    check_int("epochs", cfg.epochs, low=1)
    check_int("batch_size", cfg.batch_size, low=2)
    check_float("lr", cfg.lr, low=0.0, low_open=True)
    check_float("beta1", cfg.beta1, low=0.0, high=1.0, high_open=True)
    check_float("beta2", cfg.beta2, low=0.0, high=1.0, high_open=True)
    check_int("latent_dim", cfg.latent_dim, low=1)
    check_int("width", cfg.width, low=1)
    check_int("seed", cfg.seed, low=0)
    check_choice("split", cfg.split, SPLITS)
    check_int("split_seed", cfg.split_seed, low=0)
    if cfg.max_samples is not None:
        check_int("max_samples", cfg.max_samples, low=2)
    check_bool("amp", cfg.amp)
    check_bool("compile", cfg.compile)
    if cfg.kind == "vae":
        check_choice("decoder", cfg.decoder, DECODERS)
        check_choice("latent_prior", cfg.latent_prior, LATENT_PRIORS)
        check_int("mixture_components", cfg.mixture_components, low=1)
    if cfg.kind == "wgan-gp":
        check_int("n_critic", cfg.n_critic, low=1)
        check_float("gp_weight", cfg.gp_weight, low=0.0)
    if cfg.kind != "vae" and cfg.ema is not None:
        check_float("ema", cfg.ema, low=0.0, high=1.0, high_open=True)
    for name, kinds in _KIND_ONLY.items():
        if cfg.kind not in kinds and getattr(cfg, name) is not None:
            only = " or ".join(f"kind={k!r}" for k in kinds)
            raise ValueError(f"{name} applies to {only} only; got {name}={getattr(cfg, name)!r} with kind={cfg.kind!r}")
    return cfg


def make_config(kind: str, dataset: str, image_shape: tuple[int, int, int], **options: Any) -> TrainConfig:
    """A validated config: ``options`` that are None take the per-kind defaults."""
    check_choice("kind", kind, KINDS)
    values = dict(DEFAULTS[kind])
    for name, value in options.items():
        if value is not None:
            values[name] = value
        elif name not in values:
            values[name] = None
    channels, height, width = (int(s) for s in image_shape)
    shape = (channels, height, width)
    if values.get("width") is None:
        values["width"] = default_width(shape)
    cfg = TrainConfig(kind=kind, dataset=dataset, image_shape=shape, **values)
    return check_config(cfg)


def run_seeds(seed: int) -> dict[str, int]:
    """Independent seeds for weight initialisation, data order, noise and the latent mixture fit."""
    init, data, noise, mixture = spawn_seeds(seed, 4)
    return {"init": init, "data": data, "noise": noise, "mixture": mixture}


def build_networks(cfg: TrainConfig) -> dict[str, nn.Module]:
    """The networks of ``cfg``, initialised deterministically from ``cfg.seed``.

    Initialisation draws from a forked global RNG seeded here, so building a
    model neither depends on nor disturbs the caller's random state.
    """
    init_seed = run_seeds(cfg.seed)["init"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        if cfg.kind == "vae":
            assert cfg.decoder is not None  # every VAE config names its decoder (check_config)
            return {"vae": ConvVAE(cfg.latent_dim, cfg.image_shape, cfg.width, cfg.decoder)}
        gen = Generator(cfg.latent_dim, cfg.image_shape, cfg.width, norm="batch")
        disc = Discriminator(cfg.image_shape, cfg.width, norm="batch" if cfg.kind == "gan" else "layer")
        dcgan_init(gen)
        dcgan_init(disc)
        return {"generator": gen, "discriminator": disc}


def with_epochs(cfg: TrainConfig, epochs: int) -> TrainConfig:
    return replace(cfg, epochs=check_int("epochs", epochs, low=1))
