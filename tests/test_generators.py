"""Reference generators: losses against closed forms, training, exact resume, checkpoints, sampling.

Training runs use a tiny slice of the digits (32 images, width-8 networks) so
that each epoch takes a fraction of a second on 2 CPU cores.
"""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import entropy as scipy_entropy
from torch import nn

from infobench.generators import DEFAULTS, KINDS, load, load_dataset, train
from infobench.generators.checkpoint import read_checkpoint, save_checkpoint
from infobench.generators.config import TrainConfig, make_config
from infobench.generators.models import (
    ConvVAE,
    Discriminator,
    Generator,
    binary_entropy,
    binary_entropy_from_logits,
    fit_latent_mixture,
    gan_losses,
    gaussian_kl_per_dim,
    gradient_penalty,
    reconstruction_nll,
    resolution_plan,
    sample_mixture,
)
from infobench.generators.train import make_trainer

TINY = dict(max_samples=32, batch_size=16, width=8, latent_dim=4, device="cpu", figures=False)


# ------------------------------------------------------------ balance monitor
def test_balance_is_log2_for_an_undecided_discriminator():
    assert binary_entropy(torch.tensor(0.5, dtype=torch.float64)).item() == pytest.approx(math.log(2), abs=1e-15)
    # A discriminator whose logits are 0 outputs 1/2 on every input.
    h = binary_entropy_from_logits(torch.zeros(7, 1, dtype=torch.float64))
    torch.testing.assert_close(h, torch.full((7, 1), math.log(2), dtype=torch.float64), rtol=0, atol=1e-15)


def test_binary_entropy_matches_scipy_and_limits(rng):
    p = rng.uniform(0.001, 0.999, size=50)
    ref = np.array([scipy_entropy([q, 1 - q]) for q in p])  # independent implementation, nats
    np.testing.assert_allclose(binary_entropy(torch.from_numpy(p)).numpy(), ref, rtol=1e-12)
    logits = torch.from_numpy(np.log(p / (1 - p)))
    np.testing.assert_allclose(binary_entropy_from_logits(logits).numpy(), ref, rtol=1e-9)
    # 0 log 0 = 0 at the ends; very confident logits stay finite and tend to 0.
    assert binary_entropy(torch.tensor([0.0, 1.0])).tolist() == [0.0, 0.0]
    far = binary_entropy_from_logits(torch.tensor([-200.0, 200.0], dtype=torch.float64))
    assert torch.isfinite(far).all() and far.max() < 1e-80
    assert binary_entropy(1).item() == 0.0  # ints accepted


# ------------------------------------------------------------ losses
def test_gan_discriminator_loss_closed_form(rng):
    r, f = torch.from_numpy(rng.normal(size=9)), torch.from_numpy(rng.normal(size=9))
    ref = (-torch.log(torch.sigmoid(r)) - torch.log(1 - torch.sigmoid(f))).mean()
    torch.testing.assert_close(gan_losses(r, f), ref, rtol=1e-12, atol=0)


def test_gradient_penalty_of_a_linear_critic():
    # D(x) = w.x + b has grad_x D = w everywhere, so the penalty is (||w|| - 1)^2.
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(16, 1)).double()
    real, fake = torch.randn(5, 1, 4, 4, dtype=torch.float64), torch.randn(5, 1, 4, 4, dtype=torch.float64)
    eps = torch.rand(5, 1, 1, 1, dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake, eps)
    expected = (critic[1].weight.norm() - 1) ** 2
    torch.testing.assert_close(gp, expected, rtol=1e-10, atol=0)
    gp.backward()  # create_graph=True: the penalty reaches the critic's weights
    assert critic[1].weight.grad is not None and critic[1].weight.grad.abs().sum() > 0


def test_kl_per_dim_matches_torch_distributions(rng):
    mu = torch.from_numpy(rng.normal(size=(6, 3)))
    logvar = torch.from_numpy(rng.normal(size=(6, 3)))
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(()), torch.ones(()))
    ref = torch.distributions.kl_divergence(q, p).mean(0)
    torch.testing.assert_close(gaussian_kl_per_dim(mu, logvar), ref, rtol=1e-12, atol=1e-14)


