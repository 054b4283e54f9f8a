"""Checkpoint integrity: checksums, non-finite weights and images, refused pickles.

A checkpoint records the SHA-256 of its contents at save time; bits that
change afterwards are refused on load with "checkpoint X is corrupt: checksum
mismatch" instead of reaching ``torch.multinomial`` or scikit-learn. A run
that diverged before it was saved (NaN weights) is refused on load, and a
network that draws non-finite images on sampling. Through the CLI every one
of these is a one-line error with exit status 2.
"""

from __future__ import annotations

import os
import shutil
import warnings
import zipfile

import pytest
import torch

from infobench.cli import main
from infobench.generators import checkpoint as ck
from infobench.generators import load

TINY = [
    "--max-samples",
    "32",
    "--batch-size",
    "16",
    "--width",
    "8",
    "--latent-dim",
    "4",
    "--device",
    "cpu",
    "--no-progress",
    "--no-figures",
    "--threads",
    "1",
]


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    """A VAE trained for one epoch on 32 digits (default prior: its latent mixture)."""
    out = tmp_path_factory.mktemp("ckpt") / "vae"
    assert main(["train", "vae", "--epochs", "1", "--out", str(out), *TINY]) == 0
    return out


@pytest.fixture
def run(vae_run, tmp_path):
    """A private copy of the run folder, free to damage."""
    return shutil.copytree(vae_run, tmp_path / "run")


def _cli_error(capsys, argv):
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err and err.count("\n") == 1  # one line
    return " ".join(err.split())


def _sample_argv(run, tmp_path, *extra):
    return ["sample", str(run), "-n", "5", "-o", str(tmp_path / "s.npz"), "--device", "cpu", *extra]


def _resume_argv(run):
    return ["train", "vae", "--epochs", "2", "--out", str(run), "--resume", *TINY]


def _flip_tensor_bits(path):
    """Flip one byte in the middle of the largest tensor stored in the checkpoint's zip archive."""
    with zipfile.ZipFile(path) as zf:
        info = max((i for i in zf.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    raw = bytearray(path.read_bytes())
    # Local file header: 30 bytes, then the name and the extra field (their lengths at offsets 26 and 28).
    start = (
        info.header_offset
        + 30
        + int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little")
        + int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little")
    )
    raw[start + info.file_size // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_saved_checkpoints_carry_a_checksum_that_verifies(vae_run):
    state = torch.load(vae_run / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert len(state["sha256"]) == 64
    assert state["sha256"] == ck.state_checksum(state)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = load(vae_run, device="cpu")
    assert torch.isfinite(model.sample(4, seed=0)).all()


def test_the_checksum_sees_every_value():
    # Independent of order-preserving details: any changed bit, dtype, shape or key changes it.
    base = {"format": ck.FORMAT, "epoch": 1, "models": {"w": torch.arange(6.0).reshape(2, 3)}}
    digest = ck.state_checksum(base)
    assert digest == ck.state_checksum({**base, "sha256": "ignored"})
    variants = [
        {**base, "epoch": 2},
        {**base, "models": {"w": torch.arange(6.0).reshape(3, 2)}},
        {**base, "models": {"w": torch.arange(6.0, dtype=torch.float64).reshape(2, 3)}},
        {**base, "models": {"v": torch.arange(6.0).reshape(2, 3)}},
        {**base, "models": {"w": torch.arange(6.0).reshape(2, 3).nextafter(torch.tensor(9.0))}},
    ]
    assert len({digest, *(ck.state_checksum(v) for v in variants)}) == 1 + len(variants)


def test_flipped_bits_are_a_checksum_mismatch(run, tmp_path, capsys):
    path = run / "checkpoint.pt"
    _flip_tensor_bits(path)
    with pytest.raises(ValueError, match=r"checkpoint '.*checkpoint\.pt' is corrupt: checksum mismatch"):
        load(run, device="cpu")
    # The default prior used to end in a raw torch.multinomial traceback, resume in a GaussianMixture message.
    for argv in (_sample_argv(run, tmp_path), _sample_argv(run, tmp_path, "--prior", "normal"), _resume_argv(run)):
        assert f"checkpoint '{path}' is corrupt: checksum mismatch" in _cli_error(capsys, argv)
    assert not (tmp_path / "s.npz").exists()


def _with_nan_weight(run):
    path = run / "checkpoint.pt"
    state = torch.load(path, map_location="cpu", weights_only=True)
    name = next(k for k, v in state["models"]["vae"].items() if v.is_floating_point())
    state["models"]["vae"][name][...] = float("nan")
    ck.save_checkpoint(path, state)  # a valid checksum over NaN weights: the run diverged before saving
    return name


def test_nan_weights_are_refused_by_sample_and_resume(run, tmp_path, capsys):
    # `sample --prior normal` used to write NaN images and exit 0.
    name = _with_nan_weight(run)
    expected = f"holds non-finite values (NaN or inf) in models['vae'][{name!r}]: the run diverged"
    for argv in (_sample_argv(run, tmp_path, "--prior", "normal"), _sample_argv(run, tmp_path), _resume_argv(run)):
        assert expected in _cli_error(capsys, argv)
    assert not (tmp_path / "s.npz").exists()


def test_non_finite_images_are_refused(vae_run):
    # A network broken after loading (as a live one can be mid-training); the
    # load-time check cannot see it, the sampling check must.
    model = load(vae_run, device="cpu")
    with torch.no_grad():
        for p in model.network.parameters():
            p.fill_(float("nan"))
    with pytest.raises(
        ValueError,
        match=r"TrainedGenerator\(kind='vae'.* drew 3 of 3 images with non-finite pixels "
        r"\(NaN or inf\): its weights are broken",
    ):
        model.sample(3, seed=0, prior="normal")


def test_checkpoints_without_a_checksum_load_with_a_warning(run):
    path = run / "checkpoint.pt"
    state = torch.load(path, map_location="cpu", weights_only=True)
    del state["sha256"]
    torch.save(state, path)  # as written before checksums existed
    with pytest.warns(
        ck.UnverifiedCheckpointWarning,
        match=r"has no checksum \(written by an older infobench\): "
        "it is loaded unverified",
    ):
        model = load(run, device="cpu")
    assert model.sample(2, seed=0).shape == (2, 1, 8, 8)


class _Payload:
    def __reduce__(self):
        return (os.getcwd, ())


def test_refused_pickles_say_the_file_is_not_trusted(tmp_path, capsys):
    # Torch's hint that weights_only=False "will likely succeed" is not repeated.
    path = tmp_path / "checkpoint.pt"
    torch.save({"format": ck.FORMAT, "payload": _Payload()}, path)
    expected = (
        r"cannot read checkpoint '.*' with weights_only=True: it is not a trusted infobench file: it holds "
        r"Python objects that infobench never writes \(.*getcwd.*\); it was refused without running any of "
        r"its code"
    )
    with pytest.raises(ValueError, match=expected) as exc:
        ck.read_checkpoint(path)
    assert "weights_only=False" not in str(exc.value) and "succeed" not in str(exc.value)
    err = _cli_error(capsys, _sample_argv(tmp_path, tmp_path))
    assert "not a trusted infobench file" in err and "succeed" not in err


def test_truncated_files_are_still_reported_as_corrupt(run):
    path = run / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"not an infobench checkpoint, or corrupt \("):
        ck.read_checkpoint(path)
