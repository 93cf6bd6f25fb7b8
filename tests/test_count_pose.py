"""Issue 9 class B/C: a centre must have excursions on both sides of it. When an excursion
rests at a pose, goes on deeper and comes back to rest at that same pose, that pose is the
centre (the first rest was not a rep's end range: the recording began at a side, or the
strap slipped): the centre is re-acquired there and the deeper part is the rep.

Truth: the simulator's movement model (seeded sessions) and synthetic angle traces."""

from __future__ import annotations

import numpy as np
import pytest

from imu_host.analysis import analyze
from imu_host.core.reps.detector import RepDetector
from imu_host.io.recording import Recording
from imu_host.sim.generate import simulate
from imu_host.sim.score import score

HZ = 100.0


def _trace(points: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Piecewise-linear angle through (duration_s, angle_deg) knots, starting at the first
    knot's angle; rate = its derivative (a gyro that agrees with the angle)."""
    th = [np.full(int(points[0][0] * HZ), points[0][1])]
    last = points[0][1]
    for dur, ang in points[1:]:
        n = int(dur * HZ)
        th.append(np.linspace(last, ang, n, endpoint=False) + (ang - last) / n)
        last = ang
    theta = np.concatenate(th)
    t = np.arange(len(theta)) / HZ
    rate = np.gradient(theta, t)
    return t, theta, rate


def test_rest_revisited_after_a_deeper_excursion_is_the_centre():
    # starts still at a side (taken as the centre), then: true centre (-40), a right rep
    # to -80 and back, a left rep to 0 and back, a right rep: about the pose at -40
    pts = [(2.0, 0.0), (2.0, -40.0), (2.0, -40.0), (2.5, -80.0), (1.5, -80.0), (2.5, -40.0),
           (2.0, -40.0), (2.5, 0.0), (1.5, 0.0), (2.5, -40.0), (2.0, -40.0), (2.5, -80.0),
           (1.5, -80.0), (2.5, -40.0), (2.0, -40.0)]  # fmt: skip
    t, th, ra = _trace(pts)
    det = RepDetector(HZ)
    for i in range(0, len(t), 13):
        det.feed(t[i : i + 13], th[i : i + 13], ra[i : i + 13])
    det.finish()
    got = [(r.side, round(r.rom_deg)) for r in det.reps]
    assert [s for s, _ in got] == ["right", "left", "right"], got
    assert all(abs(rom - 40) <= 3 for _, rom in got), got
    assert det.centre is not None and abs(det.centre + 40.0) < 3.0, det.centre


@pytest.mark.parametrize("name,seed", [("start_partway_excluded", 102)])
def test_seeded_session_starting_at_a_side(name, seed):
    sim = simulate(name, seed)
    a = analyze(Recording(f"{name}:{seed}", sim.samples, sim.sample_rate_hz, {}))
    sc = score(a.reps, sim.truth)
    assert sc.exact, (sc.got, sc.want)


SLIP_OPEN = (
    "open (issue 9): the slip is read as a fast drop and counted when the next rep passes "
    "the old centre; telling it apart needs the knees' return to the slip pose, 3-6 s "
    "later (beyond the ~2 s a count may wait)"
)


@pytest.mark.xfail(strict=True, reason=SLIP_OPEN)
def test_fast_move_into_a_new_pose_is_not_a_rep():
    """A strap slip: at rest at the centre the angle jumps 30 deg in 0.2 s and stays there;
    from that pose the knees go out toward the old centre (just past it) and straight back
    to the pose, rest, then out to the far side and back. Two reps about the new pose (one
    each side), the slip itself not counted."""
    pts = [(2.0, 0.0), (0.2, -30.0), (2.0, -30.0), (2.5, 4.0), (1.5, 4.0), (2.5, -30.0),
           (2.0, -30.0), (2.5, -64.0), (1.5, -64.0), (2.5, -30.0), (2.0, -30.0)]  # fmt: skip
    t, th, ra = _trace(pts)
    det = RepDetector(HZ)
    for i in range(0, len(t), 13):
        det.feed(t[i : i + 13], th[i : i + 13], ra[i : i + 13])
    det.finish()
    got = [(r.side, round(r.rom_deg)) for r in det.reps]
    assert sorted(s for s, _ in got) == ["left", "right"], got
    assert all(abs(rom - 34) <= 4 for _, rom in got), got


@pytest.mark.parametrize("seed", [301])
def test_seeded_strap_slip(seed):
    sim = simulate("strap_slip", seed)
    a = analyze(Recording(f"strap_slip:{seed}", sim.samples, sim.sample_rate_hz, {}))
    sc = score(a.reps, sim.truth)
    assert sc.exact, (sc.got, sc.want)
    assert sc.flags["fast_drop"][1] == 0, sc.flags["fast_drop"]
