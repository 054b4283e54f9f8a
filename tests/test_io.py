"""infobench._io: atomic writes keep the umask's file mode; output paths are checked before any work."""

from __future__ import annotations

import os
import stat

import pytest

from infobench._io import atomic_write, check_output_path, current_umask, os_error_text


@pytest.fixture
def umask():
    """Set a umask for one test and restore the previous one."""
    before = os.umask(0o022)
    os.umask(before)
    yield lambda mask: os.umask(mask)
    os.umask(before)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_atomic_write_respects_the_umask(tmp_path, umask, mask):
    umask(mask)
    assert current_umask() == mask
    path = atomic_write(tmp_path / "out.bin", lambda fh: fh.write(b"data"))
    # What open(path, "w") gives: 0o666 less the umask (mkstemp alone gave 0o600 whatever the umask).
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~mask
    assert path.read_bytes() == b"data"
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert stat.S_IMODE(os.stat(path).st_mode) == stat.S_IMODE(os.stat(plain).st_mode)


def test_atomic_write_text_replaces_and_leaves_no_temporary(tmp_path, umask):
    umask(0o022)
    path = tmp_path / "sub" / "a.txt"
    atomic_write(path, lambda fh: fh.write("one"), binary=False)
    atomic_write(path, lambda fh: fh.write("two"), binary=False)
    assert path.read_text() == "two"

    def fail(fh):
        fh.write("three")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        atomic_write(path, fail, binary=False)
    assert path.read_text() == "two"
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.txt"]


# ------------------------------------------------------------------ output paths, checked before any work


def test_check_output_path_accepts_new_and_existing_outputs_and_creates_nothing(tmp_path):
    assert check_output_path(tmp_path / "a" / "b" / "t.csv", name="--out") == tmp_path / "a" / "b" / "t.csv"
    assert check_output_path(tmp_path / "new", name="--out", kind="folder") == tmp_path / "new"
    (tmp_path / "old.csv").write_text("x")
    check_output_path(tmp_path / "old.csv", name="--out")
    check_output_path(tmp_path, name="--out", kind="folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.csv"]  # no folder made, no probe left


@pytest.mark.parametrize(
    "make, kind, match",
    [
        (lambda d: d / "folder", "file", r"--out must name a file; '.*folder' is a folder"),
        (lambda d: d / "afile", "folder", r"--out must name a folder; '.*afile' is a file"),
        (
            lambda d: d / "afile" / "x.db",
            "file",
            r"--out '.*afile/x.db' cannot be created: '.*afile' is a file, not a folder",
        ),
        (lambda d: d / "afile" / "a" / "b", "folder", r"cannot be created: '.*afile' is a file, not a folder"),
        (lambda d: "/dev/null", "file", r"--out must name a regular file; '/dev/null' is a character device"),
        (lambda d: "/dev/null", "folder", r"--out must name a folder; '/dev/null' is a character device"),
        (lambda d: "", "file", r"--out must be a path; got ''"),
    ],
)
def test_check_output_path_refuses_the_wrong_kind_of_path(tmp_path, make, kind, match):
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match=match):
        check_output_path(make(tmp_path), name="--out", kind=kind)


def test_check_output_path_refuses_an_input_as_output(tmp_path):
    data = tmp_path / "samples.npy"
    data.write_bytes(b"data")
    (tmp_path / "link.npy").symlink_to(data)
    inputs = [("--real", "digits"), ("--fake", None), ("--fake", tmp_path / "missing.npy"), ("--fake", data)]
    for out in (data, tmp_path / "link.npy", tmp_path / "." / "samples.npy"):
        with pytest.raises(
            ValueError,
            match=r"--out '.*' is also the input --fake; writing it would destroy that "
            r"input: give another path",
        ):
            check_output_path(out, name="--out", inputs=inputs)
    check_output_path(tmp_path / "other.npy", name="--out", inputs=inputs)


def test_check_output_path_refuses_a_folder_it_cannot_write(tmp_path, monkeypatch):
    import tempfile

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    with pytest.raises(
        ValueError,
        match=r"--out '.*t.csv' is not writable: cannot create files in '.*' "
        r"\(Permission denied\)",
    ):
        check_output_path(tmp_path / "sub" / "t.csv", name="--out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write any file")
def test_check_output_path_refuses_a_read_only_file(tmp_path):
    path = tmp_path / "r.db"
    path.write_text("x")
    path.chmod(0o444)
    with pytest.raises(ValueError, match=r"--db '.*r.db' is not writable \(no write permission\)"):
        check_output_path(path, name="--db")


def test_os_error_text_names_the_path_in_one_line():
    assert os_error_text(FileExistsError(17, "File exists", "afile")) == "'afile': file exists"
    assert (
        os_error_text(OSError(18, "Invalid cross-device link", "a", None, "b"))
        == "'a' -> 'b': invalid cross-device link"
    )
    assert os_error_text(PermissionError(13, "Permission denied")) == "permission denied"
    assert os_error_text(FileNotFoundError("data file 'x.csv' does not exist")) == "data file 'x.csv' does not exist"
