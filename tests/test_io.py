"""infobench._io: atomic writes keep the umask's file mode (issue 15 item 9)."""

from __future__ import annotations

import os
import stat

import pytest

from infobench._io import atomic_write, current_umask


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
