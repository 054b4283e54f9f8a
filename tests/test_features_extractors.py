"""Standard Inception features (scripted stand-in), local torch.hub backbones, the unlabelled default,
streamed extraction with resume, and cache keys that follow the training code."""

import shutil
import tempfile
import textwrap
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torch.nn import functional as F

from infobench.data import ImageSet, folder_stream
from infobench.quality import classifier, extractors, features, frechet_distance, score
from infobench.quality.inputs import RealData
from rgb_shapes import coloured_shapes


class InceptionStandIn(torch.nn.Module):
    """Same call signature as ``inception-2015-12-05.pt``: ``forward(x, return_features)``.

    Like the real graph it resizes to 299 (bilinear) and normalises ``(x - 128) / 128``
    itself. Its first four features report what it was given: the input width,
    the largest difference between the red and green planes, the largest value,
    and the largest distance to an integer; ``forward`` without features returns
    1008 softmax probabilities.
    """

    def __init__(self, dim: int = 2048):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.register_buffer("proj", torch.randn(3 * 4 * 4, dim - 4, generator=g))
        self.register_buffer("head", torch.randn(dim, 1008, generator=g) / 50)

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        if x.dtype != torch.float32:
            raise RuntimeError("expects float32")
        if x.shape[1] != 3:
            raise RuntimeError("expects 3 channels")
        width = torch.full((x.shape[0], 1), float(x.shape[3]))
        rg = (x[:, 0] - x[:, 1]).abs().amax(dim=(1, 2)).unsqueeze(1)
        top = x.amax(dim=(1, 2, 3)).unsqueeze(1)
        frac = (x - x.round()).abs().amax(dim=(1, 2, 3)).unsqueeze(1)
        y = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        y = (y - 128.0) / 128.0
        pooled = F.adaptive_avg_pool2d(y, (4, 4)).flatten(1)
        feats = torch.cat([width, rg, top, frac, pooled @ self.proj], dim=1)
        if return_features:
            return feats
        return torch.softmax(feats @ self.head, dim=1)


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("inception") / features.INCEPTION_FILE
    torch.jit.script(InceptionStandIn()).save(str(path))
    return path


