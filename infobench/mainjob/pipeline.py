"""The main job: benchmark the estimators, train and score the reference generators, write one report.

Stages, each resumable:

1. **Estimator benchmark** on the configured suites. Cells go to the SQLite
   store in the state folder under a run id derived from the benchmark
   configuration, so a second run (or a run after Ctrl-C) skips every
   finished cell.
2. **Reference generators** (GAN, WGAN-GP, VAE) trained on the dataset into
   ``<state>/generators/<kind>-<fingerprint>``. Training checkpoints every
   epoch; a finished run is reused as it is, an interrupted one resumes
   from its last complete epoch.
3. **Sample quality** of each generator's samples and of the held-out real
   split, then the **validity suite**.
4. **Report**: ``<out>/<timestamp>/`` with ``REPORT.md``, ``report.html``
   (self-contained), ``tables/*.csv`` and ``tables/*.tex``, ``plots/*.png``
   (all built by :mod:`infobench.report.main_report`; this module holds no
   table or plot code) and ``results.sqlite`` (the benchmark records the
   report was built from). The folder is written under a temporary name and
   renamed when complete, so an interrupted run never leaves a report that
   looks finished.

The output and state folders are locked for the whole run
(:mod:`infobench._lock`): a second run on either is refused at once,
and the partial folders a run deletes at start are those of dead runs only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from infobench._io import atomic_write
from infobench._lock import folder_locks
from infobench._progress import format_elapsed
from infobench._validation import resolve_device
from infobench.bench import load_results, run_grid
from infobench.data import load_dataset
from infobench.generators import load, train
from infobench.mainjob.config import RunConfig
from infobench.quality import score
from infobench.quality.validity import run_validity
from infobench.report import summarize
from infobench.report.main_report import build_main_report, write_main_report

__all__ = ["MainJobResult", "run_main_job", "QUICK_EPOCHS"]

# Epoch budget of ``--quick`` per model kind on the 8x8 digits (measured to keep
# ``infobench run --quick`` under three minutes on a 2-core CPU).
QUICK_EPOCHS = {"gan": 20, "wgan-gp": 30, "vae": 30}
STATE_DIR_NAME = ".state"


@dataclasses.dataclass
class MainJobResult:
    """What :func:`run_main_job` produced."""

    report_dir: Path
    benchmark: pd.DataFrame
    summary: pd.DataFrame
    quality: pd.DataFrame | None
    validity: pd.DataFrame | None
    training: pd.DataFrame
    seconds: dict[str, float]


@contextlib.contextmanager
def _torch_threads(n: int):
    """Run with ``n`` intra-op torch threads, then restore the setting.

    The reference networks and the feature classifier are tiny (8x8 images):
    a second thread saves nothing on them, and on a machine with any other
    load, waking it for each small operation made training up to 10x slower.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_id(config: RunConfig) -> str:
    return f"main-{config.fingerprint('benchmark')}"


def _generator_dir(state: Path, kind: str, config: RunConfig, epochs: int | None) -> Path:
    g = config.generators
    key = json.dumps({"kind": kind, "dataset": g.dataset, "seed": g.seed, "epochs": epochs}, sort_keys=True)
    return state / "generators" / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def _epochs_for(kind: str, config: RunConfig) -> int | None:
    e = config.generators.epochs.get(kind, 0)
    if e == -1:
        return QUICK_EPOCHS[kind]
    return None if e == 0 else e


def _benchmark(config: RunConfig, state: Path, progress: bool, console) -> pd.DataFrame:
    b = config.benchmark
    specs = list(b.mi_estimators) + list(b.entropy_estimators)
    db = state / "results.sqlite"
    run_grid(
        specs,
        suite=list(b.suites),
        n=list(b.n),
        seeds=b.seeds,
        base_seed=b.seed,
        db=db,
        run=_run_id(config),
        jobs=b.jobs or None,
        time_limit=b.time_limit,
        progress=progress,
    )
    return load_results(db, run=_run_id(config))


def _train_generators(config: RunConfig, state: Path, device: str, progress: bool, console) -> dict[str, Path]:
    g = config.generators
    out: dict[str, Path] = {}
    for kind in g.models:
        epochs = _epochs_for(kind, config)
        folder = _generator_dir(state, kind, config, epochs)
        if console is not None:
            console.print(f"[bold]generator[/] {kind}: {folder}")
        out[kind] = train(kind, g.dataset, out=folder, epochs=epochs, device=device, resume=True, seed=g.seed,
                          progress=progress)
    return out


def _training_log(checkpoints: dict[str, Path]) -> pd.DataFrame:
    """One row per generator: its folder and the last-epoch values of its log.csv (the report shows them)."""
    rows = []
    for kind, ckpt in checkpoints.items():
        log = ckpt.parent / "log.csv"
        row: dict[str, Any] = {"generator": kind, "folder": str(ckpt.parent)}
        if log.exists():
            df = pd.read_csv(log)
            row["epochs"] = int(len(df))
            if "seconds" in df:
                row["seconds_per_epoch"] = float(df["seconds"].median())
                row["train_seconds"] = float(df["seconds"].sum())
            last = df.iloc[-1]
            for col in df.columns:
                # Per-latent-dimension rates stay in log.csv: the table keeps the totals.
                skip = col in ("epoch", "seconds", "step", "steps") or col.startswith("kl_dim_")
                if not skip and pd.api.types.is_number(last[col]):
                    row[col] = float(last[col])
        rows.append(row)
    return pd.DataFrame(rows)


