"""One ``infobench run`` per output/state folder.

Two runs on one ``--out`` lost work: the second deleted the first one's
``.<stamp>.partial`` folder at start. A held lock now makes the second run
refuse at once, naming the folder and the other pid, and deleting nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from infobench import _lock as lock
from infobench._lock import LOCK_NAME, PathLockedError, folder_lock, folder_locks
from infobench.cli import main
from infobench.mainjob import default_config, run_main_job

# The other process runs infobench's lock module itself, loaded from its file (it needs only the
# standard library; importing the whole package would cost seconds).
HOLD = textwrap.dedent(
    """
    import importlib.util, sys
    spec = importlib.util.spec_from_file_location("lock", sys.argv[1])
    lock = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lock)
    with lock.folder_lock(sys.argv[2]):
        print("locked", flush=True)
        sys.stdin.read()  # hold until the test closes stdin
    """
)


@pytest.fixture
def holder(tmp_path):
    """A second process holding the lock of a folder until the test ends."""
    procs = []

    def hold(folder):
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, lock.__file__, str(folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "locked"
        procs.append(proc)
        return proc

    yield hold
    for proc in procs:
        proc.stdin.close()
        proc.wait(timeout=60)


def test_second_run_on_one_out_refuses_and_deletes_nothing(tmp_path, holder):
    out = tmp_path / "reports"
    other = holder(out)
    partial = out / ".20260101-000000.partial"  # the other run's work in progress
    (partial / "tables").mkdir(parents=True)
    with pytest.raises(
        PathLockedError,
        match=rf"output folder .*reports.* in use by another infobench run "
        rf"\(pid {other.pid}\)",
    ):
        run_main_job(default_config(quick=True), out=out, progress=False)
    assert (partial / "tables").is_dir()  # the other run's partial folder survives
    assert (out / LOCK_NAME).read_text().strip() == str(other.pid)


def test_a_shared_state_folder_is_locked_too(tmp_path):
    # flock belongs to the open file: a lock held through another descriptor refuses this process too.
    state = tmp_path / "state"
    with folder_lock(state, "state"):
        with pytest.raises(PathLockedError, match=rf"state folder .*state.* \(pid {os.getpid()}\)"):
            run_main_job(default_config(quick=True), out=tmp_path / "elsewhere", state=state, progress=False)


def test_cli_reports_a_held_lock_as_one_line(tmp_path, capsys):
    with folder_lock(tmp_path / "r"):
        assert main(["run", "--quick", "--no-progress", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and f"pid {os.getpid()}" in err and "Traceback" not in err


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    # A run killed with SIGKILL leaves its lock file, but the kernel released its flock.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / LOCK_NAME).write_text(dead.stdout)
    with folder_lock(tmp_path) as path:
        assert path.read_text().strip() == str(os.getpid())
    assert not path.exists()  # released: the lock file and its pid are gone
    with folder_lock(tmp_path):  # and can be taken again
        pass


def test_same_folder_as_out_and_state_is_locked_once(tmp_path):
    # A second flock from this process on the same file would refuse this very process.
    with folder_locks({"output": tmp_path, "state": tmp_path / "."}):
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())
    with folder_locks({"output": tmp_path / "a", "state": tmp_path / "b"}):
        with pytest.raises(PathLockedError, match="state folder"):
            with folder_lock(tmp_path / "b", "state"):
                pass
