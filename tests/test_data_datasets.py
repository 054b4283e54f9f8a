"""Offline dataset loaders: digits, IDX (MNIST layout), image folders, arrays.

Every file is written by the tests themselves (IDX with ``struct``, images
with Pillow), so expected pixel values are known exactly.
"""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from infobench.data.datasets import (
    ImageSet,
    load_dataset,
    load_images,
    read_idx,
    stratified_split,
)


# ---------------------------------------------------------------- helpers
def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    """Reference IDX encoder: 0x0000, type code, ndim, big-endian uint32 dims, big-endian data."""
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(dtypes[code]).tobytes()


def write_idx(path, arr, code=0x08, gz=False):
    data = idx_bytes(arr, code)
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    return path


def make_mnist(folder, rng, n_train=12, n_test=5, gz=False, size=(28, 28)):
    """Write the four MNIST files into ``folder``; return the arrays written."""
    sfx = ".gz" if gz else ""
    arrays = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        imgs = rng.integers(0, 256, size=(n, *size), dtype=np.uint8)
        labs = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{sfx}", imgs, gz=gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{sfx}", labs, gz=gz)
        arrays[split] = (imgs, labs)
    return arrays


def save_png(path, arr, mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode=mode).save(path)
    return path


# ---------------------------------------------------------------- digits
def test_digits_all_matches_sklearn_exactly():
    from sklearn.datasets import load_digits

    ref = load_digits()
    ds = load_dataset("digits", split="all")
    assert ds.images.shape == (1797, 1, 8, 8) and ds.images.dtype == torch.float32
    # Pixel counts 0..16 divided by 16: exact in float32.
    np.testing.assert_array_equal(ds.images[:, 0].numpy(), (ref.images / 16).astype(np.float32))
    np.testing.assert_array_equal(ds.labels.numpy(), ref.target)
    assert ds.num_classes == 10 and float(ds.images.min()) == 0.0 and float(ds.images.max()) == 1.0


def test_digits_split_is_stratified_disjoint_and_seeded():
    all_ = load_dataset("digits", split="all")
    tr, te = load_dataset("digits", split="train", seed=0), load_dataset("digits", split="test", seed=0)
    assert len(tr) + len(te) == 1797
    # Each class sends round(0.2 * n_c) members to the test split.
    counts = np.bincount(all_.labels.numpy())
    np.testing.assert_array_equal(np.bincount(te.labels.numpy()), np.round(0.2 * counts).astype(int))

    # Disjoint: every image of "all" appears in exactly one split (rows compared as bytes).
    def rows(s):
        return {r.tobytes() + bytes([int(label)]) for r, label in zip(s.images.numpy(), s.labels.numpy())}

    assert rows(tr).isdisjoint(rows(te))
    # Same seed -> same split; another seed -> another split.
    assert torch.equal(load_dataset("digits", split="test", seed=0).images, te.images)
    assert not torch.equal(load_dataset("digits", split="test", seed=1).images, te.images)


def test_stratified_split_without_labels_is_a_partition():
    train, test = stratified_split(None, 50, seed=3)
    assert len(test) == 10 and sorted(np.concatenate([train, test]).tolist()) == list(range(50))


# ---------------------------------------------------------------- IDX
@pytest.mark.parametrize("code", [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E])
def test_read_idx_all_type_codes(tmp_path, code, rng):
    arr = rng.integers(-100, 100, size=(3, 4, 5))
    if code == 0x08:
        arr = np.abs(arr)
    got = read_idx(write_idx(tmp_path / "a.idx", arr, code))
    np.testing.assert_array_equal(got, arr)
    assert got.shape == (3, 4, 5) and got.dtype.isnative


@pytest.mark.parametrize("layout", ["flat", "raw", "torchvision"])
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_layouts_and_gzip(tmp_path, rng, layout, gz):
    sub = {"flat": "", "raw": "raw", "torchvision": "MNIST/raw"}[layout]
    arrays = make_mnist(tmp_path / sub, rng, gz=gz)
    tr = load_dataset(f"mnist:{tmp_path}", split="train")
    te = load_dataset(f"mnist:{tmp_path}", split="test")
    np.testing.assert_array_equal(tr.images[:, 0].numpy(), arrays["train"][0].astype(np.float32) / 255)
    np.testing.assert_array_equal(te.labels.numpy(), arrays["test"][1])
    assert tr.images.shape == (12, 1, 28, 28) and tr.num_classes == 10
    both = load_dataset(f"mnist:{tmp_path}", split="all")
    assert len(both) == 17 and torch.equal(both.images[:12], tr.images)


