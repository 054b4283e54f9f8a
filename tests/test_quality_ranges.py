"""Pixel ranges come from the dtype or a declaration, never from the data's min/max, on every input path.

A small excursion (a decoder without a final sigmoid) is clipped and travels as a ``pixel-range``
diagnostic with every score of the set; values of another convention are refused with the fix.
"""

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from infobench.cli import main
from infobench.data import (
    ImageSet,
    array_stream,
    default_range,
    load_dataset,
    load_images,
    open_stream,
    scale_images,
)
from infobench.data.datasets import RANGE_SLACK, resolve_range
from infobench.diagnostics import DiagnosticWarning
from infobench.quality import inputs, score
from infobench.quality.inputs import FakeSource, load_real, materialize

KW = {"extractor": "pixels", "n_boot": 0, "cache": False, "scores": "fid"}


def codes(df, fake):
    return {d["code"] for ds in df.loc[df["fake"] == fake, "diagnostics"] for d in ds}


@pytest.fixture
def unit(rng):
    """60 greyscale 6x6 images in [0, 1] (float32) with values at both ends."""
    x = rng.uniform(size=(60, 1, 6, 6)).astype(np.float32)
    x[0, 0, 0, 0], x[0, 0, 0, 1] = 0.0, 1.0
    return x


@pytest.fixture
def ref(rng):
    """Another draw of the same distribution: the real set (a fake equal to the real set is a copy)."""
    return rng.uniform(size=(60, 1, 6, 6)).astype(np.float32)


# ---------------------------------------------------------------- the rules
@pytest.mark.parametrize("dtype, expected", [
    (np.uint8, (0.0, 255.0)), (np.int64, (0.0, 255.0)), (np.int16, (0.0, 255.0)), (np.uint16, (0.0, 65535.0)),
    (np.bool_, (0.0, 1.0)), (np.float16, (0.0, 1.0)), (np.float32, (0.0, 1.0)), (np.float64, (0.0, 1.0)),
])  # fmt: skip
def test_default_range_comes_from_the_dtype(dtype, expected):
    assert default_range(dtype) == expected


def test_the_range_is_never_inferred_from_the_values(unit):
    # A [0, 1] image set whose values stay inside [0.25, 0.75] is still read as [0, 1] (not stretched) ...
    mid = 0.25 + unit / 2
    out, found = scale_images(mid, "x", None)
    np.testing.assert_allclose(out, mid, atol=1e-7)
    assert found == ()
    # ... integers by their dtype: values 0..16 of an int array are 8-bit values (dark), not a 0..16 scale.
    ints = (unit * 16).round().astype(np.int64)
    np.testing.assert_allclose(scale_images(ints, "x", None)[0], ints / 255.0, atol=1e-7)
    wide = (unit * 4000).astype(np.uint16)
    np.testing.assert_allclose(scale_images(wide, "x", None)[0], wide / 65535.0, atol=1e-7)
    np.testing.assert_array_equal(scale_images(unit > 0.5, "x", None)[0], (unit > 0.5).astype(np.float32))


def test_small_excursion_is_clipped_and_reported(unit):
    bad = unit.copy()
    bad[0, 0, 0, 0], bad[1, 0, 0, 0] = -0.001, 1.02
    out, found = scale_images(bad, "fake 'g'", None)
    assert out.min() == 0.0 and out.max() == 1.0
    np.testing.assert_array_equal(out[2:], unit[2:])  # every value inside the range is kept as it was
    (d,) = found
    assert d.code == "pixel-range" and d.severity == "warning" and d.subject == "value_range"
    assert "fake 'g': pixel values span [-0.001, 1.02], outside [0, 1]" in d.message
    assert "by up to 2.00% of the range" in d.message and "clipped" in d.message
    # The same excursion of a declared range: also clipped (a tanh output at -1.05).
    tanh = unit * 2 - 1
    tanh[0, 0, 0, 0] = -1.05
    out, found = scale_images(tanh, "x", (-1, 1))
    assert out.min() == 0.0 and found[0].code == "pixel-range" and "declared value_range" in found[0].message


