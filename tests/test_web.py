"""The web view: token on the LAN, nothing but the view served, bounded per-viewer
queues, and the page in a real headless Chromium during ``demo --fast --web``.

Truth: the demo's motion script (``motion.truth``); the HTTP rules from the issue
(127.0.0.1 by default, token required off loopback, read-only, bounded queues).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from imu_host.core.events import Rep, RepEvent
from imu_host.errors import InputError
from imu_host.live.view import LiveState
from imu_host.live.web import WebSettings, WebView, parse_address

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[1]
SHOT = ROOT / "docs" / "img" / "web-view.png"
CHROME_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def get(url: str, method: str = "GET") -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read()


@pytest.fixture
def lan_view():
    v = WebView("0.0.0.0", 0)
    yield v
    v.close(linger_s=0)


def test_address_parsing():
    assert parse_address("8765") == ("127.0.0.1", 8765)
    assert parse_address("0.0.0.0:9000") == ("0.0.0.0", 9000)
    assert parse_address("[::1]:80") == ("::1", 80)
    for bad in ("", "x", "host:99999", "1.2.3.4:"):
        with pytest.raises(InputError, match="--web"):
            parse_address(bad)


def test_loopback_needs_no_token_but_a_loopback_host():
    v = WebView("127.0.0.1", 0)
    try:
        assert v.token == "" and "token" not in v.url
        assert get(f"http://127.0.0.1:{v.port}/")[0] == 200
        assert get(f"http://localhost:{v.port}/")[0] == 200
        # a page on another site that rebinds its name to 127.0.0.1 gets nothing
        with socket.create_connection(("127.0.0.1", v.port)) as c:
            c.sendall(b"GET /events HTTP/1.1\r\nHost: evil.example:8765\r\n\r\n")
            assert c.recv(100).startswith(b"HTTP/1.0 403")
    finally:
        v.close(linger_s=0)


def test_lan_needs_the_random_token(lan_view):
    v = lan_view
    assert len(v.token) >= 16 and f"token={v.token}" in v.url
    other = WebView("0.0.0.0", 0)
    other.close(linger_s=0)
    assert other.token != v.token  # random per session
    base = f"http://127.0.0.1:{v.port}"
    assert get(base + "/")[0] == 403
    assert get(base + "/events")[0] == 403
    assert get(base + "/?token=" + v.token[:-1] + "x")[0] == 403
    code, body = get(base + "/?token=" + v.token)
    assert code == 200 and b"EventSource" in body


def test_lan_url_is_printed_with_a_qr_code(lan_view):
    import io

    buf = io.StringIO()
    lan_view.announce(buf)
    text = buf.getvalue()
    assert lan_view.url in text
    qr_rows = [ln for ln in text.splitlines() if ln and set(ln) <= set(" \xa0█▀▄")]
    assert len(qr_rows) > 12  # an ASCII QR code: 2 modules a row, version >= 2 is 25+ high


def test_nothing_but_the_view_is_served(lan_view):
    base = f"http://127.0.0.1:{lan_view.port}"
    tok = "?token=" + lan_view.token
    for path in ("/pyproject.toml", "/../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                 "/imu_host/live/web.py", "/web_page.html", "//etc/passwd", "/events/x"):  # fmt: skip
        code, body = get(base + path + tok)
        assert code == 404, path
        assert b"root:" not in body
    for method in ("POST", "PUT", "DELETE"):
        assert get(base + "/" + tok, method)[0] in (405, 501)


def _state(left: int, right: int) -> LiveState:
    return LiveState(left=left, right=right, target=8, link_state="streaming", learning=False)


def test_a_stuck_viewer_never_blocks_and_its_queue_stays_bounded():
    v = WebView("127.0.0.1", 0, settings=WebSettings(client_queue=8))
    stuck = socket.create_connection(("127.0.0.1", v.port))
    try:
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # and never reads again
        assert v.wait_for_viewer(5)
        got: list[dict] = []

        def reader() -> None:
            with urllib.request.urlopen(f"http://127.0.0.1:{v.port}/events", timeout=10) as r:
                for line in r:
                    if line.startswith(b"data: "):
                        got.append(json.loads(line[6:]))

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        deadline = time.monotonic() + 5
        while len(v.clients) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(v.clients) == 2
        pad = "x" * 2000  # big snapshots fill the stuck viewer's socket quickly
        n = 3000
        for i in range(n):
            st = _state(i, i)
            st.source = pad
            v.on_event(RepEvent(float(i), _rep(i)), st)
            assert all(c.queue.qsize() <= 8 for c in list(v.clients))
        assert v.dropped_total > 0  # the stuck viewer lost old snapshots, nobody waited
        v.close(linger_s=5)
        t.join(10)
    finally:
        stuck.close()
    assert got and got[-1]["ended"] and got[-1]["left"] == n - 1  # the newest state arrived


def _rep(i: int) -> Rep:
    return Rep(i + 1, "left", 0.0, 1.0, 2.0, 35.0, 1.0, 0.5, 0.5, 40.0, 40.0)


@pytest.mark.slow
def test_demo_on_the_lan_prints_token_url_and_qr_and_needs_the_token(tmp_path):
    """``demo --web 0.0.0.0:0``: the URL with its token and a QR code on stderr; without
    the token nothing is served; with it the event stream follows the session to the
    simulator's truth (only loopback traffic: the test connects to 127.0.0.1)."""
    import subprocess
    import sys

    from imu_host.sim import board as sim_board

    truth = sim_board.script_truth()["reps_per_side"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "imu_host.cli.main", "demo", "--fast", "--web", "0.0.0.0:0",
         "--no-record", "--quiet", "--board", "in-process", "--json-events"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        head = []
        for line in proc.stderr:
            head.append(line)
            if "waiting" in line:
                break
        text = "".join(head)
        m = re.search(r"web view: http://\S+:(\d+)/\?token=([\w-]+)", text)
        assert m, text
        port, token = m.group(1), m.group(2)
        assert sum(1 for ln in head if "█" in ln) > 12  # the QR code
        base = f"http://127.0.0.1:{port}"
        assert get(base + "/events")[0] == 403
        got = []
        with urllib.request.urlopen(f"{base}/events?token={token}", timeout=30) as r:
            for line in r:
                if line.startswith(b"data: "):
                    got.append(json.loads(line[6:]))
                    if got[-1]["ended"]:
                        break
        assert (got[-1]["left"], got[-1]["right"]) == (truth["left"], truth["right"])
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
