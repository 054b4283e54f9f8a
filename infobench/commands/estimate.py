"""``infobench estimate FILE --x COLS [--y COLS] [--method SPEC] [--json]``: MI or entropy of a data file.

Files: CSV (``.csv``, ``.tsv``), Parquet (``.parquet``, needs pyarrow), NumPy
``.npy`` (a 1-D or 2-D array) and ``.npz`` archives.

Columns (``COLS``, comma-separated): for CSV and Parquet, column names or
0-based indices; for ``.npy``, 0-based indices; for ``.npz``, array names
(each array contributes all of its columns). ``START:STOP`` selects a range
of indices (STOP excluded). Integer columns of CSV/Parquet are judged from
their values: a column of few levels is read as categories by the estimators
that distinguish them, one of many distinct whole numbers (a measurement in
whole units, such as millimetres) as continuous.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import infobench
from infobench._progress import make_console
from infobench.bench.spec import EstimatorSpec
from infobench.bench.store import require_pyarrow
from infobench.commands.errors import UsageError
from infobench.diagnostics import DiagnosticWarning
from infobench.estimators.base import get_method
from infobench.report.listings import estimate_table

_RANGE = re.compile(r"^(\d+):(\d+)$")
_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".npy": "npy",
    ".npz": "npz",
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="estimate I(X;Y) (or H(X) without --y) from columns of a CSV, NPY/NPZ or Parquet file",
        description="Estimate the mutual information between the --x and --y columns of a data file, or the "
        "entropy of the --x columns when --y is omitted. Values in nats (bits shown alongside).",
    )
    parser.add_argument("file", help="a .csv/.tsv, .parquet, .npy or .npz file")
    parser.add_argument(
        "--x",
        required=True,
        metavar="COLS",
        help="columns of X: names or 0-based indices, comma-separated; START:STOP for a range; array names for .npz",
    )
    parser.add_argument("--y", default=None, metavar="COLS", help="columns of Y (omit to estimate the entropy of X)")
    parser.add_argument(
        "--method",
        default=None,
        metavar="SPEC",
        help="estimator spec, e.g. 'ksg[k=5]' or 'kde[bandwidth=scott]' "
        "(default: auto, which picks a method from the data and says which and why; "
        "see 'infobench estimators')",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of randomised estimators (default 0; a seed in the spec, 'ksg[seed=5]', wins)",
    )
    parser.add_argument("--no-std-err", action="store_true", help="skip the standard error")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress report of a neural estimator's training on stderr (default: live in a "
        "terminal, plain lines in a log)",
    )
    parser.set_defaults(func=run)


def load_table(path: str) -> tuple[str, Any]:
    """Read a data file: ("frame", DataFrame) for CSV/Parquet, ("npy", array) or ("npz", dict of arrays)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"data file {path!r} does not exist")
    if p.is_dir():
        raise IsADirectoryError(f"FILE must be a data file; {path!r} is a folder")
    fmt = _FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise ValueError(f"FILE must end in one of {sorted(_FORMATS)}; got {p.name!r}")
    try:
        if fmt == "csv":
            loaded = "frame", pd.read_csv(p, sep="\t" if p.suffix.lower() == ".tsv" else ",")
        elif fmt == "parquet":
            require_pyarrow()
            loaded = "frame", pd.read_parquet(p)
        elif fmt == "npy":
            loaded = "npy", np.load(p, allow_pickle=False)
        else:
            with np.load(p, allow_pickle=False) as z:
                loaded = "npz", {k: z[k] for k in z.files}
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    except (ValueError, OSError, EOFError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"cannot read {path!r} as {fmt}: {str(exc).splitlines()[0] if str(exc) else exc!r}") from None
    except Exception as exc:  # pyarrow raises its own types for corrupt files
        raise ValueError(f"cannot read {path!r} as {fmt}: {type(exc).__name__}: {exc}") from None
    kind, data = loaded
    if kind == "frame" and data.empty:
        # Read as a frame of text columns, it would be refused later for its dtype, which says nothing.
        raise ValueError(f"data file {path!r} has no rows (only a header of {len(data.columns)} columns)")
    return loaded


