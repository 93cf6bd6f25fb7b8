"""Session report: clinical-style numbers, feedback lines, a figure and report files.

Entry point (called by ``imu-host report`` and by ``replay --report DIR``)::

    write_report(out_dir, reps, angle_t_s, angle_deg, flag_events, meta,
                 target_per_side=None, summary=None, *, html=False, protect=()) -> ReportPaths

- ``reps``: the completed :class:`~imu_host.events.Rep` list (the authoritative numbers).
- ``angle_t_s`` / ``angle_deg``: the knee angle trace (0 = centre, positive = left). Either
  may be ``None`` or empty: the figure then draws a trace reconstructed from the rep phases
  (and says so).
- ``flag_events``: :class:`~imu_host.events.FlagEvent` list; a rep flag is marked at the
  time of its matching event, else at a point derived from the rep phases.
- ``meta``: free-form metadata (e.g. the recording's ``#`` header). Keys used when
  present: ``recording`` (the name shown; default ``summary["source"]["path"]``, else
  ``meta["path"]`` or ``meta["source"]``), ``source`` (shown if different), ``started_at``
  (ISO string or datetime), ``duration_s`` (float), ``fast_drop_dps`` /
  ``fast_return_dps`` (thresholds, drawn on the speed panel).
- ``target_per_side``: prescribed reps per side (int, or ``{"left": n, "right": m}``).
- ``summary``: the replay JSON object (``imu_host.core.stats.summarize``); when given it is
  the base of ``summary.json`` and its keys are kept, otherwise an equivalent object is
  built from ``reps``. Either way ``summary.json`` gets ``reps`` (each with ``phases``),
  ``flag_events`` and a ``report`` block (:func:`session_stats` plus ``feedback``).

Files written into ``out_dir`` (created if needed; only these names are ever written, and
they are overwritten): ``summary.json``, ``report.md``, ``report.png`` and, with
``html=True``, a self-contained ``report.html`` (figure embedded).

The numbers are pure functions of the rep list: :func:`session_stats`,
:func:`feedback_lines`, :func:`rep_phases`. Definitions:

- clean rep: no flags; ``clean_pct`` = 100 * clean / total.
- ROM per side: mean (and max) of ``rom_deg`` over that side's reps.
- ``asymmetry_pct`` = 100 * |mean ROM left - mean ROM right| / max(left, right), i.e. how
  much smaller the smaller side is ("right side range is 35% smaller than left").
- tempo: medians of ``descent_s`` / ``hold_s`` / ``return_s`` (per side and overall).
- ``fast_drop_rate`` = reps flagged ``fast_drop`` / all reps.

matplotlib is imported only inside :func:`render_figure` (the ``report`` extra); if it is
missing an :class:`~imu_host.errors.InputError` names ``pip install 'imu-host[report]'``.
"""

from __future__ import annotations

import base64
import html as html_mod
import json
import math
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from imu_host.core.events import (
    ALL_FLAGS,
    BOUNCE,
    FAST_DROP,
    FAST_RETURN,
    LEFT,
    PARTIAL,
    RIGHT,
    FlagEvent,
    Rep,
    asymmetry_pct,
    tempo_medians,
)
from imu_host.errors import InputError

SIDES = (LEFT, RIGHT)
ASYMMETRY_FEEDBACK_PCT = 20.0  # above this, a feedback line about the tighter side
MATPLOTLIB_MISSING = (
    "plotting needs matplotlib, which is not installed: pip install 'imu-host[report]'"
)

SUMMARY_NAME = "summary.json"
MARKDOWN_NAME = "report.md"
HTML_NAME = "report.html"
FIGURE_NAME = "report.png"
GENERATED_NAMES = (SUMMARY_NAME, MARKDOWN_NAME, HTML_NAME, FIGURE_NAME)

SIDE_COLORS = {LEFT: "#1f77b4", RIGHT: "#ff7f0e"}
FLAG_STYLE = {  # kind -> (marker, colour, legend label)
    FAST_DROP: ("v", "#d62728", "fast drop"),
    BOUNCE: ("*", "#9467bd", "bounce"),
    FAST_RETURN: ("^", "#8c2d04", "yanked return"),
    PARTIAL: ("X", "#555555", "partial"),
}


# --------------------------------------------------------------------------- numbers


