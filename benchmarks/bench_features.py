"""Feature extraction at scale: streamed folders against loading the folder whole.

* ``test_extract_folder``: features of a folder of 32x32 RGB PNGs (10,000 at
  full size) with a small convolutional extractor, read as an
  :class:`~infobench.data.ImageStream` (one batch of pixels in memory at a
  time) side by side with :func:`~infobench.data.load_images` + extract (the
  whole folder as one float32 array). ``extra_info`` holds images per second
  and the bytes of pixels held at once by each route.
* ``test_resume_cost``: a cached extraction killed halfway resumes: seconds of
  the resumed half against the full run.

With ``--benchmark-disable`` the folder has 64 images (a smoke run).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks.conftest import pick
from infobench.data import folder_stream, load_images
from infobench.quality import features
from infobench.quality.inputs import RealData

BATCH = 512


class SmallConv(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten()
        )

    def forward(self, x):
        return self.net(x)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, full_size):
    root = tmp_path_factory.mktemp("rgb-folder")
    n = pick(full_size, 10_000, 64)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)).save(root / f"{i:05d}.png")
    return root


@pytest.mark.parametrize("route", ["stream", "in-memory"])
def test_extract_folder(benchmark, folder, route):
    torch.set_num_threads(1)
    stream = folder_stream(folder)
    ext = features.make_extractor(SmallConv(), RealData(stream, None, "folder"), device="cpu")

    seconds = []

    def run():
        t0 = time.perf_counter()
        images = stream if route == "stream" else load_images(folder)
        out = features.extract(images, ext, batch_size=BATCH, cache=False)[0]
        seconds.append(time.perf_counter() - t0)
        return out

    benchmark.group = "extract-folder-rgb32"
    feats = benchmark.pedantic(run, rounds=1, iterations=1)
    n = len(stream)
    held = min(BATCH, n) if route == "stream" else n
    benchmark.extra_info.update(
        images=n, pixel_bytes_held=held * 3 * 32 * 32 * 4, images_per_second=round(n / seconds[-1], 1)
    )
    assert feats.shape == (n, 256)


def test_resume_cost(benchmark, folder, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setenv("INFOBENCH_CACHE", str(tmp_path))
    stream = folder_stream(folder)
    module = SmallConv()
    ext = features.make_extractor(module, RealData(stream, None, "folder"), device="cpu")
    batches = -(-len(stream) // BATCH)
    calls = {"n": 0}
    forward = ext.forward

    def dying(b):
        calls["n"] += 1
        if calls["n"] > batches // 2:
            raise KeyboardInterrupt
        return forward(b)

    ext.forward = dying
    with pytest.raises(KeyboardInterrupt):
        features.extract(stream, ext, batch_size=BATCH)
    ext.forward = forward
    benchmark.group = "extract-resume"
    benchmark.pedantic(lambda: features.extract(stream, ext, batch_size=BATCH), rounds=1, iterations=1)
    benchmark.extra_info.update(batches=batches, resumed_from=batches // 2)
