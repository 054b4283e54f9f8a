"""Speed and sample quality of the reference generators.

* ``test_epoch_cpu``: seconds per epoch of each model on the digits (CPU),
  side by side with a bare PyTorch loop doing the same optimiser steps on
  the same networks (no monitors, moving averages or mixture fits): the
  difference is the cost of the training machinery.
* ``test_time_to_quality``: full default training on the digits; after
  every few epochs a logistic-regression classifier trained on the real
  digits labels 1,000 samples. Quality bar: at least 10 distinct
  predicted classes and a mean max-probability above 0.8. Reference points
  are recorded next to it: the same classifier on held-out real digits, on
  uniform noise and on the untrained generator.
* ``test_epoch_cpu_rgb32``: seconds per epoch of the DCGAN and the VAE at
  their default sizes (width 64, four up-samplings from 2x2) on 10,000
  synthetic 3x32x32 RGB images (CIFAR-10's format), on the CPU.
* ``test_epoch_gpu``: seconds per epoch of
  the DCGAN and the VAE on 60,000 synthetic 28x28 images, and on 10,000
  3x32x32 RGB images, on CUDA; fp32 side by side with bfloat16 autocast
  (skipped without a GPU).

CPU runs use one intra-op thread: these small networks gain little from a
second one, and lose several-fold when the two cores are shared with other
work. Timings on a shared machine are noisy; compare within one run.
With ``--benchmark-disable`` everything shrinks to a smoke run (tiny subsets,
no quality assertion).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from benchmarks.conftest import pick
from infobench.generators import DEFAULTS, ImageSet, load_dataset, train
from infobench.generators.config import make_config
from infobench.generators.models import gan_losses, gaussian_kl_per_dim, gradient_penalty, reconstruction_nll
from infobench.generators.train import make_trainer

QUALITY_CLASSES = 10
QUALITY_MAXPROB = 0.8
N_EVAL = 1000


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", split="train"), load_dataset("digits", split="test")


@pytest.fixture(scope="module")
def classifier(digits):
    from sklearn.linear_model import LogisticRegression

    train_set, _ = digits
    # scikit-learn's defaults (C=1): calibrated enough that noise and blends of
    # two digits score far below real digits (see the reference rows).
    return LogisticRegression(max_iter=2000).fit(train_set.images.flatten(1).numpy(), train_set.labels.numpy())


def quality(classifier, images: torch.Tensor) -> dict[str, float]:
    proba = classifier.predict_proba(images.flatten(1).numpy())
    return {"classes": int(len(np.unique(proba.argmax(1)))), "maxprob": float(proba.max(1).mean())}


# ----------------------------------------------------------------- bare loops
def _bare_step(trainer, batch):
    """The same optimiser steps as the trainer, written as the textbook loop."""
    cfg, nets, opts = trainer.config, trainer.networks, trainer.optimizers
    z = torch.randn(batch.shape[0], cfg.latent_dim, device=batch.device)
    if cfg.kind == "vae":
        logits, mu, logvar = nets["vae"](batch, z)
        loss = reconstruction_nll(logits, batch, cfg.decoder, getattr(nets["vae"], "log_sigma", None))
        loss = loss + gaussian_kl_per_dim(mu, logvar).sum()
        opts["vae"].zero_grad()
        loss.backward()
        opts["vae"].step()
        return
    G, D = nets["generator"], nets["discriminator"]
    fake = torch.tanh(G(z))
    if cfg.kind == "gan":
        loss_d = gan_losses(D(batch), D(fake.detach()))
    else:
        eps = torch.rand(batch.shape[0], 1, 1, 1, device=batch.device)
        loss_d = (
            D(fake.detach()).mean() - D(batch).mean() + cfg.gp_weight * gradient_penalty(D, batch, fake.detach(), eps)
        )
    opts["discriminator"].zero_grad()
    loss_d.backward()
    opts["discriminator"].step()
    trainer.step += 1
    if cfg.kind == "gan" or trainer.step % cfg.n_critic == 0:
        out = D(torch.tanh(G(z)))
        loss_g = F.binary_cross_entropy_with_logits(out, torch.ones_like(out)) if cfg.kind == "gan" else -out.mean()
        opts["generator"].zero_grad()
        loss_g.backward()
        opts["generator"].step()


def bare_epoch(trainer):
    for batch in trainer.batches():
        _bare_step(trainer, batch)


# ----------------------------------------------------------------- CPU epochs
@pytest.mark.parametrize("kind", ["gan", "wgan-gp", "vae"])
@pytest.mark.parametrize("impl", ["infobench", "bare-loop"])
def test_epoch_cpu(benchmark, full_size, digits, kind, impl):
    torch.set_num_threads(1)  # see test_time_to_quality
    data = digits[0] if full_size else digits[0].subset(slice(0, 64))
    options = {} if full_size else {"width": 8}
    cfg = make_config(kind, "digits", data.shape, seed=0, **options)
    trainer = make_trainer(cfg, data, "cpu")
    benchmark.group = f"epoch-cpu-digits-{kind}"
    run = trainer.run_epoch if impl == "infobench" else (lambda: bare_epoch(trainer))
    benchmark.pedantic(run, rounds=pick(full_size, 5, 1), iterations=1, warmup_rounds=pick(full_size, 1, 0))


def synthetic_rgb32(n: int) -> ImageSet:
    gen = torch.Generator().manual_seed(0)
    return ImageSet(torch.rand(n, 3, 32, 32, generator=gen), None, "synthetic-rgb32", None)


@pytest.mark.parametrize("kind", ["gan", "vae"])
def test_epoch_cpu_rgb32(benchmark, full_size, kind):
    """One epoch on 10,000 RGB 32x32 images at the default network sizes (a smoke run: 128 images, width 8)."""
    torch.set_num_threads(1)  # see test_time_to_quality
    data = synthetic_rgb32(pick(full_size, 10_000, 128))
    options = {} if full_size else {"width": 8}
    cfg = make_config(kind, "synthetic-rgb32", data.shape, seed=0, **options)
    trainer = make_trainer(cfg, data, "cpu")
    benchmark.group = "epoch-cpu-rgb32"
    benchmark.extra_info.update(images=len(data), width=cfg.width, batch_size=cfg.batch_size)
    benchmark.pedantic(trainer.run_epoch, rounds=1, iterations=1)


# ----------------------------------------------------------------- quality
@pytest.mark.parametrize("kind", ["gan", "wgan-gp", "vae"])
def test_time_to_quality(benchmark, full_size, digits, classifier, tmp_path, kind):
    """Default training on the digits; records seconds until the quality bar is first met."""
    # One intra-op thread: these small networks gain little from a second
    # one, and lose several-fold when the two cores are shared.
    torch.set_num_threads(1)
    _, test_set = digits
    every = pick(full_size, 5, 1)
    epochs = pick(full_size, DEFAULTS[kind]["epochs"], 2)
    options = {} if full_size else {"max_samples": 64, "width": 8}
    curve: list[tuple[int, float, dict]] = []
    t_start = [0.0]

    def callback(epoch, sampler, row):
        if epoch % every == 0 or epoch == epochs:
            elapsed = time.perf_counter() - t_start[0]
            curve.append((epoch, elapsed, quality(classifier, sampler.sample(N_EVAL, seed=123))))

    def run():
        curve.clear()
        out = tmp_path / f"run-{len(list(tmp_path.iterdir()))}"
        t_start[0] = time.perf_counter()
        train(kind, "digits", out=out, epochs=epochs, device="cpu", seed=0, callback=callback, figures=False, **options)
        return out

    benchmark.group = "time-to-quality-digits"
    out = benchmark.pedantic(run, rounds=1, iterations=1)
    met = [(e, s) for e, s, q in curve if q["classes"] >= QUALITY_CLASSES and q["maxprob"] > QUALITY_MAXPROB]
    final = curve[-1][2]
    # Reference points for the classifier: real held-out digits, uniform noise, an untrained generator.
    rng = np.random.default_rng(0)
    noise = torch.from_numpy(rng.uniform(size=(N_EVAL, *test_set.shape)).astype(np.float32))
    from infobench.generators.checkpoint import read_checkpoint

    cfg = read_checkpoint(out)["config"]
    untrained = make_trainer(cfg, ImageSet(test_set.images, None, "t", None), "cpu")
    untrained.end_epoch()  # a VAE needs its latent mixture to sample
    benchmark.extra_info.update(
        {
            "epochs": epochs,
            "seconds_total": curve[-1][1],
            "seconds_per_epoch": curve[-1][1] / epochs,
            "final_classes": final["classes"],
            "final_maxprob": round(final["maxprob"], 4),
            "epochs_to_quality": met[0][0] if met else None,
            "seconds_to_quality": round(met[0][1], 1) if met else None,
            "curve": [(e, round(s, 1), round(q["maxprob"], 3), q["classes"]) for e, s, q in curve],
            "ref_real_test_maxprob": round(quality(classifier, test_set.images)["maxprob"], 4),
            "ref_uniform_noise_maxprob": round(quality(classifier, noise)["maxprob"], 4),
            "ref_untrained_maxprob": round(
                quality(classifier, untrained.sampler().sample(N_EVAL, seed=123))["maxprob"], 4
            ),
        }
    )
    print(f"\n{kind}: {benchmark.extra_info}")
    if full_size:
        assert final["classes"] >= QUALITY_CLASSES, benchmark.extra_info
        assert final["maxprob"] > QUALITY_MAXPROB, benchmark.extra_info


# ----------------------------------------------------------------- GPU epochs
# (shape, full-size n, smoke n, batch size): MNIST-sized grey images and CIFAR-sized RGB images.
GPU_DATA = {"28x28": ((1, 28, 28), 60_000, 2_048, 128), "rgb32": ((3, 32, 32), 10_000, 1_024, 64)}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("data_name", list(GPU_DATA))
@pytest.mark.parametrize("kind", ["gan", "vae"])
@pytest.mark.parametrize("precision", ["fp32", "bf16-autocast"])
def test_epoch_gpu(benchmark, full_size, data_name, kind, precision):
    shape, n_full, n_small, batch = GPU_DATA[data_name]
    gen = torch.Generator().manual_seed(0)
    data = ImageSet(torch.rand(pick(full_size, n_full, n_small), *shape, generator=gen), None, data_name, None)
    cfg = make_config(kind, f"synthetic-{data_name}", data.shape, seed=0, batch_size=batch, amp=precision != "fp32")
    trainer = make_trainer(cfg, data, "cuda")

    def run():
        trainer.run_epoch()
        torch.cuda.synchronize()

    benchmark.group = f"epoch-gpu-{data_name}-{kind}"
    benchmark.extra_info["device"] = torch.cuda.get_device_name()
    benchmark.pedantic(run, rounds=pick(full_size, 3, 1), iterations=1, warmup_rounds=1)
