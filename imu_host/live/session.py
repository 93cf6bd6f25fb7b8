"""Live session: the thin loop that ties a transport to the stream stage, the pipeline,
the recorder and the view sinks.

One thread, one loop (:meth:`LiveSession.run`): read whatever bytes arrived (waiting at
most ``read_timeout``), hand them to the pure stream stage
(:class:`~imu_host.live.stream.StreamStage`: decode, dedup, assemble, info policy, gap
repair), queue the samples for the recorder (:class:`~imu_host.live.recorder.SessionRecorder`),
run the causal pipeline on them and give each event at once to every view sink
(:mod:`imu_host.live.view`: terminal, lines, JSON, bell, speech coach, web page), tick
the sinks a few times a second, flush the recording about once a second. The transport
is wrapped in a :class:`~imu_host.transport.ReconnectingTransport`: a lost link does not
stop the loop, the view says "reconnecting", and after reconnecting the decoder starts
afresh and the board is asked for its info and to start streaming again.

The session ends on Ctrl-C, on :meth:`LiveSession.request_stop` (the CLI calls it on
SIGTERM / SIGHUP), when both sides reach ``target``, after ``duration_s`` of
streaming, or when ``should_stop()`` says so (checked only while no bytes arrive);
a full disk stops only the recording (said once; counting goes on);
:meth:`LiveSession.summary` is the pipeline's summary (same as replay) plus a ``live``
section. The recording holds exactly the samples the pipeline saw, so replaying it gives
the same reps and flags.
"""

from __future__ import annotations

import collections
import contextlib
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from imu_host.core.events import FLAG_WORDS, FlagEvent, RepEvent
from imu_host.core.samples import Samples
from imu_host.errors import InputError
from imu_host.live.recorder import SessionRecorder
from imu_host.live.stream import LinkQuality, SampleBlock, StreamNotice, StreamStage, StreamStarted
from imu_host.live.view import (
    Bell,
    JsonView,
    LinesView,
    LiveState,
    Notice,
    PromptEvent,
    Sink,
    TtyView,
    format_event,
    render_lines,
)
from imu_host.protocol.frames import DeviceInfo, clean_text, encode_command
from imu_host.transport.base import Backoff, ReconnectingTransport, Transport

MODES = ("tty", "lines", "json")
SOURCE_TEXT_MAX = 120  # characters kept of the link's name

__all__ = ["MODES", "LinkQuality", "LiveOptions", "LiveSession", "format_event"]


@dataclass
class LiveOptions:
    target: int | None = None  # reps per side; the session ends when both sides reach it
    duration_s: float | None = None  # wall-clock seconds of streaming, then stop
    quiet: bool = False  # no terminal bell (the CLI then plays no cues either)
    mode: str = "lines"  # "tty" (refreshing view), "lines" (line per event), "json"
    record_path: Path | None = None  # None -> no recording
    raw_path: Path | None = None  # optional capture of every received byte
    refresh_hz: float = 4.0
    read_timeout: float = 0.05
    flush_interval_s: float = 1.0
    info_timeout_s: float = 10.0  # no device info this long after connecting -> error
    stall_s: float = 2.0  # connected but no samples this long -> ask the board to start again
    info_retry_s: float = 1.0  # ask for info/start again this often until the info comes
    settings: Any = None  # pipeline settings (None: defaults, same as replay)
    backoff: Backoff = field(default_factory=Backoff)
    source: str = ""  # for the recording's metadata
    flags_shown: int = 3  # the view lists this many most recent flags