@pytest.fixture(scope="module")
def small_inception_file(tmp_path_factory):
    """A 32-d stand-in: FID's eigendecompositions in 2048-d take tens of seconds on a shared CPU."""
    path = tmp_path_factory.mktemp("inception32") / features.INCEPTION_FILE
    torch.jit.script(InceptionStandIn(32)).save(str(path))
    return path


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("INFOBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DNNLIB_CACHE_DIR", str(tmp_path / "dnnlib"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # clean-fid's default folder
    (tmp_path / "tmp").mkdir()
    return tmp_path / "cache"


def rgb_set(n, size=32, seed=0, labels=False):
    imgs, lab = coloured_shapes(n, size=size, seed=seed)
    x = torch.from_numpy(imgs.transpose(0, 3, 1, 2).astype(np.float32) / 255)
    return ImageSet(x, torch.from_numpy(lab) if labels else None, f"shapes{seed}", 3 if labels else None)


def real_of(images):
    return RealData(images, None, images.name)


def reference_inputs(images, resize):
    """What the clean-fid / StyleGAN code hands the graph, computed here independently."""
    x = (images.images.numpy() * 255).round().astype(np.float32)
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    if resize == "clean":
        x = np.stack(
            [
                np.stack([np.asarray(Image.fromarray(p, mode="F").resize((299, 299), Image.BICUBIC)) for p in img])
                for img in x
            ]
        )
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


@pytest.mark.parametrize("resize, spec", [("clean", "inception"), ("legacy", "inception-legacy")])
def test_inception_conventions(inception_file, cache, resize, spec):
    real = rgb_set(12, seed=1)
    ext = features.make_extractor(f"{spec}:{inception_file}", real_of(real), device="cpu")
    assert ext.has_probs and ext.info["dim"] == 2048 and ext.info["resize"].startswith(resize)
    feats, probs = features.extract(real, ext, batch_size=5, cache=False)
    # The graph sees uint8 values as float32 NCHW (integers in [0, 255]) at 299 (clean) or 32 (legacy) pixels.
    assert torch.all(feats[:, 0] == (299 if resize == "clean" else 32))
    if resize == "legacy":
        assert torch.all(feats[:, 3] == 0)
        np.testing.assert_array_equal(feats[:, 2].numpy(), (real.images.amax(dim=(1, 2, 3)) * 255).round().numpy())
    else:  # clean-fid resizes the uint8 values in float mode and does not quantise again
        assert torch.all(feats[:, 3] > 0)
    module = InceptionStandIn()
    with torch.no_grad():
        x = reference_inputs(real, resize)
        expect = module(x, return_features=True).double()
        expect_probs = module(x).double()
    # Same float32 operations on the same inputs; batches of 5 vs 12 may change BLAS blocking (~1e-6 relative).
    torch.testing.assert_close(feats, expect, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(probs, expect_probs / expect_probs.sum(1, keepdim=True), rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("resize, spec", [("clean", "inception"), ("legacy", "inception-legacy")])
def test_fid_of_inception_features_equals_the_formula(small_inception_file, cache, resize, spec):
    real, fake = rgb_set(40, seed=1), rgb_set(40, seed=2)
    module = InceptionStandIn(32)
    with torch.no_grad():
        r = module(reference_inputs(real, resize), return_features=True).double()
        f = module(reference_inputs(fake, resize), return_features=True).double()
    df = score(real, {"g": fake}, extractor=f"{spec}:{small_inception_file}", scores="fid", device="cpu", cache=False)
    formula = frechet_distance(r.mean(0), torch.cov(r.T), f.mean(0), torch.cov(f.T))
    # float32 features agree to ~1e-6 relative; FID is a smooth function of their moments.
    assert df["value"].iloc[0] == pytest.approx(formula, rel=1e-4)
    assert df.attrs["extractor"]["resize"].startswith(resize) and df.attrs["extractor"]["comparable"]


def test_inception_repeats_a_grey_plane_to_rgb(inception_file, cache):
    grey = ImageSet(torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(0)), None, "grey", None)
    ext = features.make_extractor(f"inception-legacy:{inception_file}", real_of(grey), device="cpu")
    feats, _ = features.extract(grey, ext, cache=False)
    assert torch.all(feats[:, 1] == 0)  # red and green planes are equal: the grey plane was repeated


def test_inception_found_in_the_cache_folders_of_stylegan_and_clean_fid(inception_file, cache, tmp_path):
    real = real_of(rgb_set(3, size=8))
    dnn = tmp_path / "dnnlib" / "downloads"
    dnn.mkdir(parents=True)
    shutil.copy(inception_file, dnn / f"0123abcd_{features.INCEPTION_FILE}")
    assert features.find_inception() == dnn / f"0123abcd_{features.INCEPTION_FILE}"
    assert features.make_extractor("inception", real, device="cpu").info["path"].startswith(str(dnn))
    shutil.copy(inception_file, tmp_path / "tmp" / features.INCEPTION_FILE)
    (dnn / f"0123abcd_{features.INCEPTION_FILE}").unlink()
    assert features.find_inception() == tmp_path / "tmp" / features.INCEPTION_FILE
    cache.mkdir(exist_ok=True)  # infobench's own cache folder comes first
    shutil.copy(inception_file, cache / features.INCEPTION_FILE)
    assert features.find_inception() == cache / features.INCEPTION_FILE


def test_missing_inception_file_says_which_file_and_where(cache, tmp_path):
    real = real_of(rgb_set(3, size=8))
    with pytest.raises(FileNotFoundError, match="inception-2015-12-05.pt .*nothing is downloaded.*put it at"):
        features.make_extractor("inception", real, device="cpu")
    with pytest.raises(FileNotFoundError, match="looked for '.*nope.pt'"):
        features.make_extractor(f"inception:{tmp_path / 'nope.pt'}", real, device="cpu")
    (tmp_path / "junk.pt").write_bytes(b"not a graph")
    with pytest.raises(ValueError, match="Inception file .*junk.pt' is not a TorchScript file"):
        features.make_extractor(f"inception:{tmp_path / 'junk.pt'}", real, device="cpu")


HUBCONF = """
    dependencies = ["torch"]
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 5)

        def forward(self, x):
            return self.lin(x.mean(dim=(2, 3)))

    def tiny(pretrained=True):
        if pretrained:
            raise RuntimeError("pretrained weights would be downloaded")
        return Tiny()

    def plain():
        return Tiny()
"""


@pytest.fixture()
def hub_dir(tmp_path):
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "hubconf.py").write_text(textwrap.dedent(HUBCONF))
    lin = torch.nn.Linear(3, 5)
    with torch.no_grad():
        lin.weight.copy_(torch.arange(15.0).reshape(5, 3) / 10)
        lin.bias.copy_(torch.arange(5.0))
    torch.save({"state_dict": {f"lin.{k}": v for k, v in lin.state_dict().items()}}, tmp_path / "w.pt")
    return tmp_path / "hub", tmp_path / "w.pt", lin


@pytest.mark.parametrize("entry", ["tiny", "plain"])
def test_hub_backbone_from_a_local_folder_with_weights(hub_dir, cache, entry):
    folder, weights, lin = hub_dir
    images = rgb_set(6, size=16)
    ext = features.make_extractor(f"hub:{folder}:{entry}:{weights}", real_of(images), device="cpu")
    feats, probs = features.extract(images, ext, cache=False)
    assert probs is None and ext.info["dim"] == 5
    # The ImageNet-backbone convention: bicubic to 224, then (x - mean) / std per channel.
    x = F.interpolate(images.images, size=(224, 224), mode="bicubic", antialias=True, align_corners=False)
    x = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(
        1, 3, 1, 1
    )
    with torch.no_grad():
        torch.testing.assert_close(feats, lin(x.mean(dim=(2, 3))).double(), rtol=1e-5, atol=1e-5)


def test_hub_spec_errors(hub_dir, cache, tmp_path):
    folder, _weights, _ = hub_dir
    real = real_of(rgb_set(2, size=8))
    with pytest.raises(ValueError, match="extractor must be 'hub:DIR:ENTRY' or 'hub:DIR:ENTRY:WEIGHTS'"):
        features.make_extractor(f"hub:{folder}", real, device="cpu")
    with pytest.raises(FileNotFoundError, match="hubconf.py' does not exist"):
        features.make_extractor(f"hub:{tmp_path}:tiny", real, device="cpu")
    with pytest.raises(FileNotFoundError, match="weights file .* does not exist"):
        features.make_extractor(f"hub:{folder}:tiny:{tmp_path / 'none.pt'}", real, device="cpu")
    with pytest.raises(ValueError, match="loading 'tiny' .* failed .*would be downloaded"):
        features.make_extractor(f"hub:{folder}:tiny", real, device="cpu")


def test_unlabelled_reference_falls_back_to_pixels_with_a_warning(cache):
    real, fake = rgb_set(40, size=8, seed=1), rgb_set(30, size=8, seed=2)
    with pytest.warns(UserWarning, match="NOT comparable with published ones"):
        df = score(real, {"g": fake}, device="cpu", n_boot=0, k=3)
    ext = df.attrs["extractor"]
    assert ext["name"] == "pixels" and ext["pca"] == 40 and ext["comparable"] is False
    assert "no labels" in ext["skipped"]
    assert not {"inception_score", "class_kl"} & set(df["score"])
    assert {"fid", "precision"} <= set(df["score"])


def test_unlabelled_reference_uses_the_standard_features_when_present(inception_file, cache):
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copy(inception_file, cache / features.INCEPTION_FILE)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no fallback warning
        ext = features.make_extractor("auto", real_of(rgb_set(3, size=8)), device="cpu")
    assert ext.name == "inception" and ext.info["comparable"] is True


def test_labelled_reference_keeps_the_classifier(cache, monkeypatch):
    chosen = features.Extractor("classifier", "k", lambda b: (b, b), True, torch.device("cpu"))
    monkeypatch.setattr(extractors, "_classifier", lambda real, **kw: chosen)
    assert features.make_extractor("auto", real_of(rgb_set(3, size=8, labels=True)), device="cpu") is chosen


class Counting(torch.nn.Module):
    def __init__(self, fail_at=None):
        super().__init__()
        self.calls, self.fail_at = 0, fail_at

    def forward(self, x):
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise RuntimeError("killed")
        return x.mean(dim=(2, 3))


def test_streamed_extraction_resumes_from_the_last_finished_batch(tmp_path, cache):
    imgs, _ = coloured_shapes(23, size=8)
    (tmp_path / "f").mkdir()
    for i, img in enumerate(imgs):
        Image.fromarray(img).save(tmp_path / "f" / f"{i:03d}.png")
    stream = folder_stream(tmp_path / "f")
    real = RealData(stream, None, "f")
    full, _ = features.extract(
        stream, features.make_extractor(Counting(), real, device="cpu"), batch_size=5, cache=False
    )
    dying = Counting(fail_at=4)  # the probe is call 1: batches 1 and 2 finish, batch 3 dies
    ext = features.make_extractor(dying, real, device="cpu")
    with pytest.raises(ValueError, match="killed"):
        features.extract(stream, ext, batch_size=5)
    parts = list((cache / "features" / ext.key).glob("*.parts-b5/*.pt"))
    assert len(parts) == 2
    again = Counting()
    ext2 = features.make_extractor(again, real, device="cpu")
    assert ext2.key == ext.key  # same weights (none), same code
    again.calls = 0
    feats, _ = features.extract(stream, ext2, batch_size=5)
    assert again.calls == 3  # batches 3, 4 and 5 of 5
    torch.testing.assert_close(feats, full, rtol=0, atol=0)
    assert not list((cache / "features" / ext.key).glob("*.parts-b5"))  # parts removed once the result is whole
    again.calls = 0
    features.extract(stream, ext2, batch_size=5)
    assert again.calls == 0  # read from the cache


def test_code_hash_follows_source_and_torch_version(monkeypatch):
    def f(x):
        return x + 1

    def g(x):
        return x + 2

    assert features.code_hash(f) == features.code_hash(f) != features.code_hash(g)
    before = features.code_hash(f)
    monkeypatch.setattr(torch, "__version__", torch.__version__ + "+other")
    assert features.code_hash(f) != before
    monkeypatch.undo()
    # The classifier's code version is the hash of its installed training code.
    assert classifier._CLASSIFIER_CODE == features.code_hash(
        features.ReferenceCNN,
        features.train_classifier,
        classifier._epochs,
        classifier._accuracy,
        classifier._one_thread,
    )


def test_classifier_cache_key_follows_code_data_and_seed(monkeypatch):
    a, b = rgb_set(6, size=8, seed=1, labels=True), rgb_set(6, size=8, seed=2, labels=True)
    key = features.classifier_key(a, 0)
    assert features.classifier_key(a, 0) == key
    assert features.classifier_key(a, 1) != key
    assert features.classifier_key(b, 0) != key
    assert classifier._CLASSIFIER_CODE in key
    monkeypatch.setattr(classifier, "_CLASSIFIER_CODE", "0" * 16)  # as if the training code had been edited
    assert features.classifier_key(a, 0) != key


def test_changed_training_code_retrains_instead_of_reusing(cache, monkeypatch):
    train = rgb_set(30, size=8, seed=3, labels=True)
    real = RealData(train, None, "tiny-shapes")
    calls = []
    real_train = features.train_classifier

    def counting(*args, **kwargs):
        calls.append(1)
        return real_train(*args, **dict(kwargs, epochs=1))

    monkeypatch.setattr(extractors, "train_classifier", counting)
    features.make_extractor("classifier", real, device="cpu")
    features.make_extractor("classifier", real, device="cpu")
    assert len(calls) == 1  # the second call reads the cached classifier
    monkeypatch.setattr(classifier, "_CLASSIFIER_CODE", "f" * 16)  # an edited training code
    ext = features.make_extractor("classifier", real, device="cpu")
    assert len(calls) == 2
    assert len(list((cache / "classifiers").glob("*.pt"))) == 2 and ext.info["cache_key"] in ext.info["path"]


def test_streamed_folders_score_like_their_in_memory_arrays(tmp_path, cache):
    from infobench.data import load_dataset, load_images
    from infobench.quality import fid

    for name, seed, n in (("real", 1, 40), ("fake", 2, 30)):
        (tmp_path / name).mkdir()
        for i, img in enumerate(coloured_shapes(n, size=8, seed=seed)[0]):
            Image.fromarray(img).save(tmp_path / name / f"{i:03d}.png")
    df = score(
        str(tmp_path / "real"),
        {"g": str(tmp_path / "fake")},
        extractor="pixels",
        scores="fid",
        device="cpu",
        cache=False,
    )
    real = load_dataset(str(tmp_path / "real"), split="train").images.flatten(1)
    fake = load_images(tmp_path / "fake").images.flatten(1)
    # The same pixels in float64 either way: equal up to the order of floating-point sums.
    assert df["value"].iloc[0] == pytest.approx(fid(real, fake, device="cpu"), rel=1e-9)
    assert df["n_fake"].iloc[0] == 30
