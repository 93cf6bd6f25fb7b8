"""Movement model behind :mod:`imu_host.sim.generate`: the roll angle theta(t) and the walk-to-mat prelude.

:class:`MotionBuilder` appends movement primitives on the fine grid (``FINE_HZ``) and keeps the
plan of every rep (sample indices of start / arrival at end range / leaving end range / end), so
the truth can be measured from the final (smoothed) theta afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu_host.sim.physics import FINE_DT, FINE_HZ

LEFT, RIGHT = "left", "right"
SIGN = {LEFT: 1.0, RIGHT: -1.0}

CONTROLLED_MAX_DPS = 55.0  # controlled descents/returns are built to peak at or below this
FAST_MIN_DPS = 140.0  # momentum drops / yanked returns are built to peak at or above this
HARD_MIN_DPS, HARD_MAX_DPS = 200.0, 300.0  # hard drops (stopped within 60-80 ms)


def _n(dur_s: float) -> int:
    return max(1, int(round(dur_s * FINE_HZ)))


def min_jerk(n: int) -> np.ndarray:
    """Minimum-jerk profile 0 -> 1 over n samples (last sample == 1); peak slope 1.875/T."""
    s = np.arange(1, n + 1) / n
    return s**3 * (10.0 - 15.0 * s + 6.0 * s * s)


def controlled_duration(amp: float, want_s: float, lo: float = 1.5, hi: float = 4.0) -> float:
    """A min-jerk duration near ``want_s`` whose peak speed stays <= CONTROLLED_MAX_DPS."""
    need = 1.875 * abs(amp) / CONTROLLED_MAX_DPS
    return float(min(max(want_s, need, lo), max(hi, need)))


@dataclass
class RepPlan:
    side: str
    i_start: int
    i_arrive: int  # end of the descent (arrival at end range)
    i_leave: int  # start of the return
    i_end: int
    fast_drop: bool = False
    bounce: bool = False
    fast_return: bool = False
    kind: str = "rep"  # "rep" | "swing"


@dataclass
class MotionBuilder:
    rng: np.random.Generator
    chunks: list[np.ndarray] = field(default_factory=list)
    n: int = 0
    theta: float = 0.0
    reps: list[RepPlan] = field(default_factory=list)
    rests: list[tuple[int, int]] = field(default_factory=list)  # centre rests (fine indices)
    fidgets: list[tuple[int, int]] = field(default_factory=list)

    @property
    def t(self) -> float:
        return self.n * FINE_DT

    def _append(self, arr: np.ndarray) -> None:
        self.chunks.append(np.asarray(arr, dtype=float))
        self.n += len(arr)
        self.theta = float(arr[-1])

    def hold(self, dur_s: float) -> None:
        if dur_s > 0:
            self._append(np.full(_n(dur_s), self.theta))

    def rest(self, dur_s: float) -> None:
        """Rest at centre (theta is expected to be ~0 already)."""
        if dur_s > 0:
            i0 = self.n
            self.hold(dur_s)
            self.rests.append((i0, self.n))

    def move(self, target: float, dur_s: float) -> None:
        """Minimum-jerk move to ``target`` (deg)."""
        self._append(self.theta + (target - self.theta) * min_jerk(_n(dur_s)))

    def drop(self, target: float, dur_s: float, dec_s: float) -> None:
        """Momentum-driven drop: speed builds up (sin^2) and is stopped abruptly (cos^2 in dec_s)."""
        na, nd = _n(dur_s - dec_s), _n(dec_s)
        v = np.concatenate(
            [np.sin(0.5 * np.pi * np.arange(1, na + 1) / na) ** 2,
             np.cos(0.5 * np.pi * np.arange(1, nd + 1) / nd) ** 2]
        )  # fmt: skip
        x = np.cumsum(v)
        self._append(self.theta + (target - self.theta) * x / x[-1])

    def dip(self, depth: float, dur_s: float) -> None:
        """Move ``depth`` deg toward centre and back (raised cosine), e.g. rebound or bounce."""
        sgn = 1.0 if self.theta > 0 else -1.0
        u = np.arange(1, _n(dur_s) + 1) / _n(dur_s)
        self._append(self.theta - sgn * depth * 0.5 * (1.0 - np.cos(2.0 * np.pi * u)))

    def rep(
        self,
        side: str,
        amp: float,
        descent_s: float,
        hold_s: float,
        return_s: float,
        *,
        fast_drop: bool = False,
        bounce: bool = False,
        fast_return: bool = False,
        centre: float = 0.0,
        creep: float = 0.0,
        hard: bool = False,
    ) -> RepPlan:
        """One rep from centre: descent (controlled or momentum drop), hold (sinking ``creep``
        deg further), return to ``centre`` (a rest position within a degree or two of 0)."""
        rng = self.rng
        s = SIGN[side]
        i_start = self.n
        if fast_drop and hard:
            # hard momentum drop: 200-300 deg/s stopped within 60-80 ms, then a damped
            # 5-10 deg rebound (two decaying dips)
            vpk = rng.uniform(HARD_MIN_DPS, HARD_MAX_DPS)
            dur = float(np.clip(2.0 * amp / vpk, 0.2, 0.8))
            self.drop(s * amp, dur, rng.uniform(0.06, 0.08))
            i_arrive = self.n
            reb = rng.uniform(5.0, min(10.0, max(5.5, 0.35 * amp)))
            self.dip(reb, rng.uniform(0.25, 0.35))
            self.dip(0.35 * reb, rng.uniform(0.2, 0.3))
        elif fast_drop:
            vpk = rng.uniform(FAST_MIN_DPS + 10.0, 280.0)
            dur = float(np.clip(2.0 * amp / vpk, 0.25, 0.8))
            self.drop(s * amp, dur, rng.uniform(0.08, 0.15))
            i_arrive = self.n
            reb = rng.uniform(2.0, min(6.0, max(2.5, 0.3 * amp)))
            self.dip(reb, rng.uniform(0.3, 0.5))  # rebound off the end stop
        else:
            self.move(s * amp, controlled_duration(amp, descent_s))
            i_arrive = self.n
        if bounce:
            for _ in range(int(rng.integers(2, 4))):
                b = rng.uniform(4.0, min(10.0, max(4.5, 0.3 * amp)))
                self.dip(b, max(rng.uniform(0.45, 0.8), b * np.pi / CONTROLLED_MAX_DPS))
        if creep and hold_s >= 1.0:
            self.move(self.theta + s * creep, hold_s)
        else:
            self.hold(hold_s)
        i_leave = self.n
        if fast_return:
            vpk = rng.uniform(FAST_MIN_DPS + 10.0, 260.0)
            self.move(centre, max(0.15, 1.875 * abs(self.theta - centre) / vpk))
        else:
            self.move(centre, controlled_duration(abs(self.theta - centre), return_s))
        plan = RepPlan(side, i_start, i_arrive, i_leave, self.n, fast_drop, bounce, fast_return)
        self.reps.append(plan)
        return plan

    def swing(
        self,
        side: str,
        amp: float,
        dur_s: float,
        smooth_ends: bool = False,
        from_rest: bool = False,
        to_rest: bool = False,
    ) -> RepPlan:
        """One excursion centre -> side -> centre without a pause at the side: a half sine
        (crosses centre at speed, for continuous swinging) or, with ``smooth_ends``, a raised
        cosine (arrives at centre at rest, for a pause there).  ``from_rest`` / ``to_rest``
        time-warp the half sine so it starts / ends at rest (first / last of a run) with the
        same speed at the other end.  Peak speed amp*pi/dur (x 1.10 for the time-warped ones).
        """
        n = _n(dur_s)
        u = np.arange(1, n + 1) / n
        i_start = self.n
        if smooth_ends:
            shape = np.sin(np.pi * u) ** 2
        else:
            if from_rest:
                u = u * u * (2.0 - u)  # u' = 0 at the start, 1 at the end
            if to_rest:
                v = 1.0 - u
                u = 1.0 - v * v * (2.0 - v)
            shape = np.sin(np.pi * u)
        self._append(SIGN[side] * amp * shape)
        self.chunks[-1][-1] = 0.0
        self.theta = 0.0
        mid = i_start + n // 2
        plan = RepPlan(side, i_start, mid, mid, self.n, kind="swing")
        self.reps.append(plan)
        return plan

    def fidget(self, amp: float, dur_s: float) -> None:
        """A small (< 8 deg) out-and-back wobble from centre: not a rep."""
        i0 = self.n
        s = 1.0 if self.rng.random() < 0.5 else -1.0
        u = np.arange(1, _n(dur_s) + 1) / _n(dur_s)
        self._append(self.theta + s * amp * 0.5 * (1.0 - np.cos(2.0 * np.pi * u)))
        self.fidgets.append((i0, self.n))

    def theta_array(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(1)


@dataclass
class Prelude:
    """Walking, sitting down on the mat and lying back (fine grid arrays, theta == 0)."""

    psi_deg: np.ndarray
    hip_m: np.ndarray
    impact_ms2: np.ndarray
    walk_end_s: float
    sit_end_s: float


def impulse(
    n_total: int, at: np.ndarray, mag: np.ndarray, freq_hz: float, tau_s: float
) -> np.ndarray:
    """Sum of damped sinusoids (impacts) starting at fine indices ``at``; returns (n_total,)."""
    out = np.zeros(n_total)
    m = _n(6 * tau_s)
    tt = np.arange(m) * FINE_DT
    shape = np.sin(2 * np.pi * freq_hz * tt) * np.exp(-tt / tau_s)
    shape /= np.abs(shape).max()
    for i, a in zip(at, mag, strict=True):
        j = min(n_total, i + m)
        if i < n_total:
            out[i:j] += a * shape[: j - i]
    return out


def walk_sit_lie(rng: np.random.Generator, psi_lying: float, hip_lying: np.ndarray) -> Prelude:
    """Walk (thigh swinging +-20-25 deg about the mediolateral axis at ~0.9 Hz stride, ~1.8 Hz
    steps, heel-strike impacts), stand, sit down on the mat (thigh pitches through ~90+ deg in
    2-4 s), sit, lie back (2-4 s).  Ends exactly at the lying posture."""
    walk_s = rng.uniform(8.0, 16.0)
    cadence = rng.uniform(1.7, 1.95)  # steps/s
    stride = cadence / 2.0
    swing_amp = rng.uniform(20.0, 25.0)
    stand_s, sit_s = rng.uniform(1.0, 2.5), rng.uniform(2.0, 4.0)
    sitting_s, lie_s = rng.uniform(1.5, 4.0), rng.uniform(2.0, 4.0)

    nw = _n(walk_s)
    tw = np.arange(nw) * FINE_DT
    ramp = np.clip(np.minimum(tw, walk_s - tw) / 1.0, 0.0, 1.0)
    ramp = ramp * ramp * (3 - 2 * ramp)
    psi_w = 8.0 * ramp + swing_amp * ramp * np.sin(2 * np.pi * stride * tw)
    speed = 1.2 * ramp
    x = np.cumsum(speed) * FINE_DT
    z = 0.9 + 0.025 * ramp * np.cos(2 * np.pi * cadence * tw)
    y = 0.03 * ramp * np.sin(2 * np.pi * stride * tw)
    hip_w = np.column_stack([x, y, z])
    # heel strikes: ipsilateral at max thigh flexion, contralateral half a stride later
    t_ipsi = (0.25 + np.arange(0, walk_s * stride + 1)) / stride
    t_contra = t_ipsi + 0.5 / stride
    hits = np.concatenate([t_ipsi, t_contra])
    mags = (
        np.concatenate([rng.uniform(1.2, 2.5, len(t_ipsi)), rng.uniform(0.4, 0.9, len(t_contra))])
        * G_MS2
    )
    ok = (hits > 0.8) & (hits < walk_s - 0.8)
    at = (hits[ok] * FINE_HZ).astype(int)
    imp_z = impulse(nw, at, mags[ok], rng.uniform(15.0, 25.0), 0.012)
    imp_x = impulse(nw, at, -0.4 * mags[ok], rng.uniform(15.0, 25.0), 0.015)
    imp_w = np.column_stack([imp_x, np.zeros(nw), imp_z])

    ns = _n(stand_s)
    psi_s = np.full(ns, psi_w[-1])
    hip_s = np.tile(hip_w[-1], (ns, 1))

    # sit down: thigh pitches to a bit beyond the lying posture, hip drops to the mat
    over = rng.uniform(5.0, 15.0)
    nsd = _n(sit_s)
    mj = min_jerk(nsd)
    psi_sd = psi_s[-1] + (psi_lying + over - psi_s[-1]) * mj
    sit_hip = np.array([hip_s[-1, 0] + 0.3, 0.0, hip_lying[2] + 0.05])
    hip_sd = hip_s[-1] + (sit_hip - hip_s[-1])[None, :] * mj[:, None]
    nsit = _n(sitting_s)
    psi_sit = psi_sd[-1] + rng.uniform(-2, 2) * np.sin(np.pi * np.arange(nsit) / nsit)
    hip_sit = np.tile(sit_hip, (nsit, 1))
    nl = _n(lie_s)
    mj = min_jerk(nl)
    psi_l = psi_sit[-1] + (psi_lying - psi_sit[-1]) * mj
    lie_hip = np.array([sit_hip[0] - 0.05, 0.0, hip_lying[2]])
    hip_l = sit_hip + (lie_hip - sit_hip)[None, :] * mj[:, None]

    psi = np.concatenate([psi_w, psi_s, psi_sd, psi_sit, psi_l])
    hip = np.concatenate([hip_w, hip_s, hip_sd, hip_sit, hip_l])
    n_all = len(psi)
    imp = np.zeros((n_all, 3))
    imp[:nw] = imp_w
    # bump when sitting on the mat and a small one when the back reaches it
    i_sit = nw + ns + nsd
    i_lie = i_sit + nsit + nl
    bumps = [
        (i_sit - int(0.02 * FINE_HZ), rng.uniform(0.5, 1.2), 12.0, 0.03),
        (i_lie - int(0.15 * FINE_HZ), rng.uniform(0.2, 0.4), 10.0, 0.04),
    ]
    for at_i, g, freq, tau in bumps:
        imp[:, 2] += impulse(n_all, np.array([at_i]), np.array([g * G_MS2]), freq, tau)
    # the hip's x position only matters relative to the lying posture: end exactly there
    hip[:, 0] -= hip[-1, 0] - hip_lying[0]
    hip[:, 1] -= hip[-1, 1] - hip_lying[1]
    return Prelude(psi, hip, imp, walk_s, n_all * FINE_DT)


G_MS2 = 9.80665


def _walk(
    rng: np.random.Generator, walk_s: float, ramp_in: bool, fwd_fast: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One bout of walking (thigh flexion psi, hip path, heel-strike impacts), fine grid.

    ``ramp_in`` False: already at full stride at the first sample (a recording that starts
    mid-walk). ``fwd_fast``: the forward swing is faster than the backward one (about
    +150 / -60 deg/s peak thigh speed, as in real gait) instead of a plain sine.
    """
    cadence = rng.uniform(1.7, 2.0)  # steps/s: 0.85-1.0 Hz stride
    stride = cadence / 2.0
    swing_amp = rng.uniform(15.0, 22.0)
    nw = _n(walk_s)
    tw = np.arange(nw) * FINE_DT
    ramp = np.clip(np.minimum(tw if ramp_in else tw + 1.0, walk_s - tw) / 1.0, 0.0, 1.0)
    ramp = ramp * ramp * (3 - 2 * ramp)
    ph = 2 * np.pi * stride * tw + rng.uniform(0, 2 * np.pi)
    if fwd_fast:
        ph = ph + 0.55 * np.sin(ph)  # skewed: the rising (forward) half is quicker
    psi_w = 8.0 * ramp + swing_amp * ramp * np.sin(ph)
    x = np.cumsum(1.2 * ramp) * FINE_DT
    z = 0.9 + 0.025 * ramp * np.cos(2 * ph)
    y = 0.03 * ramp * np.sin(ph)
    hip_w = np.column_stack([x, y, z])
    # heel strikes once per step where the stride phase crosses its maximum flexion
    cyc = np.floor((ph - np.pi / 2) / (2 * np.pi))
    t_ipsi = tw[1:][np.diff(cyc) > 0]
    t_contra = t_ipsi + 0.5 / stride
    hits = np.concatenate([t_ipsi, t_contra])
    mags = (
        np.concatenate([rng.uniform(1.2, 2.5, len(t_ipsi)), rng.uniform(0.4, 0.9, len(t_contra))])
        * G_MS2
    )
    ok = (hits > (0.8 if ramp_in else 0.05)) & (hits < walk_s - 0.8)
    at = (hits[ok] * FINE_HZ).astype(int)
    imp_z = impulse(nw, at, mags[ok], rng.uniform(15.0, 25.0), 0.012)
    imp_x = impulse(nw, at, -0.4 * mags[ok], rng.uniform(15.0, 25.0), 0.015)
    return psi_w, hip_w, np.column_stack([imp_x, np.zeros(nw), imp_z])


