"""The README front page and the documentation agree with the code.

The README lists every diagnostic code the estimators declare, its test command is
the one ``.ci/run`` runs, and its links point at files of the checkout. When the
documentation has been built (``.ci/run`` builds it into ``docs/_build/html``), every
public function and class of every public package has its page in the API reference.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
from pathlib import Path

import pytest

import infobench
import infobench.estimators  # registers every method and its conditions
import infobench.quality  # registers every quality score and its conditions
from infobench.estimators.conditions import CONDITIONS

ROOT = Path(infobench.__file__).resolve().parents[1]  # the checkout whose code is under test
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS_HTML = Path(os.environ.get("INFOBENCH_DOCS_HTML", ROOT / "docs" / "_build" / "html"))


def _section(title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert m, f"README.md has no '## {title}' section"
    return m.group(1)


def test_readme_lists_every_diagnostic_code_once():
    listed = re.findall(r"^\| `([a-z-]+)` \|", _section("Bad input"), re.M)
    assert sorted(listed) == sorted(CONDITIONS)
    assert len(listed) == len(set(listed))


def test_readme_test_command_is_the_one_ci_runs():
    blocks = re.findall(r"```bash\n(.*?)\n```", _section("The two commands"), re.S)
    assert len(blocks) == 2, "the two commands: install and run the main job; install and run the tests"
    assert blocks[0].startswith("pip install torch==2.13.0 && pip install -e . && infobench run")
    readme_tests = blocks[1].removeprefix("pip install torch==2.13.0 && ")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    # .ci/run installs torch==2.13.0 on a line of its own and calls the interpreter explicitly
    ci_tests = [ln for ln in ci.splitlines() if '".[test,' in ln]
    assert len(ci_tests) == 1
    normalised = ci_tests[0].strip().replace("python3 -m pip ", "pip ").replace("python3 ", "python ")
    assert normalised == readme_tests
    assert "python3 -m pip install torch==2.13.0" in ci


def test_readme_links_point_into_the_checkout():
    links = re.findall(r"\]\(([^)#]+)\)", README)
    local = [ln for ln in links if "://" not in ln]
    assert local, "the README links into the documentation"
    missing = [ln for ln in local if not (ROOT / ln).exists()]
    assert not missing, f"README links to missing files: {missing}"


def _public_objects() -> dict[str, set[str]]:
    """Every function and class in the ``__all__`` of infobench and its public packages."""
    found: dict[str, set[str]] = {}
    for init in sorted((ROOT / "infobench").rglob("__init__.py")):
        parts = init.relative_to(ROOT).parent.parts
        if any(p.startswith("_") for p in parts):
            continue
        module = importlib.import_module(".".join(parts))
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj) or callable(obj):
                found.setdefault(f"{obj.__module__}.{obj.__qualname__}", set()).add(f"{module.__name__}.{name}")
    return found


@pytest.mark.skipif(
    not (DOCS_HTML / "index.html").is_file(),
    reason=f"the documentation is not built in {DOCS_HTML} (.ci/run builds it: "
    "python3 -m sphinx -W -b html docs docs/_build/html)",
)
def test_api_reference_has_a_page_for_every_public_object():
    pages = {p.stem for p in (DOCS_HTML / "api" / "generated").glob("*.html")}
    objects = _public_objects()
    assert len(objects) > 150
    missing = sorted(min(names) for names in objects.values() if not names & pages)
    assert not missing, f"public objects without an API page: {missing}"


def test_install_page_shows_the_readme_commands():
    readme = re.findall(r"```bash\n(.*?)\n```", _section("The two commands"), re.S)
    page = (ROOT / "docs" / "getting-started" / "install.md").read_text(encoding="utf-8")
    assert re.findall(r"```bash\n(.*?)\n```", page, re.S)[:2] == readme
