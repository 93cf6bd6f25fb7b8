"""Named scenario families for :mod:`imu_host.sim.generate`.

Each family is a function that fills a :class:`Setup` (movement plan, sensor spec, mounting,
extras) from the scenario's random generator.  Every draw comes from that generator, so the
same (name, seed) always gives the same recording, and different seeds give different tempo,
amplitudes, mounting and noise within the family's definition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from imu_host.sim.motion import LEFT, RIGHT, MotionBuilder, Prelude, walk_pause_sit_lie
from imu_host.sim.motion import walk_sit_lie as make_prelude
from imu_host.sim.physics import FINE_DT, SensorSpec, random_rotation, rot_axis

OTHER = {LEFT: RIGHT, RIGHT: LEFT}
SENSOR_POS_THIGH = np.array([0.30, 0.0, 0.07])  # 30 cm from the hip toward the knee, on the skin


@dataclass
class Setup:
    rng: np.random.Generator
    mb: MotionBuilder
    spec: SensorSpec
    follows_convention: bool
    mount: np.ndarray  # sensor -> thigh frame
    beta_deg: float  # thigh elevation at centre (deg up from horizontal toward the knee)
    radius_m: float  # distance of the sensor point from the roll axis at centre
    wobble_deg: float = 0.0  # cone: hip-flexion change at the typical amplitude (signed)
    typical_amp: float = 35.0
    prelude: Prelude | None = None
    crop: tuple[str, float] | None = None  # ("counted" | "excluded", travel fraction / hold frac)
    crop_end: tuple[str, float] | None = None  # ("counted" | "excluded", fraction) for the last rep
    slip: tuple[float, float, float] | None = None  # (time_s, angle_deg, duration_s)
    n_gaps: int = 0
    still: list[tuple[float, float]] = field(default_factory=list)  # lying still, no reps
    notes: list[str] = field(default_factory=list)
    accel_ranges: tuple[float, ...] = (2.0, 4.0, 8.0)
    accel_range_forced: float | None = None  # this range even if the motion saturates it
    timed_gaps: list[tuple[float, float]] = field(default_factory=list)  # (start_s, dur_s)
    gyro_ranges: tuple[float, ...] = (250.0, 500.0, 2000.0)


def default_setup(rng: np.random.Generator) -> Setup:
    """Draw the per-recording defaults: mounting, thigh geometry, sensor errors."""
    follows = bool(rng.random() < 0.5)
    if follows:  # nominal mounting (+X to the knee, +Z out of the thigh) within a few degrees
        mount = rot_axis(rng.normal(size=3), np.deg2rad(rng.uniform(0.0, 8.0)))
    else:
        mount = random_rotation(rng)
    spec = SensorSpec(
        rate_hz=100.0 if rng.random() < 0.7 else 104.0,  # 104: what an LSM6 gives for "100"
        rate_error=float(rng.uniform(-0.01, 0.03)),
        jitter_s=float(rng.uniform(0.0001, 0.001)),
        ts_round_s=1e-3 if rng.random() < 0.3 else 1e-6,
        accel_noise_g=float(rng.uniform(0.005, 0.02)),
        gyro_noise_dps=float(rng.uniform(0.1, 1.0)),
        gyro_bias_dps=rng.uniform(-3.0, 3.0, size=3),
        gyro_drift_dps=float(rng.uniform(0.1, 0.8)),
        gyro_scale=1.0 + rng.uniform(-0.02, 0.02, size=3),
        accel_scale=1.0 + rng.uniform(-0.03, 0.03, size=3),
        accel_offset_g=rng.uniform(-0.03, 0.03, size=3),
        drop_prob=float(rng.uniform(0.0, 0.003)),
    )
    wobble = float(rng.uniform(0.0, 6.0) * rng.choice([-1.0, 1.0])) if rng.random() < 0.5 else 0.0
    mb = MotionBuilder(rng)
    return Setup(
        rng=rng,
        mb=mb,
        spec=spec,
        follows_convention=follows,
        mount=mount,
        beta_deg=float(rng.uniform(40.0, 50.0)),
        radius_m=float(rng.uniform(0.35, 0.45)),
        wobble_deg=wobble,
    )


# --------------------------------------------------------------------------- set helpers

TEMPO = {
    # (descent s, hold s, return s, centre rest s) ranges
    "slow": ((3.0, 4.0), (2.0, 5.0), (3.0, 4.0), (1.0, 3.0)),
    "medium": ((2.0, 3.0), (1.0, 3.0), (2.0, 3.0), (0.5, 2.0)),
    "brisk": ((1.5, 2.0), (0.0, 1.0), (1.5, 2.0), (0.0, 1.0)),
}


def alternating(rng: np.random.Generator, n_per_side: int) -> list[str]:
    first = LEFT if rng.random() < 0.5 else RIGHT
    return [first if i % 2 == 0 else OTHER[first] for i in range(2 * n_per_side)]


def side_amps(rng: np.random.Generator, lo: float = 20.0, hi: float = 45.0) -> dict[str, float]:
    base = rng.uniform(lo, hi)
    return {LEFT: base * rng.uniform(0.9, 1.1), RIGHT: base * rng.uniform(0.9, 1.1)}


def run_set(
    sc: Setup,
    sides: list[str],
    tempo: str,
    *,
    amps: dict[str, float] | None = None,
    fast: set[int] | frozenset[int] = frozenset(),
    bounce: set[int] | frozenset[int] = frozenset(),
    yank: set[int] | frozenset[int] = frozenset(),
    hard: set[int] | frozenset[int] = frozenset(),
    hold: tuple[float, float] | None = None,
    rest: tuple[float, float] | None = None,
    fidget_prob: float = 0.0,
    lead_rest: tuple[float, float] = (1.0, 3.0),
    tail_rest: tuple[float, float] = (1.5, 3.0),
) -> None:
    """A set of reps (sides in order) at a tempo, with rests at centre between them."""
    rng, mb = sc.rng, sc.mb
    d_r, h_r, r_r, c_r = TEMPO[tempo]
    h_r = hold or h_r
    c_r = rest or c_r
    amps = amps or side_amps(rng)
    sc.typical_amp = float(np.mean(list(amps.values())))
    mb.rest(rng.uniform(*lead_rest))
    for i, side in enumerate(sides):
        amp = float(np.clip(amps[side] * rng.uniform(0.88, 1.12), 15.0, 90.0))
        mb.rep(
            side,
            amp,
            rng.uniform(*d_r),
            rng.uniform(*h_r),
            rng.uniform(*r_r),
            fast_drop=i in fast or i in hard,
            hard=i in hard,
            bounce=i in bounce,
            fast_return=i in yank,
            centre=rng.uniform(-1.5, 1.5),
            creep=rng.uniform(0.0, 2.0),
        )
        if i < len(sides) - 1:
            r = rng.uniform(*c_r)
            if fidget_prob and rng.random() < fidget_prob:
                mb.rest(rng.uniform(0.8, 1.5))
                mb.fidget(rng.uniform(2.5, 6.0), rng.uniform(0.6, 1.6))
                r = max(r, 0.8)
            mb.rest(r)
    mb.rest(rng.uniform(*tail_rest))


def pick(rng: np.random.Generator, n: int, frac: tuple[float, float], at_least: int) -> set[int]:
    """Indices (never the first rep) of a random fraction of n reps."""
    k = max(at_least, int(round(n * rng.uniform(*frac))))
    return {int(i) for i in rng.choice(np.arange(1, n), size=min(k, n - 1), replace=False)}


# --------------------------------------------------------------------------- families


def controlled_slow(sc: Setup) -> None:
    run_set(sc, alternating(sc.rng, int(sc.rng.integers(3, 5))), "slow")


def controlled_medium(sc: Setup) -> None:
    run_set(sc, alternating(sc.rng, int(sc.rng.integers(4, 7))), "medium")


def controlled_brisk(sc: Setup) -> None:
    sc.spec.rate_hz = 200.0 if sc.rng.random() < 0.5 else 208.0
    run_set(sc, alternating(sc.rng, int(sc.rng.integers(6, 10))), "brisk")


def fast_drops_mixed(sc: Setup) -> None:
    sides = alternating(sc.rng, int(sc.rng.integers(5, 7)))
    run_set(sc, sides, "medium", fast=pick(sc.rng, len(sides), (0.25, 0.5), 2))


def fast_drops_most(sc: Setup) -> None:
    sides = alternating(sc.rng, int(sc.rng.integers(4, 7)))
    run_set(sc, sides, "medium", fast=pick(sc.rng, len(sides), (0.6, 0.9), 3))
    sc.notes.append("tired/impatient: most reps are momentum-driven drops")


def sloppy_mixed(sc: Setup) -> None:
    rng = sc.rng
    sides = alternating(rng, int(rng.integers(5, 7)))
    n = len(sides)
    fast = pick(rng, n, (0.2, 0.35), 2)
    rest = [i for i in range(1, n) if i not in fast]
    bounce = {int(i) for i in rng.choice(rest, size=min(2, len(rest)), replace=False)}
    yank = pick(rng, n, (0.2, 0.35), 2)
    run_set(sc, sides, "medium", fast=fast, bounce=bounce, yank=yank)
    sc.notes.append("fast drops, bounces and yanked returns mixed in one set")


def bounces(sc: Setup) -> None:
    sides = alternating(sc.rng, int(sc.rng.integers(4, 6)))
    run_set(sc, sides, "medium", bounce=pick(sc.rng, len(sides), (0.3, 0.5), 2))


def yanked_returns(sc: Setup) -> None:
    sides = alternating(sc.rng, int(sc.rng.integers(4, 6)))
    run_set(sc, sides, "medium", yank=pick(sc.rng, len(sides), (0.3, 0.5), 2))


def long_holds(sc: Setup) -> None:
    run_set(sc, alternating(sc.rng, int(sc.rng.integers(3, 5))), "medium", hold=(5.0, 8.0))


def non_alternating(sc: Setup) -> None:
    rng = sc.rng
    n = int(rng.integers(8, 13))
    while True:
        sides = [LEFT if rng.random() < 0.5 else RIGHT for _ in range(n)]
        repeats = sum(a == b for a, b in zip(sides, sides[1:], strict=False))
        if repeats >= 2 and 3 <= sides.count(LEFT) <= n - 3:
            break
    run_set(sc, sides, "medium")
    sc.notes.append("sides do not alternate: " + " ".join(s[0].upper() for s in sides))


def one_side_tighter(sc: Setup) -> None:
    rng = sc.rng
    tight = LEFT if rng.random() < 0.5 else RIGHT
    free = rng.uniform(35.0, 55.0)
    amps = {OTHER[tight]: free, tight: free * rng.uniform(0.45, 0.65)}
    sides = alternating(rng, int(rng.integers(4, 6)))
    run_set(sc, sides, "medium", amps=amps, fast=pick(rng, len(sides), (0.1, 0.25), 1))
    sc.notes.append(f"{tight} side tighter: ~{amps[tight]:.0f} vs ~{free:.0f} deg")


def floor_reach(sc: Setup) -> None:
    amps = side_amps(sc.rng, 72.0, 82.0)
    run_set(sc, alternating(sc.rng, int(sc.rng.integers(3, 5))), "medium", amps=amps)
    sc.notes.append("large range: knees reach (or nearly reach) the floor")


def fidgets(sc: Setup) -> None:
    rng, mb = sc.rng, sc.mb
    mb.rest(rng.uniform(1.0, 2.0))
    for _ in range(int(rng.integers(1, 3))):
        mb.fidget(rng.uniform(2.5, 6.0), rng.uniform(0.6, 1.6))
        mb.rest(rng.uniform(1.0, 2.5))
    run_set(sc, alternating(rng, int(rng.integers(4, 6))), "medium", fidget_prob=0.6)
    sc.notes.append("fidgets (< 8 deg out-and-back wobbles) are not reps")


def still_before_after(sc: Setup) -> None:
    rng, mb = sc.rng, sc.mb
    t0 = rng.uniform(10.0, 20.0)
    mb.rest(t0)
    sc.still.append((0.0, t0))
    run_set(sc, alternating(rng, int(rng.integers(3, 5))), "medium", lead_rest=(0.5, 1.0))
    t1 = mb.t
    mb.rest(rng.uniform(10.0, 20.0))
    sc.still.append((t1, mb.t))


def walk_sit_lie(sc: Setup) -> None:
    sc.prelude = _prelude(sc)
    run_set(sc, alternating(sc.rng, int(sc.rng.integers(4, 6))), "medium", lead_rest=(2.0, 4.0))
    sc.notes.append("walks, sits down on the mat and lies back before the set (no reps there)")


def no_exercise(sc: Setup) -> None:
    rng, mb = sc.rng, sc.mb
    sc.prelude = _prelude(sc)
    t0 = mb.t
    for _ in range(int(rng.integers(2, 5))):
        mb.rest(rng.uniform(3.0, 8.0))
        mb.fidget(rng.uniform(2.5, 6.0), rng.uniform(0.6, 1.6))
    mb.rest(rng.uniform(5.0, 10.0))
    sc.still.append((t0, mb.t))
    sc.notes.append("walks, sits down, lies back and only fidgets: zero reps")


def tempo_drift(sc: Setup) -> None:
    """Tempo slows through the set (like a tiring person): 0.7x -> 1.5x the medium tempo,
    holds appear and lengthen, range shrinks by 10-25 %."""
    rng, mb = sc.rng, sc.mb
    sides = alternating(rng, int(rng.integers(4, 6)))
    amps = side_amps(rng, 30.0, 50.0)
    sc.typical_amp = float(np.mean(list(amps.values())))
    shrink = rng.uniform(0.1, 0.25)
    mb.rest(rng.uniform(1.0, 3.0))
    for i, side in enumerate(sides):
        f = i / (len(sides) - 1)
        k = 0.7 + 0.8 * f
        amp = float(np.clip(amps[side] * (1.0 - shrink * f) * rng.uniform(0.92, 1.08), 15.0, 90.0))
        mb.rep(
            side,
            amp,
            k * rng.uniform(2.0, 2.6),
            f * rng.uniform(0.5, 4.0),
            k * rng.uniform(2.0, 2.6),
            centre=rng.uniform(-1.5, 1.5),
        )
        mb.rest(k * rng.uniform(0.3, 1.5))
    mb.rest(rng.uniform(1.0, 3.0))
    sc.notes.append("tempo slows and holds lengthen through the set; range shrinks a little")


def _prelude(sc: Setup) -> Prelude:
    pre = make_prelude(sc.rng, 90.0 + sc.beta_deg, lying_hip(sc))
    sc.mb.hold(pre.sit_end_s)
    return pre


def lying_hip(sc: Setup) -> np.ndarray:
    """Hip position (relative to the roll axis) that puts the sensor at radius_m when lying."""
    b = np.deg2rad(sc.beta_deg)
    ds, rs = SENSOR_POS_THIGH[0], SENSOR_POS_THIGH[2]
    return np.array([0.0, 0.0, sc.radius_m - ds * np.sin(b) - rs * np.cos(b)])


def strap_slip(sc: Setup) -> None:
    rng = sc.rng
    sides = alternating(rng, int(rng.integers(4, 6)))
    run_set(sc, sides, "medium", rest=(2.5, 4.0))
    mid = sc.mb.rests[len(sides) // 2]  # a centre rest in the middle of the set
    t = (mid[0] + 0.4 * (mid[1] - mid[0])) * FINE_DT
    ang = rng.uniform(15.0, 40.0) * rng.choice([-1.0, 1.0])
    sc.slip = (float(t), float(ang), float(rng.uniform(0.2, 0.5)))
    sc.notes.append(f"strap slips {ang:+.0f} deg about the thigh axis at {t:.2f} s (centre rest)")


def high_noise(sc: Setup) -> None:
    rng, spec = sc.rng, sc.spec
    spec.accel_noise_g = float(rng.uniform(0.05, 0.1))
    spec.gyro_noise_dps = float(rng.uniform(2.0, 5.0))
    spec.gyro_bias_dps = rng.uniform(-5.0, 5.0, size=3)
    spec.gyro_drift_dps = float(rng.uniform(1.0, 3.0))
    spec.spikes = int(rng.integers(4, 12))
    sc.accel_ranges = (8.0,)
    sides = alternating(rng, int(rng.integers(4, 6)))
    run_set(sc, sides, "medium", fast=pick(rng, len(sides), (0.1, 0.25), 1))
    sc.notes.append(f"high noise with {spec.spikes} single-sample knocks of 1-4 g")


def accel_only(sc: Setup) -> None:
    sc.spec.has_gyro = False
    sides = alternating(sc.rng, int(sc.rng.integers(4, 6)))
    run_set(sc, sides, "medium", fast=pick(sc.rng, len(sides), (0.1, 0.25), 1))


def rate_50hz(sc: Setup) -> None:
    sc.spec.rate_hz = 50.0
    tempo = "medium" if sc.rng.random() < 0.5 else "brisk"
    sides = alternating(sc.rng, int(sc.rng.integers(4, 7)))
    run_set(sc, sides, tempo, fast=pick(sc.rng, len(sides), (0.1, 0.25), 1))


def packet_gaps(sc: Setup) -> None:
    rng = sc.rng
    sc.spec.drop_prob = float(rng.uniform(0.003, 0.01))
    sc.n_gaps = int(rng.integers(2, 5))
    run_set(sc, alternating(rng, int(rng.integers(4, 6))), "medium", rest=(2.5, 4.0))
    sc.notes.append("packet gaps of 10-100 samples, only during centre rests")


def swing_set(
    sc: Setup,
    base_d: float,
    amps: dict[str, float],
    total_s: float,
    pause: tuple[float, float] = (0.0, 0.0),
) -> None:
    """Side-to-side half-sine excursions of ~base_d s each, optional short centre pauses."""
    rng, mb = sc.rng, sc.mb
    sc.typical_amp = float(np.mean(list(amps.values())))
    n = int(np.clip(total_s / (base_d + np.mean(pause)), 10, 24))
    side = LEFT if rng.random() < 0.5 else RIGHT
    mb.rest(rng.uniform(1.0, 3.0))
    for i in range(n):
        d = float(np.clip(base_d * rng.uniform(0.9, 1.1), 1.6, 4.0))
        a = amps[side] * rng.uniform(0.9, 1.1)
        edge = 1.11 if i in (0, n - 1) else 1.0  # the time-warped first/last lobe peaks 10% higher
        a = float(np.clip(a, 15.0, 0.97 * 55.0 * d / (np.pi * edge)))  # peak a*pi/d: controlled
        mb.swing(side, a, d, smooth_ends=pause[1] > 0, from_rest=i == 0, to_rest=i == n - 1)
        if pause[1] > 0 and i < n - 1:
            mb.rest(rng.uniform(*pause))
        side = OTHER[side]
    mb.rest(rng.uniform(1.5, 3.0))


def continuous_swing(sc: Setup) -> None:
    rng = sc.rng
    base_d = rng.uniform(1.6, 4.0)
    amps = side_amps(rng, 20.0, 60.0)
    if rng.random() < 0.5:  # asymmetric
        amps[LEFT if rng.random() < 0.5 else RIGHT] *= rng.uniform(0.55, 0.8)
    swing_set(sc, base_d, amps, rng.uniform(45.0, 75.0))
    sc.notes.append(f"continuous swinging, no pause at either end, ~{base_d:.1f} s per excursion")


def mex_like(sc: Setup) -> None:
    """Like the real MEx recordings: AX3-style accelerometer only, 1/64 g, ~103 Hz, ms stamps."""
    rng, spec = sc.rng, sc.spec
    spec.has_gyro = False
    spec.rate_hz = 100.0
    spec.rate_error = float(rng.uniform(0.02, 0.035))
    spec.ts_round_s = 1e-3
    spec.accel_lsb_g = 1.0 / 64.0
    spec.accel_noise_g = float(rng.uniform(0.003, 0.012))
    spec.accel_scale = rng.uniform(0.94, 0.99, size=3)
    sc.accel_ranges = (8.0,)
    sc.follows_convention = False
    sc.mount = random_rotation(rng)
    sc.wobble_deg = float(rng.uniform(5.0, 10.0) * rng.choice([-1.0, 1.0]))
    base_d = rng.uniform(2.0, 4.0)
    amps = side_amps(rng, 25.0, 60.0)
    amps[LEFT if rng.random() < 0.5 else RIGHT] *= rng.uniform(0.7, 1.0)
    pause = (0.3, 1.0) if rng.random() < 0.5 else (0.0, 0.0)
    swing_set(sc, base_d, amps, rng.uniform(45.0, 60.0), pause)
    sc.notes.append("MEx-like: accel only, 1/64 g, ~103 Hz, ms timestamps, cone path")


def end_partway_excluded(sc: Setup) -> None:
    rng = sc.rng
    sides = alternating(rng, int(rng.integers(4, 6)))
    sides.append(OTHER[sides[-1]])
    run_set(sc, sides, "medium", hold=(2.0, 4.0))
    sc.crop_end = ("excluded", float(rng.uniform(0.2, 0.8)))
    sc.notes.append("recording ends at a side during the last hold: that excursion is not counted")


def end_partway_counted(sc: Setup) -> None:
    rng = sc.rng
    run_set(sc, alternating(rng, int(rng.integers(4, 6))), "medium")
    sc.crop_end = ("counted", float(rng.uniform(0.7, 0.85)))
    sc.notes.append("recording ends on the last return, >= 70% of the way back: counted")


def start_partway_counted(sc: Setup) -> None:
    rng = sc.rng
    run_set(sc, alternating(rng, int(rng.integers(4, 6))), "medium", lead_rest=(0.0, 0.0))
    sc.crop = ("counted", float(rng.uniform(0.05, 0.25)))
    sc.notes.append("recording starts early in the first descent (< 25% of travel done): counted")


def start_partway_excluded(sc: Setup) -> None:
    rng = sc.rng
    run_set(
        sc,
        alternating(rng, int(rng.integers(4, 6))),
        "medium",
        lead_rest=(0.0, 0.0),
        hold=(2.0, 3.5),
    )
    sc.crop = ("excluded", float(rng.uniform(0.2, 0.8)))
    sc.notes.append("recording starts at a side during a hold: that excursion is not counted")


def cone_path(sc: Setup) -> None:
    sc.wobble_deg = float(sc.rng.uniform(7.0, 10.0) * sc.rng.choice([-1.0, 1.0]))
    run_set(sc, alternating(sc.rng, int(sc.rng.integers(4, 6))), "medium")
    sc.notes.append("cone path: thigh flexion changes with roll (out-of-plane wobble)")


# --------------------------------------------------------------------------- issue 9 families
GAP_S = (0.3, 0.5)  # radio gaps inside reps
GAP_MARGIN_S = 0.3  # a gap never hides a rep's start or end: this far from both
LONG_GAP_S = 3.0


def _inside(rng: np.random.Generator, a_s: float, b_s: float, dur: float) -> float | None:
    """Start of a ``dur`` gap placed at random inside [a_s, b_s] with margins, or None."""
    lo, hi = a_s + GAP_MARGIN_S, b_s - GAP_MARGIN_S - dur
    return float(rng.uniform(lo, hi)) if hi > lo else None


def gaps_in_reps(sc: Setup) -> None:
    """Radio gaps of 0.3-0.5 s at random phases of reps (descent, hold, return, rest), one
    gap inside a ~200 deg/s drop, one 3 s gap in a long centre rest; 50 or 100 Hz. No gap
    hides a rep's start or end, so every rep counts (truth: all reps)."""
    rng = sc.rng
    sc.spec.rate_hz = 50.0 if rng.random() < 0.5 else 100.0
    sc.spec.drop_prob = 0.0
    sides = alternating(rng, int(rng.integers(4, 6)))
    n = len(sides)
    i_fast = int(rng.integers(1, n - 1))
    tempo = "slow" if rng.random() < 0.4 else "medium"
    run_set(sc, sides, tempo, fast={i_fast}, rest=(1.0, 2.5))
    # a long rest for the 3 s gap, appended after the set, then two more reps
    mb = sc.mb
    mb.rest(LONG_GAP_S + 2.0)
    long_rest = (mb.rests[-1][0] * FINE_DT, mb.rests[-1][1] * FINE_DT)
    run_set(sc, alternating(rng, 1), tempo, lead_rest=(0.5, 1.0))
    sc.timed_gaps.append((long_rest[0] + 1.0, LONG_GAP_S))
    for i, rp in enumerate(mb.reps):
        t0, ta, tl, t1 = (x * FINE_DT for x in (rp.i_start, rp.i_arrive, rp.i_leave, rp.i_end))
        if i == i_fast:
            dur = float(rng.uniform(0.1, 0.15))  # the drop lasts 0.25-0.5 s
            sc.timed_gaps.append((t0 + 0.5 * (ta - t0) - 0.5 * dur, dur))
            continue
        if i == 0 or rng.random() < 0.3:
            continue
        dur = float(rng.uniform(*GAP_S))
        phase = int(rng.integers(0, 4))
        spans = [(t0, ta), (ta, tl), (tl, t1), (t1, t1 + 1.0)]
        g = _inside(rng, *spans[phase], dur)
        if g is None:
            g = _inside(rng, t0, t1, dur)
        if g is not None:
            sc.timed_gaps.append((g, dur))
    sc.notes.append(
        f"{len(sc.timed_gaps)} radio gaps inside reps (0.1-3 s), none hiding a start/end"
    )


