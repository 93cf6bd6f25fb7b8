"""Session numbers: the one definition used by replay, live, reports and the history."""

from __future__ import annotations

import numpy as np

from imu_host.core.events import (
    FAST_DROP,
    LEFT,
    RIGHT,
    Event,
    FlagEvent,
    GapEvent,
    Rep,
    asymmetry_pct,
    tempo_medians,
)


def _median_or_none(xs: list[float]) -> float | None:
    return float(np.median(xs)) if xs else None


def _round3(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def summarize(reps: list[Rep], duration_s: float, events: list[Event] | None = None) -> dict:
    """The session summary (the object ``imu-host replay --json`` prints)."""
    by = {LEFT: [r for r in reps if r.side == LEFT], RIGHT: [r for r in reps if r.side == RIGHT]}
    rom = {k: [r.rom_deg for r in v] for k, v in by.items()}
    means = {k: (float(np.mean(v)) if v else None) for k, v in rom.items()}
    mean_rom = {k: (round(v, 2) if v is not None else None) for k, v in means.items()}
    max_rom = {k: (round(float(np.max(v)), 2) if v else None) for k, v in rom.items()}
    asym = asymmetry_pct(means[LEFT], means[RIGHT])
    asym = None if asym is None else round(asym, 1)
    flagged = [r for r in reps if r.flags]
    cues = [e for e in (events or []) if isinstance(e, FlagEvent)]
    gaps = [e for e in (events or []) if isinstance(e, GapEvent)]
    return {
        "reps_left": len(by[LEFT]),
        "reps_right": len(by[RIGHT]),
        "reps_total": len(reps),
        "fast_drops": sum(1 for r in reps if FAST_DROP in r.flags),
        "flagged_reps": len(flagged),
        "clean_reps": len(reps) - len(flagged),
        "flag_counts": {
            f: sum(1 for r in reps if f in r.flags)
            for f in ("fast_drop", "bounce", "fast_return", "partial")
        },
        "rom_mean_deg": mean_rom,
        "rom_max_deg": max_rom,
        "asymmetry_pct": asym,
        "tempo": {
            **{f"{k}_s_median": _round3(v) for k, v in tempo_medians(reps).items()},
            "rep_s_median": _round3(_median_or_none([r.end_s - r.start_s for r in reps])),
        },
        "duration_s": round(duration_s, 3),
        "cues": len(cues),
        "gaps": len(gaps),
        "reps": [r.to_dict() for r in reps],
    }