@pytest.mark.parametrize("factor, shift, looks", [
    (2.0, -1.0, r"they look like \[-1, 1\]: pass value_range=\(-1, 1\) \(--range=-1,1 on the command line\)"),
    (255.0, 0.0, r"they look like \[0, 255\]: pass value_range=\(0, 255\) \(--range=0,255 on the command line\)"),
    (1.0, 3.0, r"by more than 10% of the range.*pass value_range=\(low, high\) \(--range=LOW,HIGH"),
])  # fmt: skip
def test_another_convention_is_refused_with_the_fix(unit, factor, shift, looks):
    with pytest.raises(
        ValueError,
        match=r"fake 'g': pixel values span .*outside \[0, 1\] \(the default range of "
        r"float32 data\).*" + looks,
    ):
        scale_images(unit * factor + shift, "fake 'g'", None)


def test_integer_values_beyond_their_dtype_range_are_refused(unit):
    twelve_bit = (unit * 4095).astype(np.int32)
    with pytest.raises(
        ValueError,
        match=r"outside \[0, 255\] \(the default range of int32 data\).*"
        r"another convention; pass value_range=\(low, high\)",
    ):
        scale_images(twelve_bit, "x", None)
    np.testing.assert_allclose(scale_images(twelve_bit, "x", (0, 4095))[0], twelve_bit / 4095, atol=1e-6)


def test_slack_boundary():
    # Exactly RANGE_SLACK of the width: clipped; just beyond it: refused.
    assert resolve_range(-RANGE_SLACK, 1.0, np.float64, "x", None)[1].code == "pixel-range"
    with pytest.raises(ValueError, match="by more than 10% of the range"):
        resolve_range(-RANGE_SLACK - 1e-6, 1.0, np.float64, "x", None)


# ---------------------------------------------------------------- every input path
def test_arrays_tensors_and_imagesets_in_score(unit, ref):
    bad = unit.copy()
    bad[0, 0, 0, 0] = -0.001
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = score(ref, {"clean": unit.copy(), "under": bad, "tensor": torch.from_numpy(bad)}, **KW)
    assert codes(df, "clean") == set() and codes(df, "under") == codes(df, "tensor") == {"pixel-range"}
    # The clipped value moves FID by a rounding error, not by a rescaling of every image.
    v = df.set_index("fake")["value"]
    assert v["under"] == pytest.approx(v["clean"], abs=1e-4)
    assert [w for w in caught if issubclass(w.category, DiagnosticWarning)]
    with pytest.raises(ValueError, match=r"fake 'tanh': .*look like \[-1, 1\]: pass value_range=\(-1, 1\)"):
        score(ref, {"tanh": unit * 2 - 1}, **KW)
    ok = score(ref, {"tanh": unit * 2 - 1}, value_range=(-1, 1), **KW)
    assert codes(ok, "tanh") == set()
    assert ok["value"].iloc[0] == pytest.approx(score(ref, {"a": unit.copy()}, **KW)["value"].iloc[0], abs=1e-6)


def test_real_arrays_and_files_use_real_range(unit, ref, tmp_path):
    with pytest.raises(
        ValueError,
        match=r"real: .*look like \[-1, 1\]: pass real_range=\(-1, 1\) "
        r"\(--real-range=-1,1 on the command line\)",
    ):
        score(unit * 2 - 1, {"a": ref}, **KW)
    df = score(unit * 2 - 1, {"a": ref}, real_range=(-1, 1), **KW)
    assert codes(df, "a") == set()
    np.save(tmp_path / "real.npy", unit * 2 - 1)
    for stream in (False, True):
        with pytest.raises(ValueError, match=r"real\.npy: .*pass real_range=\(-1, 1\) \(--real-range=-1,1"):
            load_real(str(tmp_path / "real.npy"), stream=stream)
        data = load_real(str(tmp_path / "real.npy"), value_range=(-1, 1), stream=stream)
        assert len(data.reference) + len(data.held_out) == 60
    with pytest.raises(TypeError, match="real_range must be None or a pair"):
        load_real(unit, value_range="0-1")
    # A small excursion of the real set travels with every score.
    under = unit.copy()
    under[5, 0, 1, 1] = -0.01
    assert codes(score(under, {"a": ref}, **KW), "a") == {"pixel-range"}


