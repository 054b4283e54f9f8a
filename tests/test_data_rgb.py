"""RGB datasets: CIFAR-10 binary batches, colour image folders, NHWC/NCHW arrays, and lazy image streams."""

import numpy as np
import pytest
import torch
from PIL import Image

from infobench.data import array_stream, folder_stream, load_dataset, load_images, open_stream
from infobench.data.cifar import CIFAR10_CLASSES, RECORD_BYTES
from rgb_shapes import coloured_shapes


def write_cifar(folder, counts=(3, 2, 2, 2, 2, 4), seed=0, meta=True):
    """CIFAR-10 binary batches with ``counts`` records (data_batch_1..5, test_batch); returns images and labels."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    out = {}
    for name, n in zip(names, counts):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        records = np.concatenate([labels[:, None], images.reshape(n, -1)], axis=1)
        (folder / name).write_bytes(records.tobytes())
        out[name] = (images, labels.astype(np.int64))
    if meta:
        (folder / "batches.meta.txt").write_text("\n".join(CIFAR10_CLASSES) + "\n\n")
    return out


def test_cifar10_reads_binary_batches_in_chw_order(tmp_path):
    written = write_cifar(tmp_path / "cifar-10-batches-bin")
    train = load_dataset(f"cifar10:{tmp_path}", split="train")
    test = load_dataset(f"cifar10:{tmp_path / 'cifar-10-batches-bin'}", split="test")
    every = load_dataset(f"cifar10:{tmp_path}", split="all")
    train_imgs = np.concatenate([written[f"data_batch_{i}.bin"][0] for i in range(1, 6)])
    train_labels = np.concatenate([written[f"data_batch_{i}.bin"][1] for i in range(1, 6)])
    # Record layout: byte 0 the label, then 1024 red, 1024 green, 1024 blue bytes, rows in order.
    assert train.images.shape == (11, 3, 32, 32) and train.num_classes == 10
    np.testing.assert_array_equal((train.images.numpy() * 255).round().astype(np.uint8), train_imgs)
    np.testing.assert_array_equal(train.labels.numpy(), train_labels)
    np.testing.assert_array_equal((test.images.numpy() * 255).round(), written["test_batch.bin"][0])
    assert len(every) == 15 and train.classes == CIFAR10_CLASSES
    # The raw byte at offset 1 + 1024 + 32*5 + 7 is pixel (green, row 5, column 7) of the first image.
    raw = (tmp_path / "cifar-10-batches-bin" / "data_batch_1.bin").read_bytes()
    assert round(float(train.images[0, 1, 5, 7]) * 255) == raw[1 + 1024 + 32 * 5 + 7]


@pytest.mark.parametrize(
    "damage, error, match",
    [
        ("truncate", ValueError, "not a positive multiple of the 3073-byte record"),
        ("label", ValueError, "labels must be 0..9"),
        ("missing", FileNotFoundError, "data_batch_2.bin.*not found"),
    ],
)
def test_cifar10_bad_files_name_the_file(tmp_path, damage, error, match):
    write_cifar(tmp_path)
    path = tmp_path / "data_batch_2.bin"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: RECORD_BYTES + 10])
    elif damage == "label":
        raw = bytearray(path.read_bytes())
        raw[0] = 12
        path.write_bytes(bytes(raw))
    else:
        path.unlink()
    with pytest.raises(error, match=match):
        load_dataset(f"cifar10:{tmp_path}", split="train")


def test_cifar10_without_batches_or_folder_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no CIFAR-10 binary batches .* or .*cifar-10-batches-bin"):
        load_dataset(f"cifar10:{tmp_path}")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset(f"cifar10:{tmp_path / 'nowhere'}")
    with pytest.raises(ValueError, match="needs a folder: write 'cifar10:PATH'"):
        load_dataset("cifar10")


def write_folder(root, images, labels=None, names=("square", "disc", "cross")):
    root.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        sub = root if labels is None else root / names[labels[i]]
        sub.mkdir(exist_ok=True)
        Image.fromarray(img).save(sub / f"{i:04d}.png")


def test_rgb_folder_with_class_subfolders_gives_labels_and_exact_pixels(tmp_path):
    imgs, labels = coloured_shapes(12, size=20)
    write_folder(tmp_path / "shapes", imgs, labels)
    ds = load_dataset(str(tmp_path / "shapes"), split="all")
    assert ds.images.shape == (12, 3, 20, 20) and ds.num_classes == 3
    assert ds.classes == ("cross", "disc", "square")  # sorted folder names
    # Files are read class folder by class folder; map each back to its source image.
    order = [i for c in ("cross", "disc", "square") for i in range(12) if ("square", "disc", "cross")[labels[i]] == c]
    np.testing.assert_array_equal((ds.images.numpy() * 255).round().astype(np.uint8), imgs[order].transpose(0, 3, 1, 2))
    names = np.array(ds.classes)[ds.labels.numpy()]
    assert list(names) == [("square", "disc", "cross")[labels[i]] for i in order]


def test_rgb_folder_without_subfolders_is_unlabelled(tmp_path):
    imgs, _ = coloured_shapes(5, size=24)
    write_folder(tmp_path / "flat", imgs)
    ds = load_images(tmp_path / "flat")
    assert ds.labels is None and ds.images.shape == (5, 3, 24, 24)


@pytest.mark.parametrize("layout", ["nhwc-uint8", "nchw-uint8", "nhwc-float", "nchw-float-pm1"])
def test_npy_and_npz_in_both_layouts_give_the_same_images(tmp_path, layout):
    imgs, labels = coloured_shapes(6, size=16)
    nchw = imgs.transpose(0, 3, 1, 2)
    arr = {
        "nhwc-uint8": imgs,
        "nchw-uint8": nchw,
        "nhwc-float": imgs.astype(np.float32) / 255,
        "nchw-float-pm1": nchw.astype(np.float64) / 127.5 - 1,
    }[layout]
    np.save(tmp_path / "x.npy", arr)
    np.savez(tmp_path / "x.npz", images=arr, labels=labels)
    expected = nchw.astype(np.float64) / 255
    declared = (-1, 1) if layout.endswith("pm1") else None  # tanh outputs are declared, never guessed
    for path in ("x.npy", "x.npz"):
        ds = load_dataset(str(tmp_path / path), split="all", value_range=declared)
        # float32 storage and (x + 1) / 2 rounding: 1e-6 is a few float32 ulps at 1.
        np.testing.assert_allclose(ds.images.numpy(), expected, atol=1e-6)
    assert load_dataset(str(tmp_path / "x.npz"), split="all", value_range=declared).labels.tolist() == labels.tolist()


def test_folder_stream_matches_the_in_memory_split_and_reads_lazily(tmp_path, monkeypatch):
    imgs, labels = coloured_shapes(15, size=12)
    write_folder(tmp_path / "shapes", imgs, labels)
    import infobench.data.datasets as datasets

    reads = []
    real_read = datasets._read_image
    monkeypatch.setattr(datasets, "_read_image", lambda p: reads.append(p) or real_read(p))
    for split in ("train", "test", "all"):
        stream = open_stream(tmp_path / "shapes", split=split, seed=3)
        mem = load_dataset(str(tmp_path / "shapes"), split=split, seed=3)
        assert len(stream) == len(mem) and stream.shape == mem.shape
        assert torch.equal(stream.labels, mem.labels)
        reads.clear()
        batch = stream.read(0, 4)
        assert len(reads) == min(4, len(mem))  # only the requested files are decoded
        assert torch.equal(batch, mem.images[:4])
        assert torch.equal(stream.load().images, mem.images)
    a, b = (
        open_stream(tmp_path / "shapes", split="train", seed=3),
        open_stream(tmp_path / "shapes", split="test", seed=3),
    )
    assert a.fingerprint() != b.fingerprint()


def test_stream_fingerprint_follows_file_content(tmp_path):
    imgs, _ = coloured_shapes(4, size=8)
    write_folder(tmp_path / "f", imgs)
    before = folder_stream(tmp_path / "f").fingerprint()
    assert folder_stream(tmp_path / "f").fingerprint() == before
    img = imgs[2].copy()
    img[0, 0] = 255 - img[0, 0]
    Image.fromarray(img).save(tmp_path / "f" / "0002.png")
    assert folder_stream(tmp_path / "f").fingerprint() != before


def test_stream_batch_with_another_image_size_names_the_file(tmp_path):
    imgs, _ = coloured_shapes(3, size=8)
    write_folder(tmp_path / "f", imgs)
    Image.fromarray(coloured_shapes(1, size=10)[0][0]).save(tmp_path / "f" / "0009.png")
    stream = folder_stream(tmp_path / "f")
    assert stream.read(0, 2).shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match="0009.png' is 10x10 pixels but the first images are 8x8"):
        stream.read(0, 4)


def test_array_stream_is_memory_mapped_and_matches_load(tmp_path):
    imgs, _ = coloured_shapes(9, size=8)
    np.save(tmp_path / "x.npy", imgs)
    stream = array_stream(tmp_path / "x.npy")
    mem = load_images(tmp_path / "x.npy")
    assert stream.shape == (3, 8, 8)
    assert torch.equal(stream.read(2, 7), mem.images[2:7])
    sub = stream.subset(np.array([5, 1, 3]))
    assert torch.equal(sub.read(0, 3), mem.images[[5, 1, 3]])
    with pytest.raises(ValueError, match="array_stream reads .npy files"):
        array_stream(tmp_path / "x.npz")


def test_scoring_against_cifar10_and_a_streamed_npy_reference(tmp_path):
    from infobench.quality import fid, score
    from infobench.quality.inputs import load_real

    class MeanColour(torch.nn.Module):  # 3-d features: FID's eigendecompositions stay cheap
        def forward(self, x):
            return x.mean(dim=(2, 3))

    write_cifar(tmp_path / "c", counts=(8, 8, 8, 8, 8, 10))
    df = score(
        f"cifar10:{tmp_path / 'c'}",
        {"real-test": "held-out"},
        extractor=MeanColour(),
        scores="fid",
        device="cpu",
        cache=False,
    )
    train = load_dataset(f"cifar10:{tmp_path / 'c'}", split="train").images.mean(dim=(2, 3))
    test = load_dataset(f"cifar10:{tmp_path / 'c'}", split="test").images.mean(dim=(2, 3))
    # The same float32 means either way (batching may reorder sums: ~1e-7 relative).
    assert df["value"].iloc[0] == pytest.approx(fid(train, test, device="cpu"), rel=1e-5)
    imgs, _ = coloured_shapes(20, size=8)
    np.save(tmp_path / "ref.npy", imgs)  # NHWC uint8
    streamed = load_real(str(tmp_path / "ref.npy"), stream=True)
    in_memory = load_real(str(tmp_path / "ref.npy"))
    assert not isinstance(streamed.reference, type(in_memory.reference))
    assert torch.equal(streamed.reference.load().images, in_memory.reference.images)
    assert torch.equal(streamed.held_out.load().images, in_memory.held_out.images)
