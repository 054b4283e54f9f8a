"""The main job: benchmark the estimators, train and score the reference generators, write one report.

Stages, each resumable:

1. **Estimator benchmark** on the configured suites. Cells go to the SQLite
   store in the state folder under a run id derived from the benchmark
   configuration, so a second run (or a run after Ctrl-C) skips every
   finished cell.
2. **Reference generators** (GAN, WGAN-GP, VAE), each trained ``seeds``
   times with independent seeds, into
   ``<state>/generators/<kind>-<fingerprint>`` (one folder per seed).
   Training checkpoints every epoch; a finished run is reused as it is, an
   interrupted one resumes from its last complete epoch, so an interruption
   loses no finished model. Runs go to ``jobs`` worker processes.
3. **Sample quality** of each training run's samples and of the held-out
   real split, summarised per generator over its runs with the pairwise
   comparisons of :mod:`infobench.quality.compare`; the **learning curves**
   (a few scores of the checkpoints kept every ``eval_every`` epochs); then
   the **validity suite**.
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
import multiprocessing
import os
import shutil
import sqlite3
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from infobench._io import atomic_write
from infobench._lock import folder_locks
from infobench._progress import format_elapsed
from infobench._progress import progress as show_progress
from infobench._validation import resolve_device, spawn_seeds
from infobench.bench import load_results, run_grid
from infobench.data import ImageSet, load_dataset
from infobench.generators import DEFAULTS, kept_checkpoints, load, train
from infobench.mainjob.config import RunConfig
from infobench.quality import Scorer, score
from infobench.quality.compare import across_runs, pairwise
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
    runs: pd.DataFrame | None = None
    pairs: pd.DataFrame | None = None
    curves: pd.DataFrame | None = None


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


@dataclasses.dataclass(frozen=True)
class GeneratorRun:
    """One training run of a reference generator: model kind, run number (from 1), its seed and folder."""

    kind: str
    index: int
    seed: int
    folder: Path
    epochs: int | None

    @property
    def name(self) -> str:
        """The run's name in the score frames: ``<kind>#<index>`` (as ``infobench score --fake KIND=A,B``)."""
        return f"{self.kind}#{self.index}"

    @property
    def checkpoint(self) -> Path:
        return self.folder / "checkpoint.pt"


def _generator_dir(state: Path, kind: str, config: RunConfig, epochs: int | None, seed: int) -> Path:
    g = config.generators
    key = json.dumps(
        {"kind": kind, "dataset": g.dataset, "seed": seed, "epochs": epochs, "keep_every": g.eval_every}, sort_keys=True
    )
    return state / "generators" / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def run_seeds(seed: int, count: int) -> list[int]:
    """The training seeds: ``spawn_seeds(seed, count)`` folded to 32 bits (exact in every table and CSV)."""
    return [s % 2**32 for s in spawn_seeds(seed, count)]


def generator_runs(config: RunConfig, state: Path) -> list[GeneratorRun]:
    """Every training run of the configuration: each model kind with each of the ``seeds`` spawned seeds.

    Run ``i`` of every kind uses :func:`run_seeds` ``[i]``; a seed does not
    depend on how many are drawn, so raising ``seeds`` reuses the finished
    runs.
    """
    g = config.generators
    seeds = run_seeds(g.seed, g.seeds)
    return [
        GeneratorRun(
            kind, i + 1, s, _generator_dir(state, kind, config, _epochs_for(kind, config), s), _epochs_for(kind, config)
        )
        for kind in g.models
        for i, s in enumerate(seeds)
    ]


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


def _train_run(run: GeneratorRun, dataset: str, device: str, keep_every: int, progress: bool) -> float:
    """Train (or resume, or reuse) one run with one torch thread; return its wall time in seconds."""
    t0 = time.perf_counter()
    with _torch_threads(1):
        train(
            run.kind,
            dataset,
            out=run.folder,
            epochs=run.epochs,
            device=device,
            resume=True,
            seed=run.seed,
            keep_every=keep_every,
            progress=progress,
        )
    return time.perf_counter() - t0


