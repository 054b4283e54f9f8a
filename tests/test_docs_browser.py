"""The built documentation in a real browser: headless Chromium renders its pages.

``.ci/run`` builds the documentation into ``docs/_build/html`` (warnings as errors, the
gallery executed) before the tests; here Chromium loads the built pages as a reader
would. The front page must not render blank, the API reference must list the estimator
modules and their functions, and the gallery must show the figures its examples drew,
each decoded by the browser (non-zero natural width). Without Chromium or without a
built documentation the tests are skipped, with the reason.
"""

from __future__ import annotations

import html.parser
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import infobench

ROOT = Path(infobench.__file__).resolve().parents[1]
DOCS_HTML = Path(os.environ.get("INFOBENCH_DOCS_HTML", ROOT / "docs" / "_build" / "html"))
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
pytestmark = [
    pytest.mark.skipif(
        BROWSER is None,
        reason="headless Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)",
    ),
    pytest.mark.skipif(
        not (DOCS_HTML / "index.html").is_file(),
        reason=f"the documentation is not built in {DOCS_HTML} (.ci/run builds it: "
        "python3 -m sphinx -W -b html docs docs/_build/html)",
    ),
]

# Added to a copy of a page: relative links resolve into the built site, and after loading each
# image records the width the browser decoded.
PROBE = (
    "<script>window.addEventListener('load', () => { for (const im of document.images) "
    "im.setAttribute('data-natural-width', im.naturalWidth); });</script>"
)


class _Dom(html.parser.HTMLParser):
    """Text of the main article, its links and its images."""

    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.links: list[str] = []
        self.images: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "img":
            self.images.append(attrs)

    def handle_data(self, data):
        self.text.append(data)


def _chromium(args: list[str], profile) -> subprocess.CompletedProcess:
    cmd = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _render(page: str, tmp_path) -> _Dom:
    """The DOM of a built page after Chromium loaded it (scripts run, images decoded)."""
    source = DOCS_HTML / page
    assert source.is_file(), f"{page} is missing from the built documentation"
    text = source.read_text(encoding="utf-8")
    text = text.replace("<head>", f'<head><base href="{source.parent.as_uri()}/">', 1)
    probed = tmp_path / "probed.html"
    probed.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    run = _chromium(["--dump-dom", probed.as_uri()], tmp_path / "profile")
    assert run.returncode == 0 and "<body" in run.stdout, run.stderr[-2000:]
    dom = _Dom()
    dom.feed(run.stdout)
    return dom


def test_front_page_renders_with_content(tmp_path):
    shot = tmp_path / "shot.png"
    run = _chromium(
        [f"--screenshot={shot}", "--window-size=1280,1600", (DOCS_HTML / "index.html").as_uri()], tmp_path / "profile"
    )
    assert shot.is_file(), run.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    # a blank page has grey-level variance 0; a page of text and navigation has thousands
    assert pixels.var() > 100, f"screenshot looks blank (grey-level variance {pixels.var():.1f})"
    dom = _render("index.html", tmp_path)
    text = " ".join(dom.text)
    for section in ("Getting started", "User guide", "Validation", "API reference"):
        assert section in text


def test_api_reference_lists_the_estimators(tmp_path):
    dom = _render("api/index.html", tmp_path)
    for module in ("knn", "histogram", "kde", "gaussian", "gaussian_copula", "latent", "auto", "neural"):
        assert any(link.endswith(f"infobench.estimators.{module}.html") for link in dom.links), module
    dom = _render("api/infobench.estimators.knn.html", tmp_path)
    text = " ".join(dom.text)
    for name in ("knn_entropy", "ksg_mutual_information", "knn_kl_divergence"):
        assert name in text
    dom = _render("api/infobench.estimators.neural.html", tmp_path)
    text = " ".join(dom.text)
    for name in ("mine", "nwj", "infonce", "smile", "NeuralConfig"):
        assert name in text
    dom = _render("api/generated/infobench.mutual_information.html", tmp_path)
    assert "Estimate the mutual information" in " ".join(dom.text)


def test_gallery_shows_its_figures(tmp_path):
    dom = _render("gallery/index.html", tmp_path)
    thumbs = [im for im in dom.images if "sphx_glr_" in im.get("src", "")]
    assert len(thumbs) >= 4, [im.get("src") for im in dom.images]
    for im in thumbs:
        assert int(im.get("data-natural-width", 0)) > 0, f"thumbnail {im.get('src')!r} was not decoded"
    dom = _render("gallery/plot_mi_ground_truth.html", tmp_path)
    figures = [im for im in dom.images if "_images/sphx_glr_plot_mi_ground_truth_001" in im.get("src", "")]
    assert figures, [im.get("src") for im in dom.images]
    assert int(figures[0].get("data-natural-width", 0)) > 100, "the example's figure was not decoded"
    assert "truth" in " ".join(dom.text)  # the example's printed output and caption
