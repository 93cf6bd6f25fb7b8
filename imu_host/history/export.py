"""History output: the plain-text table, the CSV export and the trend plot (PNG).

API::

    format_table(rows) -> str;  write_csv(rows, path);  plot_history(rows, path)
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from imu_host.errors import InputError
from imu_host.history.store import SessionRow
from imu_host.paths import create_exclusive


def _f(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _local(dt: datetime) -> datetime:
    return dt.astimezone()


TABLE_HEADER = (
    "id",
    "date",
    "left",
    "right",
    "clean%",
    "ROM L",
    "ROM R",
    "asym%",
    "fast%",
    "source",
)


# shown before ``source`` only when a multi-board session is in the table (a table of
# single-board sessions stays as it was): the share of the checked reps to the left/right
# that were flagged, in %
MULTI_TABLE_HEADER = ("apart% L/R", "shoulder% L/R")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}"


def _rates(a: float | None, b: float | None) -> str:
    return "-" if a is None and b is None else f"{_pct(a)}/{_pct(b)}"


def _has_multi(rows: Sequence[SessionRow]) -> bool:
    return any(r.boards is not None for r in rows)


def table_rows(rows: Sequence[SessionRow]) -> list[list[str]]:
    """The history table as strings (one list per session, matching :func:`table_header`)."""
    out = []
    multi = _has_multi(rows)
    for r in rows:
        fdr = None if r.fast_drop_rate is None else 100 * r.fast_drop_rate
        out.append(
            [
                str(r.id),
                _local(r.started_at).strftime("%Y-%m-%d %H:%M"),
                str(r.reps_left),
                str(r.reps_right),
                _f(r.clean_pct, ".0f"),
                _f(r.rom_left_deg, ".1f"),
                _f(r.rom_right_deg, ".1f"),
                _f(r.asymmetry_pct, ".0f"),
                _f(fdr, ".0f"),
                *(
                    [
                        _rates(r.knees_apart_rate("left"), r.knees_apart_rate("right")),
                        _rates(r.shoulder_lift_rate("left"), r.shoulder_lift_rate("right")),
                    ]
                    if multi
                    else []
                ),  # fmt: skip
                r.source,
            ]
        )
    return out


def table_header(rows: Sequence[SessionRow]) -> tuple[str, ...]:
    """TABLE_HEADER, with the multi-board columns before ``source`` when needed."""
    if not _has_multi(rows):
        return TABLE_HEADER
    return TABLE_HEADER[:-1] + MULTI_TABLE_HEADER + TABLE_HEADER[-1:]


MULTI_NOTE = (
    "apart% L/R, shoulder% L/R: of the reps to the left/right, how many (%) the knees came "
    "apart on and the opposite shoulder lifted on (sessions with two or three sensors; "
    "- : not checked)"
)


def format_table(rows: Sequence[SessionRow]) -> str:
    """A plain-text table, one line per session."""
    body = table_rows(rows)
    if not body:
        return "no sessions stored"
    header = table_header(rows)
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    last = len(header) - 1  # source

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if i in (1, last) else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    lines = [line(header), *(line(b) for b in body)]
    if header is not TABLE_HEADER:
        lines.append(MULTI_NOTE)
    return "\n".join(lines)


CSV_COLUMNS = (
    "id",
    "started_at",
    "source",
    "duration_s",
    "reps_left",
    "reps_right",
    "reps_total",
    "clean_reps",
    "clean_pct",
    "rom_left_deg",
    "rom_right_deg",
    "asymmetry_pct",
    "fast_drops",
    "fast_drop_rate_pct",
    "target_per_side",
    # multi-board sessions (empty for single-board ones): roles, reps flagged per side
    "boards",
    "knees_apart_left",
    "knees_apart_right",
    "shoulder_lift_left",
    "shoulder_lift_right",
    # ... and the reps checked, the rates (% of the checked reps) and the largest figures
    "knees_checked_left",
    "knees_checked_right",
    "trunk_checked_left",
    "trunk_checked_right",
    "knees_apart_left_pct",
    "knees_apart_right_pct",
    "shoulder_lift_left_pct",
    "shoulder_lift_right_pct",
    "separation_max_left_deg",
    "separation_max_right_deg",
    "trunk_roll_max_left_deg",
    "trunk_roll_max_right_deg",
)


def write_csv(rows: Sequence[SessionRow], path: str | Path) -> Path:
    """One CSV line per session (CSV_COLUMNS; started_at in ISO 8601 UTC).

    Never overwrites: an existing file (e.g. a recording) is refused with one line.
    """
    p = Path(path)

    def num(v: float | None, nd: int = 2) -> str:
        return "" if v is None else str(round(v, nd))

    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for r in rows:
        w.writerow(
            [
                r.id,
                r.started_at.isoformat(),
                r.source,
                num(r.duration_s, 1),
                r.reps_left,
                r.reps_right,
                r.reps_total,
                r.clean_reps,
                num(r.clean_pct, 1),
                num(r.rom_left_deg),
                num(r.rom_right_deg),
                num(r.asymmetry_pct, 1),
                r.fast_drops,
                num(None if r.fast_drop_rate is None else 100 * r.fast_drop_rate, 1),
                "" if r.target_per_side is None else r.target_per_side,
                "" if r.boards is None else " ".join(r.boards),
                *(
                    "" if v is None else v
                    for v in (
                        r.knees_apart_left,
                        r.knees_apart_right,
                        r.shoulder_lift_left,
                        r.shoulder_lift_right,
                        r.knees_checked_left,
                        r.knees_checked_right,
                        r.trunk_checked_left,
                        r.trunk_checked_right,
                    )
                ),
                *(
                    num(None if v is None else 100 * v, 1)
                    for v in (
                        r.knees_apart_rate("left"),
                        r.knees_apart_rate("right"),
                        r.shoulder_lift_rate("left"),
                        r.shoulder_lift_rate("right"),
                    )
                ),
                *(
                    num(v, 1)
                    for v in (
                        r.separation_max_left_deg,
                        r.separation_max_right_deg,
                        r.trunk_roll_max_left_deg,
                        r.trunk_roll_max_right_deg,
                    )
                ),
            ]  # fmt: skip
        )
    _write_new(p, buf.getvalue().encode("utf-8"), "CSV")
    return p


def _write_new(path: Path, data: bytes, what: str) -> None:
    """Write ``data`` to a new file at ``path`` (0600); an existing file is never replaced."""
    f = create_exclusive(path, f"file (choose a new name for the {what})")
    try:
        with f:
            f.write(data)
    except OSError as err:
        with contextlib.suppress(OSError):
            path.unlink()  # our own half-written file
        raise InputError(f"cannot write {what}: {err.strerror}", path=str(path)) from None


ASYMMETRY_LINE_PCT = 20.0  # the report's feedback threshold, drawn on the asymmetry panel
MAX_TICK_LABELS = 12  # session labels on the x axis (thinned beyond this)


def session_labels(rows: Sequence[SessionRow]) -> list[str]:
    """x tick labels: the local date, plus the time when a day has more than one session."""
    days = [_local(r.started_at).date() for r in rows]
    out = []
    for r, d in zip(rows, days, strict=True):
        text = f"{d:%d %b}"
        if days.count(d) > 1:
            text += f"\n{_local(r.started_at):%H:%M}"
        out.append(text)
    return out


def sessions_per_week(rows: Sequence[SessionRow]) -> list[tuple[date, int]]:
    """(Monday of the week, sessions that week) for every week from the first to the last."""
    if not rows:
        return []
    mondays = [
        _local(r.started_at).date() - timedelta(days=_local(r.started_at).weekday()) for r in rows
    ]
    first, last = min(mondays), max(mondays)
    weeks = []
    d = first
    while d <= last:
        weeks.append((d, mondays.count(d)))
        d += timedelta(days=7)
    return weeks


def plot_history(rows: Sequence[SessionRow], path: str | Path) -> Path:
    """Trend PNG (six panels): reps done vs prescribed, clean %, range of motion per side,
    asymmetry, fast-drop rate and sessions per week; when the history holds multi-board
    sessions, two more (:func:`_multi_panels`): knees-apart and shoulder-lift rates per
    side, and the largest gap between the knees and upper-body roll with their limits.

    Sessions are drawn one per step on the x axis (labelled with their date, and the time
    when a day has several), so ticks stay readable however the sessions fall in time.
    Never overwrites an existing file.
    """
    from imu_host.report.figure import MATPLOTLIB_MISSING, SIDE_COLORS

    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError(MATPLOTLIB_MISSING) from None
    p = Path(path)
    if p.exists() or p.is_symlink():
        raise InputError(
            "already exists; refusing to overwrite a file (choose a new name for the plot)",
            path=str(p),
        )
    n = len(rows)
    x = list(range(1, n + 1))
    nan = float("nan")

    def val(v: float | None, scale: float = 1.0) -> float:
        return nan if v is None else v * scale

    multi = _has_multi(rows)
    fig = Figure(figsize=(13, 12 if multi else 9), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(4 if multi else 3, 2)
    (a_reps, a_clean), (a_rom, a_asym), (a_fast, a_week) = axes[:3]
    per_session = [a_reps, a_clean, a_rom, a_asym, a_fast]
    if multi:
        _multi_panels(rows, x, axes[3][0], axes[3][1])
        per_session += list(axes[3])
    w = 0.38
    a_reps.bar([i - w / 2 for i in x], [r.reps_left for r in rows], w, color=SIDE_COLORS["left"],
               label="left")  # fmt: skip
    a_reps.bar([i + w / 2 for i in x], [r.reps_right for r in rows], w,
               color=SIDE_COLORS["right"], label="right")  # fmt: skip
    targets = [val(r.target_per_side) for r in rows]
    if any(t == t for t in targets):
        a_reps.plot(x, targets, ls="", marker="_", ms=28, mew=2.5, color="black",
                    label="prescribed per side")  # fmt: skip
    a_reps.set_title("Reps done per side vs prescribed")
    a_reps.set_ylabel("reps")
    done = [float(r.reps_left) for r in rows] + [float(r.reps_right) for r in rows]
    top = max(done + [t for t in targets if t == t] + [1.0])
    a_reps.set_ylim(0, top * 1.45)  # room for the legend above the bars
    a_reps.legend(loc="upper left", fontsize=8, ncol=3)

    a_clean.plot(x, [val(r.clean_pct) for r in rows], marker="o", color="#2ca02c")
    a_clean.set_ylim(0, 105)
    a_clean.set_title("Clean reps (no fault)")
    a_clean.set_ylabel("% of reps")

    for side, attr in (("left", "rom_left_deg"), ("right", "rom_right_deg")):
        a_rom.plot(x, [val(getattr(r, attr)) for r in rows], marker="o",
                   color=SIDE_COLORS[side], label=side)  # fmt: skip
    a_rom.set_ylim(bottom=0)
    a_rom.set_title("Range of motion per side (average)")
    a_rom.set_ylabel("degrees")
    a_rom.legend(loc="best", fontsize=8)

    asym = [val(r.asymmetry_pct) for r in rows]
    a_asym.bar(x, [0.0 if v != v else v for v in asym], color="#7f7f7f", width=0.6)
    a_asym.axhline(ASYMMETRY_LINE_PCT, color="#d62728", ls="--", lw=1,
                   label=f"{ASYMMETRY_LINE_PCT:.0f}%: one side clearly tighter")  # fmt: skip
    a_asym.set_ylim(0, max([v for v in asym if v == v] + [ASYMMETRY_LINE_PCT]) * 1.3)
    a_asym.set_title("Difference in range between the sides")
    a_asym.set_ylabel("%")
    a_asym.legend(loc="upper right", fontsize=8)

    rate = [val(r.fast_drop_rate, 100.0) for r in rows]
    a_fast.plot(x, rate, marker="o", color="#d62728")
    a_fast.set_ylim(0, max([v for v in rate if v == v] + [10.0]) * 1.15)
    a_fast.set_title("Drops that were too fast")
    a_fast.set_ylabel("% of reps")

    labels = session_labels(rows)
    step = max(1, -(-n // MAX_TICK_LABELS))
    for ax in per_session:
        ax.set_xticks(x[::step], labels[::step], fontsize=8)
        ax.set_xlim(0.4, n + 0.6)
        ax.grid(alpha=0.3)
        ax.set_xlabel("session")

    weeks = sessions_per_week(rows)
    wx = list(range(len(weeks)))
    a_week.bar(wx, [c for _d, c in weeks], color="#1f77b4", width=0.6)
    wstep = max(1, -(-len(weeks) // MAX_TICK_LABELS))
    a_week.set_xticks(wx[::wstep], [f"{d:%d %b}" for d, _c in weeks][::wstep], fontsize=8)
    a_week.set_xlim(-0.6, max(len(weeks) - 1, 3) + 0.6)  # one week: still a bar, not a wall
    a_week.set_title("Sessions per week")
    a_week.set_xlabel("week starting")
    a_week.set_ylabel("sessions")
    a_week.yaxis.get_major_locator().set_params(integer=True)
    a_week.grid(axis="y", alpha=0.3)

    span = ""
    if rows:
        d0, d1 = _local(rows[0].started_at), _local(rows[-1].started_at)
        span = f" ({d0:%d %b %Y}" + ("" if d0.date() == d1.date() else f" to {d1:%d %b %Y}") + ")"
    fig.suptitle(f"Knee rolls: progress over {n} session{'s' if n != 1 else ''}{span}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    _write_new(p, buf.getvalue(), "plot")
    return p


def multi_trend(rows: Sequence[SessionRow]) -> dict[str, Any]:
    """The series of the multi-board trend panels, one value per session (None: a
    single-board session, or a check the session could not do): per side the % of checked
    reps flagged knees apart / shoulder lift; the largest gap between the knees and the
    largest upper-body roll (deg, either side); the limits the sessions used."""

    def pct(v: float | None) -> float | None:
        return None if v is None else 100.0 * v

    def top(a: float | None, b: float | None) -> float | None:
        vals = [v for v in (a, b) if v is not None]
        return max(vals) if vals else None

    return {
        "knees_apart_pct": {s: [pct(r.knees_apart_rate(s)) for r in rows] for s in SIDES},
        "shoulder_lift_pct": {s: [pct(r.shoulder_lift_rate(s)) for r in rows] for s in SIDES},
        "separation_max_deg": [
            top(r.separation_max_left_deg, r.separation_max_right_deg) for r in rows
        ],
        "trunk_roll_max_deg": [
            top(r.trunk_roll_max_left_deg, r.trunk_roll_max_right_deg) for r in rows
        ],
        "separation_limit_deg": sorted(
            {r.separation_limit_deg for r in rows if r.separation_limit_deg is not None}
        ),
        "trunk_roll_limit_deg": sorted(
            {r.trunk_roll_limit_deg for r in rows if r.trunk_roll_limit_deg is not None}
        ),
    }


SIDES = ("left", "right")
# the four rate series side by side within a session step, so equal values stay visible
RATE_OFFSETS = {("knees", "left"): -0.12, ("knees", "right"): -0.04,
                ("shoulder", "left"): 0.04, ("shoulder", "right"): 0.12}  # fmt: skip


def _multi_panels(rows: Sequence[SessionRow], x: list[int], a_rate: Any, a_fig: Any) -> None:
    """Draw :func:`multi_trend`: the rates per side (knees: solid, shoulders: dashed) and
    the largest figures with their limits. Single-board sessions leave a gap."""
    from imu_host.report.figure import GAP_COLOR, SIDE_COLORS, TRUNK_COLOR

    tr = multi_trend(rows)

    def f(vals: Sequence[float | None]) -> list[float]:
        return [float("nan") if v is None else v for v in vals]

    for side in SIDES:
        for kind, key, marker, ls, words in (
            ("knees", "knees_apart_pct", "D", "-", "knees came apart"),
            ("shoulder", "shoulder_lift_pct", "P", "--", "shoulder lifted"),
        ):
            off = RATE_OFFSETS[(kind, side)]
            a_rate.plot([i + off for i in x], f(tr[key][side]), marker=marker, ms=6, ls=ls,
                        color=SIDE_COLORS[side], label=f"{words}, {side}")  # fmt: skip
    a_rate.set_ylim(-3, 140)  # room for the legend above 100 %
    a_rate.set_title("Knees apart and shoulder lift (two or three sensors)")
    a_rate.set_ylabel("% of checked reps")
    a_rate.legend(loc="upper left", fontsize=8, ncol=2)

    gap, trunk = f(tr["separation_max_deg"]), f(tr["trunk_roll_max_deg"])
    a_fig.plot(x, gap, marker="D", ms=6, color=GAP_COLOR, label="largest gap between the knees")
    a_fig.plot(x, trunk, marker="P", ms=7, color=TRUNK_COLOR, label="largest upper-body roll")
    limits = [(v, GAP_COLOR, "knees apart above") for v in tr["separation_limit_deg"]] + [
        (v, TRUNK_COLOR, "shoulder lift above") for v in tr["trunk_roll_limit_deg"]
    ]
    for lim, color, words in limits:
        a_fig.axhline(lim, color=color, ls=":", lw=1.2, label=f"limit: {words} {lim:.0f}°")
    finite = [v for v in gap + trunk + [lim for lim, _c, _w in limits] if v == v]
    a_fig.set_ylim(0, max(finite + [10.0]) * 1.45)
    a_fig.set_title("Largest gap between the knees and upper-body roll")
    a_fig.set_ylabel("degrees")
    a_fig.legend(loc="upper left", fontsize=8, ncol=2)
