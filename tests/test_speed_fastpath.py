"""The fast estimator path (angles deferred to once per feed, one output segment) gives
exactly the reference path's output (angles epoch by epoch), for any chunking, on
simulator scenarios that exercise gaps, walking, strap slips, accelerometer-only data
and 50 Hz; and a replay gives the simulator's true rep counts either way."""

from __future__ import annotations

import numpy as np
import pytest
from feeding import feed_in_cuts

from imu_host.core.pipeline import Pipeline
from imu_host.core.samples import Samples
from imu_host.sim.generate import simulate


def _run(samples, rate, has_gyro, cuts, reference):  # noqa: ANN001, ANN202
    p = Pipeline(rate, has_gyro, keep_trace=True, reference=reference)
    events = feed_in_cuts(p, samples, cuts)
    return events, p.angle_trace(), p.reps


def _random_cuts(n: int, seed: int, mean_chunk: int) -> list[int]:
    rng = np.random.default_rng(seed)
    return np.sort(
        rng.choice(np.arange(1, n), size=max(1, n // mean_chunk), replace=False)
    ).tolist()


@pytest.mark.slow
@pytest.mark.parametrize(
    "scenario",
    ["gaps_in_reps", "packet_gaps", "walk_sit_lie", "mid_walk_start", "strap_slip",
     "accel_only", "mex_like", "rate_50hz"],
)  # fmt: skip
def test_fast_path_equals_reference_for_random_chunkings(scenario: str) -> None:
    sim = simulate(scenario, seed=3)
    s, rate, g = sim.samples, sim.sample_rate_hz, sim.samples.has_gyro
    ref_events, (t_ref, a_ref), _ = _run(s, rate, g, [], reference=True)
    assert len(ref_events) > 0
    assert np.isfinite(a_ref).sum() > len(a_ref) // 2  # an angle was measured most of the time
    # whole, a few large feeds (several epochs each), small random feeds (epochs split)
    for cuts in ([], _random_cuts(len(s), 1, 3000), _random_cuts(len(s), 2, 23)):
        events, (t, a), _ = _run(s, rate, g, cuts, reference=False)
        assert events == ref_events
        np.testing.assert_array_equal(t, t_ref)
        np.testing.assert_array_equal(a, a_ref)


@pytest.mark.parametrize("scenario", ["controlled_medium", "accel_only"])
def test_fast_path_counts_the_simulated_reps(scenario: str) -> None:
    sim = simulate(scenario, seed=2)
    s = sim.samples
    *_, reps = _run(s, sim.sample_rate_hz, s.has_gyro, [], reference=False)
    assert len(reps) == len(sim.truth["reps"])
    sides = [r.side for r in reps]
    assert sides.count("left") == sim.truth["reps_left"]
    assert sides.count("right") == sim.truth["reps_right"]


def _rotation(axis: np.ndarray, deg: np.ndarray) -> np.ndarray:
    """(n, 3, 3) rotations by ``deg`` (per sample) about the unit ``axis``."""
    k = axis / np.linalg.norm(axis)
    K = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    a = np.radians(deg)[:, None, None]
    return np.eye(3) + np.sin(a) * K + (1.0 - np.cos(a)) * (K @ K)


def _strap_turned(sim, axis: tuple[float, float, float], deg: float, ramp_s: float) -> Samples:
    """The simulated recording with the sensor turned on the thigh by ``deg`` about the
    sensor ``axis`` over ``ramp_s`` s half-way through (the gyro sees the turn)."""
    s = sim.samples
    t = s.t_s
    t0 = float(t[len(t) // 2])
    frac = np.clip((t - t0) / ramp_s, 0.0, 1.0)
    k = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    R_T = np.transpose(_rotation(k, deg * frac), (0, 2, 1))
    acc = np.einsum("nij,nj->ni", R_T, s.accel_g)
    turning = (t >= t0) & (t < t0 + ramp_s)
    gyr = (
        np.einsum("nij,nj->ni", R_T, s.gyro_dps) + np.where(turning, deg / ramp_s, 0.0)[:, None] * k
    )
    return Samples(t, acc, gyr)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("axis", "deg", "ramp_s", "resets"),
    [((0.0, 1.0, 0.0), 40.0, 0.3, 1), ((0.0, 0.0, 1.0), 25.0, 0.2, 0)],
)
def test_fast_path_equals_reference_when_the_strap_turns(axis, deg, ramp_s, resets) -> None:  # noqa: ANN001
    """A strap slip (axis carried along, angle re-referenced) and a turn large enough to
    re-learn the axis (evidence reset, the last seconds re-analysed): the deferred angles
    are flushed at exactly the right sample."""
    sim = simulate("controlled_medium", seed=1)
    s = _strap_turned(sim, axis, deg, ramp_s)
    rate = sim.sample_rate_hz
    ref = Pipeline(rate, True, keep_trace=True, reference=True)
    ref_events = ref.feed(s) + ref.finish()
    assert ref._orient.flags.axis_resets == resets
    t_ref, a_ref = ref.angle_trace()
    for cuts in ([], _random_cuts(len(s), 4, 700), _random_cuts(len(s), 5, 31)):
        events, (t, a), _ = _run(s, rate, True, cuts, reference=False)
        assert events == ref_events
        np.testing.assert_array_equal(t, t_ref)
        np.testing.assert_array_equal(a, a_ref)


def test_replay_without_the_angle_trace_gives_the_same_results() -> None:
    """``replay`` keeps no angle trace unless it writes a report: same reps, events and
    summary as with the trace, and the simulator's true count."""
    from imu_host.analysis import analyze
    from imu_host.io.recording import Recording

    sim = simulate("fast_drops_mixed", seed=4)
    rec = Recording("sim", sim.samples, sim.sample_rate_hz, {})
    with_trace = analyze(rec)
    without = analyze(rec, trace=False)
    assert len(with_trace.angle_t_s) > 0.9 * len(sim.samples)
    assert len(without.angle_t_s) == 0
    assert without.events == with_trace.events
    assert without.summary == with_trace.summary
    assert without.summary["reps_total"] == len(sim.truth["reps"])
