"""The ``infobench`` command line: thin, it parses, calls the library, prints with rich.

Each sub-command lives in a module of :mod:`infobench.commands` that exposes
``register(subparsers)``; the module adds its parser and sets
``func=handler(args) -> int`` as the default. Errors a user can cause
(``ValueError``, ``TypeError``, every ``OSError`` (a missing file, a folder
where a file is wanted, no permission...), an output locked by another run)
are printed as one line naming the parameter or the path and exit with
status 2. A deprecated spelling (an option, a configuration key) still works
for one release and prints one ``warning:`` line naming the new spelling.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
import warnings
from typing import TextIO

from rich.console import Console
from rich.markup import escape

from infobench import __version__
from infobench._io import os_error_text
from infobench._lock import PathLockedError
from infobench.commands.errors import UsageError

# Order is the order shown in ``infobench --help``.
COMMAND_MODULES = (
    "infobench.commands.run",
    "infobench.commands.tasks",
    "infobench.commands.estimators",
    "infobench.commands.estimate",
    "infobench.commands.bench",
    "infobench.commands.report",
    "infobench.commands.train",
    "infobench.commands.sample",
    "infobench.commands.score",
    "infobench.commands.validity",
)

err_console = Console(stderr=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infobench",
        description="Measure information: entropy, mutual information and KL estimators, "
        "their benchmarks, reference generators and sample-quality scores.",
    )
    parser.add_argument("--version", action="version", version=f"infobench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.command_line = shlex.join(["infobench", *argv])  # as typed: runs and reports name it
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            _show_deprecations()
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: finished results are saved; run the same command again to resume")
        return 130
    except (UsageError, ValueError, TypeError, PathLockedError, OSError) as exc:
        text = os_error_text(exc) if isinstance(exc, OSError) else str(exc)
        err_console.print(f"[bold red]error:[/] {escape(text)}", highlight=False, soft_wrap=True)
        return 2


def _show_deprecations() -> None:
    """Inside ``warnings.catch_warnings()``: infobench's deprecation warnings print as one line on stderr.

    Python hides ``DeprecationWarning`` outside ``__main__``; a command-line user who types a renamed
    option or keeps a renamed configuration key is the one who must read it.
    """
    warnings.filterwarnings("default", category=DeprecationWarning, module="infobench")
    show = warnings.showwarning

    def one_line(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if issubclass(category, DeprecationWarning):
            err_console.print(f"[yellow]warning:[/] {escape(str(message))}", highlight=False, soft_wrap=True)
        else:
            show(message, category, filename, lineno, file, line)

    warnings.showwarning = one_line


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
