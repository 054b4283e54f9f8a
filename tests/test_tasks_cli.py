"""``infobench tasks``: the table, the JSON records and the one-line errors."""

import json

import pytest

from infobench import tasks
from infobench.cli import main


def test_table_for_a_suite(capsys):
    assert main(["tasks", "--suite", "staircase"]) == 0
    out = capsys.readouterr().out
    for t in tasks.suite("staircase"):
        assert t.id in out
    assert "10.000000" in out and "truth" in out and "staircase" in out


def test_json_matches_the_library(capsys):
    assert main(["tasks", "--suite", "smoke", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    expected = tasks.suite("smoke")
    assert [r["id"] for r in records] == [t.id for t in expected]
    for r, t in zip(records, expected):
        assert r["truth"] == pytest.approx(t.truth, rel=1e-15)
        assert r["truth_std_err"] == t.truth_std_err
        assert (r["kind"], r["family"], r["dim_x"], r["dim_y"]) == (t.kind, t.family, t.dim_x, t.dim_y)


def test_all_tasks_by_default(capsys):
    assert main(["tasks", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(tasks.list_tasks())


def test_unknown_suite_is_a_one_line_error(capsys):
    assert main(["tasks", "--suite", "bogus"]) == 2
    err = capsys.readouterr().err.strip()
    assert "suite must be one of ['smoke', 'mi-standard', 'entropy', 'staircase', 'kl', 'mixtures']; got 'bogus'" in err
    assert "Traceback" not in err
