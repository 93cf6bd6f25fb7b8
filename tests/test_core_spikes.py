"""A single knock on the gyro must not change the result (issue 15).

Golden recordings (truth from the simulator's movement model) get 1-3 samples of
full-scale gyro (the sidecar's range, i.e. what a saturated int16 reads) injected on each
axis, at a quiet moment two seconds in and in the middle of the session: the per-side
counts must still equal the truth and no fast-drop flag may be invented or lost.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_golden import match_truth

from imu_host.analysis import analyze
from imu_host.core.samples import Samples
from imu_host.io.recording import Recording, read_recording

RECORDINGS = Path(__file__).resolve().parent.parent / "recordings"
NAMES = ["controlled_medium_s1", "fast_drops_mixed_s1", "bounces_s1"]


def _load(name: str) -> tuple[Recording, dict]:
    path = RECORDINGS / f"{name}.csv"
    return read_recording(path), json.loads(Path(str(path) + ".truth.json").read_text())


def _with_spike(rec: Recording, t_s: float, axis: int, n: int, value: float) -> Recording:
    s = rec.samples
    assert s.gyro_dps is not None
    g = s.gyro_dps.copy()
    i = int(np.searchsorted(s.t_s, s.t_s[0] + t_s))
    g[i : i + n, axis] = value
    return Recording(rec.path, Samples(s.t_s, s.accel_g, g), rec.sample_rate_hz, rec.meta)


def _check(rec: Recording, truth: dict) -> None:
    m = match_truth(analyze(rec).reps, truth)
    assert m["sides_ok"], m
    assert m["fast_drop"]["fp"] == 0 and m["fast_drop"]["fn"] == 0, m


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [1, 3])
def test_full_scale_gyro_knock_two_seconds_in(name, n):
    rec, truth = _load(name)
    full = float(truth["gyro_range_dps"])
    for axis in range(3):
        for sign in (1.0, -1.0):
            _check(_with_spike(rec, 2.0, axis, n, sign * full), truth)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_full_scale_gyro_knock_mid_session(name):
    rec, truth = _load(name)
    full = float(truth["gyro_range_dps"])
    # half-way between two reps, and inside the middle rep
    reps = truth["reps"]
    k = len(reps) // 2
    quiet = 0.5 * (reps[k - 1]["end_s"] + reps[k]["start_s"])
    inside = reps[k]["peak_s"]
    for t in (quiet, inside):
        for axis in range(3):
            for n in (1, 3):
                _check(_with_spike(rec, t, axis, n, -full), truth)


def test_issue_example_500_dps_for_30_ms_on_a_clean_session():
    """The report: +500 deg/s on one axis for 3 samples, two seconds into a clean 8-rep
    session, gave 0 reps; one -500 deg/s sample mid-session made a false fast drop."""
    rec, truth = _load("controlled_medium_s1")
    assert truth["reps_left"] + truth["reps_right"] == 8
    _check(_with_spike(rec, 2.0, 0, 3, 500.0), truth)
    _check(_with_spike(rec, 0.5 * truth["duration_s"], 1, 1, -500.0), truth)