def walk_pause_sit_lie(
    rng: np.random.Generator,
    psi_lying: float,
    hip_lying: np.ndarray,
    *,
    walk_s: tuple[float, float] = (20.0, 60.0),
    pause_s: tuple[float, float] = (1.0, 4.0),
    n_bouts: int = 2,
    mid_walk_start: bool = False,
) -> Prelude:
    """``n_bouts`` of walking (total ``walk_s``) separated by standing pauses (``pause_s``,
    thigh still, upright), then stand, squat down onto the mat and sit (thigh pitching from
    vertical to knees-up over the sit and lie-back: 120-150 deg in 6-10 s), lie back.
    ``mid_walk_start``: the first bout is already at full stride at the first sample."""
    total = rng.uniform(*walk_s)
    shares = rng.dirichlet(np.ones(n_bouts)) * 0.6 + 0.4 / n_bouts
    psi_parts, hip_parts, imp_parts = [], [], []
    x0 = 0.0
    for k in range(n_bouts):
        p, h, imp = _walk(
            rng, float(total * shares[k]), ramp_in=not (mid_walk_start and k == 0), fwd_fast=True
        )
        h = h.copy()
        h[:, 0] += x0
        x0 = float(h[-1, 0])
        psi_parts += [p]
        hip_parts += [h]
        imp_parts += [imp]
        ns = _n(rng.uniform(*pause_s))
        psi_parts.append(np.full(ns, p[-1]))
        hip_parts.append(np.tile(h[-1], (ns, 1)))
        imp_parts.append(np.zeros((ns, 3)))
    psi_w = np.concatenate(psi_parts)
    hip_w = np.concatenate(hip_parts)
    imp_w = np.concatenate(imp_parts)
    walk_end = len(psi_w) * FINE_DT
    # squat and sit (3-5 s), sitting (1-3 s), lie back (2-4 s)
    over = rng.uniform(5.0, 15.0)
    nsd = _n(rng.uniform(3.0, 5.0))
    mj = min_jerk(nsd)
    psi_sd = psi_w[-1] + (psi_lying + over - psi_w[-1]) * mj
    sit_hip = np.array([hip_w[-1, 0] + 0.3, 0.0, hip_lying[2] + 0.05])
    hip_sd = hip_w[-1] + (sit_hip - hip_w[-1])[None, :] * mj[:, None]
    nsit = _n(rng.uniform(1.0, 3.0))
    psi_sit = psi_sd[-1] + rng.uniform(-2, 2) * np.sin(np.pi * np.arange(nsit) / nsit)
    hip_sit = np.tile(sit_hip, (nsit, 1))
    nl = _n(rng.uniform(2.0, 4.0))
    mj = min_jerk(nl)
    psi_l = psi_sit[-1] + (psi_lying - psi_sit[-1]) * mj
    lie_hip = np.array([sit_hip[0] - 0.05, 0.0, hip_lying[2]])
    hip_l = sit_hip + (lie_hip - sit_hip)[None, :] * mj[:, None]
    psi = np.concatenate([psi_w, psi_sd, psi_sit, psi_l])
    hip = np.concatenate([hip_w, hip_sd, hip_sit, hip_l])
    n_all = len(psi)
    imp = np.zeros((n_all, 3))
    imp[: len(imp_w)] = imp_w
    i_sit = len(psi_w) + nsd
    i_lie = i_sit + nsit + nl
    for at, g, freq, tau in [
        (i_sit - int(0.02 * FINE_HZ), rng.uniform(0.5, 1.2), 12.0, 0.03),
        (i_lie - int(0.15 * FINE_HZ), rng.uniform(0.2, 0.4), 10.0, 0.04),
    ]:
        imp[:, 2] += impulse(n_all, np.array([at]), np.array([g * G_MS2]), freq, tau)
    hip[:, 0] -= hip[-1, 0] - hip_lying[0]
    hip[:, 1] -= hip[-1, 1] - hip_lying[1]
    return Prelude(psi, hip, imp, walk_end, n_all * FINE_DT)
