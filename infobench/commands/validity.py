"""``infobench validity``: which quality score detects which controlled failure of real data."""

from __future__ import annotations

import argparse
import json

from infobench.commands.outputs import claim, spec_paths
from infobench.commands.score import add_common, add_n_boot, emit, n_boot_of, params_of
from infobench.quality.scoring import Scorer, parse_params
from infobench.quality.validity import check_suite_bootstrap, detection, real_calibration, run_validity
from infobench.report.quality_tables import (
    calibration_table,
    check_format,
    detection_table,
    print_rich,
    render,
    to_json,
    values_tables,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "validity",
        help="degrade held-out real data (noise, blur, dropped classes, copies, mixed noise) and show which "
        "score detects which failure",
        description="Score the real test split degraded at increasing levels against the train split and report, "
        "per score and failure, whether the score moves the way it documents (detects), the other way, "
        "erratically, or not beyond its bootstrap noise (misses).",
    )
    parser.add_argument(
        "--real",
        default="digits",
        metavar="SPEC",
        help="dataset with a test split: digits (default), mnist:PATH, a folder or array file",
    )
    parser.add_argument(
        "--failures",
        default=None,
        metavar="F[,F...]",
        help="noise, blur, drop_classes, copies, mix_noise (default: all)",
    )
    add_n_boot(parser, 40, "bootstrap replicates on the clean split, which set each score's noise floor (default 40)")
    parser.add_argument("--values", action="store_true", help="also print every score's value per failure level")
    parser.add_argument(
        "--calibration",
        type=int,
        default=0,
        metavar="N_DRAWS",
        help="also check each score's interval (memorization and the class-probability scores "
        "included) against its spread over N_DRAWS fresh draws (at least 3) of two disjoint sets "
        "from the real features and class probabilities (train and test splits pooled), and a third "
        "as memorization's training split; a score constant over the redraws (e.g. classes covered) "
        "reads 'constant'; up to 5 of them are "
        "bootstrapped with --n-boot replicates (N_DRAWS plain scorings and 5 bootstrapped ones at "
        "the redraw size; default 0: off)",
    )
    parser.add_argument(
        "--calibration-size",
        type=int,
        default=None,
        metavar="N",
        help="rows per set in the calibration redraws (default: a sixth of the pooled real features; "
        "at most a third with memorization, a half without)",
    )
    add_common(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with claim(args.out, name="--out", inputs=spec_paths("--real", [args.real])):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    fmt = check_format(args.format)
    n_boot = check_suite_bootstrap(n_boot_of(args))  # before any feature extraction or training
    # One reference (features, classifier) for the suite and the calibration redraws.
    scorer = Scorer(
        args.real,
        extractor=args.extractor,
        scores=args.scores,
        seed=args.seed,
        device=args.device,
        pca=args.pca,
        cache=not args.no_cache,
        progress=not args.no_progress,
        params=parse_params(params_of(args)),
    )
    df = run_validity(failures=args.failures, n_boot=n_boot, scorer=scorer)
    det = detection(df)
    cal = None
    if args.calibration:
        cal = real_calibration(
            scorer,
            n_draws=args.calibration,
            size=args.calibration_size,
            n_boot_draws=min(5, args.calibration),
            n_boot=n_boot,
        )
    if args.json:
        payload = json.loads(to_json(df))
        payload["detection"] = json.loads(det.to_json(orient="records"))
        if cal is not None:
            payload["calibration"] = json.loads(cal.to_json(orient="records"))
        emit(json.dumps(payload, indent=2, ensure_ascii=False), args.out)
        return 0
    tables = [detection_table(det, title=f"Which score detects which failure ({args.real})")]
    if cal is not None:
        n_set = int(cal["n_real"].max())
        tables.append(
            calibration_table(
                cal,
                title=f"Interval width against the spread over {args.calibration} "
                f"redraws of {n_set} vs {n_set} real features ({args.real})",
            )
        )
    if args.values:
        tables += values_tables(df)
    if fmt == "rich" and args.out is None:
        print_rich(tables)
    else:
        emit(
            render(tables, "md" if fmt == "rich" else fmt, title=f"Validity of quality scores ({args.real})"), args.out
        )
    return 0
