"""Clock alignment of every board to the session time (issue 12: <= 10 ms).

Ground truth: the simulator's true clocks (each board's start time and crystal drift,
``MultiSimResult.clock``), never this code's estimates. The sessions named here are the
ones whose alignment failed before (``benchmarks/bench_multi.py`` and its ``--first-seed
101`` fresh set): the other thigh's shift biased by white gyro noise, and a sternum on BLE
whose latency floor arrival times cannot see (``run_multi(sim, pings=False)``: arrival
times and shared motion only, as a recording without pings is replayed); with the pings
every board is within 10 ms, the shoulders lifting or not.
"""

from __future__ import annotations

import numpy as np
import pytest

from imu_host.core.multi import ArrivalClock, MultiSettings, _best_shift
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
    """Arrival times and shared motion alone (a recording without pings)."""
    sim = simulate_multi(name, seed)
    sc = score_multi(sim, run_multi(sim, pings=False))
    assert sc["align_err_s"][role] <= ALIGN_S, sc["align_err_s"]


@pytest.mark.slow
def test_sternum_clock_left_to_arrival_times_while_the_shoulders_stay_down():
    """With the shoulders down (simulated trunk roll <= 6 deg on every rep) the chest turns
    too slowly for a shift worth trusting: no shared-motion correction is made."""
    sim = simulate_multi("knees_together", 4)
    assert max(r["trunk_roll_deg"] for r in sim.truth["reps"]) <= 6.0
    mp = run_multi(sim, pings=False)
    assert mp.boards["sternum"].correction_s == 0.0
    assert score_multi(sim, mp)["align_err_s"]["sternum"] <= ALIGN_S


def _true_board(floor_up_s: float, floor_down_s: float, seed: int = 5):
    """Clock physics: a board whose true mapping is host = 0.7 + t * (1 - 250e-6) (250 ppm
    slow against the host), 60 s of frames every 50 ms with an up-link floor and 2 ms
    exponential jitter, and pings every 0.15-0.45 s (random moments) with a down-link
    floor and 3 ms jitter. Returns (true host of t, the frames, the ping exchanges)."""
    rng = np.random.default_rng(seed)

    def host(t):
        return 0.7 + np.asarray(t) * (1.0 - 250e-6)

    t = np.arange(0.05, 60.0, 0.05)
    arr = host(t) + floor_up_s + rng.exponential(0.002, len(t))
    sent = np.cumsum(rng.uniform(0.15, 0.45, 300))
    sent = sent[sent < host(59.0)]
    handled_host = sent + floor_down_s + rng.exponential(0.003, len(sent))
    d = (handled_host - 0.7) / (1.0 - 250e-6)
    back = handled_host + floor_up_s + rng.exponential(0.002, len(sent))
    return host, list(zip(t, arr, strict=True)), list(zip(sent, d, back, strict=True))


def test_ping_midpoint_cancels_a_latency_floor_arrival_times_cannot_see():
    """Clock physics (NTP's assumption: the up- and down-link floors are equal, here
    15 ms): arrival times alone put the board 15 ms late (the floor); the midway line
    between the arrival and ping envelopes is within 1 ms of the true mapping, drift
    included."""
    s = MultiSettings()
    host, frames, pings = _true_board(0.015, 0.015)
    only, both = ArrivalClock(s), ArrivalClock(s)
    events = [(h, "f", t, h) for t, h in frames] + [(r, "p", (a, d), r) for a, d, r in pings]
    for _, kind, x, h in sorted(events, key=lambda e: e[0]):
        if kind == "f":
            only.observe(float(x), float(h))
            both.observe(float(x), float(h))
        else:
            both.observe_ping(float(x[0]), float(x[1]), float(h))
    probe = np.array([10.0, 30.0, 55.0])
    assert both.pinged and not only.pinged
    assert np.all(np.abs(only.host(probe) - host(probe) - 0.015) < 0.002)  # the floor
    assert np.all(np.abs(both.host(probe) - host(probe)) < 0.001), both.host(probe) - host(probe)
    assert abs(both.fit()[1] - (-250e-6)) < 10e-6


def test_ping_midpoint_is_off_by_half_the_link_asymmetry():
    """The limit, stated: a down-link floor 4 ms above the up-link's puts the midpoint
    2 ms early (what no host-side timing can see)."""
    s = MultiSettings()
    host, frames, pings = _true_board(0.012, 0.016)
    c = ArrivalClock(s)
    events = [(h, "f", t, h) for t, h in frames] + [(r, "p", (a, d), r) for a, d, r in pings]
    for _, kind, x, h in sorted(events, key=lambda e: e[0]):
        if kind == "f":
            c.observe(float(x), float(h))
        else:
            c.observe_ping(float(x[0]), float(x[1]), float(h))
    err = c.host(np.array([30.0]))[0] - host(30.0)
    assert abs(err - (-0.002)) < 0.001, err


def test_ping_answered_too_late_or_backwards_is_ignored():
    s = MultiSettings()
    c = ArrivalClock(s)
    c.observe(1.0, 1.02)
    c.observe_ping(5.0, 1.1, 5.0 + s.ping_max_rtt_s + 0.1)  # answered far too late
    c.observe_ping(1.2, 1.1, 1.1)  # received before it was sent
    assert c.pings == [] and len(c.buckets) == 1


@pytest.mark.slow
def test_sternum_on_ble_with_the_shoulders_down_within_10_ms_with_pings():
    """knees_apart_one_side seed 3 (BLE, shoulders down on every rep): the chest never
    turns enough for the shared-motion refinement and the boards' latency floors differ by
    11 ms, so arrival times alone leave the sternum 11.1 ms off the simulator's true
    clocks; the ping exchanges bring it within 10 ms (and every other board too)."""
    sim = simulate_multi("knees_apart_one_side", 3)
    floors = {r: b["latency_s"] for r, b in sim.truth["boards"].items()}
    assert floors["left-thigh"] - floors["sternum"] > 0.010  # the case: floors differ
    assert max(r["trunk_roll_deg"] for r in sim.truth["reps"]) <= 6.0
    before = score_multi(sim, run_multi(sim, pings=False))["align_err_s"]
    assert before["sternum"] > ALIGN_S  # arrival times alone cannot see it
    after = score_multi(sim, run_multi(sim))["align_err_s"]
    assert all(v <= ALIGN_S for v in after.values()), after


@pytest.mark.slow
def test_fresh_seed_slice_meets_the_goals():
    """A seed set the tuning never saw (101, 102): counts, flags and figures as on the
    default seeds; every board within 10 ms in every session (with the pings: also a
    sternum whose shoulders never lifted)."""
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
        for role, err in sc["align_err_s"].items():
            assert err <= ALIGN_S, (sim.truth["scenario"], role, sc)


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