def _indices(token: str, width: int, option: str) -> list[int]:
    m = _RANGE.match(token)
    idx = list(range(int(m.group(1)), int(m.group(2)))) if m else [int(token)] if token.isdigit() else None
    if idx is None:
        raise ValueError(f"{option}: {token!r} is not a column index or START:STOP range")
    if not idx or max(idx) >= width:
        raise ValueError(f"{option}: column {token!r} is out of range; the data has {width} columns (0-{width - 1})")
    return idx


def select(kind: str, data: Any, cols: str, option: str) -> Any:
    """The columns ``cols`` (see the module docstring) of the loaded data."""
    tokens = [t.strip() for t in cols.split(",")]
    if not cols.strip() or any(not t for t in tokens):
        raise ValueError(f"{option} must list columns separated by commas; got {cols!r}")
    if kind == "frame":
        names: list[Any] = []
        columns = [str(c) for c in data.columns]
        for t in tokens:
            if t in columns:
                names.append(data.columns[columns.index(t)])
            elif t.isdigit() or _RANGE.match(t):
                names.extend(data.columns[i] for i in _indices(t, len(columns), option))
            else:
                shown = columns[:20] + (["..."] if len(columns) > 20 else [])
                raise ValueError(f"{option}: no column {t!r}; columns are {shown}")
        return data[names]
    if kind == "npz":
        parts = []
        for t in tokens:
            if t not in data:
                raise ValueError(f"{option}: no array {t!r} in the .npz file; arrays are {sorted(data)}")
            a = data[t]
            parts.append(a.reshape(len(a), -1) if a.ndim >= 1 else a)
        lengths = {len(p) for p in parts}
        if len(lengths) > 1:
            raise ValueError(f"{option}: arrays {tokens} have different lengths {sorted(lengths)}")
        return np.concatenate(parts, axis=1)
    arr = data.reshape(-1, 1) if data.ndim == 1 else data
    if arr.ndim != 2:
        raise ValueError(f"a .npy file must hold a 1-D or 2-D array; got shape {data.shape}")
    idx = [i for t in tokens for i in _indices(t, arr.shape[1], option)]
    return arr[:, idx]


def run(args: argparse.Namespace) -> int:
    quantity = "mi" if args.y is not None else "entropy"
    # One estimate, no grid: a seed in the spec is the seed (it overrides --seed).
    spec = EstimatorSpec.parse(args.method or "auto", reserved=())
    info = get_method(quantity, spec.method)  # unknown names fail here, before the file is read
    params = spec.kwargs
    unknown = sorted(set(params) - set(info.params))
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r} for {spec.method}; it takes {sorted(info.params)}")
    if "seed" in info.params and "seed" not in params:
        params["seed"] = args.seed
    if "std_err" in info.params and "std_err" not in params:
        params["std_err"] = not args.no_std_err
    quiet = getattr(args, "json", False) or getattr(args, "no_progress", False)
    if "progress" in info.params and "progress" not in params and not quiet:
        params["progress"] = True  # neural estimators: progress of their training on stderr
    kind, data = load_table(args.file)
    x = select(kind, data, args.x, "--x")
    with warnings.catch_warnings():
        # Each diagnostic is printed below (in the table, or in the JSON), not as a Python warning.
        warnings.simplefilter("ignore", DiagnosticWarning)
        if quantity == "mi":
            y = select(kind, data, args.y, "--y")
            est = infobench.mutual_information(x, y, spec.method, **params)
        else:
            est = infobench.entropy(x, spec.method, **params)
    dims = [int(x.shape[1])] + ([int(y.shape[1])] if quantity == "mi" else [])
    record = {
        "file": args.file,
        "quantity": quantity,
        "estimator": str(spec),
        "x": args.x,
        "y": args.y,
        "n": est.n,
        "dims": dims,
        "value": est.value,
        "std_err": est.std_err,
        "bits": est.bits,
        "interval95": list(est.interval(0.95)) if est.std_err is not None and math.isfinite(est.std_err) else None,
        "seconds": est.seconds,
        "params": {k: v for k, v in est.params.items() if isinstance(v, (int, float, str, bool, type(None)))},
    }
    if "chosen" in est.extras:  # method="auto": what it ran, and why
        record["chosen"] = est.extras["chosen"]
        record["reason"] = est.extras["reason"]
    record["diagnostics"] = [d.to_dict() for d in est.diagnostics]
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    make_console().print(estimate_table(record))
    return 0
