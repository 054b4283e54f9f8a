"""The diagnostics mechanism: structured doubts on an Estimate, emitted once as a package warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import infobench
from infobench import Diagnostic, DiagnosticWarning, Estimate, InfobenchWarning
from infobench.diagnostics import as_diagnostics, doubtful, emit, merge, summary
from infobench.estimators import base
from infobench.estimators.base import register, run_method


def test_diagnostic_round_trips_through_dict():
    d = Diagnostic("ties", "12 % of x[0] tied", subject="x[0]")
    assert Diagnostic.from_dict(d.to_dict()) == d
    assert str(d) == "[ties] (x[0]) 12 % of x[0] tied"


def test_diagnostic_refuses_unknown_severity_and_empty_code():
    with pytest.raises(ValueError, match="severity must be one of"):
        Diagnostic("ties", "m", severity="fatal")
    with pytest.raises(ValueError, match="code must be a non-empty string"):
        Diagnostic("", "m")


def test_merge_summary_and_doubtful():
    a = Diagnostic("ties", "m", subject="x[0]")
    b = Diagnostic("routed", "auto chose histogram", severity="info")
    merged = merge([a], [a.to_dict(), b], None)
    assert merged == (a, b)
    assert doubtful(merged) and not doubtful([b])
    assert summary(merged) == "ties(x[0])"
    assert summary(merged, severity=None) == "ties(x[0]); routed"
    assert summary(()) == ""
    assert as_diagnostics(None) == ()


def test_estimate_carries_diagnostics():
    est = Estimate(1.0, diagnostics=[{"code": "ties", "message": "m", "subject": "x[0]"}])
    assert isinstance(est.diagnostics, tuple) and isinstance(est.diagnostics[0], Diagnostic)
    assert est.doubtful
    assert "doubts: ties(x[0])" in repr(est)
    assert est.to_dict()["diagnostics"] == [{"code": "ties", "severity": "warning", "subject": "x[0]", "message": "m"}]
    assert not Estimate(1.0).doubtful and "doubts" not in repr(Estimate(1.0))


def test_emit_warns_once_per_doubt_and_is_filterable():
    ds = [Diagnostic("ties", "m"), Diagnostic("routed", "r", severity="info")]
    with pytest.warns(DiagnosticWarning) as record:
        emit(ds)
    assert len(record) == 1 and record[0].message.diagnostic.code == "ties"
    assert issubclass(DiagnosticWarning, InfobenchWarning) and issubclass(InfobenchWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InfobenchWarning)
        with pytest.raises(DiagnosticWarning, match=r"\[ties\]"):
            emit(ds)


@pytest.fixture
def doubtful_kernels():
    """An entropy kernel that returns a diagnostic, and one that calls it through the registry."""

    @register("entropy", "_doubtful_test", replace=True)
    def _doubtful(x, *, flag: bool = True):
        """Test kernel."""
        ds = (Diagnostic("test-doubt", "doubt", subject="x"),) if flag else ()
        return Estimate(0.5, n=len(x), diagnostics=ds)

    @register("entropy", "_wrapper_test", replace=True)
    def _wrapper(x, *, flag: bool = True):
        """Test kernel calling another through the registry (as auto does)."""
        inner = run_method("entropy", "_doubtful_test", (x,), {"flag": flag})
        return Estimate(inner.value, n=inner.n, diagnostics=inner.diagnostics)

    yield
    for name in ("_doubtful_test", "_wrapper_test"):
        base._REGISTRY.pop(("entropy", name), None)


def test_public_call_warns_once_even_through_a_nested_method(doubtful_kernels):
    x = np.zeros(10)
    with pytest.warns(DiagnosticWarning) as record:
        est = infobench.entropy(x, method="_wrapper_test")
    assert len(record) == 1
    assert record[0].filename == __file__  # points at the caller's line
    assert [d.code for d in est.diagnostics] == ["test-doubt"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not infobench.entropy(x, method="_wrapper_test", flag=False).diagnostics


def test_auto_carries_the_chosen_methods_diagnostics(monkeypatch):
    from infobench.estimators import auto

    doubt = Diagnostic("test-doubt", "doubt")

    def fake_run(quantity, method, data, params):
        return Estimate(1.0, n=5, method=method, diagnostics=(doubt,))

    monkeypatch.setattr(auto, "run_method", fake_run)
    rng = np.random.default_rng(0)
    est = auto.auto_entropy(rng.normal(size=(200, 1)))
    assert est.diagnostics == (doubt,)