def _hard(sc: Setup, accel_range_g: float) -> None:
    rng = sc.rng
    sides = alternating(rng, int(rng.integers(6, 8)))
    n = len(sides)
    k = int(rng.integers(1, 3))
    hard = {int(i) for i in rng.choice(np.arange(1, n - 6), size=k, replace=False)}
    run_set(sc, sides, "medium", hard=hard, hold=(1.0, 3.0))
    sc.accel_range_forced = accel_range_g
    sc.notes.append(f"{k} hard drops (200-300 deg/s, stopped in 60-80 ms) at +-{accel_range_g:g} g")


def hard_drops_2g(sc: Setup) -> None:
    _hard(sc, 2.0)


def hard_drops_8g(sc: Setup) -> None:
    _hard(sc, 8.0)


def _long_prelude(sc: Setup, **kw: object) -> None:
    pre = walk_pause_sit_lie(sc.rng, 90.0 + sc.beta_deg, lying_hip(sc), **kw)  # type: ignore[arg-type]
    sc.mb.hold(pre.sit_end_s)
    sc.prelude = pre
    sc.mb.rest(sc.rng.uniform(3.0, 10.0))


def walk_stand_sit_lie(sc: Setup) -> None:
    """20-60 s of walking with standing pauses, squat, sit, lie back, 3-10 s still, rolls."""
    _long_prelude(sc, walk_s=(20.0, 60.0), pause_s=(1.0, 4.0), n_bouts=int(sc.rng.integers(2, 4)))
    run_set(sc, alternating(sc.rng, int(sc.rng.integers(4, 6))), "medium", lead_rest=(0.5, 1.0))
    sc.notes.append("walks with standing pauses, sits down, lies back, still, then a set")


