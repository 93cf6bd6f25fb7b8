"""The web page in a real headless Chromium (Debian ``chromium``, driven by Playwright
with the system executable): reloads, several viewers, and ``demo --fast --web``
followed to the simulator's truth, with the screenshot for the README (390x844, a
phone in portrait). Skips only where no browser or Playwright can be installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from imu_host.core.events import Rep, RepEvent
from imu_host.live.view import LiveState
from imu_host.live.web import WebView
from imu_host.sim import board as sim_board

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[1]
# the README's screenshot is refreshed only when asked (a test run leaves the checkout as is)
DOCS_SHOT = ROOT / "docs" / "img" / "web-view.png"
UPDATE_DOCS = os.environ.get("IMU_HOST_UPDATE_DOCS") == "1"
CHROME_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _state(left: int, right: int) -> LiveState:
    return LiveState(left=left, right=right, target=8, link_state="streaming", learning=False)


def _rep(i: int) -> Rep:
    return Rep(i + 1, "left", 0.0, 1.0, 2.0, 35.0, 1.0, 0.5, 0.5, 40.0, 40.0)


# ---------------------------------------------------------------- real browser

playwright = pytest.importorskip(
    "playwright.sync_api", reason="playwright not installed (pip install playwright)"
)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium (apt-get install chromium) to load the page in"
)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        yield b
        b.close()


def _phone(browser):
    # bypass_csp: the page forbids eval, Playwright's wait_for_function needs it
    return browser.new_page(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, bypass_csp=True
    )


@needs_chromium
@pytest.mark.slow
def test_reload_and_several_viewers_get_the_current_state(browser):
    v = WebView("127.0.0.1", 0)
    pages = []
    try:
        pages = [_phone(browser), _phone(browser)]
        for pg in pages:
            pg.goto(v.url)
        pages[0].wait_for_function("window.__imu.seen.length > 0")
        v.on_event(RepEvent(1.0, _rep(0)), _state(3, 2))
        for pg in pages:
            pg.wait_for_function("window.__imu.last && window.__imu.last.left === 3")
        pages[1].reload()
        pages[1].wait_for_function("window.__imu.last && window.__imu.last.left === 3")
        assert pages[1].inner_text("#right") == "2"
    finally:
        for pg in pages:
            pg.close()
        v.close(linger_s=1)


@needs_chromium
@pytest.mark.slow
def test_page_in_chromium_follows_demo_to_the_simulator_truth(browser, tmp_path):
    truth = sim_board.script_truth()
    proc = subprocess.Popen(
        [sys.executable, "-m", "imu_host.cli.main", "demo", "--fast", "--web", "127.0.0.1:0",
         "--no-record", "--quiet", "--target", "8", "--board", "in-process"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    page = None
    try:
        url = ""
        assert proc.stderr is not None
        for line in proc.stderr:
            m = re.search(r"web view: (http://\S+)", line)
            if m:
                url = m.group(1)
                break
        assert url.startswith("http://127.0.0.1:")
        page = _phone(browser)
        page.goto(url)
        page.wait_for_function("window.__imu.ended === true", timeout=60_000)
        seen = page.evaluate("window.__imu.seen")
        final = page.evaluate("window.__imu.last")
        want = truth["reps_per_side"]
        assert (final["left"], final["right"]) == (want["left"], want["right"])
        assert page.inner_text("#left") == str(want["left"])
        assert page.inner_text("#right") == str(want["right"])
        # the counts changed while the page watched: every step from 0 up to the truth
        totals = sorted({a + b for a, b in seen})
        assert totals == list(range(want["left"] + want["right"] + 1))
        assert all(
            x <= y for x, y in zip([a for a, _ in seen], [a for a, _ in seen][1:], strict=False)
        )
        assert "bad" in page.get_attribute("#L", "class")  # the last left rep: fast drop
        body = page.inner_text("body")  # faults in plain words, never a flag name
        assert "dropped too fast" in body and "fast_drop" not in body
        shot = DOCS_SHOT if UPDATE_DOCS else tmp_path / "web-view.png"
        page.screenshot(path=str(shot))
        out, err = proc.communicate(timeout=60)
    finally:
        if page is not None:
            page.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert shot.stat().st_size > 10_000
