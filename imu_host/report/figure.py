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
from imu_host.report.summary import flag_marks, reconstruct_trace, rep_phases

MATPLOTLIB_MISSING = (
    "plotting needs matplotlib, which is not installed: pip install 'imu-host[report]'"
)
SIDE_COLORS = {LEFT: "#1f77b4", RIGHT: "#ff7f0e"}
FLAG_STYLE = {  # kind -> (marker, colour, legend label)
    FAST_DROP: ("v", "#d62728", "fast drop"),
    BOUNCE: ("*", "#9467bd", "bounce"),
    FAST_RETURN: ("^", "#8c2d04", "yanked return"),
    PARTIAL: ("X", "#555555", "partial"),
}


def render_figure(
    reps: Sequence[Rep],
    angle_t_s: np.ndarray | None,
    angle_deg: np.ndarray | None,
    flag_events: Sequence[FlagEvent] | None = None,
    meta: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> bytes:
    """The session figure as PNG bytes: angle trace with reps/holds/faults, per-rep panels."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch
    except ImportError:
        raise InputError(MATPLOTLIB_MISSING) from None
    meta = meta or {}
    reconstructed = angle_t_s is None or angle_deg is None or len(angle_t_s) == 0
    if reconstructed:
        t, y = reconstruct_trace(reps)
    else:
        t = np.asarray(angle_t_s, dtype=float)
        y = np.asarray(angle_deg, dtype=float)

    fig = Figure(figsize=(13, 9), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    gs = fig.add_gridspec(3, 1, height_ratios=[2.2, 1, 1])
    ax = fig.add_subplot(gs[0])
    ax_rom = fig.add_subplot(gs[1])
    ax_spd = fig.add_subplot(gs[2], sharex=ax_rom)

    # -- angle trace
    for rep in reps:
        sign = 1.0 if rep.side == LEFT else -1.0
        color = SIDE_COLORS.get(rep.side, "#999999")
        ax.axvspan(rep.start_s, rep.end_s, color=color, alpha=0.13, lw=0)
        ph = rep_phases(rep)
        if rep.hold_s > 0:
            ax.axvspan(ph["hold"]["start_s"], ph["hold"]["end_s"], color=color, alpha=0.35, lw=0)
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
    if len(t):
        ax.plot(t, y, color="black", lw=1.0, ls="--" if reconstructed else "-")
    ax.axhline(0, color="gray", lw=0.6)
    finite = np.isfinite(t) & np.isfinite(y)  # NaN before the centre is known
    marks = flag_marks(reps, flag_events)
    seen_kinds = []
    for ts_, kind, _side in marks:
        marker, color, _label = FLAG_STYLE.get(kind, ("o", "k", kind))
        yv = float(np.interp(ts_, t[finite], y[finite])) if finite.any() else 0.0
        ax.plot([ts_], [yv], marker=marker, color=color, ms=11, mec="white", mew=0.8, ls="")
        if kind not in seen_kinds:
            seen_kinds.append(kind)
    ymax = max(
        [float(np.abs(y[finite]).max()) if finite.any() else 0.0]
        + [r.rom_deg for r in reps]
        + [10.0]
    )
    ax.set_ylim(-ymax * 1.25, ymax * 1.25)
    ax.set_ylabel("knee angle (°)  + left / − right")
    ax.set_xlabel("time (s)")
    t_ok = t[np.isfinite(t)]
    if len(t_ok) > 1:
        ax.set_xlim(float(t_ok.min()), float(t_ok.max()))
    trace_label = "knee angle (reconstructed from rep phases)" if reconstructed else "knee angle"
    handles = [
        Line2D([], [], color="black", ls="--" if reconstructed else "-", label=trace_label),
        Patch(color=SIDE_COLORS[LEFT], alpha=0.3, label="rep to the left"),
        Patch(color=SIDE_COLORS[RIGHT], alpha=0.3, label="rep to the right"),
        Patch(color="gray", alpha=0.45, label="end-range hold (darker band)"),
    ]
    for kind in seen_kinds:
        marker, color, label = FLAG_STYLE.get(kind, ("o", "k", kind))
        handles.append(Line2D([], [], marker=marker, color=color, ls="", ms=10, label=label))
    ax.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        fontsize=8,
        ncol=len(handles),
        frameon=False,
    )
    fig.suptitle(title or "Knee rolls session")
    ax.grid(alpha=0.25)

    # -- per-rep panels
    idx = [r.index for r in reps]
    colors = [SIDE_COLORS.get(r.side, "#999999") for r in reps]
    ax_rom.bar(idx, [r.rom_deg for r in reps], color=colors, edgecolor="black", lw=0.4)
    for r in reps:
        for j, k in enumerate(r.flags):
            marker, color, _label = FLAG_STYLE.get(k, ("o", "k", k))
            ax_rom.plot(
                [r.index + 0.18 * (j - (len(r.flags) - 1) / 2)],
                [r.rom_deg * 1.08],
                marker=marker,
                color=color,
                ms=9,
                ls="",
                mec="white",
                mew=0.6,
            )
    ax_rom.set_ylabel("range of motion (°)")
    ax_rom.set_title("per rep: range of motion (faults marked) and peak speed", fontsize=10)
    ax_rom.grid(axis="y", alpha=0.25)
    ax_rom.legend(
        handles=[
            Patch(color=SIDE_COLORS[LEFT], label="left"),
            Patch(color=SIDE_COLORS[RIGHT], label="right"),
        ],
        loc="upper right",
        fontsize=8,
        ncol=2,
    )
    if reps:
        ax_rom.set_ylim(0, max(r.rom_deg for r in reps) * 1.4)

    ax_spd.bar(idx, [r.peak_descent_dps for r in reps], color=colors, edgecolor="black", lw=0.4)

    ax_spd.plot(
        idx,
        [r.peak_return_dps for r in reps],
        ls="",
        marker="o",
        mfc="white",
        mec="black",
        label="peak return speed",
    )
    thr = meta.get("fast_drop_dps")
    if thr is not None:
        ax_spd.axhline(
            float(thr),
            color=FLAG_STYLE[FAST_DROP][1],
            ls="--",
            lw=1,
            label=f"fast-drop threshold {float(thr):.0f}°/s",
        )
    thr_r = meta.get("fast_return_dps")
    if thr_r is not None:
        ax_spd.axhline(
            float(thr_r),
            color=FLAG_STYLE[FAST_RETURN][1],
            ls=":",
            lw=1,
            label=f"fast-return threshold {float(thr_r):.0f}°/s",
        )
    ax_spd.set_ylabel("peak speed (°/s)")
    ax_spd.set_xlabel("rep")
    ax_spd.grid(axis="y", alpha=0.25)
    spd_handles, _ = ax_spd.get_legend_handles_labels()
    spd_handles.insert(
        0,
        Patch(
            facecolor="lightgray",
            edgecolor="black",
            lw=0.4,
            label="peak descent speed (bar, side colour)",
        ),
    )
    ax_spd.legend(handles=spd_handles, loc="upper right", fontsize=8, ncol=4)
    top = max(
        [r.peak_descent_dps for r in reps]
        + [r.peak_return_dps for r in reps]
        + [float(thr or 0), float(thr_r or 0), 10.0]
    )
    ax_spd.set_ylim(0, top * 1.4)
    if idx:
        ax_spd.set_xticks(idx)
        ax_spd.set_xlim(min(idx) - 0.6, max(idx) + 0.6)

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
