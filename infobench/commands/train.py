"""``infobench train``: train a reference GAN, WGAN-GP or VAE, checkpointing every epoch."""

from __future__ import annotations

import argparse

import torch

from infobench._io import check_output_path
from infobench._progress import make_console
from infobench.commands.errors import UsageError
from infobench.commands.outputs import spec_paths
from infobench.generators import train
from infobench.generators.config import DEFAULTS, KINDS


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a reference generator (gan, wgan-gp, vae) on an offline dataset",
        description=(
            "Train a DCGAN, WGAN-GP or convolutional VAE. A checkpoint (weights, optimizer and RNG state) is "
            "written atomically after every epoch into --out, with a CSV log (losses; for the GAN the entropy "
            "balance of the discriminator), losses.png and samples.png. After an interruption run the command "
            "again with --resume: on the CPU the result equals that of an uninterrupted run. Default epochs: "
            + ", ".join(f"{k} {v['epochs']}" for k, v in DEFAULTS.items())
            + "."
        ),
        epilog="Then: infobench sample OUT/checkpoint.pt -n 10000 -o samples.npz",
    )
    parser.add_argument("kind", choices=KINDS, help="model: gan (DCGAN, non-saturating loss), wgan-gp, vae")
    parser.add_argument(
        "--dataset",
        default="digits",
        metavar="SPEC",
        help="'digits' (default), 'mnist:PATH', 'fashion-mnist:PATH', an image folder or .npy/.npz",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="run folder, e.g. runs/NAME")
    parser.add_argument("--epochs", type=int, default=None, metavar="N", help="total epochs (default: per model)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, data order and noise (default 0)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    hp = parser.add_argument_group("hyper-parameters (default: per model)")
    hp.add_argument("--batch-size", type=int, default=None, metavar="B")
    hp.add_argument("--lr", type=float, default=None, help="Adam learning rate")
    hp.add_argument("--latent-dim", type=int, default=None, metavar="D")
    hp.add_argument("--width", type=int, default=None, help="channels of the finest hidden layer")
    hp.add_argument(
        "--decoder", default=None, choices=("bernoulli", "gaussian"), help="VAE decoder (default bernoulli)"
    )
    hp.add_argument("--n-critic", type=int, default=None, metavar="N", help="WGAN-GP critic steps per generator step")
    hp.add_argument("--gp-weight", type=float, default=None, metavar="L", help="WGAN-GP penalty weight lambda")
    hp.add_argument(
        "--ema",
        type=float,
        default=None,
        metavar="D",
        help="GANs: decay of the generator weight average used for sampling (default 0.999; 0: off)",
    )
    hp.add_argument(
        "--latent-prior",
        default=None,
        choices=("mixture", "normal"),
        help="VAE: sample codes from an ex-post Gaussian mixture (default) or N(0, I)",
    )
    hp.add_argument("--mixture-components", type=int, default=None, metavar="K", help="VAE: mixture size (default 10)")
    data = parser.add_argument_group("data")
    data.add_argument("--split", default="train", choices=("train", "test", "all"))
    data.add_argument("--split-seed", type=int, default=0, help="seed of the train/test split (default 0)")
    data.add_argument("--data-root", default=None, metavar="DIR", help="folder for relative dataset paths")
    data.add_argument("--max-samples", type=int, default=None, metavar="N", help="train on the first N images only")
    gpu = parser.add_argument_group("accelerators")
    gpu.add_argument("--amp", action="store_true", help="bfloat16 mixed precision (CUDA only)")
    gpu.add_argument("--compile", action="store_true", help="torch.compile the networks")
    gpu.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="CPU threads for torch (default: torch's choice); 1 is often faster for the small "
        "digits networks, and much faster when the cores are shared",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress reports on stderr (default: live in a terminal, plain lines in a log)",
    )
    parser.add_argument("--no-figures", action="store_true", help="do not write losses.png and samples.png")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # train() locks the folder itself; this refuses an unusable one before the data are read.
    check_output_path(args.out, name="--out", kind="folder", inputs=spec_paths("--dataset", [args.dataset]))
    if args.threads is not None:
        if args.threads < 1:
            raise UsageError(f"--threads must be an integer >= 1; got {args.threads}")
        torch.set_num_threads(args.threads)
    try:
        path = train(
            args.kind, args.dataset, out=args.out, epochs=args.epochs, device=args.device, resume=args.resume,
            seed=args.seed, progress=not args.no_progress, batch_size=args.batch_size, lr=args.lr,
            latent_dim=args.latent_dim, width=args.width, decoder=args.decoder, n_critic=args.n_critic,
            gp_weight=args.gp_weight, ema=args.ema, latent_prior=args.latent_prior,
            mixture_components=args.mixture_components, split=args.split, split_seed=args.split_seed, data_root=args.data_root,
            max_samples=args.max_samples, amp=args.amp, compile=args.compile, figures=not args.no_figures,
        )  # fmt: skip
    except ValueError as exc:
        if "already holds a training run" in str(exc):
            raise UsageError(str(exc).replace("resume=True (--resume)", "--resume")) from None
        raise
    console = make_console()
    console.print(f"checkpoint: [bold]{path}[/]", highlight=False)
    console.print(f"log, figures: {path.parent}/log.csv, losses.png, samples.png", highlight=False)
    return 0
