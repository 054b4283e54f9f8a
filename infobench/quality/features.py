"""Offline feature extractors and the per-input feature cache.

``"auto"`` (default)
    ``"classifier"`` when the reference set has class labels; otherwise the
    standard Inception features (clean resize) when ``inception-2015-12-05.pt``
    is found (:func:`find_inception`); otherwise ``"pixels"`` projected on
    64 principal components, with a warning that these numbers are not
    comparable with any published ones. Class-based scores need class
    probabilities: without labels and without the Inception file they are
    skipped, and ``info["skipped"]`` says why.
``"classifier"``
    A small CNN (:class:`ReferenceCNN`) trained by infobench on the real
    dataset's train split, cached in ``$INFOBENCH_CACHE/classifiers``
    (default ``~/.cache/infobench``) under a key made of everything that
    determines it (:func:`classifier_key`: the dataset's content fingerprint,
    the seed, :data:`ARCH_VERSION`, a hash of the training code's source and
    the torch version); trained when missing (written atomically, resumable
    epoch by epoch). Its held-out accuracy is measured
    on the real test split and reported. Features: the 64-d penultimate layer
    (before its ReLU, so no unit is constant zero); class probabilities: the
    softmax, in float64.
``"pixels"``
    Flattened pixels, optionally projected on the first ``pca`` principal
    components of the real reference set.
``"inception[:PATH]"``, ``"inception-legacy[:PATH]"``
    The TensorFlow Inception-v3 graph of the FID literature as the TorchScript
    file ``inception-2015-12-05.pt`` that StyleGAN2-ADA / StyleGAN3 and
    clean-fid load (Heusel et al. 2017; Karras et al. 2020; Parmar et al.
    2022, "On aliased resizing and surprising subtleties in GAN evaluation"),
    from ``PATH`` or the cache folders of those tools. Conventions, as in
    their metric code: images are quantised to uint8 values
    (``round(255 x)``), grey images repeat their plane to RGB, and the graph
    gets float32 NCHW in [0, 255] (it normalises ``(x - 128) / 128`` itself).
    ``inception`` uses clean-fid's "clean" resize: PIL bicubic to 299x299
    per image and channel on the uint8 values (float mode, not re-quantised);
    ``inception-legacy`` passes the images at their own size and lets the
    graph resize them (bilinear, as TensorFlow's FID and StyleGAN do).
    Features: the 2048-d pool layer (``return_features=True``); class
    probabilities: the graph's 1008-way softmax (with ``no_output_bias=True``
    when the graph accepts it, as StyleGAN2-ADA's Inception score does).
``"hub:DIR:ENTRY[:WEIGHTS]"``
    Any backbone from a local ``torch.hub`` folder (one with a
    ``hubconf.py``): ``torch.hub.load(DIR, ENTRY, source="local")``; with
    ``WEIGHTS``, the entry is called with ``pretrained=False`` (when it
    accepts it) and the state dict in ``WEIGHTS`` is loaded (strictly).
    Inputs follow the convention of ImageNet backbones such as DINOv2
    (Oquab et al. 2023; recommended for evaluation by Stein et al. 2023):
    RGB (grey repeated), resized to 224x224 (bicubic, anti-aliased),
    normalised with the ImageNet mean and standard deviation. The model's
    output (the class token for DINOv2) is the feature vector.
a user module
    ``"package.module:factory"`` (``factory()`` returns a ``torch.nn.Module``),
    a TorchScript file, or a module object. It receives float32 images
    ``(N, C, H, W)`` in [0, 1] and returns features ``(N, d)``, or a pair
    ``(features, logits)`` (or a dict with those keys) to enable the
    class-based scores.

Features are computed in streamed batches on the chosen device without
gradients (an :class:`~infobench.data.ImageStream` is decoded one batch at a
time) and cached per input in ``$INFOBENCH_CACHE/features/<extractor key>/``
under the content fingerprint of the images, so a second run on the same
file is free. Every finished batch is written first as its own file, so a
killed extraction resumes from the last finished batch. The extractor key
holds the weights' (or file's) hash and a hash of the extraction code.

The code lives in modules named for what they hold: :mod:`~infobench.quality.extractors`
(the builders and :func:`make_extractor`), :mod:`~infobench.quality.classifier`
(the reference CNN and its training), :mod:`~infobench.quality.inception` (the
Inception file and its input conventions), :mod:`~infobench.quality.extraction`
(streamed, cached extraction) and :mod:`~infobench.quality.cache` (cache folder and
keys). This module keeps their public names in one place.
"""

from infobench.quality.cache import cache_root, code_hash
from infobench.quality.classifier import ARCH_VERSION, EMBED_DIM, ReferenceCNN, classifier_key, train_classifier
from infobench.quality.extraction import Extractor, extract
from infobench.quality.extractors import AUTO_PCA, EXTRACTORS, make_extractor
from infobench.quality.inception import INCEPTION_FILE, INCEPTION_URL, clean_resize, find_inception, inception_locations

__all__ = [
    "ARCH_VERSION",
    "AUTO_PCA",
    "EMBED_DIM",
    "EXTRACTORS",
    "INCEPTION_FILE",
    "INCEPTION_URL",
    "Extractor",
    "ReferenceCNN",
    "cache_root",
    "classifier_key",
    "clean_resize",
    "code_hash",
    "extract",
    "find_inception",
    "inception_locations",
    "make_extractor",
    "train_classifier",
]
