"""The HTML report in a real browser: headless Chromium renders it (issue 11 item 9).

The parser-level checks elsewhere cannot see a page that a browser shows
blank or with broken images. Here Chromium (Debian package ``chromium``,
installed by ``.ci/run`` when missing) takes a screenshot of a small report,
written from a hand-built results frame, and dumps its DOM after loading:
the screenshot must not be blank and the DOM must hold every table and every
image of the report, each image decoded by the browser (non-zero natural
width). Without Chromium the test is skipped, with the reason.
"""

from __future__ import annotations

import html.parser
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from infobench.report import report_tables, summarize, write_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="headless Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)",
)

# Appended to a copy of the page: after loading, each image records the width the browser decoded.
PROBE = ("<script>window.addEventListener('load', () => { for (const im of document.images) "
         "im.setAttribute('data-natural-width', im.naturalWidth); });</script>")


def _results() -> pd.DataFrame:
    """Two estimators, two tasks (one MI, one entropy), two sizes, two seeds; one failed cell."""
    rows = []
    for quantity, task, truth in (("mi", "gauss-mi", 0.5), ("entropy", "gauss-h", 1.4)):
        for estimator, bias in (("ksg", 0.02), ("gaussian", -0.05)):
            for n in (100, 400):
                for seed in (0, 1):
                    est = truth + bias + 0.01 * (seed - 0.5) * 100 / n
                    rows.append({"estimator": estimator, "task_id": task, "quantity": quantity, "n": n,
                                 "seed": seed, "truth": truth, "estimate": est, "ok": True, "std_err": 0.03,
                                 "seconds": 0.01 * n / 100})
    rows[-1].update(ok=False, estimate=float("nan"))
    return pd.DataFrame(rows)


class _Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables = 0
        self.images: list[dict[str, str]] = []
        self.h3: list[str] = []
        self._in_h3 = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables += 1
        elif tag == "img":
            self.images.append(dict(attrs))
        self._in_h3 = tag == "h3"

    def handle_endtag(self, tag):
        if tag == "h3":
            self._in_h3 = False

    def handle_data(self, data):
        if self._in_h3:
            self.h3.append(data)


def _chromium(args: list[str], profile) -> subprocess.CompletedProcess:
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--user-data-dir={profile}", "--virtual-time-budget=5000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_report_html_renders_in_headless_chromium(tmp_path):
    results = _results()
    write_report(results, tmp_path / "rep", formats="html")
    page = tmp_path / "rep" / "report.html"
    tables = report_tables(summarize(results))
    n_images = 1 + results["task_id"].nunique()  # the heatmap, one estimate-vs-n plot per task

    shot = tmp_path / "shot.png"
    run = _chromium([f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri()], tmp_path / "profile")
    assert shot.is_file(), run.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    # A blank page is one colour: variance 0. Text, tables and plots give a large spread; 100 (std 10 grey
    # levels) is far above the JPEG-free PNG noise of a blank page (exactly 0) and far below a real page.
    assert pixels.var() > 100, f"screenshot looks blank (grey-level variance {pixels.var():.1f})"
    assert (pixels < 128).mean() > 0.005  # dark pixels: text and plot lines were drawn

    probed = tmp_path / "rep" / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    run = _chromium(["--dump-dom", probed.as_uri()], tmp_path / "profile")
    assert run.returncode == 0 and "<table" in run.stdout, run.stderr[-2000:]
    dom = _Dom()
    dom.feed(run.stdout)
    assert dom.tables == len(tables)
    assert [t.strip() for t in dom.h3] == [t.title for t in tables]
    assert len(dom.images) == n_images
    for im in dom.images:
        assert im["src"].startswith("data:image/png;base64,")
        assert int(im.get("data-natural-width", 0)) > 100, f"image {im.get('alt')!r} was not decoded"
