"""Where the standard Inception graph is found, and the input conventions of the FID literature.

The TorchScript file ``inception-2015-12-05.pt`` is looked for, never
downloaded (:func:`inception_locations`); images are quantised to uint8 RGB
and resized the way clean-fid does (:func:`clean_resize`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from infobench.quality.cache import cache_root

__all__ = ["INCEPTION_FILE", "INCEPTION_URL", "clean_resize", "find_inception", "inception_locations"]

INCEPTION_FILE = "inception-2015-12-05.pt"
INCEPTION_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/" + INCEPTION_FILE


def inception_locations() -> list[Path]:
    """Where ``inception-2015-12-05.pt`` is looked for, in order.

    ``$INFOBENCH_CACHE/inception-2015-12-05.pt``; StyleGAN2-ADA / StyleGAN3's
    download cache (``$DNNLIB_CACHE_DIR/downloads`` or
    ``~/.cache/dnnlib/downloads``, files named ``<md5 of the URL>_inception-2015-12-05.pt``);
    clean-fid's default folder (the temporary directory, ``/tmp``).
    """
    places = [cache_root() / INCEPTION_FILE]
    env = os.environ.get("DNNLIB_CACHE_DIR")
    dnnlib = Path(env).expanduser() / "downloads" if env else Path.home() / ".cache" / "dnnlib" / "downloads"
    places += sorted(dnnlib.glob(f"*_{INCEPTION_FILE}")) if dnnlib.is_dir() else [dnnlib / f"<md5>_{INCEPTION_FILE}"]
    places.append(Path(tempfile.gettempdir()) / INCEPTION_FILE)
    return places


def find_inception() -> Path | None:
    """The first existing file of :func:`inception_locations`, or None."""
    return next((p for p in inception_locations() if p.is_file()), None)


def _missing_inception(path: Path | None) -> FileNotFoundError:
    looked = [str(path)] if path is not None else [str(p) for p in inception_locations()]
    return FileNotFoundError(
        f"the standard Inception features need the TorchScript file {INCEPTION_FILE} (the graph StyleGAN2-ADA and "
        f"clean-fid use; nothing is downloaded); looked for {', '.join(repr(p) for p in looked)}. Fetch it on a "
        f"machine with internet ({INCEPTION_URL}) and put it at {str(cache_root() / INCEPTION_FILE)!r}, or pass "
        "--extractor inception:PATH"
    )


def clean_resize(x: torch.Tensor, size: int = 299) -> torch.Tensor:
    """clean-fid's "clean" resize: PIL bicubic to ``size x size``, per image and channel, in float mode.

    ``x``: float ``(N, C, H, W)`` holding uint8 values; returns float32 on the
    CPU, not re-quantised (Parmar et al. 2022, section 3; clean-fid's
    ``make_resizer("PIL", False, "bicubic", (299, 299))``).
    """
    from PIL import Image  # deferred: PIL is only needed on this route

    planes = x.detach().cpu().to(torch.float32).numpy()
    out = np.empty((*planes.shape[:2], size, size), dtype=np.float32)
    for i, image in enumerate(planes):
        for c, plane in enumerate(image):
            out[i, c] = np.asarray(
                Image.fromarray(plane, mode="F").resize((size, size), resample=Image.Resampling.BICUBIC)
            )
    return torch.from_numpy(out)


def _to_uint8_rgb(b: torch.Tensor) -> torch.Tensor:
    """[0, 1] images -> float32 with the uint8 values ``round(255 x)``, grey planes repeated to RGB."""
    if b.shape[1] not in (1, 3):
        raise ValueError(f"the Inception and hub extractors take 1- or 3-channel images; got {b.shape[1]} channels")
    x = torch.round(b.to(torch.float32) * 255.0)
    return x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x
