"""Reference generators: offline datasets, DCGAN, WGAN-GP and a convolutional VAE.

>>> from infobench import generators
>>> ckpt = generators.train("vae", "digits", out="runs/vae-digits")   # doctest: +SKIP
>>> images = generators.load(ckpt).sample(10_000, seed=0)             # doctest: +SKIP
>>> images.shape                                                      # doctest: +SKIP
torch.Size([10000, 1, 8, 8])

See :func:`train`, :func:`load` and :func:`~infobench.data.load_dataset`.
"""

from infobench.data import ImageSet, load_dataset, load_images
from infobench.generators.checkpoint import TrainedGenerator, load
from infobench.generators.config import DEFAULTS, KINDS, TrainConfig
from infobench.generators.train import kept_checkpoints, train

__all__ = [
    "DEFAULTS",
    "KINDS",
    "ImageSet",
    "TrainConfig",
    "TrainedGenerator",
    "load",
    "load_dataset",
    "kept_checkpoints",
    "load_images",
    "train",
]
