"""The package layout as checks: which package imports which (CONTRIBUTING.md, "Dependencies point one way")."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import infobench
from infobench._naming import slug
from infobench.report import render

PACKAGE = Path(infobench.__file__).parent


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ``import`` and ``from ... import`` of infobench modules in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # ``from infobench.pkg import _private`` names a private module too
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.startswith("infobench.")]


def test_importing_quality_loads_neither_report_nor_bench():
    # A fresh interpreter: this process has imported everything already.
    code = (
        "import sys, infobench.quality\n"
        "print('\\n'.join(m for m in sys.modules if m.startswith(('infobench.report', 'infobench.bench'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == []


def test_no_package_imports_another_packages_private_module():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        own = parts[0] if len(parts) > 1 else None  # the sub-package this file belongs to
        for line, name in _imported_modules(path):
            pieces = name.split(".")
            # infobench.<pkg>._private...: private to <pkg>, unless the importer is inside <pkg>
            if len(pieces) >= 3 and pieces[2].startswith("_") and pieces[1] != own:
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}")
    assert offenders == []


def test_the_scan_sees_a_private_import(tmp_path):
    # the check above must be able to fail: it parses both spellings of a private import
    probe = tmp_path / "probe.py"
    probe.write_text("from infobench.quality._core import SCORES\nfrom infobench.estimators import _kdtree\n")
    assert [name for _, name in _imported_modules(probe)] == [
        "infobench.quality._core",
        "infobench.quality._core.SCORES",
        "infobench.estimators",
        "infobench.estimators._kdtree",
    ]


def test_slug_is_the_reports_slug():
    # one rule for file names: the reports re-export the shared one
    assert render.slug is slug
    assert slug("Hello, World!  v2.0") == "hello-world-v2.0"
    assert slug("***", default="data") == "data"
    assert slug("a" * 80, max_len=40) == "a" * 40
