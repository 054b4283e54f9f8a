"""``infobench report``: tables and plots of a benchmark run from its results database."""

from __future__ import annotations

import argparse

from infobench._io import check_output_path
from infobench._progress import make_console
from infobench._validation import check_float
from infobench.bench.spec import parse_specs
from infobench.bench.store import ResultsStore
from infobench.commands.errors import UsageError
from infobench.report import (
    frame_table,
    leaderboard,
    leaderboard_table,
    parse_formats,
    rank_groups_table,
    summarize,
    to_rich,
    write_report,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write report tables and plots (md, html, csv, tex, png, parquet) of a benchmark run",
        description="Aggregate a run (per estimator x task x n: mean, bias, std, RMSE, log2 ratio, coverage, "
        "seconds, failures; samples needed; a leaderboard) and write it in the chosen formats. "
        "The best value of each row is marked in every format.",
    )
    parser.add_argument("--db", required=True, metavar="PATH", help="results database written by 'infobench bench'")
    parser.add_argument("--run", default="latest", metavar="ID", help="run id (default: the latest run)")
    parser.add_argument(
        "--format",
        default="md,html,png",
        metavar="F[,F...]",
        help="any of md, html, csv, tex, png, parquet (default md,html,png)",
    )
    parser.add_argument("--out", default=None, metavar="DIR", help="output folder (default reports/RUN_ID)")
    parser.add_argument("--estimators", default=None, metavar="SPECS", help="only these estimator specs")
    parser.add_argument("--tasks", default=None, metavar="IDS", help="only these task ids, comma-separated")
    parser.add_argument("--units", choices=["nats", "bits"], default="nats", help="units of the tables (default nats)")
    parser.add_argument(
        "--rank-by",
        default="rmse",
        metavar="METRIC",
        help="metric of the leaderboard's ranks (default rmse; e.g. bias, mean_log2_ratio)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        metavar="LEVEL",
        help="level of the leaderboard's rank test (Friedman over tasks, then Holm-corrected "
        "Wilcoxon signed-rank tests); a best estimator is marked only when it is distinguishable "
        "from the runner-up at this level (default 0.05)",
    )
    parser.add_argument("--title", default=None, help="report title")
    parser.add_argument("--list-runs", action="store_true", help="list the runs in the database and exit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = make_console()
    formats = parse_formats(args.format)
    check_float("--alpha", args.alpha, low=0.0, high=1.0, low_open=True, high_open=True)  # before reading the run
    with ResultsStore(args.db, create=False) as store:
        if args.list_runs:
            runs = store.runs()[["run_id", "created", "updated", "cells", "failed"]]
            console.print(to_rich(frame_table(runs, f"runs in {args.db}", labels=1)))
            return 0
        estimators = [str(s) for s in parse_specs(args.estimators)] if args.estimators else None
        tasks = [t.strip() for t in args.tasks.split(",")] if args.tasks else None
        df = store.load(args.run, estimators=estimators, tasks=tasks)
        run_id = df.attrs["run_id"]
        info = store.run_info(run_id)
    if df.empty:
        raise UsageError(f"run {run_id!r} has no results matching the selection")
    out = args.out or f"reports/{run_id}"
    # write_report locks the folder; an unusable one is refused here, before the report is built.
    check_output_path(out, name="--out", kind="folder", inputs=[("--db", args.db)])
    meta = {"run": run_id, "database": args.db}
    if info["command"]:
        meta["command"] = info["command"]
    meta["base seed"] = str(info["base_seed"])
    try:
        written = write_report(
            df,
            out,
            formats=formats,
            title=args.title or f"infobench benchmark: {run_id}",
            units=args.units,
            rank_by=args.rank_by,
            alpha=args.alpha,
            meta=meta,
        )
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    board = leaderboard(summarize(df), rank_by=args.rank_by, alpha=args.alpha)
    console.print(to_rich(leaderboard_table(board, rank_by=args.rank_by)))
    console.print(to_rich(rank_groups_table(board.attrs["rank_tests"])))
    parts = [f"{len(paths)} {fmt}" if len(paths) > 1 else paths[0].name for fmt, paths in written.items() if paths]
    console.print(
        f"wrote {sum(len(p) for p in written.values())} file(s) to {out}: {', '.join(parts)}",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    return 0
