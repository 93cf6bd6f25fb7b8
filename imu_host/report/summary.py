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

import json
import math
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from imu_host.core.events import (
    FAST_DROP,
    FAST_RETURN,
    KNEES_APART,
    LEFT,
    MULTI_FLAGS,
    RIGHT,
    SHOULDER_LIFT,
    FlagEvent,
    Rep,
)
from imu_host.core.stats import SIDES, session_stats, side_stats, summarize
from imu_host.errors import InputError
from imu_host.paths import display_text

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


def reconstruct_trace(reps: Sequence[Rep]) -> tuple[np.ndarray, np.ndarray]:
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
    # the corner points: drawn with straight lines they are the trace (memory: 5 per rep)
    return np.asarray(ts, dtype=float), np.asarray(ys, dtype=float)


# --------------------------------------------------------------------------- summary


def _finite(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, text, NaN, infinite)."""
    if isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def session_start_text(meta: Mapping[str, Any]) -> str | None:
    """When the session started, as people write it ("Mon 02 Mar 2026, 08:15"), in the
    wall-clock time where it was recorded; the text as given if it is not a date."""
    started = meta.get("started_at") or meta.get("started")
    when = None
    if isinstance(started, datetime):
        when = started
    elif isinstance(started, str):
        try:
            when = datetime.fromisoformat(started.replace("Z", "+00:00"))
        except ValueError:
            return display_text(started)[:80] or None
    return None if when is None else f"{when:%a %d %b %Y, %H:%M}"


def figure_title(meta: Mapping[str, Any], duration_s: float | None = None) -> str:
    """The session as a person knows it: date and time, then the file's name (no folders)."""
    parts = ["Knee rolls"]
    when = session_start_text(meta)
    if when:
        parts.append(when)
    label = meta.get("recording")
    if label:
        text = display_text(str(label))
        name = text if text.startswith("history session") else Path(text).name
        parts.append(name)
    if duration_s is not None and math.isfinite(duration_s) and duration_s > 0:
        parts.append(f"{duration_s / 60:.1f} min")
    return " — ".join(parts)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, str):
        return display_text(obj)
    if isinstance(obj, Mapping):
        return {display_text(str(k)): _jsonable(v) for k, v in obj.items()}
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
        return display_text(str(obj))
    return obj


def session_duration(
    reps: Sequence[Rep],
    angle_t_s: np.ndarray | None,
    meta: Mapping[str, Any],
    summary: Mapping[str, Any] | None,
) -> float:
    """Session length in s: ``meta``, else the summary, else the trace, else the last rep."""
    for value in (meta.get("duration_s"), (summary or {}).get("duration_s")):
        f = _finite(value)
        if f is not None and f >= 0:
            return f
    if angle_t_s is not None and len(angle_t_s) > 1:
        t = np.asarray(angle_t_s, dtype=float)
        t = t[np.isfinite(t)]
        if len(t) > 1:
            return float(t[-1] - t[0])
    return max((r.end_s for r in reps), default=0.0)


