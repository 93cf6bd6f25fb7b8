"""History output: the plain-text table, the CSV export and the trend plot (PNG).

API::

    format_table(rows) -> str;  write_csv(rows, path);  plot_history(rows, path)
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from imu_host.errors import InputError
from imu_host.history.store import SessionRow


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


def table_rows(rows: Sequence[SessionRow]) -> list[list[str]]:
    """The history table as strings (one list per session, matching TABLE_HEADER)."""
    out = []
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
                r.source,
            ]
        )
    return out


def format_table(rows: Sequence[SessionRow]) -> str:
    """A plain-text table, one line per session."""
    body = table_rows(rows)
    if not body:
        return "no sessions stored"
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(TABLE_HEADER)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if i in (1, 9) else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(TABLE_HEADER), *(line(b) for b in body)])


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
)


def write_csv(rows: Sequence[SessionRow], path: str | Path) -> Path:
    """One CSV line per session (CSV_COLUMNS; started_at in ISO 8601 UTC)."""
    p = Path(path)

    def num(v: float | None, nd: int = 2) -> str:
        return "" if v is None else str(round(v, nd))

    try:
        with p.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
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
                    ]
                )
    except OSError as err:
        raise InputError(f"cannot write CSV: {err.strerror}", path=str(p)) from None
    return p


def plot_history(rows: Sequence[SessionRow], path: str | Path) -> Path:
    """Trend PNG: ROM per side (top) and fast-drop rate (bottom) over session dates."""
    from imu_host.report.figure import MATPLOTLIB_MISSING, SIDE_COLORS

    try:
        import matplotlib.dates as mdates
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError(MATPLOTLIB_MISSING) from None
    # matplotlib plots naive datetimes; show local wall-clock time
    x = [_local(r.started_at).replace(tzinfo=None) for r in rows]
    fig = Figure(figsize=(10, 6.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    nan = float("nan")
    for side, attr in (("left", "rom_left_deg"), ("right", "rom_right_deg")):
        y = [nan if getattr(r, attr) is None else getattr(r, attr) for r in rows]
        ax1.plot(x, y, marker="o", color=SIDE_COLORS[side], label=f"{side}")
    ax1.set_ylabel("mean range of motion (°)")
    ax1.set_title("Range of motion per side")
    ax1.legend(loc="best", fontsize=9)
    ax1.grid(alpha=0.3)
    ax1.set_ylim(bottom=0)
    rate = [nan if r.fast_drop_rate is None else 100 * r.fast_drop_rate for r in rows]
    ax2.plot(x, rate, marker="o", color="#d62728", label="fast drops")
    ax2.set_ylabel("reps that were fast drops (%)")
    ax2.set_title("Fast-drop rate")
    ax2.set_ylim(0, max([v for v in rate if v == v] + [10.0]) * 1.15)
    ax2.grid(alpha=0.3)
    loc = mdates.AutoDateLocator()
    ax2.xaxis.set_major_locator(loc)
    ax2.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))
    ax2.set_xlabel("session date")
    fig.suptitle(f"Knee rolls: progress over {len(rows)} session{'s' if len(rows) != 1 else ''}")
    p = Path(path)
    try:
        fig.savefig(p, format="png")
    except OSError as err:
        raise InputError(f"cannot write plot: {err.strerror}", path=str(p)) from None
    return p
