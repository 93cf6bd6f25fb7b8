"""The roll estimator's fast path takes runs of whole epochs at once where the per-epoch
steps provably do nothing but the steady ones (pass 1: no impact, none pending, no
walking near; pass 2: axis known, nothing moving about, no axis change due, no slip in
sight). Each way into and out of those runs gives exactly the reference path's output
(``reference=True``: every step epoch by epoch), for any chunking; and on a steady
session the runs do take nearly every epoch (else the fast path silently did nothing).

Ground truth is the reference path, which ``tests/test_speed_fastpath.py`` and the golden
recordings tie to the simulator's labels."""

from __future__ import annotations

import numpy as np
import pytest
from feeding import feed_in_cuts

from imu_host.core import orientation
from imu_host.core.pipeline import Pipeline
from imu_host.core.samples import Samples
from imu_host.sim.generate import simulate


def _run(samples: Samples, rate: float, cuts: list[int], reference: bool):  # noqa: ANN202
    p = Pipeline(rate, samples.has_gyro, keep_trace=True, reference=reference)
    events = feed_in_cuts(p, samples, cuts)
    return events, p.angle_trace(), p._orient.flags


def _estimate(
    samples: Samples,
    rate: float,
    cuts: list[int],
    reference: bool,
    settings: orientation.OrientationSettings | None = None,
) -> list:
    """The estimator alone: every output field (t, theta, rate, active, calm) joined."""
    est = orientation.RollEstimator(rate, samples.has_gyro, settings, reference=reference)
    segs = []
    prev = 0
    for c in [*cuts, len(samples)]:
        part = samples.slice(prev, c)
        segs += est.process(part.t_s, part.accel_g, part.gyro_dps)
        prev = c
    fields = ("t_s", "theta_deg", "rate_dps", "active", "calm")
    return [np.concatenate([getattr(seg, f) for seg in segs]) for f in fields]


