"""Session report: the ``summary.json`` object, rep phases and fault marks.

The report is split by job:

- :mod:`imu_host.core.stats`: the session numbers (one definition for everything);
- this module: :func:`build_summary` (the ``summary.json`` object), :func:`rep_phases`,
  :func:`flag_marks`, :func:`reconstruct_trace`, :func:`reps_from_dicts`;
- :mod:`imu_host.report.figure`: the PNG figure (matplotlib imported lazily);
- :mod:`imu_host.report.text`: feedback lines, Markdown and HTML;
- :mod:`imu_host.report.write`: :func:`~imu_host.report.write.write_report`, which writes
  the output set.

Entry point (called by ``imu-host report`` and by ``replay --report DIR``)::

    write_report(out_dir, reps, angle_t_s, angle_deg, flag_events, meta,
                 target_per_side=None, summary=None, *, html=False, protect=()) -> ReportPaths

- ``reps``: the completed :class:`~imu_host.core.events.Rep` list (the authoritative numbers).
- ``angle_t_s`` / ``angle_deg``: the knee angle trace (0 = centre, positive = left). Either
  may be ``None`` or empty: the figure then draws a trace reconstructed from the rep phases
  (and says so).
- ``flag_events``: :class:`~imu_host.core.events.FlagEvent` list; a rep flag is marked at the
  time of its matching event, else at a point derived from the rep phases.
- ``meta``: free-form metadata (e.g. the recording's ``#`` header). Keys used when
  present: ``recording`` (the name shown; default ``summary["source"]["path"]``, else
  ``meta["path"]`` or ``meta["source"]``), ``source`` (shown if different), ``started_at``
  (ISO string or datetime), ``duration_s`` (float), ``fast_drop_dps`` /
  ``fast_return_dps`` (thresholds, drawn on the speed panel).
- ``target_per_side``: prescribed reps per side (int, or ``{"left": n, "right": m}``).
- ``summary``: the replay JSON object (``imu_host.core.stats.summarize``); when given it is
  the base of ``summary.json`` and its keys are kept, otherwise the same object is
  built from ``reps``. Either way ``summary.json`` gets ``reps`` (each with ``phases``),
  ``flag_events`` and a ``report`` block (:func:`~imu_host.core.stats.session_stats` plus
  ``feedback``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from imu_host.core.events import FAST_DROP, FAST_RETURN, LEFT, FlagEvent, Rep
from imu_host.core.stats import SIDES, session_stats, side_stats, summarize
from imu_host.errors import InputError

SUMMARY_NAME = "summary.json"
MARKDOWN_NAME = "report.md"
HTML_NAME = "report.html"
FIGURE_NAME = "report.png"
GENERATED_NAMES = (SUMMARY_NAME, MARKDOWN_NAME, HTML_NAME, FIGURE_NAME)

__all__ = [
    "FIGURE_NAME",
    "GENERATED_NAMES",
    "HTML_NAME",
    "MARKDOWN_NAME",
    "SIDES",
    "SUMMARY_NAME",
    "build_summary",
    "flag_marks",
    "rep_phases",
    "reconstruct_trace",
    "reps_from_dicts",
    "session_duration",
    "session_stats",
    "side_stats",
]


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


def session_duration(
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
    base: dict[str, Any] = summarize(reps, duration_s, list(flag_events or []))
    base.pop("cues")  # counts of the live stream's events: only the given summary knows them
    base.pop("gaps")
    base["source"] = dict(meta)
    out: dict[str, Any] = dict(summary) if summary is not None else base
    if summary is not None:
        for k, v in base.items():
            out.setdefault(k, v)
    out["reps"] = [{**r.to_dict(), "phases": rep_phases(r)} for r in reps]
    out["flag_events"] = [e.to_dict() for e in (flag_events or [])]
    out["report"] = {**stats, "feedback": list(feedback)}
    return _jsonable(out)


def reps_from_dicts(items: Iterable[Mapping[str, Any]]) -> list[Rep]:
    """Rebuild :class:`Rep` objects from ``Rep.to_dict()`` forms (e.g. a summary's ``reps``)."""
    out = []
    for n, d in enumerate(items, 1):
        try:
            out.append(Rep.from_dict(d))
        except ValueError as err:
            raise InputError(f"rep {n} is not a valid rep object ({err})", field="reps") from None
    return out


def __getattr__(name: str) -> Any:
    """Old names of things that moved (``from imu_host.report.summary import write_report``)."""
    import importlib

    homes = {
        "write_report": "imu_host.report.write",
        "ReportPaths": "imu_host.report.write",
        "prepare_out_dir": "imu_host.report.write",
        "render_figure": "imu_host.report.figure",
        "MATPLOTLIB_MISSING": "imu_host.report.figure",
        "SIDE_COLORS": "imu_host.report.figure",
        "FLAG_STYLE": "imu_host.report.figure",
        "feedback_lines": "imu_host.report.text",
        "render_markdown": "imu_host.report.text",
        "render_html": "imu_host.report.text",
    }
    if name in homes:
        return getattr(importlib.import_module(homes[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
