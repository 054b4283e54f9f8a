"""Training figures: loss curves (with the GAN entropy balance) and sample grids.

Drawn on :func:`infobench.report.plots.new_figure` (an Agg canvas, no
pyplot), written atomically as :func:`infobench.report.plots.figure_png`
bytes. Called by :mod:`infobench.generators.train` after every epoch.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infobench._io import atomic_write
from infobench.report.plots import figure_png, new_figure

__all__ = ["image_grid", "plot_training", "save_sample_grid"]

# Columns drawn in the loss panel, per model kind.
LOSS_COLUMNS = {
    "gan": ("loss_d", "loss_g"),
    "wgan-gp": ("loss_d", "loss_g", "wasserstein"),
    "vae": ("neg_elbo", "recon", "kl"),
}
BALANCE_COLUMNS = ("balance", "balance_real", "balance_fake")


def _figure(nrows: int, ncols: int, size: tuple[float, float]):
    fig = new_figure(*size, layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _save(fig, path: str | os.PathLike) -> Path:
    png = figure_png(fig)
    return atomic_write(path, lambda fh: fh.write(png))


def plot_training(history: Sequence[dict[str, Any]], kind: str, path: str | os.PathLike) -> Path:
    """Loss curves per epoch; for the GAN a second panel with the entropy balance.

    The balance is the mean binary entropy (nats) of the discriminator's
    outputs on real and on generated batches; the dashed line at log 2 is its
    maximum, reached when the discriminator cannot tell them apart.
    """
    epochs = [row["epoch"] for row in history]
    has_balance = any("balance" in row for row in history)
    fig, axes = _figure(1, 2 if has_balance else 1, (10 if has_balance else 5.5, 3.6))
    ax = axes[0, 0]
    for col in LOSS_COLUMNS.get(kind, ()):
        values = [row.get(col, math.nan) for row in history]
        ax.plot(epochs, values, label=col, marker="." if len(epochs) < 30 else None)
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per image" if kind == "vae" else "loss")
    ax.set_title(f"{kind} training losses")
    ax.legend(loc="best", fontsize="small")
    if has_balance:
        bx = axes[0, 1]
        for col in BALANCE_COLUMNS:
            values = [row.get(col, math.nan) for row in history]
            bx.plot(epochs, values, label=col, marker="." if len(epochs) < 30 else None)
        bx.axhline(math.log(2), color="k", linestyle="--", linewidth=1, label="log 2 (indistinguishable)")
        bx.set_ylim(0, math.log(2) * 1.08)
        bx.set_xlabel("epoch")
        bx.set_ylabel("binary entropy of D(x) [nats]")
        bx.set_title("entropy balance")
        bx.legend(loc="best", fontsize="small")
    return _save(fig, path)


def image_grid(images: torch.Tensor | np.ndarray, ncols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile (N, C, H, W) images in [0, 1] into one (rows*H, cols*W[, C]) array, white padding."""
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    n, c, h, w = arr.shape
    ncols = ncols or int(math.ceil(math.sqrt(n)))
    nrows = int(math.ceil(n / ncols))
    grid = np.ones((c, nrows * (h + pad) + pad, ncols * (w + pad) + pad), dtype=np.float32)
    for i in range(n):
        r, q = divmod(i, ncols)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        grid[:, top : top + h, left : left + w] = arr[i]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def save_sample_grid(images: torch.Tensor, path: str | os.PathLike, title: str = "") -> Path:
    """Write a PNG grid of (N, C, H, W) images in [0, 1]."""
    grid = image_grid(images)
    fig, axes = _figure(1, 1, (5, 5))
    ax = axes[0, 0]
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return _save(fig, path)
