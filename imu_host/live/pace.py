"""The pacing guide (``--pace DOWN,HOLD,UP`` or ``--pace breaths``).

:class:`PaceGuide` prompts on the stream clock: "exhale and lower" (alternating sides),
"hold, breathe", "back to centre", "inhale", for the prescribed reps. It starts once the
knee angle is known (the views stop asking for a roll to each side) and stops when both
sides reached the target. The session gives its prompts to the sinks as
:class:`~imu_host.live.view.PromptEvent` (the coach says them, the views show them) and
records the guide and the tempo achieved against it in the summary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from imu_host.errors import InputError
from imu_host.live.view import LiveState

PACE_LOWER = "exhale and lower"
PACE_HOLD = "hold, breathe"
PACE_BACK = "back to centre"
PACE_INHALE = "inhale"
PACE_PHRASES = (PACE_LOWER, PACE_HOLD, PACE_BACK, PACE_INHALE)


@dataclass(frozen=True)
class Pace:
    """The pacing guide: seconds lowering, holding, returning, resting at centre."""

    down_s: float = 3.0
    hold_s: float = 2.0
    up_s: float = 3.0
    centre_s: float = 2.0  # "inhale" at centre before the next rep
    mode: str = "seconds"  # "seconds" or "breaths"

    # by breaths: one slow exhale lowering, one full breath held, one inhale returning
    BREATH_S = 4.0

    @classmethod
    def parse(cls, text: str) -> Pace:
        if text.strip().lower() == "breaths":
            b = cls.BREATH_S
            return cls(b, 1.5 * b, b, 0.5 * b, "breaths")
        try:
            parts = [float(x) for x in text.split(",")]
        except ValueError:
            parts = []
        if len(parts) != 3 or not all(math.isfinite(x) and 0 < x <= 60 for x in parts):
            raise InputError(
                f"--pace: expected DOWN,HOLD,UP in seconds (e.g. 3,2,3) or 'breaths', got {text!r}"
            )
        return cls(parts[0], parts[1], parts[2])

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "down_s": self.down_s, "hold_s": self.hold_s,
                "up_s": self.up_s, "centre_s": self.centre_s}  # fmt: skip


class PaceGuide:
    """Prompts on the stream clock: lower -> hold -> back -> inhale, sides alternating.

    Starts when the axis is learned (the view no longer asks for a roll to each side) and
    stops once both sides reached the target."""

    def __init__(self, pace: Pace, target: int | None) -> None:
        self.pace = pace
        self.target = target
        self._t0: float | None = None
        self.prompt = ""
        self.side = "left"
        self.rep = 0

    def update(self, t_s: float, state: LiveState) -> str | None:
        """Advance to stream time ``t_s``; returns a new prompt's phrase, else None."""
        if state.learning or state.ended:
            return None
        tgt = self.target
        if tgt and state.left >= tgt and state.right >= tgt:
            if self.prompt:
                self.prompt = ""
            return None
        if self._t0 is None:
            self._t0 = t_s
        p = self.pace
        cycle = p.down_s + p.hold_s + p.up_s + p.centre_s
        k, phase_t = divmod(t_s - self._t0, cycle)
        self.rep = int(k) + 1
        self.side = "left" if int(k) % 2 == 0 else "right"
        if phase_t < p.down_s:
            phrase = PACE_LOWER
        elif phase_t < p.down_s + p.hold_s:
            phrase = PACE_HOLD
        elif phase_t < p.down_s + p.hold_s + p.up_s:
            phrase = PACE_BACK
        else:
            phrase = PACE_INHALE
        text = f"{phrase} ({self.side})" if phrase == PACE_LOWER else phrase
        if text == self.prompt:
            return None
        self.prompt = text
        return phrase