def settings_used(
    meta: Mapping[str, Any],
    summary: Mapping[str, Any] | None,
    settings: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """The analysis settings to store in ``summary.json`` (None when unknown)."""
    if settings is not None:
        return dict(settings)
    given = (summary or {}).get("settings")
    if isinstance(given, Mapping):
        return dict(given)
    found = {k: meta[k] for k in ("fast_drop_dps", "fast_return_dps") if meta.get(k) is not None}
    return {"detector": found} if found else None


def build_summary(
    reps: Sequence[Rep],
    stats: Mapping[str, Any],
    feedback: Sequence[str],
    duration_s: float,
    meta: Mapping[str, Any],
    flag_events: Sequence[FlagEvent] | None = None,
    summary: Mapping[str, Any] | None = None,
    *,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``summary.json`` object: the replay summary (given or rebuilt) plus report data.

    ``settings`` (the analysis settings used, thresholds included) is stored under
    ``"settings"``; ``report`` holds the full-precision numbers and the feedback lines.
    """
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
    out["settings"] = settings_used(meta, summary, settings)
    return _jsonable(out)


# the multi-board flags and roles (named in the core; reading a summary does not import
# the multi-board code)
MULTI_FLAG_NAMES = MULTI_FLAGS
MULTI_ROLES = ("left-thigh", "right-thigh", "sternum")


def _opt_num(v: Any, hi: float) -> float | None:
    f = _finite(v)
    return None if f is None or not 0 <= f <= hi else f


def _count(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_REPS else 0


def multi_block(obj: Any) -> dict[str, Any] | None:
    """The ``multi`` section of a multi-board summary, checked and reduced to what the
    report shows (roles, per-side counts, drop-outs, per-rep figures, feedback, limits);
    None when ``obj`` is not such a section. Bounded work; never raises."""
    if not isinstance(obj, Mapping) or not isinstance(obj.get("per_side"), Mapping):
        return None
    roles = [r for r in obj.get("roles") or [] if r in MULTI_ROLES] if isinstance(
        obj.get("roles"), list) else []  # fmt: skip
    per_side: dict[str, dict[str, Any]] = {}
    for side in (LEFT, RIGHT):
        d = obj["per_side"].get(side)
        d = d if isinstance(d, Mapping) else {}
        per_side[side] = {
            "reps": _count(d.get("reps")),
            KNEES_APART: _count(d.get(KNEES_APART)),
            SHOULDER_LIFT: _count(d.get(SHOULDER_LIFT)),
            "reps_checked_knees": _count(d.get("reps_checked_knees")),
            "reps_checked_trunk": _count(d.get("reps_checked_trunk")),
            "separation_deg_max": _opt_num(d.get("separation_deg_max"), MAX_ROM_DEG),
            "trunk_roll_deg_max": _opt_num(d.get("trunk_roll_deg_max"), MAX_ROM_DEG),
        }
    changes = []
    raw_changes = obj.get("board_changes")
    for ch in (raw_changes if isinstance(raw_changes, list) else [])[:MAX_REPS]:
        if not isinstance(ch, Mapping) or ch.get("role") not in MULTI_ROLES:
            continue
        t = _opt_num(ch.get("t_s"), MAX_TIME_S)
        rem = ch.get("remaining")
        changes.append({
            "t_s": t, "role": ch["role"],
            "state": "dropped" if ch.get("state") == "dropped" else "back",
            "remaining": [r for r in rem if r in MULTI_ROLES] if isinstance(rem, list) else [],
        })  # fmt: skip
    figs = []
    raw_reps = obj.get("reps")
    for f in (raw_reps if isinstance(raw_reps, list) else [])[:MAX_REPS]:
        if not isinstance(f, Mapping):
            continue
        idx = f.get("index")
        fl = f.get("flags")
        figs.append({
            "index": idx if isinstance(idx, int) and not isinstance(idx, bool) else None,
            "side": f.get("side") if f.get("side") in (LEFT, RIGHT) else None,
            "separation_deg": _opt_num(f.get("separation_deg"), MAX_ROM_DEG),
            "lag_s": _opt_num(f.get("lag_s"), MAX_REP_S),
            "lagging": f.get("lagging") if f.get("lagging") in MULTI_ROLES else None,
            "trunk_roll_deg": _opt_num(f.get("trunk_roll_deg"), MAX_ROM_DEG),
            "flags": [k for k in fl if k in MULTI_FLAG_NAMES] if isinstance(fl, list) else [],
        })  # fmt: skip
    fb = obj.get("feedback")
    feedback = [display_text(x)[:MAX_TEXT_CHARS] for x in fb if isinstance(x, str)][:8] if isinstance(
        fb, list) else []  # fmt: skip
    raw_st = obj.get("settings")
    st: Mapping[str, Any] = raw_st if isinstance(raw_st, Mapping) else {}
    settings = {k: _opt_num(st.get(k), MAX_ROM_DEG) for k in ("separation_deg", "lag_s",
                                                             "trunk_roll_deg")}  # fmt: skip
    return {"roles": roles, "per_side": per_side, "board_changes": changes, "reps": figs,
            "feedback": feedback, "settings": settings}  # fmt: skip


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


# --------------------------------------------------------------------------- reading

MAX_SUMMARY_BYTES = 8 * 1024 * 1024  # a 1000-rep summary.json is about 1 MB
MAX_REPS = 1000  # a session is 6-12 reps per side; far more is not one session
MAX_FLAG_EVENTS = 4 * MAX_REPS  # at most one cue per flag kind and rep
MAX_TIME_S = 1e10  # stream times (s); also allows times counted from 1970
MAX_REP_S = 3600.0  # one rep (and each of its phases) lasts at most an hour
MAX_ROM_DEG = 180.0  # a knee roll cannot go past the floor on the other side
MAX_SPEED_DPS = 10000.0  # far above any gyro's full scale
MAX_SOURCE_KEYS = 64
MAX_TEXT_CHARS = 500


def _check_rep(rep: Rep) -> str | None:
    """Why ``rep`` is not a plausible rep of this exercise (None if it is)."""
    for name in ("start_s", "peak_s", "end_s"):
        v = getattr(rep, name)
        if not 0 <= v <= MAX_TIME_S:
            return f"field '{name}': expected a time from 0 to {MAX_TIME_S:g} s, got {v:g}"
    if not rep.start_s <= rep.end_s <= rep.start_s + MAX_REP_S:
        return f"fields 'start_s'/'end_s': a rep must end after it starts, within {MAX_REP_S:g} s"
    for name in ("descent_s", "hold_s", "return_s"):
        v = getattr(rep, name)
        if not 0 <= v <= MAX_REP_S:
            return f"field '{name}': expected 0 to {MAX_REP_S:g} s, got {v:g}"
    if not 0 < rep.rom_deg <= MAX_ROM_DEG:
        return f"field 'rom_deg': expected more than 0 and at most {MAX_ROM_DEG:g}°, got {rep.rom_deg:g}"
    for name in ("peak_descent_dps", "peak_return_dps"):
        v = getattr(rep, name)
        if not 0 <= v <= MAX_SPEED_DPS:
            return f"field '{name}': expected 0 to {MAX_SPEED_DPS:g} °/s, got {v:g}"
    if not 1 <= rep.index <= 100 * MAX_REPS:
        return f"field 'index': expected 1 to {100 * MAX_REPS}, got {rep.index}"
    return None


def _scalars(obj: Mapping[Any, Any]) -> dict[str, Any]:
    """The plain values of a ``source`` block (text capped; nested values dropped)."""
    out: dict[str, Any] = {}
    for k, v in list(obj.items())[:MAX_SOURCE_KEYS]:
        if isinstance(v, str):
            out[display_text(str(k))[:MAX_TEXT_CHARS]] = display_text(v)[:MAX_TEXT_CHARS]
        elif (
            isinstance(v, bool)
            or (isinstance(v, int) and abs(v) < 2**53)
            or isinstance(v, float)
            and math.isfinite(v)
        ):
            out[display_text(str(k))[:MAX_TEXT_CHARS]] = v
    return out


def summary_from_object(obj: Any, where: str) -> tuple[dict[str, Any], list[Rep], list[FlagEvent]]:
    """Check a summary object read from a file or the history; bounded work and memory.

    Returns ``(summary, reps, flag_events)`` where ``summary`` keeps only what the report
    uses (``duration_s``, ``source``, ``settings``, and a multi-board session's checked
    ``multi`` section, see :func:`multi_block`): every number is recomputed from the
    reps. Anything else raises :class:`InputError` as one line naming ``where`` and the field.
    """

    def bad(problem: str, fld: str | None = None) -> InputError:
        return InputError(problem, path=where, field=fld)

    if not isinstance(obj, dict) or not isinstance(obj.get("reps"), list):
        raise bad("not a session summary (no 'reps' list)")
    items = obj["reps"]
    if len(items) > MAX_REPS:
        raise bad(
            f"{len(items)} reps is more than one session report can show (at most {MAX_REPS})",
            "reps",
        )
    reps: list[Rep] = []
    for n, d in enumerate(items, 1):
        try:
            rep = Rep.from_dict(d)
        except ValueError as err:
            raise bad(f"rep {n} is not a valid rep object ({err})", "reps") from None
        problem = _check_rep(rep)
        if problem:
            raise bad(f"rep {n} is not a valid rep object ({problem})", "reps")
        reps.append(rep)
    raw_events = obj.get("flag_events", [])
    if raw_events is None:
        raw_events = []
    if not isinstance(raw_events, list):
        raise bad("expected a list of flag events", "flag_events")
    if len(raw_events) > MAX_FLAG_EVENTS:
        raise bad(f"{len(raw_events)} flag events; at most {MAX_FLAG_EVENTS}", "flag_events")
    events: list[FlagEvent] = []
    for n, d in enumerate(raw_events, 1):
        try:
            ev = FlagEvent.from_dict(d)
        except ValueError as err:
            raise bad(f"flag event {n} is not valid ({err})", "flag_events") from None
        if not 0 <= ev.t_s <= MAX_TIME_S or not abs(ev.value) <= MAX_SPEED_DPS:
            raise bad(f"flag event {n}: time or value out of range", "flag_events")
        events.append(ev)
    summary: dict[str, Any] = {}
    if "duration_s" in obj and obj["duration_s"] is not None:
        dur = obj["duration_s"]
        if isinstance(dur, bool) or not isinstance(dur, int | float):
            raise bad(f"expected a number of seconds, got {type(dur).__name__}", "duration_s")
        if not (math.isfinite(dur) and 0 <= dur <= MAX_TIME_S):
            raise bad(f"expected 0 to {MAX_TIME_S:g} s, got {dur!r}"[:120], "duration_s")
        summary["duration_s"] = float(dur)
    if isinstance(obj.get("source"), Mapping):
        summary["source"] = _scalars(obj["source"])
    for key in ("started_at", "started"):
        if isinstance(obj.get(key), str):
            summary.setdefault("source", {}).setdefault("started_at", obj[key][:MAX_TEXT_CHARS])
    multi = multi_block(obj.get("multi"))
    if multi is not None:
        summary["multi"] = multi
    settings = obj.get("settings")
    if isinstance(settings, Mapping):
        summary["settings"] = {
            str(k)[:MAX_TEXT_CHARS]: (_scalars(v) if isinstance(v, Mapping) else None)
            for k, v in list(settings.items())[:MAX_SOURCE_KEYS]
        }
    return summary, reps, events


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_summary_json(text: str | bytes, where: str) -> Any:
    """``json.loads`` that refuses NaN/Infinity and too-deep nesting with one line."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise InputError("not a session summary (JSON nested too deeply)", path=where) from None
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON ({err.msg})", path=where, line=err.lineno) from None
    except ValueError as err:  # NaN / Infinity, or bytes that are not UTF-8
        raise InputError(f"not valid JSON ({err})", path=where) from None


def load_summary_file(path: str | Path) -> tuple[dict[str, Any], list[Rep], list[FlagEvent]]:
    """Read and check a ``summary.json`` / ``replay --json`` file (see :func:`summary_from_object`).

    Only a regular file of at most :data:`MAX_SUMMARY_BYTES` is read.
    """
    p = Path(path)
    where = display_text(str(p))
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=where) from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise InputError("not a regular file; give a summary .json file", path=where)
        try:
            data = f.read(MAX_SUMMARY_BYTES + 1)
        except OSError as err:
            raise InputError(f"cannot read: {err.strerror}", path=where) from None
    if len(data) > MAX_SUMMARY_BYTES:
        raise InputError(
            f"larger than {MAX_SUMMARY_BYTES // (1024 * 1024)} MB: not one session's summary",
            path=where,
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text (byte {err.start})", path=where) from None
    return summary_from_object(parse_summary_json(text, where), where)
