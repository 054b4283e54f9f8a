"""The HTML report in a real browser: headless Chromium renders it.

The parser-level checks elsewhere cannot see a page that a browser shows
blank or with broken images. Here Chromium (Debian package ``chromium``,
installed by ``.ci/run`` when missing) takes a screenshot of a small report,
written from a hand-built results frame, and dumps its DOM after loading:
the screenshot must not be blank and the DOM must hold every table and every
image of the report, each image decoded by the browser (non-zero natural
width). Both pages are checked: ``infobench run``'s report and the benchmark
report of ``infobench report``. Without Chromium the tests are skipped, with
the reason.
"""

from __future__ import annotations

import html.parser
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from infobench.report import rank_tests, report_tables, summarize, write_report
from infobench.report.main_report import build_main_report, write_main_report
from infobench.report.writer import calibration_of
from report_frames import bench_records, quality_frame, training_frame

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="headless Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)",
)

# Appended to a copy of the page: after loading, each image records the width the browser decoded.
PROBE = (
    "<script>window.addEventListener('load', () => { for (const im of document.images) "
    "im.setAttribute('data-natural-width', im.naturalWidth); });</script>"
)


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


def _main_page(tmp_path):
    """report.html of infobench run, with its tables and images, from hand-built frames."""
    gen = tmp_path / "gan"
    gen.mkdir()
    Image.fromarray(np.tile(np.arange(0, 256, 8, dtype=np.uint8), (32, 1))).save(gen / "samples.png")
    report = build_main_report(
        benchmark=bench_records(),
        training=training_frame(),
        generator_dirs={"gan": gen},
        quality=quality_frame(),
        validity=None,
        meta={"command": "infobench run --quick"},
    )
    write_main_report(report, tmp_path / "rep")
    return tmp_path / "rep" / "report.html", [t.title for t in report.tables], len(report.figures)


def _bench_page(tmp_path, results=None):
    """report.html of infobench report (write_report), from hand-built records."""
    results = bench_records() if results is None else results
    write_report(results, tmp_path / "rep", formats="html")
    # The heatmap, a critical-difference diagram per quantity whose rank test applies, one estimate-vs-n plot
    # per task.
    diagrams = sum(t.applicable for t in rank_tests(summarize(results)).values())
    n_images = 1 + diagrams + results["task_id"].nunique()
    tables = report_tables(summarize(results), calibrated=calibration_of(results))  # what write_report shows
    return tmp_path / "rep" / "report.html", [t.title for t in tables], n_images


def _ranked_page(tmp_path):
    """report.html of infobench report on four tasks and three estimators: the rank test applies, with its diagram."""
    rows = []
    for t, truth in enumerate((0.3, 0.8, 1.5, 2.4)):
        for e, bias in (("ksg", 0.01), ("kde", 0.2), ("histogram", -0.4)):
            for seed in (0, 1):
                rows.append(
                    {
                        "estimator": e,
                        "task_id": f"task-{t}",
                        "quantity": "mi",
                        "n": 500,
                        "seed": seed,
                        "truth": truth,
                        "estimate": truth + bias * (1 + t) + 0.01 * seed,
                        "ok": True,
                        "std_err": 0.05,
                        "seconds": 0.1,
                    }
                )
    page, titles, n_images = _bench_page(tmp_path, pd.DataFrame(rows))
    assert n_images == 1 + 1 + 4
    return page, titles, n_images


@pytest.mark.parametrize(
    "make_page",
    [_main_page, _bench_page, _ranked_page],
    ids=["infobench-run", "infobench-report", "infobench-report-ranked"],
)
def test_report_html_renders_in_headless_chromium(tmp_path, make_page):
    page, titles, n_images = make_page(tmp_path)

    shot = tmp_path / "shot.png"
    run = _chromium([f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri()], tmp_path / "profile")
    assert shot.is_file(), run.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    # A blank page is one colour: variance exactly 0 in a PNG screenshot. Text, tables and plots give a
    # variance in the thousands; 100 (a spread of 10 grey levels) separates the two with room to spare.
    assert pixels.var() > 100, f"screenshot looks blank (grey-level variance {pixels.var():.1f})"
    assert (pixels < 128).mean() > 0.005  # dark pixels: text and plot lines were drawn

    probed = page.with_name("probed.html")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    run = _chromium(["--dump-dom", probed.as_uri()], tmp_path / "profile")
    assert run.returncode == 0 and "<table" in run.stdout, run.stderr[-2000:]
    dom = _Dom()
    dom.feed(run.stdout)
    assert dom.tables == len(titles)
    assert [t.strip() for t in dom.h3] == titles
    assert len(dom.images) == n_images
    for im in dom.images:
        assert im["src"].startswith("data:image/png;base64,")
        assert int(im.get("data-natural-width", 0)) > 0, f"image {im.get('alt')!r} was not decoded"