def test_reconstruction_nll_matches_log_densities(rng):
    logits = torch.from_numpy(rng.normal(size=(4, 1, 3, 3)))
    x_bin = torch.from_numpy(rng.integers(0, 2, size=(4, 1, 3, 3)).astype(np.float64))
    ref = -torch.distributions.Bernoulli(logits=logits).log_prob(x_bin).sum() / 4
    torch.testing.assert_close(reconstruction_nll(logits, x_bin, "bernoulli"), ref, rtol=1e-12, atol=0)
    x = torch.from_numpy(rng.uniform(size=(4, 1, 3, 3)))
    log_sigma = torch.tensor(-1.3, dtype=torch.float64)
    ref = -torch.distributions.Normal(torch.sigmoid(logits), log_sigma.exp()).log_prob(x).sum() / 4
    torch.testing.assert_close(reconstruction_nll(logits, x, "gaussian", log_sigma), ref, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="decoder must be one of"):
        reconstruction_nll(logits, x, "laplace")
    with pytest.raises(ValueError, match="gaussian decoder needs log_sigma"):
        reconstruction_nll(logits, x, "gaussian")


# ------------------------------------------------------------ samplers
def test_moving_average_update_follows_its_formula():
    cfg = make_config("gan", "digits", (1, 8, 8), seed=0, width=4, latent_dim=3)
    trainer = make_trainer(cfg, load_dataset("digits").subset(slice(0, 8)), "cpu")
    gen, ema = trainer.networks["generator"], trainer.averaged["generator_ema"]
    with torch.no_grad():
        for p in gen.parameters():
            p.fill_(1.0)
        for p in ema.parameters():
            p.zero_()
    trainer.update_average(0)  # decay = min(0.999, 1/10) = 0.1: ema = 0.1 * 0 + 0.9 * 1
    assert all(torch.allclose(p, torch.full_like(p, 0.9), rtol=0, atol=1e-7) for p in ema.parameters())
    trainer.update_average(10**6)  # decay = 0.999: ema = 0.999 * 0.9 + 0.001 * 1
    assert all(torch.allclose(p, torch.full_like(p, 0.9001), rtol=0, atol=1e-6) for p in ema.parameters())
    assert all(torch.equal(b, c) for b, c in zip(ema.buffers(), gen.buffers()))
    assert all(not p.requires_grad for p in ema.parameters())


def test_latent_mixture_fit_and_sampling(rng):
    # Two well-separated clusters: EM recovers their means and weights; draws
    # reproduce a component's covariance. 4000 draws: the standard error of a
    # sample mean is 0.5 / sqrt(2000) ~ 0.011, so 0.05 is > 4 standard errors.
    a = rng.normal([-5, 0], 0.5, size=(600, 2))
    b = rng.normal([5, 2], 0.5, size=(400, 2))
    mix = fit_latent_mixture(torch.from_numpy(np.vstack([a, b])), 2, seed=0)
    order = torch.argsort(mix["means"][:, 0])
    torch.testing.assert_close(mix["weights"][order], torch.tensor([0.6, 0.4], dtype=torch.float64), rtol=0, atol=1e-9)
    torch.testing.assert_close(
        mix["means"][order], torch.tensor([[-5.0, 0.0], [5.0, 2.0]], dtype=torch.float64), rtol=0, atol=0.1
    )
    z = sample_mixture(mix, 4000, torch.Generator().manual_seed(1))
    assert z.dtype == torch.float32 and z.shape == (4000, 2)
    left = z[z[:, 0] < 0].double()
    assert abs(len(left) / 4000 - 0.6) < 0.03  # binomial sd 0.0077
    torch.testing.assert_close(left.mean(0), mix["means"][order[0]], rtol=0, atol=0.05)
    assert fit_latent_mixture(torch.randn(3, 2, dtype=torch.float64), 10, seed=0)["weights"].shape == (3,)


# ------------------------------------------------------------ architectures
@pytest.mark.parametrize(
    "shape, plan",
    [((1, 8, 8), (2, 2, 2)), ((1, 28, 28), (2, 7, 7)), ((3, 32, 32), (4, 2, 2)), ((1, 12, 16), (2, 3, 4)),
     ((1, 7, 7), (0, 7, 7)), ((3, 64, 64), (4, 4, 4)), ((1, 6, 10), (1, 3, 5))],
)  # fmt: skip
def test_networks_are_sized_to_the_resolution(shape, plan):
    assert resolution_plan(*shape[1:]) == plan
    g, d = Generator(5, shape, width=4), Discriminator(shape, width=4)
    x = g(torch.randn(3, 5))
    assert x.shape == (3, *shape) and d(x).shape == (3, 1)
    vae = ConvVAE(5, shape, width=4, decoder="gaussian")
    logits, mu, logvar = vae(x, torch.randn(3, 5))
    assert logits.shape == (3, *shape) and mu.shape == logvar.shape == (3, 5)


