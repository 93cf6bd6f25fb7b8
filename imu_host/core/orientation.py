"""Knee-roll angle from a thigh IMU strapped any way round.

The thigh rolls about the body's long (head-to-foot) axis. In the sensor frame that axis is
fixed, so both the gyro vector and the motion of the gravity direction point along it.
This module learns the axis from the data and reports the roll angle about it:

Per sample (vectorised, state carried between calls):

1. Despike: median of 3 on the accelerometer; a Hampel filter on the gyro (a sample more
   than ``gyro_spike_dps`` off the median of its ``2 * gyro_spike_samples + 1``
   neighbours is a knock or a saturated burst).
2. Gravity: accelerometer low-passed (2nd-order Butterworth, ``accel_cutoff_hz``, numpy
   filters in :mod:`imu_host.core.iir`), normalised to the unit "up" vector ``u``. Without
   a gyro, a reading more than ``accel_hold_g`` off 1 g is not gravity and is held.
3. Impacts (|a| off its low-pass by ``impact_g``) and sustained shaking
   (``activity_threshold_g`` RMS for ``activity_min_s``); ``calm`` per sample = no impact
   in the ``cue_quiet_s`` before the last ``cue_lag_s`` and not walking (live cues).
4. Rotation evidence ``c``: the gyro vector (bias-corrected), else the rotation rate of
   ``u``.
5. Angle: gravity projected on the plane normal to the axis gives ``theta_acc``; with a
   gyro, ``theta`` is a complementary filter of the roll rate integrated over the real
   time steps and ``theta_acc`` (``complementary_time_constant_s``).

Per epoch (``epoch_s``; the named steps of :meth:`RollEstimator._end_epoch`): accumulate
evidence (scatter matrices, slow and fast memory) -> detect walking (a chain of impacts,
axis-free) -> posture gate (impacts or walking before an axis is known restart the
evidence) -> forget the axis if moving about -> learn the bias (genuine stillness only) ->
acquire an axis (quiet for ``axis_quiet_s``, back-and-forth sweep; a one-way turn beyond
``posture_change_deg`` is a posture change) -> check for a strong change of axis (sensor
turned: re-reference; a different movement: learn afresh) -> follow the axis (strap slip
or one power-iteration step). :attr:`RollEstimator.flags` reports the state.

Bounded influence of single events: walking after ``walk_settled_s`` with none takes
``walk_impacts_settled`` impacts (a hard drop's stop and ringing is no walk); a one-way
turn taken for a posture change is backfilled if the roll axis found later is the axis it
turned about (``turn_same_axis_deg``: a session starting at a side); a strap slip (a fast
turn about an axis ``slip_axis_off_deg`` or more from the roll axis, |a| at 1 g) turns the
thigh-fixed axis and zero back by the slip rotation, so the angle has no step.

Gaps: after a jump in time longer than ``reseed_gap_s`` (or a gap the pipeline reports)
the filters are re-seeded from the first sample whose |a| is near 1 g, and the
complementary filter from gravity at that sample: the absolute roll is known again at
once; axis, reference and bias are kept.

Sign: ``theta > 0`` is the person's LEFT when the sensor's ``thigh_axis`` (default +X:
the documented mounting, arrow along the thigh toward the knee) points toward the knee.
The roll axis is oriented toward the head (``axis . thigh_axis < 0``) and the angle is a
right-handed rotation about it.

Streaming and chunk invariance: per-sample work is vectorised with filter state carried
between calls; the slow parameters (axis, bias, reference) change only at fixed epoch
boundaries (every ``epoch_s``), so any split of the stream gives bit-identical output.
Until the axis is known the output is held back (up to ``backfill_s``) and released
once it is, so the first rep is not lost.

Speed (one feed of many epochs): pass 1 runs the axis-free steps (impacts, walking, gyro
bias) epoch by epoch ahead of the rest; the evidence sums and gyro statistics of every
whole epoch in the feed are then computed at once (:func:`_scatter_sums`,
:func:`_gyro_stats`); pass 2 runs the axis steps epoch by epoch; the angles are computed
once per feed, each sample about its own epoch's axis (:meth:`RollEstimator._flush_angles`).
Runs of whole epochs in which the per-epoch steps provably do nothing but the steady ones
are taken at once: in pass 1 (:meth:`RollEstimator._quiet_epochs`) those with no impact,
none pending recently enough to silence a cue and no walking near; in pass 2
(:meth:`RollEstimator._follow_steadily`) those with the axis known, nothing moving about,
no axis change due and no strap slip in sight, whose steady steps (evidence, one
power-iteration step) run on Python floats with the named steps' arithmetic. Any other
epoch takes the named steps. Every number is the one the epoch-by-epoch reference path
(``reference=True``) computes; ``tests/test_speed_fastpath.py`` and
``tests/test_speed_est.py`` hold the two equal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from imu_host.core.iir import IIRFilter, butter2_lowpass

_Floats6 = tuple[float, float, float, float, float, float] | list[float]  # a scatter on floats
LOST_SAMPLE_STEPS = 1.5  # a step this many periods long means samples were lost
_MAX_CUTOFF = 0.99  # highest filter cutoff, fraction of Nyquist
_SCATTER_I = np.array([0, 1, 2, 0, 0, 1])  # scatter entries xx, yy, zz, xy, xz, yz:
_SCATTER_J = np.array([0, 1, 2, 1, 2, 2])  # products c[i] * c[j]
_AXES = {"+x": (1, 0, 0), "-x": (-1, 0, 0), "+y": (0, 1, 0), "-y": (0, -1, 0),
         "+z": (0, 0, 1), "-z": (0, 0, -1)}  # fmt: skip


@dataclass(frozen=True)
class OrientationSettings:
    """Tuning of the roll-angle estimator. Defaults suit 50-200 Hz thigh IMUs."""

    accel_cutoff_hz: float = 1.5  # gravity low-pass; knee rolls live below ~1 Hz
    gyro_cutoff_hz: float = 8.0  # light smoothing of the gyro
    accel_hold_g: float = 0.15  # accel only: |a| this far off 1 g is not gravity (held)
    gyro_spike_dps: float = 100.0  # gyro this far off its local median is a knock...
    gyro_spike_samples: int = 3  # ...if it lasts at most this many samples
    gravity_rate_cutoff_hz: float = 1.0  # smoothing of gravity's turn rate (no-gyro evidence)
    axis_time_constant_s: float = 20.0  # memory of the roll-axis estimate
    axis_min_evidence_dps2: float = 40.0  # mean-square rotation before the axis is trusted
    complementary_time_constant_s: float = 1.0  # how long the gyro is trusted over gravity
    activity_threshold_g: float = 0.6  # RMS dynamic acceleration that means shaking about
    activity_window_s: float = 1.0  # averaging of the dynamic acceleration
    fast_time_constant_s: float = 3.0  # memory of the "recent motion" axis (posture changes)
    axis_change_s: float = 2.0  # recent motion off the axis this long: re-learn the axis
    # ...if it is this strong (mean square, deg^2/s^2): sitting up or a re-strap is far
    # above it, the 0.5-4 Hz out-of-plane wobble of a slow return below it
    axis_change_evidence_dps2: float = 300.0
    rewind_s: float = 8.0  # after such a change, re-analyse this much history
    slip_max_dyn_g: float = 0.3  # a slip is only believed while |a| stays near 1 g
    activity_min_s: float = 0.5  # shaking must last this long (one knock is not moving about)
    impact_g: float = 0.35  # |a| off its low-pass by this much: an impact (heel strike, bump)
    impact_refractory_s: float = 0.3  # impacts closer than this are one impact (ringing)
    walk_impacts: int = 4  # a chain of this many impacts, each...
    walk_max_step_s: float = 1.0  # ...at most this long after the previous one, is walking
    # ...but after this long with no walking (lying at the exercise; longer than a standing
    # pause) it takes a longer chain: a fast return's stop and the next fast drop's stop
    # with their ringing are four impacts within a second (a < 0.5 s transient each)
    walk_settled_s: float = 10.0
    walk_impacts_settled: int = 6
    walk_hold_s: float = 1.0  # walking lasts at least this long after it is recognised
    cue_quiet_s: float = 1.0  # no live cue within this long after an impact...
    cue_lag_s: float = 0.3  # ...ignoring the last this long (the drop's own acceleration)
    axis_min_sweep_deg: float = 12.0  # the axis needs a rotation of this much about it...
    axis_return_fraction: float = 0.4  # ...that came back by this fraction (back-and-forth)
    axis_quiet_s: float = 2.0  # no impact for this long before an axis is accepted
    posture_change_deg: float = 100.0  # one-way turn beyond any knee roll: a posture change
    # ...unless the roll axis accepted later is within this of the turn's axis: it was a
    # roll from one side to the other (a session that starts at a side), backfilled
    turn_same_axis_deg: float = 20.0
    still_gyro_std_dps: float = 4.0  # bias is learned only while the gyro varies less than this
    slip_off_axis_deg: float = 12.0  # off-axis rotation within two epochs that signals a slip
    # ...about an axis at least this far from the roll axis (a slip turns the board about
    # the thigh's long axis, 40-50 deg from the roll axis; a roll's wobble stays within ~15)
    slip_axis_off_deg: float = 25.0
    # ...turning off the axis faster than this at some sample (deg/s): a slip takes 0.2-0.5 s,
    # a roll about a slightly wrong axis (just learned, a cone path) turns off it slowly
    slip_min_rate_dps: float = 50.0
    # accelerometer only (gravity's turn misses rotation about gravity and picks up the
    # tangential acceleration): the slip is judged within one epoch, about an axis this far
    # from the roll axis, with no rate condition
    slip_axis_off_accel_deg: float = 56.3
    still_dps: float = 3.0  # gravity turning slower than this (and no activity) = still
    bias_time_constant_s: float = 2.0  # gyro-bias learning while still
    reseed_gap_s: float = 0.06  # samples missing longer than this: re-read gravity after
    max_step_s: float = 0.25  # gyro integrated over real steps up to this (a gap beyond)
    # a gap the gyro is integrated across (<= max_step_s) inside fast motion (either edge:
    # |gyro| above reseed_fast_dps or |a| more than accel_hold_g off 1 g: a drop, its stop)
    # is held on the gyro alone; gravity re-seeds the angle only once the thigh is still:
    # |a| near 1 g and |gyro| below reseed_still_dps for reseed_still_s in a row (data
    # resuming inside a drop's stop reads ~1 g in passing, pointing anywhere but up)
    reseed_fast_dps: float = 60.0
    reseed_still_dps: float = 15.0
    reseed_still_s: float = 0.2
    epoch_s: float = 0.5  # how often the slow parameters update
    backfill_s: float = 20.0  # longest hold-back while the axis is being learned
    thigh_axis: str = "+x"  # sensor axis pointing along the thigh toward the knee


@dataclass(frozen=True)
class EstimatorFlags:
    """What the estimator believes right now (see ``RollEstimator.flags``)."""

    axis_known: bool  # a roll axis is accepted: angles are being output
    walking: bool  # steady impacts (steps) lately
    active: bool  # moving about (walking or sustained shaking): angles unknown
    posture_changed: bool  # axis unknown and evidence restarted after walking/getting down
    impact_recent: bool  # an impact within cue_quiet_s (live cues held back)
    bias_dps: tuple[float, float, float]  # gyro bias being subtracted, deg/s
    axis_resets: int  # times the axis was dropped for a different movement


@dataclass
class AngleSegment:
    """Orientation output for consecutive samples (arrays of equal length)."""

    t_s: np.ndarray
    theta_deg: np.ndarray  # roll angle, + = left; nan where unknown
    rate_dps: np.ndarray  # roll angular velocity, deg/s (0 where unknown)
    active: np.ndarray  # bool: moving about (walking, getting down)
    calm: np.ndarray | None = None  # bool: no impact or walking lately (live cues allowed)


def _steps(t: np.ndarray, prev: float) -> np.ndarray:
    """Time from each sample's predecessor, s (``np.diff(t, prepend=prev)``, cheaper)."""
    d = np.empty(len(t))
    d[0] = t[0] - prev
    d[1:] = t[1:] - t[:-1]
    return d


