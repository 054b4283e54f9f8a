"""``infobench validity``: which quality score detects which controlled failure of real data."""

from __future__ import annotations

import argparse
import json

from infobench.commands.score import add_common, emit, params_of
from infobench.quality.validity import detection, run_validity
from infobench.report.quality_tables import check_format, detection_table, print_rich, render, to_json, values_tables


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "validity",
        help="degrade held-out real data (noise, blur, dropped classes, copies, mixed noise) and show which "
        "score detects which failure",
        description="Score the real test split degraded at increasing levels against the train split and report, "
        "per score and failure, whether the score moves the way it documents (detects), the other way, "
        "erratically, or not beyond its bootstrap noise (misses).",
    )
    parser.add_argument("--real", default="digits", metavar="SPEC",
                        help="dataset with a test split: digits (default), mnist:PATH, a folder or array file")
    parser.add_argument("--failures", default=None, metavar="F[,F...]",
                        help="noise, blur, drop_classes, copies, mix_noise (default: all)")
    parser.add_argument("--bootstrap", type=int, default=40, metavar="B",
                        help="replicates on the clean split, which set each score's noise floor (default 40)")
    parser.add_argument("--values", action="store_true", help="also print every score's value per failure level")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    fmt = check_format(args.format)
    df = run_validity(
        args.real, extractor=args.extractor, scores=args.scores, failures=args.failures, bootstrap=args.bootstrap,
        seed=args.seed, device=args.device, cache=not args.no_cache, progress=True, pca=args.pca,
        **params_of(args),
    )
    det = detection(df)
    if args.json:
        payload = json.loads(to_json(df))
        payload["detection"] = json.loads(det.to_json(orient="records"))
        emit(json.dumps(payload, indent=2, ensure_ascii=False), args.out)
        return 0
    tables = [detection_table(det, title=f"Which score detects which failure ({args.real})")]
    if args.values:
        tables += values_tables(df)
    if fmt == "rich" and args.out is None:
        print_rich(tables)
    else:
        emit(render(tables, "md" if fmt == "rich" else fmt, title=f"Validity of quality scores ({args.real})"),
             args.out)
    return 0
