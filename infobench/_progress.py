"""Progress reports that fit where they land, and the consoles of the command line.

One context manager, :func:`progress`, serves every long loop of the package
(benchmark cells, generator and classifier training, neural critics, feature
extraction, bootstrap replicates). What it shows depends on where the output
goes (:func:`output_mode`):

``"live"``
    A terminal (and not ``TERM=dumb``): a rich progress bar redrawn in place
    on stderr, cleared when the loop ends and replaced by one summary line.
``"lines"``
    A pipe, a file or a CI log: no redraws and no control characters. One line
    every :data:`LOG_INTERVAL` seconds with the counts and the elapsed time,
    and one line when the loop ends; each line is wrapped between its fields,
    so a figure is never cut.
``"notebook"``
    A Jupyter kernel: one output line of the cell (an HTML ``<progress>``
    element with a plain-text twin) updated in place through IPython's
    display handles; no widget library is needed and no escape codes reach
    the text output.

Nothing is drawn and nothing is imported when the bar is disabled (the library
default). Colours follow rich, which honours ``NO_COLOR``, ``FORCE_COLOR`` and
``TTY_COMPATIBLE``; the plain lines carry no colour at all.

This module imports no other infobench module, so that every package may use it.
"""

from __future__ import annotations

import contextlib
import html
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

__all__ = [
    "LOG_INTERVAL",
    "LOG_WIDTH",
    "REPEATED_LOOP_SECONDS",
    "Advance",
    "format_elapsed",
    "make_console",
    "output_mode",
    "output_width",
    "progress",
    "wrap_fields",
]

#: Seconds between two progress lines in a log (``"lines"`` mode).
LOG_INTERVAL = 10.0
#: Width of the text written where no terminal says how wide it is (a pipe, a file, a CI log) and ``COLUMNS``
#: is unset: wide enough for the tables of ``infobench run`` without folding.
LOG_WIDTH = 120
#: ``min_seconds`` of loops run once per item of a larger job (features and bootstrap of each generated set):
#: shorter ones leave no summary line, so that a log keeps one line per step that took time.
REPEATED_LOOP_SECONDS = 2.0
#: Seconds between two redraws of a notebook's progress line.
_NOTEBOOK_REFRESH = 0.25

Advance = Callable[..., None]


