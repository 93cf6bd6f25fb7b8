"""Replay every golden recording in recordings/ and compare with its sidecar of truth.

Each ``recordings/NAME.csv`` has ``NAME.csv.truth.json`` written by the simulator from its
movement model (never from this code's output). Any change in counts or flags shows here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imu_host.analysis import analyze
from imu_host.io.recording import read_recording

RECORDINGS = Path(__file__).resolve().parent.parent / "recordings"
FILES = sorted(RECORDINGS.glob("*.csv"))


def match_truth(reps, truth: dict) -> dict:
    """Compare detected reps with truth reps; returns counts and flag confusion."""
    swap = not truth.get("mounting_follows_convention", True)
    got = (sum(r.side == "left" for r in reps), sum(r.side == "right" for r in reps))
    want = (truth["reps_left"], truth["reps_right"])
    sides_ok = got == want or (swap and got == want[::-1])
    out = {"got": got, "want": want, "sides_ok": sides_ok}
    for flag in ("fast_drop", "bounce", "fast_return"):
        t_times = [x["peak_s"] for x in truth["reps"] if x.get(flag)]
        d = [r for r in reps if flag in r.flags]
        used: set[int] = set()
        tp = 0
        for tt in t_times:
            for j, r in enumerate(d):
                if j not in used and r.start_s - 0.5 <= tt <= r.end_s + 0.5:
                    used.add(j)
                    tp += 1
                    break
        out[flag] = {"tp": tp, "fn": len(t_times) - tp, "fp": len(d) - tp}
    return out


def test_there_are_golden_recordings():
    assert len(FILES) >= 8
    for f in FILES:
        assert Path(str(f) + ".truth.json").is_file(), f"{f.name} has no truth sidecar"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_golden_recording_matches_truth(path):
    truth = json.loads(Path(str(path) + ".truth.json").read_text())
    a = analyze(read_recording(path))
    m = match_truth(a.reps, truth)
    assert m["sides_ok"], m
    assert m["fast_drop"]["fn"] == 0 and m["fast_drop"]["fp"] == 0, m
