"""Detector rules on synthetic angle traces (angle and rate written down from the
motion, no estimator): what counts, and which flag each movement earns."""

from __future__ import annotations

import numpy as np
import pytest

from imu_host.core.events import BOUNCE, FAST_DROP, PARTIAL, FlagEvent, RepEvent
from imu_host.core.reps import centre, rules
from imu_host.core.reps.detector import RepDetector

RATE = 100.0
DT = 1.0 / RATE


class Trace:
    """Piecewise angle trace, deg, built segment by segment at RATE."""

    def __init__(self) -> None:
        self.th = [0.0]

    def hold(self, s: float) -> Trace:
        self.th += [self.th[-1]] * int(round(s * RATE))
        return self

    def move(self, to: float, s: float) -> Trace:  # minimum-jerk
        n = int(round(s * RATE))
        u = np.arange(1, n + 1) / n
        a = self.th[-1]
        self.th += list(a + (to - a) * (10 * u**3 - 15 * u**4 + 6 * u**5))
        return self

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        th = np.array(self.th)
        t = np.arange(len(th)) * DT
        return t, th, np.gradient(th, DT)


def _run(tr: Trace, calm: np.ndarray | None = None):
    t, th, ra = tr.arrays()
    d = RepDetector(RATE)
    ev = d.feed(t, th, ra, calm) + d.finish()
    return d.reps, ev


def test_controlled_rep_counts_without_flags():
    reps, _ = _run(Trace().hold(2).move(35, 2.5).hold(1.5).move(0, 2.5).hold(2))
    assert len(reps) == 1 and reps[0].side == "left" and reps[0].flags == ()
    assert abs(reps[0].rom_deg - 35) < 1.0


def test_fidget_is_not_a_rep():
    reps, _ = _run(Trace().hold(2).move(7, 0.8).move(0, 0.8).hold(2))
    assert reps == []


def test_fast_drop_flag_and_live_cue_before_the_bottom():
    tr = Trace().hold(2).move(-40, 0.45)  # ~167 deg/s peak
    t_bottom = (len(tr.th) - 1) * DT
    reps, ev = _run(tr.hold(2).move(0, 2.5).hold(2))
    assert len(reps) == 1 and FAST_DROP in reps[0].flags and reps[0].side == "right"
    cues = [e for e in ev if isinstance(e, FlagEvent) and e.kind == FAST_DROP]
    assert len(cues) == 1 and cues[0].t_s < t_bottom


def test_rebound_after_a_fast_drop_is_not_a_bounce():
    tr = Trace().hold(2).move(40, 0.4).move(33, 0.15).move(40, 0.15).move(37, 0.1).move(40, 0.1)
    reps, _ = _run(tr.hold(2).move(0, 2.5).hold(2))
    assert len(reps) == 1 and FAST_DROP in reps[0].flags and BOUNCE not in reps[0].flags


def test_bounce_at_end_range_of_a_controlled_rep():
    tr = Trace().hold(2).move(40, 2.5)
    for _ in range(2):
        tr.move(33, 0.4).move(40, 0.4)
    reps, _ = _run(tr.hold(1).move(0, 2.5).hold(2))
    assert len(reps) == 1 and BOUNCE in reps[0].flags and FAST_DROP not in reps[0].flags


def test_no_live_cue_when_the_drop_began_right_after_an_impact():
    tr = Trace().hold(2).move(-40, 0.45).hold(2).move(0, 2.5).hold(2)
    t, th, ra = tr.arrays()
    calm = np.ones(len(t), dtype=bool)
    calm[(t > 1.5) & (t < 2.6)] = False  # an impact just before and during the start
    d = RepDetector(RATE)
    k = int(np.searchsorted(t, 2.6))  # past the bottom of the drop (2.45 s)
    live = d.feed(t[:k], th[:k], ra[:k], calm[:k])
    assert not [e for e in live if isinstance(e, FlagEvent) and e.kind == FAST_DROP]
    d.feed(t[k:], th[k:], ra[k:], calm[k:])
    d.finish()
    assert len(d.reps) == 1 and FAST_DROP in d.reps[0].flags  # the rep is still flagged