def _median(values: Sequence[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def _mean(values: Sequence[float]) -> float | None:
    return float(statistics.fmean(values)) if values else None


def _targets(target_per_side: int | Mapping[str, int] | None) -> dict[str, int | None]:
    if target_per_side is None:
        return {LEFT: None, RIGHT: None}
    if isinstance(target_per_side, Mapping):
        return {
            s: (None if target_per_side.get(s) is None else int(target_per_side[s])) for s in SIDES
        }
    n = int(target_per_side)
    if n < 0:
        raise InputError(f"target reps per side must be >= 0, got {n}")
    return {LEFT: n, RIGHT: n}


def side_stats(reps: Iterable[Rep], side: str, target: int | None = None) -> dict[str, Any]:
    """Numbers for the reps of one side (``reps`` may hold both sides)."""
    rs = [r for r in reps if r.side == side]
    flagged = [r for r in rs if r.flags]
    return {
        "target": target,
        "done": len(rs),
        "clean": len(rs) - len(flagged),
        "flagged": len(flagged),
        "flags": {k: sum(1 for r in rs if k in r.flags) for k in ALL_FLAGS},
        "rom_mean_deg": _mean([r.rom_deg for r in rs]),
        "rom_max_deg": max((r.rom_deg for r in rs), default=None),
        "rom_min_deg": min((r.rom_deg for r in rs), default=None),
        "peak_descent_dps_median": _median([r.peak_descent_dps for r in rs]),
        "peak_descent_dps_max": max((r.peak_descent_dps for r in rs), default=None),
        "peak_return_dps_median": _median([r.peak_return_dps for r in rs]),
        "peak_return_dps_max": max((r.peak_return_dps for r in rs), default=None),
        "tempo_median_s": tempo_medians(rs),
    }


def session_stats(
    reps: Sequence[Rep], target_per_side: int | Mapping[str, int] | None = None
) -> dict[str, Any]:
    """Clinical-style numbers of one session, computed from the rep list only.

    Keys: ``reps_total``, ``clean_reps``, ``flagged_reps``, ``clean_pct``, ``fast_drops``
    (reps flagged fast_drop), ``fast_drop_rate``, ``flags`` (kind -> reps), ``asymmetry_pct``,
    ``smaller_side``, ``tempo_median_s`` ({"descent","hold","return"}), ``sides``
    ({"left": side_stats, "right": side_stats}), ``target_per_side``.
    """
    targets = _targets(target_per_side)
    sides = {s: side_stats(reps, s, targets[s]) for s in SIDES}
    total = len(reps)
    clean = sum(1 for r in reps if not r.flags)
    flags = {k: sum(1 for r in reps if k in r.flags) for k in ALL_FLAGS}
    rl, rr = sides[LEFT]["rom_mean_deg"], sides[RIGHT]["rom_mean_deg"]
    asym = asymmetry_pct(rl, rr)
    smaller = None
    if asym is not None and asym > 0:
        smaller = LEFT if rl < rr else RIGHT
    return {
        "reps_total": total,
        "clean_reps": clean,
        "flagged_reps": total - clean,
        "clean_pct": 100.0 * clean / total if total else None,
        "fast_drops": flags[FAST_DROP],
        "fast_drop_rate": flags[FAST_DROP] / total if total else None,
        "flags": flags,
        "asymmetry_pct": asym,
        "smaller_side": smaller,
        "tempo_median_s": tempo_medians(reps),
        "target_per_side": targets,
        "sides": sides,
    }


def _of(n: int, total: int, noun: str, side_phrase: str, verb_pl: str, verb_sg: str) -> str:
    verb = verb_sg if n == 1 else verb_pl
    return f"{n} of {total} {noun} {side_phrase} {verb}"


def feedback_lines(stats: Mapping[str, Any]) -> list[str]:
    """Plain-language feedback: one line per fault type and side seen, with counts.

    Also a line per side that missed (or exceeded) the prescribed count (one line when
    both sides did exactly what was prescribed), one about a range
    asymmetry above 20 %, and a positive line when every rep was clean.
    """
    lines: list[str] = []
    sides = stats["sides"]
    if stats["reps_total"] == 0:
        return ["No reps were detected in this session."]
    met = [sides[s]["target"] is not None and sides[s]["done"] == sides[s]["target"] for s in SIDES]
    if all(met):
        tl, tr = sides[LEFT]["target"], sides[RIGHT]["target"]
        each = f"{tl} to each side" if tl == tr else f"{tl} to the left, {tr} to the right"
        lines.append(f"All prescribed reps were done: {each}.")
    for side in SIDES:
        st = sides[side]
        target = st["target"]
        if target is not None and st["done"] < target:
            lines.append(
                f"{st['done']} of {target} prescribed reps to the {side} were done: "
                f"{target - st['done']} still to do."
            )
        elif target is not None and st["done"] > target:
            lines.append(
                f"{st['done']} reps to the {side} were done, {target} were prescribed: "
                "stop at the prescribed number."
            )
    for kind in ALL_FLAGS:
        for side in SIDES:
            st = sides[side]
            n, total = st["flags"][kind], st["done"]
            if n == 0:
                continue
            if kind == FAST_DROP:
                head = _of(n, total, "drops", f"to the {side}", "were too fast", "was too fast")
                lines.append(f"{head}: lower the knees over 2-3 s.")
            elif kind == BOUNCE:
                head = _of(n, total, "reps", f"to the {side}", "bounced", "bounced")
                lines.append(f"{head} at the end: pause at the end instead of pushing further.")
            elif kind == FAST_RETURN:
                head = _of(n, total, "returns", f"from the {side}", "were too fast", "was too fast")
                lines.append(f"{head}: bring the knees back over 2-3 s.")
            elif kind == PARTIAL:
                head = _of(n, total, "reps", f"to the {side}", "were partial", "was partial")
                lines.append(
                    f"{head} (well short of your usual range): "
                    "roll to your usual comfortable range each time."
                )
    asym = stats["asymmetry_pct"]
    if asym is not None and asym > ASYMMETRY_FEEDBACK_PCT and stats["smaller_side"]:
        small = stats["smaller_side"]
        big = RIGHT if small == LEFT else LEFT
        rs, rb = sides[small]["rom_mean_deg"], sides[big]["rom_mean_deg"]
        lines.append(
            f"{small.capitalize()} side range is {asym:.0f}% smaller than {big} "
            f"({rs:.0f}° vs {rb:.0f}° on average): that side is tighter; "
            "tell your physiotherapist if it does not improve."
        )
    if stats["flagged_reps"] == 0:
        lines.append(
            f"All {stats['reps_total']} reps were clean: smooth and controlled. Keep it up."
        )
    return lines


def rep_phases(rep: Rep) -> dict[str, dict[str, float]]:
    """Start/end times (s) of the descent, end-range hold and return of a rep."""
    d_end = rep.start_s + rep.descent_s
    h_end = d_end + rep.hold_s
    r_start = max(h_end, rep.end_s - rep.return_s)
    return {
        "descent": {"start_s": round(rep.start_s, 3), "end_s": round(d_end, 3)},
        "hold": {"start_s": round(d_end, 3), "end_s": round(h_end, 3)},
        "return": {"start_s": round(r_start, 3), "end_s": round(rep.end_s, 3)},
    }


def _flag_time(rep: Rep, kind: str) -> float:
    """Where on the time axis a rep flag is drawn when no FlagEvent says so."""
    ph = rep_phases(rep)
    if kind == FAST_DROP:
        return (ph["descent"]["start_s"] + ph["descent"]["end_s"]) / 2
    if kind == FAST_RETURN:
        return (ph["return"]["start_s"] + ph["return"]["end_s"]) / 2
    return rep.peak_s


def flag_marks(
    reps: Sequence[Rep], flag_events: Sequence[FlagEvent] | None
) -> list[tuple[float, str, str]]:
    """(t_s, kind, side) of every fault to mark: each rep flag once, at its event if any.

    Flag events that match no rep (e.g. a rep that never completed) are marked too.
    """
    events = list(flag_events or [])
    used: set[int] = set()
    marks: list[tuple[float, str, str]] = []
    for rep in reps:
        for kind in rep.flags:
            t = None
            for i, ev in enumerate(events):
                if i in used or ev.kind != kind or ev.side != rep.side:
                    continue
                if rep.start_s - 0.5 <= ev.t_s <= rep.end_s + 1.0:
                    used.add(i)
                    t = ev.t_s
                    break
            marks.append((t if t is not None else _flag_time(rep, kind), kind, rep.side))
    for i, ev in enumerate(events):
        if i not in used:
            marks.append((ev.t_s, ev.kind, ev.side))
    marks.sort(key=lambda m: m[0])
    return marks


def reconstruct_trace(reps: Sequence[Rep], dt: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """A piecewise-linear angle trace (0 -> ±ROM -> hold -> 0) from the rep phases."""
    ts: list[float] = []
    ys: list[float] = []
    for rep in sorted(reps, key=lambda r: r.start_s):
        sign = 1.0 if rep.side == LEFT else -1.0
        ph = rep_phases(rep)
        pts = [
            (ph["descent"]["start_s"], 0.0),
            (ph["descent"]["end_s"], sign * rep.rom_deg),
            (ph["hold"]["end_s"], sign * rep.rom_deg),
            (ph["return"]["start_s"], sign * rep.rom_deg),
            (ph["return"]["end_s"], 0.0),
        ]
        for t, y in pts:
            if ts and t < ts[-1]:
                t = ts[-1]
            ts.append(t)
            ys.append(y)
    if not ts:
        return np.zeros(0), np.zeros(0)
    t_arr = np.asarray(ts, dtype=float)
    grid = np.arange(t_arr[0], t_arr[-1] + dt, dt)
    return grid, np.interp(grid, t_arr, np.asarray(ys, dtype=float))


# --------------------------------------------------------------------------- summary


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else round(obj, 3)
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _duration(
    reps: Sequence[Rep],
    angle_t_s: np.ndarray | None,
    meta: Mapping[str, Any],
    summary: Mapping[str, Any] | None,
) -> float:
    if meta.get("duration_s") is not None:
        return float(meta["duration_s"])
    if summary and summary.get("duration_s") is not None:
        return float(summary["duration_s"])
    if angle_t_s is not None and len(angle_t_s) > 1:
        return float(angle_t_s[-1] - angle_t_s[0])
    return max((r.end_s for r in reps), default=0.0)


def build_summary(
    reps: Sequence[Rep],
    stats: Mapping[str, Any],
    feedback: Sequence[str],
    duration_s: float,
    meta: Mapping[str, Any],
    flag_events: Sequence[FlagEvent] | None = None,
    summary: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``summary.json`` object: the replay summary (given or rebuilt) plus report data."""
    sides = stats["sides"]
    base: dict[str, Any] = {
        "reps_left": sides[LEFT]["done"],
        "reps_right": sides[RIGHT]["done"],
        "reps_total": stats["reps_total"],
        "fast_drops": stats["fast_drops"],
        "flagged_reps": stats["flagged_reps"],
        "clean_reps": stats["clean_reps"],
        "rom_mean_deg": {s: sides[s]["rom_mean_deg"] for s in SIDES},
        "rom_max_deg": {s: sides[s]["rom_max_deg"] for s in SIDES},
        "asymmetry_pct": stats["asymmetry_pct"],
        "tempo_median_s": dict(stats["tempo_median_s"]),
        "duration_s": duration_s,
        "source": {k: v for k, v in meta.items()},
    }
    out: dict[str, Any] = dict(summary) if summary is not None else base
    if summary is not None:
        for k, v in base.items():
            if k == "tempo_median_s" and "tempo" in summary:
                continue  # the replay summary has its own tempo block
            out.setdefault(k, v)
    out["reps"] = [{**r.to_dict(), "phases": rep_phases(r)} for r in reps]
    out["flag_events"] = [e.to_dict() for e in (flag_events or [])]
    out["report"] = {**stats, "feedback": list(feedback)}
    return _jsonable(out)


# --------------------------------------------------------------------------- figure


def _fmt(v: float | None, spec: str = ".1f", unit: str = "") -> str:
    return "–" if v is None else f"{v:{spec}}{unit}"


def render_figure(
    path: str | Path,
    reps: Sequence[Rep],
    angle_t_s: np.ndarray | None,
    angle_deg: np.ndarray | None,
    flag_events: Sequence[FlagEvent] | None = None,
    meta: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> Path:
    """Write the session figure as PNG: angle trace with reps/holds/faults, per-rep panels."""
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

    out = Path(path)
    fig.savefig(out, format="png")
    return out


# --------------------------------------------------------------------------- markdown


def _side_table(stats: Mapping[str, Any]) -> list[str]:
    L, R = stats["sides"][LEFT], stats["sides"][RIGHT]

    def tot(a: Any, b: Any) -> str:
        return "–" if a is None or b is None else str(a + b)

    def row(name: str, lv: str, rv: str, tv: str = "") -> str:
        return f"| {name} | {lv} | {rv} | {tv} |"

    lines = ["| | Left | Right | Total |", "|---|---:|---:|---:|"]
    lines.append(
        row(
            "Prescribed",
            _fmt(L["target"], "d"),
            _fmt(R["target"], "d"),
            tot(L["target"], R["target"]),
        )
    )
    lines.append(row("Done", str(L["done"]), str(R["done"]), str(stats["reps_total"])))
    lines.append(row("Clean", str(L["clean"]), str(R["clean"]), str(stats["clean_reps"])))
    lines.append(row("Flagged", str(L["flagged"]), str(R["flagged"]), str(stats["flagged_reps"])))
    names = {
        FAST_DROP: "Fast drops",
        BOUNCE: "Bounces",
        FAST_RETURN: "Yanked returns",
        PARTIAL: "Partial reps",
    }
    for k in ALL_FLAGS:
        lines.append(row(names[k], str(L["flags"][k]), str(R["flags"][k]), str(stats["flags"][k])))
    lines.append(row("ROM mean (°)", _fmt(L["rom_mean_deg"]), _fmt(R["rom_mean_deg"])))
    lines.append(row("ROM max (°)", _fmt(L["rom_max_deg"]), _fmt(R["rom_max_deg"])))
    lines.append(
        row(
            "Peak descent speed, median (°/s)",
            _fmt(L["peak_descent_dps_median"], ".0f"),
            _fmt(R["peak_descent_dps_median"], ".0f"),
        )
    )
    for ph in ("descent", "hold", "return"):
        lines.append(
            row(
                f"{ph.capitalize()} time, median (s)",
                _fmt(L["tempo_median_s"][ph]),
                _fmt(R["tempo_median_s"][ph]),
                _fmt(stats["tempo_median_s"][ph]),
            )
        )
    return lines


def render_markdown(
    stats: Mapping[str, Any],
    feedback: Sequence[str],
    reps: Sequence[Rep],
    meta: Mapping[str, Any],
    duration_s: float,
    figure_name: str | None = FIGURE_NAME,
) -> str:
    """The Markdown report text."""
    out = ["# Knee rolls: session report", ""]
    label = meta.get("recording")
    if label:
        out.append(f"- Recording: `{label}`")
    if meta.get("source") and meta.get("source") != label:
        out.append(f"- Source: {meta['source']}")
    if meta.get("started_at"):
        out.append(f"- Started: {meta['started_at']}")
    out.append(f"- Duration: {duration_s:.0f} s")
    out.append("")
    out.append("## Summary")
    out.append("")
    total = stats["reps_total"]
    if total:
        out.append(
            f"**{stats['clean_reps']} of {total} reps clean ({stats['clean_pct']:.0f}%)**, "
            f"{stats['flagged_reps']} flagged."
        )
    else:
        out.append("**No reps detected.**")
    asym = stats["asymmetry_pct"]
    if asym is not None:
        side = stats["smaller_side"]
        tail = f" ({side} side smaller)" if side else ""
        out.append(f"Asymmetry of range (left vs right): **{asym:.0f}%**{tail}.")
    out.append("")
    out.extend(_side_table(stats))
    out.append("")
    out.append("## Feedback")
    out.append("")
    out.extend(f"- {line}" for line in feedback)
    out.append("")
    if figure_name:
        out.append("## Figure")
        out.append("")
        out.append(f"![Knee angle over time, reps and faults]({figure_name})")
        out.append("")
    out.append("## Reps")
    out.append("")
    out.append(
        "| # | Side | Start (s) | ROM (°) | Descent (s) | Hold (s) | Return (s) "
        "| Peak descent (°/s) | Peak return (°/s) | Flags |"
    )
    out.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in reps:
        out.append(
            f"| {r.index} | {r.side} | {r.start_s:.1f} | {r.rom_deg:.1f} | {r.descent_s:.1f} "
            f"| {r.hold_s:.1f} | {r.return_s:.1f} | {r.peak_descent_dps:.0f} "
            f"| {r.peak_return_dps:.0f} | {', '.join(r.flags) or 'clean'} |"
        )
    out.append("")
    return "\n".join(out)


def _inline(md: str) -> str:
    """Escape, then render **bold** and `code` spans (all the Markdown we emit inline)."""
    s = html_mod.escape(md)
    s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", s)


def render_html(markdown_text: str, png_bytes: bytes | None) -> str:
    """A self-contained HTML page from our Markdown (tables, lists, headings, one image)."""
    body: list[str] = []
    lines = markdown_text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("# "):
            body.append(f"<h1>{_inline(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{_inline(line[3:])}</h2>")
        elif line.startswith("!["):
            if png_bytes:
                data = base64.b64encode(png_bytes).decode("ascii")
                body.append(
                    f'<img alt="session figure" style="max-width:100%" '
                    f'src="data:image/png;base64,{data}">'
                )
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            head, data_rows = rows[0], rows[2:]
            t = ["<table>", "<tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr>"]
            for r in data_rows:
                t.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>")
            t.append("</table>")
            body.append("\n".join(t))
            continue
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            body.append("<ul>" + "".join(items) + "</ul>")
            continue
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
        i += 1
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>Knee rolls: session report</title><style>{style}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


# --------------------------------------------------------------------------- entry point


@dataclass(frozen=True)
class ReportPaths:
    """Files written by :func:`write_report` (``html`` is None unless asked for).

    ``summary`` is the object written to ``summary.json`` (what to save to the history).
    """

    out_dir: Path
    summary_json: Path
    markdown: Path
    figure_png: Path
    html: Path | None = None
    summary: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def prepare_out_dir(out_dir: str | Path, protect: Iterable[str | Path] = ()) -> Path:
    """Create the report directory; refuse a file, or a dir where a protected file would be hit."""
    d = Path(out_dir)
    if d.exists() and not d.is_dir():
        raise InputError("report output must be a directory, but a file is there", path=str(d))
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create report directory: {err.strerror}", path=str(d)) from None
    targets = {(d / n).resolve() for n in GENERATED_NAMES}
    for p in protect:
        if Path(p).resolve() in targets:
            raise InputError(
                "the report would overwrite this file; choose another --out directory",
                path=str(p),
            )
    return d


def write_report(
    out_dir: str | Path,
    reps: Sequence[Rep],
    angle_t_s: np.ndarray | None,
    angle_deg: np.ndarray | None,
    flag_events: Sequence[FlagEvent] | None,
    meta: Mapping[str, Any] | None,
    target_per_side: int | Mapping[str, int] | None = None,
    summary: Mapping[str, Any] | None = None,
    *,
    html: bool = False,
    protect: Iterable[str | Path] = (),
) -> ReportPaths:
    """Write ``summary.json``, ``report.md``, ``report.png`` (and ``report.html``) to ``out_dir``.

    ``protect``: paths (e.g. the recording) that must never be overwritten; an
    :class:`InputError` is raised if one of them has a generated file's name in ``out_dir``.
    """
    meta = dict(meta or {})
    if summary and isinstance(summary.get("source"), Mapping):
        for k, v in summary["source"].items():
            meta.setdefault(k, v)
    if not meta.get("recording"):
        src = summary.get("source") if summary else None
        path = src.get("path") if isinstance(src, Mapping) else None
        label = path or meta.get("path") or meta.get("source")
        if label:
            meta["recording"] = str(label)
    reps = sorted(reps, key=lambda r: r.index)
    d = prepare_out_dir(out_dir, protect)
    stats = session_stats(reps, target_per_side)
    feedback = feedback_lines(stats)
    duration = _duration(reps, angle_t_s, meta, summary)

    fig_path = render_figure(
        d / FIGURE_NAME,
        reps,
        angle_t_s,
        angle_deg,
        flag_events,
        meta,
        title=f"Knee rolls: {meta['recording']}" if meta.get("recording") else None,
    )
    summ = build_summary(reps, stats, feedback, duration, meta, flag_events, summary)
    summary_path = d / SUMMARY_NAME
    summary_path.write_text(json.dumps(summ, indent=2, ensure_ascii=False) + "\n", "utf-8")
    md = render_markdown(stats, feedback, reps, meta, duration, FIGURE_NAME)
    md_path = d / MARKDOWN_NAME
    md_path.write_text(md, "utf-8")
    html_path = None
    if html:
        html_path = d / HTML_NAME
        html_path.write_text(render_html(md, fig_path.read_bytes()), "utf-8")
    return ReportPaths(d, summary_path, md_path, fig_path, html_path, summ)


def reps_from_dicts(items: Iterable[Mapping[str, Any]]) -> list[Rep]:
    """Rebuild :class:`Rep` objects from ``Rep.to_dict()`` forms (e.g. a summary's ``reps``)."""
    fields = (
        "index",
        "side",
        "start_s",
        "peak_s",
        "end_s",
        "rom_deg",
        "descent_s",
        "hold_s",
        "return_s",
        "peak_descent_dps",
        "peak_return_dps",
    )
    out = []
    for n, d in enumerate(items, 1):
        try:
            kw = {f: d[f] for f in fields}
            kw["index"] = int(kw["index"])
            kw["side"] = str(kw["side"])
            for f in fields[2:]:
                kw[f] = float(kw[f])
            out.append(Rep(**kw, flags=tuple(d.get("flags") or ())))
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"rep {n} is not a valid rep object ({err})", field="reps") from None
    return out
