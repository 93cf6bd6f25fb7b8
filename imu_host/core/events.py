"""What the rep detector emits: completed reps and live form cues.

These dataclasses are the contract between the detector, the session summary, the
report/history code and the live view. ``to_dict()`` gives the JSON form.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

LEFT = "left"
RIGHT = "right"

# Flag names used on reps and in FlagEvent.kind
FAST_DROP = "fast_drop"  # momentum-driven descent (peak descent speed above threshold)
BOUNCE = "bounce"  # reversal and re-push at end range ("bouncing at the sticking point")
FAST_RETURN = "fast_return"  # yanked return (peak return speed above threshold)
PARTIAL = "partial"  # range far below the person's own typical range for that side
ALL_FLAGS = (FAST_DROP, BOUNCE, FAST_RETURN, PARTIAL)


def tempo_medians(reps: Iterable[Rep]) -> dict[str, float | None]:
    """Median descent, hold and return times in seconds (None where there are no reps)."""
    reps = list(reps)

    def med(xs: list[float]) -> float | None:
        return float(statistics.median(xs)) if xs else None

    return {
        "descent": med([r.descent_s for r in reps]),
        "hold": med([r.hold_s for r in reps]),
        "return": med([r.return_s for r in reps]),
    }


def asymmetry_pct(rom_left: float | None, rom_right: float | None) -> float | None:
    """How much smaller the smaller side's range is, in % of the larger (None if unknown)."""
    if rom_left is None or rom_right is None:
        return None
    big = max(rom_left, rom_right)
    if big <= 0:
        return None
    return 100.0 * abs(rom_left - rom_right) / big


@dataclass(frozen=True)
class Rep:
    """One rep: centre -> side -> back to centre."""

    index: int  # 1-based, in order of completion
    side: str  # LEFT | RIGHT
    start_s: float  # left the centre
    peak_s: float  # deepest point
    end_s: float  # back at centre (or crossed over to the other side)
    rom_deg: float  # range of motion: peak angle relative to centre, > 0
    descent_s: float  # start -> arrival at end range
    hold_s: float  # time held at end range
    return_s: float  # leaving end range -> end
    peak_descent_dps: float  # fastest angular speed on the way out
    peak_return_dps: float  # fastest angular speed on the way back
    flags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def peak_speed_dps(self) -> float:
        """Peak descent speed: the number the fast-drop flag is judged on."""
        return self.peak_descent_dps

    def to_dict(self) -> dict:
        d = asdict(self)
        d["flags"] = list(self.flags)
        d["peak_speed_dps"] = self.peak_speed_dps
        for k, v in d.items():
            if isinstance(v, float):
                d[k] = round(v, 3)
        return d


@dataclass(frozen=True)
class FlagEvent:
    """A form cue raised while the person moves (e.g. a fast drop, while still falling)."""

    t_s: float  # stream time at which the detector became certain
    kind: str  # one of ALL_FLAGS
    side: str
    value: float  # the measured quantity (deg/s for speeds, deg for bounce size)

    def to_dict(self) -> dict:
        return {
            "event": "flag",
            "t_s": round(self.t_s, 3),
            "kind": self.kind,
            "side": self.side,
            "value": round(self.value, 3),
        }


@dataclass(frozen=True)
class RepEvent:
    """A rep has been completed (the knees are back at centre)."""

    t_s: float
    rep: Rep

    def to_dict(self) -> dict:
        return {"event": "rep", "t_s": round(self.t_s, 3), **self.rep.to_dict()}


@dataclass(frozen=True)
class GapEvent:
    """Samples were lost between ``start_s`` and ``end_s`` (no rep spans a long gap)."""

    t_s: float
    start_s: float
    end_s: float

    def to_dict(self) -> dict:
        return {
            "event": "gap",
            "t_s": round(self.t_s, 3),
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
        }


Event = FlagEvent | RepEvent | GapEvent
