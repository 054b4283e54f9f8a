"""``infobench sample``: draw images from a trained generator into an .npz file."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from rich.console import Console

from infobench._io import atomic_write
from infobench.commands.errors import UsageError
from infobench.commands.outputs import claim
from infobench.generators import load


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "sample",
        help="draw images from a trained generator checkpoint into an .npz file",
        description=(
            "Load CHECKPOINT (a checkpoint.pt written by 'infobench train', or its run folder; read with "
            "torch.load(weights_only=True)) and write N images as float32 (N, C, H, W) in [0, 1] under the key "
            "'images' of an .npz file. The same --seed gives the same images."
        ),
    )
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint.pt or its run folder")
    parser.add_argument("-n", type=int, default=10_000, metavar="N", help="number of images (default 10000)")
    parser.add_argument("-o", "--out", required=True, metavar="FILE.npz", help="output file (.npz)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latent codes (default 0)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    parser.add_argument("--batch-size", type=int, default=1024, metavar="B", help="images per forward pass")
    parser.add_argument(
        "--prior",
        default=None,
        choices=("mixture", "normal"),
        help="VAE latent codes: the run's ex-post mixture (default) or N(0, I)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix != ".npz":
        raise UsageError(f"-o/--out must name an .npz file; got {args.out!r}")
    with claim(out, name="-o/--out", inputs=[("CHECKPOINT", args.checkpoint)]):
        model = load(args.checkpoint, device=args.device)
        images = model.sample(args.n, seed=args.seed, batch_size=args.batch_size, prior=args.prior).numpy()
        atomic_write(out, lambda fh: np.savez(fh, images=images))
    Console().print(
        f"wrote {images.shape[0]} images {tuple(images.shape[1:])} from {model.kind} (epoch {model.epoch}) to "
        f"[bold]{out}[/]",
        highlight=False,
    )
    return 0
