"""Coach latency: spoken cues and the web page, against the issue's goals.

One real-time live session on the serial path (in-process simulated board on a pty ->
pyserial -> stream stage -> pipeline -> sinks), the demo's motion script at ``--speed``
(1 = real time), with

* the speech coach (espeak-ng phrases, or tones) playing into a raw-PCM player process
  (``cat > /dev/null`` stands in for the sound server: a pipe to another process, as
  ``aplay``/``paplay`` are), and
* the web view with headless Chromium (390x844) on the page, plus a plain Python SSE
  client as the baseline for the page.

Measured per event:

* cue latency: bytes that completed the event arrived (wall clock) -> the cue's first
  non-silent sample written to the player (goal <= 150 ms);
* page latency: event emitted by the pipeline -> the browser's ``onmessage`` ran
  (goal <= 100 ms); baseline: the same message read by the Python client;
* baseline for both: the pipeline's own latency (bytes arrived -> event emitted).

Prints tables (median / p95 / max, and the ratio of p95 to the goal).

    .venv/bin/python benchmarks/bench_coach.py [--speed 1] [--repeat N] [--no-browser]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from imu_host.core.events import FlagEvent, RepEvent  # noqa: E402
from imu_host.live.coach import (  # noqa: E402
    AudioOutput,
    Coach,
    CoachSettings,
    phrases_for,
    render_phrases,
)
from imu_host.live.session import LiveOptions, LiveSession  # noqa: E402
from imu_host.live.web import WebView  # noqa: E402
from imu_host.sim import board as sim_board
from imu_host.transport.serial import PtyDevicePort, SerialTransport  # noqa: E402

CUE_GOAL_MS = 150.0
PAGE_GOAL_MS = 100.0


def stats(xs: list[float]) -> tuple[float, float, float, int]:
    if not xs:
        return (float("nan"),) * 3 + (0,)  # type: ignore[return-value]
    a = np.asarray(xs)
    return float(np.median(a)), float(np.percentile(a, 95)), float(a.max()), len(a)


def row(name: str, xs: list[float], goal: float | None) -> str:
    med, p95, mx, n = stats(xs)
    ratio = f"{p95 / goal:5.2f}" if goal else "    -"
    g = f"{goal:5.0f}" if goal else "    -"
    return f"| {name:<44} | {n:3d} | {med:7.1f} | {p95:7.1f} | {mx:7.1f} | {g} | {ratio} |"


def sse_client(url: str, got: list[tuple[dict, float]], stop: threading.Event) -> None:
    with urllib.request.urlopen(url, timeout=30) as r:
        for line in r:
            if line.startswith(b"data: "):
                got.append((json.loads(line[6:]), time.time() * 1000.0))
                if got[-1][0].get("ended") or stop.is_set():
                    return


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speed", type=float, default=1.0, help="stream speed (1 = real time)")
    ap.add_argument("--repeat", type=int, default=1, help="play the motion script N times")
    ap.add_argument("--no-browser", action="store_true", help="skip Chromium")
    a = ap.parse_args()

    texts = phrases_for(8 * a.repeat, CoachSettings(), pace=False)
    t0 = time.perf_counter()
    book, engine = render_phrases(texts)
    render_s = time.perf_counter() - t0

    handed: dict[float, float] = {}  # event t_s -> wall (monotonic) of the first sample
    out = AudioOutput(["cat"], on_handed=lambda cue: handed.__setitem__(cue.t_s, cue.handed_wall))
    coach = Coach(book, target=8 * a.repeat, output=out)
    web = WebView("127.0.0.1", 0)

    arrived: dict[float, float] = {}  # event t_s -> wall (monotonic) its bytes arrived
    pipeline_ms: list[float] = []

    def on_event(ev: object, latency: float) -> None:
        if isinstance(ev, RepEvent | FlagEvent):
            arrived[ev.t_s] = time.monotonic() - latency
            pipeline_ms.append(latency * 1000.0)

    py_got: list[tuple[dict, float]] = []
    stop = threading.Event()
    th = threading.Thread(target=sse_client, args=(web.url + "events", py_got, stop), daemon=True)
    th.start()

    browser_lat: list[dict] = []
    pw = browser = page = None
    chromium = shutil.which("chromium")
    if not a.no_browser and chromium:
        from playwright.sync_api import sync_playwright

        pw = sync_playwright().start()
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 390, "height": 844}, bypass_csp=True)
        page.goto(web.url)
        page.wait_for_function("window.__imu.seen.length > 0")
    web.wait_for_viewer(10)

    tmp = tempfile.mkdtemp(prefix="bench-coach-")
    port = PtyDevicePort(os.path.join(tmp, "tty"))
    acc, gyr = sim_board.script_samples()
    acc, gyr = np.tile(acc, (a.repeat, 1)), np.tile(gyr, (a.repeat, 1))
    board = sim_board.SimulatedBoard(port, acc, gyr, speed=a.speed).start()
    s = LiveSession(
        SerialTransport(port.path),
        LiveOptions(mode="lines", record_path=None, quiet=True, duration_s=120),
        out=io.StringIO(),
        on_event=on_event,
        sinks=[coach],
    )
    s.sinks.append(web)  # closed by the session too
    s.run(board.done.is_set)
    board.stop()
    port.close()
    if page is not None:
        page.wait_for_function("window.__imu.ended === true", timeout=10_000)
        browser_lat = page.evaluate("window.__imu.latencies")
        browser.close()  # type: ignore[union-attr]
        pw.stop()  # type: ignore[union-attr]
    stop.set()
    th.join(5)

    cue_ms = [(handed[t] - arrived[t]) * 1000.0 for t in arrived if t in handed]
    # page: each event's snapshot carries sent_ms, stamped as the pipeline emitted it
    page_ms = [d["ms"] for d in browser_lat if d["kind"] == "event"]
    py_ms = [recv - m["sent_ms"] for m, recv in py_got if m.get("kind") == "event"]

    print(f"speech engine: {engine}; {len(book)} phrases rendered once in {render_s * 1000:.0f} ms")
    print(f"stream speed x{a.speed:g}, script x{a.repeat}; cues {len(coach.cues)}, dropped {out.dropped}; "
          f"web viewers {web.viewers_seen}, snapshots dropped {web.dropped_total}")  # fmt: skip
    print()
    print(
        "| latency (ms)                                 |   n |  median |     p95 |     max |  goal | p95/goal |"
    )
    print(
        "|----------------------------------------------|-----|---------|---------|---------|-------|----------|"
    )
    print(row("baseline: bytes arrived -> event emitted", pipeline_ms, None))
    print(row("cue: bytes arrived -> first sound sample out", cue_ms, CUE_GOAL_MS))
    print(row("baseline: event -> Python SSE client", py_ms, None))
    if page is not None:
        print(row("page: event -> Chromium onmessage", page_ms, PAGE_GOAL_MS))
    else:
        print("| page: (no Chromium)                          |")


if __name__ == "__main__":
    main()
