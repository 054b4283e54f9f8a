"""Critics ``f(x, y)``: the separable ``g(x)ᵀ h(y)`` and the joint MLP on ``[x, y]``.

A critic maps a batch of ``x`` rows and a batch of ``y`` rows to the matrix of
scores ``[i, j] = f(x_i, y_j)`` that the bounds of
:mod:`infobench.estimators.neural._bounds` reduce. Weights are drawn from a
private ``torch.Generator``, never from the global RNG.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from infobench._validation import check_choice, check_int, spawn_seeds

__all__ = ["ACTIVATIONS", "CRITICS", "SeparableCritic", "JointCritic", "build_critic", "check_hidden"]

CRITICS = ("separable", "joint")
ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}


def _linear(
    fan_in: int, fan_out: int, gen: torch.Generator, *, bias: bool = True, init_fan_in: int | None = None
) -> nn.Linear:
    # PyTorch's default Linear init (kaiming_uniform with a=sqrt(5), which is
    # U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases), drawn from
    # our own generator; skip_init keeps nn.Linear from also drawing from (and
    # advancing) the global RNG.
    layer: nn.Linear = torch.nn.utils.skip_init(nn.Linear, fan_in, fan_out, bias=bias)  # type: ignore[no-untyped-call]
    bound = 1.0 / math.sqrt(init_fan_in or fan_in)
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=gen)
        if layer.bias is not None:
            layer.bias.uniform_(-bound, bound, generator=gen)
    return layer


def _mlp(widths: list[int], activation: str, gen: torch.Generator) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layers.append(_linear(a, b, gen))
        if i < len(widths) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class SeparableCritic(nn.Module):
    """Separable critic ``f(x, y) = g(x)ᵀ h(y)`` with two MLPs ([VBMI]_ Sec. 4, [CPC]_).

    One batch of ``B`` pairs costs ``2 B`` network evaluations for all
    ``B²`` scores, so it is the cheap default. It represents critics of the
    form ``sum_k g_k(x) h_k(y)`` (``embed_dim`` terms), which include the log
    density ratio of jointly Gaussian pairs (a quadratic form), up to how
    well the MLPs approximate its factors.
    """

    def __init__(
        self, dim_x: int, dim_y: int, hidden: tuple[int, ...], embed_dim: int, activation: str, gen: torch.Generator
    ):
        super().__init__()
        self.g = _mlp([dim_x, *hidden, embed_dim], activation, gen)
        self.h = _mlp([dim_y, *hidden, embed_dim], activation, gen)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Scores ``(len(x), len(y))`` with ``[i, j] = f(x_i, y_j)``."""
        scores: torch.Tensor = self.g(x) @ self.h(y).T
        return scores


class JointCritic(nn.Module):
    """Joint (concatenation) critic ``f(x, y) = MLP([x, y])`` ([MINE]_, [VBMI]_ Sec. 4).

    The most flexible critic: ``B²`` network evaluations per batch. The first
    layer ``W [x; y] + b`` is applied as ``W_x x + b`` and ``W_y y`` separately
    and broadcast over pairs (the same function, initialised as one layer with
    ``fan_in = dim_x + dim_y``), which removes that layer's ``B²`` matmul.
    """

    # Pairs evaluated at once outside autograd, to bound memory on big batches.
    _CHUNK_PAIRS = 1 << 16

    def __init__(self, dim_x: int, dim_y: int, hidden: tuple[int, ...], activation: str, gen: torch.Generator):
        super().__init__()
        fan_in = dim_x + dim_y
        self.first_x = _linear(dim_x, hidden[0], gen, init_fan_in=fan_in)
        self.first_y = _linear(dim_y, hidden[0], gen, bias=False, init_fan_in=fan_in)
        self.act = ACTIVATIONS[activation]()
        self.rest = _mlp([*hidden, 1], activation, gen)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Scores ``(len(x), len(y))`` with ``[i, j] = f(x_i, y_j)``."""
        hx = self.first_x(x)
        hy = self.first_y(y)
        rows = len(x) if torch.is_grad_enabled() else max(1, self._CHUNK_PAIRS // max(1, len(y)))
        out = [
            self.rest(self.act(hx[i : i + rows, None, :] + hy[None, :, :])).squeeze(-1) for i in range(0, len(x), rows)
        ]
        return torch.cat(out, dim=0)


def build_critic(
    critic: str,
    dim_x: int,
    dim_y: int,
    *,
    hidden: Sequence[int] = (256, 256),
    embed_dim: int = 32,
    activation: str = "silu",
    seed: Any = 0,
) -> nn.Module:
    """Build a critic on the CPU with a deterministic initialisation.

    Parameters
    ----------
    critic : {"separable", "joint"}
        :class:`SeparableCritic` or :class:`JointCritic`.
    dim_x, dim_y : int
        Input dimensions.
    hidden, embed_dim, activation
        As in :class:`NeuralConfig`.
    seed : int, Generator or None
        Seeds the weights (drawn from a private ``torch.Generator``).

    Returns
    -------
    torch.nn.Module
        ``module(x, y)`` returns the ``(len(x), len(y))`` score matrix.
    """
    check_choice("critic", critic, CRITICS)
    check_int("dim_x", dim_x, low=1)
    check_int("dim_y", dim_y, low=1)
    hidden = check_hidden(hidden)
    embed_dim = check_int("embed_dim", embed_dim, low=1)
    check_choice("activation", activation, list(ACTIVATIONS))
    gen = torch.Generator().manual_seed(spawn_seeds(seed, 1)[0])
    if critic == "separable":
        return SeparableCritic(dim_x, dim_y, hidden, embed_dim, activation, gen)
    return JointCritic(dim_x, dim_y, hidden, activation, gen)


def check_hidden(hidden: Any) -> tuple[int, ...]:
    text = "hidden must be a non-empty sequence of positive integers (hidden layer widths)"
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, (list, tuple, np.ndarray)):
        if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
            raise TypeError(f"{text}; got the integer {hidden!r}: write ({hidden},) for one layer")
        raise TypeError(f"{text}; got {hidden!r}")
    widths = list(hidden)
    if not widths or any(
        isinstance(w, (bool, np.bool_)) or not isinstance(w, numbers.Integral) or int(w) < 1 for w in widths
    ):
        raise ValueError(f"{text}; got {hidden!r}")
    return tuple(int(w) for w in widths)
