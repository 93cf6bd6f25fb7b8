"""Issue 9 class E: without a gyro the speed comes from the gravity angle, whose per-sample
derivative reads controlled reps high (noise and the lever-arm tilt). Controlled reps'
peak descent speed must be within +-15 % of the truth and never flagged; abrupt
140-280 deg/s drops are still flagged.

Truth: the simulator's movement model (``peak_descent_dps`` of each true rep) on seeded
accelerometer-only sessions (sensor 0.2-0.45 m from the roll axis)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from imu_host.analysis import analyze
from imu_host.io.recording import Recording
from imu_host.sim.generate import simulate
from imu_host.sim.score import MATCH_SLACK_S

SPEED_TOLERANCE = 0.15  # issue 9: controlled reps within +-15 % of the true peak speed
SHARE_WITHIN = 0.9  # at least this share of controlled reps inside the tolerance


def _matched(names: tuple[str, ...], seeds: range) -> tuple[list, list]:
    ctl, fast = [], []
    for name in names:
        for seed in seeds:
            sim = simulate(name, seed)
            a = analyze(Recording(f"{name}:{seed}", sim.samples, sim.sample_rate_hz, {}))
            for tr in sim.truth["reps"]:
                for r in a.reps:
                    if r.start_s - MATCH_SLACK_S <= tr["peak_s"] <= r.end_s + MATCH_SLACK_S:
                        (fast if tr["fast_drop"] else ctl).append((tr, r))
                        break
    return ctl, fast


@functools.cache
def _reps() -> tuple[list, list]:
    return _matched(("accel_only_lever", "accel_only"), range(1, 5))


@pytest.mark.slow  # 8 whole simulated sessions
def test_accel_only_abrupt_drops_flagged_controlled_reps_not():
    ctl, fast = _reps()
    assert len(ctl) >= 40 and len(fast) >= 4, (len(ctl), len(fast))
    assert not [r for _, r in ctl if "fast_drop" in r.flags]
    assert all("fast_drop" in r.flags for _, r in fast), [r.peak_descent_dps for _, r in fast]


@pytest.mark.slow
def test_accel_only_controlled_speed_within_tolerance():
    """Reported speeds undo the lever-arm tilt (an assumed 0.3 m; the simulator's sensors
    sit 0.2-0.45 m from the roll axis). Failed before the correction: x1.18 median."""
    ctl, _ = _reps()
    ratio = np.array([r.peak_descent_dps / tr["peak_descent_dps"] for tr, r in ctl])
    within = np.abs(ratio - 1.0) <= SPEED_TOLERANCE
    assert within.mean() >= SHARE_WITHIN, (np.median(ratio), np.percentile(ratio, 90))


@pytest.mark.slow
def test_accel_only_flags_do_not_depend_on_the_lever_correction():
    """The correction changes only the speeds a rep reports: flags (and so the live cue)
    come from the uncorrected speed, the same with the correction off."""
    from imu_host.core.pipeline import Settings
    from imu_host.core.reps.detector import DetectorSettings

    off = Settings(detector=DetectorSettings(accel_only_lever_m=0.0))
    for seed in (1, 2):
        sim = simulate("accel_only_lever", seed)
        rec = Recording("x", sim.samples, sim.sample_rate_hz, {})
        a, b = analyze(rec), analyze(rec, off)
        assert [r.flags for r in a.reps] == [r.flags for r in b.reps]
        assert [r.rom_deg for r in a.reps] == [r.rom_deg for r in b.reps]
        ra = np.array([r.peak_descent_dps for r in a.reps])
        rb = np.array([r.peak_descent_dps for r in b.reps])
        assert np.all(np.abs(ra - rb) <= 0.2 * rb + 1e-9) and np.any(ra != rb)
