"""Session numbers: the ONE definition used by replay, live, reports and the history.

Pure functions of the rep list (numpy only, no I/O). Definitions:

- clean rep: no flags; ``clean_pct`` = 100 * clean / total.
- ROM per side: mean (and max, min) of ``rom_deg`` over that side's reps.
- ``asymmetry_pct`` = 100 * |mean ROM left - mean ROM right| / max(left, right), i.e. how
  much smaller the smaller side is (:func:`imu_host.core.events.asymmetry_pct`).
- tempo: medians of ``descent_s`` / ``hold_s`` / ``return_s`` (per side and overall).
- ``fast_drop_rate`` = reps flagged ``fast_drop`` / all reps.

:func:`session_stats` gives these at full precision (report and history);
:func:`summarize` is the object ``imu-host replay --json`` prints (same numbers, rounded for
display: ROM to 0.01°, asymmetry to 0.1 %, times to 1 ms).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from imu_host.core import quantiles
from imu_host.core.events import (
    ALL_FLAGS,
    FAST_DROP,
    LEFT,
    RIGHT,
    Event,
    FlagEvent,
    GapEvent,
    Rep,
    asymmetry_pct,
)
from imu_host.errors import InputError

SIDES = (LEFT, RIGHT)
TEMPO_PHASES = ("descent", "hold", "return")


def median_or_none(values: Iterable[float]) -> float | None:
    """Median of ``values`` (mean of the middle two for an even count); None if empty."""
    xs = list(values)
    return quantiles.median(np.asarray(xs, dtype=float)) if xs else None


def mean_or_none(values: Iterable[float]) -> float | None:
    xs = list(values)
    return float(np.mean(np.asarray(xs, dtype=float))) if xs else None


def _round(x: float | None, nd: int) -> float | None:
    return None if x is None else round(x, nd)


def tempo_medians(reps: Iterable[Rep]) -> dict[str, float | None]:
    """Median descent, hold and return times in seconds (None where there are no reps)."""
    rs = list(reps)
    return {
        "descent": median_or_none(r.descent_s for r in rs),
        "hold": median_or_none(r.hold_s for r in rs),
        "return": median_or_none(r.return_s for r in rs),
    }


def flag_counts(reps: Iterable[Rep]) -> dict[str, int]:
    """Reps carrying each flag kind (a rep with two flags counts once for each)."""
    rs = list(reps)
    return {k: sum(1 for r in rs if k in r.flags) for k in ALL_FLAGS}


def targets(target_per_side: int | Mapping[str, int | None] | None) -> dict[str, int | None]:
    """Prescribed reps per side from an int (both sides), a per-side mapping or None."""
    if target_per_side is None:
        return {LEFT: None, RIGHT: None}
    if isinstance(target_per_side, Mapping):
        out: dict[str, int | None] = {}
        for s in SIDES:
            v = target_per_side.get(s)
            out[s] = None if v is None else int(v)
        return out
    n = int(target_per_side)
    if n < 0:
        raise InputError(f"target reps per side must be >= 0, got {n}")
    return {LEFT: n, RIGHT: n}


def side_stats(reps: Iterable[Rep], side: str, target: int | None = None) -> dict[str, Any]:
    """Numbers for the reps of one side (``reps`` may hold both sides)."""
    rs = [r for r in reps if r.side == side]
    flagged = sum(1 for r in rs if r.flags)
    rom = [r.rom_deg for r in rs]
    down = [r.peak_descent_dps for r in rs]
    up = [r.peak_return_dps for r in rs]
    return {
        "target": target,
        "done": len(rs),
        "clean": len(rs) - flagged,
        "flagged": flagged,
        "flags": flag_counts(rs),
        "rom_mean_deg": mean_or_none(rom),
        "rom_max_deg": max(rom, default=None),
        "rom_min_deg": min(rom, default=None),
        "peak_descent_dps_median": median_or_none(down),
        "peak_descent_dps_max": max(down, default=None),
        "peak_return_dps_median": median_or_none(up),
        "peak_return_dps_max": max(up, default=None),
        "tempo_median_s": tempo_medians(rs),
    }


def session_stats(
    reps: Sequence[Rep], target_per_side: int | Mapping[str, int | None] | None = None
) -> dict[str, Any]:
    """Clinical-style numbers of one session, computed from the rep list only.

    Keys: ``reps_total``, ``clean_reps``, ``flagged_reps``, ``clean_pct``, ``fast_drops``
    (reps flagged fast_drop), ``fast_drop_rate``, ``flags`` (kind -> reps), ``asymmetry_pct``,
    ``smaller_side``, ``tempo_median_s`` ({"descent","hold","return"}), ``sides``
    ({"left": side_stats, "right": side_stats}), ``target_per_side``.
    """
    tg = targets(target_per_side)
    sides = {s: side_stats(reps, s, tg[s]) for s in SIDES}
    total = len(reps)
    clean = sum(1 for r in reps if not r.flags)
    flags = flag_counts(reps)
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
        "target_per_side": tg,
        "sides": sides,
    }


def summarize(
    reps: Sequence[Rep], duration_s: float, events: Sequence[Event] | None = None
) -> dict[str, Any]:
    """The session summary (the object ``imu-host replay --json`` prints).

    The same numbers as :func:`session_stats`, rounded for display; these keys are a
    public interface (scripts read them): keep them stable.
    """
    reps = list(reps)
    st = session_stats(reps)
    sides = st["sides"]
    cues = [e for e in (events or []) if isinstance(e, FlagEvent)]
    gaps = [e for e in (events or []) if isinstance(e, GapEvent)]
    tempo = st["tempo_median_s"]
    return {
        "reps_left": sides[LEFT]["done"],
        "reps_right": sides[RIGHT]["done"],
        "reps_total": st["reps_total"],
        "fast_drops": st["fast_drops"],
        "flagged_reps": st["flagged_reps"],
        "clean_reps": st["clean_reps"],
        "flag_counts": dict(st["flags"]),
        "rom_mean_deg": {s: _round(sides[s]["rom_mean_deg"], 2) for s in SIDES},
        "rom_max_deg": {s: _round(sides[s]["rom_max_deg"], 2) for s in SIDES},
        "asymmetry_pct": _round(st["asymmetry_pct"], 1),
        "tempo": {
            **{f"{k}_s_median": _round(tempo[k], 3) for k in TEMPO_PHASES},
            "rep_s_median": _round(median_or_none(r.end_s - r.start_s for r in reps), 3),
        },
        "duration_s": round(duration_s, 3),
        "cues": len(cues),
        "gaps": len(gaps),
        "reps": [r.to_dict() for r in reps],
    }
