"""``infobench score``: score generated samples against real data, one row per generator."""

from __future__ import annotations

import argparse
import contextlib
import warnings
from collections.abc import Callable
from typing import Any, cast

import pandas as pd
from rich.console import Console

from infobench._io import atomic_write
from infobench._progress import make_console
from infobench._validation import take_renamed
from infobench.commands.errors import UsageError
from infobench.commands.outputs import claim, spec_paths
from infobench.diagnostics import Diagnostic, DiagnosticWarning, as_diagnostics
from infobench.quality import available_params, available_scores, cli_options, score
from infobench.quality.compare import across_runs, pairwise, parse_run_groups
from infobench.report.listings import diagnostic_lines
from infobench.report.quality_tables import (
    Tables,
    check_format,
    pairwise_table,
    print_rich,
    render,
    run_tables,
    score_tables,
    to_json,
)


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``score`` and ``validity``: extractor, scores, seeds, device, output."""
    parser.add_argument(
        "--extractor",
        default="auto",
        metavar="NAME",
        help="auto (default: classifier with labelled real data, else inception when "
        "inception-2015-12-05.pt is found, else pixels+PCA with a warning), classifier (a small "
        "CNN trained on the real train split and cached), pixels, inception[:PATH] (the standard "
        "FID features, clean-fid resize), inception-legacy[:PATH] (resize inside the graph), "
        "hub:DIR:ENTRY[:WEIGHTS] (a local torch.hub backbone), package.module:factory, "
        "or a TorchScript file",
    )
    parser.add_argument(
        "--pca", type=int, default=None, metavar="D", help="pixels extractor: keep D principal components"
    )
    parser.add_argument(
        "--scores",
        default=None,
        metavar="S[,S...]",
        help="score names (default: all the extractor allows; see 'infobench score --list')",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of splits, classifier, subsets, bootstrap (default 0)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    # Score parameters: each is declared next to its score (infobench.quality._core.declare_param).
    for spec in cli_options().values():
        # cli_options() keeps only the parameters whose ``cli`` parser is set.
        parse = cast("Callable[[str], Any]", spec.cli)
        parser.add_argument(spec.option, type=parse, default=spec.default, help=spec.help)
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write cached features")
    parser.add_argument(
        "--format", default="rich", metavar="F", help="rich (terminal, default), md, csv, tex (latex) or html"
    )
    parser.add_argument("--json", action="store_true", help="print the tidy results as JSON instead of tables")
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress reports on stderr (default: live in a terminal, plain lines in a log)",
    )
    parser.add_argument("--out", default=None, metavar="PATH", help="write the output to PATH instead of stdout")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score generated samples (FID, KID, PRDC, IS, kNN KL/entropy, Vendi, memorization...)",
        description="Score one or more generated sets against real data: one row per generator, one column per "
        "score with its direction and bootstrap interval, the best generator per column marked, and the real "
        "held-out split as the ceiling row ('--fake held-out').",
    )
    parser.add_argument(
        "--real",
        default=None,
        metavar="SPEC",
        help="digits, mnist:PATH, fashion-mnist:PATH, an image folder or a .npy/.npz file",
    )
    parser.add_argument(
        "--fake",
        action="append",
        default=[],
        metavar="SPEC",
        help="generated samples: .npy/.npz/.pt, image folder, checkpoint, package.module:function "
        "or held-out (repeat for several); NAME=SPEC,SPEC,... gives several training runs of one "
        "generator (mean over runs, spread, pairwise verdicts)",
    )
    parser.add_argument("--names", default=None, metavar="N[,N...]", help="one name per --fake, comma-separated")
    parser.add_argument(
        "--n",
        type=int,
        default=None,
        help="samples per generated set (default: the smallest fixed-size set, so every row has the same n)",
    )
    add_n_boot(parser, 50, "bootstrap replicates for the intervals (default 50; 0: none)")
    parser.add_argument("--level", type=float, default=0.95, help="confidence level of the intervals (0.95)")
    parser.add_argument(
        "--range",
        default=None,
        metavar="LOW,HIGH",
        help="pixel range of generated arrays (default: from the dtype, never from the values: "
        "uint8 and integers 0,255, uint16 0,65535, floats 0,1; tanh outputs need --range=-1,1)",
    )
    parser.add_argument(
        "--real-range",
        default=None,
        metavar="LOW,HIGH",
        help="pixel range of a real .npy/.npz file (default: from the dtype, as --range)",
    )
    parser.add_argument("--no-resize", action="store_true", help="make an image-size mismatch an error")
    parser.add_argument("--list", action="store_true", help="list the scores with their directions and exit")
    add_common(parser)
    parser.set_defaults(func=run)


def parse_range(text: str | None, option: str = "--range") -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"{option} must be LOW,HIGH (e.g. 0,255 or -1,1); got {text!r}") from None
    return lo, hi


def diagnostics_by_set(df: pd.DataFrame) -> list[tuple[str, Diagnostic, list[str]]]:
    """``(generated set, diagnostic, scores it concerns)`` for each distinct diagnostic of a score frame."""
    out: dict[tuple[str, Diagnostic], list[str]] = {}
    for row in df.itertuples():
        for d in as_diagnostics(getattr(row, "diagnostics", None)):
            out.setdefault((row.fake, d), []).append(row.score)
    return [(fake, d, names) for (fake, d), names in out.items()]


def print_diagnostics(df: pd.DataFrame, console: Console) -> None:
    """Print every diagnostic of the frame once per generated set, naming the scores it concerns."""
    every = {fake: list(df.loc[df["fake"] == fake, "score"]) for fake in dict.fromkeys(df["fake"])}
    for fake, d, names in diagnostics_by_set(df):
        which = "all scores" if names == every[fake] else ", ".join(names)
        for line in diagnostic_lines([d], where=f"{fake} ({which})"):
            console.print(line, highlight=False, markup=False)


def add_n_boot(parser: argparse.ArgumentParser, default: int, text: str) -> None:
    """``--n-boot B``, and ``--bootstrap``, its deprecated spelling (hidden from the help), read by :func:`n_boot_of`."""
    parser.add_argument("--n-boot", type=int, default=None, metavar="B", help=text)
    parser.add_argument("--bootstrap", type=int, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(n_boot_default=default)


def n_boot_of(args: argparse.Namespace) -> int:
    """``--n-boot``, or the deprecated ``--bootstrap`` (a warning on stderr; both given is an error)."""
    given = {flag: v for flag, v in (("--n-boot", args.n_boot), ("--bootstrap", args.bootstrap)) if v is not None}
    take_renamed(given, "--bootstrap", "--n-boot", where=f"infobench {args.command}")
    return int(given.get("--n-boot", args.n_boot_default))


def params_of(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in cli_options()}


def emit(text: str, out: str | None) -> None:
    """Print ``text``, or write it to the file ``out`` (atomically: a reader never sees half a table)."""
    if out is None:
        print(text, end="" if text.endswith("\n") else "\n")
    else:
        atomic_write(out, lambda fh: fh.write(text), binary=False)


def _run_comparison(df: pd.DataFrame, groups: dict[str, list[str]], args: argparse.Namespace) -> Tables:
    """Tables over training runs: mean ± spread, pairwise verdicts, then each run (no best marks)."""
    ceiling = tuple(g for g, runs in groups.items() if (df.loc[df["fake"].isin(runs), "source"] == "held-out").all())
    runs = across_runs(df, groups)
    pairs = pairwise(runs, level=args.level, exclude=ceiling)
    title = f"Sample quality vs {args.real}"
    return Tables(
        [
            *run_tables(runs, pairs, title=f"{title}, over training runs", ceiling=ceiling),
            pairwise_table(pairs),
            *score_tables(df, title=f"{title}, per run", mark_best=False),
        ]
    )


def run(args: argparse.Namespace) -> int:
    fakes = args.fake
    with contextlib.suppress(ValueError):  # a malformed NAME=SPEC,... is reported by _run
        fakes = parse_run_groups(args.fake)[0]
    inputs = spec_paths("--real", [args.real]) + spec_paths("--fake", fakes)
    with claim(args.out, name="--out", inputs=inputs):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    console = make_console(stderr=True)
    if args.list:
        df = available_scores()
        params = available_params()
        emit(
            df[["name", "label", "direction", "unit", "family", "param_defaults", "summary"]].to_string(index=False)
            + "\n\nparameters (keywords of score(); the CLI options are listed by --help):\n"
            + params[["name", "default", "option", "scores", "doc"]].to_string(index=False),
            args.out,
        )
        return 0
    if args.real is None or not args.fake:
        raise UsageError("score needs --real SPEC and at least one --fake SPEC")
    fmt = check_format(args.format)
    fakes, names, groups = args.fake, args.names, None
    if any("=" in spec for spec in args.fake):
        if args.names is not None:
            raise UsageError("--names cannot be combined with --fake NAME=SPEC,... (the runs are named NAME#1, ...)")
        try:
            fakes, names, groups = parse_run_groups(args.fake)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    with warnings.catch_warnings():
        # Each diagnostic is printed below the tables (or kept in the JSON), not as a Python warning.
        warnings.simplefilter("ignore", DiagnosticWarning)
        df = score(
            args.real,
            fakes,
            names=names,
            extractor=args.extractor,
            scores=args.scores,
            n=args.n,
            n_boot=n_boot_of(args),
            level=args.level,
            seed=args.seed,
            device=args.device,
            value_range=parse_range(args.range),
            real_range=parse_range(args.real_range, "--real-range"),
            resize=not args.no_resize,
            pca=args.pca,
            cache=not args.no_cache,
            progress=not args.no_progress,
            **params_of(args),
        )
    if args.json:
        emit(to_json(df), args.out)
        return 0
    tables = score_tables(df, title=f"Sample quality vs {args.real}")
    if groups is not None and any(len(runs) > 1 for runs in groups.values()):
        tables = _run_comparison(df, groups, args)
    if fmt == "rich" and args.out is None:
        print_rich(tables)
    else:
        emit(render(tables, "md" if fmt == "rich" else fmt, title=f"Sample quality vs {args.real}"), args.out)
    print_diagnostics(df, console)
    if args.out is not None:
        console.print(f"wrote {args.out}", highlight=False, markup=False)
    return 0