# ------------------------------------------------------------ training
def _read_log(out):
    return pd.read_csv(out / "log.csv")


@pytest.mark.parametrize("kind", KINDS)
def test_one_epoch_on_a_tiny_subset(tmp_path, kind):
    out = tmp_path / kind
    extra = {"n_critic": 2} if kind == "wgan-gp" else {}
    path = train(kind, "digits", out=out, epochs=1, **{**TINY, "figures": True}, **extra)
    assert path == out / "checkpoint.pt" and path.is_file()
    for name in ("config.json", "log.csv", "losses.png", "samples.png"):
        assert (out / name).stat().st_size > 0, name
    log = _read_log(out)
    assert log["epoch"].tolist() == [1] and log["step"].tolist() == [2]  # 32 images / batch 16
    assert np.isfinite(log.drop(columns=["seconds"]).to_numpy(dtype=float)).all()
    if kind == "gan":
        for col in ("balance", "balance_real", "balance_fake"):
            assert 0 < log[col].iloc[0] <= math.log(2)
        assert log["balance"].iloc[0] == pytest.approx((log["balance_real"] + log["balance_fake"]).iloc[0] / 2)
    elif kind == "vae":
        kl_cols = [c for c in log.columns if c.startswith("kl_dim_")]
        assert len(kl_cols) == 4 and (log[kl_cols] >= 0).all().all()
        # The rate is the sum of the per-dimension KL terms (float32 rounding).
        assert log["kl"].iloc[0] == pytest.approx(log[kl_cols].iloc[0].sum(), rel=1e-5)
        assert log["neg_elbo"].iloc[0] == pytest.approx(log["recon"].iloc[0] + log["kl"].iloc[0], rel=1e-5)
    else:
        assert {"loss_d", "loss_g", "wasserstein", "gp"} <= set(log.columns) and "balance" not in log.columns
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["kind"] == kind and cfg["image_shape"] == [1, 8, 8] and cfg["data_sha256"]


def _assert_same_state(a: dict, b: dict):
    for group in ("models", "optimizers"):
        assert a[group].keys() == b[group].keys()
        for name in a[group]:
            flat_a, flat_b = _flatten(a[group][name]), _flatten(b[group][name])
            assert flat_a.keys() == flat_b.keys()
            for key in flat_a:
                va, vb = flat_a[key], flat_b[key]
                if isinstance(va, torch.Tensor):
                    assert torch.equal(va, vb), f"{group}/{name}/{key} differs"
                else:
                    assert va == vb, f"{group}/{name}/{key} differs"
    for k in ("data", "noise"):
        assert torch.equal(a["rng"][k], b["rng"][k])
    assert a["epoch"] == b["epoch"] and a["step"] == b["step"]
    assert ("latent_mixture" in a) == ("latent_mixture" in b)
    for key in a.get("latent_mixture", {}):
        assert torch.equal(a["latent_mixture"][key], b["latent_mixture"][key])

    def strip(h):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in h]

    assert strip(a["history"]) == strip(b["history"])


def _flatten(obj, prefix=""):
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}/"))
        return out
    if isinstance(obj, (list, tuple)) and not all(isinstance(v, (int, float, str, bool, type(None))) for v in obj):
        out = {}
        for i, v in enumerate(obj):
            out.update(_flatten(v, f"{prefix}{i}/"))
        return out
    return {prefix: obj}


@pytest.mark.parametrize("kind", KINDS)
def test_interrupted_and_resumed_run_equals_uninterrupted_run(tmp_path, kind):
    extra = {"n_critic": 3} if kind == "wgan-gp" else {}  # 2 steps/epoch: the schedule crosses epochs
    straight = train(kind, "digits", out=tmp_path / "a", epochs=2, **TINY, **extra)

    def interrupt(epoch, sampler, row):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(kind, "digits", out=tmp_path / "b", epochs=2, callback=interrupt, **TINY, **extra)
    assert read_checkpoint(tmp_path / "b")["epoch"] == 1
    resumed = train(kind, "digits", out=tmp_path / "b", resume=True, **TINY, **extra)  # epochs from checkpoint
    a, b = read_checkpoint(straight), read_checkpoint(resumed)
    _assert_same_state(a, b)
    # And an independent fresh run with another seed does differ (the comparison can fail).
    c = read_checkpoint(train(kind, "digits", out=tmp_path / "c", epochs=2, seed=1, **TINY, **extra))
    with pytest.raises(AssertionError):
        _assert_same_state(a, c)
    assert len(_read_log(tmp_path / "b")) == 2


