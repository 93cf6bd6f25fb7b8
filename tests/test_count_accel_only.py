"""Issue 9 class E: accelerometer only, an abrupt drop's stop tilts the gravity reading
(theta_app ~ theta - (r/g) theta''), so the angle overshoots the end range and swings
back past halfway within a few tenths of a second. That swing is the drop's rebound: the
drop is one rep, flagged as a fast drop, and the live cue fires during the descent.

Truth: the simulator's movement model (seeded ``accel_only_lever`` sessions)."""

from __future__ import annotations

import pytest

from imu_host.analysis import analyze
from imu_host.io.recording import Recording
from imu_host.sim.generate import simulate
from imu_host.sim.score import score


@pytest.mark.parametrize("seed", [201, 210])
def test_abrupt_drop_overshoot_is_one_flagged_rep(seed):
    sim = simulate("accel_only_lever", seed)
    a = analyze(Recording(f"accel_only_lever:{seed}", sim.samples, sim.sample_rate_hz, {}))
    sc = score(a.reps, sim.truth)
    assert sc.exact, (sc.got, sc.want)
    tp, fp, fn = sc.flags["fast_drop"]
    assert (fp, fn) == (0, 0), sc.flags["fast_drop"]