def mid_walk_start(sc: Setup) -> None:
    """Starts mid-walk; walking resumes after a 5-8 s stand; drifting gyro bias."""
    sc.spec.gyro_bias_dps = sc.rng.uniform(-3.0, 3.0, size=3)
    sc.spec.gyro_drift_dps = float(sc.rng.uniform(1.5, 3.0))
    _long_prelude(sc, walk_s=(10.0, 25.0), pause_s=(5.0, 8.0), n_bouts=2, mid_walk_start=True)
    run_set(sc, alternating(sc.rng, int(sc.rng.integers(4, 6))), "medium", lead_rest=(0.5, 1.0))
    sc.notes.append("recording starts mid-walk; walking resumes after a 5-8 s stand")


def accel_only_lever(sc: Setup) -> None:
    """Accelerometer only, sensor 0.2-0.45 m from the roll axis, controlled reps and abrupt
    140-280 deg/s drops."""
    sc.spec.has_gyro = False
    sc.radius_m = float(sc.rng.uniform(0.2, 0.45))
    sides = alternating(sc.rng, int(sc.rng.integers(4, 6)))
    run_set(sc, sides, "medium", fast=pick(sc.rng, len(sides), (0.15, 0.3), 1))
    sc.notes.append(f"accel only, lever arm {sc.radius_m:.2f} m")


