"""Live session: bytes from a transport -> frames -> samples -> the replay pipeline ->
events, shown as they happen, recorded as they arrive.

One thread, one loop (:meth:`LiveSession.run`): read whatever bytes arrived (waiting at
most ``read_timeout``), decode, assemble, record, run the causal pipeline, render the
events at once (flags ring the bell immediately), refresh the view a few times a
second, flush the recording about once a second. The transport is wrapped in a
:class:`~imu_host.transport.ReconnectingTransport`: a lost link does not stop the loop,
the view says "reconnecting", and after reconnecting the decoder starts afresh and the
board is asked for its info and to start streaming again.

Gaps: samples lost on the way show as a jump in ``t_s`` (the assembler keeps the device
clock); when the board reset while the link was down (its clock restarted), the stream
time is pushed forward by the wall-clock outage so the gap is real in the data too. The
pipeline sees the jump, emits a GapEvent and never counts a rep across it; the recording
holds exactly the samples the pipeline saw, so replaying it gives the same reps/flags.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as _dt
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from imu_host.core.events import FlagEvent, GapEvent, RepEvent
from imu_host.core.samples import Samples
from imu_host.errors import InputError
from imu_host.paths import create_exclusive
from imu_host.protocol.frames import (
    AckFrame,
    DeviceInfo,
    FrameDecoder,
    SampleAssembler,
    SampleFrame,
    StatusFrame,
    encode_command,
)
from imu_host.transport.base import Backoff, ReconnectingTransport, Transport

MODES = ("tty", "lines", "json")


@dataclass
class LiveOptions:
    target: int | None = None  # reps per side; the session ends when both sides reach it
    duration_s: float | None = None  # wall-clock seconds of streaming, then stop
    quiet: bool = False  # no terminal bell
    mode: str = "lines"  # "tty" (refreshing view), "lines" (line per event), "json"
    record_path: Path | None = None  # None -> no recording
    raw_path: Path | None = None  # optional capture of every received byte
    refresh_hz: float = 4.0
    read_timeout: float = 0.05
    flush_interval_s: float = 1.0
    info_timeout_s: float = 10.0  # no device info this long after connecting -> error
    stall_s: float = 2.0  # connected but no samples this long -> ask the board to start again
    settings: Any = None  # pipeline settings (None: defaults, same as replay)
    backoff: Backoff = field(default_factory=Backoff)
    source: str = ""  # for the recording's metadata


@dataclass
class LinkQuality:
    """What the link view shows; cumulative over reconnects."""

    samples: int = 0
    samples_lost: int = 0  # sequence gaps seen by the host
    device_dropped: int = 0  # reported by the board's status frames
    crc_errors: int = 0
    malformed: int = 0
    bytes_discarded: int = 0
    duplicates: int = 0
    device_resets: int = 0
    reconnects: int = 0
    rate_sps: float = 0.0


class LiveSession:
    """Runs one live session on a transport; see the module docstring."""

    def __init__(
        self,
        transport: Transport,
        options: LiveOptions,
        *,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[object, float], None] | None = None,
        on_link: Callable[[str], None] | None = None,
    ) -> None:
        if options.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.options = options
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.clock = clock
        self.on_event = on_event  # (event, latency_s) hook for tests / benchmarks
        self.on_link = on_link  # "connected" / "lost" / "device_reset" hook
        self.link = (
            transport
            if isinstance(transport, ReconnectingTransport)
            else ReconnectingTransport(transport, backoff=options.backoff)
        )
        # import the pipeline now, not when the first samples arrive (scipy takes a while)
        from imu_host.core.pipeline import Pipeline
        from imu_host.io.recording import RecordingWriter

        self._pipeline_cls = Pipeline
        self._writer_cls = RecordingWriter
        self.link.on_connect = self._on_connect
        self.link.on_lost = self._on_lost
        self.decoder = FrameDecoder()
        self.assembler = SampleAssembler()
        self.info: DeviceInfo | None = None
        self.pipeline: Any = None
        self.recorder: Any = None
        self._unwritten: list[Samples] = []
        self.raw: IO[bytes] | None = None
        self.quality = LinkQuality()
        self.events: list[object] = []  # every event, in order (bounded by the session)
        self.latencies: collections.deque[float] = collections.deque(maxlen=10_000)
        self.connected = False
        self.stop_reason = ""
        self._dec_base = [0, 0, 0]  # crc, malformed, discarded of decoders before reset
        self._seen: collections.deque[tuple[int, int, bytes]] = collections.deque(maxlen=64)
        self._seen_set: set[tuple[int, int, bytes]] = set()
        self._t_offset = 0.0
        self._last_t: float | None = None  # stream time of the last sample fed
        self._last_wall: float | None = None  # wall time it arrived
        self._check_gap = False  # after a link loss / reset: compare stream and wall time
        self._resets_seen = 0
        self._stream_start_wall: float | None = None
        self._connected_at = 0.0
        self._next_info_request = 0.0
        self._rate_window: collections.deque[tuple[float, int]] = collections.deque()
        self._last_rep: Any = None
        self._flags_shown: collections.deque[str] = collections.deque(maxlen=3)
        self._view_lines = 0
        self._status_line = ""
        self._sent_samples = 0

    # ----------------------------------------------------------------- link events

    def _on_connect(self, n: int) -> None:
        for i, v in enumerate((self.decoder.crc_errors, self.decoder.malformed)):
            self._dec_base[i] += v
        # a partial frame from the old connection is dropped with the decoder: count it
        self._dec_base[2] += self.decoder.bytes_discarded + self.decoder.buffered
        self.decoder.reset()  # bytes of a previous connection never mix with new ones
        self.connected = True
        self._connected_at = self.clock()
        self._request_start()
        if n > 1:
            self.quality.reconnects += 1
            self._check_gap = True
            self._notice(f"reconnected ({self.link.description})", {"state": "connected"})

    def _on_lost(self, why: str) -> None:
        self.connected = False
        self._check_gap = True
        self._notice(f"link lost ({why}); reconnecting", {"state": "lost", "error": why})

    def _request_start(self) -> None:
        self.link.write(encode_command("info"))
        self.link.write(encode_command("start"))
        self._next_info_request = self.clock() + 1.0

    # ----------------------------------------------------------------- processing

    def feed_bytes(self, data: bytes, arrived: float | None = None) -> list[object]:
        """Process received bytes; returns the pipeline events they produced."""
        arrived = self.clock() if arrived is None else arrived
        if self.raw is not None:
            self.raw.write(data)
        events: list[object] = []
        for frame in self.decoder.feed(data):
            if isinstance(frame, SampleFrame):
                key = (frame.seq, frame.t_us, frame.counts.tobytes())
                if key in self._seen_set:
                    self.quality.duplicates += 1
                    continue
                if len(self._seen) == self._seen.maxlen:
                    self._seen_set.discard(self._seen[0])
                self._seen.append(key)
                self._seen_set.add(key)
            elif isinstance(frame, DeviceInfo):
                self._got_info(frame)
            elif isinstance(frame, StatusFrame):
                self.quality.device_dropped = frame.dropped_samples + frame.sensor_lost_samples
                continue
            elif isinstance(frame, AckFrame):
                continue
            for block in self.assembler.push(frame):
                events.extend(self._feed_samples(block, arrived))
        return events

    def _got_info(self, info: DeviceInfo) -> None:
        first = self.info is None
        if not first and (
            info.odr_hz != self.info.odr_hz or info.channels != self.info.channels  # type: ignore[union-attr]
        ):
            self._notice(
                f"board changed its stream ({info.odr_hz:g} Hz, {info.channels} channels) "
                "mid-session; keeping the original settings",
                {"state": "info_changed"},
            )
        self.info = info if first else self.info
        if first:
            self._start_pipeline(info)

    def _start_pipeline(self, info: DeviceInfo) -> None:
        has_gyro = info.channels == 6
        self.pipeline = self._pipeline_cls(info.odr_hz, has_gyro, self.options.settings)
        self._stream_start_wall = self.clock()
        if self.options.record_path is not None:
            meta = {
                "source": self.options.source or self.link.description,
                "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "device": f"{info.sensor_model} firmware {info.firmware_version}",
                "recorded_by": "imu-host live",
            }
            self.recorder = self._writer_cls(self.options.record_path, info.odr_hz, has_gyro, meta)

    def _feed_samples(self, block: Samples, arrived: float) -> list[object]:
        if len(block) == 0 or self.pipeline is None:
            return []
        resets = self.assembler.device_resets
        if resets != self._resets_seen:
            self.quality.device_resets += resets - self._resets_seen
            self._resets_seen = resets
            self._check_gap = True
            self._notice("board restarted (sequence/clock reset)", {"state": "device_reset"})
        t = block.t_s + self._t_offset
        if self._check_gap and self._last_t is not None and self._last_wall is not None:
            expected = self._last_t + (arrived - self._last_wall)
            behind = expected - t[-1]
            if behind > 1.0:  # the stream lost more time than it shows: make the gap real
                self._t_offset += behind
                t = t + behind
        self._check_gap = False
        block = Samples(t, block.accel_g, block.gyro_dps)
        if self.info is not None and self.info.channels == 3 and block.gyro_dps is not None:
            block = Samples(block.t_s, block.accel_g, None)
        # the pipeline sees exactly what a replay of the recording will read back
        block = self._as_recorded(block)
        if self.recorder is not None:
            self._unwritten.append(block)  # written in one go about once a second
        self._last_t = float(block.t_s[-1])
        self._last_wall = arrived
        n = len(block)
        self.quality.samples += n
        w = self._rate_window
        w.append((arrived, n))
        while w[0][0] < arrived - 2.0:
            w.popleft()
        events = list(self.pipeline.feed(block))
        now = self.clock()
        for ev in events:
            latency = now - arrived
            self.latencies.append(latency)
            self.events.append(ev)
            if isinstance(ev, RepEvent):
                self._last_rep = ev.rep
            self._render_event(ev)
            if self.on_event is not None:
                self.on_event(ev, latency)
        return events

    # ----------------------------------------------------------------- counts

    def reps_per_side(self) -> tuple[int, int]:
        left = right = 0
        for ev in self.events:
            if isinstance(ev, RepEvent):
                if ev.rep.side == "left":
                    left += 1
                else:
                    right += 1
        return left, right

    def _update_quality(self, now: float) -> None:
        q = self.quality
        q.samples_lost = self.assembler.samples_lost
        q.crc_errors = self._dec_base[0] + self.decoder.crc_errors
        q.malformed = self._dec_base[1] + self.decoder.malformed
        q.bytes_discarded = self._dec_base[2] + self.decoder.bytes_discarded
        w = self._rate_window
        while w and w[0][0] < now - 2.0:
            w.popleft()
        span = min(2.0, now - (self._stream_start_wall or now))
        q.rate_sps = sum(n for _, n in w) / span if span > 0.2 else 0.0

    # ----------------------------------------------------------------- output

    def _write(self, text: str) -> None:
        with contextlib.suppress(ValueError):
            self.out.write(text)
            self.out.flush()

    def _bell(self) -> None:
        if self.options.quiet:
            return
        for stream in (self.out, self.err):
            isatty = getattr(stream, "isatty", None)
            if isatty is not None and isatty():
                stream.write("\a")
                stream.flush()
                return

    def _clear_view(self) -> None:
        if self.options.mode == "tty" and self._view_lines:
            self._write(f"\x1b[{self._view_lines}F\x1b[J")
            self._view_lines = 0

    def _notice(self, text: str, payload: dict[str, Any]) -> None:
        if self.on_link is not None:
            self.on_link(payload["state"])
        mode = self.options.mode
        if mode == "json":
            self._write(json.dumps({"event": "link", **payload}) + "\n")
        else:
            self._clear_view()
            self._write(f"-- {text}\n")
            if mode == "tty":
                self._draw_view()

    def _render_event(self, ev: object) -> None:
        mode = self.options.mode
        if isinstance(ev, FlagEvent):
            self._bell()
            self._flags_shown.append(f"{ev.kind} ({ev.side})")
        if mode == "json":
            self._write(json.dumps(ev.to_dict()) + "\n")  # type: ignore[attr-defined]
            return
        self._clear_view()
        self._write(format_event(ev) + "\n")
        if mode == "tty":
            self._draw_view()

    def render_view(self) -> list[str]:
        """The live view as text lines (also used by tests)."""
        now = self.clock()
        self._update_quality(now)
        left, right = self.reps_per_side()
        tgt = self.options.target
        lines = []
        elapsed = now - self._stream_start_wall if self._stream_start_wall else 0.0
        state = (
            "streaming"
            if self.connected and self.pipeline
            else ("waiting for board" if self.connected else "RECONNECTING")
        )
        lines.append(f"imu-host live  {self.link.description}  {_mmss(elapsed)}  [{state}]")
        lines.append(f"  reps   L {_progress(left, tgt)}    R {_progress(right, tgt)}")
        angle = getattr(self.pipeline, "angle_deg", None) if self.pipeline else None
        lines.append(f"  knee   {_gauge(angle)}")
        r = self._last_rep
        if r is not None:
            fl = ", ".join(r.flags) if r.flags else "ok"
            lines.append(
                f"  last   #{r.index} {r.side:<5} range {r.rom_deg:4.0f} deg  "
                f"down {r.descent_s:.1f}s hold {r.hold_s:.1f}s up {r.return_s:.1f}s  [{fl}]"
            )
        else:
            lines.append("  last   -")
        q = self.quality
        lines.append(
            f"  link   {q.rate_sps:5.0f} samples/s  lost {q.samples_lost + q.device_dropped}  "
            f"crc errors {q.crc_errors}  junk {q.bytes_discarded} B  reconnects {q.reconnects}"
        )
        if self._flags_shown:
            lines.append("  flags  " + "  ".join(self._flags_shown))
        return lines

    def _draw_view(self) -> None:
        lines = self.render_view()
        self._write("\n".join(lines) + "\n")
        self._view_lines = len(lines)

    def refresh(self) -> None:
        if self.options.mode == "tty":
            self._clear_view()
            self._draw_view()

    # ----------------------------------------------------------------- run

    def _open_outputs(self) -> None:
        if self.options.raw_path is not None:
            self.raw = create_exclusive(self.options.raw_path, "raw capture")

    def _as_recorded(self, block: Samples) -> Samples:
        """Round to the recording's text precision exactly as the file will hold it."""
        from imu_host.io.recording import as_recorded

        return as_recorded(block)

    def _write_recording(self) -> None:
        if self.recorder is not None and self._unwritten:
            blocks, self._unwritten = self._unwritten, []
            self.recorder.write(Samples.concat(blocks))

    def _flush(self) -> None:
        """Write pending samples and hand them to the OS (cheap; fsync is in a thread)."""
        self._write_recording()
        if self.recorder is not None:
            self.recorder.flush(sync=False)
        if self.raw is not None:
            self.raw.flush()

    def _sync_fds(self) -> list[int]:
        fds = []
        for path in (self.options.record_path, self.options.raw_path):
            if path is not None:
                with contextlib.suppress(OSError):
                    fds.append(os.open(path, os.O_RDONLY))
        return fds

    def _syncer(self, stop: threading.Event) -> None:
        # fsync can block for many ms on a busy disk: keep it off the live loop. fsync
        # on our own descriptor of the same file syncs the file's data.
        fds: list[int] = []
        try:
            while not stop.wait(self.options.flush_interval_s):
                if len(fds) < (self.recorder is not None) + (self.raw is not None):
                    for fd in fds:
                        os.close(fd)
                    fds = self._sync_fds()
                for fd in fds:
                    with contextlib.suppress(OSError):
                        os.fsync(fd)
        finally:
            for fd in fds:
                os.close(fd)

    def _target_reached(self) -> bool:
        tgt = self.options.target
        if not tgt:
            return False
        left, right = self.reps_per_side()
        return left >= tgt and right >= tgt

    def run(self, should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Connect, stream until Ctrl-C / target / duration / ``should_stop()``; returns
        the summary dict (the pipeline's, same as replay) plus a ``live`` section."""
        opts = self.options
        # recording target checked before connecting: never overwrite, fail fast
        if opts.record_path is not None and Path(opts.record_path).exists():
            raise InputError(
                "already exists; refusing to overwrite a recording", path=str(opts.record_path)
            )
        if opts.record_path is not None:
            try:
                Path(opts.record_path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise InputError(
                    f"cannot create the recordings folder: {err.strerror}",
                    path=str(Path(opts.record_path).parent),
                ) from None
        self._open_outputs()
        stop_flusher = threading.Event()
        flusher = threading.Thread(
            target=self._syncer, args=(stop_flusher,), name="imu-host-fsync", daemon=True
        )
        flusher.start()
        try:
            self.link.open()
            next_refresh = self.clock()
            next_flush = self.clock() + opts.flush_interval_s
            try:
                while True:
                    data = self.link.read(opts.read_timeout)
                    now = self.clock()
                    if data:
                        self.feed_bytes(data, now)
                    if self.connected and self.info is None:
                        if now - self._connected_at > opts.info_timeout_s:
                            raise InputError(
                                f"{self.link.description}: no device info from the board in "
                                f"{opts.info_timeout_s:g} s (is it running the imu-host firmware?)"
                            )
                        if now >= self._next_info_request:
                            self._request_start()
                    elif (
                        self.connected
                        and self._last_wall is not None
                        and now - max(self._last_wall, self._connected_at) > opts.stall_s
                        and now >= self._next_info_request
                    ):
                        # connected but silent (board reset behind a UART bridge, or it
                        # stopped streaming): ask again
                        self._check_gap = True
                        self._request_start()
                    if now >= next_refresh:
                        self.refresh()
                        next_refresh = now + 1.0 / opts.refresh_hz
                    if now >= next_flush:
                        self._flush()
                        next_flush = now + opts.flush_interval_s
                    if self._target_reached():
                        self.stop_reason = "target reached"
                        break
                    if (
                        opts.duration_s is not None
                        and self._stream_start_wall is not None
                        and now - self._stream_start_wall >= opts.duration_s
                    ):
                        self.stop_reason = "duration reached"
                        break
                    if not data and should_stop is not None and should_stop():
                        self.stop_reason = "source finished"
                        break
            except KeyboardInterrupt:
                self.stop_reason = "interrupted"
            with contextlib.suppress(Exception):
                self.link.write(encode_command("stop"))
            self.finish()
        finally:
            stop_flusher.set()
            flusher.join()
            self.link.close()
            self._close_outputs()
        return self.summary()

    def finish(self) -> list[object]:
        """End of stream: let the pipeline close a rep that came back (as replay does)."""
        if self.pipeline is None:
            return []
        events = list(self.pipeline.finish())
        for ev in events:
            self.events.append(ev)
            if isinstance(ev, RepEvent):
                self._last_rep = ev.rep
            self._render_event(ev)
            if self.on_event is not None:
                self.on_event(ev, 0.0)
        return events

    def _close_outputs(self) -> None:
        self._clear_view()
        if self.recorder is not None:
            self._write_recording()
            with contextlib.suppress(OSError, ValueError):
                self.recorder.flush()  # flush + fsync
            self.recorder.close()
        if self.raw is not None:
            with contextlib.suppress(OSError, ValueError):
                self.raw.flush()
                os.fsync(self.raw.fileno())
            self.raw.close()

    def summary(self) -> dict[str, Any]:
        self._update_quality(self.clock())
        base = self.pipeline.summary() if self.pipeline is not None else {}
        q = self.quality
        base = dict(base)
        base["live"] = {
            "source": self.link.description,
            "stop_reason": self.stop_reason,
            "recording": str(self.options.record_path) if self.recorder is not None else None,
            "raw_capture": str(self.options.raw_path) if self.raw is not None else None,
            "samples": q.samples,
            "samples_lost": q.samples_lost,
            "device_dropped": q.device_dropped,
            "crc_errors": q.crc_errors,
            "bytes_discarded": q.bytes_discarded,
            "duplicate_frames": q.duplicates,
            "device_resets": q.device_resets,
            "reconnects": q.reconnects,
        }
        return base


# --------------------------------------------------------------------- formatting


def _mmss(s: float) -> str:
    s = max(0, int(s))
    return f"{s // 60:02d}:{s % 60:02d}"


def _progress(n: int, target: int | None, width: int = 10) -> str:
    if not target:
        return f"{n:3d}"
    filled = min(width, round(width * n / target))
    return f"{n:3d}/{target:<3d} [{'#' * filled}{'.' * (width - filled)}]"


def _gauge(angle: float | None, width: int = 41, span: float = 90.0) -> str:
    """Knee angle on a bar, left (+) drawn to the left of centre."""
    if angle is None or not np.isfinite(angle):
        return "  --- deg"
    half = width // 2
    pos = half - int(round(max(-span, min(span, angle)) / span * half))
    bar = ["-"] * width
    bar[half] = "|"
    bar[max(0, min(width - 1, pos))] = "O"
    return f"{angle:+6.0f} deg  L [{''.join(bar)}] R"


def format_event(ev: object) -> str:
    """One line per event for terminals and pipes."""
    if isinstance(ev, RepEvent):
        r = ev.rep
        fl = f"  flags: {', '.join(r.flags)}" if r.flags else ""
        return (
            f"{ev.t_s:8.2f}s  REP  #{r.index} {r.side:<5} range {r.rom_deg:.0f} deg  "
            f"down {r.descent_s:.1f}s hold {r.hold_s:.1f}s up {r.return_s:.1f}s  "
            f"peak {r.peak_descent_dps:.0f} deg/s{fl}"
        )
    if isinstance(ev, FlagEvent):
        unit = "deg" if ev.kind == "bounce" else "deg/s"
        return f"{ev.t_s:8.2f}s  FLAG {ev.kind.upper().replace('_', ' ')} ({ev.side}) {ev.value:.0f} {unit}"
    if isinstance(ev, GapEvent):
        return f"{ev.t_s:8.2f}s  GAP  no data {ev.start_s:.2f}-{ev.end_s:.2f}s"
    return str(ev)