def _sample_files(checkpoints: dict[str, Path], folder: Path, n: int, seed: int, device: str) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for kind, ckpt in checkpoints.items():
        path = folder / f"{kind}.npz"
        images = load(ckpt, device=device).sample(n, seed).cpu().numpy()
        atomic_write(path, lambda fh: np.savez_compressed(fh, images=images))  # noqa: B023 (called at once)
        files[kind] = path
    return files


def _copy_results(db: Path, run: str, target: Path) -> None:
    """Copy the records of one run into a fresh SQLite file (the report's provenance)."""
    df = load_results(db, run=run)
    with sqlite3.connect(target) as con:
        df.to_sql("results", con, index=False, if_exists="replace")


def run_main_job(
    config: RunConfig,
    *,
    out: str | os.PathLike = "reports",
    state: str | os.PathLike | None = None,
    progress: bool = True,
    console=None,
    timestamp: str | None = None,
    command: str = "infobench run",
) -> MainJobResult:
    """Run every stage and write ``<out>/<timestamp>/``.

    Parameters
    ----------
    config : RunConfig
        See :func:`infobench.mainjob.config.load_config`.
    out : path
        Parent folder of the report folders.
    state : path, optional
        Where finished benchmark cells and trained generators are kept between
        runs (default ``<out>/.state``).
    progress : bool
        Show rich progress bars.
    console : rich.console.Console, optional
        Where stage headings go.
    timestamp : str, optional
        Name of the report folder (default: the UTC time, ``YYYYmmdd-HHMMSS``).
    command : str
        The command line shown in the report's header (``infobench run --quick``).

    Raises
    ------
    PathLockedError
        When another run holds ``out`` or ``state`` (see :mod:`infobench._lock`):
        two runs on one folder would delete each other's work.
    """
    resolve_device(config.device)  # fail early on an unusable device
    out = Path(out)
    state = Path(state) if state is not None else out / STATE_DIR_NAME
    with folder_locks({"output": out, "state": state}):
        return _run_locked(config, out, state, progress, console, timestamp, command)


def _run_locked(config: RunConfig, out: Path, state: Path, progress: bool, console, timestamp: str | None,
                command: str) -> MainJobResult:
    stamp = timestamp or _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    final = out / stamp
    if final.exists():
        raise FileExistsError(f"report folder {str(final)!r} already exists")
    # This process holds the lock of ``out``, so every partial folder there belongs to a run that died:
    # none can be finished or trusted.
    for stale in out.glob(".*.partial"):
        shutil.rmtree(stale, ignore_errors=True)
    partial = out / f".{stamp}.partial"
    partial.mkdir(parents=True)
    seconds: dict[str, float] = {}

    running: list[tuple[str, float]] = []

    def stage(name: str | None) -> None:
        """End the running stage with a line of its time; start ``name`` (None: none) under a heading."""
        if running and console is not None:
            done, started = running.pop()
            console.print(f"{done}: done in {format_elapsed(time.perf_counter() - started)}", markup=False,
                          highlight=False)
        if name is not None:
            running.append((name, time.perf_counter()))
            if console is not None:
                console.rule(f"[bold]{name}")

    t0 = time.perf_counter()
    stage("1/4 estimator benchmark")
    bench = _benchmark(config, state, progress, console)
    seconds["benchmark"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage("2/4 reference generators")
    with _torch_threads(1):
        checkpoints = _train_generators(config, state, config.device, progress, console)
    training = _training_log(checkpoints)
    seconds["generators"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage("3/4 sample quality")
    q = config.quality
    # Every set is scored at the same n (kNN-based scores are biased by n), and
    # the held-out split bounds it: 359 images for digits.
    n_eval = min(q.n_samples, len(load_dataset(config.generators.dataset, split="test", seed=0).images))
    samples = _sample_files(checkpoints, partial / "samples", n_eval, q.seed, config.device)
    names = list(samples) + ["real-test"]
    quality = score(
        config.generators.dataset,
        [str(p) for p in samples.values()] + ["held-out"],
        names=names,
        extractor=q.extractor,
        n=n_eval,
        bootstrap=q.bootstrap,
        seed=q.seed,
        device=config.device,
        progress=progress,
    )
    validity = None
    if q.validity:
        validity = run_validity(
            config.generators.dataset, extractor=q.extractor, bootstrap=max(40, q.bootstrap), seed=q.seed,
            device=config.device, progress=progress,
        )
    seconds["quality"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage("4/4 report")
    summary = summarize(bench)
    meta = {
        "command": command,
        "dataset": config.generators.dataset,
        "device": str(resolve_device(config.device)),
        "benchmark run id": _run_id(config),
        "created (UTC)": stamp,
    }
    report = build_main_report(
        benchmark=bench, summary=summary, training=training,
        generator_dirs={kind: ckpt.parent for kind, ckpt in checkpoints.items()},
        quality=quality, validity=validity, meta=meta,
    )
    write_main_report(report, partial)
    _copy_results(state / "results.sqlite", _run_id(config), partial / "results.sqlite")
    seconds["report"] = time.perf_counter() - t0
    stage(None)
    atomic_write(partial / "timings.json", lambda fh: fh.write(json.dumps(seconds, indent=2) + "\n"), binary=False)
    os.replace(partial, final)
    return MainJobResult(
        report_dir=final,
        benchmark=bench,
        summary=summary,
        quality=quality,
        validity=validity,
        training=training,
        seconds=seconds,
    )