def _die_with_parent() -> None:
    """Worker initializer: on Linux, be killed when the main process dies (a killed run leaves no trainer behind)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _train_generators(config: RunConfig, runs: list[GeneratorRun], device: str, progress: bool, console) -> None:
    """Train every run not finished yet: in ``jobs`` worker processes when more than one, else here with live bars.

    The tiny networks run on one thread each, so on a CPU two runs side by
    side take about the time of one. Every run checkpoints each epoch in its
    own folder, so an interruption loses no finished run.
    """
    g = config.generators
    pending = [r for r in runs if not _finished(r)]
    for r in runs:
        if r not in pending and console is not None:
            console.print(
                f"generator {r.name} (seed {r.seed}): finished, reused ({r.folder})", markup=False, highlight=False
            )
    jobs = g.jobs or (os.cpu_count() or 1)
    jobs = min(jobs, len(pending)) if resolve_device(device).type == "cpu" else 1
    if jobs <= 1:
        for r in runs:  # finished runs too: train() redraws their figures
            if console is not None and r in pending:
                console.print(f"generator {r.name} (seed {r.seed}): {r.folder}", markup=False, highlight=False)
            seconds = _train_run(r, g.dataset, device, g.eval_every, progress)
            if console is not None and r in pending:
                console.print(f"generator {r.name}: done in {format_elapsed(seconds)}", markup=False, highlight=False)
        return
    if console is not None:
        console.print(f"training {len(pending)} runs in {jobs} worker processes", markup=False, highlight=False)
    target = sum(r.epochs or DEFAULTS[r.kind]["epochs"] for r in pending)
    last = sum(_epochs_done(r) for r in pending)
    with (
        ProcessPoolExecutor(
            jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_die_with_parent
        ) as pool,
        show_progress(progress, target, "training", unit="epochs", completed=last) as advance,
    ):
        futures = {pool.submit(_train_run, r, g.dataset, device, g.eval_every, False): r for r in pending}
        waiting = set(futures)
        while waiting:
            done, waiting = wait(waiting, timeout=1.0, return_when=FIRST_COMPLETED)
            now = sum(_epochs_done(r) for r in pending)  # every run appends to its log.csv after each epoch
            if now > last:
                advance(now - last)
                last = now
            for fut in done:
                r = futures[fut]
                seconds = fut.result()
                if console is not None:
                    console.print(
                        f"generator {r.name} (seed {r.seed}): done in {format_elapsed(seconds)} ({r.folder})",
                        markup=False,
                        highlight=False,
                    )
    for r in runs:
        if r not in pending:
            _train_run(r, g.dataset, device, g.eval_every, False)


def _epochs_done(run: GeneratorRun) -> int:
    """Epochs in the run's log.csv (0 before the first one ends)."""
    log = run.folder / "log.csv"
    try:
        return max(0, len(log.read_text().splitlines()) - 1)
    except OSError:
        return 0


def _finished(run: GeneratorRun) -> bool:
    """Whether the run's log already holds its configured epochs (a finished run needs no worker)."""
    return run.checkpoint.exists() and _epochs_done(run) >= (run.epochs or DEFAULTS[run.kind]["epochs"])


def _training_log(runs: list[GeneratorRun]) -> pd.DataFrame:
    """One row per training run: its name, seed, folder and the last-epoch values of its log.csv."""
    rows = []
    for run in runs:
        log = run.folder / "log.csv"
        row: dict[str, Any] = {"generator": run.kind, "run": run.index, "seed": run.seed, "folder": str(run.folder)}
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


def _sample_files(runs: list[GeneratorRun], folder: Path, n: int, seed: int, device: str) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for run in runs:
        path = folder / f"{run.kind}-run{run.index}.npz"
        images = load(run.checkpoint, device=device).sample(n, seed).cpu().numpy()
        atomic_write(path, lambda fh: np.savez_compressed(fh, images=images))  # noqa: B023 (called at once)
        files[run.name] = path
    return files


# Scores of the learning curves: cheap at a few hundred samples and without intervals.
CURVE_SCORES = ("fid", "precision", "recall", "kl_real_fake", "kl_fake_real")


