"""Datasets and image inputs, all loaded from local files (nothing is downloaded).

Used by :mod:`infobench.generators` (training data) and :mod:`infobench.quality`
(real and generated images). See :func:`load_dataset` for the dataset specs and
:func:`load_images` for files and folders of generated images.
"""

from infobench.data.datasets import (
    IMAGE_SUFFIXES,
    SPLITS,
    TEST_FRACTION,
    ImageSet,
    check_value_range,
    default_range,
    load_dataset,
    load_images,
    normalise_images,
    read_idx,
    resolve_range,
    scale_images,
    stratified_split,
)
from infobench.data.streams import ImageStream, array_stream, as_stream, folder_stream, open_stream, sha256_tensors

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageSet",
    "ImageStream",
    "array_stream",
    "as_stream",
    "folder_stream",
    "open_stream",
    "sha256_tensors",
    "SPLITS",
    "TEST_FRACTION",
    "check_value_range",
    "default_range",
    "load_dataset",
    "load_images",
    "normalise_images",
    "read_idx",
    "resolve_range",
    "scale_images",
    "stratified_split",
]
