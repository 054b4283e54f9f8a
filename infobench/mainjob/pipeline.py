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
   and ``results.sqlite`` (the benchmark records the report was built from).
   The folder is written under a temporary name and renamed when complete, so
   an interrupted run never leaves a report that looks finished.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pandas as pd

from infobench.mainjob.config import RunConfig

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
    import torch

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
    import hashlib

    return state / "generators" / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def _epochs_for(kind: str, config: RunConfig) -> int | None:
    e = config.generators.epochs.get(kind, 0)
    if e == -1:
        return QUICK_EPOCHS[kind]
    return None if e == 0 else e


def _benchmark(config: RunConfig, state: Path, progress: bool, console) -> pd.DataFrame:
    from infobench.bench import load_results, run_grid

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
    from infobench.generators import train

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


def _training_table(checkpoints: dict[str, Path]) -> pd.DataFrame:
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
    import numpy as np

    from infobench.generators import load

    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for kind, ckpt in checkpoints.items():
        path = folder / f"{kind}.npz"
        images = load(ckpt, device=device).sample(n, seed).cpu().numpy()
        np.savez_compressed(path, images=images)
        files[kind] = path
    return files


def _copy_results(db: Path, run: str, target: Path) -> None:
    """Copy the records of one run into a fresh SQLite file (the report's provenance)."""
    from infobench.bench import load_results

    df = load_results(db, run=run)
    with sqlite3.connect(target) as con:
        df.to_sql("results", con, index=False, if_exists="replace")


def _figure_bytes(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def _training_report_table(training: pd.DataFrame):
    from infobench.report import Table

    cols = [c for c in training.columns if c not in ("generator", "folder")]
    rows = []
    for _, r in training.iterrows():
        cells = [str(r["generator"])]
        for c in cols:
            v = r[c]
            cells.append("–" if pd.isna(v) else (f"{v:.4g}" if isinstance(v, float) else str(v)))
        rows.append(cells)
    return Table(
        title="Reference generators: training",
        header=["generator"] + cols,
        rows=rows,
        best=[[False] * (len(cols) + 1) for _ in rows],
        labels=1,
        note="Last-epoch values from each run's log.csv; balance_* columns are the binary entropy (nats) of the "
        "discriminator's outputs, log 2 = 0.693 when it cannot tell real from generated.",
    )


def run_main_job(
    config: RunConfig,
    *,
    out: str | os.PathLike = "reports",
    state: str | os.PathLike | None = None,
    progress: bool = True,
    console=None,
    timestamp: str | None = None,
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
    """
    from infobench._validation import resolve_device
    from infobench.report import (
        figure_png,
        html_page,
        plot_heatmap,
        report_tables,
        summarize,
        to_csv,
        to_latex,
        to_markdown,
    )

    resolve_device(config.device)  # fail early on an unusable device
    out = Path(out)
    state = Path(state) if state is not None else out / STATE_DIR_NAME
    state.mkdir(parents=True, exist_ok=True)
    stamp = timestamp or _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    final = out / stamp
    if final.exists():
        raise FileExistsError(f"report folder {str(final)!r} already exists")
    # Folders of interrupted runs are never trusted: remove them.
    for stale in out.glob(".*.partial"):
        shutil.rmtree(stale, ignore_errors=True)
    partial = out / f".{stamp}.partial"
    partial.mkdir(parents=True)
    seconds: dict[str, float] = {}

    def stage(name: str) -> None:
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
    training = _training_table(checkpoints)
    seconds["generators"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage("3/4 sample quality")
    from infobench.quality import score
    from infobench.report.quality_tables import score_tables

    from infobench.data import load_dataset

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
        from infobench.quality.validity import detection, run_validity
        from infobench.report.quality_tables import detection_table

        validity = run_validity(
            config.generators.dataset, extractor=q.extractor, bootstrap=max(40, q.bootstrap), seed=q.seed,
            device=config.device, progress=progress,
        )
    seconds["quality"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    stage("4/4 report")
    summary = summarize(bench)
    bench_tables = report_tables(summary)
    quality_tables = score_tables(quality, title="Sample quality")
    validity_tables = [detection_table(detection(validity))] if validity is not None else []
    train_table = _training_report_table(training)

    tables_dir = partial / "tables"
    plots_dir = partial / "plots"
    tables_dir.mkdir()
    plots_dir.mkdir()
    named = [("estimators-" + _slug(t.title), t) for t in bench_tables]
    named += [("generators-training", train_table)]
    named += [("quality-" + _slug(t.title), t) for t in quality_tables]
    named += [("validity-" + _slug(t.title), t) for t in validity_tables]
    for name, table in named:
        (tables_dir / f"{name}.csv").write_text(to_csv(table), encoding="utf-8")
        (tables_dir / f"{name}.tex").write_text(to_latex(table), encoding="utf-8")
    bench.to_csv(tables_dir / "benchmark-records.csv", index=False)
    quality.to_csv(tables_dir / "quality-records.csv", index=False)
    if validity is not None:
        validity.to_csv(tables_dir / "validity-records.csv", index=False)

    plots: list[tuple[str, str, bytes]] = [
        ("estimator-heatmap.png", "Estimators x tasks: mean log2(estimate / truth)", figure_png(plot_heatmap(summary)))
    ]
    for kind, ckpt in checkpoints.items():
        for fig, caption in (("samples.png", "samples"), ("losses.png", "training curves")):
            data = _figure_bytes(ckpt.parent / fig)
            if data is not None:
                plots.append((f"{kind}-{fig}", f"{kind}: {caption}", data))
    for name, _, data in plots:
        (plots_dir / name).write_bytes(data)

    meta = {
        "command": "infobench run",
        "dataset": config.generators.dataset,
        "device": str(resolve_device(config.device)),
        "benchmark run id": _run_id(config),
        "created (UTC)": stamp,
    }
    md = ["# infobench report", ""] + [f"- **{k}**: {v}" for k, v in meta.items()] + [""]
    md += ["All information amounts are in nats.", "", "## Estimator benchmark", ""]
    md += [to_markdown(t) for t in bench_tables]
    md += ["## Reference generators", "", to_markdown(train_table)]
    md += ["## Sample quality", ""] + [to_markdown(t) for t in quality_tables]
    if validity_tables:
        md += ["## Validity suite", ""] + [to_markdown(t) for t in validity_tables]
    md += ["## Plots", ""] + [f"![{cap}](plots/{name})" for name, cap, _ in plots] + [""]
    (partial / "REPORT.md").write_text("\n".join(md), encoding="utf-8")

    blocks: list[tuple[str, Any]] = [("p", "All information amounts are in nats."), ("h2", "Estimator benchmark")]
    blocks += [("table", t) for t in bench_tables[:2]] + [("img", (plots[0][1], plots[0][2]))]
    blocks += [("table", t) for t in bench_tables[2:]]
    blocks += [("h2", "Reference generators"), ("table", train_table)]
    blocks += [("img", (cap, data)) for _, cap, data in plots[1:]]
    blocks += [("h2", "Sample quality")] + [("table", t) for t in quality_tables]
    if validity_tables:
        blocks += [("h2", "Validity suite")] + [("table", t) for t in validity_tables]
    (partial / "report.html").write_text(html_page("infobench report", blocks, meta), encoding="utf-8")
    _copy_results(state / "results.sqlite", _run_id(config), partial / "results.sqlite")
    seconds["report"] = time.perf_counter() - t0
    (partial / "timings.json").write_text(json.dumps(seconds, indent=2) + "\n")
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


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:60] or "table"
