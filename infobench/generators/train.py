"""Training loops of the reference generators, with exact resume.

:func:`train` writes into its ``out`` folder:

``config.json``      the :class:`~infobench.generators.config.TrainConfig`
``checkpoint.pt``    models, optimizers, RNG states and history; replaced
                     atomically after every epoch
``log.csv``          one row per epoch (losses, entropy balance, seconds)
``losses.png``       loss curves (and the GAN's entropy balance)
``samples.png``      a grid of 64 samples drawn with a fixed seed
``epochs/epoch-NNNN.pt``  copies of the checkpoint at chosen epochs (``keep_every``), for
                     scores through training

All randomness (data order, latent noise, interpolation weights) is drawn
from two CPU ``torch.Generator`` objects whose states are checkpointed, and
the weights are initialised under a forked, seeded RNG, so on the CPU a run
that is interrupted and resumed ends bit-for-bit where an uninterrupted run
ends.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import torch
from torch.nn import functional as F

from infobench._io import atomic_write
from infobench._lock import output_lock
from infobench._progress import progress as show_progress
from infobench._validation import check_bool, check_int, resolve_device
from infobench.data import ImageSet, load_dataset
from infobench.generators.checkpoint import (
    CHECKPOINT_NAME,
    TrainedGenerator,
    read_checkpoint,
    sampling_weights,
    save_checkpoint,
)
from infobench.generators.config import KINDS, TrainConfig, build_networks, make_config, run_seeds
from infobench.generators.models import (
    ConvVAE,
    binary_entropy_from_logits,
    fit_latent_mixture,
    gan_losses,
    gaussian_kl_per_dim,
    gradient_penalty,
    reconstruction_nll,
)

__all__ = ["train", "Trainer", "make_trainer", "kept_checkpoints", "GRID_SEED", "LOG_NAME", "KEPT_DIR"]

LOG_NAME = "log.csv"
CONFIG_NAME = "config.json"
LOSSES_PNG = "losses.png"
SAMPLES_PNG = "samples.png"
KEPT_DIR = "epochs"
GRID_SEED = 20240601  # fixed so that sample grids of different epochs/runs are comparable
GRID_SIZE = 64
MIXTURE_MAX_CODES = 10_000  # bounds the EM cost per epoch on MNIST-sized data


class Trainer:
    """State and one-epoch update of a training run (subclassed per model kind).

    Parameters
    ----------
    config : TrainConfig
    data : ImageSet
        Training images in [0, 1]; moved to ``device`` once.
    device : torch.device
    """

    def __init__(self, config: TrainConfig, data: ImageSet, device: torch.device) -> None:
        self.config = config
        self.device = device
        self.networks = {k: v.to(device).train() for k, v in build_networks(config).items()}
        betas = (config.beta1, config.beta2)
        self.optimizers = {
            k: torch.optim.Adam(v.parameters(), lr=config.lr, betas=betas) for k, v in self.networks.items()
        }
        seeds = run_seeds(config.seed)
        self.data_gen = torch.Generator().manual_seed(seeds["data"])
        self.noise_gen = torch.Generator().manual_seed(seeds["noise"])
        self.images = self.prepare(data.images).to(device)
        self.forward = {k: self._compiled(k, v) for k, v in self.networks.items()}
        self.epoch = 0
        self.step = 0
        self.history: list[dict[str, Any]] = []
        # Networks not trained by an optimiser (moving averages), checkpointed with the others.
        self.averaged: dict[str, torch.nn.Module] = {}
        self.mixture: dict[str, torch.Tensor] | None = None

    # -- hooks for subclasses
    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Map [0, 1] images to the scale the networks train on."""
        return images

    def train_step(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def end_epoch(self) -> None:
        """Work after each epoch that draws no training randomness (e.g. refitting a sampler)."""

    def _compiled(self, name: str, net: torch.nn.Module):
        return torch.compile(net) if self.config.compile else net

    # -- shared machinery
    def randn(self, *shape: int) -> torch.Tensor:
        """Standard normal noise drawn on the CPU (device-independent stream), then moved."""
        return torch.randn(*shape, generator=self.noise_gen).to(self.device, non_blocking=True)

    def rand(self, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=self.noise_gen).to(self.device, non_blocking=True)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.config.amp:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @property
    def batches_per_epoch(self) -> int:
        n, b = self.images.shape[0], self.config.batch_size
        # The incomplete last batch is dropped (a fresh permutation each epoch
        # uses every image equally often on average) unless it is the only one.
        return max(1, n // b)

    def batches(self) -> Iterator[torch.Tensor]:
        n, b = self.images.shape[0], self.config.batch_size
        perm = torch.randperm(n, generator=self.data_gen)
        for i in range(self.batches_per_epoch):
            yield self.images[perm[i * b : (i + 1) * b].to(self.device)]

    def run_epoch(self, on_step: Callable[[dict[str, torch.Tensor]], None] | None = None) -> dict[str, Any]:
        """Train for one pass over the data; return (and record) the epoch's mean metrics."""
        t0 = time.perf_counter()
        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = defaultdict(int)
        for batch in self.batches():
            metrics = self.train_step(batch)
            self.step += 1
            for k, v in metrics.items():
                sums[k] = sums[k] + v if k in sums else v.clone()
                counts[k] += 1
            if on_step is not None:
                on_step(metrics)
        self.epoch += 1
        self.end_epoch()
        row: dict[str, Any] = {"epoch": self.epoch, "step": self.step}
        for k, v in sums.items():
            values = (v / counts[k]).detach().cpu()
            if values.ndim == 0:
                row[k] = float(values)
            else:  # a vector metric becomes one column per entry
                row.update({f"{k}_{j:02d}": float(x) for j, x in enumerate(values)})
        row["seconds"] = time.perf_counter() - t0
        self.history.append(row)
        return row

    def state_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_json(),
            "epoch": self.epoch,
            "step": self.step,
            "device": self.device.type,
            "models": {k: v.state_dict() for k, v in {**self.networks, **self.averaged}.items()},
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "rng": {"data": self.data_gen.get_state(), "noise": self.noise_gen.get_state()},
            "history": list(self.history),
            **({"latent_mixture": self.mixture} if self.mixture is not None else {}),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        where = state.get("path", "checkpoint")
        try:
            for k, net in {**self.networks, **self.averaged}.items():
                net.load_state_dict(state["models"][k])
            for k, opt in self.optimizers.items():
                opt.load_state_dict(state["optimizers"][k])
            self.data_gen.set_state(state["rng"]["data"])
            self.noise_gen.set_state(state["rng"]["noise"])
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise ValueError(f"checkpoint {where!r} cannot be resumed: {type(exc).__name__}: {exc}") from None
        self.epoch = int(state["epoch"])
        self.step = int(state.get("step", 0))
        self.history = [dict(row) for row in state.get("history", [])]
        self.mixture = state.get("latent_mixture")

    def sampler(self) -> TrainedGenerator:
        """A sampler sharing the live networks (sampling does not touch the training state)."""
        nets = {**self.networks, **self.averaged}
        return TrainedGenerator(self.config, nets[sampling_weights(self.config)], self.epoch, self.device, self.mixture)


class _AdversarialTrainer(Trainer):
    """Shared parts of the GAN and WGAN-GP: tanh image scale and the generator's moving average."""

    def __init__(self, config: TrainConfig, data: ImageSet, device: torch.device) -> None:
        super().__init__(config, data, device)
        if config.ema is not None:
            self.averaged["generator_ema"] = copy.deepcopy(self.networks["generator"]).requires_grad_(False)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        return images * 2 - 1  # tanh range

    @torch.no_grad()
    def update_average(self, updates: int) -> None:
        """theta_ema <- d theta_ema + (1 - d) theta after generator update number ``updates``.

        d = min(ema, (1 + t) / (10 + t)) warms up so that the average is not
        dominated by the random initial weights early on; buffers (batch-norm
        statistics) are copied.
        """
        if self.config.ema is None:
            return
        decay = min(self.config.ema, (1 + updates) / (10 + updates))
        ema, gen = self.averaged["generator_ema"], self.networks["generator"]
        for pe, p in zip(ema.parameters(), gen.parameters()):
            pe.lerp_(p.detach(), 1 - decay)
        for be, b in zip(ema.buffers(), gen.buffers()):
            be.copy_(b)


class GANTrainer(_AdversarialTrainer):
    """DCGAN with the non-saturating generator loss (Goodfellow et al., 2014, section 3)."""

    def train_step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        G, D = self.forward["generator"], self.forward["discriminator"]
        opt_g, opt_d = self.optimizers["generator"], self.optimizers["discriminator"]
        z = self.randn(real.shape[0], self.config.latent_dim)
        with self.autocast():
            fake = torch.tanh(G(z))
            real_logits = D(real).float()
            fake_logits = D(fake.detach()).float()
            loss_d = gan_losses(real_logits, fake_logits)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        with self.autocast():
            gen_logits = D(fake).float()
            loss_g = F.binary_cross_entropy_with_logits(gen_logits, torch.ones_like(gen_logits))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        self.update_average(self.step)
        h_real = binary_entropy_from_logits(real_logits.detach()).mean()
        h_fake = binary_entropy_from_logits(fake_logits.detach()).mean()
        return {
            "loss_d": loss_d.detach(),
            "loss_g": loss_g.detach(),
            "balance": (h_real + h_fake) / 2,
            "balance_real": h_real,
            "balance_fake": h_fake,
            "d_real": torch.sigmoid(real_logits.detach()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach()).mean(),
        }


class WGANGPTrainer(_AdversarialTrainer):
    """WGAN-GP (Gulrajani et al., 2017, algorithm 1): one critic step per batch, a
    generator step after every ``n_critic`` critic steps.

    No entropy balance is logged: the critic outputs unbounded scores, not
    probabilities, so their binary entropy is undefined.
    """

    def __init__(self, config: TrainConfig, data: ImageSet, device: torch.device) -> None:
        super().__init__(config, data, device)
        # check_config sets both for this kind
        assert config.n_critic is not None and config.gp_weight is not None
        self.n_critic: int = config.n_critic
        self.gp_weight: float = config.gp_weight

    def _compiled(self, name: str, net: torch.nn.Module):
        # The gradient penalty needs double backward, which torch.compile does
        # not support: the critic always runs eagerly.
        return net if name == "discriminator" else super()._compiled(name, net)

    def train_step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        G, D = self.forward["generator"], self.forward["discriminator"]
        opt_g, opt_d = self.optimizers["generator"], self.optimizers["discriminator"]
        b = real.shape[0]
        z = self.randn(b, self.config.latent_dim)
        eps = self.rand(b, 1, 1, 1)
        with self.autocast():
            with torch.no_grad():
                fake = torch.tanh(G(z))
            c_real = D(real).float().mean()
            c_fake = D(fake).float().mean()
            gp = gradient_penalty(D, real, fake, eps).float()
            loss_d = c_fake - c_real + self.gp_weight * gp
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        out = {"loss_d": loss_d.detach(), "wasserstein": (c_real - c_fake).detach(), "gp": gp.detach()}
        # self.step counts critic steps over the whole run (it is checkpointed),
        # so the generator schedule continues exactly across epochs and resumes.
        if (self.step + 1) % self.n_critic == 0:
            z = self.randn(b, self.config.latent_dim)
            with self.autocast():
                loss_g = -D(torch.tanh(G(z))).float().mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            self.update_average(self.step // self.n_critic)
            out["loss_g"] = loss_g.detach()
        return out


class VAETrainer(Trainer):
    """Maximises the ELBO E_q[log p(x|z)] - KL(q(z|x) || p(z)) (Kingma & Welling, 2014, eq. 3)."""

    def __init__(self, config: TrainConfig, data: ImageSet, device: torch.device) -> None:
        super().__init__(config, data, device)
        # check_config sets both for this kind
        assert config.decoder is not None and config.mixture_components is not None
        self.decoder: str = config.decoder
        self.mixture_components: int = config.mixture_components
        self.vae = cast(ConvVAE, self.networks["vae"])

    def train_step(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        vae = self.vae
        noise = self.randn(x.shape[0], self.config.latent_dim)
        with self.autocast():
            logits, mu, logvar = self.forward["vae"](x, noise)
        log_sigma = getattr(vae, "log_sigma", None)
        recon = reconstruction_nll(logits.float(), x, self.decoder, log_sigma)
        kl_dim = gaussian_kl_per_dim(mu.float(), logvar.float())
        kl = kl_dim.sum()
        loss = recon + kl
        opt = self.optimizers["vae"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        # kl is the rate (nats per image); kl_dim its split over latent
        # dimensions: dimensions near 0 are unused by the encoder.
        return {"neg_elbo": loss.detach(), "recon": recon.detach(), "kl": kl.detach(), "kl_dim": kl_dim.detach()}

    @torch.no_grad()
    def end_epoch(self) -> None:
        """Refit the ex-post latent mixture to the encoder means of (up to 10,000) training images."""
        if self.config.latent_prior != "mixture":
            return
        vae = self.vae
        seed = run_seeds(self.config.seed)["mixture"]
        images = self.images
        if len(images) > MIXTURE_MAX_CODES:
            pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:MIXTURE_MAX_CODES]
            images = images[pick.to(self.device)]
        mu = torch.cat([vae.encode(images[i : i + 1024])[0].float().cpu() for i in range(0, len(images), 1024)])
        self.mixture = fit_latent_mixture(mu, self.mixture_components, seed)


_TRAINERS = {"gan": GANTrainer, "wgan-gp": WGANGPTrainer, "vae": VAETrainer}


def make_trainer(config: TrainConfig, data: ImageSet, device: Any = "cpu") -> Trainer:
    """The :class:`Trainer` of ``config.kind`` (for benchmarks and custom loops)."""
    return _TRAINERS[config.kind](config, data, resolve_device(device))


# ------------------------------------------------------------------ files
def write_log(history: list[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write the per-epoch history as CSV (columns in first-seen order), atomically."""
    columns: list[str] = []
    for row in history:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    text = buf.getvalue()
    return atomic_write(path, lambda fh: fh.write(text), binary=False)


def write_figures(trainer: Trainer, out: Path) -> None:
    # deferred: training_plots imports matplotlib, a heavy optional dependency
    from infobench.report.training_plots import plot_training, save_sample_grid

    if trainer.history:
        plot_training(trainer.history, trainer.config.kind, out / LOSSES_PNG)
    images = trainer.sampler().sample(GRID_SIZE, seed=GRID_SEED)
    save_sample_grid(images, out / SAMPLES_PNG, title=f"{trainer.config.kind}, epoch {trainer.epoch}")


def _format_metrics(metrics: dict[str, Any]) -> str:
    keys = [k for k in ("loss_d", "loss_g", "balance", "wasserstein", "neg_elbo", "recon", "kl") if k in metrics]
    return "  ".join(f"{k} {float(metrics[k]):.4g}" for k in keys)


# ------------------------------------------------------------------ public
def train(
    kind: str,
    dataset: str | ImageSet = "digits",
    *,
    out: str | os.PathLike,
    epochs: int | None = None,
    device: Any = "auto",
    resume: bool = False,
    seed: int = 0,
    progress: bool = False,
    batch_size: int | None = None,
    lr: float | None = None,
    betas: tuple[float, float] | None = None,
    latent_dim: int | None = None,
    width: int | None = None,
    decoder: str | None = None,
    n_critic: int | None = None,
    gp_weight: float | None = None,
    ema: float | None = None,
    latent_prior: str | None = None,
    mixture_components: int | None = None,
    split: str = "train",
    split_seed: int = 0,
    data_root: str | os.PathLike | None = None,
    max_samples: int | None = None,
    amp: bool = False,
    compile: bool = False,
    figures: bool = True,
    keep_every: int = 0,
    callback: Callable[[int, TrainedGenerator, dict[str, Any]], None] | None = None,
) -> Path:
    """Train a reference generator, checkpointing every epoch; return the checkpoint path.

    Parameters
    ----------
    kind : {"gan", "wgan-gp", "vae"}
        DCGAN with the non-saturating loss (Goodfellow et al., 2014; Radford
        et al., 2016); WGAN-GP (Gulrajani et al., 2017; lambda = ``gp_weight``,
        ``n_critic`` critic steps per generator step); convolutional VAE
        (Kingma & Welling, 2014) with a ``"bernoulli"`` or ``"gaussian"`` decoder.
    dataset : str or ImageSet
        A :func:`~infobench.data.load_dataset` spec (``"digits"``,
        ``"mnist:PATH"``, a folder, an ``.npz``) or images already loaded.
    out : path
        Run folder (created). It must not hold a run unless ``resume=True``.
    epochs : int, optional
        Total number of epochs (passes over the data). Default: per kind
        (``config.DEFAULTS``), or the checkpoint's value when resuming. A
        resumed run may raise it to train further.
    device : "auto", "cpu", "cuda", ...
        ``"auto"`` picks CUDA when available.
    resume : bool
        Continue the run in ``out`` from its last checkpoint (a fresh start if
        ``out`` holds none). Every setting but ``epochs`` and ``compile`` must
        match the checkpoint. On the CPU the result is bit-for-bit the result
        of an uninterrupted run.
    seed : int
        Seed of initial weights, data order and noise.
    progress : bool
        Report progress with the running losses on stderr (a live bar in a terminal, plain lines in a log).
    batch_size, lr, betas, latent_dim, width, decoder, n_critic, gp_weight
        Hyper-parameters; ``None`` takes the per-kind default
        (``config.DEFAULTS``; ``width`` defaults to 32 up to 16x16 pixels, 64 above).
    ema : float, optional
        GANs: decay of the moving average of the generator's weights that
        samples are drawn from (default 0.999; 0 samples the last weights).
    latent_prior : {"mixture", "normal"}, optional
        VAE: draw latent codes for sampling from an ex-post Gaussian mixture
        fitted to the encoder means after each epoch (default) or from the
        N(0, I) prior. Training (the ELBO) always uses the N(0, I) prior.
    mixture_components : int, optional
        VAE: components of that mixture (default 10).
    split, split_seed, data_root
        Passed to ``load_dataset`` (``split``, ``seed``, ``root``).
    max_samples : int, optional
        Train on the first ``max_samples`` images only (quick experiments).
    amp : bool
        bfloat16 autocast; CUDA only.
    compile : bool
        ``torch.compile`` the networks (the WGAN-GP critic stays eager).
    figures : bool
        Write ``losses.png`` and ``samples.png`` at the end.
    keep_every : int
        Also keep a copy of the checkpoint after every ``keep_every``-th
        epoch and after the last, as ``out/epochs/epoch-NNNN.pt``
        (:func:`kept_checkpoints`); 0 keeps none. A run interrupted between
        an epoch's checkpoint and its copy makes the copy when resumed.
    callback : callable, optional
        ``callback(epoch, sampler, row)`` after each epoch's checkpoint;
        ``sampler`` shares the live networks.

    Returns
    -------
    pathlib.Path
        ``out/checkpoint.pt``; load it with :func:`infobench.generators.load`.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}; got {kind!r}")
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a folder path; got {type(out).__name__} {out!r}")
    if not isinstance(dataset, (str, os.PathLike, ImageSet)):
        raise TypeError(
            f"dataset must be a dataset spec (str), a path or an ImageSet; got {type(dataset).__name__} {dataset!r}"
        )
    resume = check_bool("resume", resume)
    progress = check_bool("progress", progress)
    figures = check_bool("figures", figures)
    if epochs is not None:
        epochs = check_int("epochs", epochs, low=1)
    keep_every = check_int("keep_every", keep_every, low=0)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None; got {callback!r}")
    dev = resolve_device(device)
    if check_bool("amp", amp) and dev.type != "cuda":
        raise ValueError(f"amp=True (bfloat16 autocast) needs a CUDA device; got device {str(dev)!r}")
    beta1: float | None
    beta2: float | None
    if betas is not None:
        try:
            beta1, beta2 = (float(b) for b in betas)
        except (TypeError, ValueError):
            raise TypeError(f"betas must be a pair of floats; got {betas!r}") from None
    else:
        beta1 = beta2 = None
    name = dataset.name if isinstance(dataset, ImageSet) else os.fspath(dataset)
    options = dict(
        batch_size=batch_size, lr=lr, beta1=beta1, beta2=beta2, latent_dim=latent_dim, width=width,
        decoder=decoder, n_critic=n_critic, gp_weight=gp_weight, ema=ema, latent_prior=latent_prior,
        mixture_components=mixture_components, seed=seed, split=split,
        split_seed=split_seed, max_samples=max_samples, amp=amp, compile=compile,
    )  # fmt: skip
    # Validate every hyper-parameter before touching the data or the disk.
    make_config(kind, name, (1, 8, 8), epochs=epochs, **options)

    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out {str(out)!r} exists and is not a folder")
    # One training run per folder: a second one (another kind, or the same) is refused before it
    # reads the checkpoint, instead of both finishing and one result silently replacing the other.
    with output_lock(out, what="training folder"):
        return _train_locked(
            out,
            kind=kind,
            dataset=dataset,
            name=name,
            options=options,
            epochs=epochs,
            dev=dev,
            resume=resume,
            progress=progress,
            figures=figures,
            keep_every=keep_every,
            callback=callback,
            split=split,
            split_seed=split_seed,
            data_root=data_root,
            max_samples=max_samples,
        )


def _train_locked(
    out: Path,
    *,
    kind,
    dataset,
    name,
    options,
    epochs,
    dev,
    resume,
    progress,
    figures,
    keep_every,
    callback,
    split,
    split_seed,
    data_root,
    max_samples,
) -> Path:
    """The body of :func:`train`, run while this process holds the lock of ``out``."""
    ckpt_path = out / CHECKPOINT_NAME
    state = None
    if ckpt_path.exists():
        if not resume:
            raise ValueError(
                f"out {str(out)!r} already holds a training run ({CHECKPOINT_NAME}); "
                "pass resume=True (--resume) to continue it, or choose another folder"
            )
        state = read_checkpoint(ckpt_path)

    if isinstance(dataset, ImageSet):
        data = dataset
    else:
        data = load_dataset(name, split=split, seed=split_seed, root=data_root)
    if max_samples is not None:
        data = data.subset(slice(0, max_samples))
    if len(data) < 2:
        raise ValueError(f"dataset {name!r} needs at least 2 images to train; got {len(data)}")
    config = make_config(kind, name, data.shape, epochs=epochs, **options)
    config = replace(config, num_classes=data.num_classes, data_sha256=data.fingerprint())

    if state is not None:
        saved: TrainConfig = state["config"]
        if epochs is None:
            config = replace(config, epochs=saved.epochs)
        diff = saved.differences(config)
        if diff:
            detail = ", ".join(
                f"{k}={getattr(saved, k)!r} in the checkpoint but {getattr(config, k)!r} now" for k in diff
            )
            raise ValueError(f"cannot resume {str(ckpt_path)!r}: settings differ ({detail})")

    trainer = make_trainer(config, data, dev)
    if state is not None:
        trainer.load_state_dict(state)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / CONFIG_NAME, lambda fh: fh.write(config.to_json() + "\n"), binary=False)
    if state is None:
        save_checkpoint(ckpt_path, trainer.state_dict())
    else:
        _keep(out, trainer.epoch, config.epochs, keep_every)  # the copy an interruption may have missed

    try:
        with _progress_bar(progress, trainer) as advance:
            while trainer.epoch < config.epochs:
                row = trainer.run_epoch(on_step=advance)
                save_checkpoint(ckpt_path, trainer.state_dict())
                _keep(out, trainer.epoch, config.epochs, keep_every)
                write_log(trainer.history, out / LOG_NAME)
                if callback is not None:
                    callback(trainer.epoch, trainer.sampler(), row)
    finally:
        # Figures of whatever finished, also when interrupted; the checkpoint
        # of the last complete epoch is already on disk.
        if figures:
            write_figures(trainer, out)
    if trainer.history and not (out / LOG_NAME).exists():
        write_log(trainer.history, out / LOG_NAME)
    return ckpt_path


def _keep(out: Path, epoch: int, epochs: int, every: int) -> None:
    """Copy ``out/checkpoint.pt`` (which holds epoch ``epoch``) to ``out/epochs/`` when ``epoch`` is kept."""
    if not every or epoch < 1 or (epoch % every and epoch != epochs):
        return
    target = out / KEPT_DIR / f"epoch-{epoch:04d}.pt"
    if not target.exists():
        target.parent.mkdir(exist_ok=True)
        data = (out / CHECKPOINT_NAME).read_bytes()
        atomic_write(target, lambda fh: fh.write(data))


def kept_checkpoints(out: str | os.PathLike) -> dict[int, Path]:
    """The checkpoints kept by ``train(..., keep_every=E)`` in the run folder ``out``: epoch -> path, by epoch."""
    found = {}
    for p in (Path(out) / KEPT_DIR).glob("epoch-*.pt"):
        stem = p.stem.removeprefix("epoch-")
        if stem.isdigit():
            found[int(stem)] = p
    return dict(sorted(found.items()))


@contextlib.contextmanager
def _progress_bar(enabled: bool, trainer: Trainer):
    """Yield ``advance(metrics)``: progress over the batches of every epoch, with the running losses."""
    cfg = trainer.config
    total = cfg.epochs * trainer.batches_per_epoch
    done = trainer.epoch * trainer.batches_per_epoch
    every = max(1, trainer.batches_per_epoch // 5)  # .item() syncs a GPU: read the losses a few times per epoch
    enabled = enabled and trainer.epoch < cfg.epochs  # a finished run resumed: nothing to report
    with show_progress(
        enabled, total, f"{cfg.kind} epoch {trainer.epoch + 1}/{cfg.epochs}", unit="batches", completed=done
    ) as step:
        count = 0

        def advance(metrics: dict[str, torch.Tensor]) -> None:
            nonlocal count
            count += 1
            step(
                1,
                _format_metrics(metrics) if count % every == 0 else None,
                description=f"{cfg.kind} epoch {trainer.epoch + 1}/{cfg.epochs}",
            )

        yield advance if enabled else (lambda metrics: None)
