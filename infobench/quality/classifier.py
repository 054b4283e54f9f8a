"""The reference classifier of the ``"classifier"`` extractor: the CNN, its training and its cache key.

:class:`ReferenceCNN` is trained by :func:`train_classifier` on the real
dataset's train split (deterministic for a seed, resumable epoch by epoch);
:func:`classifier_key` names the trained weights by everything that determines
them, the training code's source hash included.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from infobench._progress import progress as show_progress
from infobench._validation import check_int, resolve_device, spawn_seeds
from infobench.data import ImageSet, stratified_split
from infobench.quality.cache import _atomic_save, code_hash

__all__ = ["ARCH_VERSION", "EMBED_DIM", "ReferenceCNN", "classifier_key", "train_classifier"]

ARCH_VERSION = 1
EMBED_DIM = 64


class ReferenceCNN(nn.Module):
    """The small CNN behind the ``"classifier"`` extractor.

    ``conv(C->32) BN ReLU [maxpool]* conv(32->32) BN ReLU maxpool
    conv(32->64) BN ReLU avgpool(2x2) dropout linear(256->64) |
    ReLU dropout linear(64->classes)`` (BN: batch normalisation, which lifts
    held-out accuracy on digits from about 97.5 % to about 99 %).
    Extra max-pools bring larger images down to at most 8 pixels a side first
    (28x28 MNIST: two), so the cost per image stays small.
    ``forward`` returns ``(features, logits)``, features being the 64-d
    penultimate layer before its ReLU.
    """

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, width: int = 32):
        super().__init__()
        c, h, w = image_shape
        if min(h, w) < 4:
            raise ValueError(f"the classifier extractor needs images of at least 4x4 pixels; got {h}x{w}")
        pools = []
        side = min(h, w)
        while side > 8:
            pools.append(nn.MaxPool2d(2))
            side //= 2
        self.body = nn.Sequential(
            nn.Conv2d(c, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            *pools,
            nn.Conv2d(width, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(8 * width, EMBED_DIM),
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(0.3), nn.Linear(EMBED_DIM, num_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.body(x)
        return z, self.head(z)


# About 700 optimizer steps (30 epochs of the 1,438 digits): enough for > 97 %
# held-out accuracy on digits; large sets get at least two epochs.
_TARGET_STEPS, _MIN_EPOCHS, _MAX_EPOCHS, _BATCH = 700, 2, 30, 64


def _epochs(n: int) -> int:
    steps = math.ceil(n / _BATCH)
    return min(_MAX_EPOCHS, max(_MIN_EPOCHS, math.ceil(_TARGET_STEPS / steps)))


@contextlib.contextmanager
def _one_thread():
    """Run the training loop on one intra-op thread, then restore the setting.

    The classifier's convolutions are tiny (64 images of 8x8 per step on
    digits): splitting each op across threads costs more in synchronisation
    than it saves, and on a busy machine it made training 15x slower.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, device) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, len(images), 1024):
            logits = model(images[s : s + 1024].to(device))[1]
            correct += int((logits.argmax(1).cpu() == labels[s : s + 1024]).sum())
    return correct / len(images)