def learning_curves(runs: list[GeneratorRun], scorer: Scorer, n: int, seed: int, device: str) -> pd.DataFrame:
    """Scores of every kept checkpoint (``eval_every``): one row per run, epoch and score.

    Columns ``generator, run, seed, epoch, score, value``. Each checkpoint
    draws the same ``n`` latent codes (``seed``) and is scored with
    :data:`CURVE_SCORES` (no intervals) against the reference of
    ``scorer``; the GAN's ``balance`` (binary entropy of the discriminator's
    outputs, from log.csv) is added as a score row of its epoch.
    """
    names = tuple(s for s in CURVE_SCORES if s in scorer.names)
    rows = []
    for run in runs:
        log = run.folder / "log.csv"
        history = pd.read_csv(log).set_index("epoch") if log.exists() else pd.DataFrame()
        for epoch, path in kept_checkpoints(run.folder).items():
            images = load(path, device=device).sample(n, seed)
            sample = ImageSet(images=images, labels=None, name=f"{run.name} epoch {epoch}", num_classes=None)
            for rec in scorer.score_images(sample, f"{run.name}@{epoch}", source="checkpoint", names=names):
                rows.append(
                    {
                        "generator": run.kind,
                        "run": run.index,
                        "seed": run.seed,
                        "epoch": epoch,
                        "score": rec["score"],
                        "value": rec["value"],
                    }
                )
            if "balance" in history.columns and epoch in history.index:
                rows.append(
                    {
                        "generator": run.kind,
                        "run": run.index,
                        "seed": run.seed,
                        "epoch": epoch,
                        "score": "balance",
                        "value": float(history.loc[epoch, "balance"]),
                    }
                )
    return pd.DataFrame(rows, columns=["generator", "run", "seed", "epoch", "score", "value"])


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


def _run_locked(
    config: RunConfig, out: Path, state: Path, progress: bool, console, timestamp: str | None, command: str
) -> MainJobResult:
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
            console.print(
                f"{done}: done in {format_elapsed(time.perf_counter() - started)}", markup=False, highlight=False
            )
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
    g = config.generators
    runs = generator_runs(config, state)
    _train_generators(config, runs, config.device, progress, console)
    training = _training_log(runs)
    seconds["generators"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage("3/4 sample quality")
    q = config.quality
    # One reference (classifier, real features) for the scores, the learning curves and the validity suite.
    scorer = Scorer(g.dataset, extractor=q.extractor, seed=q.seed, device=config.device, progress=progress, stream=True)
    # Every set is scored at the same n (kNN-based scores are biased by n), and
    # the held-out split bounds it: 359 images for digits.
    n_eval = min(
        q.n_samples,
        len(
            scorer.real.held_out
            if scorer.real.held_out is not None
            else load_dataset(g.dataset, split="test", seed=0).images
        ),
    )
    samples = _sample_files(runs, partial / "samples", n_eval, q.seed, config.device)
    names = list(samples) + ["real-test"]
    quality = score(
        g.dataset,
        [str(p) for p in samples.values()] + ["held-out"],
        names=names,
        n=n_eval,
        n_boot=q.n_boot,
        scorer=scorer,
    )
    groups = {kind: [r.name for r in runs if r.kind == kind] for kind in g.models}
    groups["real-test"] = ["real-test"]
    by_run = across_runs(quality, groups)
    pairs = pairwise(by_run, exclude=["real-test"])
    t1 = time.perf_counter()
    curves = None
    if g.eval_every:
        curves = learning_curves(runs, scorer, min(g.eval_samples, n_eval), q.seed, config.device)
    seconds["curves"] = time.perf_counter() - t1
    validity = None
    if q.validity:
        validity = run_validity(n_boot=max(40, q.n_boot), scorer=scorer)
    seconds["quality"] = time.perf_counter() - t0 - seconds["curves"]  # the curves are timed on their own

    t0 = time.perf_counter()
    stage("4/4 report")
    summary = summarize(bench)
    meta = {
        "command": command,
        "dataset": g.dataset,
        "device": str(resolve_device(config.device)),
        "benchmark run id": _run_id(config),
        "training runs": f"{g.seeds} per generator, seeds {', '.join(str(s) for s in run_seeds(g.seed, g.seeds))}",
        "created (UTC)": stamp,
    }
    report = build_main_report(
        benchmark=bench,
        summary=summary,
        training=training,
        generator_dirs={r.kind: r.folder for r in runs if r.index == 1},
        quality=quality,
        validity=validity,
        meta=meta,
        runs=by_run,
        pairs=pairs,
        curves=curves,
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
        runs=by_run,
        pairs=pairs,
        curves=curves,
    )
