"""The terminal view (``live``/``demo`` on a terminal), drawn with rich.

:class:`RichView` is a view sink that redraws the whole screen on every event and tick
(alternate screen, cursor home, every line rewritten and cleared to its end, the rest of
the screen cleared), at the terminal's size as of that moment: a resize or a narrow
terminal never leaves half-drawn frames behind. It shows big digits for the counts per
side (green when the side's last rep was clean, red when it was flagged), the prompt
("roll once to each side" while the axis is being learned, the pacing guide's prompt,
"set complete"), the knee gauge with the target zone and the last rep's range marked,
the last rep, link quality and the most recent event lines, and with ``--web`` the
page's URL (and its QR code until the first rep, where the screen has room). On close
it leaves the alternate screen and prints the event lines, so they stay in the
scrollback.
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
from dataclasses import dataclass
from typing import IO

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from imu_host.core.events import RepEvent, flag_words
from imu_host.live.view import LiveState, Notice, NullSink, PromptEvent, format_event

FONT = {  # 3x5 block digits
    "0": ["███", "█ █", "█ █", "█ █", "███"],
    "1": [" █ ", "██ ", " █ ", " █ ", "███"],
    "2": ["███", "  █", "███", "█  ", "███"],
    "3": ["███", "  █", "███", "  █", "███"],
    "4": ["█ █", "█ █", "███", "  █", "  █"],
    "5": ["███", "█  ", "███", "  █", "███"],
    "6": ["███", "█  ", "███", "█ █", "███"],
    "7": ["███", "  █", "  █", "  █", "  █"],
    "8": ["███", "█ █", "███", "█ █", "███"],
    "9": ["███", "█ █", "███", "  █", "███"],
}


@dataclass(frozen=True)
class TermSettings:
    """Named numbers of the terminal view."""

    event_lines: int = 6  # recent event lines kept under the view
    big_min_width: int = 44  # narrower terminals: counts side by side in plain bold text
    gauge_span_deg: float = 90.0
    zone_deg: tuple[float, float] = (30.0, 60.0)  # target zone marked on the gauge
    default_size: tuple[int, int] = (80, 24)  # when the terminal size can't be read


def big_number(n: int, scale: int = 2) -> list[str]:
    """``n`` in 5 rows of block digits, each block ``scale`` characters wide."""
    rows = ["", "", "", "", ""]
    for k, ch in enumerate(str(n)):
        for i in range(5):
            rows[i] += ("  " if k else "") + "".join(c * scale for c in FONT[ch][i])
    return rows


def gauge_text(angle: float, last_rom: float | None, last_side: str | None, width: int,
               span: float, zone: tuple[float, float]) -> Text:  # fmt: skip
    """L [---==|==---] R with the target zone (=), the last rep's range (^) and the knee (O);
    left (+) is drawn left of centre."""
    width = max(11, width if width % 2 else width - 1)  # odd: the centre is one cell
    half = width // 2

    def pos(deg: float) -> int:
        return half - int(round(max(-span, min(span, deg)) / span * half))

    cells = ["-"] * width
    for sgn in (1, -1):
        for i in range(pos(sgn * zone[0]), pos(sgn * zone[1]), -sgn):
            cells[max(0, min(width - 1, i))] = "="
    cells[half] = "|"
    if last_rom is not None and last_side is not None:
        cells[max(0, min(width - 1, pos(last_rom if last_side == "left" else -last_rom)))] = "^"
    knee = math.isfinite(angle)
    if knee:
        cells[max(0, min(width - 1, pos(angle)))] = "O"
    t = Text("L [")
    for c in cells:
        style = {"=": "green", "^": "yellow bold", "O": "bold white", "|": "dim"}.get(c, "dim")
        t.append(c, style=style)
    t.append("] R ")
    t.append(f"{abs(angle):3.0f} deg" if knee else "--- deg", style="bold")
    return t


class RichView(NullSink):
    """Full-screen terminal view; see the module docstring."""

    def __init__(
        self, out: IO[str], settings: TermSettings | None = None, note: str = "", qr: str = ""
    ) -> None:
        self.out = out
        self.note = note  # one line under the view (e.g. the web view's URL)
        self.qr = qr  # shown under it until the first rep, when the screen is tall enough
        self.settings = settings or TermSettings()
        self.console = Console(file=out, force_terminal=True, highlight=False, soft_wrap=False)
        self.events: collections.deque[str] = collections.deque(maxlen=self.settings.event_lines)
        self.all_events: list[str] = []
        self._side_flagged: dict[str, bool | None] = {"left": None, "right": None}
        self._on = False
        self._last_state: LiveState | None = None

    # ------------------------------------------------------------- sink

    def on_event(self, ev: object, state: LiveState) -> None:
        if isinstance(ev, RepEvent):
            self._side_flagged[ev.rep.side] = bool(ev.rep.flags)
        line = format_event(ev)
        if not isinstance(ev, PromptEvent):
            self.all_events.append(line)
        self.events.append(line)
        self._draw(state)

    def on_notice(self, notice: Notice, state: LiveState) -> None:
        self.events.append(f"-- {notice.text}")
        self.all_events.append(f"-- {notice.text}")
        self._draw(state)

    def on_tick(self, state: LiveState) -> None:
        self._draw(state)

    def close(self) -> None:
        if self._on:
            self._write("\x1b[?25h\x1b[?1049l")  # cursor back, leave the alternate screen
            self._on = False
        if self.all_events:
            self._write("\n".join(self.all_events) + "\n")

    # ------------------------------------------------------------- drawing

    def _size(self) -> tuple[int, int]:
        try:
            sz = os.get_terminal_size(self.out.fileno())
            return sz.columns, sz.lines
        except (AttributeError, OSError, ValueError):
            return self.settings.default_size

    def _write(self, text: str) -> None:
        with contextlib.suppress(ValueError, OSError):
            self.out.write(text)
            self.out.flush()

    def _draw(self, state: LiveState) -> None:
        self._last_state = state
        width, height = self._size()
        self.console.size = (width, height)
        with self.console.capture() as cap:
            self.console.print(self.frame(state, width), crop=True, overflow="crop")
        lines = cap.get().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        lines = lines[: max(1, height - 1)]  # never scroll: the frame fits the screen
        start = "" if self._on else "\x1b[?1049h\x1b[?25l"  # alternate screen, no cursor
        self._on = True
        self._write(start + "\x1b[H" + "".join(ln + "\x1b[K\n" for ln in lines) + "\x1b[J")

    def _count_style(self, side: str) -> str:
        flagged = self._side_flagged[side]
        return "bold" if flagged is None else ("bold red" if flagged else "bold green")

    def frame(self, s: LiveState, width: int) -> Group:
        """The whole screen for state ``s`` at ``width`` columns."""
        st = self.settings
        parts: list[Text | Table] = []
        mm, ss = divmod(max(0, int(s.elapsed_s)), 60)
        head = Text(f"imu-host live  {mm:02d}:{ss:02d}  ", no_wrap=True, overflow="ellipsis")
        head.append(
            f"[{s.link_state}]", style="green" if s.link_state == "streaming" else "red bold"
        )
        head.append(f"  {s.source}", style="dim")
        parts.append(head)
        prompt = s.prompt
        tgt = s.target
        if tgt and s.left >= tgt and s.right >= tgt:
            prompt = "set complete"
        elif s.learning and s.link_state == "streaming":
            prompt = "roll once to each side"
        parts.append(Text(prompt.upper() if prompt else " ", style="bold yellow"))
        of = f"of {tgt}" if tgt else "reps"
        if width >= st.big_min_width:
            grid = Table.grid(padding=(0, 4))
            grid.add_column()
            grid.add_column()
            grid.add_row(Text("LEFT", style="bold"), Text("RIGHT", style="bold"))
            lrows, rrows = big_number(s.left), big_number(s.right)
            for a, b in zip(lrows, rrows, strict=True):
                grid.add_row(Text(a, style=self._count_style("left")),
                             Text(b, style=self._count_style("right")))  # fmt: skip
            grid.add_row(Text(of, style="dim"), Text(of, style="dim"))
            parts.append(grid)
        else:
            t = Text("L ")
            t.append(str(s.left), style=self._count_style("left"))
            t.append(f" {of}   R ")
            t.append(str(s.right), style=self._count_style("right"))
            t.append(f" {of}")
            parts.append(t)
        r = s.last_rep
        parts.append(
            gauge_text(
                s.angle_deg,
                r.rom_deg if r else None,
                r.side if r else None,
                min(61, width - 14),
                st.gauge_span_deg,
                st.zone_deg,
            )  # fmt: skip
        )
        if r is not None:
            t = Text(f"last #{r.index} {r.side} {r.rom_deg:.0f} deg  "
                     f"down {r.descent_s:.1f}s hold {r.hold_s:.1f}s up {r.return_s:.1f}s  ")  # fmt: skip
            t.append(
                flag_words(r.flags),
                style="bold red" if r.flags else "bold green",
            )
            parts.append(t)
        else:
            parts.append(Text("last -", style="dim"))
        q = s.quality
        link = (f"link {q.rate_sps:.0f}/s  lost {q.samples_lost + q.device_dropped}  "
                f"crc errors {q.crc_errors}  reconnects {q.reconnects}")  # fmt: skip
        if q.battery_mv:
            link += f"  battery {q.battery_mv / 1000:.2f} V"
        parts.append(Text(link, style="dim"))
        if s.flags:
            parts.append(Text("flags " + "  ".join(s.flags), style="red"))
        for line in self.events:
            style = "red" if " FLAG " in line else ("yellow" if line.startswith("--") else "")
            parts.append(Text(line.strip(), style=style, no_wrap=True, overflow="ellipsis"))
        if self.note:
            parts.append(Text(self.note, style="cyan", no_wrap=True, overflow="ellipsis"))
        if self.qr and s.left + s.right == 0:
            qr_rows = self.qr.rstrip("\n").split("\n")
            used = sum(len(p.plain.split("\n")) if isinstance(p, Text) else 8 for p in parts)
            if used + len(qr_rows) < self._size()[1] and max(map(len, qr_rows)) <= width:
                parts.append(Text("\n".join(qr_rows)))
        return Group(*parts)
