"""``infobench train`` and ``infobench sample``: end to end through :func:`infobench.cli.main`."""

from __future__ import annotations

import numpy as np
import pytest

from infobench.cli import main
from infobench.generators import load

TINY = ["--max-samples", "32", "--batch-size", "16", "--width", "8", "--latent-dim", "4", "--device", "cpu"]


def test_train_then_sample(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "vae", "--dataset", "digits", "--epochs", "1", "--out", str(out), *TINY]) == 0
    captured = capsys.readouterr()
    # The progress report is on in the CLI, on stderr; stdout holds the result.
    assert "checkpoint:" in captured.out and "vae epoch 1/1" in captured.err
    for name in ("checkpoint.pt", "config.json", "log.csv", "losses.png", "samples.png"):
        assert (out / name).is_file()
    # Resume to a second epoch.
    argv = ["train", "vae", "--epochs", "2", "--out", str(out), "--resume", "--no-progress", "--threads", "1", *TINY]
    assert main(argv) == 0
    assert load(out, device="cpu").epoch == 2
    npz = tmp_path / "s.npz"
    assert (
        main(["sample", str(out / "checkpoint.pt"), "-n", "7", "-o", str(npz), "--seed", "5", "--device", "cpu"]) == 0
    )
    with np.load(npz) as z:
        assert list(z.files) == ["images"]
        images = z["images"]
    assert images.shape == (7, 1, 8, 8) and images.dtype == np.float32
    np.testing.assert_array_equal(images, load(out, device="cpu").sample(7, seed=5).numpy())
    assert main(["sample", str(out), "-n", "3", "-o", str(npz), "--prior", "normal", "--device", "cpu"]) == 0


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["train", "gan", "--epochs", "0"], "epochs must be an integer >= 1; got 0"),
        (["train", "gan", "--dataset", "mnist"], "needs a folder: write 'mnist:PATH'"),
        (["train", "vae", "--ema", "0.5"], "ema applies to kind='gan' or kind='wgan-gp' only"),
        (["train", "vae", "--threads", "0"], "--threads must be an integer >= 1; got 0"),
        (["sample", "nowhere.pt", "-o", "x.npz"], "does not exist"),
        (["sample", "ckpt.pt", "-o", "x.txt"], "must name an .npz file"),
        (["sample", "ckpt.pt", "-o", "x.npz", "-n", "0"], "n must be an integer >= 1; got 0"),
    ],
)
def test_user_errors_are_one_line_exit_2(tmp_path, capsys, argv, msg):
    if argv[0] == "train":
        argv = [*argv, "--out", str(tmp_path / "r"), "--device", "cpu"]
    elif argv[1] == "ckpt.pt":
        assert (
            main(
                ["train", "gan", "--epochs", "1", "--out", str(tmp_path / "g"), "--no-progress", "--no-figures", *TINY]
            )
            == 0
        )
        argv = [argv[0], str(tmp_path / "g"), *argv[2:]]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert msg in " ".join(err.split()) and err.startswith("error:")


def test_existing_run_needs_resume(tmp_path, capsys):
    argv = ["train", "gan", "--epochs", "1", "--out", str(tmp_path / "g"), "--no-progress", "--no-figures", *TINY]
    assert main(argv) == 0
    assert main(argv) == 2
    assert "pass --resume to continue it" in " ".join(capsys.readouterr().err.split())


def test_unknown_kind_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "diffusion", "--out", "x"])
    assert exc.value.code == 2 and "invalid choice: 'diffusion'" in capsys.readouterr().err