def _random_cuts(n: int, seed: int, mean_chunk: int) -> list[int]:
    rng = np.random.default_rng(seed)
    return np.sort(
        rng.choice(np.arange(1, n), size=max(1, n // mean_chunk), replace=False)
    ).tolist()


def _assert_fast_equals_reference(
    s: Samples, rate: float, chunkings: list[list[int]], spy: _Spy | None = None
) -> None:
    """The fast path's events, angle trace and final flags are the reference path's for
    each chunking (``spy``, if given, starts counting after the reference run)."""
    ref_events, (t_ref, a_ref), ref_flags = _run(s, rate, [], reference=True)
    ref_out = _estimate(s, rate, [], reference=True)
    assert len(ref_events) > 0
    if spy is not None:
        spy.install()
    for cuts in chunkings:
        events, (t, a), flags = _run(s, rate, cuts, reference=False)
        assert events == ref_events
        np.testing.assert_array_equal(t, t_ref)
        np.testing.assert_array_equal(a, a_ref)
        assert flags == ref_flags
        for got, want in zip(_estimate(s, rate, cuts, reference=False), ref_out, strict=True):
            np.testing.assert_array_equal(got, want)


class _Spy:
    """Counts what the fast path's runs did (wraps the estimator's methods)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch
        self.quiet_after_old_hits = 0  # pass-1 runs that began with stale impacts pending
        self.quiet_epochs = 0
        self.steady_epochs = 0
        self.general_epochs = 0

    def install(self) -> None:
        est = orientation.RollEstimator
        quiet, steady, general = est._quiet_epochs, est._follow_steadily, est._end_epoch

        def quiet_spy(inner, q, j, *rest):  # noqa: ANN001, ANN202
            pending = len(inner._hits)
            done = quiet(inner, q, j, *rest)
            self.quiet_epochs += done
            self.quiet_after_old_hits += bool(done and pending)
            return done

        def steady_spy(inner, *args):  # noqa: ANN001, ANN202
            done = steady(inner, *args)
            self.steady_epochs += done
            return done

        def general_spy(inner, *args):  # noqa: ANN001, ANN202
            self.general_epochs += 1
            return general(inner, *args)

        self._monkeypatch.setattr(est, "_quiet_epochs", quiet_spy)
        self._monkeypatch.setattr(est, "_follow_steadily", steady_spy)
        self._monkeypatch.setattr(est, "_end_epoch", general_spy)


def _impacts_then_gaps(s: Samples, rate: float, gap_s: float, count: int) -> Samples:
    """``s`` with ``gap_s`` of samples lost at the end of the epoch (``epoch_s``, counted
    in samples from the start) of each of its first ``count`` impacts (|a| more than
    0.5 g off 1 g, 8 s apart or more): the impacts are still pending when the data
    resumes, but too old to silence a cue."""
    t = s.t_s
    n_ep = round(orientation.OrientationSettings().epoch_s * rate)
    off = np.abs(np.linalg.norm(s.accel_g, axis=1) - 1.0) > 0.5
    starts = np.nonzero(off & ~np.concatenate([[False], off[:-1]]))[0]
    keep = np.ones(len(t), dtype=bool)
    last = -np.inf
    n_gaps = 0
    for i in starts:
        if t[i] < last + 8.0:
            continue
        kept_i = int(keep[:i].sum())  # its index in the stream the estimator sees
        b = i + (kept_i // n_ep + 1) * n_ep - kept_i  # first sample of the next epoch
        keep[b : b + round(gap_s * rate)] = False
        last = t[i]
        n_gaps += 1
        if n_gaps == count:
            break
    assert n_gaps == count
    g = None if s.gyro_dps is None else s.gyro_dps[keep]
    return Samples(t[keep], s.accel_g[keep], g)


@pytest.mark.parametrize(
    ("scenario", "seed", "gaps"), [("fast_drops_mixed", 1, 3), ("fast_drops_most", 1, 4)]
)
def test_impacts_pending_across_a_gap(
    scenario: str, seed: int, gaps: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Impacts just before a gap are still pending when the data resumes: the quiet run
    after the gap forgets them (too old to silence a cue) exactly as the impact step
    would, and the gap's re-seed falls inside deferred runs of steady epochs."""
    sim = simulate(scenario, seed=seed)
    s = _impacts_then_gaps(sim.samples, sim.sample_rate_hz, gap_s=3.0, count=gaps)
    spy = _Spy(monkeypatch)
    chunkings = [[], _random_cuts(len(s), 6, 2500), _random_cuts(len(s), 7, 37)]
    _assert_fast_equals_reference(s, sim.sample_rate_hz, chunkings, spy)
    assert spy.quiet_after_old_hits > 0  # the case this test is about did happen


def _strap_turned(s: Samples, axis: tuple[float, float, float], deg: float) -> Samples:
    """The sensor turned on the thigh by ``deg`` about the sensor ``axis`` over 0.3 s
    half-way through (the gyro sees the turn): a steady run meets an axis change."""
    t = s.t_s
    t0 = float(t[len(t) // 2])
    ramp_s = 0.3
    frac = np.clip((t - t0) / ramp_s, 0.0, 1.0)
    k = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    K = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    ang = np.radians(deg * frac)[:, None, None]
    R_T = np.transpose(np.eye(3) + np.sin(ang) * K + (1.0 - np.cos(ang)) * (K @ K), (0, 2, 1))
    acc = np.einsum("nij,nj->ni", R_T, s.accel_g)
    assert s.gyro_dps is not None
    turning = (t >= t0) & (t < t0 + ramp_s)
    gyr = np.einsum("nij,nj->ni", R_T, s.gyro_dps)
    gyr = gyr + np.where(turning, deg / ramp_s, 0.0)[:, None] * k
    return Samples(t, acc, gyr)


@pytest.mark.parametrize(
    ("axis", "deg", "resets"), [((0.0, 1.0, 0.0), 40.0, 1), ((0.0, 0.0, 1.0), 25.0, 0)]
)
def test_steady_run_meets_a_strap_turn(axis, deg, resets) -> None:  # noqa: ANN001
    """A steady run ends where the strap turns: the axis re-learned (its last seconds
    re-analysed from the recent history the run kept) or carried along by a slip."""
    sim = simulate("controlled_medium", seed=1)
    s = _strap_turned(sim.samples, axis, deg)
    rate = sim.sample_rate_hz
    *_, flags = _run(s, rate, [], reference=True)
    assert flags.axis_resets == resets
    _assert_fast_equals_reference(s, rate, [[], [len(s) // 2 - 333], _random_cuts(len(s), 8, 900)])


@pytest.mark.parametrize("scenario", ["controlled_medium", "accel_only"])
def test_steady_session_is_taken_in_runs(scenario: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rolling steadily, nearly every epoch is taken by the runs (pass 1 and pass 2), and
    the result is the reference path's."""
    sim = simulate(scenario, seed=2)
    s = sim.samples
    spy = _Spy(monkeypatch)
    _assert_fast_equals_reference(s, sim.sample_rate_hz, [[]], spy)
    epochs = spy.steady_epochs + spy.general_epochs
    assert spy.steady_epochs > 0.8 * epochs
    assert spy.quiet_epochs > 0.8 * epochs


def _steps_injected(s: Samples, rate: float, first_s: float, count: int, step_s: float) -> Samples:
    """``s`` with ``count`` short knocks (|a| up by 0.6 g for 30 ms, too short to count as
    shaking) every ``step_s`` from ``first_s``: a slow walk's heel strikes, with epochs
    between them that have none."""
    acc = s.accel_g.copy()
    width = max(3, round(0.03 * rate))
    for k in range(count):
        i = int(np.searchsorted(s.t_s, first_s + k * step_s))
        a = acc[i : i + width]
        acc[i : i + width] = a * (1.0 + 0.6 / np.linalg.norm(a, axis=1))[:, None]
    return Samples(s.t_s, acc, s.gyro_dps)


@pytest.mark.parametrize(
    ("step_s", "settings"),
    [
        (0.8, {}),
        # walking held, or recognised, longer after the last impact than a pending impact
        # silences cues: only the walking conditions keep those epochs out of a quiet run
        (0.8, {"walk_hold_s": 4.0}),
        (2.4, {"walk_max_step_s": 3.0, "impact_refractory_s": 0.1}),
    ],
)
def test_walking_recognised_between_impacts(step_s: float, settings: dict) -> None:
    """Walking is recognised (and held) at the end of epochs with no impact of their own:
    those epochs are not quiet, so the run stops and the walking step decides."""
    sim = simulate("controlled_medium", seed=1)
    rate = sim.sample_rate_hz
    t = sim.samples.t_s
    s = _steps_injected(sim.samples, rate, float(t[len(t) // 2]), count=9, step_s=step_s)
    st = orientation.OrientationSettings(**settings)
    want = _estimate(s, rate, [], True, st)
    assert want[3].any()  # the knocks were taken for walking
    assert not _estimate(sim.samples, rate, [], True, st)[3].any()
    for cuts in ([], _random_cuts(len(s), 9, 1500)):
        for got, ref in zip(_estimate(s, rate, cuts, False, st), want, strict=True):
            np.testing.assert_array_equal(got, ref)
    if not settings:
        _assert_fast_equals_reference(s, rate, [[], _random_cuts(len(s), 9, 1500)])


def test_walking_recognised_after_a_gap() -> None:
    """Walking steps, then a gap at an epoch boundary: the first epoch after it has no
    impact of its own and the pending ones are too old to silence a cue, yet walking is
    recognised at its end (``walk_max_step_s`` = 3 s reaches across the gap), so it is
    not quiet."""
    sim = simulate("controlled_medium", seed=1)
    rate = sim.sample_rate_hz
    s = sim.samples
    n_ep = round(orientation.OrientationSettings().epoch_s * rate)
    m = len(s) // (2 * n_ep)  # the epoch boundary half-way through
    last = m * n_ep - round(0.4 * rate)  # the last step 0.4 s before it
    steps = [last - round(k * 0.8 * rate) for k in range(9)]
    s = _steps_injected(s, rate, 0.0, 0, 1.0)  # a copy
    width = round(0.03 * rate)
    for i in steps:
        a = s.accel_g[i : i + width]
        s.accel_g[i : i + width] = a * (1.0 + 0.6 / np.linalg.norm(a, axis=1))[:, None]
    keep = np.ones(len(s), dtype=bool)
    keep[m * n_ep : m * n_ep + round(2.0 * rate)] = False
    assert s.gyro_dps is not None
    s = Samples(s.t_s[keep], s.accel_g[keep], s.gyro_dps[keep])
    st = orientation.OrientationSettings(walk_max_step_s=3.0)
    want = _estimate(s, rate, [], True, st)
    second = s.t_s[(m + 1) * n_ep : (m + 2) * n_ep]  # the second epoch after the gap
    assert want[3][np.isin(want[0], second)].all()  # walking recognised at the first's end
    for cuts in ([], _random_cuts(len(s), 10, 1500)):
        for got, ref in zip(_estimate(s, rate, cuts, False, st), want, strict=True):
            np.testing.assert_array_equal(got, ref)
