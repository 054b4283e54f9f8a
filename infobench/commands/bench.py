"""``infobench bench``: run estimator specs x tasks x sample sizes x seeds into a results database."""

from __future__ import annotations

import argparse

from rich.markup import escape

from infobench._io import check_output_path
from infobench._progress import make_console
from infobench.bench.executors import make_executor
from infobench.bench.grid import make_grid
from infobench.bench.runner import execute
from infobench.commands.errors import UsageError
from infobench.report import leaderboard, leaderboard_table, summarize, to_rich
from infobench.report.listings import doubtful_cells_text

DEFAULT_DB = "runs/infobench.db"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmark estimators on tasks with known truth (resumable; results in SQLite)",
        description=(
            "Run every estimator spec on every task, sample size and seed. Each finished cell is committed to "
            "the database at once: run the same command again to resume after an interruption (finished cells "
            "are skipped). Specs: 'ksg[k=3,5]' expands to one estimator per value; separate parameters with ';' "
            "('ksg[k=3,5;variant=1,2]') and specs with ',' ('ksg[k=3],kde,histogram')."
        ),
        epilog="Then: infobench report --db PATH --format md,html,png --out reports/NAME",
    )
    parser.add_argument("--estimators", required=True, metavar="SPECS", help="estimator specs, comma-separated")
    what = parser.add_argument_group("tasks (at least one)")
    what.add_argument("--suite", default=None, metavar="S", help="a task suite (see 'infobench tasks')")
    what.add_argument("--tasks", default=None, metavar="IDS", help="task ids, comma-separated")
    parser.add_argument("--n", default="1000", metavar="N[,N...]", help="sample sizes, comma-separated (default 1000)")
    parser.add_argument("--seeds", type=int, default=3, metavar="S", help="replicates per cell (default 3)")
    parser.add_argument(
        "--base-seed", type=int, default=0, metavar="SEED", help="the seed every cell's seeds derive from (default 0)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="local worker processes (default: all cores; 0: in this process, no time limit)",
    )
    where.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDR",
        help="run on an existing Dask cluster, e.g. tcp://HOST:8786 (pip install 'infobench[dask]')",
    )
    where.add_argument(
        "--dask-workers", type=int, default=None, metavar="N", help="start a local Dask cluster of N workers"
    )
    parser.add_argument("--db", default=DEFAULT_DB, metavar="PATH", help=f"results database (default {DEFAULT_DB})")
    parser.add_argument(
        "--run",
        default=None,
        metavar="NAME",
        help="run name (default: derived from the grid, so the same command resumes)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="S",
        help="wall-clock seconds per cell (sampling included); a cell past it is killed and "
        "recorded as failed (needs worker processes)",
    )
    parser.add_argument("--retry-failed", action="store_true", help="run failed cells of the run again")
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress reports on stderr (default: live in a terminal, plain lines in a log)",
    )
    parser.set_defaults(func=run)


def parse_int_list(text: str, option: str) -> list[int]:
    """``"1000,5000"`` -> ``[1000, 5000]``; anything else is a one-line error naming the option."""
    try:
        values = [int(t) for t in text.split(",")]
    except ValueError:
        raise ValueError(f"{option} must be integers separated by commas, e.g. 1000,5000; got {text!r}") from None
    return values


def run(args: argparse.Namespace) -> int:
    if args.suite is None and args.tasks is None:
        raise UsageError("give the tasks: --suite S or --tasks ID[,ID...] (see 'infobench tasks')")
    # execute() locks the database; an unusable path is refused here, before any cell runs.
    check_output_path(args.db, name="--db", kind="file")
    tasks = [t.strip() for t in args.tasks.split(",")] if args.tasks else None
    grid = make_grid(
        args.estimators,
        tasks,
        suite=args.suite,
        n=parse_int_list(args.n, "--n"),
        seeds=args.seeds,
        base_seed=args.base_seed,
    )
    try:
        executor = make_executor(
            args.jobs, scheduler=args.scheduler, dask_workers=args.dask_workers, time_limit=args.time_limit
        )
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    with executor:
        df = execute(
            grid,
            db=args.db,
            run=args.run,
            executor=executor,
            retry_failed=args.retry_failed,
            progress=not args.no_progress,
            command=getattr(args, "command_line", ""),
        )
    a = df.attrs
    console = make_console()
    failed = int((~df["ok"]).sum())
    console.print(
        f"run [bold]{escape(a['run_id'])}[/] in {escape(str(args.db))}: {a['cells']} cells, {a['ran']} computed "
        f"now ({a['failed_now']} failed), {a['skipped']} already done; {failed} failed in all",
        highlight=False,
    )
    if failed:
        errors = df.loc[~df["ok"], "error"].value_counts().head(3)
        for text, count in errors.items():
            console.print(f"  [red]{count} x[/] {escape(str(text))}", highlight=False, soft_wrap=True)
    doubts = doubtful_cells_text(df)
    if doubts:
        console.print(f"[yellow]{escape(doubts)}[/]", highlight=False, soft_wrap=True)
    if len(df) and failed == len(df):
        make_console(stderr=True).print(
            f"[bold red]error:[/] every one of the {len(df)} cells of run {escape(a['run_id'])} failed: "
            "there is no result to rank or report (the errors are above)",
            highlight=False,
            soft_wrap=True,
        )
        return 1
    board = leaderboard(summarize(df))
    console.print(to_rich(leaderboard_table(board)))
    console.print(
        f"report: infobench report --db {args.db} --run {a['run_id']} --format md,html,png",
        highlight=False,
        markup=False,
    )
    return 0
