"""The session figure (PNG): knee angle with reps, holds and faults; per-rep panels.

matplotlib is imported only inside :func:`render_figure` (importing this module is cheap);
if it is missing an :class:`~imu_host.errors.InputError` says how to install it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from imu_host.core.events import (
    BOUNCE,
    FAST_DROP,
    FAST_RETURN,
    LEFT,
    PARTIAL,
    RIGHT,
    FlagEvent,
    Rep,
)
from imu_host.errors import InputError
from imu_host.report.summary import (
    KNEES_APART,
    SHOULDER_LIFT,
    flag_marks,
    reconstruct_trace,
    rep_phases,
)

MATPLOTLIB_MISSING = (
    "plotting needs matplotlib, which is not installed: pip install 'imu-host[report]'"
)
SIDE_COLORS = {LEFT: "#1f77b4", RIGHT: "#ff7f0e"}
FLAG_STYLE = {  # kind -> (marker, colour, legend label)
    FAST_DROP: ("v", "#d62728", "dropped too fast"),
    BOUNCE: ("*", "#9467bd", "bounced at the end"),
    FAST_RETURN: ("^", "#8c2d04", "came back too fast"),
    PARTIAL: ("X", "#555555", "partial range"),
    KNEES_APART: ("D", "#17becf", "knees came apart"),  # multi-board sessions
    SHOULDER_LIFT: ("P", "#e377c2", "shoulder lifted"),
}
GAP_COLOR = FLAG_STYLE[KNEES_APART][1]  # multi-board panel: gap between the knees
TRUNK_COLOR = FLAG_STYLE[SHOULDER_LIFT][1]  # ... and upper-body roll
MULTI_HEADROOM = 1.35  # multi-board panel: the largest figure or limit times this
REP_BAND_ALPHA = 0.15  # shading of a rep's way out and back, in the side's colour
HOLD_COLOR = "#7f7f7f"  # the end-range hold: the same grey band for both sides
HOLD_ALPHA = 0.40
THRESHOLD_STYLE = {  # which threshold -> (colour, line style)
    "drop": ("#d62728", "--"),
    "return": ("#6a3d9a", "-."),
    "both": ("#222222", "--"),
}
ANGLE_HEADROOM = 1.3  # angle axis: the deepest rep's range times this
MIN_ANGLE_AXIS_DEG = 30.0  # ... but never less than this
NO_REPS_ANGLE_AXIS_DEG = 90.0  # a session without reps: up to the floor on either side


def _trace(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Same-length arrays with finite times (NaN angles stay: the line breaks there)."""
    n = min(len(t), len(y))
    t, y = t[:n], y[:n]
    ok = np.isfinite(t)
    return t[ok], y[ok]


