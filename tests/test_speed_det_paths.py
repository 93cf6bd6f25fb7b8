"""The rep detector's fast path, branch by branch, against its plain block-by-block step
loop (``RepDetector(reference=True)``): synthetic angle streams fed to the detector
directly, built to walk every shortcut of the fast path (chains of blocks that only go
deeper, holds that creep deeper while still, poses revisited, bounces, fast drops and
their rebounds, cross-overs, bad blocks and gaps that clear the rests, lost samples),
for several block lengths and any chunking; and the lost-sample speeds computed for all
samples at once against their loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imu_host.core.reps.detector import DetectorSettings, RepDetector
from imu_host.sim.generate import simulate

RATE_HZ = 100.0


def _segment(kind: str, rng: np.random.Generator, depth: float) -> list[float]:
    """One piece of an angle path (deg, one value per sample) that starts and ends at 0
    (or at ``depth`` for the pieces that stay out)."""
    n = lambda s: max(2, int(s * RATE_HZ))  # noqa: E731
    rest = list(np.zeros(n(rng.uniform(0.5, 2.0))))
    down = list(np.linspace(0.0, depth, n(rng.uniform(0.6, 2.0))))
    fast = list(np.linspace(0.0, depth, n(abs(depth) / 250.0)))  # ~250 deg/s: a fast drop
    creep = list(depth + np.linspace(0.0, math.copysign(2.0, depth), n(rng.uniform(1.0, 3.0))))
    hold = list(np.full(n(rng.uniform(0.5, 2.0)), depth))
    up = list(np.linspace(depth, 0.0, n(rng.uniform(0.6, 2.0))))
    sgn = math.copysign(1.0, depth)
    if kind == "rep":
        return rest + down + hold + up
    if kind == "creep":  # a hold that creeps deeper while still
        return rest + down + creep + list(np.linspace(creep[-1], 0.0, n(1.0)))
    if kind == "fast":  # a fast drop, its rebound, a hold and the way back
        reb = list(depth - sgn * 6.0 * np.sin(np.linspace(0.0, np.pi, n(0.3))))
        return rest + fast + reb + hold + up
    if kind == "bounce":  # at end range: back by ~6 deg and out again
        b = list(depth - sgn * 6.0 * np.sin(np.linspace(0.0, np.pi, n(0.5))))
        return rest + down + hold + b + hold + up
    if kind == "swing":  # across to the other side without stopping at the centre
        return (
            rest
            + down
            + list(np.linspace(depth, -depth, n(2.0)))
            + list(np.linspace(-depth, 0.0, n(1.5)))
        )
    if kind == "pose":  # rest part-way, deeper by a rep's range, back to rest at that pose
        p = 0.4 * depth
        return (
            rest
            + list(np.linspace(0.0, p, n(0.8)))
            + list(np.full(n(1.5), p))
            + list(np.linspace(p, depth + sgn * 15.0, n(1.2)))
            + list(np.linspace(depth + sgn * 15.0, p, n(1.2)))
            + list(np.full(n(1.5), p))
            + list(np.linspace(p, 0.0, n(1.0)))
        )
    if kind == "partway":  # back halfway and out again, then back halfway and stopped
        h = 0.35 * depth
        return (
            rest + down + hold + list(np.linspace(depth, h, n(1.0)))
            + list(np.linspace(h, depth, n(1.0))) + hold
            + list(np.linspace(depth, h, n(1.0))) + list(np.full(n(1.5), h))
            + list(np.linspace(h, 0.0, n(0.8)))
        )  # fmt: skip
    if kind == "dip":  # straight from the descent: back by ~6 deg and out again (bounce)
        b = list(depth - sgn * 6.0 * np.sin(np.linspace(0.0, np.pi, n(0.4))))
        return rest + down + b + hold + up
    if kind == "creepback":  # the angle creeps halfway back with the rate still (a gap's
        # overshoot settling to gravity), out again, then the real way back
        h = 0.4 * depth
        return (
            rest
            + down
            + [math.nan]
            + list(np.linspace(depth, h, n(1.5)))
            + list(np.linspace(h, depth, n(0.8)))
            + hold
            + up
        )
    if kind == "fidget":
        return rest + list(4.0 * np.sin(np.linspace(0.0, 2 * np.pi, n(1.0)))) + rest
    raise ValueError(kind)


KINDS = ("rep", "creep", "fast", "bounce", "swing", "pose", "partway", "dip", "creepback", "fidget")


def _stream(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """(t_s, theta_deg, rate_dps, calm, gap indices): a session of every kind of piece on
    both sides about a drifting centre, with noise, nan stretches (bad blocks), samples
    lost here and there (timestamp steps) and a few long gaps (the detector is told)."""
    rng = np.random.default_rng(seed)
    path: list[float] = list(np.full(150, 0.0))
    for _ in range(40):
        kind = KINDS[int(rng.integers(len(KINDS)))]
        depth = float(rng.uniform(20.0, 60.0)) * (1 if rng.random() < 0.5 else -1)
        path += _segment(kind, rng, depth)
    th = np.asarray(path)
    still_rate = np.isnan(th)  # marks: creeping back with the rate still (see creepback)
    for i in np.flatnonzero(still_rate):
        j = i + 1
        while j < len(th) and j < i + 1 + int(1.5 * RATE_HZ):
            j += 1
        still_rate[i:j] = True
    th = np.where(np.isnan(th), np.roll(th, 1), th)
    th = th + np.linspace(0.0, 8.0, len(path))  # a drifting centre
    th = th + rng.normal(0.0, 0.15, len(th)) * (rng.random(len(th)) < 0.7)
    n = len(th)
    dt = np.full(n, 1.0 / RATE_HZ)
    lost = rng.random(n) < 0.004
    dt[lost] *= rng.integers(2, 6, int(lost.sum()))  # lost samples
    gaps = sorted(rng.choice(np.arange(500, n - 500), 3, replace=False).tolist())
    for g in gaps:
        dt[g] = float(rng.uniform(0.5, 4.0))  # long gaps
    t = 1000.0 + np.cumsum(dt)
    ra = np.gradient(th, t) + rng.normal(0.0, 2.0, n)
    ra[still_rate] = rng.normal(0.0, 1.0, int(still_rate.sum()))
    for _ in range(3):  # nan stretches: bad blocks (also mid-excursion)
        i = int(rng.integers(200, n - 200))
        th[i : i + int(rng.integers(1, 30))] = np.nan
    calm = rng.random(n) > 0.01
    return t, th, ra, calm, gaps


def _run(stream, reference: bool, cuts: list[int], settings: DetectorSettings, gyro: bool):  # noqa: ANN001, ANN202
    t, th, ra, calm, gaps = stream
    det = RepDetector(RATE_HZ, settings, keep_trace=True, has_gyro=gyro, reference=reference)
    events = []
    bounds = sorted({0, *cuts, *gaps, len(t)})
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if a in gaps:
            det.gap(float(t[a] - t[a - 1]), 2.0)
        events += det.feed(t[a:b], th[a:b], ra[a:b], calm[a:b])
    events += det.finish()
    trace_t = np.concatenate(det.trace_t) if det.trace_t else np.zeros(0)
    trace_d = np.concatenate(det.trace_deg) if det.trace_deg else np.zeros(0)
    return events, det.reps, det.centre, trace_t, trace_d


def _cuts(n: int, seed: int, mean: int) -> list[int]:
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(np.arange(1, n), max(1, n // mean), replace=False)).tolist()


SETTINGS = {
    "default": DetectorSettings(),
    "one-sample blocks": DetectorSettings(block_s=0.01),
    "short rests": DetectorSettings(rest_s=0.3),
    "long blocks": DetectorSettings(block_s=0.16, rest_s=1.6),
    "rests beyond exact_means": DetectorSettings(rest_s=11.0, rest_range_deg=8.0),
}


@pytest.mark.parametrize("name", list(SETTINGS))
@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "accel-only"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_path_equals_reference_on_synthetic_streams(name: str, gyro: bool, seed: int) -> None:
    stream = _stream(seed)
    settings = SETTINGS[name]
    want = _run(stream, True, [], settings, gyro)
    ev, reps, _centre, _tt, _td = want
    if name == "default":
        kinds = {e.kind for e in ev if hasattr(e, "kind")}
        assert reps and "fast_drop" in kinds  # the comparison covered reps and cues
    n = len(stream[0])
    for cuts in ([], _cuts(n, seed, 1500), _cuts(n, seed + 7, 23)):
        got = _run(stream, False, cuts, settings, gyro)
        assert got[0] == want[0]  # events, every field, in order
        assert got[1] == want[1]  # reps
        assert got[2] == want[2]  # centre
        np.testing.assert_array_equal(got[3], want[3])
        np.testing.assert_array_equal(got[4], want[4])


def test_fast_path_cue_of_an_excursion_begun_in_the_light_loop() -> None:
    """A rep that ends by turning out again (or crossing over) inside the fast path's
    light loop begins the next excursion there: its live fast-drop cue depends on that
    block's calm flag, not on the flag of the block the loop started at (this recording
    once gave the cue a block late)."""
    sim = simulate("accel_only_lever", seed=2)
    from imu_host.core.pipeline import Pipeline

    out = []
    for reference in (True, False):
        p = Pipeline(sim.sample_rate_hz, sim.samples.has_gyro, keep_trace=True)
        p._det.reference = reference
        out.append((p.feed(sim.samples) + p.finish(), p.reps))
    assert out[1] == out[0]
    assert any(getattr(e, "kind", None) == "fast_drop" for e in out[0][0])
