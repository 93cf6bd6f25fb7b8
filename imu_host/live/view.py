"""View sinks: everything a live session shows, says or serves goes through one interface.

A sink (:class:`Sink`) gets

* ``on_event(ev, state)`` at once for each pipeline event (rep, flag, gap) and for the
  pacing guide's :class:`PromptEvent`,
* ``on_notice(notice, state)`` for link news (:class:`Notice`: "lost", "connected",
  "device_reset", "info_changed", "info_back", "recording_stopped"),
* ``on_tick(state)`` a few times a second (``refresh_hz``) to redraw,
* ``close()`` at the end of the session.

``state`` is a :class:`LiveState` snapshot made by the session, so sinks never reach
into the session. The text sinks here: :class:`TtyView` (a view redrawn in place under
the event lines), :class:`LinesView` (one line per event, for pipes) and
:class:`JsonView` (one JSON object per event); :class:`Bell` rings the terminal bell on
form flags. The full-screen terminal view (:mod:`imu_host.live.term`, what the CLI uses
on a terminal), the speech coach (:mod:`imu_host.live.coach`) and the web view
(:mod:`imu_host.live.web`) are sinks too. A sink must return quickly: it runs on the
counting loop.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from imu_host.core.events import FLAG_WORDS, FlagEvent, GapEvent, Rep, RepEvent, flag_words
from imu_host.live.stream import LinkQuality


@dataclass
class LiveState:
    """What every view shows, as of one moment of the session."""

    source: str = ""
    t_s: float = 0.0  # stream time of the last sample (the recording's time axis)
    elapsed_s: float = 0.0
    # "streaming" / "catching up (backfill)" / "waiting for board" / "RECONNECTING"
    link_state: str = "waiting for board"
    left: int = 0
    right: int = 0
    target: int | None = None
    angle_deg: float = math.nan  # knee angle relative to the learned centre (NaN: unknown)
    learning: bool = True  # no knee angle (axis/centre not learned): ask for a roll each way
    last_rep: Rep | None = None
    flags: list[str] = field(default_factory=list)  # the last few flags, "kind (side)"
    quality: LinkQuality = field(default_factory=LinkQuality)
    prompt: str = ""  # the pacing guide's current prompt ("" without a guide)
    ended: bool = False

    def to_dict(self) -> dict[str, Any]:
        r = self.last_rep
        q = self.quality
        return {
            "source": self.source,
            "t_s": round(self.t_s, 3),
            "elapsed_s": round(self.elapsed_s, 1),
            "link_state": self.link_state,
            "left": self.left,
            "right": self.right,
            "target": self.target,
            "angle_deg": None if not math.isfinite(self.angle_deg) else round(self.angle_deg, 1),
            "learning": self.learning,
            "last_rep": r.to_dict() if r is not None else None,
            "flags": list(self.flags),
            "link": {
                "rate_sps": round(q.rate_sps, 1),
                "lost": q.samples_lost + q.device_dropped,
                "crc_errors": q.crc_errors,
                "reconnects": q.reconnects,
                "battery_mv": q.battery_mv,
            },
            "prompt": self.prompt,
            "ended": self.ended,
        }


@dataclass(frozen=True)
class PromptEvent:
    """The pacing guide's new prompt (``phrase`` is what the coach says; ``text`` what
    the views show). Given to sinks' ``on_event``; not a pipeline event."""

    t_s: float
    phrase: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"event": "prompt", "t_s": round(self.t_s, 3), "prompt": self.text}


@dataclass(frozen=True)
class Notice:
    """Link news: ``kind`` is "lost", "connected", "device_reset", "info_changed",
    "info_back" or "recording_stopped" (disk full: said once);
    ``text`` is the sentence to show, ``error`` why the link was lost."""

    text: str
    kind: str
    error: str = ""


class Sink(Protocol):
    def on_event(self, ev: object, state: LiveState) -> None: ...

    def on_notice(self, notice: Notice, state: LiveState) -> None: ...

    def on_tick(self, state: LiveState) -> None: ...

    def close(self) -> None: ...


class NullSink:
    """A sink that does nothing (base for sinks that need only some callbacks)."""

    def on_event(self, ev: object, state: LiveState) -> None:
        pass

    def on_notice(self, notice: Notice, state: LiveState) -> None:
        pass

    def on_tick(self, state: LiveState) -> None:
        pass

    def close(self) -> None:
        pass


def _write(out: IO[str], text: str) -> None:
    # closed stream at interpreter exit, or a terminal that went away (SIGHUP, EIO)
    with contextlib.suppress(ValueError, OSError):
        out.write(text)
        out.flush()