def test_fashion_mnist_torchvision_layout_and_root(tmp_path, rng):
    arrays = make_mnist(tmp_path / "FashionMNIST" / "raw", rng, gz=True)
    ds = load_dataset("fashion-mnist", split="train", root=tmp_path)
    np.testing.assert_array_equal(ds.labels.numpy(), arrays["train"][1])
    rel = load_dataset("fashion-mnist:.", split="test", root=tmp_path)
    assert len(rel) == 5


def test_mnist_dotted_file_names(tmp_path, rng):
    write_idx(tmp_path / "t10k-images.idx3-ubyte", rng.integers(0, 255, (2, 4, 4)))
    write_idx(tmp_path / "t10k-labels.idx1-ubyte", np.array([1, 2]))
    assert load_dataset(f"mnist:{tmp_path}", split="test").images.shape == (2, 1, 4, 4)


def test_mnist_missing_file_names_file_and_folders(tmp_path, rng):
    make_mnist(tmp_path, rng)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte\[\.gz\] not found; looked in .*MNIST.*raw"):
        load_dataset(f"mnist:{tmp_path}", split="test")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset(f"mnist:{tmp_path / 'nope'}")


def test_idx_corrupt_headers_and_sizes(tmp_path, rng):
    good = idx_bytes(rng.integers(0, 255, (2, 3, 3)))
    cases = {
        "magic.idx": (b"\x01" + good[1:], "bad magic number"),
        "code.idx": (good[:2] + b"\x07" + good[3:], "unknown data type code 0x07"),
        "short.idx": (good[:3], "too short"),
        "header.idx": (good[:9], "truncated inside its header"),
        "trunc.idx": (good[:-1], "has 17 data bytes but its header declares shape \\(2, 3, 3\\)"),
        "zero.idx": (bytes([0, 0, 8, 0]), "0 dimensions"),
    }
    for name, (data, msg) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=f"{name}.*{msg}|{msg}.*{name}"):
            read_idx(tmp_path / name)
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(ValueError, match="bad.gz.*corrupt or truncated"):
        read_idx(tmp_path / "bad.gz")


def test_mnist_inconsistent_files(tmp_path, rng):
    make_mnist(tmp_path, rng)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(3))
    with pytest.raises(ValueError, match="12 images.*3 labels.*disagree"):
        load_dataset(f"mnist:{tmp_path}")
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 4)))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.*uint8 images of shape \\(N, H, W\\)"):
        load_dataset(f"mnist:{tmp_path}")