def test_resume_can_extend_training_and_is_a_noop_when_done(tmp_path):
    out = tmp_path / "r"
    train("vae", "digits", out=out, epochs=1, **TINY)
    train("vae", "digits", out=out, epochs=2, resume=True, **TINY)
    assert read_checkpoint(out)["epoch"] == 2 and len(_read_log(out)) == 2
    before = (out / "checkpoint.pt").read_bytes()
    train("vae", "digits", out=out, resume=True, **TINY)  # already at 2 epochs
    assert (out / "checkpoint.pt").read_bytes() == before
    # resume=True on an empty folder starts a fresh run.
    train("vae", "digits", out=tmp_path / "fresh", epochs=1, resume=True, **TINY)
    assert read_checkpoint(tmp_path / "fresh")["epoch"] == 1


def test_kept_checkpoints_at_chosen_epochs_and_after_an_interruption(tmp_path):
    from infobench.generators import kept_checkpoints

    out = tmp_path / "k"
    train("vae", "digits", out=out, epochs=5, keep_every=2, **TINY)
    kept = kept_checkpoints(out)
    assert list(kept) == [2, 4, 5]  # every 2nd epoch and the last
    assert [read_checkpoint(p)["epoch"] for p in kept.values()] == [2, 4, 5]
    assert kept[5].read_bytes() == (out / "checkpoint.pt").read_bytes()
    assert [p.name for p in kept.values()] == ["epoch-0002.pt", "epoch-0004.pt", "epoch-0005.pt"]
    # An interruption between epoch 4's checkpoint and its copy: the copy is made on resume, before training on.
    kept[4].unlink()
    train("vae", "digits", out=out, epochs=5, keep_every=2, resume=True, **TINY)
    assert 4 not in kept_checkpoints(out)  # the checkpoint holds epoch 5 now: epoch 4 cannot be restored
    other = tmp_path / "i"
    train("vae", "digits", out=other, epochs=4, keep_every=2, **TINY)
    kept_checkpoints(other)[4].unlink()
    train("vae", "digits", out=other, epochs=6, keep_every=2, resume=True, **TINY)
    assert list(kept_checkpoints(other)) == [2, 4, 6]  # epoch 4 copied at resume, from the checkpoint that held it
    assert read_checkpoint(kept_checkpoints(other)[4])["epoch"] == 4
    with pytest.raises(ValueError, match="keep_every must be an integer >= 0; got -1"):
        train("vae", "digits", out=tmp_path / "bad", epochs=1, keep_every=-1, **TINY)


def test_ema_zero_samples_the_last_generator_weights(tmp_path):
    state = read_checkpoint(train("gan", "digits", out=tmp_path / "e", epochs=1, ema=0.0, **TINY))
    gen, ema = state["models"]["generator"], state["models"]["generator_ema"]
    assert gen.keys() == ema.keys() and all(torch.equal(gen[k], ema[k]) for k in gen)


def test_gaussian_decoder_and_imageset_input(tmp_path):
    data = load_dataset("digits", split="test").subset(slice(0, 20))
    path = train("vae", data, out=tmp_path / "g", epochs=1, decoder="gaussian", **{**TINY, "max_samples": None})
    state = read_checkpoint(path)
    assert "log_sigma" in state["models"]["vae"] and state["config"].dataset == data.name
    assert state["config"].data_sha256 == data.fingerprint()


def test_progress_bar_runs(tmp_path, capsys):
    train("gan", "digits", out=tmp_path / "p", epochs=1, progress=True, **TINY)
    assert "gan epoch 1/1" in capsys.readouterr().err  # progress reports go to stderr


# ------------------------------------------------------------ checkpoints and sampling
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    paths = {}
    for kind in ("gan", "vae"):
        live = {}
        paths[kind] = train(
            kind, "digits", out=out / kind, epochs=1, callback=lambda e, s, r, live=live: live.update(s=s), **TINY
        )
        paths[kind + "-live"] = live["s"]
    return paths


