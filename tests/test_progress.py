"""``infobench._progress``: one progress report for every long loop, shaped by where the output lands."""

from __future__ import annotations

import io
import re

import pytest

from infobench import _progress
from infobench._progress import format_elapsed, make_console, output_mode, output_width, progress, wrap_fields

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # escape codes, carriage returns: anything but text and newlines


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def log(monkeypatch):
    """A stream that is not a terminal, 80 columns, no notebook, no forced colours."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    return io.StringIO()


def lines_of(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_disabled_writes_nothing_and_accepts_every_call(log):
    with progress(False, 10, "quiet", stream=log) as advance:
        advance()
        advance(3, 0.5, description="renamed")
        advance(0, "status")
    assert log.getvalue() == ""


def test_a_log_gets_a_line_per_interval_and_one_at_the_end(log, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    clock = Clock()
    with progress(True, 50, "bootstrap gan", unit="replicates", interval=10, stream=log, clock=clock) as advance:
        for _ in range(50):
            clock.now += 1.0  # one step per second: a line at 10 s, 20 s, 30 s, 40 s; at 50 s only the end
            advance(1, "2 failed")
    lines = lines_of(log)
    assert lines[0] == "bootstrap gan: 10/50 replicates (20%), 10.0 s elapsed, about 40.0 s left, 2 failed"
    assert len(lines) == 5 and lines[3].startswith("bootstrap gan: 40/50 replicates (80%), 40.0 s elapsed")
    assert lines[-1] == "bootstrap gan: 50/50 replicates, done in 50.0 s, 2 failed"
    assert not CONTROL.search(log.getvalue()) and "" not in lines


def test_100_percent_only_when_done(log):
    clock = Clock()
    with progress(True, 660, "vae", interval=1, stream=log, clock=clock) as advance:
        clock.now += 1
        advance(658)
        clock.now += 1
        advance(2)
    assert [line.split(", ")[0] for line in lines_of(log)] == ["vae: 658/660 (99%)", "vae: 660/660"]


def test_a_short_loop_leaves_one_line_and_min_seconds_none(log):
    clock = Clock()
    with progress(True, 3, "features of gan", unit="batches", stream=log, clock=clock) as advance:
        advance(3)
    with progress(True, 3, "features of vae", unit="batches", min_seconds=2.0, stream=log, clock=clock) as advance:
        clock.now += 1.9
        advance(3)
    assert lines_of(log) == ["features of gan: 3/3 batches, done in 0.0 s"]


def test_an_interrupted_loop_says_where_it_stopped(log):
    clock = Clock()
    with pytest.raises(KeyboardInterrupt):
        with progress(True, 10, "grid", unit="cells", stream=log, clock=clock) as advance:
            advance(4)
            clock.now += 75
            raise KeyboardInterrupt
    assert lines_of(log) == ["grid: stopped at 4/10 cells after 1:15"]


def test_the_pace_leaves_out_set_up_time_and_resumed_steps(log):
    clock = Clock()
    with progress(
        True, 100, "gan epoch 3/5", unit="batches", completed=40, interval=5, stream=log, clock=clock
    ) as advance:
        clock.now += 30  # set-up work (data, point estimates) before the first step
        advance(10)
        clock.now += 5
        advance(10)  # 10 batches in the 5 s since the first report: the 40 left take 20 s
    assert lines_of(log) == [
        "gan epoch 3/5: 50/100 batches (50%), 30.0 s elapsed",  # no pace yet
        "gan epoch 3/5: 60/100 batches (60%), 35.0 s elapsed, about 20.0 s left",
        "gan epoch 3/5: 60/100 batches, done in 35.0 s",
    ]


def test_a_caller_time_left_and_description_and_number_values(log):
    clock = Clock()
    with progress(
        True,
        None,
        "training smile",
        value_name="objective",
        interval=1,
        time_left=lambda: 3600.0,
        stream=log,
        clock=clock,
    ) as advance:
        clock.now += 1
        advance(5, 0.51234, description="training smile (stage 2)")
    assert lines_of(log) == [
        "training smile (stage 2): 5, 1.0 s elapsed, about 1:00:00 left, objective 0.512",
        "training smile (stage 2): 5, done in 1.0 s, objective 0.512",
    ]


def test_lines_wrap_between_fields_never_inside_a_figure(log, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    clock = Clock()
    with progress(True, 440, "gan epoch 20/20", unit="batches", stream=log, clock=clock) as advance:
        clock.now += 17.3
        advance(440, "loss_d 1.088  loss_g 0.9975  balance 0.6264")
    lines = lines_of(log)
    assert lines == [
        "gan epoch 20/20: 440/440 batches,",
        "    done in 17.3 s, loss_d 1.088,",
        "    loss_g 0.9975, balance 0.6264",
    ]
    assert all(len(line) <= 40 for line in lines)


def test_wrap_fields_keeps_a_field_longer_than_the_width_whole():
    assert wrap_fields(["a-very-long-description", "1/2"], 10) == ["a-very-long-description,", "    1/2"]


@pytest.mark.parametrize(
    "seconds, text", [(0.04, "0.0 s"), (59.94, "59.9 s"), (61, "1:01"), (3725, "1:02:05"), (float("inf"), "?")]
)
def test_format_elapsed(seconds, text):
    assert format_elapsed(seconds) == text


def test_output_modes(log, monkeypatch):
    assert output_mode(log) == "lines"
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich's switch for a terminal it cannot detect
    assert output_mode(log) == "live"
    monkeypatch.setenv("TERM", "dumb")
    assert output_mode(log) == "lines"
    monkeypatch.setattr(_progress, "_in_notebook", lambda: True)
    assert output_mode(log) == "notebook"


def test_widths_follow_columns_else_a_log_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "72")
    assert output_width(io.StringIO()) == 72 and make_console().width == 72
    monkeypatch.delenv("COLUMNS")
    assert output_width(io.StringIO()) == _progress.LOG_WIDTH


def test_a_terminal_gets_a_live_bar_then_a_summary_line(log, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    clock = Clock()
    with progress(True, 4, "outer", unit="cells", stream=log, clock=clock) as outer:
        with progress(True, 2, "inner", stream=log, clock=clock) as inner:  # nested bars share one display
            inner(2)
        outer(4, "0 failed")
    assert _progress._live["progress"] is None and _progress._live["open"] == 0
    text = log.getvalue()
    assert "\x1b[" in text  # drawn in place
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "\n")
    assert "inner: 2/2, done in 0.0 s" in plain and "outer: 4/4 cells, done in 0.0 s, 0 failed" in plain


class FakeHandle:
    def __init__(self, shown: list) -> None:
        self.shown = shown

    def update(self, bundle, raw=False):
        self.shown.append(bundle)


def test_a_notebook_gets_one_output_updated_in_place(log, monkeypatch):
    pytest.importorskip("IPython")
    import IPython.display

    shown: list[dict] = []

    def display(bundle, raw=False, display_id=False):
        assert raw and display_id
        shown.append(bundle)
        return FakeHandle(shown)

    monkeypatch.setattr(_progress, "_in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", display)
    clock = Clock()
    with progress(True, 10, "grid <run>", unit="cells", stream=log, clock=clock) as advance:
        for _ in range(10):
            clock.now += 0.1
            advance(1)
    assert log.getvalue() == ""  # nothing on the stream: the cell's output holds it
    assert 2 <= len(shown) <= 7  # redrawn at most every 0.25 s, then the summary
    assert '<progress max="10" value="1"' in shown[0]["text/html"] and "grid &lt;run&gt;" in shown[0]["text/html"]
    assert shown[-1]["text/plain"] == "grid <run>: 10/10 cells, done in 1.0 s"
    assert not any(CONTROL.search(b["text/plain"]) for b in shown)


def test_the_neural_estimators_call_is_a_drop_in(log):
    """``progress(enabled, total, description)`` yielding ``advance(steps, value)``, as the neural critics call it."""
    clock = Clock()
    with progress(True, 200, "training smile", value_name="objective", stream=log, clock=clock) as advance:
        clock.now += 2
        advance(100, float("-inf"))  # before the first validation
        advance(100, 0.4137)
    assert lines_of(log) == ["training smile: 200/200, done in 2.0 s, objective 0.414"]
