"""Hand-counted real recordings (MEx, thigh accelerometer): every count in its range."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from realdata import MEX_DIR, mex_available, requires_mex

from imu_host.analysis import analyze
from imu_host.io.recording import MEX_OPTIONS, import_csv


def _labels() -> list[dict]:
    if not mex_available():
        return []
    with open(MEX_DIR / "labels.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _range(spec: str) -> tuple[int, int]:
    lo, _, hi = spec.partition("-")
    return int(lo), int(hi or lo)


@requires_mex
@pytest.mark.parametrize("row", _labels(), ids=lambda r: f"subject_{r['subject']}")
def test_count_inside_hand_counted_range(row):
    rec = import_csv(MEX_DIR / f"subject_{row['subject']}.csv", MEX_OPTIONS)
    s = analyze(rec).summary
    lo, hi = _range(row["count_range"])
    assert lo <= s["reps_total"] <= hi, (s["reps_left"], s["reps_right"], row["count_range"])
    # sides are arbitrary (A/B) in the labels, but the split must match one way round
    a, b = int(row["reps_a"]), int(row["reps_b"])
    got = sorted([s["reps_left"], s["reps_right"]])
    if lo == hi:
        assert got == sorted([a, b])
    else:
        assert abs(got[0] - min(a, b)) <= 1 and abs(got[1] - max(a, b)) <= 1


@requires_mex
def test_replay_cli_on_real_file_prints_one_json_object():
    f = MEX_DIR / "subject_30.csv"
    r = subprocess.run(
        [sys.executable, "-m", "imu_host.cli.main", "replay", str(f), "--format", "mex", "--json",
         "--no-save"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    obj = json.loads(r.stdout)
    for key in ("reps_left", "reps_right", "reps_total", "fast_drops", "reps"):
        assert key in obj
    assert obj["reps_total"] == obj["reps_left"] + obj["reps_right"] == len(obj["reps"]) == 33
    rep = obj["reps"][0]
    for key in ("side", "start_s", "end_s", "rom_deg", "peak_speed_dps", "flags"):
        assert key in rep
    assert rep["side"] in ("left", "right") and rep["start_s"] < rep["end_s"]