@pytest.mark.parametrize("kind", ["gan", "vae"])
def test_checkpoint_round_trip_and_sampling(trained, kind):
    path = trained[kind]
    # The file is plain state dicts: it loads with the safe unpickler.
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert json.loads(raw["config"]) == json.loads((path.parent / "config.json").read_text())
    model = load(path, device="cpu")
    assert model.kind == kind and model.epoch == 1 and model.image_shape == (1, 8, 8)
    x = model.sample(50, seed=3)
    assert x.shape == (50, 1, 8, 8) and x.dtype == torch.float32 and x.device.type == "cpu"
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert torch.equal(x, model.sample(50, seed=3))
    assert not torch.equal(x, model.sample(50, seed=4))
    # Same weights as the network that was trained, and chunking does not change results.
    torch.testing.assert_close(trained[kind + "-live"].sample(50, seed=3), x, rtol=0, atol=1e-6)
    torch.testing.assert_close(model.sample(50, seed=3, batch_size=7), x, rtol=0, atol=1e-6)
    assert torch.equal(load(path.parent, device="cpu").sample(5, seed=1), model.sample(5, seed=1))
    assert "TrainedGenerator(kind=" in repr(model)
    if kind == "vae":  # default codes come from the ex-post mixture; N(0, I) on request
        assert model.config.latent_prior == "mixture" and model.mixture["means"].shape == (10, 4)
        assert not torch.equal(model.sample(5, seed=1, prior="normal"), model.sample(5, seed=1))
    else:
        assert torch.equal(model.sample(5, seed=1, prior="normal"), model.sample(5, seed=1))
        with pytest.raises(ValueError, match="prior='mixture' needs the latent mixture of a VAE checkpoint"):
            model.sample(5, prior="mixture")


