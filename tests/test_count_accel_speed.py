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


# issue 9 E: abrupt accelerometer-only drops read 6-32 deg past their end range (the
# stop's tangential acceleration swings the gravity angle for ~0.5 s); these sessions
# each had at least one such drop before the range was taken from the settled hold
@pytest.mark.parametrize(
    "family, seed",
    [("accel_only_lever", s) for s in (102, 104, 108, 109, 110, 111, 205, 207)]
    + [("accel_only", s) for s in (101, 102, 103, 106, 107, 108)],
)
def test_abrupt_accel_only_drops_are_flagged_with_rom_within_5_deg(family, seed):
    from imu_host.sim.score import score

    sim = simulate(family, seed)
    a = analyze(Recording(f"{family}:{seed}", sim.samples, sim.sample_rate_hz, {}))
    sc = score(a.reps, sim.truth)
    assert sc.exact, (sc.got, sc.want)
    assert sc.flags["fast_drop"][2] == 0, sc.flags["fast_drop"]  # every drop flagged
    drops = [x for x in sim.truth["reps"] if x["fast_drop"]]
    assert drops
    for x in drops:
        r = next(
            r for r in a.reps if r.start_s - MATCH_SLACK_S <= x["peak_s"] <= r.end_s + MATCH_SLACK_S
        )
        assert abs(r.rom_deg - x["amplitude_deg"]) <= 5.0, (x, r)


def test_settled_depth_is_the_hold_after_an_overshoot():
    """The rule on a synthetic trace: a drop to 40 deg whose reading swings to 60 deg for
    0.4 s, then holds 40 deg; and a swing with no hold (already on the way back)."""
    from imu_host.core.reps.rules import settled_depth

    hz = 100.0
    t = np.arange(400) / hz
    depth = np.where(t < 0.3, t / 0.3 * 40.0, 40.0)
    depth = depth + np.where((t >= 0.3) & (t < 0.7), 20.0 * np.sin(np.pi * (t - 0.3) / 0.4), 0.0)
    rate = np.gradient(depth, t)
    got = settled_depth(t, depth, rate, 0.2 + 1.0, 10.0, 0.5, 0.2)
    assert got is not None and abs(got - 40.0) < 0.5, got
    back = np.where(t < 1.0, 40.0, 40.0 - 30.0 * (t - 1.0))  # returning from 1 s at 30 deg/s
    assert settled_depth(t, back, np.gradient(back, t), 1.2, 10.0, 0.5, 0.2) is None
