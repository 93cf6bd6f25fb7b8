"""Issue 9 class A/B: a radio gap inside a hard drop makes the angle overshoot (the
estimator reads 80-140 deg for a 30-45 deg drop and then creeps back to gravity over
~3 s with the gyro showing the knees still). The creep is not a return: the centre must
not be re-learned at the side hold, and every later rep stays on its side.

Truth: the simulator's movement model (seeded ``gaps_in_reps`` sessions whose drop gap
produced that overshoot), plus a synthetic angle trace for the rule itself."""

from __future__ import annotations

import numpy as np
import pytest

from imu_host.analysis import analyze
from imu_host.core.reps.detector import RepDetector
from imu_host.io.recording import Recording
from imu_host.sim.generate import simulate
from imu_host.sim.score import score


@pytest.mark.parametrize("seed", [212, 305, 309, 312])
def test_gap_in_a_hard_drop_keeps_the_count(seed):
    sim = simulate("gaps_in_reps", seed)
    a = analyze(Recording(f"gaps_in_reps:{seed}", sim.samples, sim.sample_rate_hz, {}))
    sc = score(a.reps, sim.truth)
    assert sc.exact, (sc.got, sc.want)


def _feed(det: RepDetector, t: np.ndarray, th: np.ndarray, ra: np.ndarray) -> None:
    for i in range(0, len(t), 7):
        det.feed(t[i : i + 7], th[i : i + 7], ra[i : i + 7])
    det.finish()


def test_angle_creep_without_rate_is_not_a_return():
    """A drop to 40 deg read as 100 deg, creeping to 40 deg with zero gyro rate while the
    knees hold, then a real return: one rep, and the centre stays at 0 (the next rep to the
    other side counts on that side)."""
    hz = 100.0
    parts_t, parts_th, parts_ra = [], [], []
    t0 = 0.0

    def seg(theta: np.ndarray, rate: np.ndarray) -> None:
        nonlocal t0
        n = len(theta)
        parts_t.append(t0 + np.arange(n) / hz)
        parts_th.append(theta)
        parts_ra.append(rate)
        t0 += n / hz

    seg(np.zeros(200), np.zeros(200))  # rest at centre
    seg(np.linspace(0, 100, 30), np.full(30, 300.0))  # the drop, overshooting
    creep = 40 + 60 * np.exp(-np.arange(300) / 80.0)  # gravity pulls the angle back
    seg(creep, np.zeros(300))  # ...while the gyro says still
    seg(np.full(150, creep[-1]), np.zeros(150))  # hold
    ret = np.linspace(creep[-1], 0, 250)
    seg(ret, np.full(250, -creep[-1] / 2.5))  # controlled return
    seg(np.zeros(200), np.zeros(200))
    out = np.linspace(0, -45, 250)
    seg(out, np.full(250, -18.0))
    seg(np.full(150, -45.0), np.zeros(150))
    seg(out[::-1], np.full(250, 18.0))
    seg(np.zeros(200), np.zeros(200))
    det = RepDetector(hz)
    det.centre = 0.0
    _feed(det, np.concatenate(parts_t), np.concatenate(parts_th), np.concatenate(parts_ra))
    sides = [r.side for r in det.reps]
    assert sides == ["left", "right"], [(r.side, r.rom_deg) for r in det.reps]
    assert abs(det.reps[1].rom_deg - 45.0) < 3.0, det.reps[1]
    assert det.centre is not None and abs(det.centre) < 3.0, det.centre


@pytest.mark.parametrize("seed", [101, 111, 112])
def test_gap_inside_a_fast_drop_still_flags_it(seed):
    """The 0.1-0.15 s gap in the middle of a ~200 deg/s drop hides most of its descent;
    the angle moved 20-40 deg across it, which is itself the drop's speed."""
    sim = simulate("gaps_in_reps", seed)
    a = analyze(Recording(f"gaps_in_reps:{seed}", sim.samples, sim.sample_rate_hz, {}))
    sc = score(a.reps, sim.truth)
    assert sc.exact, (sc.got, sc.want)
    assert sc.flags["fast_drop"] == (1, 0, 0), sc.flags["fast_drop"]


# sessions whose drop gap made the estimator read 66-154 deg for a 32-51 deg drop before
# the re-seed waited for stillness (data resumed inside the drop's stop, |a| ~1 g in
# passing but not gravity); 101 and 111: the gap hides nearly all of a 100 Hz / 50 Hz drop
@pytest.mark.parametrize("seed", [101, 104, 107, 108, 111, 208, 309, 312])
def test_gap_inside_a_hard_drop_keeps_rom_within_a_few_degrees(seed):
    sim = simulate("gaps_in_reps", seed)
    a = analyze(Recording(f"gaps_in_reps:{seed}", sim.samples, sim.sample_rate_hz, {}))
    sc = score(a.reps, sim.truth)
    assert sc.exact, (sc.got, sc.want)
    assert len(sc.rom_err_deg) == len(sim.truth["reps"])
    assert max(sc.rom_err_deg) <= 5.0, sc.rom_err_deg
    assert sc.flags["fast_drop"] == (1, 0, 0), sc.flags["fast_drop"]