def test_bad_checkpoints_are_rejected(tmp_path, trained):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load(tmp_path / "missing.pt")
    with pytest.raises(FileNotFoundError, match="checkpoint.pt.* does not exist"):
        load(tmp_path)
    (tmp_path / "junk.pt").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ValueError, match="cannot read checkpoint .*junk.pt.* with weights_only=True"):
        load(tmp_path / "junk.pt")
    # An arbitrary pickled object is refused by the safe loader, never executed.
    torch.save({"format": "infobench.generators.checkpoint", "obj": pickle.PickleError("x")}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="evil.pt.*weights_only=True"):
        load(tmp_path / "evil.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an infobench generator checkpoint"):
        load(tmp_path / "other.pt")
    state = torch.load(trained["gan"], weights_only=True)
    state["config"] = state["config"].replace('"latent_dim": 4', '"latent_dim": 5')
    save_checkpoint(tmp_path / "mismatch.pt", state)  # with a fresh checksum: the file is consistent
    with pytest.raises(ValueError, match="weights do not match its config"):
        load(tmp_path / "mismatch.pt")
    state["config"] = "{not json"
    save_checkpoint(tmp_path / "badjson.pt", state)  # with a fresh checksum: the file is consistent
    with pytest.raises(ValueError, match="config is not valid JSON"):
        load(tmp_path / "badjson.pt")
    with pytest.raises(TypeError, match="checkpoint must be a file or run-folder path"):
        load(3)


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [({"n": 0}, ValueError, r"n must be an integer >= 1; got 0"), ({"n": 2.5}, TypeError, "n must be an integer"),
     ({"n": 2, "seed": -1}, ValueError, "seed must be a non-negative integer"),
     ({"n": 2, "batch_size": 0}, ValueError, "batch_size must be an integer >= 1"),
     ({"n": 2, "prior": "uniform"}, ValueError, r"prior must be one of \['normal', 'mixture'\]")],
)  # fmt: skip
def test_sample_validation(trained, kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        load(trained["vae"], device="cpu").sample(**kwargs)


# ------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "kind, kwargs, exc, msg",
    [
        ("diffusion", {}, ValueError, r"kind must be one of \['gan', 'wgan-gp', 'vae'\]; got 'diffusion'"),
        ("gan", {"epochs": 0}, ValueError, "epochs must be an integer >= 1; got 0"),
        ("gan", {"epochs": -3}, ValueError, "epochs must be an integer >= 1; got -3"),
        ("gan", {"epochs": 1.5}, TypeError, "epochs must be an integer >= 1; got 1.5"),
        ("gan", {"epochs": True}, TypeError, "epochs must be an integer"),
        ("gan", {"batch_size": 1}, ValueError, "batch_size must be an integer >= 2; got 1"),
        ("gan", {"lr": 0.0}, ValueError, r"lr must be a finite number > 0.0; got 0.0"),
        ("gan", {"lr": float("nan")}, ValueError, "lr must be a finite number"),
        ("gan", {"betas": (0.5, 1.0)}, ValueError, r"beta2 must be a finite number in \[0.0, 1.0\); got 1.0"),
        ("gan", {"betas": 0.5}, TypeError, "betas must be a pair of floats"),
        ("vae", {"latent_dim": 0}, ValueError, "latent_dim must be an integer >= 1; got 0"),
        ("vae", {"width": 0}, ValueError, "width must be an integer >= 1; got 0"),
        ("vae", {"seed": -1}, ValueError, "seed must be an integer >= 0; got -1"),
        (
            "vae",
            {"decoder": "laplace"},
            ValueError,
            r"decoder must be one of \['bernoulli', 'gaussian'\]; got 'laplace'",
        ),
        ("gan", {"decoder": "gaussian"}, ValueError, "decoder applies to kind='vae' only"),
        ("wgan-gp", {"n_critic": 0}, ValueError, "n_critic must be an integer >= 1; got 0"),
        ("wgan-gp", {"gp_weight": -1.0}, ValueError, r"gp_weight must be a finite number >= 0.0; got -1.0"),
        ("gan", {"n_critic": 5}, ValueError, "n_critic applies to kind='wgan-gp' only"),
        ("gan", {"ema": 1.0}, ValueError, r"ema must be a finite number in \[0.0, 1.0\); got 1.0"),
        ("vae", {"ema": 0.9}, ValueError, "ema applies to kind='gan' or kind='wgan-gp' only"),
        ("vae", {"latent_prior": "flow"}, ValueError, r"latent_prior must be one of \['mixture', 'normal'\]"),
        ("vae", {"mixture_components": 0}, ValueError, "mixture_components must be an integer >= 1; got 0"),
        ("gan", {"latent_prior": "normal"}, ValueError, "latent_prior applies to kind='vae' only"),
        ("gan", {"device": "tpu"}, ValueError, "device must be 'auto', 'cpu'"),
        ("gan", {"amp": True}, ValueError, "amp=True .* needs a CUDA device; got device 'cpu'"),
        ("gan", {"amp": "yes"}, TypeError, "amp must be True or False"),
        ("gan", {"compile": 1}, TypeError, "compile must be True or False"),
        ("gan", {"resume": "no"}, TypeError, "resume must be True or False"),
        ("gan", {"progress": None}, TypeError, "progress must be True or False"),
        ("gan", {"max_samples": 1}, ValueError, "max_samples must be an integer >= 2; got 1"),
        ("gan", {"split": "val"}, ValueError, r"split must be one of \['train', 'test', 'all'\]; got 'val'"),
        ("gan", {"callback": 3}, TypeError, "callback must be callable or None"),
        ("gan", {"dataset": 7}, TypeError, "dataset must be a dataset spec"),
        ("gan", {"dataset": "nowhere.npz"}, FileNotFoundError, "neither a known name"),
        ("gan", {"dataset": "digits:8"}, ValueError, "dataset 'digits' takes no path"),
    ],
)
def test_train_validation(tmp_path, kind, kwargs, exc, msg):
    kwargs = {"device": "cpu", **kwargs}
    dataset = kwargs.pop("dataset", "digits")
    with pytest.raises(exc, match=msg):
        train(kind, dataset, out=tmp_path / "run", **kwargs)
    # Rejected before anything was written.
    assert not (tmp_path / "run").exists()


