"""infobench._lock: one writer per output folder or file; the lock file is removed on release, safely."""

from __future__ import annotations

import fcntl
import os

import pytest

from infobench import _lock
from infobench._lock import PathLockedError, lock_file, output_lock, output_locks


def test_a_file_is_locked_through_a_file_beside_it_removed_on_release(tmp_path):
    out = tmp_path / "sub" / "t.csv"
    with output_lock(out, kind="file") as lock:
        assert lock == tmp_path / "sub" / ".t.csv.lock" == lock_file(out, "file")
        assert lock.read_text().strip() == str(os.getpid())
        assert not out.exists()  # the output itself is its writer's business
        with (
            pytest.raises(
                PathLockedError,
                match=rf"the output file '.*t.csv' is in use by another infobench run "
                rf"\(pid {os.getpid()}\); wait for it to finish or give another "
                "path",
            ),
            output_lock(out, kind="file"),
        ):
            pass
    assert not (tmp_path / "sub").exists()  # nothing was written: the folder made for the lock is gone too


def test_a_folder_is_locked_through_a_file_inside_it(tmp_path):
    with output_lock(tmp_path / "f", what="report folder") as lock:
        assert lock == tmp_path / "f" / _lock.LOCK_NAME
        with (
            pytest.raises(PathLockedError, match="the report folder .* give another folder"),
            output_lock(tmp_path / "f", what="report folder"),
        ):
            pass
    assert not (tmp_path / "f").exists()


def test_a_lock_file_removed_between_open_and_flock_is_not_trusted(tmp_path, monkeypatch):
    # The holder releases (and removes) the lock file after this process opened it but before its flock:
    # the flock then holds a file no longer at the path, and a third process could lock a new one.
    out = tmp_path / "t.csv"
    real_flock = fcntl.flock
    calls = []

    def flock_after_removal(fd, op):
        calls.append(fd)
        if len(calls) == 1:
            os.unlink(lock_file(out, "file"))
        return real_flock(fd, op)

    monkeypatch.setattr(_lock.fcntl, "flock", flock_after_removal)
    with output_lock(out, kind="file") as lock:
        assert len(calls) == 2  # retried on the file now at the path
        assert lock.read_text().strip() == str(os.getpid())
        monkeypatch.setattr(_lock.fcntl, "flock", real_flock)
        with pytest.raises(PathLockedError), output_lock(out, kind="file"):
            pass


def test_output_locks_take_each_lock_file_once(tmp_path):
    with output_locks(
        [
            (tmp_path / "a", "folder", "output folder"),
            (tmp_path / "a/.", "folder", "state folder"),
            (tmp_path / "a" / "r.db", "file", "results database"),
        ]
    ):
        assert (tmp_path / "a" / _lock.LOCK_NAME).exists() and (tmp_path / "a" / ".r.db.lock").exists()
    assert not (tmp_path / "a").exists()


def test_lock_file_refuses_an_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match=r"kind must be one of \['folder', 'file'\]; got 'link'"):
        lock_file(tmp_path, "link")


def test_a_failed_writer_leaves_no_folder_it_created(tmp_path):
    with pytest.raises(RuntimeError, match="failed"), output_lock(tmp_path / "a" / "b" / "t.csv", kind="file"):
        raise RuntimeError("failed before writing")
    with pytest.raises(RuntimeError, match="failed"), output_lock(tmp_path / "run"):
        raise RuntimeError("failed before writing")
    assert list(tmp_path.iterdir()) == []
    with output_lock(tmp_path / "run") as lock:  # what was written stays, with its folder
        (lock.parent / "checkpoint.pt").write_bytes(b"x")
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["checkpoint.pt"]
    (tmp_path / "kept").mkdir()
    with output_lock(tmp_path / "kept"):  # a folder that existed before is never removed
        pass
    assert (tmp_path / "kept").is_dir()
