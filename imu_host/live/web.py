"""The big live view for a phone or tablet: a read-only page served by the session.

:class:`WebView` is a view sink running a standard-library HTTP server on its own
threads (one per viewer). It serves exactly two things: the page (``/``) and its
Server-Sent-Events stream of state snapshots (``/events``); every other path is 404 and
every method but GET/HEAD is refused, so no file on the machine is reachable.

* Binds to 127.0.0.1 by default (and then only answers requests whose Host is a
  loopback name: no DNS rebinding). Any other address (``--web 0.0.0.0:8765``, the LAN)
  is opt-in and then every request must carry ``?token=`` with a random token (printed
  in the URL, with a QR code for the phone's camera).
* Each viewer has its own bounded queue (:attr:`WebSettings.client_queue`); the counting
  loop only ever does a non-blocking put, dropping the oldest snapshot when a viewer
  falls behind (each snapshot is the whole state, so the newest one is all it needs).
  A slow or vanished browser never slows counting; dead viewers are dropped after
  :attr:`WebSettings.socket_timeout_s`.
* Snapshots go out at once on each event and at most ``tick_hz`` times a second for the
  gauge. Each carries ``sent_ms`` (wall clock) so the page update latency can be
  measured in a browser on the same machine.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import queue
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

from imu_host.core.events import FLAG_WORDS
from imu_host.errors import InputError
from imu_host.live.view import LiveState, NullSink

DEFAULT_PORT = 8765


@dataclass(frozen=True)
class WebSettings:
    """Named numbers of the web view."""

    client_queue: int = 32  # snapshots waiting per viewer at most (oldest dropped)
    max_clients: int = 16  # more viewers at once get 503
    tick_hz: float = 10.0  # gauge updates per second at most (events go out at once)
    heartbeat_s: float = 10.0  # SSE comment line when idle (detects vanished viewers)
    socket_timeout_s: float = 10.0  # a viewer that takes no data this long is dropped
    token_bytes: int = 16  # random token for LAN serving (URL-safe base64)
    gauge_span_deg: float = 90.0  # the gauge shows -span..+span
    zone_deg: tuple[float, float] = (30.0, 60.0)  # target zone drawn on the gauge, each side


def parse_address(text: str) -> tuple[str, int]:
    """``[HOST:]PORT`` -> (host, port); host defaults to 127.0.0.1."""
    host, _, port_s = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_s)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise InputError(f"--web: expected [HOST:]PORT (e.g. 8765 or 0.0.0.0:8765), got {text!r}")
    return host, port


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def lan_address() -> str:
    """This machine's address as a phone on the LAN would use it (no traffic sent):
    ``hostname -I`` (Linux), else the host name's addresses, else the host name."""
    import shutil
    import subprocess

    exe = shutil.which("hostname")
    if exe is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([exe, "-I"], capture_output=True, text=True, timeout=2).stdout
            for addr in out.split():
                if "." in addr and not addr.startswith("127."):
                    return addr
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addr = str(info[4][0])
            if not addr.startswith("127."):
                return addr
    return socket.gethostname()


def qr_text(url: str) -> str:
    """The URL as an ASCII QR code (empty when the qrcode package is missing)."""
    try:
        import qrcode
    except ImportError:
        return ""
    import io

    qr = qrcode.QRCode(border=1)
    qr.add_data(url)
    buf = io.StringIO()
    qr.print_ascii(out=buf, invert=True)
    return buf.getvalue()


class _Client:
    def __init__(self, size: int) -> None:
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=size)
        self.dropped = 0
        self.sent = 0

    def offer(self, msg: bytes | None) -> None:
        """Never blocks: a full queue loses its oldest snapshot."""
        while True:
            try:
                self.queue.put_nowait(msg)
                return
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self.queue.get_nowait()
                    self.dropped += 1