def train_classifier(
    train: ImageSet,
    test: ImageSet | None,
    *,
    seed: int = 0,
    device: Any = "auto",
    path: str | os.PathLike | None = None,
    progress: bool = False,
    epochs: int | None = None,
) -> tuple[ReferenceCNN, dict[str, Any]]:
    """Train :class:`ReferenceCNN` on ``train`` and measure its accuracy on ``test``.

    AdamW (weight decay 1e-4) with a one-cycle learning rate (peak 3e-3),
    batches of 64, cross-entropy, ``epochs`` epochs (default: about 700
    optimizer steps, at least 2 and at most 30 epochs). Deterministic for a
    given ``seed``: initialisation, each epoch's shuffle and dropout draw from
    seeds derived with :func:`~infobench._validation.spawn_seeds`, inside
    :func:`torch.random.fork_rng` so the global RNG is untouched. With
    ``path``, the state after every epoch is written atomically to
    ``path + ".partial"`` and an interrupted run resumes from it.

    Without ``test``, a stratified 20 % of ``train`` is held out to measure
    the accuracy (and not trained on).

    Returns
    -------
    (model, info)
        The model in eval mode on ``device``; ``info`` holds ``accuracy``,
        ``accuracy_n``, ``accuracy_on``, ``epochs``, ``seed``, ``arch_version``.
    """
    if train.labels is None or train.num_classes is None:
        raise ValueError(
            f"the 'classifier' extractor needs class labels in the real data ({train.name!r} has none); "
            "use extractor='pixels' or a module"
        )
    dev = resolve_device(device)
    x, y = train.images, train.labels
    if test is None or test.labels is None:
        tr, te = stratified_split(y.numpy(), len(y), seed)
        test = train.subset(te, name=f"{train.name} (20% held out)")
        x, y = x[torch.as_tensor(tr)], y[torch.as_tensor(tr)]
    num_classes = max(int(train.num_classes), int(y.max()) + 1)
    epochs = _epochs(len(x)) if epochs is None else check_int("epochs", epochs, low=1)
    seeds = spawn_seeds(seed, epochs + 1)
    partial = None if path is None else Path(str(path) + ".partial")
    steps_per_epoch = math.ceil(len(x) / _BATCH)
    devices = [dev] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seeds[-1])
        model = ReferenceCNN(train.shape, num_classes).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * steps_per_epoch)
    start = 0
    if partial is not None and partial.is_file():
        try:
            state = torch.load(partial, map_location=dev, weights_only=True)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            start = int(state["epoch"])
        except Exception as exc:  # a stale or corrupt partial file: start over
            warnings.warn(f"ignoring unreadable partial classifier state {str(partial)!r} ({exc})", stacklevel=2)
            start = 0
    with (
        show_progress(
            progress, epochs, f"training classifier on {train.name}", unit="epochs", completed=start
        ) as advance,
        _one_thread(),
    ):
        for epoch in range(start, epochs):
            model.train()
            order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seeds[epoch]))
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(seeds[epoch])
                for s in range(0, len(x), _BATCH):
                    idx = order[s : s + _BATCH]
                    logits = model(x[idx].to(dev))[1]
                    loss = nn.functional.cross_entropy(logits, y[idx].to(dev))
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
            if partial is not None:
                _atomic_save(
                    {
                        "model": model.state_dict(),
                        "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(),
                        "epoch": epoch + 1,
                    },
                    partial,
                )
            advance(1)
    model.eval()
    # labelled: given with labels, or held out of the labelled training set
    acc = _accuracy(model, test.images, cast(torch.Tensor, test.labels), dev)
    info = {
        "accuracy": acc,
        "accuracy_n": len(test),
        "accuracy_on": test.name,
        "epochs": epochs,
        "seed": int(seed),
        "arch_version": ARCH_VERSION,
    }
    return model, info


def classifier_key(train: ImageSet, seed: int) -> str:
    """Everything that determines the cached classifier, as one file-name-safe string.

    The training data's content fingerprint, the seed, :data:`ARCH_VERSION`,
    and :func:`code_hash` of the training code (:class:`ReferenceCNN`,
    :func:`train_classifier` and its schedule) with the torch version. Editing
    the training code therefore trains a new classifier instead of reusing one
    trained by other code.
    """
    return f"{train.fingerprint()[:16]}-s{seed}-v{ARCH_VERSION}-c{_CLASSIFIER_CODE}-{_TARGET_STEPS}x{_BATCH}"


# Source hash of the installed training code, taken at import (monkeypatching a function later does not change it).
_CLASSIFIER_CODE = code_hash(ReferenceCNN, train_classifier, _epochs, _accuracy, _one_thread)