def _canvas(size: tuple[float, float]) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError(MATPLOTLIB_MISSING) from None
    fig = Figure(figsize=size, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _angle_panel(
    ax: Any,
    reps: Sequence[Rep],
    t: np.ndarray,
    y: np.ndarray,
    reconstructed: bool,
    flag_events: Sequence[FlagEvent] | None,
) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    for rep in reps:
        sign = 1.0 if rep.side == LEFT else -1.0
        color = SIDE_COLORS.get(rep.side, "#999999")
        ph = rep_phases(rep)
        h0, h1 = ph["hold"]["start_s"], ph["hold"]["end_s"]
        # way out and way back in the side colour, the hold in grey: bands never overlap,
        # so each looks exactly like its legend swatch
        ax.axvspan(rep.start_s, h0, color=color, alpha=REP_BAND_ALPHA, lw=0)
        ax.axvspan(h1, rep.end_s, color=color, alpha=REP_BAND_ALPHA, lw=0)
        if h1 > h0:
            ax.axvspan(h0, h1, color=HOLD_COLOR, alpha=HOLD_ALPHA, lw=0)
        ax.annotate(
            str(rep.index),
            (rep.peak_s, sign * rep.rom_deg),
            xytext=(0, 9 * sign),
            textcoords="offset points",
            ha="center",
            va="bottom" if sign > 0 else "top",
            fontsize=8,
            color=color,
        )
    lim = max([r.rom_deg for r in reps] + [MIN_ANGLE_AXIS_DEG / ANGLE_HEADROOM]) * ANGLE_HEADROOM
    if not reps:
        lim = NO_REPS_ANGLE_AXIS_DEG
    ok = np.isfinite(y)
    clipped = bool(np.any(np.abs(y[ok]) > lim))
    if len(t):
        ax.plot(t, np.clip(y, -lim, lim), color="black", lw=1.0, ls="--" if reconstructed else "-")
    ax.axhline(0, color="gray", lw=0.6)
    seen_kinds: list[str] = []
    for ts_, kind, _side in flag_marks(reps, flag_events):
        marker, color, _label = FLAG_STYLE.get(kind, ("o", "k", kind))
        yv = float(np.interp(ts_, t[ok], y[ok])) if ok.any() else 0.0
        ax.plot(
            [ts_], [float(np.clip(yv, -lim, lim))], marker=marker, color=color, ms=11,
            mec="white", mew=0.8, ls="",
        )  # fmt: skip
        if kind not in seen_kinds:
            seen_kinds.append(kind)
    ax.set_ylim(-lim, lim)
    label = "knee angle (°)  + left / − right"
    if clipped:
        label += f"\n(cut at ±{lim:.0f}°: larger angles are not the exercise)"
    ax.set_ylabel(label)
    ax.set_xlabel("time (s)")
    if len(t) > 1 and t[-1] > t[0]:
        ax.set_xlim(float(t[0]), float(t[-1]))
    trace_label = "knee angle (reconstructed from rep phases)" if reconstructed else "knee angle"
    handles: list[Any] = [
        Line2D([], [], color="black", ls="--" if reconstructed else "-", label=trace_label)
    ]
    if reps:
        handles += [
            Patch(color=SIDE_COLORS[LEFT], alpha=REP_BAND_ALPHA, lw=0, label="rep to the left"),
            Patch(color=SIDE_COLORS[RIGHT], alpha=REP_BAND_ALPHA, lw=0, label="rep to the right"),
            Patch(color=HOLD_COLOR, alpha=HOLD_ALPHA, lw=0, label="pause at the end (hold)"),
        ]
    for kind in seen_kinds:
        marker, color, label = FLAG_STYLE.get(kind, ("o", "k", kind))
        handles.append(Line2D([], [], marker=marker, color=color, ls="", ms=10, label=label))
    ax.legend(
        handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8,
        ncol=min(len(handles), 5), frameon=False,
    )  # fmt: skip
    ax.grid(alpha=0.25)


def _thresholds(meta: Mapping[str, Any]) -> list[tuple[float, str, str]]:
    """(value, style key, label) of the speed thresholds to draw (one line if equal)."""
    out = []
    drop, ret = meta.get("fast_drop_dps"), meta.get("fast_return_dps")
    d = float(drop) if drop is not None else None
    r = float(ret) if ret is not None else None
    if d is not None and r is not None and abs(d - r) < 0.5:
        return [(d, "both", f"fast-drop and fast-return limit {d:.0f}°/s")]
    if d is not None:
        out.append((d, "drop", f"fast-drop limit {d:.0f}°/s (bars)"))
    if r is not None:
        out.append((r, "return", f"fast-return limit {r:.0f}°/s (circles)"))
    return out


def _rep_panels(ax_rom: Any, ax_spd: Any, reps: Sequence[Rep], meta: Mapping[str, Any]) -> None:
    from matplotlib.patches import Patch

    idx = [r.index for r in reps]
    colors = [SIDE_COLORS.get(r.side, "#999999") for r in reps]
    ax_rom.bar(idx, [r.rom_deg for r in reps], color=colors, edgecolor="black", lw=0.4)
    for r in reps:
        for j, k in enumerate(r.flags):
            marker, color, _label = FLAG_STYLE.get(k, ("o", "k", k))
            ax_rom.plot(
                [r.index + 0.18 * (j - (len(r.flags) - 1) / 2)], [r.rom_deg * 1.08],
                marker=marker, color=color, ms=9, ls="", mec="white", mew=0.6,
            )  # fmt: skip
    ax_rom.set_ylabel("range of motion (°)")
    ax_rom.set_title("each rep: how far (faults marked) and how fast", fontsize=10)
    ax_rom.grid(axis="y", alpha=0.25)
    ax_rom.legend(
        handles=[
            Patch(color=SIDE_COLORS[LEFT], label="left"),
            Patch(color=SIDE_COLORS[RIGHT], label="right"),
        ],
        loc="upper right", fontsize=8, ncol=2,
    )  # fmt: skip
    ax_rom.set_ylim(0, max(r.rom_deg for r in reps) * 1.4)

    ax_spd.bar(idx, [r.peak_descent_dps for r in reps], color=colors, edgecolor="black", lw=0.4)
    ax_spd.plot(
        idx, [r.peak_return_dps for r in reps], ls="", marker="o", mfc="white", mec="black",
        label="way back: peak speed (circle)",
    )  # fmt: skip
    lines = _thresholds(meta)
    for value, key, label in lines:
        color, ls = THRESHOLD_STYLE[key]
        ax_spd.axhline(value, color=color, ls=ls, lw=1.4, label=label)
    ax_spd.set_ylabel("peak speed (°/s)")
    ax_spd.set_xlabel("rep")
    ax_spd.grid(axis="y", alpha=0.25)
    handles, _ = ax_spd.get_legend_handles_labels()
    handles.insert(
        0,
        Patch(facecolor="lightgray", edgecolor="black", lw=0.4,
              label="way down: peak speed (bar, side colour)"),
    )  # fmt: skip
    ax_spd.legend(handles=handles, loc="upper right", fontsize=8, ncol=2)
    top = max(
        [r.peak_descent_dps for r in reps]
        + [r.peak_return_dps for r in reps]
        + [v for v, _k, _l in lines]
        + [10.0]
    )
    ax_spd.set_ylim(0, top * 1.6)
    ax_spd.set_xticks(idx)
    ax_spd.set_xlim(min(idx) - 0.6, max(idx) + 0.6)


def _multi_panel(ax: Any, reps: Sequence[Rep], multi: Mapping[str, Any]) -> None:
    """Per rep: the gap between the knees and the upper-body roll (bars), with the limits;
    "–" where the sensor needed was not there."""
    figs = {f["index"]: f for f in multi.get("reps", []) if f.get("index") is not None}
    st = multi.get("settings") or {}
    w = 0.38
    tops: list[float] = [10.0]
    for key, dx, color, label, limit in (
        ("separation_deg", -w / 2, GAP_COLOR, "gap between the knees", st.get("separation_deg")),
        ("trunk_roll_deg", w / 2, TRUNK_COLOR, "upper-body roll", st.get("trunk_roll_deg")),
    ):
        xs = [r.index + dx for r in reps if figs.get(r.index, {}).get(key) is not None]
        ys = [figs[r.index][key] for r in reps if figs.get(r.index, {}).get(key) is not None]
        ax.bar(xs, ys, w, color=color, edgecolor="black", lw=0.4, label=label)
        for r in reps:
            if figs.get(r.index, {}).get(key) is None:
                ax.text(r.index + dx, 0.3, "–", ha="center", va="bottom", color="#555555",
                        fontsize=14, fontweight="bold")  # fmt: skip
        tops += ys
        if limit is not None:
            ax.axhline(limit, color=color, ls="--", lw=1.2,
                       label=f"{label}: limit {limit:.0f}°")  # fmt: skip
            tops.append(limit)
    ax.set_ylim(0, max(tops) * MULTI_HEADROOM)
    ax.set_ylabel("degrees")
    ax.set_title("each rep: knees together? shoulders down? (– : sensor not there)", fontsize=10)
    ax.grid(axis="y", alpha=0.25)
    ax.legend(loc="upper right", fontsize=8, ncol=2)


def session_figure(
    reps: Sequence[Rep],
    angle_t_s: np.ndarray | None,
    angle_deg: np.ndarray | None,
    flag_events: Sequence[FlagEvent] | None = None,
    meta: Mapping[str, Any] | None = None,
    title: str | None = None,
    multi: Mapping[str, Any] | None = None,
) -> Any:
    """The session figure (a matplotlib Figure): angle trace with reps/holds/faults, per-rep panels.

    A session without reps gets one panel (the angle trace, if any) that says so plainly.
    The angle axis is scaled to the reps (walking or getting down is cut off, and said so).
    ``multi`` (a multi-board session's checked ``multi`` section) adds a panel of the gap
    between the knees and the upper-body roll per rep.
    """
    meta = meta or {}
    reconstructed = angle_t_s is None or angle_deg is None or len(angle_t_s) == 0
    if reconstructed:
        t, y = reconstruct_trace(reps)
    else:
        t, y = _trace(np.asarray(angle_t_s, dtype=float), np.asarray(angle_deg, dtype=float))
    fig = _canvas((13, 11.5) if multi is not None and reps else (13, 9))
    fig.suptitle(title or "Knee rolls session")
    if not reps:
        ax = fig.add_subplot(1, 1, 1)
        _angle_panel(ax, reps, t, y, reconstructed, flag_events)
        ax.text(
            0.5, 0.5,
            "No reps were detected in this session.\n\n"
            "A rep is counted when both knees roll to one side and come back to the centre.\n"
            "Check that the sensor is strapped above the knee and that the recording\n"
            "covers the exercise.",
            transform=ax.transAxes, ha="center", va="center", fontsize=14,
            bbox={"boxstyle": "round,pad=0.8", "facecolor": "white", "edgecolor": "#999999"},
        )  # fmt: skip
        return fig
    if multi is None:
        gs = fig.add_gridspec(3, 1, height_ratios=[2.2, 1, 1])
    else:
        gs = fig.add_gridspec(4, 1, height_ratios=[2.2, 1, 1, 1])
    ax = fig.add_subplot(gs[0])
    ax_rom = fig.add_subplot(gs[1])
    ax_spd = fig.add_subplot(gs[2], sharex=ax_rom)
    _angle_panel(ax, reps, t, y, reconstructed, flag_events)
    _rep_panels(ax_rom, ax_spd, reps, meta)
    if multi is not None:
        _multi_panel(fig.add_subplot(gs[3], sharex=ax_rom), reps, multi)
        for ch in multi.get("board_changes", []):  # where a sensor dropped out / came back
            if ch["t_s"] is None:
                continue
            what = "out" if ch["state"] == "dropped" else "back"
            ax.axvline(ch["t_s"], color="#555555", ls=":", lw=1.2)
            ax.annotate(
                f"{ch['role'].replace('-', ' ').replace('sternum', 'chest')} sensor {what}",
                (ch["t_s"], 1.0), xycoords=("data", "axes fraction"), xytext=(3, -3),
                textcoords="offset points", ha="left", va="top", fontsize=8, color="#555555",
            )  # fmt: skip
    return fig


def render_figure(
    reps: Sequence[Rep],
    angle_t_s: np.ndarray | None,
    angle_deg: np.ndarray | None,
    flag_events: Sequence[FlagEvent] | None = None,
    meta: Mapping[str, Any] | None = None,
    title: str | None = None,
    multi: Mapping[str, Any] | None = None,
) -> bytes:
    """The session figure (:func:`session_figure`) as PNG bytes."""
    return _png(session_figure(reps, angle_t_s, angle_deg, flag_events, meta, title, multi))
