"""Score detected reps against a simulation's truth (used by ``benchmarks/bench_suite.py``).

Truth is the simulator's movement model; nothing here looks at how the reps were found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from imu_host.core.events import Rep

MATCH_SLACK_S = 0.5  # a detected rep matches a truth rep whose peak lies within its span +- this


@dataclass
class Score:
    """One recording's result against its truth."""

    exact: bool  # per-side counts equal (sides may be swapped if the mounting is unknown)
    got: tuple[int, int]
    want: tuple[int, int]
    flags: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # flag -> (tp, fp, fn)
    upright_reps: int = 0  # reps starting inside a no-rep stretch (walking, getting down)
    rom_err_deg: list[float] = field(default_factory=list)  # |ROM - truth amplitude| per match
    drop_rom_err_deg: list[float] = field(default_factory=list)  # the same, true fast drops


def score(reps: Sequence[Rep], truth: dict) -> Score:
    """Compare ``reps`` with ``truth`` (a ``simulate()`` truth dict or sidecar)."""
    swap_ok = not truth.get("mounting_follows_convention", True)
    got = (sum(r.side == "left" for r in reps), sum(r.side == "right" for r in reps))
    want = (int(truth["reps_left"]), int(truth["reps_right"]))
    exact = got == want or (swap_ok and got == want[::-1])
    out = Score(exact, got, want)
    for flag in ("fast_drop", "bounce", "fast_return"):
        t_times = [x["peak_s"] for x in truth["reps"] if x.get(flag)]
        d = [r for r in reps if flag in r.flags]
        used: set[int] = set()
        tp = 0
        for tt in t_times:
            for j, r in enumerate(d):
                if j not in used and r.start_s - MATCH_SLACK_S <= tt <= r.end_s + MATCH_SLACK_S:
                    used.add(j)
                    tp += 1
                    break
        out.flags[flag] = (tp, len(d) - tp, len(t_times) - tp)
    for t0, t1 in truth.get("no_rep_segments", []):
        out.upright_reps += sum(1 for r in reps if t0 <= r.start_s < t1)
    used_r: set[int] = set()
    for tr in truth["reps"]:
        for j, r in enumerate(reps):
            if j in used_r:
                continue
            if r.start_s - MATCH_SLACK_S <= tr["peak_s"] <= r.end_s + MATCH_SLACK_S:
                used_r.add(j)
                out.rom_err_deg.append(abs(r.rom_deg - float(tr["amplitude_deg"])))
                if tr.get("fast_drop"):
                    out.drop_rom_err_deg.append(out.rom_err_deg[-1])
                break
    return out


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall, F1 (nan where undefined)."""
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    f = 2 * p * r / (p + r) if tp else (0.0 if fp + fn else float("nan"))
    return p, r, f


def median(x: Sequence[float]) -> float:
    return float(np.median(x)) if len(x) else float("nan")