NEW_FAMILIES = (
    "gaps_in_reps",
    "hard_drops_2g",
    "hard_drops_8g",
    "walk_stand_sit_lie",
    "mid_walk_start",
    "accel_only_lever",
)

FAMILIES: dict[str, tuple[Callable[[Setup], None], str]] = {
    "controlled_slow": (controlled_slow, "alternating controlled reps, slow tempo, 2-5 s holds"),
    "controlled_medium": (controlled_medium, "alternating controlled reps, medium tempo"),
    "controlled_brisk": (controlled_brisk, "brisk controlled reps, short holds/rests, 200-208 Hz"),
    "fast_drops_mixed": (
        fast_drops_mixed,
        "controlled set with momentum-driven fast drops mixed in",
    ),
    "fast_drops_most": (fast_drops_most, "most reps are momentum-driven fast drops"),
    "sloppy_mixed": (sloppy_mixed, "fast drops, bounces and yanked returns in one set"),
    "bounces": (bounces, "some reps bounce 2-3 times at end range"),
    "yanked_returns": (yanked_returns, "some reps return to centre fast (yanked)"),
    "long_holds": (long_holds, "holds of 5-8 s at end range"),
    "non_alternating": (non_alternating, "sides in a non-alternating order (L L R L R R ...)"),
    "one_side_tighter": (
        one_side_tighter,
        "one side reaches 45-65% of the other's range; a fast drop",
    ),
    "floor_reach": (floor_reach, "very large range (70-90 deg, knees near the floor)"),
    "fidgets": (fidgets, "small fidgets (< 8 deg) between reps that are not reps"),
    "still_before_after": (still_before_after, "lying still 10-20 s before and after the set"),
    "walk_sit_lie": (walk_sit_lie, "walks, sits down on the mat, lies back, then does a set"),
    "no_exercise": (no_exercise, "walks, sits down, lies back and only fidgets (zero reps)"),
    "tempo_drift": (tempo_drift, "tempo slows and holds lengthen through the set"),
    "strap_slip": (strap_slip, "strap slips 15-40 deg about the thigh axis mid-set"),
    "high_noise": (high_noise, "very noisy sensor with single-sample knocks, a fast drop or two"),
    "accel_only": (accel_only, "accelerometer only (no gyro columns), a fast drop or two"),
    "rate_50hz": (rate_50hz, "50 Hz sample rate, a fast drop or two"),
    "packet_gaps": (packet_gaps, "packet gaps (10-100 lost samples) during centre rests"),
    "continuous_swing": (continuous_swing, "continuous side-to-side swinging, no pause anywhere"),
    "start_partway_counted": (start_partway_counted, "starts just after leaving centre (counted)"),
    "start_partway_excluded": (start_partway_excluded, "starts at a side in a hold (not counted)"),
    "mex_like": (mex_like, "like the real MEx files: accel only, 1/64 g, ~103 Hz, swinging"),
    "end_partway_counted": (end_partway_counted, "ends on the last return, mostly back (counted)"),
    "end_partway_excluded": (end_partway_excluded, "ends at a side in the last hold (not counted)"),
    "cone_path": (cone_path, "knees trace a cone (7-10 deg out-of-plane wobble)"),
    "gaps_in_reps": (gaps_in_reps, "radio gaps 0.3-0.5 s inside reps, one in a drop, one 3 s"),
    "hard_drops_2g": (hard_drops_2g, "hard drops (200-300 deg/s, 60-80 ms stop), +-2 g range"),
    "hard_drops_8g": (hard_drops_8g, "hard drops (200-300 deg/s, 60-80 ms stop), +-8 g range"),
    "walk_stand_sit_lie": (walk_stand_sit_lie, "20-60 s walk with pauses, sit, lie, still, set"),
    "mid_walk_start": (mid_walk_start, "starts mid-walk, walks again after a 5-8 s stand"),
    "accel_only_lever": (accel_only_lever, "accel only, lever arm 0.2-0.45 m, abrupt drops"),
}