def _run_lengths(x: np.ndarray, carried: int) -> np.ndarray:
    """Per sample, how many samples in a row up to it ``x`` has been true, counting on
    from the ``carried`` run the previous block ended with."""
    idx = np.arange(1, len(x) + 1)
    last_false = np.maximum.accumulate(np.where(~x, idx, 0))
    return idx - last_false + np.where(last_false == 0, carried, 0)


def _dot3(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise dot product with a 3-vector; unlike ``m @ v`` (BLAS), the result does not
    depend on how many rows are passed, which keeps the stream chunk-invariant."""
    return m[:, 0] * v[0] + m[:, 1] * v[1] + m[:, 2] * v[2]


class _EpochMotion(NamedTuple):
    """An epoch's axis-free results (pass 1), for its axis steps (pass 2)."""

    t_end: float  # time of the epoch's last sample, s
    any_active: bool  # moving about at some sample
    unsettled: bool  # an impact, walking or shaking in it
    turn_dps: float  # gravity's turn rate over it, deg/s (nan if moving about)


@dataclass(frozen=True)
class _QuietTables:
    """Per whole epoch of one feed, what pass 1 needs, computed at once for all of them
    (the gyro statistics only for the epochs whose bias may be learned: gravity turning
    slower than ``still_dps``)."""

    lo: int  # first sample of the first whole epoch
    hit: np.ndarray  # bool: an impact sample in it
    t_min: np.ndarray  # its earliest time stamp, s
    t_end: np.ndarray  # the time of its last sample, s
    t_end_s: list[float]  # the same as Python floats
    shaking: list[bool]  # shaking at some sample
    turn_dps: list[float]  # gravity's turn rate over it, deg/s (:meth:`_learn_bias`)
    still: list[int]  # the row of its gyro statistics, -1 if gravity turned too fast
    stats: tuple[np.ndarray, np.ndarray] | None  # gyro mean and spread (:func:`_gyro_stats`)
    mean: list[list[float]]  # gyro mean, deg/s, per row
    gyro_steady: list[bool]  # the gyro varying less than ``still_gyro_std_dps``, per row

    @staticmethod
    def of(est: RollEstimator, t, u, ev, shaking, dyn, span) -> _QuietTables:  # noqa: ANN001
        f0, f1 = span
        n = est.epoch_n
        e = (f1 - f0) // n
        t_end = t[f0 + n - 1 : f1 : n]
        per_s = n * est.dt
        cos_turn = _dot_rows(u[f0:f1:n], u[f0 + n - 1 : f1 : n]).tolist()
        turn_dps = [math.degrees(math.acos(min(1.0, cos))) / per_s for cos in cos_turn]
        rows = [k for k, turn in enumerate(turn_dps) if turn < est.s.still_dps]
        still = [-1] * e
        for row, k in enumerate(rows):
            still[k] = row
        stats = None
        if est.has_gyro and rows:
            stats = _gyro_stats(ev[f0:f1].reshape(e, n, 3)[rows])
        return _QuietTables(
            lo=f0,
            hit=(dyn[f0:f1] >= est.s.impact_g).reshape(e, n).any(axis=1),
            t_min=t[f0:f1].reshape(e, n).min(axis=1),
            t_end=t_end,
            t_end_s=t_end.tolist(),
            shaking=shaking[f0:f1].reshape(e, n).any(axis=1).tolist(),
            turn_dps=turn_dps,
            still=still,
            stats=stats,
            mean=[] if stats is None else stats[0].tolist(),
            gyro_steady=[]
            if stats is None
            else (np.sqrt(stats[1]) < est.s.still_gyro_std_dps).tolist(),
        )

    def gyro_stats(self, j: int) -> tuple[np.ndarray, float] | None:
        """Whole epoch ``j``'s gyro statistics for :meth:`RollEstimator._learn_bias`
        (None: not computed, gravity turned too fast for the bias to be learned)."""
        row = self.still[j]
        if self.stats is None or row < 0:
            return None
        return self.stats[0][row], float(self.stats[1][row])


@dataclass(frozen=True)
class _SteadyTables:
    """Per whole epoch of one feed, what pass 2's fast path (:meth:`RollEstimator.
    _follow_steadily`) needs, computed at once for all of them."""

    lo: int  # first sample of the first whole epoch
    n: int  # samples per epoch
    count: int  # whole epochs
    arrays: tuple  # the feed's (t, u, c, active, calm) per sample
    sums: list  # evidence sums (2, 6) per epoch (:func:`_scatter_sums`)
    rot: list[list[float]]  # integrated rotation vector, deg (what _follow_axis computes)
    dyn_max: list[float]  # largest dynamic acceleration, g

    @staticmethod
    def of(est: RollEstimator, arrays: tuple, dyn, span, sums) -> _SteadyTables:  # noqa: ANN001
        f0, f1 = span
        n = est.epoch_n
        e = (f1 - f0) // n
        c = arrays[2]
        return _SteadyTables(
            lo=f0,
            n=n,
            count=e,
            arrays=arrays,
            sums=sums.tolist(),
            rot=(c[f0:f1].reshape(e, n, 3).sum(axis=1) * est.dt).tolist(),
            dyn_max=dyn[f0:f1].reshape(e, n).max(axis=1).tolist(),
        )

    def segment(self, j: int, count: int = 1) -> tuple:
        """(t, u, c, active, calm) of ``count`` epochs from ``j``, as
        :meth:`RollEstimator._segment` keeps them."""
        a = self.lo + j * self.n
        b = a + count * self.n
        return tuple(x[a:b] for x in self.arrays)


def _scatter_sums(c: np.ndarray, act: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """Weighted scatter sums of whole epochs: ``c`` (epochs, n, 3) deg/s, ``act``
    (epochs, n) moving about (left out), ``w2`` (n, 2, 1) the slow and fast memories'
    weights. Returns (epochs, 2, 6): sum of w * c_i * c_j for xx, yy, zz, xy, xz, yz.
    Every epoch's sums are the same numbers whether computed alone or with others."""
    cw = c * (~act)[:, :, None]
    outer = cw[:, :, _SCATTER_I] * c[:, :, _SCATTER_J]  # (epochs, n, 6)
    return (outer[:, :, None, :] * w2[None]).sum(axis=1)


def _gyro_stats(graw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per epoch of ``graw`` (epochs, n, 3) deg/s: the mean (epochs, 3) and the summed
    variance of the three axes (epochs,), deg^2/s^2 (``mean`` and ``var`` of numpy, one
    sum for both)."""
    n = graw.shape[1]
    mean = graw.sum(axis=1) / n
    dev = graw - mean[:, None, :]
    return mean, ((dev * dev).sum(axis=1) / n).sum(axis=1)


def _norm(v: np.ndarray) -> float:
    """Euclidean norm of a vector: what ``np.linalg.norm`` computes (``sqrt(v.dot(v))``),
    without its Python-level overhead."""
    return math.sqrt(float(v.dot(v)))


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """The pieces of one epoch as one array (no copy when it came in one piece)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _dot_rows(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise dot product of two (n, 3) arrays (the same arithmetic as :func:`_dot3`)."""
    return m[:, 0] * v[:, 0] + m[:, 1] * v[:, 1] + m[:, 2] * v[:, 2]


def _cross3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of two 3-vectors (np.cross is slow for single vectors)."""
    a0, a1, a2 = float(a[0]), float(a[1]), float(a[2])
    b0, b1, b2 = float(b[0]), float(b[1]), float(b[2])
    return np.array([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0])


def _power_step(S: list[list[float]], a: np.ndarray) -> np.ndarray:
    """One power-iteration step toward S's principal axis, keeping a's sign."""
    v0 = S[0][0] * a[0] + S[0][1] * a[1] + S[0][2] * a[2]
    v1 = S[1][0] * a[0] + S[1][1] * a[1] + S[1][2] * a[2]
    v2 = S[2][0] * a[0] + S[2][1] * a[1] + S[2][2] * a[2]
    nv = math.sqrt(v0 * v0 + v1 * v1 + v2 * v2)
    return np.array([v0 / nv, v1 / nv, v2 / nv]) if nv > 1e-12 else a


def _decay_add(k: float, z: _Floats6, w: float, x: _Floats6) -> _Floats6:
    """``k * z + w * x`` elementwise on six Python floats (what numpy computes for arrays)."""
    z0, z1, z2, z3, z4, z5 = z
    x0, x1, x2, x3, x4, x5 = x
    return (k * z0 + w * x0, k * z1 + w * x1, k * z2 + w * x2,
            k * z3 + w * x3, k * z4 + w * x4, k * z5 + w * x5)  # fmt: skip


def _scaled(z: _Floats6, d: float) -> _Floats6:
    """``z / d`` elementwise on six Python floats."""
    z0, z1, z2, z3, z4, z5 = z
    return (z0 / d, z1 / d, z2 / d, z3 / d, z4 / d, z5 / d)


def _sym(s6: np.ndarray) -> list[list[float]]:
    a, b, c, d, e, f = s6.tolist()
    return [[a, d, e], [d, b, f], [e, f, c]]


def _rotate(v: np.ndarray, rotvec: np.ndarray) -> np.ndarray:
    """Rotate ``v`` by the rotation vector ``rotvec`` (radians), Rodrigues' formula."""
    ang = _norm(rotvec)
    if ang < 1e-12:
        return v
    k = rotvec / ang
    out = v * math.cos(ang) + np.cross(k, v) * math.sin(ang) + k * (k @ v) * (1 - math.cos(ang))
    return out / _norm(out)


class RollEstimator:
    """Streaming roll-angle estimator (see module docstring)."""

    def __init__(
        self,
        odr_hz: float,
        has_gyro: bool,
        settings: OrientationSettings | None = None,
        reference: bool = False,
    ) -> None:
        """``reference``: compute the angles and the evidence epoch by epoch (the plain
        path the per-feed one is tested against; same output, slower)."""
        s = settings or OrientationSettings()
        if s.thigh_axis not in _AXES:
            raise ValueError(f"thigh_axis must be one of {', '.join(_AXES)}")
        self.s = s
        self.odr_hz = float(odr_hz)
        self.has_gyro = has_gyro
        self.dt = 1.0 / self.odr_hz
        nyq = 0.5 * self.odr_hz
        acc_ba = butter2_lowpass(min(s.accel_cutoff_hz / nyq, _MAX_CUTOFF))
        self._f_acc = IIRFilter(*acc_ba)  # gravity low-pass, 3 axes
        self._f_mag = IIRFilter(*acc_ba)  # low-pass of |a| (dynamic acceleration)
        self._f_gyr = IIRFilter(*butter2_lowpass(min(s.gyro_cutoff_hz / nyq, _MAX_CUTOFF)))
        self._f_ev = IIRFilter(*butter2_lowpass(min(s.gravity_rate_cutoff_hz / nyq, _MAX_CUTOFF)))
        self._lam = math.exp(-self.dt / s.axis_time_constant_s)
        act_lam = math.exp(-self.dt / s.activity_window_s)
        self._f_act = IIRFilter([1.0 - act_lam], [1.0, -act_lam], init="zero")
        self._alpha = s.complementary_time_constant_s / (s.complementary_time_constant_s + self.dt)
        self._thigh = np.array(_AXES[s.thigh_axis], dtype=float)
        self.epoch_n = max(1, int(round(s.epoch_s * self.odr_hz)))
        self._change_epochs = max(1, int(round(s.axis_change_s / s.epoch_s)))
        self._backfill_n = int(round(s.backfill_s * self.odr_hz))
        self._epoch_beta = 1.0 - math.exp(-s.epoch_s / s.bias_time_constant_s)
        self._acc_tail: np.ndarray | None = None
        self._last_good_acc: np.ndarray | None = None  # last reading with |a| near 1 g
        self._gap_hold = False  # see _hold_after_gap
        self._gap_short = False  # the gap was integrated over: re-seed only once still
        self._held_until = 0  # where the last hold after a gap ended in its block
        self._still_run = 0  # samples in a row still (|a| near 1 g, gyro quiet) after it
        self._still_n = max(1, int(round(s.reseed_still_s * self.odr_hz)))
        self._reseed_t: list[float] = []  # pending complementary-filter re-seeds, s
        self._t_prev_ang: float | None = None  # time of the last sample integrated, s
        self._step_q = np.full(max(1, int(s.gyro_spike_samples)), self.dt)  # steps of the
        # rates still in the despike window (see _gyro_step_s), s
        self._n_in = 0  # samples fed so far
        self._n_ang = 0  # samples integrated so far (the angle stage)
        self._gyr_last: np.ndarray | None = None  # last gyro sample fed, deg/s
        self._acc_last: np.ndarray | None = None  # last accelerometer sample fed, g
        # turn across each short gap: (index of the sample whose rate integrates it, the
        # gap's rotation vector in deg); see _gap_turn
        self._gap_turns: list[tuple[int, np.ndarray]] = []
        self._gyr_no_despike = 0  # rows whose despike window spans a short gap
        self._hold_ts: list[float] = []  # pending starts of short gaps' holds, s
        self._holding = False  # the angle is the gyro's alone until the re-seed
        self._t_in_last: float | None = None  # time of the last sample fed, s
        self._gyr_tail: np.ndarray | None = None
        self._gyro_half = max(1, int(s.gyro_spike_samples))
        self._zi_S = np.zeros((1, 6))
        self._lam_f = math.exp(-self.dt / s.fast_time_constant_s)
        k = np.arange(self.epoch_n)[::-1]
        self._wS = ((1.0 - self._lam) * self._lam**k)[:, None]
        self._wSf = ((1.0 - self._lam_f) * self._lam_f**k)[:, None]
        self._wS2 = np.stack([self._wS, self._wSf], axis=1)  # (epoch_n, 2, 1)
        self._lamn = self._lam**self.epoch_n
        self._lamn_f = self._lam_f**self.epoch_n
        self._zi_Sf = np.zeros((1, 6))  # recent-motion scatter
        self._imp_chain = 0  # impacts in a row, each within walk_max_step_s of the last
        self._last_impact_t = -math.inf
        self._imp_start = -math.inf  # start of the latest impact
        self._hits = np.zeros(0)  # times of recent impact samples, s
        self._shake_run = 0  # samples of shaking in a row
        self._act_min_n = max(1, int(round(s.activity_min_s * self.odr_hz)))
        self._settle_t = -math.inf  # axis evidence counts only from this time on
        # the latest one-way turn taken for a posture change: its axis and the settle time
        # before it (restored if the roll axis turns out to be that axis)
        self._turn_axis: np.ndarray | None = None
        self._turn_from_t = -math.inf
        self._unsettle = False  # an impact / walking / shaking in this epoch
        self._walking_until = -math.inf
        self._recent: list[tuple] = []
        self._recent_n = 0
        self._rewind_n = int(round(s.rewind_s * self.odr_hz))
        self._u_prev: np.ndarray | None = None
        self.axis: np.ndarray | None = None  # unit roll axis, sensor frame, toward the head
        self._ref: np.ndarray | None = None  # "up" direction that defines angle zero
        self._offset = 0.0
        self._theta_last = math.nan
        self._comp = IIRFilter([1.0], [1.0, -self._alpha])  # complementary filter
        self._comp_ready = False  # False: re-seed it from gravity at the next sample
        self.bias_dps = np.zeros(3)
        self._pos = 0  # samples into the current epoch
        self._ep: dict[str, list] = {"c": [], "u": [], "act": [], "dyn": []}  # pass 2
        self._ep_motion: dict[str, list] = {"u": [], "act": [], "graw": []}  # pass 1
        self._held: list[tuple] = []  # held-back raw segments while the axis is unknown
        self._held_n = 0
        self._theta_before_epoch = 0.0  # angle at the start of the epoch, deg
        self._axis_resets = 0  # times the axis was dropped for a different movement
        self._Sf6 = np.zeros(6)  # fast-memory scatter (xx, yy, zz, xy, xz, yz), deg^2/s^2
        self._t_first = math.inf  # time of the first sample, s
        self._last_t = 0.0  # time of the last sample seen, s
        self._reset_pending = False  # tell the detector to start afresh on release
        self._off_epochs = 0  # epochs in a row with the recent motion off the axis
        self._u_last_ang: np.ndarray | None = None  # last "up" measured about the axis
        self._rot_prev = np.zeros(3)  # the previous epoch's rotation vector, deg (slips)
        self._c_prev: np.ndarray | None = None  # and its rotation evidence, deg/s
        off_deg = s.slip_axis_off_deg if has_gyro else s.slip_axis_off_accel_deg
        self._slip_ratio = math.tan(math.radians(off_deg))  # off-axis / on-axis of a slip
        # deferred angles (see _flush_angles): segments whose angles are not computed yet,
        # each with the axis it is measured about (reference: angles epoch by epoch)
        self._reference = reference  # angles and evidence epoch by epoch, not per feed
        self._deferred: list[tuple[tuple, np.ndarray]] = []  # (segment, axes (m, 3)): m
        # epochs of equal length, each about its own axis (m = 1: the whole segment)
        self._deferred_n = 0
        self._tbe_mark: int | None = None  # _theta_before_epoch = theta at this deferred count

    # ---------------------------------------------------------------- public

    def process(
        self, t_s: np.ndarray, accel_g: np.ndarray, gyro_dps: np.ndarray | None
    ) -> list[AngleSegment]:
        """Feed samples (any count); returns output segments, possibly delayed."""
        out: list[AngleSegment] = []
        n = len(t_s)
        if n == 0:
            return out
        if self._settle_t == -math.inf:
            self._settle_t = float(t_s[0])  # no history yet: quiet is counted from here
            self._t_first = self._settle_t
        u, ev, shaking, dyn = self._prefilter_split(t_s, accel_g, gyro_dps)
        pieces = self._epoch_pieces(n)
        # the epochs wholly inside this feed have their statistics computed all at once
        full = [k for k, (a, b, _e) in enumerate(pieces) if b - a == self.epoch_n]
        span = (pieces[full[0]][0], pieces[full[-1]][1]) if full and not self._reference else None
        c, act, calm, motion = self._pass_motion(t_s, u, ev, shaking, dyn, pieces, span)
        sums = steady = None
        if span is not None:
            e, (f0, f1) = len(full), span
            sums = _scatter_sums(
                c[f0:f1].reshape(e, self.epoch_n, 3), act[f0:f1].reshape(e, self.epoch_n), self._wS2
            )
            steady = _SteadyTables.of(self, (t_s, u, c, act, calm), dyn, span, sums)
        # pass 2: the axis and the angles, epoch by epoch
        i = j = k = 0
        while i < len(pieces):
            a, b, ends = pieces[i]
            whole = b - a == self.epoch_n
            if steady is not None and whole:
                done = self._follow_steadily(steady, j, motion, k)
                if done:
                    i += done
                    j += done
                    k += done
                    continue
            sl = slice(a, b)
            self._segment(t_s[sl], u[sl], c[sl], act[sl], calm[sl], dyn[sl], out)
            self._pos = (self._pos + b - a) % self.epoch_n
            if ends:
                ep_sums = None
                if sums is not None and whole:
                    ep_sums = sums[j]
                self._end_epoch(motion[k], ep_sums, out)
                k += 1
            j += whole
            i += 1
        self._flush_angles(out)
        return out

    def _pass_motion(self, t, u, ev, shaking, dyn, pieces, span):  # noqa: ANN001, ANN202
        """Pass 1, axis-free, piece by piece: impacts, moving about, walking and the gyro
        bias (none of it depends on the axis, so it runs ahead of pass 2). Returns the
        rotation evidence ``c`` (bias-corrected gyro, or gravity's turn rate), ``active``,
        ``calm`` per sample and each epoch's :class:`_EpochMotion`. ``span``: (start,
        stop) of the whole epochs whose statistics are computed at once (and quiet runs of
        them taken at once, :meth:`_quiet_epochs`), or None."""
        n = len(t)
        c = np.empty_like(ev) if self.has_gyro else ev
        act = np.empty(n, dtype=bool)
        calm = np.empty(n, dtype=bool)
        motion: list[_EpochMotion] = []
        quiet = None
        if span is not None:
            quiet = _QuietTables.of(self, t, u, ev, shaking, dyn, span)
        i = j = 0
        ep = self._ep_motion
        while i < len(pieces):
            a, b, ends = pieces[i]
            whole = b - a == self.epoch_n
            if quiet is not None and whole:
                done = self._quiet_epochs(quiet, j, t, ev, shaking, c, act, calm, motion)
                if done:
                    i += done
                    j += done
                    continue
            act[a:b], calm[a:b] = self._motion(t[a:b], shaking[a:b], dyn[a:b])
            ep["u"].append(u[a:b])
            ep["act"].append(act[a:b])
            if self.has_gyro:
                c[a:b] = ev[a:b] - self.bias_dps  # the bias learned up to this epoch
                ep["graw"].append(ev[a:b])
            if ends:
                stats = quiet.gyro_stats(j) if quiet is not None and whole else None
                motion.append(self._end_epoch_motion(stats))
                ep = self._ep_motion
            j += whole
            i += 1
        return c, act, calm, motion

    def _quiet_epochs(self, q: _QuietTables, j: int, t, ev, shaking, c, act, calm, motion) -> int:  # noqa: ANN001
        """Pass 1's fast path: the whole epochs ``j``, ``j + 1``, ... of the feed in which
        the impact and walking steps provably do nothing: no impact in them, none pending
        recently enough to silence a cue, no walking going on or about to be recognised
        (the latest impact more than ``walk_max_step_s`` before each epoch's end). There
        ``active`` is shaking, ``calm`` its negation, and only the bias is learned, epoch
        by epoch on Python floats (the same arithmetic as :meth:`_learn_bias`). Returns
        the number of epochs done (0: epoch ``j`` takes the piece-by-piece steps)."""
        s = self.s
        if len(self._hits) and not float(self._hits.max()) < (
            float(q.t_min[j]) - s.cue_lag_s - s.cue_quiet_s - 1.0
        ):
            return 0
        ok = (~q.hit[j:]) & (q.t_min[j:] > self._walking_until)
        ok &= q.t_end[j:] - self._imp_start > s.walk_max_step_s
        run = len(ok) if ok.all() else int(np.argmin(ok))
        if not run:
            return 0
        n = self.epoch_n
        lo = q.lo + j * n
        hi = lo + run * n
        act[lo:hi] = shaking[lo:hi]
        np.logical_not(shaking[lo:hi], out=calm[lo:hi])
        if len(self._hits):
            self._hits = np.zeros(0)  # all too old to silence a cue
        self._last_t = t[hi - 1]
        # _learn_bias: gravity's turn over each epoch not moving about, deg/s
        shaking_k = q.shaking[j : j + run]
        turns = [
            math.nan if active else turn
            for active, turn in zip(shaking_k, q.turn_dps[j : j + run], strict=True)
        ]
        motion += map(_EpochMotion, q.t_end_s[j : j + run], shaking_k, shaking_k, turns)
        if not self.has_gyro:
            return run
        # ...and the bias, updated in genuine stillness; each epoch's evidence ``c`` uses
        # the bias learned up to it
        bias = self.bias_dps.tolist()
        learned = [bias]
        upto = []
        beta = self._epoch_beta
        for k, turn_dps in enumerate(turns, start=j):
            upto.append(len(learned) - 1)
            if turn_dps < s.still_dps and q.gyro_steady[q.still[k]]:
                mean = q.mean[q.still[k]]
                bias = [b + beta * (m - b) for b, m in zip(bias, mean, strict=True)]
                learned.append(bias)
        g = ev[lo:hi].reshape(run, n, 3) - np.array(learned)[upto][:, None, :]
        c[lo:hi] = g.reshape(run * n, 3)
        self.bias_dps = np.array(bias)
        return run

    def _epoch_pieces(self, n: int) -> list[tuple[int, int, bool]]:
        """The feed cut at epoch boundaries: (start, stop, ends an epoch) per piece."""
        e = self.epoch_n
        i = min(n, e - self._pos) if self._pos else 0  # the rest of the epoch begun before
        pieces = [(0, i, self._pos + i == e)] if i else []
        pieces += [(a, a + e, True) for a in range(i, n - e + 1, e)]
        i += (n - i) // e * e
        if i < n:
            pieces.append((i, n, False))
        return pieces

    def _prefilter_split(
        self, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None
    ) -> tuple[np.ndarray, ...]:
        """Prefilter, restarting the filters after every jump in time longer than
        ``reseed_gap_s`` (a few lost samples: the angle is re-read from gravity)."""
        n = len(t)
        prev = self._t_in_last
        self._t_in_last = float(t[-1])
        steps = _steps(t, float(t[0]) if prev is None else prev)
        jumps = np.nonzero(steps > self.s.reseed_gap_s)[0]
        n0, g_last, a_last = self._n_in, self._gyr_last, self._acc_last
        self._n_in += n
        self._acc_last = acc[-1].copy()
        if gyro is not None:
            self._gyr_last = gyro[-1].copy()
        if not len(jumps):
            return self._prefilter(t, acc, gyro)
        parts = []
        start = 0
        for j in [*jumps.tolist(), n]:
            if j > start:
                g = None if gyro is None else gyro[start:j]
                parts.append(self._prefilter(t[start:j], acc[start:j], g))
            if j < n:
                step = float(steps[j])
                integrated = step <= self.s.max_step_s
                before = g_last if j == 0 or gyro is None else gyro[j - 1]
                if integrated and gyro is not None and before is not None:
                    # the gyro's rate over the gap: the mean of the rates either side
                    turn = (step - self.dt) * 0.5 * (before + gyro[j])
                    self._gap_turns.append((n0 + j + len(self._step_q), turn))
                fast = (
                    integrated
                    and gyro is not None
                    and before is not None
                    and self._fast_edge(before, a_last if j == 0 else acc[j - 1], gyro[j], acc[j])
                )
                if fast and not (self._gap_hold and self._gap_short):
                    self._hold_ts.append(float(t[j]))  # (a gap inside a hold extends it)
                self._restart_filters(integrated=integrated, fast=fast)
            start = j
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(len(parts[0])))

    def gap(self) -> None:
        """Samples were lost (a gap the pipeline saw): re-seed the filters from the next
        good sample (gravity gives the absolute roll about the known axis at once), keep
        axis, reference and bias."""
        self._restart_filters()
        self._u_last_ang = None

    def _fast_edge(
        self, g0: np.ndarray, a0: np.ndarray | None, g1: np.ndarray, a1: np.ndarray
    ) -> bool:
        """A gap's edges (gyro deg/s, accel g before and after) inside fast motion:
        either gyro above ``reseed_fast_dps`` or either |a| ``accel_hold_g`` off 1 g."""
        w2 = self.s.reseed_fast_dps**2
        if float(g0 @ g0) > w2 or float(g1 @ g1) > w2:
            return True
        return any(
            a is not None and abs(math.sqrt(float(a @ a)) - 1.0) > self.s.accel_hold_g
            for a in (a0, a1)
        )

    def _restart_filters(self, integrated: bool = False, fast: bool = False) -> None:
        """Re-seed the per-sample filters from what follows (see :meth:`gap`).
        ``integrated``: the gap is short enough for the gyro to be integrated across it
        (``max_step_s``); ``fast``: and inside fast motion, so gravity re-seeds the angle
        only once the thigh is still."""
        short = integrated and self.has_gyro
        # |a| does not change with the roll: its low-pass (dynamic acceleration) continues;
        # across a short gap the gyro's despike window and low-pass continue too (a rate
        # changes smoothly; restarting them would repeat the first rate after the gap)
        for f in (self._f_acc if not self.has_gyro else None, None if short else self._f_gyr,
                  self._f_ev):  # fmt: skip
            if f is None:
                continue  # with a gyro: restarted at the first good sample (_hold_after_gap)
            f.restart()
        self._acc_tail = None
        self._gap_hold = True  # until |a| is near 1 g again, gravity is the pre-gap reading
        self._gap_short = short and fast
        self._still_run = 0
        if short:  # no despike window may span the gap (its jump is no spike)
            self._gyr_no_despike = 2 * self._gyro_half
        else:
            self._gyr_tail = None
        self._u_prev = None
        # with a gyro the complementary filter is re-seeded at the first good sample

    def _prefilter(
        self, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None
    ) -> tuple[np.ndarray, ...]:
        """Per-sample work that needs no epoch state, done once for the whole block."""
        acc = self._despike(acc)
        mag = np.sqrt(np.einsum("ij,ij->i", acc, acc))
        if self.has_gyro:
            held = 0  # samples read as the gravity before a gap (not gravity themselves)
            if self._gap_hold:
                g = self._hold_after_gap(t, acc, mag, gyro)
                held = len(t) if self._gap_hold else self._held_until
            else:
                g = self._f_acc(acc)
            good = np.nonzero(np.abs(mag[held:] - 1.0) <= self.s.accel_hold_g)[0] + held
            if len(good):
                self._last_good_acc = acc[good[-1]].copy()
        else:
            g = self._f_acc(self._hold_gravity(acc, mag))
        norm = np.sqrt(np.einsum("ij,ij->i", g, g))
        u = g / np.maximum(norm, 1e-6)[:, None]
        # dynamic acceleration: |a| against its low-pass (rotation alone leaves |a| at ~1 g)
        dyn = mag - self._f_mag(mag)
        dyn = np.minimum(np.abs(dyn), 2.0)  # one knock must not look like shaking
        act_ms = self._f_act(dyn * dyn)
        shaking = self._sustained(act_ms > self.s.activity_threshold_g**2)
        if gyro is not None:
            ev = self._f_gyr(self._despike_gyro(gyro))
        else:
            up = u[:1] if self._u_prev is None else self._u_prev[None, :]
            grav_c = -np.degrees(np.cross(np.vstack([up, u[:-1]]), u)) / self.dt
            # a per-sample derivative amplifies noise: smooth it before using it as evidence
            ev = self._f_ev(grav_c)
        self._u_prev = u[-1].copy()
        return u, ev, shaking, dyn

    # ---------------------------------------------------------------- internals

    def _sustained(self, x: np.ndarray) -> np.ndarray:
        """True where ``x`` has been true for ``activity_min_s`` in a row (carried)."""
        if not x.any():
            self._shake_run = 0
            return x
        run = _run_lengths(x, self._shake_run)
        self._shake_run = int(run[-1])
        return run >= self._act_min_n

    def _hold_after_gap(
        self, t: np.ndarray, acc: np.ndarray, mag: np.ndarray, gyro: np.ndarray | None
    ) -> np.ndarray:
        """With a gyro, right after a gap: gravity low-passed, re-seeded at the first
        sample whose |a| is within ``accel_hold_g`` of 1 g (data may resume in the middle
        of a drop's stop, which is not gravity); the samples before it read the last good
        gravity before the gap. The complementary filter is re-seeded from gravity at the
        same sample (``_reseed_t``), so the absolute roll is known again at once. After a
        gap the gyro was integrated across (``_gap_short``), the re-seed waits for the end
        of ``reseed_still_s`` of stillness (|a| near 1 g, |gyro| <= ``reseed_still_dps``):
        until then the angle is the gyro's, which carried it across the gap."""
        good = np.abs(mag - 1.0) <= self.s.accel_hold_g
        if self._gap_short and gyro is not None:
            w2 = np.einsum("ij,ij->i", gyro, gyro)
            run = _run_lengths(good & (w2 <= self.s.reseed_still_dps**2), self._still_run)
            good = run >= self._still_n
            self._still_run = int(run[-1])
        first = int(np.argmax(good)) if good.any() else len(acc)
        src = acc.copy()
        if first and self._last_good_acc is not None:
            src[:first] = self._last_good_acc
        if first == len(acc):
            return self._f_acc(src)
        self._gap_hold = False
        self._held_until = first
        head = self._f_acc(src[:first]) if first else np.zeros((0, 3))
        self._f_acc.restart()
        self._reseed_t.append(float(t[first]))
        return np.vstack([head, self._f_acc(src[first:])])

    def _step_s(self, t: np.ndarray) -> np.ndarray:
        """Integration step per sample, s: the real time since the previous sample (lost
        samples and short gaps are integrated over), the nominal period for the first
        sample, a non-increasing timestamp or a step longer than ``max_step_s``."""
        prev = self._t_prev_ang if self._t_prev_ang is not None else float(t[0]) - self.dt
        dt = _steps(t, prev)
        self._t_prev_ang = float(t[-1])
        return np.where((dt > 0) & (dt <= self.s.max_step_s), dt, self.dt)

    def _gyro_step_s(self, t: np.ndarray) -> np.ndarray:
        """:meth:`_step_s` for the gyro rate, which comes out of the despike window
        ``gyro_spike_samples`` samples late: each rate is integrated over its own sample's
        step. A gap longer than ``reseed_gap_s`` counts one nominal period here; the rest
        of it is integrated by :meth:`_gap_turn` (the smoothed rate lags a gap's jump)."""
        st = self._step_s(t)
        if float(st.max()) > self.s.reseed_gap_s:
            st = np.where(st > self.s.reseed_gap_s, self.dt, st)
        q, n = self._step_q, len(st)
        h = len(q)
        if n >= h:
            out = np.concatenate((q, st[: n - h]))
            self._step_q = st[n - h :]
        else:
            out = q[:n]
            self._step_q = np.concatenate((q[n:], st))
        return out

    def _gap_turn(self, n: int, axes: np.ndarray) -> np.ndarray | None:
        """Roll over each short gap among the next ``n`` samples (deg per sample; None if
        no gap): the gap's duration beyond one period times the mean of the raw gyro
        vectors either side of it, about each sample's roll axis (``axes``: one 3-vector
        or one per sample)."""
        n0, self._n_ang = self._n_ang, self._n_ang + n
        if not self._gap_turns or self._gap_turns[0][0] >= n0 + n:
            return None
        out = np.zeros(n)
        while self._gap_turns and self._gap_turns[0][0] < n0 + n:
            k, v = self._gap_turns.pop(0)
            if k < n0:
                continue
            ax = axes if axes.ndim == 1 else axes[k - n0]
            out[k - n0] = float(v[0] * ax[0] + v[1] * ax[1] + v[2] * ax[2])
        return out

    def _hold_gravity(self, acc: np.ndarray, mag: np.ndarray) -> np.ndarray:
        """Accelerometer only: where |a| is more than ``accel_hold_g`` (g) off 1 g the
        reading is not gravity (a drop's centripetal pull, its abrupt stop): hold the last
        reading that was, so the angle does not swing with the impact."""
        bad = np.abs(mag - 1.0) > self.s.accel_hold_g
        if not bad.any():
            self._last_good_acc = acc[-1].copy()
            return acc
        n = len(acc)
        idx = np.where(~bad, np.arange(n), -1)
        last = np.maximum.accumulate(idx)
        prev = self._last_good_acc if self._last_good_acc is not None else acc[0]
        ext = np.vstack([prev[None, :], acc])
        out = ext[last + 1]
        self._last_good_acc = out[-1].copy()
        return out

    def _despike(self, acc: np.ndarray) -> np.ndarray:
        """Median of 3 per axis (removes single-sample knocks); one sample of delay."""
        prev = self._acc_tail if self._acc_tail is not None else np.repeat(acc[:1], 2, axis=0)
        x = np.vstack([prev, acc])
        self._acc_tail = x[-2:].copy()
        a, b, c = x[:-2], x[1:-1], x[2:]
        return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))  # median of 3

    def _despike_gyro(self, gyro: np.ndarray) -> np.ndarray:
        """Hampel filter per axis, deg/s: a sample more than ``gyro_spike_dps`` from the
        median of the ``2 * gyro_spike_samples + 1`` around it is replaced by that median
        (a knock or a saturated burst of up to ``gyro_spike_samples`` samples; a real
        rotation changes smoothly, so a sample on a rising or falling edge is its own
        median). ``gyro_spike_samples`` samples of delay."""
        h = self._gyro_half
        prev = self._gyr_tail if self._gyr_tail is not None else np.repeat(gyro[:1], 2 * h, axis=0)
        x = np.vstack([prev, gyro])
        self._gyr_tail = x[-2 * h :].copy()
        n = len(gyro)
        mid = x[h : h + n]
        hi = x[:n].copy()
        lo = hi.copy()
        for k in range(1, 2 * h + 1):  # window range; the median only where it is wide
            np.maximum(hi, x[k : k + n], out=hi)
            np.minimum(lo, x[k : k + n], out=lo)
        wide = (hi - lo > self.s.gyro_spike_dps).any(axis=1)
        if self._gyr_no_despike:  # windows across a short gap (see _restart_filters)
            k = min(n, self._gyr_no_despike)
            wide[:k] = False
            self._gyr_no_despike -= k
        rows = np.nonzero(wide)[0]
        if not len(rows):
            return mid
        out = mid.copy()
        win = np.stack([x[rows + k] for k in range(2 * h + 1)], axis=2)  # (m, 3, w)
        # the middle of the odd window, sorted: np.median without its numpy.ma import
        med = np.median(win, axis=2) if np.isnan(win).any() else np.sort(win, axis=2)[:, :, h]
        out[rows] = np.where(np.abs(mid[rows] - med) > self.s.gyro_spike_dps, med, mid[rows])
        return out

    def _impacts(self, t: np.ndarray, dyn: np.ndarray) -> np.ndarray:
        """Record impacts (|a| off its low-pass by ``impact_g``, g); returns ``calm``:
        no impact within ``cue_quiet_s`` and not walking (live cues allowed)."""
        s = self.s
        hit = dyn >= s.impact_g
        last = self._last_impact_t
        for i in np.nonzero(hit)[0]:
            ti = float(t[i])
            if ti - self._imp_start >= s.impact_refractory_s:
                # a new impact (ringing and long bumps split); steps come in a chain
                steady = ti - self._imp_start <= s.walk_max_step_s
                self._imp_chain = self._imp_chain + 1 if steady else 1
                self._imp_start = ti
            last = ti
            self._unsettle = True
        self._last_impact_t = last
        # calm: no impact in the cue_quiet_s before (t - cue_lag_s); the lag lets a fast
        # drop's own acceleration (it starts the excursion) not silence its cue
        if not len(self._hits) and not hit.any():
            return t > self._walking_until
        hits = np.concatenate([[-math.inf], self._hits, t[hit]])
        tl = t - s.cue_lag_s
        prev = hits[np.searchsorted(hits, tl, side="right") - 1]
        self._hits = hits[hits > float(t[-1]) - s.cue_lag_s - s.cue_quiet_s - 1.0]
        return (tl - prev > s.cue_quiet_s) & (t > self._walking_until)

    def _motion(self, t, shaking, dyn) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
        """Pass 1, per piece: (active, calm) per sample (moving about: shaking or walking;
        calm: no impact lately and not moving about)."""
        active = shaking | (t <= self._walking_until)
        calm = self._impacts(t, dyn) & ~active
        if active.any():
            self._unsettle = True
        self._last_t = t[-1]
        return active, calm

    def _end_epoch_motion(self, stats: tuple[np.ndarray, float] | None) -> _EpochMotion:
        """Pass 1, once per epoch (axis-free steps): detect walking, learn the gyro bias
        unless moving about; what pass 2's :meth:`_end_epoch` needs of it. ``stats``: the
        epoch's gyro statistics if already computed (:func:`_gyro_stats`)."""
        ep = self._ep_motion
        u = _joined(ep["u"])
        act = _joined(ep["act"])
        graw = _joined(ep["graw"]) if ep["graw"] else None
        self._ep_motion = {"u": [], "act": [], "graw": []}
        t_end = float(self._last_t)
        self._detect_walking(t_end)
        unsettled, self._unsettle = self._unsettle, False
        any_active = bool(act.any())
        turn_dps = math.nan if any_active else self._learn_bias(u, graw, stats)
        return _EpochMotion(t_end, any_active, unsettled, turn_dps)

    def _segment(self, t, u, c, active, calm, dyn, out: list[AngleSegment]) -> None:  # noqa: ANN001
        """Pass 2, per piece: keep the epoch's samples, the recent history, and either
        hold the samples back (axis unknown) or queue their angles."""
        ep = self._ep
        ep["c"].append(c)
        ep["u"].append(u)
        ep["act"].append(active)
        ep["dyn"].append(dyn)
        self._keep_recent((t, u, c, active, calm))
        if self.axis is None:
            self._held.append((t, u, c, active, calm))
            self._held_n += len(t)
            excess = self._held_n - self._backfill_n
            while excess > 0:  # release the oldest samples as unknown, sample-exactly
                seg = self._held[0]
                k = min(excess, len(seg[0]))
                out.append(self._unknown(seg[0][:k], seg[3][:k]))
                if k == len(seg[0]):
                    self._held.pop(0)
                else:
                    self._held[0] = tuple(x[k:] for x in seg)
                self._held_n -= k
                excess -= k
        elif not self._reference:
            self._deferred.append(((t, u, c, active, calm), self.axis[None, :]))
            self._deferred_n += len(t)
        else:
            out.append(self._angles(t, u, c, active, calm))

    def _keep_recent(self, seg: tuple) -> None:
        """Recent raw history (``rewind_s``), re-analysed if the axis turns out to have
        changed."""
        self._recent.append(seg)
        self._recent_n += len(seg[0])
        while self._recent_n - len(self._recent[0][0]) >= self._rewind_n:
            self._recent_n -= len(self._recent.pop(0)[0])

    def _release_held(self, out: list[AngleSegment]) -> None:
        """Axis found: release the held samples, measured about it."""
        held, self._held, self._held_n = self._held, [], 0
        self._theta_last = math.nan  # a new reference: no speed across the join
        self._u_last_ang = None
        for j, seg in enumerate(held):
            if j == 0 and self._reset_pending:
                # one unknown sample tells the detector to start afresh
                self._reset_pending = False
                out.append(self._unknown(seg[0][:1], seg[3][:1]))
                seg = tuple(x[1:] for x in seg)
            # samples from before the posture settled (walking, sitting down) stay unknown
            k = int(np.searchsorted(seg[0], self._settle_t))
            if k:
                out.append(self._unknown(seg[0][:k], seg[3][:k]))
                seg = tuple(x[k:] for x in seg)
            if len(seg[0]):
                out.append(self._angles(*seg))

    def _unknown(self, t, active) -> AngleSegment:  # noqa: ANN001
        k = len(t)
        return AngleSegment(t, np.full(k, np.nan), np.zeros(k), active, np.zeros(k, dtype=bool))

    def _frame(self, a: np.ndarray, u0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unit vectors (r, b) of the plane normal to axis ``a``: ``r`` is the reference
        "up" (angle zero) projected on it, ``b = a x r`` (+90 deg). With no reference yet
        (axis just accepted) the reference is ``u0``, the first "up" measured."""
        if self._ref is None:
            r = u0 - (u0 @ a) * a
            self._ref = r / max(_norm(r), 1e-9)
            self._offset = 0.0
            self._theta_last = math.nan
        r = self._ref - (self._ref @ a) * a
        r = r / max(_norm(r), 1e-9)
        return r, _cross3(a, r)

    def _frames(self, axes: np.ndarray, u0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_frame` for many axes (k, 3) at once: (r, b), each (k, 3), the same
        numbers (``u0``: the first "up" about ``axes[0]``, the reference if none yet)."""
        if self._ref is None:
            self._frame(axes[0], u0)
        ref = self._ref
        assert ref is not None
        r = ref[None, :] - _dot3(axes, ref)[:, None] * axes
        r = r / np.maximum(np.sqrt(_dot_rows(r, r)), 1e-9)[:, None]
        b = np.empty_like(r)
        b[:, 0] = axes[:, 1] * r[:, 2] - axes[:, 2] * r[:, 1]
        b[:, 1] = axes[:, 2] * r[:, 0] - axes[:, 0] * r[:, 2]
        b[:, 2] = axes[:, 0] * r[:, 1] - axes[:, 1] * r[:, 0]
        return r, b

    def _angles(self, t, u, c, active, calm) -> AngleSegment:  # noqa: ANN001
        """The reference path: one segment's angles about the current axis, deg."""
        a = self.axis
        assert a is not None
        r, b = self._frame(a, u[0])
        theta_acc = -np.degrees(np.arctan2(_dot3(u, b), _dot3(u, r))) + self._offset
        if not self.has_gyro:
            # speed from two angles measured about the same axis (the axis may have moved)
            up = self._u_last_ang if self._u_last_ang is not None else u[0]
            uu = np.vstack([up[None, :], u])
            th_all = -np.degrees(np.arctan2(_dot3(uu, b), _dot3(uu, r))) + self._offset
            self._u_last_ang = u[-1].copy()
            theta_acc = th_all[1:]
            # nominal period unless samples were lost (timestamp jitter must not enter a
            # derivative; MEx-style ms stamps step 9-10 ms)
            steps = self._step_s(t)
            rate = np.diff(th_all) / np.where(steps > LOST_SAMPLE_STEPS * self.dt, steps, self.dt)
            self._theta_last = float(theta_acc[-1])
            theta = np.where(active, np.nan, theta_acc)
            return AngleSegment(t, theta, np.where(active, 0.0, rate), active, calm)
        if self.has_gyro:
            rate = _dot3(c, a)
            al = self._alpha
            steps = self._gyro_step_s(t)
            x = al * rate * steps
            turn = self._gap_turn(len(t), a)
            if turn is not None:
                x = x + al * turn
            x = x + (1.0 - al) * theta_acc
            if self._hold_due(float(t[-1])):
                inc = rate * steps + (0.0 if turn is None else turn)
                theta = self._integrate_held(t, x, inc, theta_acc)
            else:
                theta = self._complementary(t, x, theta_acc)
        else:
            theta = theta_acc
            prev = theta[0] if math.isnan(self._theta_last) else self._theta_last
            rate = np.diff(theta, prepend=prev) / self.dt
        self._theta_last = float(theta[-1])
        theta = np.where(active, np.nan, theta)
        rate = np.where(active, 0.0, rate)
        return AngleSegment(t, theta, rate, active, calm)

    def _complementary(self, t: np.ndarray, x: np.ndarray, theta_acc: np.ndarray) -> np.ndarray:
        """The complementary filter over one segment (``x``: its input), re-seeded from
        gravity where a re-seed is due (after a gap) or where it is not running yet."""
        pos, parts = 0, []
        while self._reseed_t and self._reseed_t[0] <= float(t[-1]):  # each one due here
            cut = max(pos, int(np.searchsorted(t, self._reseed_t.pop(0))))
            if cut > pos:
                parts.append(self._comp(x[pos:cut]) if self._comp_ready else theta_acc[pos:cut])
            self._comp.reset(float(theta_acc[cut]))
            self._comp_ready = True
            pos = cut
        if not self._comp_ready:
            self._comp.reset(float(theta_acc[pos]))
            self._comp_ready = True
        parts.append(self._comp(x[pos:]))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _hold_due(self, t_end: float) -> bool:
        """A short gap's gyro-only hold is under way, or begins by ``t_end`` (s)."""
        return self._holding or bool(self._hold_ts and self._hold_ts[0] <= t_end)

    def _integrate_held(
        self, t: np.ndarray, x: np.ndarray, inc: np.ndarray, theta_acc: np.ndarray
    ) -> np.ndarray:
        """Angle over a segment in which a short gap's hold begins, lasts or ends: from
        the gap (``_hold_ts``) until the re-seed from gravity (due once the thigh is still,
        :meth:`_hold_after_gap`) the angle is the gyro's alone (``inc``: deg per sample,
        summed in order from the last angle), with no pull toward the gravity read before
        the gap; the complementary filter (input ``x``) runs before and after."""
        n, pos = len(t), 0
        out: list[np.ndarray] = []
        t_last = float(t[-1])
        while pos < n:
            if self._holding:  # until the re-seed due next
                end = n
                if self._reseed_t and self._reseed_t[0] <= t_last:
                    end = max(pos, int(np.searchsorted(t, self._reseed_t.pop(0))))
                if end > pos:
                    y0 = float(out[-1][-1]) if out else self._theta_last
                    if math.isnan(y0):
                        y0 = float(theta_acc[pos])
                    out.append(np.cumsum(np.concatenate([[y0], inc[pos:end]]))[1:])
                if end < n:
                    self._holding = False
                    self._comp.reset(float(theta_acc[end]))
                    self._comp_ready = True
                pos = end
            else:  # the complementary filter until the next hold begins
                start = n
                if self._hold_ts and self._hold_ts[0] <= t_last:
                    start = max(pos, int(np.searchsorted(t, self._hold_ts.pop(0))))
                    self._holding = True
                if start > pos:
                    out.append(
                        self._complementary(t[pos:start], x[pos:start], theta_acc[pos:start])
                    )
                pos = start
        return np.concatenate(out)

    def _flush_angles(self, out: list[AngleSegment]) -> None:
        """Angles of the deferred segments, as one output segment: each sample measured
        about the axis of its own epoch, exactly as :meth:`_angles` would have done epoch
        by epoch, but in one set of array operations. A complementary-filter re-seed due
        inside them (after a gap) takes the reference path, segment by segment."""
        if not self._deferred:
            return
        pend, self._deferred, self._deferred_n = self._deferred, [], 0
        mark, self._tbe_mark = self._tbe_mark, None
        theta_before = self._theta_last
        t_end = float(pend[-1][0][0][-1])
        if (self._reseed_t and self._reseed_t[0] <= t_end) or self._hold_due(t_end):
            axis, done = self.axis, 0
            for seg, axes in pend:
                per = len(seg[0]) // len(axes)
                for i, a in enumerate(axes):
                    self.axis = a
                    part = seg if len(axes) == 1 else tuple(x[i * per : (i + 1) * per] for x in seg)
                    out.append(self._angles(*part))
                    done += per
                    if done == mark:
                        theta_before = self._theta_last
            self.axis = axis
        else:
            theta = self._angles_many(pend, out)
            if mark is not None:
                theta_before = float(theta[mark - 1])
        if mark is not None:
            self._theta_before_epoch = theta_before

    def _angles_many(
        self, pend: list[tuple[tuple, np.ndarray]], out: list[AngleSegment]
    ) -> np.ndarray:
        """Deferred segments -> one AngleSegment appended to ``out``; returns the angle
        before masking (deg), whose last value is ``_theta_last``."""
        segs = [seg for seg, _axes in pend]
        axes = pend[0][1] if len(pend) == 1 else np.concatenate([ax for _seg, ax in pend])
        lens = []  # samples about each axis
        for seg, ax in pend:
            lens += [len(seg[0]) // len(ax)] * len(ax)
        t, u, c, active, calm = (
            seg_parts[0] if len(segs) == 1 else np.concatenate(seg_parts)
            for seg_parts in zip(*segs, strict=True)
        )
        r_k, b_k = self._frames(axes, u[0])
        R = np.repeat(r_k, lens, axis=0)
        B = np.repeat(b_k, lens, axis=0)
        theta_acc = -np.degrees(np.arctan2(_dot_rows(u, B), _dot_rows(u, R))) + self._offset
        if not self.has_gyro:
            # speed from two angles about the same axis: each segment's first sample against
            # the sample before it, measured about this segment's axis
            starts = np.cumsum([0, *lens[:-1]])
            up = np.empty((len(lens), 3))
            up[0] = self._u_last_ang if self._u_last_ang is not None else u[0]
            up[1:] = u[starts[1:] - 1]
            prev = np.empty(len(t))
            prev[1:] = theta_acc[:-1]
            prev[starts] = (
                -np.degrees(np.arctan2(_dot_rows(up, b_k), _dot_rows(up, r_k))) + self._offset
            )
            self._u_last_ang = u[-1].copy()
            steps = self._step_s(t)
            rate = (theta_acc - prev) / np.where(
                steps > LOST_SAMPLE_STEPS * self.dt, steps, self.dt
            )
            self._theta_last = float(theta_acc[-1])
            out.append(AngleSegment(t, np.where(active, np.nan, theta_acc),
                                    np.where(active, 0.0, rate), active, calm))  # fmt: skip
            return theta_acc
        A = np.repeat(axes, lens, axis=0)
        rate = _dot_rows(c, A)
        al = self._alpha
        x = al * rate * self._gyro_step_s(t)
        turn = self._gap_turn(len(t), A)
        if turn is not None:
            x = x + al * turn
        x = x + (1.0 - al) * theta_acc
        if not self._comp_ready:
            self._comp.reset(float(theta_acc[0]))
            self._comp_ready = True
        theta = self._comp(x)
        self._theta_last = float(theta[-1])
        out.append(AngleSegment(t, np.where(active, np.nan, theta), np.where(active, 0.0, rate),
                                active, calm))  # fmt: skip
        return theta

    def _end_epoch(self, m: _EpochMotion, sums: np.ndarray | None, out: list[AngleSegment]) -> None:
        """The slow update, once per epoch, as a list of named steps (state changes only
        here, at fixed sample counts, so any chunking gives the same result). ``m``: the
        epoch's axis-free steps (walking, bias: :meth:`_end_epoch_motion`, run ahead);
        ``sums``: its evidence sums if already computed (:func:`_scatter_sums`)."""
        ep = self._ep
        c = _joined(ep["c"])
        u = _joined(ep["u"])
        act = _joined(ep["act"])
        dyn = _joined(ep["dyn"])
        self._ep = {"c": [], "u": [], "act": [], "dyn": []}
        t_end = m.t_end
        rot_prev, self._rot_prev = self._rot_prev, np.zeros(3)  # kept by _follow_axis only
        c_prev, self._c_prev = self._c_prev, None
        if sums is None:
            sums = _scatter_sums(c[None], act[None], self._wS2)[0]
        self._accumulate_evidence(sums)
        self._gate_posture(m.unsettled, t_end)
        if m.any_active and self.axis is not None:
            self._flush_angles(out)  # the angles so far, about the axis about to be forgotten
        if self._forget_if_moving(m.any_active):
            return
        if self.axis is None:
            self._acquire_axis(m.turn_dps, t_end, out)
            return
        if self._check_axis_change(u, out):
            return
        self._follow_axis(c, u, dyn, out, rot_prev, c_prev)

    # ------------------------------------------------------------ epoch steps

    def _follow_steadily(self, q: _SteadyTables, j: int, motion: list[_EpochMotion], k: int) -> int:
        """Pass 2's fast path: the whole epochs ``j``, ``j + 1``, ... of the feed (their
        pass-1 results from ``motion[k]`` on) while :meth:`_end_epoch` provably takes
        the steady steps only: the axis is known, nothing moves about, the recent motion
        does not turn off the axis long enough to re-learn it (:meth:`_check_axis_change`)
        and no strap slip is in sight (:meth:`_follow_axis`). Those steps run here on
        Python floats, with the same arithmetic as the named steps (accumulate evidence,
        count the epochs off the axis, one power-iteration step); any other epoch takes
        the named steps themselves. Returns the number of epochs done (0: epoch ``j``
        takes the general steps)."""
        if self.axis is None:
            return 0
        s = self.s
        lam, lamn, lam_f, lamn_f = self._lam, self._lamn, self._lam_f, self._lamn_f
        zs = self._zi_S[0].tolist()
        zf = self._zi_Sf[0].tolist()
        sf6 = None
        a0, a1, a2 = self.axis.tolist()
        ratio = self._slip_ratio
        # the previous epoch's rotation, deg, if it followed the axis (else no slip spans it)
        rot_prev = self._rot_prev.tolist() if self.has_gyro and self._c_prev is not None else None
        off_epochs = self._off_epochs
        n = self.epoch_n
        done = 0
        axes: list[tuple[float, float, float]] = []
        for jj in range(j, q.count):
            if motion[k + done].any_active:
                break
            # _accumulate_evidence, not committed until the epoch is known to be steady
            slow, fast = q.sums[jj]
            zs_new = _decay_add(lamn, zs, lam, slow)
            zf_new = _decay_add(lamn_f, zf, lam_f, fast)
            f6 = _scaled(zf_new, lam_f)
            # _check_axis_change: nothing happens unless the recent motion is strong
            off_new = off_epochs
            trace_f = f6[0] + f6[1] + f6[2]
            if trace_f >= s.axis_change_evidence_dps2:
                xx, yy, zz, xy, xz, yz = f6
                along = (
                    a0 * (xx * a0 + xy * a1 + xz * a2)
                    + a1 * (xy * a0 + yy * a1 + yz * a2)
                    + a2 * (xz * a0 + yz * a1 + zz * a2)
                )
                off_new = off_epochs + 1 if along < 0.5 * trace_f else 0
                if off_new >= self._change_epochs:
                    break  # the axis changes: the named steps
            # _follow_axis: a slip (this epoch's rotation, with the previous one's if that
            # was slip-like, off the axis) takes the named steps
            r0, r1, r2 = q.rot[jj]
            if rot_prev is not None:
                p0, p1, p2 = rot_prev
                al = p0 * a0 + p1 * a1 + p2 * a2
                o0, o1, o2 = p0 - al * a0, p1 - al * a1, p2 - al * a2
                if math.sqrt(o0 * o0 + o1 * o1 + o2 * o2) > ratio * abs(al):
                    r0, r1, r2 = p0 + r0, p1 + r1, p2 + r2
            al = r0 * a0 + r1 * a1 + r2 * a2
            o0, o1, o2 = r0 - al * a0, r1 - al * a1, r2 - al * a2
            off = math.sqrt(o0 * o0 + o1 * o1 + o2 * o2)
            if (
                off > ratio * abs(al)
                and off > s.slip_off_axis_deg
                and q.dyn_max[jj] < s.slip_max_dyn_g
            ):
                break  # a slip perhaps: the named steps decide
            # a steady epoch: its angles are deferred about the axis it started with, then
            # the evidence and the power-iteration step are committed
            axes.append((a0, a1, a2))
            zs, zf, sf6, off_epochs = zs_new, zf_new, f6, off_new
            S = _scaled(zs, lam)
            v0 = S[0] * a0 + S[3] * a1 + S[4] * a2
            v1 = S[3] * a0 + S[1] * a1 + S[5] * a2
            v2 = S[4] * a0 + S[5] * a1 + S[2] * a2
            nv = math.sqrt(v0 * v0 + v1 * v1 + v2 * v2)
            if nv > 1e-12:
                a0, a1, a2 = v0 / nv, v1 / nv, v2 / nv
            rot_prev = q.rot[jj] if self.has_gyro else None
            done += 1
        if done:
            # _segment's bookkeeping for the run: its angles deferred as one segment, each
            # epoch about its own axis; the recent history as if kept epoch by epoch (only
            # the last rewind_s of it can be left)
            self._deferred.append((q.segment(j, done), np.array(axes)))
            self._deferred_n += done * n
            keep = min(done, -(-self._rewind_n // n) + 1)
            for jj in range(j + done - keep, j + done):
                self._keep_recent(q.segment(jj))
            self._zi_S = np.array([zs])
            self._zi_Sf = np.array([zf])
            self._Sf6 = np.array(sf6)
            self.axis = np.array([a0, a1, a2])
            last = j + done - 1
            self._rot_prev = np.array(q.rot[last])
            self._c_prev = q.segment(last)[2]
            self._off_epochs = off_epochs
            self._tbe_mark = self._deferred_n
        return done

    def _accumulate_evidence(self, sums: np.ndarray) -> None:
        """Rotation evidence, deg^2/s^2: exponentially weighted scatter of ``c`` over the
        samples not moving about (slow memory ``axis_time_constant_s`` and fast memory
        ``fast_time_constant_s``); ``sums``: this epoch's weighted sums (2, 6) from
        :func:`_scatter_sums`."""
        slow, fast = sums
        self._zi_S = self._lamn * self._zi_S + self._lam * slow
        self._zi_Sf = self._lamn_f * self._zi_Sf + self._lam_f * fast
        self._Sf6 = self._zi_Sf[0] / self._lam_f

    def _detect_walking(self, t_end: float) -> None:
        """Walking (axis-free): a chain of ``walk_impacts`` impacts, each within
        ``walk_max_step_s`` s of the last (``walk_impacts_settled`` after
        ``walk_settled_s`` s with no walking: one hard drop is not a walk); it then lasts at
        least ``walk_hold_s`` s."""
        s = self.s
        settled = t_end - max(self._walking_until, self._t_first) >= s.walk_settled_s
        need = s.walk_impacts_settled if settled else s.walk_impacts
        if self._imp_chain >= need and t_end - self._imp_start <= s.walk_max_step_s:
            self._walking_until = t_end + s.walk_hold_s

    def _gate_posture(self, unsettled: bool, t_end: float) -> None:
        """Impacts, walking or shaking (``unsettled``) in the epoch while the axis is
        unknown: not lying quietly; the axis is learned only from what follows
        (``posture_changed`` flag)."""
        if unsettled and self.axis is None:
            self._settle(t_end)
            self._turn_axis = None  # not lying quietly: nothing before this is backfilled

    def _forget_if_moving(self, any_active: bool) -> bool:
        """Sustained moving about (shaking >= ``activity_min_s`` s, or walking): forget the
        axis so lying down again starts fresh. Returns True if the epoch ends here."""
        if not any_active:
            return False
        if self.axis is not None:
            self.axis = None
            self._ref = None
            self._comp_ready = False
            self._theta_last = math.nan
        self._zi_S = self._zi_S * 0.0
        return True

    def _learn_bias(
        self, u: np.ndarray, graw: np.ndarray | None, stats: tuple[np.ndarray, float] | None
    ) -> float:
        """Gyro bias, deg/s, learned only in genuine stillness: gravity turning slower than
        ``still_dps`` over the epoch and the gyro varying less than
        ``still_gyro_std_dps`` (gait, which returns to the same pose once per stride, is
        not still). Returns gravity's turn rate over the epoch, deg/s."""
        s = self.s
        turn_dps = math.degrees(math.acos(min(1.0, float(u[0] @ u[-1])))) / (len(u) * self.dt)
        if graw is None or turn_dps >= s.still_dps:
            return turn_dps
        if stats is None:
            means, spreads = _gyro_stats(graw[None])
            stats = (means[0], float(spreads[0]))
        mean, spread = stats
        if math.sqrt(spread) < s.still_gyro_std_dps:
            self.bias_dps = self.bias_dps + self._epoch_beta * (mean - self.bias_dps)
        return turn_dps

    def _acquire_axis(self, turn_dps: float, t_end: float, out: list[AngleSegment]) -> None:
        """Accept a roll axis: enough recent rotation (``axis_min_evidence_dps2``), no
        impact for ``axis_quiet_s`` s, and gravity turned back and forth about it; a
        one-way turn beyond ``posture_change_deg`` that ends still is a posture change
        (evidence forgotten). On acceptance the held-back samples are released."""
        s = self.s
        Sf6 = self._Sf6
        if Sf6[0] + Sf6[1] + Sf6[2] < s.axis_min_evidence_dps2:
            return
        if t_end - self._settle_t < s.axis_quiet_s:
            return
        _w, v = np.linalg.eigh(np.array(_sym(Sf6)))
        ax = v[:, 2]
        verdict = self._sweep_verdict(ax)
        if verdict != "back_and_forth":
            if verdict == "one_way" and turn_dps < s.still_dps:
                self._turn_axis, self._turn_from_t = ax, self._settle_t
                self._settle(t_end)  # a posture change ended in a new pose
            return
        self.axis = -ax if float(ax @ self._thigh) > 0 else ax
        self._backfill_turn()
        self._zi_S = self._zi_Sf * (self._lam / self._lam_f)
        self._ref = None
        self._release_held(out)

    def _backfill_turn(self) -> None:
        """The roll axis just accepted is within ``turn_same_axis_deg`` of the latest
        one-way turn's axis: that turn was a roll through the centre, not getting down;
        its samples (still held back) are released with the rest."""
        turn, self._turn_axis = self._turn_axis, None
        assert self.axis is not None
        if turn is None:
            return
        if abs(float(turn @ self.axis)) >= math.cos(math.radians(self.s.turn_same_axis_deg)):
            self._settle_t = self._turn_from_t

    def _check_axis_change(self, u: np.ndarray, out: list[AngleSegment]) -> bool:
        """The recent motion turns about another axis for ``axis_change_s`` s: within
        60 deg of the old axis the sensor turned (re-reference, angle continuous); else a
        different movement (learn afresh, re-analyse the last ``rewind_s`` s). Returns
        True if the epoch ends here."""
        s = self.s
        a = self.axis
        assert a is not None
        Sf6 = self._Sf6
        Sf = _sym(Sf6)
        trace_f = Sf6[0] + Sf6[1] + Sf6[2]
        if trace_f < s.axis_change_evidence_dps2:
            return False
        along = sum(a[i] * sum(Sf[i][j] * a[j] for j in range(3)) for i in range(3))
        self._off_epochs = self._off_epochs + 1 if along < 0.5 * trace_f else 0
        if self._off_epochs < self._change_epochs:
            return False
        self._off_epochs = 0
        self._flush_angles(out)  # the angles so far (and _theta_last), about the old axis
        _w, v = np.linalg.eigh(np.array(Sf))
        n = v[:, 2]
        cosang = float(n @ a)
        if abs(cosang) >= 0.5:  # within 60 deg: same roll, sensor turned
            self.axis = n if cosang > 0 else -n
            self._zi_S = self._zi_Sf * (self._lam / self._lam_f)
            r2 = u[-1] - (u[-1] @ self.axis) * self.axis
            self._ref = r2 / max(_norm(r2), 1e-9)
            self._offset = self._theta_last
            self._comp.reset(self._offset)
            self._comp_ready = True
            self._theta_before_epoch = self._theta_last
            return True
        # a different movement altogether: learn the axis afresh
        self.axis = None
        self._ref = None
        self._comp_ready = False
        self._theta_last = math.nan
        self._zi_S = self._zi_S * 0.0
        self._reset_pending = True
        self._axis_resets += 1
        # re-analyse the last few seconds (the new movement began in them)
        n_keep = self._rewind_n
        held: list[tuple] = []
        k = 0
        for seg in reversed(self._recent):
            if k >= n_keep:
                break
            take = min(len(seg[0]), n_keep - k)
            held.insert(0, tuple(x[-take:] for x in seg))
            k += take
        self._held, self._held_n = held, k
        return True

    def _slip_like(self, rot: np.ndarray) -> tuple[bool, np.ndarray]:
        """Rotation vector ``rot`` (deg) about an axis more than ``slip_axis_off_deg``
        (accelerometer only: ``slip_axis_off_accel_deg``) off the roll axis? Also returns
        its off-axis part, deg."""
        a = self.axis
        assert a is not None
        along = float(rot @ a)
        off = rot - along * a
        return _norm(off) > self._slip_ratio * abs(along), off

    def _off_axis_peak_dps(self, c: np.ndarray) -> float:
        """Fastest turn off the roll axis among the rotation rates ``c`` (n, 3), deg/s."""
        a = self.axis
        assert a is not None
        off_c = c - _dot3(c, a)[:, None] * a[None, :]
        return math.sqrt(float(np.max(_dot_rows(off_c, off_c))))

    def _slip_fast(self, c: np.ndarray, c_prev: np.ndarray | None) -> bool:
        """With a gyro: did the turn off the axis reach ``slip_min_rate_dps`` in this epoch
        (or in the one before, ``c_prev``, when the slip began there)?"""
        peak = self._off_axis_peak_dps(c)
        if c_prev is not None:
            peak = max(peak, self._off_axis_peak_dps(c_prev))
        return peak > self.s.slip_min_rate_dps

    def _follow_axis(
        self,
        c: np.ndarray,
        u: np.ndarray,
        dyn: np.ndarray,
        out: list[AngleSegment],
        rot_prev: np.ndarray,
        c_prev: np.ndarray | None,
    ) -> None:
        """Keep the axis: a strap slip (over this epoch and the one before, a rotation off
        the axis by > ``slip_off_axis_deg`` about an axis > ``slip_axis_off_deg`` from it,
        while |a| stays within ``slip_max_dyn_g`` of 1 g) carries it along and
        re-references the angle to what it was before the slip; otherwise one
        power-iteration step. With a gyro the turn off the axis must also reach
        ``slip_min_rate_dps`` at some sample; without one the slip is judged within the
        epoch alone. ``rot_prev``, ``c_prev``: the previous epoch's rotation vector, deg,
        and its rotation evidence, deg/s (None if that epoch did not follow the axis)."""
        s = self.s
        a = self.axis
        assert a is not None
        rot = c.sum(axis=0) * self.dt  # integrated rotation vector, deg (small-angle)
        self._rot_prev, self._c_prev = rot, c
        if not self.has_gyro or c_prev is None or not self._slip_like(rot_prev)[0]:
            rot_prev, c_prev = np.zeros(3), None  # the slip (if any) is in this epoch alone
        like, off = self._slip_like(rot_prev + rot)
        slipped = (
            like
            and _norm(off) > s.slip_off_axis_deg
            and float(dyn.max()) < s.slip_max_dyn_g
            and (not self.has_gyro or self._slip_fast(c, c_prev))
        )
        if slipped:
            self._rot_prev, self._c_prev = np.zeros(3), None
            self._flush_angles(out)  # the angles so far, in the frame before the slip
            # the board turned on the thigh: the roll axis and the angle's zero are fixed to
            # the thigh, so in the sensor frame both turn back by the whole slip rotation
            # (offset kept: the angle continues from before the slip, no step)
            back = -np.radians(rot_prev + rot)
            self.axis = _rotate(a, back)
            if self._ref is not None:
                self._ref = _rotate(self._ref, back)
            self._zi_S = self._zi_S * 0.05
            self._comp_ready = False  # re-seeded from gravity in the new frame
            self._u_last_ang = None  # no speed across the re-reference
        else:
            self.axis = _power_step(_sym(self._zi_S[0] / self._lam), a)
        if self._deferred:  # the angle at the end of this epoch is not computed yet
            self._tbe_mark = self._deferred_n
        else:
            self._theta_before_epoch = self._theta_last

    # ------------------------------------------------------------ flags

    @property
    def flags(self) -> EstimatorFlags:
        """Diagnostic flags, readable at any time (like Fusion's FusionAhrsGetFlags)."""
        t = float(self._last_t)
        return EstimatorFlags(
            axis_known=self.axis is not None,
            walking=t <= self._walking_until,
            active=self._shake_run >= self._act_min_n or t <= self._walking_until,
            posture_changed=self.axis is None and self._settle_t > self._t_first,
            impact_recent=t - self._last_impact_t <= self.s.cue_quiet_s,
            bias_dps=(float(self.bias_dps[0]), float(self.bias_dps[1]), float(self.bias_dps[2])),
            axis_resets=self._axis_resets,
        )

    def _settle(self, t_s: float) -> None:
        """Forget the axis evidence gathered so far; only what follows ``t_s`` counts."""
        self._settle_t = t_s
        self._zi_S = self._zi_S * 0.0
        self._zi_Sf = self._zi_Sf * 0.0

    def _sweep_verdict(self, ax: np.ndarray) -> str:
        """How gravity turned about candidate axis ``ax`` since the posture settled:
        ``"back_and_forth"`` (out by ``axis_min_sweep_deg`` and back by
        ``axis_return_fraction`` of it: rolling), ``"one_way"`` (out by more than
        ``posture_change_deg`` and not back: sitting down or lying back) or ``"small"``
        (not decided yet)."""
        s = self.s
        us = [seg[1][seg[0] >= self._settle_t] for seg in self._held]
        u = np.concatenate(us) if us else np.zeros((0, 3))
        if len(u) < 2:
            return "small"
        r = u[0] - (u[0] @ ax) * ax
        nr = _norm(r)
        if nr < 1e-6:
            return "small"
        r = r / nr
        b = _cross3(ax, r)
        phi = np.degrees(np.unwrap(np.arctan2(_dot3(u, b), _dot3(u, r))))
        i = int(np.argmax(np.abs(phi)))
        sweep = abs(float(phi[i]))
        if sweep < s.axis_min_sweep_deg:
            return "small"
        back = abs(float(phi[-1] - phi[i]))
        if back >= s.axis_return_fraction * sweep:
            return "back_and_forth"
        return "one_way" if sweep >= s.posture_change_deg else "small"
