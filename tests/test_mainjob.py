"""The main job (``infobench run``): configuration, end to end, reuse and resume after a kill."""

from __future__ import annotations

import dataclasses
import html.parser
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import infobench
from infobench.cli import main
from infobench.mainjob import default_config, load_config, to_toml


# ----------------------------------------------------------------- config
@pytest.mark.parametrize("quick", [False, True])
def test_print_config_round_trips(tmp_path, quick):
    cfg = default_config(quick)
    path = tmp_path / "c.toml"
    path.write_text(to_toml(cfg))
    # Every field is written, so the file reproduces the config whichever defaults it is loaded over.
    assert load_config(path, quick=quick) == cfg
    assert load_config(path, quick=not quick) == cfg


def test_print_config_cli(capsys):
    assert main(["run", "--quick", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert "[benchmark]" in out and "[generators]" in out and "[quality]" in out
    assert 'suites = ["smoke", "entropy", "kl"]' in out


def test_config_overrides_subset(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('device = "cpu"\n[benchmark]\nn = [500, 2000]\nseeds = 1\n[generators]\nepochs = {vae = 3}\n')
    cfg = load_config(path)
    assert cfg.device == "cpu"
    assert cfg.benchmark.n == (500, 2000) and cfg.benchmark.seeds == 1
    assert cfg.generators.epochs["vae"] == 3 and cfg.generators.epochs["gan"] == 0
    assert cfg.quality == default_config().quality


@pytest.mark.parametrize(
    "text, match",
    [
        ("[benchmarks]\nn = [1]\n", "unknown section 'benchmarks'"),
        ("[benchmark]\nsamples = [1]\n", r"\[benchmark\] has unknown key 'samples'"),
        ("[benchmark]\nn = [1]\n", r"\[benchmark\] n must be an integer >= 2"),
        ("[benchmark]\nseeds = 0\n", r"\[benchmark\] seeds must be an integer >= 1"),
        ("[benchmark]\nsuites = [1]\n", r"\[benchmark\] suites must be a list of strings"),
        ('[generators]\nmodels = ["diffusion"]\n', "unknown model 'diffusion'"),
        ("[generators]\nepochs = {flow = 2}\n", "unknown model 'flow'"),
        ("[quality]\nvalidity = 1\n", r"\[quality\] validity must be true or false"),
        ("[generators]\nseeds = 0\n", r"\[generators\] seeds must be an integer >= 1; got 0"),
        ("[generators]\neval_every = -1\n", r"\[generators\] eval_every must be an integer >= 0; got -1"),
        ("[generators]\neval_samples = 5\n", r"\[generators\] eval_samples must be an integer >= 10; got 5"),
        ("[generators]\njobs = -2\n", r"\[generators\] jobs must be an integer >= 0; got -2"),
        ("[benchmark\n", "not valid TOML"),
        ("device = 3\n", "device must be a string"),
    ],
)
def test_config_errors(tmp_path, text, match):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises((ValueError, TypeError), match=match):
        load_config(path)


def test_config_missing_file_is_one_line_error(tmp_path, capsys):
    assert main(["run", "--config", str(tmp_path / "nope.toml")]) == 2
    err = capsys.readouterr().err
    assert "nope.toml" in err and "Traceback" not in err


def test_training_runs_have_independent_explicit_seeds(tmp_path):
    from infobench.mainjob.pipeline import generator_runs, run_seeds

    quick, full = default_config(quick=True), default_config()
    assert quick.generators.seeds == 2 and full.generators.seeds == 3
    assert quick.generators.eval_every > 0  # the quick run keeps the learning curves
    runs = generator_runs(full, tmp_path)
    assert [r.name for r in runs[:3]] == ["gan#1", "gan#2", "gan#3"]
    seeds = run_seeds(0, 3)
    assert len(set(seeds)) == 3 and all(0 <= s < 2**32 for s in seeds)
    assert run_seeds(0, 2) == seeds[:2]  # raising seeds keeps the finished runs' seeds (and folders)
    assert [r.seed for r in runs if r.kind == "vae"] == seeds
    assert len({r.folder for r in runs}) == len(runs) == 9
    fewer = generator_runs(
        dataclasses.replace(full, generators=dataclasses.replace(full.generators, seeds=2)), tmp_path
    )
    assert [r.folder for r in fewer if r.kind == "gan"] == [r.folder for r in runs if r.kind == "gan"][:2]


def test_fingerprint_follows_settings():
    a = default_config()
    b = dataclasses.replace(a, benchmark=dataclasses.replace(a.benchmark, seeds=5))
    assert a.fingerprint("benchmark") != b.fingerprint("benchmark")
    assert a.fingerprint("generators") == b.fingerprint("generators")


# ------------------------------------------------------------- end to end
class _HTMLCounter(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: dict[str, int] = {}
        self.images: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "img":
            self.images.append(dict(attrs).get("src", ""))

    def handle_data(self, data):
        self.text.append(data)


ROOT = Path(infobench.__file__).resolve().parents[1]  # the checkout whose code is under test


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The subprocesses run from tmp_path: put this checkout first on the path, or `python -m infobench`
    # would import whichever copy is installed rather than the code under test.
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["INFOBENCH_CACHE"] = str(tmp_path / "cache")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run(args, tmp_path, **kw):
    return subprocess.run(
        [sys.executable, "-m", "infobench", "run", "--no-progress", *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        **kw,
    )


def _reports(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))


def _cells(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT COUNT(*) FROM results").fetchone()[0]


@pytest.mark.slow
def test_quick_run_end_to_end_and_reuse(tmp_path):
    """``infobench run --quick`` writes the whole report; a second run reuses cells and generators."""
    out = tmp_path / "reports"
    first = _run(["--quick", "--out", str(out), "--device", "cpu"], tmp_path, timeout=1500)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    (report,) = _reports(out)
    for name in ("REPORT.md", "report.html", "results.sqlite", "timings.json"):
        assert (report / name).is_file(), name
    md = (report / "REPORT.md").read_text()
    for heading in ("## Estimator benchmark", "## Reference generators", "## Sample quality", "## Validity suite"):
        assert heading in md
    # The header names the command actually run, not a generic "infobench run".
    assert f"- **command**: infobench run --no-progress --quick --out {out} --device cpu" in md
    for name in ("gan", "wgan-gp", "vae", "real-test (ceiling)", "ksg", "knn", "kde", "histogram", "gaussian"):
        assert name in md, name
    csvs = {p.name for p in (report / "tables").glob("*.csv")}
    texs = {p.name for p in (report / "tables").glob("*.tex")}
    assert "estimators-leaderboard.csv" in csvs and "generators-training.csv" in csvs
    assert any(n.startswith("quality-") for n in texs) and any(n.startswith("validity-") for n in texs)
    pngs = {p.name for p in (report / "plots").glob("*.png")}
    assert "estimator-heatmap.png" in pngs and {"gan-samples.png", "vae-samples.png"} <= pngs
    # The HTML is checked with a parser (not a browser): it is self-contained and holds tables and images.
    page = _HTMLCounter()
    page.feed((report / "report.html").read_text())
    assert page.tags.get("table", 0) >= 6
    assert page.images and all(src.startswith("data:image/png;base64,") for src in page.images)
    assert "Sample quality" in "".join(page.text)
    n_cells = _cells(report / "results.sqlite")
    assert n_cells > 100
    assert "report:" in first.stdout and "leaderboard" in first.stdout.lower()

    # Two training runs per generator, learning curves and pairwise verdicts in the report.
    for text in (
        "### Pairwise comparisons of the generators",
        "Sample quality over training runs",
        "gan#2",
        "Learning curves: epoch of the best score",
    ):
        assert text in md, text
    assert "learning-curves.png" in pngs
    ckpts = sorted((out / ".state" / "generators").glob("*/checkpoint.pt"))
    assert len(ckpts) == 6
    mtimes = [p.stat().st_mtime_ns for p in ckpts]
    second = _run(["--quick", "--out", str(out), "--device", "cpu"], tmp_path, timeout=1500)
    assert second.returncode == 0, second.stderr[-3000:]
    assert [p.stat().st_mtime_ns for p in ckpts] == mtimes  # generators reused, not retrained
    reports = _reports(out)
    assert len(reports) == 2
    assert _cells(reports[1] / "results.sqlite") == n_cells
    assert _cells(out / ".state" / "results.sqlite") == n_cells  # no cell ran twice


@pytest.mark.slow
def test_killed_run_resumes(tmp_path):
    """SIGKILL during training leaves no report; the next run finishes from the saved state."""
    cfg = tmp_path / "small.toml"
    cfg.write_text(
        'device = "cpu"\n'
        '[benchmark]\nsuites = ["smoke"]\nmi_estimators = ["ksg", "gaussian"]\nentropy_estimators = ["knn"]\n'
        "n = [300]\nseeds = 1\njobs = 1\n"
        '[generators]\nmodels = ["vae"]\nepochs = {vae = 6}\n'
        "[quality]\nn_samples = 200\nn_boot = 0\nvalidity = false\n"
    )
    out = tmp_path / "reports"
    proc = subprocess.Popen(
        [sys.executable, "-m", "infobench", "run", "--no-progress", "--config", str(cfg), "--out", str(out)],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = None
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        logs = list((out / ".state" / "generators").glob("vae-*/log.csv"))
        if logs and len(logs[0].read_text().splitlines()) >= 3:  # header + 2 finished epochs
            log = logs[0]
            break
        time.sleep(0.2)
    assert proc.poll() is None and log is not None, "the run ended before it could be interrupted"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _reports(out) == []  # nothing that looks finished
    done_epochs = len(log.read_text().splitlines()) - 1
    assert 2 <= done_epochs < 6
    cells = _cells(out / ".state" / "results.sqlite")
    assert cells > 0

    again = _run(["--config", str(cfg), "--out", str(out)], tmp_path, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    (report,) = _reports(out)
    assert len(log.read_text().splitlines()) - 1 == 6  # resumed to the configured epochs
    assert _cells(report / "results.sqlite") == cells  # benchmark cells reused
    assert not any(p.name.endswith(".partial") for p in out.iterdir())