def test_npy_npz_and_pt_files(unit, ref, tmp_path):
    bad = unit.copy()
    bad[0, 0, 0, 0] = -0.001
    np.save(tmp_path / "u.npy", bad)
    np.savez(tmp_path / "u.npz", images=bad)
    torch.save(torch.from_numpy(bad), tmp_path / "u.pt")
    for name in ("u.npy", "u.npz", "u.pt"):
        ds = load_images(tmp_path / name)
        assert [d.code for d in ds.diagnostics] == ["pixel-range"] and float(ds.images.min()) == 0.0
        assert [d.code for d in ds.subset(np.arange(3)).diagnostics] == ["pixel-range"]
    df = score(ref, [str(tmp_path / "u.npy")], **KW)
    assert codes(df, str(tmp_path / "u.npy")) == {"pixel-range"}
    np.save(tmp_path / "t.npy", unit * 2 - 1)
    with pytest.raises(ValueError, match=r"t\.npy: .*pass value_range=\(-1, 1\)"):
        score(ref, [str(tmp_path / "t.npy")], **KW)
    assert load_dataset(str(tmp_path / "u.npy"), split="all").diagnostics[0].code == "pixel-range"


def test_streamed_npy_checks_the_whole_file(unit, tmp_path):
    bad = unit.copy()
    bad[-1, 0, 0, 0] = 1.001  # in the last row: a per-batch inference would not see it in the first batch
    np.save(tmp_path / "s.npy", bad)
    stream = array_stream(tmp_path / "s.npy")
    assert [d.code for d in stream.diagnostics] == ["pixel-range"]
    assert float(stream.read(0, 60).max()) == 1.0
    np.testing.assert_allclose(stream.read(0, 59).numpy(), unit[:59], atol=1e-7)
    assert [d.code for d in open_stream(tmp_path / "s.npy", split="train").diagnostics] == ["pixel-range"]
    assert [d.code for d in stream.load().diagnostics] == ["pixel-range"]
    np.save(tmp_path / "w.npy", unit * 255)
    with pytest.raises(ValueError, match=r"look like \[0, 255\]: pass value_range=\(0, 255\)"):
        array_stream(tmp_path / "w.npy")
    assert array_stream(tmp_path / "w.npy", value_range=(0, 255)).diagnostics == ()


def test_folders_have_the_range_of_their_bit_depth(unit, ref, tmp_path):
    folder = tmp_path / "png"
    folder.mkdir()
    for i in range(12):
        Image.fromarray((unit[i, 0] * 255).round().astype(np.uint8), mode="L").save(folder / f"{i:02d}.png")
    # 8-bit files: [0, 255] whatever the values; value_range (for arrays) does not apply to them.
    ds = load_images(folder)
    np.testing.assert_allclose(ds.images.numpy(), np.round(unit[:12] * 255) / 255, atol=1e-6)
    assert ds.diagnostics == ()
    df = score(ref, [str(folder)], value_range=(-1, 1), **{**KW, "scores": "kid"})
    assert codes(df, str(folder)) == set()


def test_callables_use_value_range(unit, ref):
    def tanh_gen(n, seed):
        return unit[:n] * 2 - 1

    def sigmoidless(n, seed):
        out = unit[:n].copy()
        out[0, 0, 0, 0] = -0.003
        return out

    with pytest.raises(ValueError, match=r"fake 'g': .*look like \[-1, 1\]: pass value_range=\(-1, 1\)"):
        score(ref, {"g": tanh_gen, "h": unit}, **KW)
    assert codes(score(ref, {"g": tanh_gen, "h": unit}, value_range=(-1, 1), **KW), "g") == set()
    assert codes(score(ref, {"g": sigmoidless, "h": unit}, **KW), "g") == {"pixel-range"}