class WebView(NullSink):
    """The live page server; see the module docstring."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        token: str | None = None,
        settings: WebSettings | None = None,
    ) -> None:
        self.settings = s = settings or WebSettings()
        self.host = host
        lan = not is_loopback(host)
        self.token = (
            token if token is not None else (secrets.token_urlsafe(s.token_bytes) if lan else "")
        )
        self.clients: set[_Client] = set()
        self.dropped_total = 0
        self.viewers_seen = 0
        self._lock = threading.Lock()
        self._viewer = threading.Event()
        self._seq = 0
        self._closed = False
        self._last: bytes = self._encode(LiveState(), "state")
        self._last_tick = 0.0
        self._page = self._load_page()
        view = self

        class Handler(BaseHTTPRequestHandler):
            timeout = s.socket_timeout_s
            server_version = "imu-host"
            sys_version = ""

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # no request log on the live terminal

            def do_GET(self) -> None:  # noqa: N802
                view._handle(self, head=False)

            def do_HEAD(self) -> None:  # noqa: N802
                view._handle(self, head=True)

        try:
            self.server = ThreadingHTTPServer((host, port), Handler)
        except OSError as err:
            raise InputError(f"--web: cannot serve on {host}:{port}: {err.strerror}") from None
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
            name="imu-host-web", daemon=True,
        )  # fmt: skip
        self._thread.start()

    # ------------------------------------------------------------- addresses

    @property
    def url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::"):
            host = lan_address()
        if ":" in host:
            host = f"[{host}]"
        q = f"?token={self.token}" if self.token else ""
        return f"http://{host}:{self.port}/{q}"

    def announce(self, out: IO[str]) -> None:
        """Print where the page is (with a QR code when it is on the LAN)."""
        out.write(f"web view: {self.url}\n")
        if self.token:
            out.write("open it on the phone (same network; the token is needed):\n")
            out.write(qr_text(self.url))
        out.flush()

    def wait_for_viewer(self, timeout_s: float) -> bool:
        """Block until a page has connected to the event stream (for ``demo --web``)."""
        return self._viewer.wait(timeout_s)

    # ------------------------------------------------------------- publishing

    def _encode(self, state: LiveState, kind: str, event: object = None) -> bytes:
        d = state.to_dict()
        d["kind"] = kind
        d["gauge"] = {
            "span_deg": self.settings.gauge_span_deg,
            "zone_deg": list(self.settings.zone_deg),
        }
        if event is not None and hasattr(event, "to_dict"):
            d["event"] = event.to_dict()
        self._seq += 1
        d["seq"] = self._seq
        d["sent_ms"] = time.time() * 1000.0
        return b"data: " + json.dumps(d, separators=(",", ":")).encode() + b"\n\n"

    def publish(self, msg: bytes | None) -> None:
        if msg is not None:
            self._last = msg
        with self._lock:
            clients = list(self.clients)
        for c in clients:
            before = c.dropped
            c.offer(msg)
            self.dropped_total += c.dropped - before

    def on_event(self, ev: object, state: LiveState) -> None:
        self.publish(self._encode(state, "event", ev))

    def on_notice(self, notice: Any, state: LiveState) -> None:
        self.publish(self._encode(state, "notice"))

    def on_tick(self, state: LiveState) -> None:
        now = time.monotonic()
        if now - self._last_tick >= 1.0 / self.settings.tick_hz:
            self._last_tick = now
            self.publish(self._encode(state, "tick"))

    def close(self, state: LiveState | None = None, linger_s: float = 2.0) -> None:
        """Send the final state ("ended"), let viewers take it, stop serving."""
        if self._closed:
            return
        self._closed = True
        final = json.loads(self._last[len(b"data: ") :])
        final["ended"] = True
        final["kind"] = "end"
        final["sent_ms"] = time.time() * 1000.0
        self.publish(b"data: " + json.dumps(final, separators=(",", ":")).encode() + b"\n\n")
        self.publish(None)  # end of stream for every viewer
        deadline = time.monotonic() + linger_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self.clients:
                    break
            time.sleep(0.02)
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(2)

    # ------------------------------------------------------------- serving

    def _load_page(self) -> bytes:
        """The page, with the one plain-words mapping of the flags (FLAG_WORDS) in it."""
        page = resources.files("imu_host.live").joinpath("web_page.html").read_bytes()
        words = json.dumps(FLAG_WORDS).encode()
        return page.replace(b"/*FLAG_WORDS*/{}", words, 1)

    def _authorised(self, query: str) -> bool:
        if not self.token:
            return True
        got = parse_qs(query).get("token", [""])[0]
        return hmac.compare_digest(got.encode(), self.token.encode())

    def _host_ok(self, h: BaseHTTPRequestHandler) -> bool:
        """Without a token (loopback only) the Host header must name this machine's
        loopback: a web page elsewhere cannot read the view by DNS rebinding."""
        if self.token:
            return True
        host = urlsplit("//" + (h.headers.get("Host") or "")).hostname or ""
        return is_loopback(host)

    def _handle(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        parts = urlsplit(h.path)
        if not self._host_ok(h):
            self._plain(h, 403, "forbidden: open the view as http://127.0.0.1:PORT/\n", head)
            return
        if not self._authorised(parts.query):
            self._plain(h, 403, "forbidden: this view needs its token (see the terminal)\n", head)
            return
        if parts.path in ("/", "/index.html"):
            self._send(h, 200, "text/html; charset=utf-8", self._page, head)
        elif parts.path == "/events" and not head:
            self._stream(h)
        else:
            self._plain(h, 404, "not found\n", head)

    def _plain(self, h: BaseHTTPRequestHandler, code: int, text: str, head: bool) -> None:
        self._send(h, code, "text/plain; charset=utf-8", text.encode(), head)

    def _send(self, h: BaseHTTPRequestHandler, code: int, ctype: str, body: bytes, head: bool) -> None:  # fmt: skip
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.send_header("Cache-Control", "no-store")
        h.send_header("X-Content-Type-Options", "nosniff")
        h.send_header("Referrer-Policy", "no-referrer")
        h.send_header("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'")  # fmt: skip
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def _stream(self, h: BaseHTTPRequestHandler) -> None:
        s = self.settings
        client = _Client(s.client_queue)
        with self._lock:
            if len(self.clients) >= s.max_clients:
                client = None  # type: ignore[assignment]
            else:
                self.clients.add(client)
                self.viewers_seen += 1
        if client is None:
            self._plain(h, 503, "too many viewers\n", False)
            return
        try:
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.send_header("Cache-Control", "no-store")
            h.send_header("X-Accel-Buffering", "no")
            h.end_headers()
            h.wfile.write(b"retry: 1000\n\n" + self._last)  # the state as of now
            h.wfile.flush()
            self._viewer.set()
            while True:
                try:
                    msg = client.queue.get(timeout=s.heartbeat_s)
                except queue.Empty:
                    msg = b": keep-alive\n\n"
                if msg is None:
                    break
                h.wfile.write(msg)
                h.wfile.flush()
                client.sent += 1
        except (OSError, ValueError):
            pass  # the viewer went away (or its socket timed out)
        finally:
            with self._lock:
                self.clients.discard(client)
            h.close_connection = True