# ---------------------------------------------------------------- folders
def test_png_folder_with_class_subfolders(tmp_path, rng):
    expected = {}
    for cls in ("cat", "ant"):
        for i in range(3):
            arr = rng.integers(0, 256, (6, 5), dtype=np.uint8)
            save_png(tmp_path / cls / f"{i}.png", arr)
            expected[(cls, i)] = arr
    ds = load_dataset(str(tmp_path), split="all")
    assert ds.images.shape == (6, 1, 6, 5) and ds.classes == ("ant", "cat") and ds.num_classes == 2
    np.testing.assert_array_equal(ds.labels.numpy(), [0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(ds.images[4, 0].numpy(), expected[("cat", 1)] / 255.0, rtol=0, atol=1e-7)
    tr, te = load_dataset(str(tmp_path), split="train"), load_dataset(str(tmp_path), split="test")
    assert len(tr) + len(te) == 6 and np.bincount(te.labels.numpy()).tolist() == [1, 1]


def test_flat_folder_rgb_and_grey_mix_becomes_rgb(tmp_path, rng):
    grey = rng.integers(0, 256, (4, 4), dtype=np.uint8)
    rgb = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    save_png(tmp_path / "a.png", grey)
    save_png(tmp_path / "b.png", rgb, mode="RGB")
    ds = load_images(tmp_path)
    assert ds.images.shape == (2, 3, 4, 4) and ds.labels is None
    np.testing.assert_allclose(ds.images[0].numpy(), np.stack([grey] * 3) / 255.0, atol=1e-7)
    np.testing.assert_allclose(ds.images[1].numpy(), rgb.transpose(2, 0, 1) / 255.0, atol=1e-7)


def test_jpeg_and_16bit_png(tmp_path):
    Image.fromarray(np.full((5, 5), 200, np.uint8)).save(tmp_path / "a.jpg", quality=95)
    ds = load_images(tmp_path)
    # JPEG is lossy: a flat grey block survives to within a couple of levels.
    assert ds.images.shape == (1, 1, 5, 5) and abs(float(ds.images.mean()) - 200 / 255) < 3 / 255
    (tmp_path / "a.jpg").unlink()
    Image.fromarray(np.full((3, 3), 65535, np.uint16)).save(tmp_path / "b.png")
    assert float(load_images(tmp_path).images.max()) == 1.0


def test_folder_errors_name_the_file(tmp_path, rng):
    save_png(tmp_path / "a.png", rng.integers(0, 256, (4, 4), dtype=np.uint8))
    save_png(tmp_path / "b.png", rng.integers(0, 256, (5, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"b\.png.* is 4x5 pixels but .*a\.png.* is 4x4"):
        load_images(tmp_path)
    (tmp_path / "b.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"cannot read image .*b\.png.*corrupt"):
        load_images(tmp_path)
    (tmp_path / "b.png").unlink()
    save_png(tmp_path / "cls" / "c.png", rng.integers(0, 256, (4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="mixes images at its top level with class sub-folders"):
        load_images(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="contains no images"):
        load_dataset(str(empty))


def test_decompression_bomb_is_a_clear_error(tmp_path, rng, monkeypatch):
    # PIL's DecompressionBombError escaped uncaught (exit 1). A 20x20 PNG is a
    # "bomb" once the limit is lowered: PIL refuses images over twice MAX_IMAGE_PIXELS.
    save_png(tmp_path / "a.png", rng.integers(0, 256, (20, 20), dtype=np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ValueError, match=r"image .*a\.png.* too large to load safely .*decompression bomb"):
        load_images(tmp_path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 400)  # within the limit: loads
    assert load_images(tmp_path).images.shape == (1, 1, 20, 20)


# ---------------------------------------------------------------- arrays
def test_npz_with_labels_and_layouts(tmp_path, rng):
    imgs = rng.integers(0, 256, (10, 7, 7, 3), dtype=np.uint8)  # channels last
    labels = np.repeat([0, 1], 5)
    np.savez(tmp_path / "d.npz", images=imgs, labels=labels)
    ds = load_dataset(str(tmp_path / "d.npz"), split="all")
    assert ds.images.shape == (10, 3, 7, 7) and ds.num_classes == 2
    np.testing.assert_allclose(ds.images.numpy(), imgs.transpose(0, 3, 1, 2) / 255.0, atol=1e-7)
    np.save(tmp_path / "x.npy", rng.uniform(size=(4, 6, 6)).astype(np.float32))
    assert load_dataset(str(tmp_path / "x.npy"), split="all").images.shape == (4, 1, 6, 6)
    np.savez(tmp_path / "xy.npz", x=rng.uniform(size=(4, 1, 3, 3)), y=np.arange(4))
    assert load_dataset("xy.npz", split="all", root=tmp_path).labels.tolist() == [0, 1, 2, 3]


def test_load_images_value_ranges(tmp_path, rng):
    x = rng.uniform(-1, 1, size=(5, 1, 4, 4))
    np.save(tmp_path / "t.npy", x)
    # Floats are read as [0, 1] unless declared: tanh outputs must be declared, never guessed.
    with pytest.raises(ValueError, match=r"look like \[-1, 1\]: pass value_range=\(-1, 1\)"):
        load_images(tmp_path / "t.npy")
    np.testing.assert_allclose(
        load_images(tmp_path / "t.npy", value_range=(-1, 1)).images.numpy(), (x + 1) / 2, rtol=1e-6
    )
    np.testing.assert_allclose(
        load_images(tmp_path / "t.npy", value_range=(-2, 2)).images.numpy(), (x + 2) / 4, rtol=1e-6
    )
    with pytest.raises(ValueError, match=r"outside \[0, 1\] \(declared value_range\)"):
        load_images(tmp_path / "t.npy", value_range=(0, 1))
    np.save(tmp_path / "big.npy", x * 300)
    with pytest.raises(ValueError, match=r"span \[-29.*pass value_range=\(low, high\)"):
        load_images(tmp_path / "big.npy")
    torch.save({"images": torch.rand(3, 1, 2, 2)}, tmp_path / "s.pt")
    assert load_images(tmp_path / "s.pt").images.shape == (3, 1, 2, 2)


@pytest.mark.parametrize(
    "value_range, exc, msg",
    [(("a", 1), TypeError, "value_range must be None or a pair"), ((1, 0), ValueError, "low < high"),
     ((0, float("inf")), ValueError, "finite")],
)  # fmt: skip
def test_value_range_validation(tmp_path, value_range, exc, msg):
    np.save(tmp_path / "a.npy", np.zeros((1, 2, 2)))
    with pytest.raises(exc, match=msg):
        load_images(tmp_path / "a.npy", value_range=value_range)


def test_array_errors(tmp_path):
    cases = {
        "nan.npy": (np.full((2, 3, 3), np.nan), ValueError, "NaN or inf"),
        "dim.npy": (np.zeros((2, 3)), ValueError, r"shape \(N, H, W\).*got \(2, 3\)"),
        "chan.npy": (np.zeros((2, 5, 5, 5)), ValueError, "cannot find the channel axis"),
        "empty.npy": (np.zeros((0, 3, 3)), ValueError, "no images"),
        "str.npy": (np.array([[["a"]]]), TypeError, "numeric dtype"),
    }
    for name, (arr, exc, msg) in cases.items():
        np.save(tmp_path / name, arr)
        with pytest.raises(exc, match=msg):
            load_images(tmp_path / name)
    np.savez(tmp_path / "lab.npz", images=np.zeros((3, 2, 2)), labels=np.arange(2))
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\)"):
        load_dataset(str(tmp_path / "lab.npz"))
    np.savez(tmp_path / "neg.npz", images=np.zeros((2, 2, 2)), labels=np.array([0, -1]))
    with pytest.raises(ValueError, match="non-negative class indices"):
        load_dataset(str(tmp_path / "neg.npz"))
    np.savez(tmp_path / "flab.npz", images=np.zeros((2, 2, 2)), labels=np.array([0.5, 1]))
    with pytest.raises(TypeError, match="labels must be integers"):
        load_dataset(str(tmp_path / "flab.npz"))
    np.savez(tmp_path / "nokey.npz", foo=np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"no image array: expected a key in \['images', 'x', 'arr_0'\]"):
        load_dataset(str(tmp_path / "nokey.npz"))
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage header")
    with pytest.raises(ValueError, match=r"cannot read .*bad\.npy.*corrupt"):
        load_images(tmp_path / "bad.npy")
    np.savez(tmp_path / "obj.npz", images=np.array([None, 1], dtype=object))
    with pytest.raises(ValueError, match=r"cannot read .*obj\.npz.*corrupt or unsupported"):
        load_images(tmp_path / "obj.npz")
    torch.save({"images": [1, 2]}, tmp_path / "list.pt")
    with pytest.raises(ValueError, match=r"list\.pt.*expected arrays or tensors; got list"):
        load_images(tmp_path / "list.pt")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(ValueError, match=r"cannot read .*bad\.npz.*corrupt"):
        load_dataset(str(tmp_path / "bad.npz"))


# ---------------------------------------------------------------- specs
@pytest.mark.parametrize(
    "spec, kwargs, exc, msg",
    [
        ("digits:x", {}, ValueError, "dataset 'digits' takes no path"),
        ("mnist", {}, ValueError, "needs a folder: write 'mnist:PATH' or pass root=PATH"),
        ("no-such-thing", {}, FileNotFoundError, "neither a known name .* nor an existing file or folder"),
        ("digits", {"split": "val"}, ValueError, r"split must be one of \['train', 'test', 'all'\]; got 'val'"),
        ("digits", {"seed": -1}, ValueError, "seed must be a non-negative integer"),
        ("digits", {"seed": 1.5}, TypeError, "seed must be an int"),
        (3, {}, TypeError, "dataset must be a string"),
    ],
)
def test_spec_validation(spec, kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        load_dataset(spec, **kwargs)


def test_unsupported_suffixes(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(ValueError, match=r"unsupported suffix '\.txt'"):
        load_dataset(str(tmp_path / "a.txt"))
    with pytest.raises(ValueError, match=r"unsupported suffix '\.txt'"):
        load_images(tmp_path / "a.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_images(tmp_path / "missing.npz")
    with pytest.raises(TypeError, match="path must be a file or folder path"):
        load_images(None)


def test_imageset_checks_and_fingerprint():
    with pytest.raises(TypeError, match="float32 tensor of shape"):
        ImageSet(torch.zeros(2, 8, 8, dtype=torch.float64), None, "x", None)
    with pytest.raises(TypeError, match="int64 tensor of shape"):
        ImageSet(torch.zeros(2, 1, 2, 2), torch.zeros(3, dtype=torch.int64), "x", None)
    a = ImageSet(torch.zeros(2, 1, 2, 2), None, "x", None)
    b = ImageSet(torch.zeros(2, 1, 2, 2).index_fill_(0, torch.tensor([1]), 0.5), None, "x", None)
    assert (
        a.fingerprint() != b.fingerprint()
        and a.fingerprint() == ImageSet(torch.zeros(2, 1, 2, 2), None, "y", None).fingerprint()
    )
    assert a.shape == (1, 2, 2) and len(a.subset(slice(0, 1))) == 1


class _Payload:
    def __reduce__(self):
        return (os.getcwd, ())


def test_pt_images_holding_python_objects_are_refused_as_untrusted(tmp_path):
    # The refusal says the file is not trusted, and does not
    # repeat torch's hint that weights_only=False "will likely succeed".
    path = tmp_path / "fake.pt"
    torch.save({"images": torch.zeros(2, 1, 8, 8), "payload": _Payload()}, path)
    with pytest.raises(ValueError, match=r"cannot read '.*fake.pt': it is not a trusted infobench file") as exc:
        load_images(path)
    assert "succeed" not in str(exc.value) and "weights_only=False" not in str(exc.value)
