"""What the rep detector emits: completed reps and live form cues.

These dataclasses are the contract between the detector, the session summary, the
report/history code and the live view. ``to_dict()`` gives the JSON form.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from imu_host.core import quantiles

LEFT = "left"
RIGHT = "right"

# Flag names used on reps and in FlagEvent.kind
FAST_DROP = "fast_drop"  # momentum-driven descent (peak descent speed above threshold)
BOUNCE = "bounce"  # reversal and re-push at end range ("bouncing at the sticking point")
FAST_RETURN = "fast_return"  # yanked return (peak return speed above threshold)
PARTIAL = "partial"  # range far below the person's own typical range for that side
# one board's flags: every session has them, and they are the keys of ``flag_counts``
ALL_FLAGS = (FAST_DROP, BOUNCE, FAST_RETURN, PARTIAL)
# the multi-board flags (imu_host.core.multi): only a session with the boards a rule
# needs raises them (both thighs; the sternum), so they are not among ALL_FLAGS and a
# single-board session's ``flag_counts`` and JSON keys stay the same
KNEES_APART = "knees_apart"  # the thighs' roll differ, or one leg lags the other
SHOULDER_LIFT = "shoulder_lift"  # the upper trunk rolls toward the knees' side
MULTI_FLAGS = (KNEES_APART, SHOULDER_LIFT)
# every flag a rep or a FlagEvent may carry (what from_dict accepts)
KNOWN_FLAGS = ALL_FLAGS + MULTI_FLAGS
# each flag in plain words: the one mapping every view uses (terminal, web, speech-free
# lines, reports), so a user never reads an internal flag name
FLAG_WORDS = {
    FAST_DROP: "dropped too fast",
    BOUNCE: "bounced at the end",
    FAST_RETURN: "came back too fast",
    PARTIAL: "partial range",
    KNEES_APART: "knees came apart",  # two thigh boards (multi-board sessions)
    SHOULDER_LIFT: "shoulder lifted",  # a sternum board
}
CLEAN_WORD = "clean"


def flag_words(flags: Iterable[str]) -> str:
    """A rep's faults in plain words (``clean`` when there are none)."""
    return ", ".join(FLAG_WORDS.get(f, f.replace("_", " ")) for f in flags) or CLEAN_WORD


def _num(d: Mapping[str, Any], key: str) -> float:
    """``d[key]`` as a finite float; ValueError naming the field otherwise."""
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"field '{key}': expected a number, got {_show(v)}")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"field '{key}': expected a finite number, got {_show(v)}")
    return f


def _show(v: Any) -> str:
    text = repr(v) if v is not None else "nothing"
    return text if len(text) <= 40 else text[:37] + "..."


def _side(d: Mapping[str, Any]) -> str:
    v = d.get("side")
    if v not in (LEFT, RIGHT):
        raise ValueError(f"field 'side': expected 'left' or 'right', got {_show(v)}")
    return str(v)


def _kind(v: Any, key: str) -> str:
    if v not in KNOWN_FLAGS:
        raise ValueError(f"field '{key}': expected one of {', '.join(KNOWN_FLAGS)}, got {_show(v)}")
    return str(v)


def tempo_medians(reps: Iterable[Rep]) -> dict[str, float | None]:
    """Median descent, hold and return times in seconds (None where there are no reps)."""
    reps = list(reps)

    def med(xs: list[float]) -> float | None:
        return quantiles.median(np.asarray(xs, dtype=float)) if xs else None

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

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Rep:
        """The inverse of :meth:`to_dict` (extra keys ignored).

        Raises ValueError naming the field when a value has the wrong type, is not finite,
        or ``flags`` is not a list of known flag names.
        """
        if not isinstance(d, Mapping):
            raise ValueError(f"expected a rep object, got {_show(d)}")
        index = d.get("index")
        if isinstance(index, bool) or not isinstance(index, int):
            raise ValueError(f"field 'index': expected a whole number, got {_show(index)}")
        flags = d.get("flags", ())
        if not isinstance(flags, list | tuple):
            raise ValueError(f"field 'flags': expected a list of flag names, got {_show(flags)}")
        names = ("start_s", "peak_s", "end_s", "rom_deg", "descent_s", "hold_s", "return_s")
        nums = {k: _num(d, k) for k in names}
        return cls(
            index=index,
            side=_side(d),
            peak_descent_dps=_num(d, "peak_descent_dps"),
            peak_return_dps=_num(d, "peak_return_dps"),
            flags=tuple(_kind(f, "flags") for f in flags),
            **nums,
        )


@dataclass(frozen=True)
class FlagEvent:
    """A form cue raised while the person moves (e.g. a fast drop, while still falling)."""

    t_s: float  # stream time at which the detector became certain
    kind: str  # one of KNOWN_FLAGS
    side: str
    value: float  # the measured quantity (deg/s for speeds, deg for bounce size,
    # separation or trunk roll in deg for knees_apart / shoulder_lift)

    def to_dict(self) -> dict:
        return {
            "event": "flag",
            "t_s": round(self.t_s, 3),
            "kind": self.kind,
            "side": self.side,
            "value": round(self.value, 3),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FlagEvent:
        """The inverse of :meth:`to_dict`; ValueError naming the field when invalid."""
        if not isinstance(d, Mapping):
            raise ValueError(f"expected a flag event object, got {_show(d)}")
        value = _num(d, "value") if "value" in d else 0.0
        return cls(_num(d, "t_s"), _kind(d.get("kind"), "kind"), _side(d), value)


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
