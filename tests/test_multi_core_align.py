"""Clock alignment of every board to the session time (issue 12: <= 10 ms).

Ground truth: the simulator's true clocks (each board's start time and crystal drift,
``MultiSimResult.clock``), never this code's estimates. The sessions named here are the
ones whose alignment failed before (``benchmarks/bench_multi.py`` and its ``--first-seed
101`` fresh set): the other thigh's shift biased by white gyro noise, and a sternum on BLE
whose latency floor arrival times cannot see.
"""

from __future__ import annotations

import numpy as np
import pytest

from imu_host.core.multi import MultiSettings, _best_shift
from imu_host.sim.multibody import multi_suite, run_multi, score_multi, simulate_multi

ALIGN_S = 0.010  # the goal


def test_best_shift_finds_a_known_delay_between_two_noisy_rate_magnitudes():
    """Physics: the same asymmetric rep (fast out, slow back) seen by two boards with
    different white noise, the second 7 ms late: the shift search (as narrowed for clock
    refinement) finds the delay on smoothed rate magnitudes."""
    rng = np.random.default_rng(3)
    fs, late = 100.0, 0.007
    t = np.arange(0.0, 6.0, 1.0 / fs)

    def rate(tt: np.ndarray) -> np.ndarray:  # out in 1 s, hold, back in 2.5 s (deg/s)
        out = np.where((tt > 1.0) & (tt < 2.0), 60 * np.sin(np.pi * (tt - 1.0)), 0.0)
        back = np.where((tt > 3.0) & (tt < 5.5), -24 * np.sin(np.pi * (tt - 3.0) / 2.5), 0.0)
        return out + back

    def board(tt: np.ndarray, sigma: float) -> np.ndarray:
        axis = np.array([0.6, 0.0, 0.8])
        g = rate(tt)[:, None] * axis[None, :] + rng.normal(0.0, sigma, (len(tt), 3))
        n = 5  # as rate_smooth_s = 0.05 s at 100 Hz
        sm = np.column_stack([np.convolve(g[:, k], np.ones(n) / n, mode="same") for k in range(3)])
        sm -= sm.mean(axis=0)
        return np.sqrt((sm * sm).sum(axis=1))

    s = MultiSettings()
    found = []
    for _ in range(20):
        a = board(t, 0.1)
        b = board(t - late, 1.0)  # board b's samples at t show the motion of t - late
        tau = _best_shift(t, a, t, b, s, search_s=s.refine_max_s)
        assert tau is not None
        found.append(tau)
    assert abs(float(np.median(found)) - late) < 0.002, found


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, seed, role",
    [
        ("shoulder_lift_deep", 104, "right-thigh"),  # noise-biased thigh shift (was 11.1 ms)
        ("shoulder_lift_deep", 7, "sternum"),  # BLE latency floor (was 11.2 ms)
    ],
)
def test_alignment_within_10_ms_where_it_failed(name, seed, role):
    sim = simulate_multi(name, seed)
    sc = score_multi(sim, run_multi(sim))
    assert sc["align_err_s"][role] <= ALIGN_S, sc["align_err_s"]


@pytest.mark.slow
def test_sternum_clock_left_to_arrival_times_while_the_shoulders_stay_down():
    """With the shoulders down (simulated trunk roll <= 6 deg on every rep) the chest turns
    too slowly for a shift worth trusting: no shared-motion correction is made."""
    sim = simulate_multi("knees_together", 4)
    assert max(r["trunk_roll_deg"] for r in sim.truth["reps"]) <= 6.0
    mp = run_multi(sim)
    assert mp.boards["sternum"].correction_s == 0.0
    assert score_multi(sim, mp)["align_err_s"]["sternum"] <= ALIGN_S


@pytest.mark.slow
def test_fresh_seed_slice_meets_the_goals():
    """A seed set the tuning never saw (101, 102): counts, flags and figures as on the
    default seeds; every board within 10 ms in every session except a sternum whose
    shoulders never lifted (arrival times only: the boards' latency floors differ)."""
    scores = []
    for name, seed in multi_suite(2, first_seed=101):
        sim = simulate_multi(name, seed)
        scores.append((sim, score_multi(sim, run_multi(sim))))
    assert len(scores) == 14
    assert all(sc["counts_ok"] for _, sc in scores)
    for kind in ("knees_apart", "shoulder_lift"):
        tp = sum(sc[kind]["tp"] for _, sc in scores)
        fp = sum(sc[kind]["fp"] for _, sc in scores)
        fn = sum(sc[kind]["fn"] for _, sc in scores)
        assert tp / max(1, tp + fp) >= 0.95 and tp / max(1, tp + fn) >= 0.95, (kind, tp, fp, fn)
    for sim, sc in scores:
        assert sc["align_err_s"]["right-thigh"] <= ALIGN_S, (sim.truth["scenario"], sc)
        lifted = any(r["shoulder_lift"] for r in sim.truth["reps"])
        if "sternum" in sc["align_err_s"] and lifted:
            assert sc["align_err_s"]["sternum"] <= ALIGN_S, (sim.truth["scenario"], sc)


def test_kept_shifts_follow_the_arrival_fit_as_it_settles():
    """Clock physics: the board's true mapping is host = t + 10 ms (its link floor is 20 ms
    above the reference's, which arrival times cannot see). Early arrivals fit t + 30 ms
    (no least-delayed frame yet), later ones t + 25 ms. A shift measured under the first
    fit (20 ms) and one under the second (15 ms) both say the true mapping is t + 10 ms;
    kept as measured, their median would be 2.5 ms off."""
    from imu_host.core.multi import ArrivalClock, _Board

    s = MultiSettings()
    ref = ArrivalClock(s)
    for t in np.arange(0.0, 60.0, 0.5):
        ref.observe(float(t), float(t))  # the reference: host = its device time
    b = _Board("right-thigh", 100.0, True, s)
    for t in np.arange(0.0, 20.0, 0.5):
        b.clock.observe(float(t), float(t) + 0.030)
    b.refine(10.0, 0.020, ref, s)
    assert abs(float(b.to_session(10.0, ref)) - 10.010) < 1e-3
    b.clock.buckets.clear()  # the fit settles on the least-delayed frames
    for t in np.arange(20.0, 40.0, 0.5):
        b.clock.observe(float(t), float(t) + 0.025)
    b.refine(30.0, 0.015, ref, s)
    for t_dev in (10.0, 30.0):
        assert abs(float(b.to_session(t_dev, ref)) - (t_dev + 0.010)) < 1e-3
