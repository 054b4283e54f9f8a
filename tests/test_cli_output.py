"""The command line where people run it: a pipe (a CI log) at 80 columns, and a terminal with ``NO_COLOR``.

Each command runs as a subprocess with stdout and stderr merged into one pipe, as a CI log receives them. A
clean log has no redraws or escape codes, no empty lines, no line wider than ``COLUMNS``, no figure cut
("…") and no interval split across lines.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import infobench
from infobench.cli import build_parser
from infobench.data import load_dataset

ROOT = Path(infobench.__file__).resolve().parents[1]  # the checkout whose code is under test
WIDTH = 80
TASKS = "normal-dense-x1-y1-rho0.75,entropy-gaussian-d2-rho0.5"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR", "COLUMNS", "LINES")
    }
    # Run from tmp_path with this checkout first on the path, not an installed copy.
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["INFOBENCH_CACHE"] = str(tmp_path / "cache")
    env["COLUMNS"] = str(WIDTH)
    env.update(extra)
    return env


def run_in_pipe(tmp_path: Path, *args: str, timeout: int = 900) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "infobench", *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc.stdout


def assert_clean_log(text: str, width: int = WIDTH) -> None:
    lines = text.splitlines()
    assert lines, "no output"
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text), "escape codes or redraws in a log"
    assert "" not in [line.strip() for line in lines], "empty lines in a log"
    too_wide = [line for line in lines if len(line) > width]
    assert not too_wide, f"lines wider than {width}: {too_wide[:3]}"
    assert "…" not in text, "a figure was cut"
    split = [line for line in lines if line.count("[") != line.count("]")]
    assert not split, f"an interval or a name split across lines: {split[:3]}"


def test_every_command_that_reports_progress_can_silence_it():
    parser = build_parser()
    for argv in (
        ["run"],
        ["bench", "--estimators", "ksg"],
        ["train", "vae", "--out", "x"],
        ["score", "--real", "digits", "--fake", "held-out"],
        ["estimate", "f.csv", "--x", "a"],
        ["validity"],
    ):
        assert parser.parse_args([*argv, "--no-progress"]).no_progress is True, argv[0]


def test_bench_in_a_pipe_reads_as_a_log(tmp_path):
    text = run_in_pipe(
        tmp_path,
        "bench",
        "--estimators",
        "gaussian,ksg,kde",
        "--tasks",
        TASKS,
        "--n",
        "200",
        "--seeds",
        "2",
        "--jobs",
        "0",
        "--db",
        str(tmp_path / "b.db"),
    )
    assert_clean_log(text)
    assert re.search(r"^grid-\w+: 10/10 cells, done in [\d.:]+( s)?, 0 failed$", text, re.M), text
    # Folded to fit 80 columns: one table per quantity, or column groups that keep the quantity column.
    for quantity in ("mi", "entropy"):
        assert f"Leaderboard: {quantity}" in text or f"│ {quantity} " in text, quantity
    assert "Leaderboard" in text
    quiet = run_in_pipe(
        tmp_path,
        "bench",
        "--estimators",
        "gaussian",
        "--tasks",
        TASKS,
        "--n",
        "200",
        "--seeds",
        "1",
        "--jobs",
        "0",
        "--db",
        str(tmp_path / "q.db"),
        "--no-progress",
    )
    assert "cells, done in" not in quiet


def test_estimate_in_a_pipe(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    pd.DataFrame({"a": x, "b": x + rng.normal(size=400)}).to_csv(tmp_path / "xy.csv", index=False)
    text = run_in_pipe(tmp_path, "estimate", str(tmp_path / "xy.csv"), "--x", "a", "--y", "b", "--method", "ksg")
    assert_clean_log(text)
    assert "nats" in text


@pytest.mark.slow
def test_train_in_a_pipe_writes_whole_progress_lines(tmp_path):
    text = run_in_pipe(
        tmp_path,
        "train",
        "vae",
        "--epochs",
        "2",
        "--out",
        str(tmp_path / "g"),
        "--max-samples",
        "64",
        "--batch-size",
        "16",
        "--width",
        "8",
        "--latent-dim",
        "4",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--no-figures",
    )
    assert_clean_log(text)
    # The losses are whole figures on the summary line (a redrawn bar cut them into cells: "440… 0:00…").
    assert re.search(r"^vae epoch 2/2: 8/8 batches, done in [\d.]+ s, neg_elbo [-\d.e+]+", text, re.M), text


@pytest.mark.slow
def test_score_with_intervals_at_80_columns_reads_as_a_table(tmp_path):
    test = load_dataset("digits", split="test", seed=0).images.numpy()
    rng = np.random.default_rng(0)
    for name, noise in (("a", 0.2), ("b", 0.4)):
        np.savez(tmp_path / f"{name}.npz", images=np.clip(test + rng.normal(0, noise, test.shape), 0, 1))
    text = run_in_pipe(
        tmp_path,
        "score",
        "--real",
        "digits",
        "--fake",
        str(tmp_path / "a.npz"),
        "--fake",
        str(tmp_path / "b.npz"),
        "--fake",
        "held-out",
        "--names",
        "a,b,real",
        "--extractor",
        "pixels",
        "--pca",
        "8",
        "--scores",
        "fid,kid,precision,recall",
        "--n",
        "100",
        "--n-boot",
        "10",
        "--level",
        "0.8",
    )
    assert_clean_log(text)
    # Each set has a row of values and, under it, a row of intervals.
    rows = [line for line in text.splitlines() if re.match(r"│ (a|b|real \(ceiling\)) +│ 100 │", line)]
    assert len(rows) >= 3 and all(re.search(r"\d", r) for r in rows)
    intervals = re.findall(r"\[-?[\d.e+-]+, -?[\d.e+-]+\]", text)
    assert len(intervals) == 3 * 4


@pytest.mark.slow
def test_run_in_a_pipe_reads_as_a_log(tmp_path):
    cfg = tmp_path / "small.toml"
    cfg.write_text(
        'device = "cpu"\n'
        '[benchmark]\nsuites = ["smoke"]\nmi_estimators = ["ksg", "gaussian"]\nentropy_estimators = ["knn"]\n'
        "n = [200]\nseeds = 1\njobs = 1\n"
        '[generators]\nmodels = ["vae"]\nepochs = {vae = 1}\n'
        "[quality]\nn_samples = 100\nn_boot = 40\nvalidity = false\n"
    )
    text = run_in_pipe(tmp_path, "run", "--config", str(cfg), "--out", str(tmp_path / "reports"))
    assert_clean_log(text)
    for stage in ("1/4 estimator benchmark", "2/4 reference generators", "3/4 sample quality", "4/4 report"):
        assert re.search(rf"^{re.escape(stage)}: done in ", text, re.M), stage
    assert re.search(r"^main-\w+: \d+/\d+ cells, done in", text, re.M)
    # Training runs in worker processes: one line per finished run, one progress line over all their epochs.
    assert len(re.findall(r"^generator vae#\d \(seed \d+\): done in ", text, re.M)) == 3  # seeds = 3 by default
    assert re.search(r"^training: 3/3 epochs, done in", text, re.M)


def _in_a_terminal(tmp_path: Path, args: list[str], **env: str) -> str:
    """Output of the CLI in a pseudo-terminal (a real TTY, 100 columns)."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    environment = _env(tmp_path, **env)
    environment.pop("COLUMNS")
    proc = subprocess.Popen(
        [sys.executable, "-m", "infobench", *args],
        cwd=tmp_path,
        env=environment,
        stdin=child,
        stdout=child,
        stderr=child,
        close_fds=True,
    )
    os.close(child)
    out = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    assert proc.wait(timeout=600) == 0, out.decode(errors="replace")[-3000:]
    return out.decode(errors="replace")


def _sgr_codes(text: str) -> set[str]:
    return {p for params in re.findall(r"\x1b\[([0-9;]*)m", text) for p in params.split(";") if p}


COLOURS = re.compile(r"^(3[0-8]|4[0-8]|9[0-7]|10[0-7])$")


def test_a_terminal_gets_live_progress_in_colour_unless_no_color(tmp_path):
    args = ["bench", "--estimators", "gaussian,ksg", "--tasks", TASKS, "--n", "200", "--seeds", "2", "--jobs", "0"]
    coloured = _in_a_terminal(tmp_path, [*args, "--db", str(tmp_path / "c.db")])
    redraw = "\x1b[2K"  # erase the line: the bar is drawn in place
    assert redraw in coloured and any(COLOURS.match(c) for c in _sgr_codes(coloured))
    plain = _in_a_terminal(tmp_path, [*args, "--db", str(tmp_path / "p.db")], NO_COLOR="1")
    assert redraw in plain and not any(COLOURS.match(c) for c in _sgr_codes(plain))
    assert "Leaderboard" in plain and "cells, done in" in plain