def test_partial_after_three_full_reps_on_that_side():
    tr = Trace().hold(2)
    for amp in (40, -40, 41, -39, 39, -40, 18):
        tr.move(amp, 2.5).hold(1).move(0, 2.5).hold(1.5)
    reps, _ = _run(tr)
    assert len(reps) == 7
    assert PARTIAL in reps[-1].flags and all(PARTIAL not in r.flags for r in reps[:-1])


def test_rep_events_carry_the_reps():
    reps, ev = _run(Trace().hold(2).move(30, 2).hold(1).move(0, 2).move(-30, 2).move(0, 2).hold(2))
    assert [e.rep for e in ev if isinstance(e, RepEvent)] == reps
    assert [r.side for r in reps] == ["left", "right"]


def test_rule_functions():
    assert rules.is_fast_drop(100.0, 100.0) and not rules.is_fast_drop(99.9, 100.0)
    assert rules.is_fast_return(150.0, 100.0) and not rules.is_fast_return(50.0, 100.0)
    assert not rules.is_partial(10.0, [40.0, 40.0], 0.6, 3)  # too little history
    assert rules.is_partial(20.0, [40.0, 40.0, 40.0], 0.6, 3)
    assert not rules.is_partial(30.0, [40.0, 40.0, 40.0], 0.6, 3)
    assert rules.in_rebound(0.5, 1.0) and not rules.in_rebound(1.5, 1.0)


def test_centre_rules():
    assert centre.rest_pull(0.0, 10.0, 0.2) == 2.0
    assert centre.turning_point_centre([5.0, 30.0, -20.0]) == 5.0
    # a centre drifted onto one side's peaks is pulled back between the sides
    assert centre.clamp_between_sides(35.0, [40.0, 42.0, 41.0], [-40.0, -38.0, -39.0]) < 25.0
    assert centre.clamp_between_sides(3.0, [40.0], [-40.0]) == 3.0
    assert centre.clamp_between_sides(35.0, [], [-40.0]) == 35.0


def test_return_and_pose_rules():
    # the rate must account for at least the fraction of the angle's way back
    assert rules.return_is_real(20.0, 40.0, 0.5) and not rules.return_is_real(19.9, 40.0, 0.5)
    assert not rules.return_is_real(0.0, 60.0, 0.5)  # an angle creeping back, gyro still
    # a rest back at a pose it rested at before going on deeper by a rep's range
    assert rules.is_pose_revisit(41.0, 40.0, 5.0, 80.0, 7.0, 6.0, 12.0)
    assert not rules.is_pose_revisit(48.0, 40.0, 5.0, 80.0, 7.0, 6.0, 12.0)  # other pose
    assert not rules.is_pose_revisit(41.0, 40.0, 5.0, 50.0, 7.0, 6.0, 12.0)  # not deep enough
    assert not rules.is_pose_revisit(41.0, 40.0, 8.0, 80.0, 7.0, 6.0, 12.0)  # peak came first


def test_lever_corrected_peak_undoes_the_tangential_tilt():
    """Physics: a gravity angle tilted by tangential acceleration reads its speed as
    v_app = v - (r/g) v''. For v = A sin(w t), v'' = -w^2 v, so the peak reads
    A (1 + r w^2 / g) high; the correction brings it back to A (first order)."""
    from imu_host.core.reps.rules import G_MPS2, lever_corrected_peak

    r_m, amp, w = 0.3, 30.0, np.pi / 2.0  # a 2 s descent peaking at 30 deg/s
    t = np.arange(0.0, 2.0, 0.01)
    v = amp * np.sin(w * t)
    v_app = v + (r_m / G_MPS2) * w**2 * v
    i = int(v_app.argmax())
    assert v_app[i] > 1.07 * amp  # what the gravity angle reads
    got = lever_corrected_peak(v_app, t, i, r_m, 0.15, 0.2)
    assert abs(got - amp) < 0.01 * amp
    # an abrupt stop's narrow peak: the correction is capped at 20 % of the speed
    spike = np.zeros(200)
    spike[100] = 200.0
    assert lever_corrected_peak(spike, t, 100, r_m, 0.15, 0.2) == pytest.approx(160.0)