# ------------------------------------------------------------------ where output lands
def _in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (the shells rich and IPython call notebooks)."""
    ipython = sys.modules.get("IPython")  # never imported here: loaded only if the user runs IPython
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    if shell is None:
        return False
    name = type(shell).__name__
    return name == "ZMQInteractiveShell" or "google.colab" in str(type(shell))


def _console(stream: IO[str] | None = None, *, stderr: bool = True, width: int | None = None):
    from rich.console import Console  # deferred: a disabled report imports nothing

    if stream is not None:
        return Console(file=stream, width=width)
    return Console(stderr=stderr, width=width)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def output_mode(stream: IO[str] | None = None) -> str:
    """``"notebook"``, ``"live"`` or ``"lines"``: how progress is shown on ``stream`` (default stderr).

    A Jupyter kernel is ``"notebook"``; a stream that rich treats as an
    interactive terminal (a TTY, not ``TERM=dumb``, or forced with
    ``FORCE_COLOR`` / ``TTY_COMPATIBLE=1``) is ``"live"``; anything else
    (a pipe, a file, a CI log) is ``"lines"``.
    """
    if _in_notebook():
        return "notebook"
    return "live" if _console(stream).is_interactive else "lines"


def output_width(stream: IO[str] | None = None) -> int:
    """Columns available on ``stream`` (default stdout).

    ``COLUMNS`` when set; the terminal's width when ``stream`` is one;
    otherwise :data:`LOG_WIDTH` (a log has no window to fit, so tables keep
    their full width up to that).
    """
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = sys.stdout if stream is None else stream
    if _isatty(stream):
        try:
            return os.get_terminal_size(stream.fileno()).columns or 80
        except (AttributeError, ValueError, OSError):
            pass
    return LOG_WIDTH


def make_console(*, stderr: bool = False):
    """The rich console of a command's output, as wide as :func:`output_width` says.

    In a notebook rich draws its own HTML (and picks its width); colours
    follow ``NO_COLOR`` / ``FORCE_COLOR`` as rich reads them.
    """
    if _in_notebook():
        return _console(stderr=stderr)
    return _console(stderr=stderr, width=output_width(sys.stderr if stderr else sys.stdout))


# ------------------------------------------------------------------ text of one report
def format_elapsed(seconds: float) -> str:
    """``"4.2 s"`` below a minute, else ``"m:ss"`` or ``"h:mm:ss"``."""
    if not math.isfinite(seconds):
        return "?"
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _count_text(done: int, total: int | None, unit: str) -> str:
    text = f"{done}/{total}" if total is not None else f"{done}"
    return f"{text} {unit}" if unit else text


def _status_parts(status: str) -> list[str]:
    """Fields of a status text (separated by ``", "`` or two spaces), each kept whole when a line wraps."""
    return [p for p in re.split(r",\s+|\s{2,}", status.strip()) if p]


def wrap_fields(parts: list[str], width: int, *, indent: str = "    ") -> list[str]:
    """Join ``parts`` with ``", "`` into lines of at most ``width`` characters, breaking only between parts.

    A part longer than the width stays whole on its own line: figures are never cut.
    """
    lines: list[str] = []
    line = ""
    for part in parts:
        if not line:
            line = (indent if lines else "") + part
        elif len(line) + 2 + len(part) <= width:
            line += ", " + part
        else:
            lines.append(line + ",")
            line = indent + part
    if line:
        lines.append(line)
    return lines


class _State:
    """Counts, description and status of one loop, and the text reporting them."""

    def __init__(
        self,
        total: int | None,
        description: str,
        unit: str,
        value_name: str,
        completed: int,
        time_left: Callable[[], float | None] | None,
        clock: Callable[[], float],
    ):
        self.total = total
        self.description = description
        self.unit = unit
        self.value_name = value_name
        self.status = ""
        self.completed = int(completed)
        self.done = self.completed
        self.time_left = time_left or self._linear_time_left
        self.clock = clock
        self.start = clock()
        self.first: tuple[float, int] | None = None  # (time, steps done) at the first step reported

    def update(self, steps: int, value: Any, description: str | None) -> None:
        self.done += int(steps)
        if self.first is None and steps:
            self.first = (self.clock(), self.done)
        if description is not None:
            self.description = description
        if value is not None:
            self.status = self.format_value(value)

    def format_value(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        v = float(value)
        return f"{self.value_name} {v:.3f}" if self.value_name else f"{v:.3f}"

    @property
    def elapsed(self) -> float:
        return self.clock() - self.start

    def _linear_time_left(self) -> float | None:
        """Seconds left at the mean pace of the steps since the first one reported.

        The time before the first step (set-up work) and the steps done before (``completed``) do not count.
        """
        if self.total is None or self.first is None or self.done <= self.first[1]:
            return None
        since, done = self.first
        return (self.clock() - since) / (self.done - done) * max(0, self.total - self.done)

    def left_text(self) -> str:
        """``"about 1:05 left"``, or ``""`` while unknown or when nothing is left."""
        left = self.time_left()
        return f"about {format_elapsed(left)} left" if left is not None and left > 0 else ""

    def parts(self, state: str) -> list[str]:
        """Fields of a one-line report; ``state`` is ``"running"``, ``"done"`` or ``"stopped"``."""
        count = _count_text(self.done, self.total, self.unit)
        elapsed = format_elapsed(self.elapsed)
        if state == "done":
            head = [f"{self.description}: {count}", f"done in {elapsed}"]
        elif state == "stopped":
            head = [f"{self.description}: stopped at {count} after {elapsed}"]
        else:
            pct = f" ({100 * self.done // self.total}%)" if self.total else ""  # 100% only when done
            left = self.left_text()
            head = [f"{self.description}: {count}{pct}", f"{elapsed} elapsed"] + ([left] if left else [])
        return head + _status_parts(self.status)

    def line(self, state: str, width: int) -> str:
        return "\n".join(wrap_fields(self.parts(state), width))


# ------------------------------------------------------------------ the three displays
class _Lines:
    """Plain lines on a stream: a report every ``interval`` seconds and one at the end."""

    def __init__(self, state: _State, stream: IO[str] | None, interval: float, min_seconds: float):
        self.state = state
        self.stream = stream
        self.interval = interval
        self.min_seconds = min_seconds
        self.last = state.start
        self.printed = False

    def _write(self, text: str) -> None:
        out = self.stream if self.stream is not None else sys.stderr
        # stdout first: a log that merges both streams keeps the order in which lines were made.
        if out is not sys.stdout:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
        out.write(text + "\n")
        out.flush()
        self.printed = True

    def _width(self) -> int:
        return output_width(self.stream if self.stream is not None else sys.stderr)

    def refresh(self) -> None:
        now = self.state.clock()
        finished = self.state.total is not None and self.state.done >= self.state.total  # the end line follows
        if now - self.last >= self.interval and not finished:
            self.last = now
            self._write(self.state.line("running", self._width()))

    def close(self, ok: bool) -> None:
        if self.printed or self.state.elapsed >= self.min_seconds:
            self._write(self.state.line("done" if ok else "stopped", self._width()))


class _Notebook:
    """One output line of the running cell, updated in place through an IPython display handle."""

    def __init__(self, state: _State, min_seconds: float):
        self.state = state
        self.min_seconds = min_seconds
        self.handle = None
        self.last = -math.inf

    def _bundle(self, state: str) -> dict[str, str]:
        s = self.state
        text = ", ".join(s.parts(state))
        bar = ""
        if state == "running":
            value = f' value="{s.done}"' if s.total else ""
            bar = f'<progress max="{s.total or 1}"{value} style="width:16em;vertical-align:middle"></progress> '
        return {"text/plain": text, "text/html": f'<div class="infobench-progress">{bar}{html.escape(text)}</div>'}

    def _show(self, state: str) -> None:
        from IPython.display import display  # deferred: IPython is there only in a notebook

        if self.handle is None:
            self.handle = display(self._bundle(state), raw=True, display_id=True)
        else:
            self.handle.update(self._bundle(state), raw=True)

    def refresh(self) -> None:
        now = self.state.clock()
        if now - self.last < _NOTEBOOK_REFRESH or (self.handle is None and self.state.elapsed < self.min_seconds):
            return
        self.last = now
        self._show("running")

    def close(self, ok: bool) -> None:
        if self.handle is not None or self.state.elapsed >= self.min_seconds:
            self._show("done" if ok else "stopped")


# One rich Progress is shared by the bars open at the same time (rich allows one live display per console).
_live_lock = threading.Lock()
_live: dict[str, Any] = {"progress": None, "open": 0}


class _Live:
    """A rich bar redrawn in place on a terminal; a summary line replaces it when the loop ends."""

    def __init__(self, state: _State, stream: IO[str] | None, min_seconds: float):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # deferred

        self.state = state
        self.min_seconds = min_seconds
        with _live_lock:
            if _live["progress"] is None:
                bar = Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[unit]}"),
                    TimeElapsedColumn(),
                    TextColumn("{task.fields[left]}"),
                    TextColumn("{task.fields[status]}"),
                    console=_console(stream),
                    transient=True,
                    refresh_per_second=4,
                    # Text printed to stdout meanwhile is drawn above the bar when stdout is this terminal too;
                    # stdout piped elsewhere keeps its text.
                    redirect_stdout=_isatty(sys.stdout),
                )
                bar.start()
                _live["progress"] = bar
            _live["open"] += 1
            self.bar = _live["progress"]
        self.task = self.bar.add_task(
            state.description, total=state.total, completed=state.done, unit=state.unit, left="", status=""
        )

    def refresh(self) -> None:
        s = self.state
        self.bar.update(self.task, completed=s.done, description=s.description, left=s.left_text(), status=s.status)

    def close(self, ok: bool) -> None:
        self.bar.remove_task(self.task)
        with _live_lock:
            _live["open"] -= 1
            last = _live["open"] == 0
            if last:
                _live["progress"] = None
        if self.state.elapsed >= self.min_seconds:
            console = self.bar.console
            console.print(
                self.state.line("done" if ok else "stopped", console.width),
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        if last:
            self.bar.stop()


# ------------------------------------------------------------------ the one entry point
def _nothing(steps: int = 1, value: Any = None, *, description: str | None = None) -> None:
    return None


@contextlib.contextmanager
def progress(
    enabled: bool,
    total: int | None,
    description: str,
    *,
    unit: str = "",
    value_name: str = "value",
    completed: int = 0,
    time_left: Callable[[], float | None] | None = None,
    min_seconds: float = 0.0,
    interval: float = LOG_INTERVAL,
    stream: IO[str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Advance]:
    """Report the progress of a loop of ``total`` steps; yield ``advance(steps=1, value=None, *, description=None)``.

    Parameters
    ----------
    enabled : bool
        ``False`` yields a function that does nothing (no import, no output).
    total : int or None
        Steps expected (``None``: unknown; counts are shown without a total).
    description : str
        What is running (``"training smile"``, ``"gan epoch 3/20"``).
    unit : str
        Name of one step in the reports (``"cells"``, ``"batches"``).
    value_name : str
        Label of a number passed as ``value`` (``"objective"`` shows
        ``objective 0.512``); a string ``value`` is shown as it is.
    completed : int
        Steps already done before this call (a resumed loop); counted in the
        totals, not in the pace of the time left.
    time_left : callable, optional
        Returns the seconds left (or None: unknown); default: the steps left
        at the mean pace of the steps since the first one reported.
    min_seconds : float
        A loop that ends sooner leaves no summary line (for loops run many
        times over, such as one bootstrap per generated set).
    interval : float
        Seconds between two progress lines in a log.
    stream : file, optional
        Where the reports go (default: stderr, looked up when written).
    clock : callable
        Monotonic clock in seconds (for tests).

    Yields
    ------
    advance : callable
        ``advance(steps=1, value=None, *, description=None)`` counts ``steps``
        finished steps (0 is allowed), keeps ``value`` as the status shown
        beside the counts until the next one, and renames the loop.
    """
    if not enabled:
        yield _nothing
        return
    state = _State(total, description, unit, value_name, completed, time_left, clock)
    mode = output_mode(stream)
    if mode == "notebook":
        display: Any = _Notebook(state, min_seconds)
    elif mode == "live":
        display = _Live(state, stream, min_seconds)
    else:
        display = _Lines(state, stream, interval, min_seconds)

    def advance(steps: int = 1, value: Any = None, *, description: str | None = None) -> None:
        state.update(steps, value, description)
        display.refresh()

    ok = False
    try:
        yield advance
        ok = True
    finally:
        display.close(ok)