@pytest.mark.parametrize("seed", [101, 208])
def test_gap_hold_is_the_same_for_any_chunking(seed):
    """The gyro-only hold after a short gap (until the thigh is still) can span epochs
    and feeds: the fast path equals the reference path, and any split of the stream gives
    the same events and angles."""
    from imu_host.core.pipeline import Pipeline

    sim = simulate("gaps_in_reps", seed)
    s, rate = sim.samples, sim.sample_rate_hz

    def run(cuts: list[int], reference: bool):  # noqa: ANN202
        p = Pipeline(rate, s.has_gyro, keep_trace=True, reference=reference)
        ev, prev = [], 0
        for c in [*cuts, len(s)]:
            ev += p.feed(s.slice(prev, c))
            prev = c
        ev += p.finish()
        return ev, p.angle_trace()

    ref_ev, (t_ref, a_ref) = run([], True)
    rng = np.random.default_rng(seed)
    for cuts in ([], sorted(rng.choice(np.arange(1, len(s)), 400, replace=False).tolist())):
        for reference in (False, True):
            ev, (t, a) = run(cuts, reference)
            assert ev == ref_ev
            np.testing.assert_array_equal(t, t_ref)
            np.testing.assert_array_equal(a, a_ref)


def test_rateless_angle_step_after_a_gap_is_the_hidden_drop_speed():
    """The estimator re-seeds the angle from gravity only once the thigh is still, up to
    ~1 s after a gap that hid most of a drop: the angle then steps by what the gap hid,
    with no rate. That step over the gap's duration is the drop's speed (fast_drop), and
    a gap at rest whose re-seed moves the angle by a degree or two is not."""
    hz = 100.0

    def trace(hidden_deg: float, gap_s: float, seen_deg: float):  # noqa: ANN202
        t = [np.arange(200) / hz]  # rest at centre
        th, ra = [np.zeros(200)], [np.zeros(200)]
        t0 = 2.0 + gap_s  # the gap hides the drop (or part of a slow descent)...
        n_seen = int(round(seen_deg / 50.0 * hz))  # ...the gyro reads the rest at 50 deg/s
        n_wait = 70  # ...then the ringing dies out
        # across the gap the estimator integrates the first rate after it (50 deg/s)
        a0 = 50.0 * (gap_s + 1.0 / hz)
        t.append(t0 + np.arange(n_seen + n_wait) / hz)
        th.append(np.concatenate([a0 + np.linspace(0, seen_deg, n_seen),
                                  np.full(n_wait, a0 + seen_deg)]))  # fmt: skip
        ra.append(np.concatenate([np.full(n_seen, 50.0), np.zeros(n_wait)]))
        n = 250  # re-seed: the angle steps to the real pose, then the hold
        peak = a0 + seen_deg + hidden_deg
        t.append(t0 + (n_seen + n_wait + np.arange(n)) / hz)
        th.append(np.full(n, peak))
        ra.append(np.zeros(n))
        tr = t0 + (n_seen + n_wait + n) / hz
        t.append(tr + np.arange(200) / hz)  # controlled return
        th.append(np.linspace(peak, 0, 200))
        ra.append(np.full(200, -peak / 2.0))
        t.append(tr + (200 + np.arange(300)) / hz)
        th.append(np.zeros(300))
        ra.append(np.zeros(300))
        return np.concatenate(t), np.concatenate(th), np.concatenate(ra)

    det = RepDetector(hz)
    det.centre = 0.0
    _feed(det, *trace(hidden_deg=25.0, gap_s=0.15, seen_deg=8.0))
    assert [r.side for r in det.reps] == ["left"], det.reps
    assert "fast_drop" in det.reps[0].flags, det.reps[0]
    assert det.reps[0].peak_descent_dps >= 25.0 / 0.15 * 0.9, det.reps[0]
    det = RepDetector(hz)
    det.centre = 0.0
    _feed(det, *trace(hidden_deg=1.5, gap_s=0.3, seen_deg=30.0))  # a gap at 50 deg/s
    assert [r.side for r in det.reps] == ["left"], det.reps
    assert "fast_drop" not in det.reps[0].flags, det.reps[0]


def test_many_short_gaps_give_the_same_angles_for_any_chunking():
    """60 radio gaps of 5-20 samples (0.05-0.2 s) in 90 s of 100 Hz reps: whole, frame by
    frame (4 samples, as live) and in mid-size feeds give identical angles and events. A
    hold after a gap used to read the 'last good gravity' as updated by whichever samples
    its feed happened to end on, and two re-seeds due in one segment were done at the
    second segment's start: live and the replay of its recording then differed."""
    from imu_host.core.pipeline import Pipeline
    from imu_host.core.samples import Samples

    sim = simulate("fast_drops_mixed", 1)
    s = sim.samples
    rng = np.random.default_rng(0)
    keep = np.ones(len(s), bool)
    for st in rng.choice(np.arange(500, len(s) - 20), 60, replace=False):
        keep[st : st + rng.integers(5, 20)] = False
    idx = np.nonzero(keep)[0]
    s2 = Samples(s.t_s[idx], s.accel_g[idx], s.gyro_dps[idx])

    def run(k: int, reference: bool = False):  # noqa: ANN202
        p = Pipeline(sim.sample_rate_hz, True, keep_trace=True, reference=reference)
        ev = []
        for i in range(0, len(s2), k):
            ev += p.feed(s2.slice(i, i + k))
        ev += p.finish()
        return ev, p.angle_trace()[1]

    ev0, a0 = run(len(s2))
    assert len([e for e in ev0 if type(e).__name__ == "RepEvent"]) >= 6
    for k, reference in ((4, False), (4, True), (16, False), (1000, False)):
        ev, a = run(k, reference)
        np.testing.assert_array_equal(a, a0)
        assert ev == ev0