class Bell(NullSink):
    """The terminal bell on each form flag, on whichever of out/err is a terminal."""

    def __init__(self, out: IO[str], err: IO[str]) -> None:
        self.streams = (out, err)

    def on_event(self, ev: object, state: LiveState) -> None:
        if not isinstance(ev, FlagEvent):
            return
        for stream in self.streams:
            isatty = getattr(stream, "isatty", None)
            if isatty is not None and isatty():
                _write(stream, "\a")
                return


class LinesView(NullSink):
    """One line per event (for pipes and logs); link news as ``-- text`` lines."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def on_event(self, ev: object, state: LiveState) -> None:
        _write(self.out, format_event(ev) + "\n")

    def on_notice(self, notice: Notice, state: LiveState) -> None:
        _write(self.out, f"-- {notice.text}\n")


class JsonView(NullSink):
    """One JSON object per event; link news as ``{"event": "link", "state": ...}``."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def on_event(self, ev: object, state: LiveState) -> None:
        _write(self.out, json.dumps(ev.to_dict()) + "\n")  # type: ignore[attr-defined]

    def on_notice(self, notice: Notice, state: LiveState) -> None:
        payload: dict[str, Any] = {"event": "link", "state": notice.kind}
        if notice.error:
            payload["error"] = notice.error
        _write(self.out, json.dumps(payload) + "\n")


class TtyView(LinesView):
    """Event lines scrolling above a small view (:func:`render_lines`) redrawn in place."""

    def __init__(self, out: IO[str]) -> None:
        super().__init__(out)
        self._view_lines = 0

    def _clear(self) -> None:
        if self._view_lines:
            _write(self.out, f"\x1b[{self._view_lines}F\x1b[J")
            self._view_lines = 0

    def _draw(self, state: LiveState) -> None:
        lines = render_lines(state)
        _write(self.out, "\n".join(lines) + "\n")
        self._view_lines = len(lines)

    def on_event(self, ev: object, state: LiveState) -> None:
        self._clear()
        super().on_event(ev, state)
        self._draw(state)

    def on_notice(self, notice: Notice, state: LiveState) -> None:
        self._clear()
        super().on_notice(notice, state)
        self._draw(state)

    def on_tick(self, state: LiveState) -> None:
        self._clear()
        self._draw(state)

    def close(self) -> None:
        self._clear()


# --------------------------------------------------------------------- formatting


def render_lines(s: LiveState) -> list[str]:
    """The live view as text lines."""
    lines = [f"imu-host live  {s.source}  {_mmss(s.elapsed_s)}  [{s.link_state}]"]
    lines.append(f"  reps   L {_progress(s.left, s.target)}    R {_progress(s.right, s.target)}")
    lines.append(f"  knee   {_gauge(s.angle_deg if math.isfinite(s.angle_deg) else None)}")
    r = s.last_rep
    if r is not None:
        fl = flag_words(r.flags)
        lines.append(
            f"  last   #{r.index} {r.side:<5} range {r.rom_deg:4.0f} deg  "
            f"down {r.descent_s:.1f}s hold {r.hold_s:.1f}s up {r.return_s:.1f}s  [{fl}]"
        )
    else:
        lines.append("  last   -")
    q = s.quality
    lines.append(
        f"  link   {q.rate_sps:5.0f} samples/s  lost {q.samples_lost + q.device_dropped}  "
        f"crc errors {q.crc_errors}  junk {q.bytes_discarded} B  reconnects {q.reconnects}"
    )
    if s.flags:
        lines.append("  flags  " + "  ".join(s.flags))
    return lines


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
    if angle is None or not math.isfinite(angle):
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
        fl = f"  flags: {flag_words(r.flags)}" if r.flags else ""
        return (
            f"{ev.t_s:8.2f}s  REP  #{r.index} {r.side:<5} range {r.rom_deg:.0f} deg  "
            f"down {r.descent_s:.1f}s hold {r.hold_s:.1f}s up {r.return_s:.1f}s  "
            f"peak {r.peak_descent_dps:.0f} deg/s{fl}"
        )
    if isinstance(ev, FlagEvent):
        unit = "deg" if ev.kind == "bounce" else "deg/s"
        words = FLAG_WORDS.get(ev.kind, ev.kind.replace("_", " "))
        return f"{ev.t_s:8.2f}s  FLAG {words} ({ev.side}) {ev.value:.0f} {unit}"
    if isinstance(ev, GapEvent):
        return f"{ev.t_s:8.2f}s  GAP  no data {ev.start_s:.2f}-{ev.end_s:.2f}s"
    if isinstance(ev, PromptEvent):
        return f"{ev.t_s:8.2f}s  PACE {ev.text}"
    return str(ev)