class _Model:
    """A stand-in for a trained generator: its samples are in [0, 1] by contract, with a rounding excursion."""

    def __init__(self, images, excursion):
        self.images, self.excursion = images, excursion

    def sample(self, n, seed):
        out = torch.from_numpy(self.images[:n].copy())
        out[0, 0, 0, 0] = self.excursion
        return out


def test_checkpoints_are_read_as_unit_range_whatever_value_range_says(unit, tmp_path, monkeypatch):
    real = load_real(unit)
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"")
    source = FakeSource("gen", "checkpoint", path)
    monkeypatch.setattr(inputs, "load_generator", lambda p: _Model(unit, 1.0))
    got = materialize(source, real, n=20, seed=0, value_range=(-1, 1))
    expected = unit[:20].copy()
    expected[0, 0, 0, 0] = 1.0
    np.testing.assert_allclose(got.images.numpy(), expected, atol=1e-7)  # not mapped from [-1, 1]
    assert got.diagnostics == ()
    monkeypatch.setattr(inputs, "load_generator", lambda p: _Model(unit, -0.0005))
    assert [d.code for d in materialize(source, real, n=20, seed=0).diagnostics] == ["pixel-range"]
    monkeypatch.setattr(inputs, "load_generator", lambda p: _Model(unit * 2 - 1, -1.0))
    with pytest.raises(ValueError, match=r"fake 'gen': .*declared value_range"):
        materialize(source, real, n=20, seed=0)


def test_resizing_keeps_the_diagnostics(unit, ref):
    big = np.repeat(np.repeat(unit, 2, axis=2), 2, axis=3)
    big[0, 0, 0, 0] = -0.001
    df = score(ref, {"big": big}, **KW)
    assert codes(df, "big") == {"pixel-range"}
    assert "resized" in df["note"].iloc[0]


# ---------------------------------------------------------------- the command line
def test_cli_range_options(unit, ref, tmp_path, capsys):
    real = tmp_path / "real.npz"
    np.savez(real, images=ref)
    np.save(tmp_path / "tanh.npy", unit * 2 - 1)
    under = unit.copy()
    under[0, 0, 0, 0] = -0.001
    np.save(tmp_path / "under.npy", under)
    args = [
        "score",
        "--real",
        str(real),
        "--extractor",
        "pixels",
        "--n-boot",
        "0",
        "--no-cache",
        "--scores",
        "fid,kid",
        "--no-progress",
    ]
    assert main(args + ["--fake", str(tmp_path / "tanh.npy")]) == 2
    err = capsys.readouterr().err
    assert "look like [-1, 1]" in err and "--range=-1,1 on the command line" in err
    assert main(args + ["--fake", str(tmp_path / "tanh.npy"), "--range=-1,1"]) == 0
    out, err = capsys.readouterr()
    assert "†" not in out and "pixel-range" not in err
    assert main(args + ["--fake", str(tmp_path / "under.npy"), "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    assert "†" in out and "warning [pixel-range] (value_range)" in err and "(all scores)" in err
    assert main(args + ["--fake", str(tmp_path / "under.npy"), "--real-range=0:1"]) == 2
    assert "--real-range must be LOW,HIGH" in capsys.readouterr().err
    np.savez(tmp_path / "real_tanh.npz", images=ref * 2 - 1)
    args[2] = str(tmp_path / "real_tanh.npz")
    assert main(args + ["--fake", str(tmp_path / "tanh.npy"), "--range=-1,1"]) == 2
    assert "pass real_range=(-1, 1) (--real-range=-1,1" in capsys.readouterr().err
    assert main(args + ["--fake", str(tmp_path / "tanh.npy"), "--range=-1,1", "--real-range=-1,1"]) == 0
    capsys.readouterr()


def test_imageset_is_used_as_given(unit):
    s = ImageSet(torch.from_numpy(unit), None, "mine", None)
    assert inputs._array_to_set(s, "x", None) is s
    assert Path(__file__).exists()