class LiveSession:
    """Runs one live session on a transport; see the module docstring.

    ``sinks`` are extra view sinks (speech coach, web view) next to the one ``mode``
    picks; ``view`` replaces that one. ``guide`` is an optional
    :class:`~imu_host.live.pace.PaceGuide`: its prompts go to the sinks as
    :class:`~imu_host.live.view.PromptEvent` and show in the state's ``prompt``."""

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
        sinks: Sequence[Sink] = (),
        view: Sink | None = None,
        guide: Any = None,
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

        self._pipeline_cls = Pipeline
        self.link.on_connect = self._on_connect
        self.link.on_lost = self._on_lost
        self.stream = StreamStage()
        self.recorder = SessionRecorder(
            options.record_path, options.raw_path, options.flush_interval_s
        )
        self.pipeline: Any = None
        self.events: list[object] = []  # every event, in order (bounded by the session)
        self.latencies: collections.deque[float] = collections.deque(maxlen=10_000)
        self.connected = False
        self.stop_reason = ""
        self._connected_at = 0.0
        self._next_info_request = 0.0
        self._last_rep: Any = None
        self._counts = {"left": 0, "right": 0}
        self._flags_shown: collections.deque[str] = collections.deque(maxlen=options.flags_shown)
        self._ended = False
        self._stop_requested = ""  # set by request_stop (a signal handler)
        self._t_s = 0.0  # stream time of the last sample the pipeline has seen
        self.guide = guide
        if view is None:
            view = {"tty": TtyView, "lines": LinesView, "json": JsonView}[options.mode](self.out)
        self.view = view
        self.sinks: list[Sink] = [view, *sinks]
        if not options.quiet:
            self.sinks.insert(0, Bell(self.out, self.err))

    # ----------------------------------------------------------------- accessors

    @property
    def _source(self) -> str:
        """The link's name (a BLE name is the board's text): safe to show and store."""
        return clean_text(self.link.description, SOURCE_TEXT_MAX)

    @property
    def info(self) -> DeviceInfo | None:
        return self.stream.info

    @property
    def quality(self) -> LinkQuality:
        return self.stream.quality

    def reps_per_side(self) -> tuple[int, int]:
        return self._counts["left"], self._counts["right"]

    def state(self) -> LiveState:
        """A snapshot of what the views show now."""
        now = self.clock()
        start = self.stream.started_wall
        angle = getattr(self.pipeline, "angle_deg", math.nan) if self.pipeline else math.nan
        return LiveState(
            source=self._source,
            t_s=self._t_s,
            elapsed_s=now - start if start is not None else 0.0,
            link_state=(
                ("catching up (backfill)" if self.stream.holding else "streaming")
                if self.connected and self.pipeline
                else ("waiting for board" if self.connected else "RECONNECTING")
            ),
            left=self._counts["left"],
            right=self._counts["right"],
            target=self.options.target,
            angle_deg=angle,
            learning=not math.isfinite(angle),  # axis or centre not learned (yet / again)
            last_rep=self._last_rep,
            flags=list(self._flags_shown),
            quality=self.stream.update_quality(now),
            prompt=self.guide.prompt if self.guide is not None else "",
            ended=self._ended,
        )

    def render_view(self) -> list[str]:
        """The live view as text lines (also used by tests)."""
        return render_lines(self.state())

    # ----------------------------------------------------------------- link events

    def _on_connect(self, n: int) -> None:
        self.stream.connected(reconnect=n > 1)
        self.connected = True
        self._connected_at = self.clock()
        self._request_start()
        if n > 1:
            self._notice(Notice(f"reconnected ({self._source})", "connected"))

    def _on_lost(self, why: str) -> None:
        self.connected = False
        self.stream.lost()
        self._notice(Notice(f"link lost ({why}); reconnecting", "lost", error=why))

    def _request_start(self) -> None:
        self.link.write(encode_command("info"))
        self.link.write(encode_command("start"))
        self._next_info_request = self.clock() + self.options.info_retry_s

    def _notice(self, notice: Notice) -> None:
        if self.on_link is not None:
            self.on_link(notice.kind)
        state = self.state()
        for sink in self.sinks:
            sink.on_notice(notice, state)

    # ----------------------------------------------------------------- processing

    def feed_bytes(self, data: bytes, arrived: float | None = None) -> list[object]:
        """Process received bytes; returns the pipeline events they produced."""
        arrived = self.clock() if arrived is None else arrived
        self.recorder.raw_bytes(data)
        return self._handle(self.stream.feed(data, arrived))

    def _handle(self, items: list[Any]) -> list[object]:
        """Stream items -> pipeline / recorder / views; returns the pipeline events."""
        events: list[object] = []
        for item in items:
            if isinstance(item, SampleBlock):
                events.extend(self._feed_samples(item.samples, item.arrived))
            elif isinstance(item, StreamStarted):
                self._start_pipeline(item.info)
            elif isinstance(item, StreamNotice):
                self._notice(Notice(item.text, item.state))
        return events

    def _start_pipeline(self, info: DeviceInfo) -> None:
        self.pipeline = self._pipeline_cls(info.odr_hz, info.channels == 6, self.options.settings)
        self.recorder.start(info, self.options.source or self.link.description)
        self._recorder_news()

    def _feed_samples(self, block: Samples, arrived: float) -> list[object]:
        """Samples from the stream stage (already as recorded) -> recorder and pipeline."""
        if len(block) == 0 or self.pipeline is None:
            return []
        self.recorder.add(block)  # written in one go about once a second
        events = list(self.pipeline.feed(block))
        self._t_s = float(block.t_s[-1])
        now = self.clock()
        for ev in events:
            self._dispatch(ev, now - arrived)
        self._advance_guide()
        return events

    def _advance_guide(self) -> None:
        if self.guide is None or self.pipeline is None:
            return
        state = self.state()
        phrase = self.guide.update(state.t_s, state)
        if phrase is not None:
            ev = PromptEvent(state.t_s, phrase, self.guide.prompt)
            state.prompt = self.guide.prompt
            for sink in self.sinks:
                sink.on_event(ev, state)

    def _dispatch(self, ev: object, latency: float) -> None:
        self.latencies.append(latency)
        self.events.append(ev)
        if isinstance(ev, RepEvent):
            self._last_rep = ev.rep
            self._counts[ev.rep.side] = self._counts.get(ev.rep.side, 0) + 1
        elif isinstance(ev, FlagEvent):
            words = FLAG_WORDS.get(ev.kind, ev.kind.replace("_", " "))
            self._flags_shown.append(f"{words} ({ev.side})")
        state = self.state()
        for sink in self.sinks:
            sink.on_event(ev, state)
        if self.on_event is not None:
            self.on_event(ev, latency)

    def refresh(self) -> None:
        """Tick every sink (the terminal view redraws, the web view sends the gauge)."""
        state = self.state()
        for sink in self.sinks:
            sink.on_tick(state)

    # ----------------------------------------------------------------- run

    def _flush(self) -> None:
        """Write pending samples and hand them to the OS (cheap; fsync is in a thread)."""
        self.recorder.flush()
        self._recorder_news()

    def _recorder_news(self) -> None:
        for text in self.recorder.take_notices():  # disk full: said once, counting goes on
            self._notice(Notice(text, "recording_stopped"))

    def _target_reached(self) -> bool:
        tgt = self.options.target
        if not tgt:
            return False
        left, right = self.reps_per_side()
        return left >= tgt and right >= tgt

    def _check_board(self, now: float) -> None:
        """No info yet: ask again (error after ``info_timeout_s``); connected but silent
        for ``stall_s`` (board reset behind a UART bridge, or it stopped): ask again."""
        opts = self.options
        if self.connected and self.info is None:
            if now - self._connected_at > opts.info_timeout_s:
                self.stream.update_quality(now)
                why = self.stream.last_rejected
                raise InputError(
                    f"{self._source}: no device info from the board in "
                    f"{opts.info_timeout_s:g} s "
                    + (
                        f"({self.quality.info_rejected} refused, last: {why})"
                        if why
                        else "(is it running the imu-host firmware?)"
                    )
                )
            if now >= self._next_info_request:
                self._request_start()
        elif (
            self.connected
            and self.stream.last_wall is not None
            and now - max(self.stream.last_wall, self._connected_at) > opts.stall_s
            and now >= self._next_info_request
        ):
            self.stream.expect_gap()
            self._request_start()

    def request_stop(self, reason: str) -> None:
        """End the session at the next turn of the loop, as Ctrl-C does (safe to call
        from a signal handler: it only sets a flag)."""
        self._stop_requested = reason

    def _stop_reason(
        self, now: float, got_data: bool, should_stop: Callable[[], bool] | None
    ) -> str:
        opts = self.options
        start = self.stream.started_wall
        if self._stop_requested:
            return self._stop_requested
        if self._target_reached():
            return "target reached"
        if opts.duration_s is not None and start is not None and now - start >= opts.duration_s:
            return "duration reached"
        if not got_data and should_stop is not None and should_stop():
            return "source finished"
        return ""

    def run(self, should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Connect, stream until Ctrl-C / target / duration / ``should_stop()``; returns
        the summary dict (the pipeline's, same as replay) plus a ``live`` section."""
        opts = self.options
        try:
            self.recorder.open()  # recording target checked before connecting: fail fast
        except BaseException:
            for sink in self.sinks:  # stop the sinks' threads (web server, audio)
                sink.close()
            raise
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
                    else:
                        self._handle(self.stream.tick(now))  # a backfill hold may be over
                    self._check_board(now)
                    if now >= next_refresh:
                        self.refresh()
                        next_refresh = now + 1.0 / opts.refresh_hz
                    if now >= next_flush:
                        self._flush()
                        next_flush = now + opts.flush_interval_s
                    self.stop_reason = self._stop_reason(now, bool(data), should_stop)
                    if self.stop_reason:
                        break
            except KeyboardInterrupt:
                self.stop_reason = "interrupted"
            with contextlib.suppress(Exception):
                self.link.write(encode_command("stop"))
            self.finish()
        finally:
            self.link.close()
            self._close_outputs()
        return self.summary()

    def finish(self) -> list[object]:
        """End of stream: let the pipeline close a rep that came back (as replay does)."""
        self._handle(self.stream.drain(self.clock()))  # samples held for the backfill
        if self.pipeline is None:
            return []
        events = list(self.pipeline.finish())
        for ev in events:
            self._dispatch(ev, 0.0)
        return events

    def _close_outputs(self) -> None:
        self._ended = True
        for sink in self.sinks:
            sink.close()
        self.recorder.close()

    def summary(self) -> dict[str, Any]:
        q = self.stream.update_quality(self.clock())
        base = self.pipeline.summary() if self.pipeline is not None else {}
        base = dict(base)
        rec = self.recorder
        base["live"] = {
            "source": self._source,
            "stop_reason": self.stop_reason,
            **rec.outcome(),  # recording, recording_note, recording_stopped
            "raw_capture": str(rec.raw_capture) if rec.raw_capture is not None else None,
            "samples": q.samples,
            "samples_lost": q.samples_lost,
            "device_dropped": q.device_dropped,
            "crc_errors": q.crc_errors,
            "bytes_discarded": q.bytes_discarded,
            "duplicate_frames": q.duplicates,
            "info_rejected": q.info_rejected,
            "samples_refused": q.samples_refused,
            "device_resets": q.device_resets,
            "reconnects": q.reconnects,
            "backfilled": q.backfilled,
            "backfill_late": q.backfill_late,
        }
        if self.guide is not None:
            from imu_host.core.events import tempo_medians

            reps = self.pipeline.reps if self.pipeline is not None else []
            pace = self.guide.pace
            base["pace"] = {
                "guide": pace.to_dict(),
                "achieved": tempo_medians(reps),  # median descent / hold / return, s
                "reps_faster_down": sum(r.descent_s < pace.down_s for r in reps),
                "reps_shorter_hold": sum(r.hold_s < pace.hold_s for r in reps),
                "reps_faster_up": sum(r.return_s < pace.up_s for r in reps),
            }
        return base