def test_out_validation_and_existing_runs(tmp_path):
    with pytest.raises(TypeError, match="out must be a folder path; got NoneType"):
        train("gan", out=None)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="exists and is not a folder"):
        train("gan", out=tmp_path / "file", device="cpu")
    out = tmp_path / "run"
    train("gan", "digits", out=out, epochs=1, **TINY)
    with pytest.raises(ValueError, match="already holds a training run .*pass resume=True"):
        train("gan", "digits", out=out, epochs=1, **TINY)
    with pytest.raises(
        ValueError, match=r"cannot resume .*settings differ \(lr=0.0002 in the checkpoint but 0.001 now\)"
    ):
        train("gan", "digits", out=out, epochs=2, resume=True, lr=1e-3, **TINY)
    with pytest.raises(ValueError, match="settings differ .*data_sha256"):
        train("gan", "digits", out=out, epochs=2, resume=True, split_seed=1, **TINY)
    too_small = load_dataset("digits").subset(slice(0, 1))
    with pytest.raises(ValueError, match="needs at least 2 images to train; got 1"):
        train("gan", too_small, out=tmp_path / "small", device="cpu")


def test_config_json_round_trip_and_checks():
    cfg = make_config("wgan-gp", "digits", (1, 8, 8), seed=3)
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    assert cfg.width == 32 and make_config("gan", "m", (1, 28, 28), seed=0).width == 64
    vae = make_config("vae", "digits", (1, 8, 8), seed=0)
    assert (vae.latent_prior, vae.mixture_components, vae.ema, vae.n_critic) == ("mixture", 10, None, None)
    assert cfg.n_critic == DEFAULTS["wgan-gp"]["n_critic"] == 2 and cfg.gp_weight == 10.0
    with pytest.raises(ValueError, match="unknown fields \\['color'\\]"):
        TrainConfig.from_json(json.dumps({**json.loads(cfg.to_json()), "color": 1}))
    with pytest.raises(ValueError, match="format_version 99 is newer"):
        TrainConfig.from_json(json.dumps({**json.loads(cfg.to_json()), "format_version": 99}))
    with pytest.raises(ValueError, match="config is incomplete"):
        TrainConfig.from_json(json.dumps({"kind": "gan"}))
    with pytest.raises(ValueError, match="must be a JSON object"):
        TrainConfig.from_json("[1]")


# ------------------------------------------------------------ quality (cheap version)
@pytest.mark.slow
def test_vae_learns_recognisable_digits_in_20_epochs(tmp_path):
    """Cheap form of the quality bar in benchmarks/bench_generators.py.

    A logistic regression trained on the real digits labels 1,000 samples of
    a default VAE after 20 of its 50 epochs. Measured (CPU, seed 0): mean
    max-probability 0.73, 10 classes; the same classifier gives 0.90 on real
    held-out digits, 0.52 on uniform noise and 0.38 on an untrained VAE. The
    run is deterministic for a given seed, so the margin (> 0.65) only has
    to absorb floating-point differences between platforms.
    """
    from sklearn.linear_model import LogisticRegression

    real = load_dataset("digits", split="train")
    clf = LogisticRegression(max_iter=2000).fit(real.images.flatten(1).numpy(), real.labels.numpy())
    path = train("vae", "digits", out=tmp_path / "q", epochs=20, device="cpu", figures=False)
    proba = clf.predict_proba(load(path, device="cpu").sample(1000, seed=123).flatten(1).numpy())
    assert len(np.unique(proba.argmax(1))) == 10
    assert proba.max(1).mean() > 0.65


# ------------------------------------------------------------ RGB 32x32
@pytest.mark.parametrize("kind", KINDS)
def test_one_epoch_on_tiny_rgb_32x32_shapes(tmp_path, kind):
    """The three generators train on a folder of 3-channel 32x32 images with class sub-folders."""
    from PIL import Image

    from rgb_shapes import SHAPES, coloured_shapes

    images, labels = coloured_shapes(16, size=32)
    for i, (img, c) in enumerate(zip(images, labels)):
        (tmp_path / "shapes" / SHAPES[c][0]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(tmp_path / "shapes" / SHAPES[c][0] / f"{i}.png")
    out = tmp_path / kind
    extra = {"n_critic": 1} if kind == "wgan-gp" else {}
    path = train(
        kind,
        str(tmp_path / "shapes"),
        out=out,
        epochs=1,
        split="all",
        batch_size=8,
        width=4,
        latent_dim=4,
        device="cpu",
        figures=False,
        **extra,
    )
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["image_shape"] == [3, 32, 32] and cfg["num_classes"] == 3
    assert _read_log(out)["step"].tolist() == [2]  # 16 images / batch 8
    x = load(path).sample(5, 0)
    assert tuple(x.shape) == (5, 3, 32, 32) and float(x.min()) >= 0.0 and float(x.max()) <= 1.0
