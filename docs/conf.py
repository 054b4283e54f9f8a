"""Sphinx configuration of the infobench documentation (built offline, warnings as errors)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The gallery and the API pages import infobench; pin torch to one thread as the tests do,
# so that a build on a shared machine neither oversubscribes it nor depends on its core count.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import importlib  # noqa: E402
import inspect  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402

import infobench  # noqa: E402

project = "infobench"
author = "infobench developers"
copyright = "infobench developers"
release = version = infobench.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
# docs/changes/ holds the CHANGELOG fragments of branches not merged yet; they are merged into
# CHANGELOG.md (rendered by changelog.md), never built as pages of their own.
exclude_patterns = ["_build", "examples", "changes", "**.ipynb_checkpoints"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# The API reference: one page per public module, listing every function and class of its
# ``__all__`` (each object documented once, under the first module below that exports it),
# written at every build so that a name added to an ``__all__`` appears without editing a page.
API_MODULES = [
    ("infobench", "Estimating entropy, mutual information and KL divergence"),
    ("infobench.diagnostics", "Diagnostics and warnings"),
    ("infobench.estimators", "Estimator registry"),
    ("infobench.estimators.knn", "kNN estimators: Kozachenko-Leonenko, KSG, Wang-Kulkarni-Verdu"),
    ("infobench.estimators.histogram", "Histogram estimators"),
    ("infobench.estimators.kde", "Kernel density estimators"),
    ("infobench.estimators.gaussian", "Gaussian estimators"),
    ("infobench.estimators.gaussian_copula", "Gaussian-copula MI"),
    ("infobench.estimators.latent", "Latent-space MI"),
    ("infobench.estimators.auto", "Automatic choice"),
    ("infobench.estimators.neural", "Neural MI estimators"),
    ("infobench.estimators.terms", "kNN per-point terms"),
    ("infobench.tasks", "Tasks with known ground truth"),
    ("infobench.bench", "Benchmark grids and the results store"),
    ("infobench.report", "Tables, plots and reports"),
    ("infobench.data", "Datasets and image inputs"),
    ("infobench.generators", "Reference generators"),
    ("infobench.quality", "Sample-quality scores"),
    ("infobench.quality.features", "Feature extractors"),
    ("infobench.quality.bootstrap", "Intervals of the quality scores"),
    ("infobench.quality.validity", "Validity suite and interval calibration"),
    ("infobench.mainjob", "The main job (infobench run)"),
]
API_DIR = Path(__file__).resolve().parent / "api"


def api_objects() -> dict[str, list[str]]:
    """Module -> the public functions and classes it documents (first exporter wins)."""
    seen: set[int] = set()
    pages: dict[str, list[str]] = {}
    for modname, _ in API_MODULES:
        module = importlib.import_module(modname)
        names = []
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or callable(obj)) or id(obj) in seen:
                continue
            seen.add(id(obj))
            names.append(name)
        pages[modname] = names
    return pages


def write_api_pages() -> None:
    """Write docs/api/<module>.rst for every module of API_MODULES (only when changed)."""
    objects = api_objects()
    for modname, title in API_MODULES:
        lines = [
            f"``{modname}``: {title}",
            "=" * (len(modname) + len(title) + 6),
            "",
            f".. automodule:: {modname}",
            "   :no-members:",
            "",
            f".. currentmodule:: {modname}",
            "",
        ]
        if objects[modname]:
            lines += [".. autosummary::", "   :toctree: generated", ""]
            lines += [f"   {name}" for name in objects[modname]]
            lines.append("")
        path = API_DIR / f"{modname}.rst"
        text = "\n".join(lines)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


write_api_pages()

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_validation_checks: set[str] = set()
# A module docstring defines its citations once (``.. [MINE] ...``), often without citing them
# itself, and the docstrings of its functions cite them (``[MINE]_``). numpydoc gives each
# docstring's citations labels of their own, so such a reference has no target on its page:
# it is rendered as plain text "[MINE]" (the reference list is on the module's page), and an
# unreferenced definition is not a warning.
suppress_warnings = ["ref.citation"]


class _CatchAllGlobFilter(logging.Filter):
    """Drop the warning of a catch-all ``*`` glob that matches no page.

    The section indexes (getting-started/, guide/, validation/) list their pages in reading
    order, then ``*`` for any other page put in the folder; that glob matches nothing until
    such a page exists, which is not an error (Sphinx gives the warning no type, so
    ``suppress_warnings`` cannot name it). Every other glob still warns.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("toctree glob pattern '*' didn't match")


logging.getLogger("sphinx.sphinx.directives.other").addFilter(_CatchAllGlobFilter())
_CITE = re.compile(r"\[([A-Za-z][\w-]*)\]_")


def _plain_foreign_citations(app, what, name, obj, options, lines):
    """Turn ``[X]_`` into plain ``[X]`` where the docstring does not define ``.. [X]``."""
    defined = {m.group(1) for line in lines for m in re.finditer(r"^\s*\.\. \[([\w-]+)\]", line)}
    for i, line in enumerate(lines):
        lines[i] = _CITE.sub(lambda m: m.group(0) if m.group(1) in defined else f"[{m.group(1)}]", line)


def setup(app):
    # before numpydoc (priority 500), which relabels the citations it finds
    app.connect("autodoc-process-docstring", _plain_foreign_citations, priority=100)


sphinx_gallery_conf = {
    "examples_dirs": ["examples"],
    "gallery_dirs": ["gallery"],
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "reset_modules": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
}

html_theme = "pydata_sphinx_theme"
html_title = "infobench"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_static_path: list[str] = []
html_show_sourcelink = False
