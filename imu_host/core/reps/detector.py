"""Rep detector: roll angle in, reps and live form cues out.

A rep is one excursion centre -> side -> back to centre. The detector works on blocks of
~40 ms (``block_s``) of the angle stream and keeps:

- the **centre** ``c``: learned from rests (the angle still for ``rest_s`` near the
  current centre) and, once both sides have been visited, kept between the two sides'
  typical peaks (so a person who never pauses still gets a centre). With no rest at the
  start, the first two turning points give a provisional centre and the buffered blocks
  are then replayed through the same rules (causal: decided only from what has arrived).
- the **phase**: at centre, or out to one side. Leaving the centre band by
  ``enter_deg`` starts an excursion. It ends as a rep when the angle comes back within
  ``centre_deg`` of the centre, crosses over to the other side (continuous swinging), or
  has come back at least halfway and stops or turns out again. "Came back" needs the rate
  to show it (:func:`rules.return_is_real`: not an angle creeping back to gravity after
  an overshoot) and excludes the ``rebound_s`` after a fast drop's speed.
- **pose revisits**: an excursion that rests at a pose, goes on deeper by a rep's range
  and comes back to rest at that pose (:func:`rules.is_pose_revisit`) re-acquires the
  centre there; the deeper part is the rep (a centre must have excursions on both sides).
- without a gyro, speeds are the least-squares slope of the angle over
  ``accel_only_speed_window_s`` (the per-sample derivative of a gravity angle reads high).

An excursion counts only if its range reaches ``min_rom_deg`` and ``min_rom_fraction``
of the person's typical range (median of recent reps); smaller ones are fidgets or
wobbles. Flags (rules in :mod:`imu_host.core.reps.rules`, centre rules in
:mod:`imu_host.core.reps.centre`): ``fast_drop`` (peak descent speed >= ``fast_drop_dps``,
x ``accel_only_speed_factor`` without a gyro; emitted as a live cue as soon as the speed is
crossed, while the knees are still falling, if the excursion began calm: no impact or
walking just before), ``fast_return``
(peak return speed >= ``fast_return_dps``), ``bounce`` (at end range the knees come back
by >= ``bounce_deg`` and push out again by as much, not within ``rebound_s`` of a fast drop's
speed: that is the drop's rebound), ``partial`` (range below
``partial_fraction`` of that side's median).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from functools import reduce

import numpy as np

from imu_host.core.events import (
    BOUNCE,
    FAST_DROP,
    FAST_RETURN,
    LEFT,
    PARTIAL,
    RIGHT,
    Event,
    FlagEvent,
    Rep,
    RepEvent,
)
from imu_host.core.reps import centre as centre_rules
from imu_host.core.reps import rules
from imu_host.core.reps.centre import turning_point_centre

PARTIAL_MIN_HISTORY = 3  # reps on a side before "partial" can be judged on that side
ROM_HISTORY = 6  # recent ranges kept (typical range, per-side medians)
PRE_BUFFER_S = 1.0  # rate history kept at centre (a drop can start inside the band)
NO_CENTRE_BUFFER_S = 30.0  # longest stretch buffered while no centre is known
CALM_RATE_DPS = 5.0  # moving toward a side slower than this counts as calm (rep start)
HALFWAY = 0.5  # "came back at least halfway" (of the peak depth)
TURN_FRACTION = 0.25  # out again by this fraction of the peak after halfway: a new excursion
BOUNCE_NEAR_DEG = 8.0  # a bounce starts within max(this, BOUNCE_NEAR_FRACTION * peak)...
BOUNCE_NEAR_FRACTION = 0.3  # ...of the peak
HOLD_FRACTION = 0.1  # within max(hold_tolerance_deg, this * peak) of the peak = holding
# "came back halfway" also needs the rate to account for this fraction of the angle's way
# back (an overshoot after a gap creeps back to gravity with the knees still: not a return)
RATE_BACKED_FRACTION = 0.5
LOST_STEP_PERIODS = 1.5  # a timestamp step this many periods long: samples were lost
# for this long after lost samples, the angle's average speed since the last sample before
# them is speed evidence too (a gap can hide most of a fast drop's descent; a gyro
# re-seeded from gravity after it gives the angle, not the speed, of the part not seen)
GAP_SPEED_SPAN_S = 0.25
# ...and for this long after them, the angle's steps of more than GAP_STEP_DEG that the
# rate does not explain (the estimator's turn across the gap, its re-seed from gravity
# once the thigh is still, 0.3-1 s after the gap) are motion the gap hid: their sum over
# the gap's duration is speed evidence at each such step. The rate explains rate x step
# for steps up to GAP_INTEGRATED_S (the estimator integrates the gyro over real steps up
# to its max_step_s), one period beyond
GAP_RESEED_SPAN_S = 2.0
# a feed of this many blocks or fewer (live: a frame or two) takes the plain block step:
# the fast path's per-feed set-up costs more than it saves there (same state, same results)
STEP_BLOCKS_MAX = 2
GAP_RESEED_MIN_S = 0.06  # ...after a gap longer than this (the estimator re-reads gravity
# only after a jump longer than its reseed_gap_s; shorter ones the gyro integrates)
GAP_STEP_DEG = 1.0
GAP_INTEGRATED_S = 0.25
POSE_MATCH_DEG = 6.0  # two rests this close are the same pose
RUN_BLOCKS = 64  # fast path: blocks whose depths are computed at once (one centre and side)
QUIET_MIN = 2  # fast path: a quiet stretch at centre is stepped at once if this long


@dataclass(frozen=True)
class DetectorSettings:
    """Rep-detection tuning. Angles in degrees, speeds in deg/s, times in seconds."""

    block_s: float = 0.08  # detector resolution (and worst-case cue latency)
    enter_deg: float = 10.0  # leaving the centre band by this much starts an excursion
    centre_deg: float = 6.0  # back within this of the centre ends it
    min_rom_deg: float = 12.0  # smallest range that counts as a rep (fidgets are < 8)
    min_rom_fraction: float = 0.35  # ...and this fraction of the typical range
    min_rep_s: float = 0.9  # out and back faster than this is not a knee roll (walking)
    fast_drop_dps: float = 100.0  # peak descent speed that flags a momentum-driven drop
    fast_return_dps: float = 100.0  # peak return speed that flags a yanked return
    # accelerometer only: the gravity angle is tilted by tangential acceleration
    # (theta_app ~ theta - (r/g) theta''), so speeds read high: x1.18 median, x1.29 p90 on
    # controlled reps at r = 0.2-0.45 m in the simulator (0.2 s slope, uncorrected). Both
    # thresholds are multiplied by this (130 deg/s): flags and cues use the uncorrected
    # speed; simulated controlled reps read <= 59 deg/s, abrupt drops >= 193.
    accel_only_speed_factor: float = 1.3
    # accelerometer only: speeds are the slope of the gravity angle over this window (s), not
    # its per-sample derivative (its noise and the lever-arm term read controlled reps high)
    accel_only_speed_window_s: float = 0.2
    # accelerometer only: the speeds a rep REPORTS undo the lever-arm tilt once the rep is
    # complete (all its samples known): v ~ v_app + (r/g) v_app'' with an assumed distance
    # of the sensor from the roll axis (a board strapped above the knee: 0.2-0.45 m; 0 turns
    # it off), the second derivative over +-accel_only_lever_span_s, the correction capped
    # at accel_only_lever_cap of the speed (it over-corrects an abrupt stop's narrow
    # peak). Flags and the live cue keep the uncorrected speed and the x1.3 thresholds, so
    # the cue still comes while the knees fall and no rep's flag depends on the assumption.
    accel_only_lever_m: float = 0.3
    accel_only_lever_span_s: float = 0.15
    accel_only_lever_cap: float = 0.2
    # accelerometer only: a fast drop's range is the depth the knees hold once it has
    # settled (the stop's tangential acceleration swings the gravity angle 10-30 deg past
    # the end range for ~0.5 s): the median over the first accel_only_settle_span_s of
    # samples at most accel_only_settle_still_dps from rebound_s after the drop's speed,
    # if they cover accel_only_settle_min_s and the peak read beyond it by more than
    # accel_only_overshoot_deg
    accel_only_settle_still_dps: float = 10.0
    accel_only_settle_span_s: float = 0.5
    accel_only_settle_min_s: float = 0.2
    accel_only_overshoot_deg: float = 3.0
    bounce_deg: float = 4.0  # size of the back-and-out-again that flags a bounce
    rebound_s: float = 1.0  # after a fast drop's speed, this long is its rebound (no bounce)
    partial_fraction: float = 0.6  # range below this x side median flags "partial"
    rest_s: float = 0.8  # stillness this long at centre re-learns the centre
    partway_rest_weight: float = 1.0  # a rest after coming back past halfway: the new centre
    rest_range_deg: float = 3.0  # "still": the angle stays within this range
    hold_tolerance_deg: float = 3.0  # within this of the peak counts as holding
    swap_sides: bool = False  # swap left/right (sensor worn against the convention)


class _Excursion:
    __slots__ = ("sign", "start_s", "t", "depth", "rate", "peak", "peak_t", "cued",
                 "min_after", "min_after_t", "bounced", "bmax", "bmin", "start_depth", "calm", "fast", "fast_t",
                 "back", "back_max", "poses")  # fmt: skip

    def __init__(self, sign: int, start_s: float) -> None:
        self.sign = sign
        self.start_s = start_s
        self.t: list[np.ndarray] = []
        self.depth: list[np.ndarray] = []
        self.rate: list[np.ndarray] = []
        self.peak = -math.inf
        self.peak_t = start_s
        self.cued = False
        self.min_after = math.inf  # lowest depth since the peak
        self.min_after_t = start_s
        self.bounced = False
        self.bmax = -math.inf  # running max used for bounce detection
        self.bmin = math.inf
        self.start_depth = 0.0  # depth already reached when the recording began
        self.calm = True  # began with no impact or walking just before (live cues allowed)
        self.fast = False  # the descent reached the fast-drop speed (at fast_t, s)
        self.fast_t = math.nan
        self.back = 0.0  # way back since the peak by the integrated rate, deg
        self.back_max = 0.0  # the most of it so far
        self.poses: list[list[float]] = []  # rests during it: [depth deg, last still t s]


class _Feed:
    """Fast path: one feed's blocks (rows) and their per-block numbers, computed at once
    (Python lists for the loops; arrays where runs slice them)."""

    __slots__ = ("t", "th", "ra", "t_first", "t_last", "th_last", "ra_max", "ra_min",
                 "ra_sum", "calm", "bad", "th_last_a", "ra_max_a", "ra_min_a", "rest_rng_a",
                 "rest_rng", "rest_mean")  # fmt: skip

    def __init__(
        self, t: np.ndarray, th: np.ndarray, ra: np.ndarray, calm: np.ndarray, bad: np.ndarray
    ) -> None:
        self.t, self.th, self.ra = t, th, ra
        self.t_first: list[float] = t[:, 0].tolist()
        self.t_last: list[float] = t[:, -1].tolist()
        self.th_last_a = th[:, -1]
        self.th_last: list[float] = self.th_last_a.tolist()
        self.ra_max_a = ra.max(axis=1)
        self.ra_min_a = ra.min(axis=1)
        self.ra_max: list[float] = self.ra_max_a.tolist()
        self.ra_min: list[float] = self.ra_min_a.tolist()
        self.ra_sum: list[float] = ra.sum(axis=1).tolist()
        self.calm: list[bool] = calm.tolist()
        self.bad: list[bool] = bad.tolist()
        self.rest_rng_a = np.zeros(0)  # set by the detector (needs its rests)
        self.rest_rng: list[float] = []
        self.rest_mean: list[float] | None = None  # None: rests too long for exact_means


class _Run:
    """Fast path: depths of blocks ``j0``..``j1`` (rows of one feed) about centre ``c``
    toward side ``sg``, with each block's extremes and where they are, computed at once
    (the same values the per-block numpy calls give), and what the light loop
    (:meth:`RepDetector._out`) reads per block: the end depth, the speed toward the side,
    whether the rest window may be still, and where a chain of blocks that only go deeper
    (each sample a new peak, nothing else to decide) ends."""

    __slots__ = ("j0", "j1", "sg", "c", "d", "depth", "depth_l", "dmax", "amax", "tmax",
                 "dmin", "tmin", "rising", "d_end", "sd", "fast", "still", "deeper")  # fmt: skip

    def __init__(
        self,
        j0: int,
        j1: int,
        sg: int,
        c: float,
        f: _Feed,
        lim: tuple[float, float, float, float],
    ) -> None:
        self.j0, self.j1, self.sg, self.c = j0, j1, sg, c
        t, th = f.t, f.th
        self.d = th[j0:j1] - c
        dep = self.d if sg > 0 else -self.d  # sg * d
        self.depth = dep
        self.depth_l: list[list[float]] | None = None  # see rows
        m = j1 - j0
        rows = np.arange(m)
        tt = t[j0:j1]
        am = dep.argmax(axis=1)
        an = dep.argmin(axis=1)
        dmax = dep[rows, am]
        self.dmax: list[float] = dmax.tolist()
        self.amax: list[int] = am.tolist()
        self.tmax: list[float] = tt[rows, am].tolist()
        self.dmin: list[float] = dep[rows, an].tolist()
        self.tmin: list[float] = tt[rows, an].tolist()
        rising = np.asarray((dep[:, 1:] > dep[:, :-1]).T.all(axis=0))  # (rows, faster)
        self.rising: list[bool] = rising.tolist()
        fast_drop_dps, centre_deg, enter_deg, rest_range_deg = lim
        d_end = f.th_last_a[j0:j1] - c  # the values th_last[j] - c give
        sd = d_end * sg
        speed = f.ra_max_a[j0:j1] if sg > 0 else -f.ra_min_a[j0:j1]
        still = f.rest_rng_a[j0:j1] < rest_range_deg  # may be (if the window is full)
        self.d_end: list[float] = d_end.tolist()
        self.sd: list[float] = sd.tolist()
        fast = np.asarray(rules.is_fast_drop(speed, fast_drop_dps), dtype=bool)  # every block
        self.fast: list[bool] = fast.tolist()
        self.still: list[bool] = still.tolist()
        # deeper[i]: block i (each sample a new max, its first below its last in time, no
        # fast-drop speed, out past the centre band, not possibly still) starts a chain of
        # such blocks, each beginning above the last one's max, ending before deeper[i]
        # (0: not such a block)
        ok = (
            rising
            & (tt[:, 0] < tt[:, -1])
            & ~fast
            & (sd > centre_deg)
            & (sd >= -enter_deg)
            & ~still
        )
        cont = ok.copy()
        cont[1:] &= dep[1:, 0] > dmax[:-1]
        ok_l = ok.tolist()
        cont_l = cont.tolist()
        deeper = [0] * m
        end = m  # the first block after i that does not go on from the one before
        for i in range(m - 1, -1, -1):
            if ok_l[i]:
                deeper[i] = end
            if not cont_l[i]:
                end = i
        self.deeper: list[int] = deeper

    def rows(self) -> list[list[float]]:
        """The depths of every block as Python floats (made once, when first needed)."""
        if self.depth_l is None:
            self.depth_l = self.depth.tolist()
        return self.depth_l


def _scan_bounce(
    depth: list[float], bmax: float, bmin: float, peak: float, bounce_deg: float
) -> tuple[float, float, bool]:
    """The bounce tracker (:meth:`RepDetector._bounce_track`) over one block's depths as
    Python floats, from the running max ``bmax`` and the min since it ``bmin``, with the
    excursion's ``peak``: (bmax, bmin, True) where a bounce completes, else their values
    after the block and False."""
    near = peak - max(BOUNCE_NEAR_DEG, BOUNCE_NEAR_FRACTION * peak)
    half = HALFWAY * peak
    for x in depth:
        if x > bmax:
            bmax = x
            bmin = math.inf
            continue
        if bmax >= near:
            if x < bmin:
                bmin = x
            if bmax - bmin >= bounce_deg and x - bmin >= bounce_deg and bmin > half:
                return bmax, bmin, True
    return bmax, bmin, False


class RepDetector:
    """Streaming rep detector. ``feed`` angle samples, get events."""

    def __init__(
        self,
        odr_hz: float,
        settings: DetectorSettings | None = None,
        keep_trace: bool = False,
        has_gyro: bool = True,
        reference: bool = False,
    ) -> None:
        """``reference``: the plain block-by-block step loop (tests compare against it)."""
        self.s = settings or DetectorSettings()
        self.reference = reference
        # speed thresholds, deg/s: gravity-only speeds read high (see accel_only_speed_factor)
        k = 1.0 if has_gyro else self.s.accel_only_speed_factor
        self.fast_drop_dps = self.s.fast_drop_dps * k
        self.fast_return_dps = self.s.fast_return_dps * k
        self.keep_trace = keep_trace
        self.has_gyro = has_gyro
        # accelerometer only: the last samples of the angle, for the windowed slope
        self._slope_w = max(1, int(round(self.s.accel_only_speed_window_s * odr_hz)))  # periods
        self._slope_t = np.zeros(0)
        self._slope_th = np.zeros(0)
        # speed across lost samples: the last sample seen, and (t_s, deg, until_s) of the
        # last sample before the latest loss while its span lasts
        self._last_t: float | None = None
        self._last_th = math.nan
        # after lost samples: (time and angle of the last sample before them, time of the
        # first after them, the angle change since then that the rate does not explain)
        self._gap_ref: tuple[float, float, float, float] | None = None
        self.trace_t: list[np.ndarray] = []  # per block: times
        self.trace_deg: list[np.ndarray] = []  # per block: angle relative to the centre then
        self.odr_hz = float(odr_hz)
        self.k = max(1, int(round(self.s.block_s * self.odr_hz)))
        self.reps: list[Rep] = []
        self.centre: float | None = None
        self._exc: _Excursion | None = None
        self._pend_t: list[np.ndarray] = []
        self._pend: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._pend_n = 0
        self._pre: deque[tuple[np.ndarray, np.ndarray]] = deque(
            maxlen=max(1, int(round(PRE_BUFFER_S / self.s.block_s)))
        )
        self._rest: deque[float] = deque(maxlen=max(2, int(round(self.s.rest_s / self.s.block_s))))
        self._peaks: dict[int, deque[float]] = {
            1: deque(maxlen=centre_rules.PEAK_HISTORY),
            -1: deque(maxlen=centre_rules.PEAK_HISTORY),
        }
        self._roms: deque[float] = deque(maxlen=ROM_HISTORY)
        self._need_cache: float | None = None  # see _need
        self._side_roms: dict[int, deque[float]] = {
            1: deque(maxlen=ROM_HISTORY),
            -1: deque(maxlen=ROM_HISTORY),
        }
        self._last_calm_t = {1: 0.0, -1: 0.0}  # last time not moving toward each side
        self._prev_d = 0.0
        self._prev_t = 0.0
        # no-centre-yet buffering (turning points)
        self._buf: list[tuple] = []
        self._tp: list[float] = []
        self._clear_turning_points()
        self._events: list[Event] = []
        self._after_gap = False  # the next block follows a long gap
        self._calm = True  # the block being processed is calm (see feed)

    # ------------------------------------------------------------------ public

    def feed(
        self,
        t_s: np.ndarray,
        theta_deg: np.ndarray,
        rate_dps: np.ndarray,
        calm: np.ndarray | None = None,
    ) -> list[Event]:
        """Feed angle samples (nan = unknown); returns the events they complete.

        ``calm`` (bool per sample, default all true): no impact or walking lately; a live
        fast-drop cue is only given in a calm block (the rep's flag is decided anyway)."""
        self._events = []
        if calm is None:
            calm = np.ones(len(t_s), dtype=bool)
        if not self.has_gyro:
            rate_dps = self._window_slope(t_s, theta_deg)
        rate_dps = self._gap_speed(t_s, theta_deg, rate_dps)
        self._pend_t.append(t_s)
        self._pend.append((theta_deg, rate_dps, np.asarray(calm, dtype=bool)))
        self._pend_n += len(t_s)
        if self._pend_n >= self.k:
            t = np.concatenate(self._pend_t)
            th = np.concatenate([p[0] for p in self._pend])
            ra = np.concatenate([p[1] for p in self._pend])
            ca = np.concatenate([p[2] for p in self._pend])
            nb = len(t) // self.k
            m = nb * self.k
            rest = len(t) - m
            self._pend_t = [t[m:]] if rest else []
            self._pend = [(th[m:], ra[m:], ca[m:])] if rest else []
            self._pend_n = rest
            t = t[:m].reshape(nb, self.k)
            th = th[:m].reshape(nb, self.k)
            ra = ra[:m].reshape(nb, self.k)
            calm_b = np.asarray(ca[:m].reshape(nb, self.k).all(axis=1))
            bad = np.isnan(th).any(axis=1)
            if self.reference or nb <= STEP_BLOCKS_MAX:
                for j in range(nb):
                    self._calm = bool(calm_b[j])
                    self._block(t[j], th[j], ra[j], bool(bad[j]))
            else:
                self._blocks(t, th, ra, calm_b, bad)
        return self._events

    def _window_slope(self, t: np.ndarray, th: np.ndarray) -> np.ndarray:
        """Accelerometer only: per sample, the least-squares slope of the angle against
        time over the last ``accel_only_speed_window_s`` of samples, deg/s; 0 where unknown.
        The last samples are carried across feeds, so any chunking gives the same values."""
        w = self._slope_w
        tt = np.concatenate([self._slope_t, t])
        aa = np.concatenate([self._slope_th, th])
        n0 = len(self._slope_t)
        if n0 < w:  # stream start: repeat the first sample (a still start)
            tt = np.concatenate([tt[0] - (w - n0 - np.arange(w - n0)) / self.odr_hz, tt])
            aa = np.concatenate([np.full(w - n0, aa[0]), aa])
        self._slope_t = tt[-w:]
        self._slope_th = aa[-w:]
        tw = np.lib.stride_tricks.sliding_window_view(tt, w + 1)[-len(t) :]
        aw = np.lib.stride_tricks.sliding_window_view(aa, w + 1)[-len(t) :]
        tc = tw - tw.mean(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            v = np.einsum("ij,ij->i", tc, aw) / np.einsum("ij,ij->i", tc, tc)
        return np.where(np.isfinite(v), v, 0.0)

    def _gap_speed(self, t: np.ndarray, th: np.ndarray, ra: np.ndarray) -> np.ndarray:
        """Within ``GAP_SPEED_SPAN_S`` after lost samples, the rate is at least the
        angle's average speed since the last sample before them; within
        ``GAP_RESEED_SPAN_S``, at an angle step the rate does not explain, at least the
        unexplained angle change since the gap over the gap's duration (deg/s, per sample
        from carried state: any chunking gives the same values)."""
        prev_t, prev_th = self._last_t, self._last_th
        self._last_t, self._last_th = float(t[-1]), float(th[-1])
        cap = LOST_STEP_PERIODS / self.odr_hz
        if prev_t is None:
            prev_t = float(t[0])
        steps = np.empty(len(t))
        steps[0] = float(t[0]) - prev_t
        np.subtract(t[1:], t[:-1], out=steps[1:])
        if self._gap_ref is None and float(steps.max()) <= cap:
            return ra  # nothing lost, no span under way
        lost = np.nonzero(steps > cap)[0].tolist()
        out = np.array(ra, dtype=float)
        bounds = [*lost, len(t)]
        start = 0
        for b in bounds:
            ref = self._gap_ref
            if ref is not None and b > start:
                t0, th0, tg, unexplained = ref
                seg = slice(start, b)
                m = t[seg] <= tg + GAP_SPEED_SPAN_S
                if m.any():
                    with np.errstate(invalid="ignore"):
                        v = (th[seg] - th0) / (t[seg] - t0)
                    ok = m & np.isfinite(v) & (np.abs(v) > np.abs(out[seg]))
                    out[seg] = np.where(ok, v, out[seg])
                # the angle's steps since the gap against the rate's (one period each)
                prev = float(th[start - 1]) if start > 0 else prev_th
                d = np.diff(th[seg], prepend=prev)
                dt = np.where(steps[seg] > GAP_INTEGRATED_S, 1.0 / self.odr_hz, steps[seg])
                u = d - ra[seg] * dt
                u = np.where(np.isfinite(u) & (np.abs(u) > GAP_STEP_DEG), u, 0.0)
                cum = np.cumsum(np.concatenate([[unexplained], u]))[1:]
                span = GAP_RESEED_SPAN_S if tg - t0 > GAP_RESEED_MIN_S else GAP_SPEED_SPAN_S
                lm = t[seg] <= tg + span
                v2 = cum / (tg - t0)
                ok = lm & (u != 0.0) & (np.abs(v2) > np.abs(out[seg]))
                out[seg] = np.where(ok, v2, out[seg])
                self._gap_ref = (t0, th0, tg, float(cum[-1])) if lm.all() else None
            if b < len(t):
                t0 = float(t[b - 1]) if b > 0 else prev_t
                th0 = float(th[b - 1]) if b > 0 else prev_th
                self._gap_ref = (t0, th0, float(t[b]), 0.0)
            start = b
        return out

    def finish(self) -> list[Event]:
        """End of stream: an excursion that came back at least halfway still counts."""
        self._events = []
        e = self._exc
        if e is not None and e.depth:
            last = float(e.depth[-1][-1])
            if last <= HALFWAY * e.peak and self._back_halfway(e):
                self._complete(float(e.t[-1][-1]))
        self._exc = None
        return self._events

    # ------------------------------------------------------------------ internals

    def _side(self, sign: int) -> str:
        left = sign > 0
        if self.s.swap_sides:
            left = not left
        return LEFT if left else RIGHT

    def _typical(self) -> float | None:
        if not self._roms:
            return None
        return rules.median(self._roms)

    def _need(self) -> float:
        """Smallest range that counts as a rep now, deg (min_rom_deg, and min_rom_fraction
        of the typical range); cached until the next rep."""
        if self._need_cache is None:
            typ = self._typical()
            frac = self.s.min_rom_fraction * typ if typ else 0.0
            self._need_cache = max(self.s.min_rom_deg, frac)
        return self._need_cache

    def gap(self, gap_s: float = math.inf, void_s: float = 0.0) -> None:
        """Samples were lost for ``gap_s`` seconds. A short gap (<= ``void_s``) keeps the
        excursion under way (the angle after it is absolute again). A longer one drops it;
        if the knees are then away from centre, that excursion is not counted either.
        The centre is kept; no rest spans a gap."""
        self._rest.clear()
        if gap_s <= void_s:
            return
        self._exc = None
        self._after_gap = True

    def _reset(self) -> None:
        self._exc = None
        self.centre = None
        self._rest.clear()
        self._buf.clear()
        self._clear_turning_points()

    def _clear_turning_points(self) -> None:
        self._tp.clear()
        self._tp_dir = 0  # +1 rising, -1 falling, 0 not yet known
        self._tp_ext = math.nan  # extreme since the last turning point
        self._tp_lo = self._tp_hi = math.nan  # range seen before the first turning point

    def _block(self, t: np.ndarray, th: np.ndarray, ra: np.ndarray, bad: bool) -> None:
        if bad:
            self._reset()
            if self.keep_trace and (not self.trace_t or t[0] > self.trace_t[-1][-1]):
                self.trace_t.append(t)
                self.trace_deg.append(np.full(len(t), np.nan))
            return
        if self.centre is None:
            self._no_centre(t, th, ra)
            return
        if self._after_gap:
            self._after_gap = False
            d0 = float(th[0]) - self.centre
            self._prev_d, self._prev_t = d0, float(t[0])
            if abs(d0) > self.s.centre_deg:
                # the knees were already away from centre: that excursion spans the gap
                self._exc = _Excursion(1 if d0 > 0 else -1, float(t[0]))
                self._exc.start_depth = math.inf
        self._step(t, th, ra)

    def _no_centre(self, t, th, ra) -> None:  # noqa: ANN001
        """Find a centre: a rest, or the midpoint of the first two turning points."""
        self._buf.append((t, th, ra))
        x = float(th[-1])
        self._rest.append(x)
        centre = None
        if (
            not self._tp
            and len(self._rest) == self._rest.maxlen
            and max(self._rest) - min(self._rest) < self.s.rest_range_deg
        ):
            # still before moving at all: that is the centre (a later stillness may be
            # an end-range hold, so once moving the turning points decide)
            centre = float(np.mean(self._rest))
        else:
            h = self.s.enter_deg
            if self._tp_dir == 0:
                if math.isnan(self._tp_ext):
                    self._tp_ext = x
                    self._tp_lo = x
                    self._tp_hi = x
                self._tp_lo = min(self._tp_lo, x)
                self._tp_hi = max(self._tp_hi, x)
                if x <= self._tp_hi - h:
                    self._tp.append(self._tp_hi)
                    self._tp_dir, self._tp_ext = -1, x
                elif x >= self._tp_lo + h:
                    self._tp.append(self._tp_lo)
                    self._tp_dir, self._tp_ext = 1, x
            elif self._tp_dir > 0:
                if x > self._tp_ext:
                    self._tp_ext = x
                elif x <= self._tp_ext - h:
                    self._tp.append(self._tp_ext)
                    self._tp_dir, self._tp_ext = -1, x
            else:
                if x < self._tp_ext:
                    self._tp_ext = x
                elif x >= self._tp_ext + h:
                    self._tp.append(self._tp_ext)
                    self._tp_dir, self._tp_ext = 1, x
            if len(self._tp) >= 3:
                centre = turning_point_centre(self._tp)
        if centre is None:
            if len(self._buf) > int(NO_CENTRE_BUFFER_S / self.s.block_s):
                self._buf.pop(0)
            return
        self.centre = centre
        self._rest.clear()
        buf, self._buf = self._buf, []
        self._clear_turning_points()
        first = True
        for bt, bth, bra in buf:
            d0 = float(bth[0]) - centre
            if first:
                self._prev_d, self._prev_t = d0, float(bt[0])
                if abs(d0) > self.s.enter_deg:
                    # started part-way out: an excursion already under way
                    self._exc = _Excursion(1 if d0 > 0 else -1, float(bt[0]))
                    self._exc.start_depth = abs(d0)
                first = False
            self._step(bt, bth, bra)

    def _step(self, t: np.ndarray, th: np.ndarray, ra: np.ndarray) -> None:
        s = self.s
        c = self.centre
        assert c is not None
        c_block = c  # the block's depths are measured from c_block; c may move (rests)
        d = th - c
        if self.keep_trace and (not self.trace_t or t[0] > self.trace_t[-1][-1]):
            self.trace_t.append(t)
            self.trace_deg.append(d)
        t_end = float(t[-1])
        d_end = float(d[-1])
        e = self._exc
        # stillness -> rests
        self._rest.append(float(th[-1]))
        still = (
            len(self._rest) == self._rest.maxlen
            and max(self._rest) - min(self._rest) < s.rest_range_deg
        )
        if e is None:
            calm = self._last_calm_t
            if d_end <= 0 or ra.max() <= CALM_RATE_DPS:
                calm[1] = t_end
            if d_end >= 0 or ra.min() >= -CALM_RATE_DPS:
                calm[-1] = t_end
            if still:
                rest = float(np.mean(self._rest))
                if abs(rest - c) < s.enter_deg:
                    self.centre = c = centre_rules.rest_pull(c, rest)
            if abs(d_end) > s.enter_deg:
                sg = 1 if d_end > 0 else -1
                start = self._last_calm_t[sg]
                if self._prev_d * sg < 0:
                    start = self._cross_time(sg)
                self._exc = e = _Excursion(sg, start)
                self._pre_rate(e)
            self._prev_d, self._prev_t = d_end, t_end
            if e is None:
                self._keep_pre(t, ra)
                return
        # out at a side
        sg = e.sign
        depth = sg * d
        e.t.append(t)
        e.depth.append(depth)
        e.rate.append(ra)
        j = int(np.argmax(depth))
        if depth[j] > e.peak:
            e.peak = float(depth[j])
            e.peak_t = float(t[j])
            e.min_after = math.inf
            e.back = self._rate_return(ra[j + 1 :], sg) if j + 1 < len(ra) else 0.0
            e.back_max = 0.0
        else:
            e.back += self._rate_return(ra, sg)
        e.back_max = max(e.back_max, e.back)
        lo = int(np.argmin(depth))
        if depth[lo] < e.min_after and t[lo] >= e.peak_t:
            e.min_after = float(depth[lo])
            e.min_after_t = float(t[lo])
        # live fast-drop cue while still falling (not right after an impact or walking)
        if not e.fast and e.min_after > e.peak - s.bounce_deg:
            self._cue_if_fast(e, float((sg * ra).max()), t_end, sg)
        if e.fast and self._rebounding(e, t_end):
            self._forget_rebound(e)
        # bounce: back by bounce_deg from a max near the peak, then out again by as much
        self._bounce_track(e, depth, t_end)
        self._excursion_end(e, sg, d_end, t_end, still, t, th, ra, c_block, c)
        self._prev_d, self._prev_t = d_end, t_end

    def _cue_if_fast(self, e: _Excursion, v: float, t_end: float, sg: int) -> None:
        """The descent reached the fast-drop speed ``v`` (deg/s): mark it, and cue it live
        if the excursion began calm (both paths, once per block while still falling)."""
        if rules.is_fast_drop(v, self.fast_drop_dps):
            e.fast = True
            e.fast_t = t_end
            if e.calm:
                e.cued = True
                self._events.append(FlagEvent(t_end, FAST_DROP, self._side(sg), v))

    @staticmethod
    def _forget_rebound(e: _Excursion) -> None:
        """Inside a fast drop's rebound window: what it does is part of the drop."""
        e.bmax, e.bmin = -math.inf, math.inf  # a fast drop's rebound is not a bounce
        e.min_after = math.inf  # ...nor a way back toward the centre
        e.back = e.back_max = 0.0

    def _excursion_end(
        self,
        e: _Excursion,
        sg: int,
        d_end: float,
        t_end: float,
        still: bool,
        t: np.ndarray,
        th: np.ndarray,
        ra: np.ndarray,
        c_block: float,
        c: float,
    ) -> None:
        """End of the excursion after this block (``t``, ``th``, ``ra``: its depths measured
        from ``c_block``, the centre at the block's start; ``c`` the centre now)? Crossed
        over to the other side, back at the centre, resting at a revisited pose, or back
        halfway and out again / stopped there: the one decision of both paths."""
        s = self.s
        if d_end * sg < -s.enter_deg:  # crossed over to the other side
            d = th - c_block
            tc = self._cross_time(-sg, t, d)
            self._complete(tc)
            ne = _Excursion(-sg, tc)
            self._exc = ne
            self._pre_rate(ne, t, ra, d)
        elif sg * d_end <= s.centre_deg:
            self._complete(t_end)
            self._exc = None
            self._last_calm_t = {1: t_end, -1: t_end}
        elif still and self._pose_revisited(e, t_end):
            pass  # the pose it rested at before going deeper is the centre (re-acquired)
        elif e.min_after <= HALFWAY * e.peak and self._back_halfway(e):
            turn = max(s.enter_deg, TURN_FRACTION * e.peak)
            if sg * d_end >= e.min_after + turn:  # came back halfway, now out again
                tm = e.min_after_t
                self._complete(tm)
                ne = _Excursion(sg, tm)
                self._exc = ne
                self._pre_rate(ne, t, ra, th - c_block)
            elif still and abs(self._rest[-1] - self._rest[0]) < s.rest_range_deg:
                self._complete(t_end)  # stopped part-way back: treat as centre
                self._exc = None
                rest = rules.exact_mean(self._rest)
                self.centre = c + s.partway_rest_weight * (rest - c)
                self._last_calm_t = {1: t_end, -1: t_end}

    # ------------------------------------------------------------------ fast path
    # The same rules as _block/_step, block by block, but everything that does not
    # depend on the state machine is computed with numpy once per feed (_Feed: per-block
    # last samples, rate extremes and sums, rest-window ranges and means) or once per run
    # of blocks with one centre and side (_Run: depths, their extremes and where they
    # are, end depths, the cue's speed test, chains of blocks that only go deeper). The
    # state machine then acts only where something can happen: quiet stretches at centre
    # (_quiet) and the running numbers out at a side (_out) are stepped in light loops
    # on Python floats, and a block goes the full way (_excursion_end, the per-block code
    # below) only where the excursion may end, cue, rebound or bounce. Scalars have the
    # values numpy gives per block, so the results are identical (tests compare).

    def _blocks(
        self, t: np.ndarray, th: np.ndarray, ra: np.ndarray, calm_b: np.ndarray, bad: np.ndarray
    ) -> None:
        s = self.s
        k = self.k
        nb = len(t)
        f = _Feed(t, th, ra, calm_b, bad)
        f.rest_rng_a, mean = self._rest_ranges(f.th_last_a)
        f.rest_rng = f.rest_rng_a.tolist()
        f.rest_mean = None if mean is None else mean.tolist()
        t_first, t_last, th_last = f.t_first, f.t_last, f.th_last
        ra_max, ra_min, ra_sum = f.ra_max, f.ra_min, f.ra_sum
        calm_l, bad_l = f.calm, f.bad
        lim = (self.fast_drop_dps, s.centre_deg, s.enter_deg, s.rest_range_deg)
        enter, rest_range = s.enter_deg, s.rest_range_deg
        rest = self._rest
        rest_n = rest.maxlen
        trace = self.keep_trace
        odr = self.odr_hz
        bounce_deg = s.bounce_deg
        run: _Run | None = None
        j = -1
        quiet_from = 0  # no quiet stretch at centre starts before this block
        while j + 1 < nb:
            j += 1
            self._calm = calm_l[j]
            if bad_l[j] or self.centre is None or self._after_gap:
                self._block(t[j], th[j], ra[j], bad_l[j])
                continue
            c = c_top = self.centre
            e = self._exc
            if e is None and j >= quiet_from:
                q = self._quiet(j, nb, f)
                if q > 0:
                    j = q - 1
                    continue
                quiet_from = -q  # the next block that could start a quiet stretch
            tj = t[j]
            d_row = None
            if e is not None:
                sg = e.sign
                if run is None or not (run.j0 <= j < run.j1 and run.sg == sg and run.c == c_top):
                    run = _Run(j, min(nb, j + RUN_BLOCKS), sg, c_top, f, lim)
                q = self._out(j, run, f)
                if q > j:
                    j = q - 1
                    continue
                d_row = run.d[j - run.j0]
            if trace and (not self.trace_t or t_first[j] > self.trace_t[-1][-1]):
                self.trace_t.append(tj)
                self.trace_deg.append(th[j] - c if d_row is None else d_row)
            t_end = t_last[j]
            d_end = th_last[j] - c
            rest.append(th_last[j])
            still = len(rest) == rest_n and max(rest) - min(rest) < rest_range
            if e is None:
                calm = self._last_calm_t
                if d_end <= 0 or ra_max[j] <= CALM_RATE_DPS:
                    calm[1] = t_end
                if d_end >= 0 or ra_min[j] >= -CALM_RATE_DPS:
                    calm[-1] = t_end
                if still:
                    r = rules.exact_mean(rest)
                    if abs(r - c) < enter:
                        self.centre = c = centre_rules.rest_pull(c, r)
                if abs(d_end) > enter:
                    sg = 1 if d_end > 0 else -1
                    start = self._last_calm_t[sg]
                    if self._prev_d * sg < 0:
                        start = self._cross_time(sg)
                    self._exc = e = _Excursion(sg, start)
                    self._pre_rate(e)
                self._prev_d, self._prev_t = d_end, t_end
                if e is None:
                    self._pre.append((tj, ra[j]))
                    continue
                sg = e.sign
                if run is None or not (run.j0 <= j < run.j1 and run.sg == sg and run.c == c_top):
                    run = _Run(j, min(nb, j + RUN_BLOCKS), sg, c_top, f, lim)
            # out at a side
            assert run is not None
            i = j - run.j0
            raj = ra[j]
            e.t.append(tj)
            e.depth.append(run.depth[i])
            e.rate.append(raj)
            dmax = run.dmax[i]
            if dmax > e.peak:
                jj = run.amax[i]
                e.peak = dmax
                e.peak_t = run.tmax[i]
                e.min_after = math.inf
                e.back = self._rate_return(raj[jj + 1 :], sg) if jj + 1 < k else 0.0
                e.back_max = 0.0
            else:
                e.back += -sg * ra_sum[j] / odr
            e.back_max = max(e.back_max, e.back)
            dmin = run.dmin[i]
            if dmin < e.min_after and run.tmin[i] >= e.peak_t:
                e.min_after = dmin
                e.min_after_t = run.tmin[i]
            # live fast-drop cue while still falling (not right after an impact or walking)
            if not e.fast and e.min_after > e.peak - bounce_deg:
                self._cue_if_fast(e, ra_max[j] if sg > 0 else -ra_min[j], t_end, sg)
            if e.fast and self._rebounding(e, t_end):
                self._forget_rebound(e)
            if not e.bounced:
                bmax = e.bmax
                if dmax > bmax or bmax >= e.peak - max(
                    BOUNCE_NEAR_DEG, BOUNCE_NEAR_FRACTION * e.peak
                ):
                    if dmax <= bmax:
                        lo = min(e.bmin, dmin)
                        if dmax - lo < bounce_deg:
                            # no new max and no sample this far above the running min
                            # (no bounce possible): only the running min moves
                            e.bmin = lo
                        else:
                            self._bounce_values(e, run.rows()[i], t_end)
                    elif run.rising[i] and dmin > bmax:  # rising: dmin is its first sample
                        e.bmax, e.bmin = dmax, math.inf  # each sample a new max
                    else:
                        self._bounce_values(e, run.rows()[i], t_end)
                # else: no new max and not near the peak: the bounce tracker is unchanged
            self._excursion_end(e, sg, d_end, t_end, still, tj, th[j], raj, c_top, c)
            self._prev_d, self._prev_t = d_end, t_end

    def _rest_ranges(self, th_last: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Per block of this feed: the range and the mean (:func:`rules.exact_means`, None
        if the window is too long for it) of the last ``rest`` window of block-end angles
        (the rests before the feed, then these), where the window is full; inf (range) and
        nan (mean) before. While the rests are not cleared, these are what ``max(rest) -
        min(rest)`` and ``exact_mean(rest)`` give once the block's end is in: each block
        appends its end, in order, and a clear (bad block, gap) leaves fewer than a
        window's values until as many blocks have passed (so a full deque's values are
        always the last window's)."""
        rest = self._rest
        n = rest.maxlen
        assert n is not None
        nb = len(th_last)
        hist = np.concatenate([np.array(rest, dtype=float), th_last])
        first = n - 1 - len(rest)  # block whose window is the first full one
        rng = np.full(nb, math.inf)
        mean = np.full(nb, math.nan) if n <= rules.PAIRWISE_MAX else None
        off = max(-first, 0)  # hist index of the first full window's start
        cnt = len(hist) - n + 1 - off  # full windows ending in this feed
        if cnt > 0:
            cols = [hist[off + q : off + q + cnt] for q in range(n)]
            rng[nb - cnt :] = reduce(np.maximum, cols) - reduce(np.minimum, cols)
            if mean is not None:
                mu = rules.exact_means(cols)
                assert mu is not None
                mean[nb - cnt :] = mu
        return rng, mean

    def _out(self, j: int, run: _Run, f: _Feed) -> int:
        """Out at a side: the blocks from ``j`` in ``run`` stepped in one light loop while
        only the excursion's running numbers change (peak, way back, lowest depth since
        the peak, bounce tracker, the pose of a rest); a chain of blocks that only go
        deeper is stepped at once. A block that may end the excursion (back near or past
        the centre, back halfway, at a pose it rested at before) goes through the shared
        :meth:`_excursion_end`. Stops before a block that may cue, rebound or bounce, or
        is bad, and after one that ended the excursion or moved the centre; returns the
        first block not stepped (the caller steps it the full way)."""
        e = self._exc
        c = self.centre
        assert e is not None and c is not None
        s = self.s
        sg = e.sign
        k = self.k
        odr = self.odr_hz
        t, th, ra = f.t, f.th, f.ra
        t_first, t_last, th_last, ra_sum, bad_l = f.t_first, f.t_last, f.th_last, f.ra_sum, f.bad
        enter, centre_deg, rest_range = s.enter_deg, s.centre_deg, s.rest_range_deg
        bounce_deg, rebound_s = s.bounce_deg, s.rebound_s
        rest = self._rest
        rest_n = rest.maxlen
        full = len(rest) == rest_n
        trace = self.keep_trace
        r0 = run.j0
        r_dmax, r_dmin, r_tmin, r_amax, r_tmax = run.dmax, run.dmin, run.tmin, run.amax, run.tmax
        r_rising, r_dend, r_sd, r_still = run.rising, run.d_end, run.sd, run.still
        r_deeper, r_fast = run.deeper, run.fast
        poses = e.poses
        need: float | None = None
        peak, peak_t = e.peak, e.peak_t
        min_after, min_after_t = e.min_after, e.min_after_t
        back, back_max = e.back, e.back_max
        bmax, bmin = e.bmax, e.bmin
        fast, fast_t, bounced = e.fast, e.fast_t, e.bounced
        j_end = run.j1
        j_start = js = jr = j  # js: first block not in e.t ...; jr: first not in the rests
        d_end = t_end = 0.0
        ended = False
        while j < j_end:
            if bad_l[j]:
                break
            i = j - r0
            dmax = r_dmax[i]
            q = r_deeper[i]
            if q and not fast and dmax > peak and (bounced or r_dmin[i] > bmax):
                # blocks i..q-1 only go deeper: each is the new peak (its last sample, no
                # way back yet, no low since), each sample a new max of the bounce tracker
                i = q - 1
                peak, peak_t, min_after = r_dmax[i], r_tmax[i], math.inf
                back = back_max = 0.0
                if not bounced:
                    bmax, bmin = peak, math.inf
                if trace:
                    for b in range(j, r0 + q):
                        if not self.trace_t or t_first[b] > self.trace_t[-1][-1]:
                            self.trace_t.append(t[b])
                            self.trace_deg.append(run.d[b - r0])
                j = r0 + q
                d_end, t_end = r_dend[i], t_last[j - 1]
                if not full:
                    rest.extend(th_last[jr:j])
                    jr = j
                    full = len(rest) == rest_n
                continue
            if dmax > peak:
                jj = r_amax[i]
                pk, pk_t, lo_a, lo_t = dmax, r_tmax[i], math.inf, min_after_t
                bk = self._rate_return(ra[j, jj + 1 :], sg) if jj + 1 < k else 0.0
                bk_max = 0.0
            else:
                pk, pk_t, lo_a, lo_t = peak, peak_t, min_after, min_after_t
                bk = back + -sg * ra_sum[j] / odr
                bk_max = back_max
            if bk > bk_max:  # max(bk_max, bk)
                bk_max = bk
            dmin = r_dmin[i]
            if dmin < lo_a and r_tmin[i] >= pk_t:
                lo_a = dmin
                lo_t = r_tmin[i]
            t_end = t_last[j]
            if not fast and r_fast[i] and lo_a > pk - bounce_deg:
                break  # the cue: the full step
            if fast and rules.in_rebound(t_end - fast_t, rebound_s):
                break  # the rebound: the full step
            b_max, b_min = bmax, bmin
            if not bounced and (
                dmax > b_max or b_max >= pk - max(BOUNCE_NEAR_DEG, BOUNCE_NEAR_FRACTION * pk)
            ):
                lo = dmin if dmin < b_min else b_min  # min(b_min, dmin)
                if dmax <= b_max and dmax - lo < bounce_deg:
                    b_min = lo  # no bounce possible: the running min moves
                elif dmax > b_max and r_rising[i] and dmin > b_max:
                    b_max, b_min = dmax, math.inf  # each sample a new max
                else:
                    b_max, b_min, hit = _scan_bounce(run.rows()[i], b_max, b_min, pk, bounce_deg)
                    if hit:
                        break  # a bounce: the full step
            # the block is stepped here
            peak, peak_t, min_after, min_after_t = pk, pk_t, lo_a, lo_t
            back, back_max, bmax, bmin = bk, bk_max, b_max, b_min
            d_end = r_dend[i]
            if trace and (not self.trace_t or t_first[j] > self.trace_t[-1][-1]):
                self.trace_t.append(t[j])
                self.trace_deg.append(run.d[i])
            sd = r_sd[i]
            j += 1
            if not full:
                rest.extend(th_last[jr:j])
                jr = j
                full = len(rest) == rest_n
            still = full and r_still[i]
            if sd > centre_deg and sd >= -enter:  # not back at the centre, not across
                revisit = False
                if still:  # the pose of the rest (as _pose_revisited, short of a revisit)
                    rest.extend(th_last[jr:j])
                    jr = j
                    depth = sg * (sum(rest) / len(rest) - c)
                    if need is None:
                        need = self._need()  # (changes only when a rep is counted)
                    for pose in poses:
                        if rules.is_pose_revisit(
                            depth, pose[0], pose[1], peak, peak_t, POSE_MATCH_DEG, need
                        ):
                            revisit = True  # a pose it rested at before going deeper
                            break
                    else:
                        if poses and abs(poses[-1][0] - depth) <= POSE_MATCH_DEG:
                            poses[-1][1] = t_end
                        else:
                            poses.append([depth, t_end])
                if not revisit:
                    if min_after > HALFWAY * peak or not rules.return_is_real(
                        back_max, peak - min_after, RATE_BACKED_FRACTION
                    ):
                        continue  # not back halfway: nothing ends here
                    if sd < min_after + max(enter, TURN_FRACTION * peak) and not (
                        still and abs(rest[-1] - rest[0]) < rest_range
                    ):
                        continue  # back halfway, neither out again nor stopped there
            # it may end here: the shared decision, on the state written back
            e.peak, e.peak_t, e.min_after, e.min_after_t = peak, peak_t, min_after, min_after_t
            e.back, e.back_max, e.bmax, e.bmin = back, back_max, bmax, bmin
            self._keep_blocks(e, run, js, j, t, ra)
            rest.extend(th_last[jr:j])
            js = jr = j
            self._calm = f.calm[j - 1]  # a new excursion begun here takes this block's
            self._excursion_end(e, sg, d_end, t_end, still, t[j - 1], th[j - 1], ra[j - 1], c, c)
            if self._exc is not e or self.centre != c:
                ended = True
                break
        if not ended:
            e.peak, e.peak_t, e.min_after, e.min_after_t = peak, peak_t, min_after, min_after_t
            e.back, e.back_max, e.bmax, e.bmin = back, back_max, bmax, bmin
            self._keep_blocks(e, run, js, j, t, ra)
            rest.extend(th_last[jr:j])
        if j > j_start:
            self._prev_d, self._prev_t = d_end, t_end
            self._calm = f.calm[j - 1]
        return j

    @staticmethod
    def _keep_blocks(
        e: _Excursion, run: _Run, j0: int, j1: int, t: np.ndarray, ra: np.ndarray
    ) -> None:
        """Add blocks ``j0``..``j1`` of ``run`` to the excursion's samples (one piece)."""
        if j1 > j0:
            e.t.append(t[j0:j1].reshape(-1))
            e.depth.append(run.depth[j0 - run.j0 : j1 - run.j0].reshape(-1))
            e.rate.append(ra[j0:j1].reshape(-1))

    def _quiet(self, j0: int, j1: int, f: _Feed) -> int:
        """At centre with no excursion: the blocks from ``j0`` (before ``j1``) that stay
        inside the band (rests pulling the centre, as in :meth:`_step`) are stepped in one
        light loop, with the feed's rest-window ranges and means (:meth:`_rest_ranges`).
        Returns the first block that needs the full state machine; if none were stepped,
        minus the next block that could start such a stretch."""
        s = self.s
        c = self.centre
        assert c is not None
        rest = self._rest
        n = rest.maxlen
        assert n is not None
        bad_l, last_l = f.bad, f.th_last
        enter = s.enter_deg
        if f.rest_mean is None or bad_l[j0] or abs(last_l[j0] - c) > enter:
            return -(j0 + 1)  # leaves at once (or rests this long: numpy's mean per block)
        means = f.rest_mean
        rng = f.rest_rng
        rest_range = s.rest_range_deg
        full_from = j0 + max(n - 1 - len(rest), 0)  # first block with a full rest window
        rmax, rmin = f.ra_max, f.ra_min
        calm_r = calm_l = -1  # last block calm toward each side (+1, -1)
        cs: list[float] = []
        b = j0
        while b < j1:
            if bad_l[b]:
                break
            d = last_l[b] - c
            if abs(d) > enter:
                break
            cs.append(c)
            if d <= 0 or rmax[b] <= CALM_RATE_DPS:
                calm_r = b
            if d >= 0 or rmin[b] >= -CALM_RATE_DPS:
                calm_l = b
            if b >= full_from and rng[b] < rest_range:  # still
                r = means[b]
                if abs(r - c) < enter:
                    c = centre_rules.rest_pull(c, r)
            b += 1
        if b - j0 < QUIET_MIN:
            return -(j0 + 1)
        j1 = b
        t, th, ra = f.t, f.th, f.ra
        if self.keep_trace:
            tt = t[j0:j1]
            dd = th[j0:j1] - np.array(cs)[:, None]
            if (not self.trace_t or tt[0, 0] > self.trace_t[-1][-1]) and bool(
                (tt[1:, 0] > tt[:-1, -1]).all()
            ):
                self.trace_t.extend(tt)
                self.trace_deg.extend(dd)
            else:
                for b in range(j0, j1):
                    if not self.trace_t or t[b, 0] > self.trace_t[-1][-1]:
                        self.trace_t.append(t[b])
                        self.trace_deg.append(dd[b - j0])
        self.centre = c
        t_end = f.t_last
        calm = self._last_calm_t
        if calm_r >= 0:
            calm[1] = t_end[calm_r]
        if calm_l >= 0:
            calm[-1] = t_end[calm_l]
        rest.extend(last_l[j0:j1])
        self._prev_d, self._prev_t = last_l[j1 - 1] - cs[-1], t_end[j1 - 1]
        pre_n = self._pre.maxlen
        assert pre_n is not None
        for b in range(max(j0, j1 - pre_n), j1):
            self._pre.append((t[b], ra[b]))
        return j1

    def _bounce_values(self, e: _Excursion, depth: list[float], t_end: float) -> None:
        """:meth:`_bounce_track` on the block's depths as Python floats."""
        bmax, bmin, bounced = _scan_bounce(depth, e.bmax, e.bmin, e.peak, self.s.bounce_deg)
        e.bmax, e.bmin = bmax, bmin
        if bounced:
            e.bounced = True
            self._events.append(FlagEvent(t_end, BOUNCE, self._side(e.sign), bmax - bmin))

    def _rate_return(self, ra: np.ndarray, sg: int) -> float:
        """The way back toward the centre by the rate over these samples, deg (nominal
        periods: samples lost in a gap add nothing, which only makes the check stricter)."""
        return -sg * float(ra.sum()) / self.odr_hz

    def _back_halfway(self, e: _Excursion) -> bool:
        """Came back at least halfway from the peak, and the rate shows the way back
        (:func:`rules.return_is_real`)."""
        if e.min_after > HALFWAY * e.peak:
            return False
        return rules.return_is_real(e.back_max, e.peak - e.min_after, RATE_BACKED_FRACTION)

    def _pose_revisited(self, e: _Excursion, t_end: float) -> bool:
        """Still during an excursion: remember the pose; if it is a pose the excursion
        rested at before going on deeper by a rep's range (:func:`rules.is_pose_revisit`),
        that pose is the centre (the first rest was not an end range: the recording began
        at a side, or the strap slipped). Re-acquire the centre there, count the deeper
        part as the rep about it, and forget the side peaks of the old frame."""
        assert self.centre is not None
        rest = sum(self._rest) / len(self._rest)
        depth = e.sign * (rest - self.centre)
        need = self._need()
        for pose in e.poses:
            if rules.is_pose_revisit(
                depth, pose[0], pose[1], e.peak, e.peak_t, POSE_MATCH_DEG, need
            ):
                break
        else:
            last = e.poses[-1] if e.poses else None
            if last is not None and abs(last[0] - depth) <= POSE_MATCH_DEG:
                last[1] = t_end
            else:
                e.poses.append([depth, t_end])
            return False
        t_leave = pose[1]
        shift = e.sign * (rest - self.centre)  # new depth = old depth - shift
        t = np.concatenate(e.t)
        keep = t >= t_leave
        dep = np.concatenate(e.depth)[keep] - shift
        e.t = [t[keep]]
        e.depth = [dep]
        e.rate = [np.concatenate(e.rate)[keep]]
        j = int(np.argmax(dep))
        e.peak, e.peak_t = float(dep[j]), float(e.t[0][j])
        e.start_s, e.start_depth = t_leave, 0.0
        self.centre = rest
        for pk in self._peaks.values():
            pk.clear()
        self._complete(t_end)
        self._exc = None
        self._last_calm_t = {1: t_end, -1: t_end}
        return True

    def _rebounding(self, e: _Excursion, t_s: float) -> bool:
        """Within ``rebound_s`` of a fast drop's speed: the swing back (a real rebound, or
        without a gyro the gravity reading tilted by the abrupt stop) is part of the drop."""
        return e.fast and rules.in_rebound(t_s - e.fast_t, self.s.rebound_s)

    def _keep_pre(self, t: np.ndarray, ra: np.ndarray) -> None:
        """Remember the last second of blocks at centre (a drop can start inside the band)."""
        self._pre.append((t, ra))

    def _pre_rate(self, e: _Excursion, t=None, ra=None, d=None) -> None:  # noqa: ANN001
        """Seed a new excursion with the samples since its start that it has not seen."""
        e.calm = self._calm
        if t is not None:
            m = t >= e.start_s
            if m.any():
                e.t.append(t[m])
                e.depth.append(e.sign * d[m])
                e.rate.append(ra[m])
                self._pre.clear()
                return
        if self._pre:
            pt = np.concatenate([b[0] for b in self._pre])
            pr = np.concatenate([b[1] for b in self._pre])
            m = pt >= e.start_s
            if m.any():
                # depth unknown for these (already-seen) samples: use the rate only
                e.t.append(pt[m])
                e.depth.append(np.full(int(m.sum()), -math.inf))
                e.rate.append(pr[m])
        self._pre.clear()

    def _cross_time(self, sg: int, t=None, d=None) -> float:  # noqa: ANN001
        """Time the angle crossed the centre toward side ``sg`` (interpolated per block)."""
        if t is not None:
            idx = np.nonzero(sg * d > 0)[0]
            if len(idx):
                return float(t[idx[0]])
            return float(t[-1])
        return self._prev_t

    def _bounce_track(self, e: _Excursion, depth: np.ndarray, t_end: float) -> None:
        if not e.bounced:
            self._bounce_values(e, depth.tolist(), t_end)

    def _complete(self, end_s: float) -> None:
        e = self._exc
        s = self.s
        if e is None or not e.t:
            return
        peak = e.peak
        # (the checks that need no samples first: each only returns)
        if end_s - e.start_s < s.min_rep_s:
            return
        if self.reps and e.start_s < self.reps[-1].end_s - 1e-6:
            return  # re-analysed history overlapping a rep already counted
        if e.start_depth > HALFWAY * peak:
            return  # began mostly outside the recording
        if peak < self._need():
            return
        t = np.concatenate(e.t)
        depth = np.concatenate(e.depth)
        rate = np.concatenate(e.rate) * e.sign
        m = t <= end_s + 1e-9
        if not m.all():
            t, depth, rate = t[m], depth[m], rate[m]
        if len(t) == 0:
            return
        tol = max(s.hold_tolerance_deg, HOLD_FRACTION * peak)
        near = np.nonzero(depth >= peak - tol)[0]
        i_arr, i_leave = int(near[0]), int(near[-1])
        arrive, leave = float(t[i_arr]), float(t[i_leave])
        desc = rate[: i_arr + 1]
        ret = -rate[i_leave:]
        if e.fast:  # the settling after a fast drop's stop is its rebound, not a return
            ret = ret[t[i_leave:] >= e.fast_t + s.rebound_s]
        peak_desc = float(desc.max()) if len(desc) else 0.0
        peak_ret = float(ret.max()) if len(ret) else 0.0
        flags = []
        if rules.is_fast_drop(peak_desc, self.fast_drop_dps):
            flags.append(FAST_DROP)
        if e.bounced:
            flags.append(BOUNCE)
        if rules.is_fast_return(peak_ret, self.fast_return_dps):
            flags.append(FAST_RETURN)
            self._events.append(FlagEvent(end_s, FAST_RETURN, self._side(e.sign), peak_ret))
        if not self.has_gyro and s.accel_only_lever_m > 0:  # reported speeds, not flags
            lever = (s.accel_only_lever_m, s.accel_only_lever_span_s, s.accel_only_lever_cap)
            if len(desc):
                peak_desc = rules.lever_corrected_peak(rate, t, int(desc.argmax()), *lever)
            if len(ret):
                j = len(rate) - len(ret) + int(ret.argmax())  # ret is the tail of -rate
                peak_ret = -rules.lever_corrected_peak(rate, t, j, *lever)
        if not self.has_gyro and e.fast:
            held = rules.settled_depth(
                t, depth, rate, e.fast_t + s.rebound_s, s.accel_only_settle_still_dps,
                s.accel_only_settle_span_s, s.accel_only_settle_min_s,
            )  # fmt: skip
            if held is not None and peak - held > s.accel_only_overshoot_deg:
                peak = held
        side_roms = self._side_roms[e.sign]
        if rules.is_partial(peak, side_roms, s.partial_fraction, PARTIAL_MIN_HISTORY):
            flags.append(PARTIAL)
        if FAST_DROP in flags and not e.cued:
            self._events.append(FlagEvent(arrive, FAST_DROP, self._side(e.sign), peak_desc))
        rep = Rep(
            index=len(self.reps) + 1,
            side=self._side(e.sign),
            start_s=e.start_s,
            peak_s=e.peak_t,
            end_s=end_s,
            rom_deg=peak,
            descent_s=arrive - e.start_s,
            hold_s=leave - arrive,
            return_s=end_s - leave,
            peak_descent_dps=peak_desc,
            peak_return_dps=peak_ret,
            flags=tuple(flags),
        )
        self.reps.append(rep)
        self._roms.append(peak)
        self._need_cache = None
        side_roms.append(peak)
        assert self.centre is not None
        self._peaks[e.sign].append(self.centre + e.sign * peak)
        self._clamp_centre()
        self._events.append(RepEvent(end_s, rep))

    def _clamp_centre(self) -> None:
        assert self.centre is not None
        self.centre = centre_rules.clamp_between_sides(self.centre, self._peaks[1], self._peaks[-1])
