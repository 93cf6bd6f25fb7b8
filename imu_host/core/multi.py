"""Two and three boards: knees moving as one unit, shoulders staying down.

Pure numpy, like the rest of ``core``: no files, clocks, printing or I/O. The live loop
(``imu_host.live.multi``) and the replay of a multi-board recording (``imu_host.io.multi``)
feed the same calls in the same order, so a replay gives exactly the events live showed.

Boards and roles
    ``left-thigh`` / ``right-thigh``: a thigh board each, each through its own
    :class:`~imu_host.core.pipeline.Pipeline` (the one causal path: roll angle about the
    learned axis, mounting-invariant, and reps). ``sternum``: a board flat on the chest;
    its trunk roll is how far gravity turns in it from its rest direction.
    The **primary** thigh (left if present, else right) counts the reps and names the
    sides, exactly as a single-board session would; the other boards add checks. A board
    that drops out degrades the session to the boards that remain (a :class:`BoardEvent`);
    if the primary drops out, the other thigh's reps continue the count.

Time alignment (every board has its own clock, drifting by up to a few hundred ppm)
    1. Arrival times: ``feed(role, samples, host_s)`` says the block's last sample had
       arrived by host time ``host_s``. Per ``clock_bucket_s`` of device time the
       smallest ``host_s - t_dev`` is kept (the least-delayed arrival: the latency floor);
       a line through the last ``clock_buckets`` minima gives offset and drift
       (:class:`ArrivalClock`). Every board's time is mapped into the primary board's
       device time (the session time; the primary's reps keep their own times).
       Arrival times cannot see a board's latency floor, and two boards' floors differ
       (BLE: by 10 ms and more). Pings can: ``ping(role, host_sent_s, device_t_s,
       host_received_s)`` says the board handled a ping sent at ``host_sent_s`` at its
       device time ``device_t_s``, so host - device >= ``host_sent_s - device_t_s`` + the
       down-link delay; the answer is one more arrival (host - device <= ``host_received_s
       - device_t_s``). Per bucket the largest ``host_sent_s - t_dev`` is kept (the upper
       envelope); with ``ping_min_buckets`` of them both envelopes are fitted together
       (one drift, one half-gap) and the line midway is the clock. That cancels the
       floors exactly when the up- and down-link floors are equal (NTP's assumption); a
       difference between them moves the board by half of it. The host times come in
       as data (the live loop reads its clock; a recording keeps them).
    2. Shared motion (for boards without ping clocks; with them it is only measured,
       ``motion_residual_s``, unless ``refine_with_pings``):
       both thighs roll together, so on every rep the time shift that best overlays the
       other thigh's angular-rate magnitude (rates averaged over ``rate_smooth_s`` first)
       on the primary's is measured. Shifts smaller than ``refine_max_s`` are clock error
       (the median over the last ``refine_reps`` such reps corrects the other thigh's
       clock); larger ones are a lagging leg. The trunk's roll is coupled to the knees':
       on reps where the chest turned fast enough (``trunk_refine_min_dps``) the shift of
       the sternum's rate magnitude against a thigh's corrects the sternum's clock alike.

Rules (per rep of the primary; figures in :class:`MultiRepEvent.figures`)
    ``knees_apart``: the thighs' roll angles differ by more than ``separation_deg``
    during the rep, or one leg follows the other by more than ``lag_s``. Cued live ("keep
    the knees together") once the difference has lasted ``sustain_s`` while out at a
    side; a rep flagged only by its lag is cued when it ends.
    ``shoulder_lift``: the upper trunk rolls by more than ``trunk_roll_deg`` during the
    rep (the opposite shoulder leaving the floor), cued live ("shoulders down") likewise.

Figures per rep: ``separation_deg`` (max |difference| of the thighs' roll, deg),
``lag_s`` (how late the lagging leg follows, s, >= 0), ``lagging`` (its role or None),
``trunk_roll_deg`` (max trunk roll, deg), ``boards`` (roles that were streaming),
``flags``. None where the board needed for a figure was not there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from imu_host.core import quantiles
from imu_host.core.events import (
    KNEES_APART,
    LEFT,
    MULTI_FLAGS,
    RIGHT,
    SHOULDER_LIFT,
    Event,
    FlagEvent,
    Rep,
    RepEvent,
)
from imu_host.core.iir import IIRFilter, butter2_lowpass
from imu_host.core.pipeline import Pipeline, Settings
from imu_host.core.samples import Samples
from imu_host.core.stats import summarize

LEFT_THIGH = "left-thigh"
RIGHT_THIGH = "right-thigh"
STERNUM = "sternum"
THIGHS = (LEFT_THIGH, RIGHT_THIGH)
ROLES = (LEFT_THIGH, RIGHT_THIGH, STERNUM)

# KNEES_APART, SHOULDER_LIFT, MULTI_FLAGS: core flags (imu_host.core.events), re-exported
CUES = {KNEES_APART: "keep the knees together", SHOULDER_LIFT: "shoulders down"}


@dataclass(frozen=True)
class MultiSettings:
    """Multi-board tuning. Angles in degrees, times in seconds."""

    pipeline: Settings = field(default_factory=Settings)  # every thigh's pipeline
    separation_deg: float = 8.0  # thighs' roll differing by more than this: knees apart
    lag_s: float = 0.25  # one leg following the other by more than this: knees apart
    sustain_s: float = 0.2  # a difference must last this long before it is cued live
    trunk_roll_deg: float = 10.0  # upper-trunk roll above this during a rep: shoulder lift
    lag_search_s: float = 0.8  # largest lag looked for (and data waited for after a rep)
    lag_step_s: float = 0.01  # lag search resolution (refined by a parabola)
    min_lag_motion_deg: float = 5.0  # a rep moving less than this gives no lag estimate
    clock_bucket_s: float = 2.0  # one arrival minimum per this much device time
    clock_buckets: int = 90  # offset and drift fitted over the last this many minima
    clock_jump_s: float = 0.5  # minima this far above the fit, 3 in a row: clock restarted
    ping_min_buckets: int = 3  # ping maxima (one per clock bucket) before pings are used
    ping_max_rtt_s: float = 0.5  # a ping answered later than this (host time) is ignored
    refine_with_pings: bool = False  # the shared-motion shift corrects a board's clock even
    # when it and the reference both have ping clocks (off: with pings it is only measured,
    # as ``shared_motion_residual_s``; in the simulator it is the larger error there)
    refine_max_s: float = 0.06  # per-rep thigh shifts below this are clock error
    refine_reps: int = 9  # clock correction: median shift of the last this many such reps
    rate_smooth_s: float = 0.05  # angular rates are averaged over this (centred, no delay)
    # before their magnitude is compared: the magnitude of white gyro noise is a floor that
    # differs between boards and, on a rep faster out than back, biases the shift found
    trunk_refine_min_dps: float = 10.0  # a rep refines the sternum's clock only when the
    # chest's rate magnitude spans this much (a lifting shoulder: 14+ deg of trunk roll);
    # with the shoulders down (2-5 deg) the chest turns at 1-5 deg/s and the shift is noise
    dropout_s: float = 1.5  # a board this far behind the others has dropped out
    max_wait_s: float = 25.0  # a rep waits at most this long for a board's angles: a thigh
    # still learning its roll axis holds them back (up to OrientationSettings.backfill_s,
    # 20 s); a board whose angles never come does not hold the count back for longer
    trunk_cutoff_hz: float = 1.5  # gravity low-pass of the sternum board
    trunk_epoch_s: float = 0.5  # the sternum's rest direction is updated this often...
    trunk_still_dps: float = 3.0  # ...when gravity turned slower than this over the epoch
    trunk_rest_deg: float = 5.0  # ...and stayed within this of the rest direction
    trunk_rest_weight: float = 0.3  # how far one still epoch moves the rest direction
    sign_evidence_deg2_s: float = 200.0  # shared motion (sum of angle products x dt) before
    # the other thigh's sign is trusted (a board strapped any way round: its angle may be
    # mirrored; both thighs roll together, so the sign of the product decides)
    baseline_time_constant_s: float = 2.0  # the thighs' difference at centre (each board
    # learns its own centre) is followed with this time constant and taken off
    history_s: float = 120.0  # angle history kept per board


# ------------------------------------------------------------------------ events


@dataclass(frozen=True)
class BoardEvent:
    """A board dropped out (``state="dropped"``) or came back (``"back"``)."""

    t_s: float  # session time
    role: str
    state: str
    remaining: tuple[str, ...]  # roles streaming after the change

    def to_dict(self) -> dict:
        return {
            "event": "board",
            "t_s": round(self.t_s, 3),
            "role": self.role,
            "state": self.state,
            "remaining": list(self.remaining),
        }


@dataclass(frozen=True)
class MultiRepEvent(RepEvent):
    """A completed rep with the multi-board figures (see the module docstring)."""

    figures: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "multi": self.figures}


MultiEvent = Event | BoardEvent


# ------------------------------------------------------------------------ helpers


class _Series:
    """Growing (t, x) arrays with trimming of old samples (amortised appends)."""

    def __init__(self) -> None:
        self.t = np.zeros(256)
        self.x = np.zeros(256)
        self.n = 0
        self.first = 0

    def append(self, t: np.ndarray, x: np.ndarray) -> None:
        k = len(t)
        if self.n + k > len(self.t):
            live = self.n - self.first
            cap = max(256, 2 * (live + k))
            nt, nx = np.zeros(cap), np.zeros(cap)
            nt[:live], nx[:live] = self.t[self.first : self.n], self.x[self.first : self.n]
            self.t, self.x, self.n, self.first = nt, nx, live, 0
        self.t[self.n : self.n + k] = t
        self.x[self.n : self.n + k] = x
        self.n += k

    def trim(self, before: float) -> None:
        i = int(np.searchsorted(self.t[self.first : self.n], before))
        self.first += i

    @property
    def last_t(self) -> float | None:
        return float(self.t[self.n - 1]) if self.n > self.first else None

    def window(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        t = self.t[self.first : self.n]
        i0, i1 = int(np.searchsorted(t, t0)), int(np.searchsorted(t, t1, side="right"))
        return t[i0:i1], self.x[self.first + i0 : self.first + i1]


class ArrivalClock:
    """Device time -> host time from arrival times (lower envelope) and, where the board
    answers pings, from ping send times (upper envelope); see the module docstring."""

    def __init__(self, settings: MultiSettings) -> None:
        self.s = settings
        self.buckets: list[tuple[int, float, float]] = []  # (bucket, t_dev, host - t_dev)
        # pings: (bucket, t_dev, host_sent - t_dev), the largest per bucket
        self.pings: list[tuple[int, float, float]] = []
        self._above = 0
        self._fit: tuple[float, float] | None = None

    @property
    def pinged(self) -> bool:
        """Whether the fit uses pings (at least ``ping_min_buckets`` of them kept)."""
        return len(self.pings) >= self.s.ping_min_buckets

    def observe(self, t_dev: float, host_s: float) -> None:
        """A sample taken at device time ``t_dev`` had arrived by host time ``host_s``."""
        if self._low(t_dev, host_s - t_dev):
            self._fit = None
            self._fit = self.fit()

    def observe_ping(self, host_sent_s: float, t_dev: float, host_received_s: float) -> None:
        """A ping sent at host time ``host_sent_s``, handled at device time ``t_dev``, its
        answer read at host time ``host_received_s``. The answer is an arrival like a
        sample's (host - device <= ``host_received_s - t_dev``); the send bounds the
        offset from below (host - device >= ``host_sent_s - t_dev`` + the down-link delay).
        An exchange slower than ``ping_max_rtt_s`` (or going backwards) is ignored."""
        rtt = host_received_s - host_sent_s
        if not 0.0 <= rtt <= self.s.ping_max_rtt_s:
            return
        changed = self._low(t_dev, host_received_s - t_dev)
        b = int(math.floor(t_dev / self.s.clock_bucket_s))
        z = host_sent_s - t_dev
        k = len(self.pings)
        while k > 0 and self.pings[k - 1][0] > b:
            k -= 1
        if k > 0 and self.pings[k - 1][0] == b:
            if z > self.pings[k - 1][2]:
                self.pings[k - 1] = (b, t_dev, z)
                changed = True
        else:
            self.pings.insert(k, (b, t_dev, z))
            changed = True
        self._trim_pings()
        if changed:
            self._fit = None
            self._fit = self.fit()

    def _low(self, t_dev: float, y: float) -> bool:
        """Keep an arrival if it is its bucket's least delayed; whether anything changed."""
        b = int(math.floor(t_dev / self.s.clock_bucket_s))
        if self.buckets and b < self.buckets[-1][0]:
            # an arrival of an earlier bucket (an answer read after later samples)
            for i in range(len(self.buckets) - 1, -1, -1):
                if self.buckets[i][0] == b:
                    if y < self.buckets[i][2]:
                        self.buckets[i] = (b, t_dev, y)
                        return True
                    break
            return False
        if self.buckets and b != self.buckets[-1][0] and self._fit is not None:
            # a closed bucket far above the fit, three times in a row: the clock restarted
            last = self.buckets[-1]
            if last[2] - (self._fit[0] + self._fit[1] * last[1]) > self.s.clock_jump_s:
                self._above += 1
                if self._above >= 3:
                    self.buckets = self.buckets[-3:]
                    self._above = 0
                    self._trim_pings()
            else:
                self._above = 0
        if self.buckets and self.buckets[-1][0] == b:
            if y < self.buckets[-1][2]:
                self.buckets[-1] = (b, t_dev, y)
                return True
            return False
        self.buckets.append((b, t_dev, y))
        if len(self.buckets) > self.s.clock_buckets:
            self.buckets.pop(0)
            self._trim_pings()
        return True

    def _trim_pings(self) -> None:
        """Pings are kept over the same device-time window as the arrival minima."""
        if self.buckets:
            first = self.buckets[0][0]
            while self.pings and self.pings[0][0] < first:
                self.pings.pop(0)

    def fit(self) -> tuple[float, float]:
        """(offset_s, drift): host = t_dev + offset + drift * t_dev.

        Arrivals only: the line through the arrival minima (the clock plus the up-link's
        latency floor). With at least ``ping_min_buckets`` ping maxima (the clock minus the
        down-link's floor) the two envelopes are fitted together, one drift and one
        half-gap, and the line midway between them is the clock: exact when the up- and
        down-link latency floors are equal (NTP's assumption)."""
        if self._fit is not None:
            return self._fit
        if not self.buckets:
            return (0.0, 0.0)
        t = np.array([b[1] for b in self.buckets])
        y = np.array([b[2] for b in self.buckets])
        pings = self.pings if self.pinged else []
        short = len(t) < 3 or float(t[-1] - t[0]) < 2.0 * self.s.clock_bucket_s
        if not pings:
            if short:
                return (float(y.min()), 0.0)
            tm, ym = float(t.mean()), float(y.mean())
            drift = float(((t - tm) * (y - ym)).sum() / ((t - tm) ** 2).sum())
            return (ym - drift * tm, drift)
        tz = np.array([p[1] for p in pings])
        z = np.array([p[2] for p in pings])
        if short:
            return (0.5 * (float(y.min()) + float(z.max())), 0.0)
        # y = a + b t + c (arrivals), z = a + b t - c (pings): least squares in a, b, c
        tc = float(t.mean())
        tt = np.concatenate([t, tz]) - tc
        side = np.concatenate([np.ones(len(t)), -np.ones(len(tz))])
        x = np.column_stack([np.ones(len(tt)), tt, side])
        a, drift, _half_gap = np.linalg.lstsq(x, np.concatenate([y, z]), rcond=None)[0]
        return (float(a) - float(drift) * tc, float(drift))

    def host(self, t_dev: np.ndarray | float) -> np.ndarray:
        off, drift = self.fit()
        return np.asarray(t_dev) * (1.0 + drift) + off


class _Trunk:
    """Trunk roll (deg) from the sternum board: gravity's turn from its rest direction."""

    def __init__(self, odr_hz: float, s: MultiSettings) -> None:
        self.s = s
        self.dt = 1.0 / odr_hz
        b, a = butter2_lowpass(min(s.trunk_cutoff_hz / (0.5 * odr_hz), 0.99))
        self._lp = IIRFilter(b, a, init="steady")  # starts at the first sample's steady state
        self.ref: np.ndarray | None = None
        self.epoch_n = max(1, int(round(s.trunk_epoch_s * odr_hz)))
        self._ep_u: list[np.ndarray] = []
        self._ep_tilt: list[np.ndarray] = []
        self._pos = 0

    def process(self, acc: np.ndarray) -> np.ndarray:
        g = self._lp(acc)
        u = g / np.maximum(np.linalg.norm(g, axis=1), 1e-6)[:, None]
        out = np.empty(len(u))
        i = 0
        while i < len(u):
            if self.ref is None:
                self.ref = u[i].copy()
            take = min(len(u) - i, self.epoch_n - self._pos)
            seg = u[i : i + take]
            cos = np.clip(seg[:, 0] * self.ref[0] + seg[:, 1] * self.ref[1]
                          + seg[:, 2] * self.ref[2], -1.0, 1.0)  # fmt: skip
            tilt = np.degrees(np.arccos(cos))
            out[i : i + take] = tilt
            self._ep_u.append(seg)
            self._ep_tilt.append(tilt)
            self._pos += take
            i += take
            if self._pos == self.epoch_n:
                self._end_epoch()
        return out

    def _end_epoch(self) -> None:
        u = np.concatenate(self._ep_u)
        tilt = np.concatenate(self._ep_tilt)
        self._ep_u, self._ep_tilt, self._pos = [], [], 0
        turn = math.degrees(math.acos(min(1.0, float(u[0] @ u[-1])))) / (len(u) * self.dt)
        s = self.s
        if (
            turn < s.trunk_still_dps
            and float(tilt.max()) < s.trunk_rest_deg
            and self.ref is not None
        ):
            r = self.ref + s.trunk_rest_weight * (u.mean(axis=0) - self.ref)
            self.ref = r / np.linalg.norm(r)


def _best_shift(
    tp: np.ndarray,
    ap: np.ndarray,
    to: np.ndarray,
    ao: np.ndarray,
    s: MultiSettings,
    search_s: float | None = None,
) -> float | None:
    """Shift tau (s) that best overlays the other board on the primary: ao(t + tau) ~ ap(t)
    (largest normalised correlation of the two, each about its own mean), looked for
    within +-``search_s`` (default ``lag_search_s``)."""
    ok = np.isfinite(ap)
    tp, ap = tp[ok], ap[ok]
    oko = np.isfinite(ao)
    to, ao = to[oko], ao[oko]
    if len(tp) < 10 or len(to) < 10 or float(np.ptp(ap)) < s.min_lag_motion_deg:
        return None
    span = s.lag_search_s if search_s is None else search_s
    taus = np.arange(-span, span + 1e-9, s.lag_step_s)
    grid = tp[None, :] + taus[:, None]
    inside = (grid >= to[0]) & (grid <= to[-1])
    vals = np.interp(grid, to, ao)
    y = ap - ap.mean()
    x = vals - vals.mean(axis=1, keepdims=True)
    den = np.sqrt((x * x).sum(axis=1) * float((y * y).sum()))
    corr = (x * y[None, :]).sum(axis=1) / np.maximum(den, 1e-12)
    cover = inside.mean(axis=1)
    sse = np.where(cover > 0.8, 1.0 - corr, np.inf)
    k = int(np.argmin(sse))
    if not np.isfinite(sse[k]):
        return None
    tau = float(taus[k])
    if 0 < k < len(taus) - 1 and np.isfinite(sse[k - 1]) and np.isfinite(sse[k + 1]):
        a, b, c = sse[k - 1], sse[k], sse[k + 1]
        den = a - 2 * b + c
        if den > 0:
            tau += 0.5 * (a - c) / den * s.lag_step_s
    return tau


# ------------------------------------------------------------------------ boards


class _Board:
    """One board: its pipeline (thigh) or trunk tracker (sternum), clock and history."""

    def __init__(self, role: str, odr_hz: float, has_gyro: bool, s: MultiSettings) -> None:
        self.role = role
        self.odr_hz = odr_hz
        self.has_gyro = has_gyro
        self.clock = ArrivalClock(s)
        self.pipeline: Pipeline | None = None
        self.trunk: _Trunk | None = None
        if role == STERNUM:
            self.trunk = _Trunk(odr_hz, s)
        else:
            self.pipeline = Pipeline(odr_hz, has_gyro, s.pipeline, keep_trace=True)
        self.hist = _Series()  # device time -> angle (thigh, rel. centre) / trunk roll
        self.gyro = [_Series(), _Series(), _Series()]  # device time -> gyro x, y, z (deg/s)
        self.trace_k = 0
        self.reps: list[Rep] = []  # this board's own reps, device time
        self.flags: list[Event] = []  # this board's own cues and gaps
        self.dropped = False
        self.samples = 0
        self.correction_s = 0.0  # shared-motion correction of the clock (other boards)
        self.motion_residual_s: float | None = None  # what the shared motion says (pings)
        self.shifts: list[float] = []  # the kept shifts, against the arrival clock now
        self._shift_log: list[tuple[float, float, float]] = []  # (t_dev, arrival map, shift)
        self.dropped_at: float | None = None
        self.sign = 1.0  # thighs: +1 when this board's angle has the primary's sign
        self._sxy = 0.0
        self.last_dev_t: float | None = None  # device time of the newest sample fed

    def feed(self, samples: Samples) -> None:
        self.samples += len(samples)
        self.last_dev_t = float(samples.t_s[-1])
        if samples.gyro_dps is not None:  # raw rates: the shared-motion clock refinement
            for k in range(3):
                self.gyro[k].append(samples.t_s, samples.gyro_dps[:, k])
        if self.trunk is not None:
            self.hist.append(samples.t_s, self.trunk.process(samples.accel_g))
            return
        p = self.pipeline
        assert p is not None
        self._collect(p.feed(samples))

    def finish(self) -> None:
        if self.pipeline is None:
            return
        self._collect(self.pipeline.finish())

    def _collect(self, events: list) -> None:
        """Keep the pipeline's reps and flags, then read the angle trace it added."""
        for ev in events:
            if isinstance(ev, RepEvent):
                self.reps.append(ev.rep)
            else:
                self.flags.append(ev)
        self._read_trace()

    def _read_trace(self) -> None:
        # the pipeline's per-block angle trace (relative to the centre known then);
        # read incrementally from the detector's public trace lists
        p = self.pipeline
        assert p is not None
        det = getattr(p, "_det", None)
        tt, td = getattr(det, "trace_t", None), getattr(det, "trace_deg", None)
        if tt is None or td is None:  # no per-block lists: the public whole trace (slower)
            t, a = p.angle_trace()
            last = self.hist.last_t
            new = t > last if last is not None else np.ones(len(t), dtype=bool)
            if new.any():
                self.hist.append(t[new], a[new])
            return
        while self.trace_k < len(tt):
            self.hist.append(tt[self.trace_k], td[self.trace_k])
            self.trace_k += 1

    def refine(self, t_dev: float, tau: float, ref: ArrivalClock, s: MultiSettings) -> None:
        """A shift ``tau`` measured at this board's device time ``t_dev``: the arrival-time
        mapping then put the shared motion ``tau`` late. The arrival fits move on (the
        first minutes especially), so every kept shift is re-expressed against today's
        mapping (``tau + now(t_dev) - then(t_dev)``) before the median of the last
        ``refine_reps`` becomes the correction. Where this board and the reference both
        have ping clocks the median is only kept (``motion_residual_s``: how far the
        shared motion puts the ping clocks off), unless ``refine_with_pings``."""
        arrival = float(self.to_session(t_dev, ref)) - self.correction_s
        self._shift_log = (self._shift_log + [(t_dev, arrival, tau)])[-s.refine_reps :]
        now = self.to_session(np.array([d for d, _, _ in self._shift_log]), ref)
        self.shifts = [float(t + (n - self.correction_s) - a)
                       for (_, a, t), n in zip(self._shift_log, now, strict=True)]  # fmt: skip
        est = -quantiles.median(np.asarray(self.shifts, dtype=float))
        if self.clock.pinged and ref.pinged and not s.refine_with_pings:
            self.motion_residual_s = est
            self.correction_s = 0.0
        else:
            self.motion_residual_s = None
            self.correction_s = est

    def to_session(self, t_dev: np.ndarray | float, ref: ArrivalClock) -> np.ndarray:
        """This board's device time -> the primary's device time (session time)."""
        off, drift = ref.fit()
        return (self.clock.host(t_dev) - off) / (1.0 + drift) + self.correction_s

    def last_session_t(self, ref: ArrivalClock) -> float | None:
        """Session time up to which this board's angles are known."""
        t = self.hist.last_t if self.samples else None
        if t is None:
            return None
        return float(self.to_session(t, ref))

    def fed_session_t(self, ref: ArrivalClock) -> float | None:
        """Session time of the newest sample fed (what drop-outs are judged on)."""
        if self.last_dev_t is None:
            return None
        return float(self.to_session(self.last_dev_t, ref))


# ------------------------------------------------------------------------ pipeline


class _NoClock(ArrivalClock):
    """The reference board has not streamed yet: host time is the session time."""

    def __init__(self) -> None:
        super().__init__(MultiSettings())


_NO_CLOCK = _NoClock()


class MultiPipeline:
    """Several boards -> reps with knees-apart and shoulder-lift checks (module docstring)."""

    def __init__(
        self, roles: tuple[str, ...] | list[str], settings: MultiSettings | None = None
    ) -> None:
        bad = [r for r in roles if r not in ROLES]
        if bad or not roles or len(set(roles)) != len(roles):
            raise ValueError(f"roles must be distinct, out of {', '.join(ROLES)}")
        self.roles = tuple(r for r in ROLES if r in roles)
        self.settings = settings or MultiSettings()
        self.boards: dict[str, _Board] = {}
        self.events: list[MultiEvent] = []
        self.reps: list[Rep] = []
        self.figures: list[dict] = []
        # the primary (and reference: whose device time is the session time) is the left
        # thigh if there is one: what a single-board session on it would show
        self.primary: str = self.roles[0]
        self.reference: str = self.roles[0]
        self._pending: list[tuple[str, Rep]] = []  # thigh reps waiting for the others' data
        self._taken: dict[str, int] = {}  # reps of each board already taken
        self._flags_taken: dict[str, int] = {}
        self._cue_t = 0.0  # session time up to which live cues were checked
        self._run = {KNEES_APART: 0.0, SHOULDER_LIFT: 0.0}  # how long each is held
        self._cued: dict[str, float] = {}  # kind -> session time of the last cue
        self._out_sign = 0  # primary out at a side: +1 / -1, 0 at centre
        self._cue_log: list[FlagEvent] = []
        self._baseline = 0.0  # the thighs' angle difference at centre (deg)
        self._finished = False

    # ---------------------------------------------------------------- setup

    def add_board(self, role: str, odr_hz: float, has_gyro: bool) -> None:
        """Declare a board (before its first samples) with its rate and gyro presence."""
        if role not in self.roles:
            raise ValueError(f"role {role!r} is not one of this session's {self.roles}")
        if role in self.boards:
            return
        self.boards[role] = _Board(role, odr_hz, has_gyro, self.settings)
        self._flags_taken.setdefault(role, 0)
        self._taken.setdefault(role, 0)

    def _ref_clock(self) -> ArrivalClock:
        b = self.boards.get(self.reference)
        return b.clock if b is not None else _NO_CLOCK

    def active(self) -> tuple[str, ...]:
        return tuple(r for r in ROLES if r in self.boards and not self.boards[r].dropped)

    # ---------------------------------------------------------------- feeding

    def feed(self, role: str, samples: Samples, host_s: float) -> list[MultiEvent]:
        """Samples of one board that had arrived by host time ``host_s``."""
        b = self.boards[role]
        if len(samples) == 0:
            return []
        b.clock.observe(float(samples.t_s[-1]), float(host_s))
        b.feed(samples)
        out: list[MultiEvent] = []
        if b.dropped:
            b.dropped = False
            out.append(BoardEvent(self._now(), role, "back", self.active()))
        out += self._advance()
        self.events += out
        return out

    def ping(
        self, role: str, host_sent_s: float, device_t_s: float, host_received_s: float
    ) -> None:
        """A ping exchange with one board: sent at host time ``host_sent_s``, handled at
        the board's device time ``device_t_s`` (the time axis of its samples), answered by
        host time ``host_received_s``. It tightens that board's clock (:class:`ArrivalClock`);
        no events come from it (they follow from the next samples). A board not yet
        declared is ignored."""
        b = self.boards.get(role)
        if b is not None:
            b.clock.observe_ping(float(host_sent_s), float(device_t_s), float(host_received_s))

    def finish(self) -> list[MultiEvent]:
        """End of the session: close reps under way, give every pending rep its figures."""
        out: list[MultiEvent] = []
        for b in self.boards.values():
            b.finish()
        self._finished = True
        out += self._advance()
        self.events += out
        return out

    def _now(self) -> float:
        ts = [
            t
            for b in self.boards.values()
            if (t := b.last_session_t(self._ref_clock())) is not None
        ]
        return max(ts) if ts else 0.0

    def _advance(self) -> list[MultiEvent]:
        out: list[MultiEvent] = []
        ref = self._ref_clock()
        last = {r: b.last_session_t(ref) for r, b in self.boards.items()}
        fed = {r: b.fed_session_t(ref) for r, b in self.boards.items()}
        # drop-outs: a board whose samples are far behind the others'
        for r, b in self.boards.items():
            tr = fed[r]
            if b.dropped or tr is None or self._finished:
                continue
            others = [t for q, t in fed.items()
                      if q != r and t is not None and not self.boards[q].dropped]  # fmt: skip
            if others and max(others) - tr > self.settings.dropout_s:
                b.dropped = True
                b.dropped_at = tr
                out.append(BoardEvent(max(others), r, "dropped", self.active()))
                if r == self.primary:
                    self._switch_primary()
        p = self.boards.get(self.primary)
        if p is None or p.pipeline is None:
            return out
        # the primary's own cues (fast drops, ...) pass through at once
        pf = p.flags[self._flags_taken[p.role] :]
        self._flags_taken[p.role] = len(p.flags)
        for f in pf:
            if p.role != self.reference and isinstance(f, FlagEvent):
                f = replace(f, t_s=float(p.to_session(f.t_s, ref)))
            out.append(f)
        # every thigh's reps are candidates (a knee that stays up may not reach the range
        # of a rep on its own board); they wait for the other boards' data
        for r, b in self.boards.items():
            if b.pipeline is not None:
                self._pending += [(r, rep) for rep in b.reps[self._taken[r] :]]
                self._taken[r] = len(b.reps)
        out += self._live_cues(last)
        while self._pending:
            self._pending.sort(key=lambda c: float(self._in_session_time(c[0], c[1]).end_s))
            role, raw = self._pending[0]
            rep = self._in_session_time(role, raw)
            need = rep.end_s + self.settings.lag_search_s
            now = max((t for t in fed.values() if t is not None), default=-math.inf)
            ready = self._finished or all(
                self.boards[q].dropped
                or ((lq := last[q]) is not None and lq >= need)
                or now - need > self.settings.max_wait_s
                for q in self.active()
            )
            if not ready:
                break
            self._pending.pop(0)
            if self._take(role, rep):
                out += self._complete(rep)
        self._trim()
        return out

    def _take(self, role: str, rep: Rep) -> bool:
        """Whether a candidate rep is counted: one rep per excursion, the primary's first."""

        def same(a: Rep, b: Rep) -> bool:
            return a.start_s <= b.peak_s <= a.end_s or b.start_s <= a.peak_s <= b.end_s

        if self.reps and (same(self.reps[-1], rep) or rep.end_s <= self.reps[-1].end_s):
            return False  # already counted (or reported after a later rep was counted)
        if role != self.primary:
            for q, other in self._pending:
                if q == self.primary and same(self._in_session_time(q, other), rep):
                    return False  # the primary's own version of it is still to come
        return True

    def _switch_primary(self) -> None:
        rest = [r for r in THIGHS if r in self.boards and not self.boards[r].dropped]
        if rest:
            self.primary = rest[0]
            self._flags_taken[self.primary] = len(self.boards[self.primary].flags)

    def _in_session_time(self, role: str, rep: Rep) -> Rep:
        b = self.boards[role]
        if role == self.reference:
            return rep
        ref = self._ref_clock()
        st, pk, en = (float(b.to_session(x, ref)) for x in (rep.start_s, rep.peak_s, rep.end_s))
        side = rep.side
        if b.sign < 0:
            side = RIGHT if side == LEFT else LEFT
        return replace(rep, start_s=st, peak_s=pk, end_s=en, side=side)

    # ---------------------------------------------------------------- angles

    def _angles(
        self,
        role: str,
        t0: float,
        t1: float,
        gyro: bool = False,
        rep: tuple[float, float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(session time, angle) of a board over [t0, t1] in session time (sign-corrected);
        with ``gyro``, its angular-rate magnitude about its mean rate over ``rep``."""
        b = self.boards[role]
        ref = self._ref_clock()
        # session -> device time for the window bounds (the mapping is monotonic)
        pad = 1.0
        lo, hi = self._to_device(b, t0 - pad, ref), self._to_device(b, t1 + pad, ref)
        if gyro:
            # the angular-rate magnitude about the window's mean rate (an out-and-back
            # rep turns by ~0 net, so the mean is the gyro bias): sign- and mounting-free
            parts = [g.window(lo, hi) for g in b.gyro]
            td = parts[0][0]
            r0, r1 = rep or (t0, t1)
            inr = (b.to_session(td, ref) >= r0) & (b.to_session(td, ref) <= r1)
            if len(td) and inr.any():
                # centred moving average over rate_smooth_s (odd length: no delay)
                n = 2 * int(round(0.5 * self.settings.rate_smooth_s * b.odr_hz)) + 1
                k = np.ones(n) / n
                sm = [np.convolve(p[1], k, mode="same") if len(td) >= n else p[1] for p in parts]
                v = np.column_stack([x - x[inr].mean() for x in sm])
                x = np.sqrt((v * v).sum(axis=1))
            else:
                td, x = td[:0], np.zeros(0)
        else:
            td, x = b.hist.window(lo, hi)
        ts = b.to_session(td, ref)
        m = (ts >= t0) & (ts <= t1)
        sign = 1.0 if gyro or b.trunk is not None else b.sign
        return ts[m], sign * x[m]

    @staticmethod
    def _to_device(b: _Board, t_session: float, ref: ArrivalClock) -> float:
        off_r, dr_r = ref.fit()
        host = t_session * (1.0 + dr_r) + off_r - b.correction_s * (1.0 + dr_r)
        off, dr = b.clock.fit()
        return (host - off) / (1.0 + dr)

    def _other_thigh(self) -> str | None:
        for r in THIGHS:
            if r != self.primary and r in self.boards and not self.boards[r].dropped:
                return r
        return None

    # ---------------------------------------------------------------- live cues

    def _live_cues(self, last: dict[str, float | None]) -> list[MultiEvent]:
        """Knees apart / shoulders up held for ``sustain_s`` while out at a side."""
        s = self.settings
        p = self.primary
        lp = last.get(p)
        if lp is None:
            return []
        upto = lp
        others = [q for q in self.active() if q != p]
        for q in others:
            lq = last.get(q)
            if lq is None:
                return []  # wait until every board streaming has angles
            upto = min(upto, lq)
        if upto <= self._cue_t:
            return []
        tp, ap = self._angles(p, self._cue_t, upto)
        tp, ap = tp[tp > self._cue_t], ap[tp > self._cue_t]
        self._cue_t = upto
        if len(tp) < 2:
            return []
        out: list[MultiEvent] = []
        series: dict[str, np.ndarray] = {}
        o = self._other_thigh()
        det = s.pipeline.detector
        if o is not None:
            ob = self.boards[o]
            to, ao = self._angles(o, float(tp[0]) - 1.0, float(tp[-1]) + 1.0)
            if len(to) >= 2:
                raw = np.interp(tp, to, ao * ob.sign, left=np.nan, right=np.nan)
                both = np.isfinite(raw) & np.isfinite(ap) & (np.abs(ap) >= det.enter_deg)
                dtp = np.diff(tp, prepend=tp[0])
                ob._sxy += float((ap[both] * raw[both] * dtp[both]).sum())
                ob.sign = 1.0 if ob._sxy >= 0 else -1.0
                if abs(ob._sxy) >= s.sign_evidence_deg2_s:
                    diff = raw * ob.sign - ap
                    at_c = np.isfinite(diff) & (np.abs(ap) <= det.centre_deg)
                    tc = s.baseline_time_constant_s
                    for j in np.flatnonzero(at_c):  # the difference at centre: an offset
                        w = 1.0 - math.exp(-float(dtp[j]) / tc)
                        self._baseline += w * (float(diff[j]) - self._baseline)
                    series[KNEES_APART] = np.abs(diff - self._baseline)
        if STERNUM in others:
            tt, at = self._angles(STERNUM, float(tp[0]) - 1.0, float(tp[-1]) + 1.0)
            if len(tt) >= 2:
                series[SHOULDER_LIFT] = np.interp(tp, tt, at, left=np.nan, right=np.nan)
        thr = {KNEES_APART: s.separation_deg, SHOULDER_LIFT: s.trunk_roll_deg}
        dt = np.diff(tp, prepend=tp[0])
        for i in range(len(tp)):
            a = float(ap[i])
            if not math.isfinite(a):
                continue
            if abs(a) <= det.centre_deg:
                self._out_sign = 0
                self._run = dict.fromkeys(self._run, 0.0)
                self._cued.clear()
                continue
            if abs(a) >= det.enter_deg:
                sg = 1 if a > 0 else -1
                if sg != self._out_sign:
                    self._out_sign = sg
                    self._run = dict.fromkeys(self._run, 0.0)
                    for k in list(self._cued):
                        self._cued.pop(k)
            if self._out_sign == 0:
                continue
            for kind, v in series.items():
                x = float(v[i])
                if math.isfinite(x) and x > thr[kind]:
                    self._run[kind] += float(dt[i])
                    if self._run[kind] >= s.sustain_s and kind not in self._cued:
                        self._cued[kind] = float(tp[i])
                        cue = FlagEvent(float(tp[i]), kind, self._side(self._out_sign), x)
                        self._cue_log.append(cue)
                        out.append(cue)
                else:
                    self._run[kind] = 0.0
        return out

    def _side(self, sign: int) -> str:
        left = sign > 0
        if self.settings.pipeline.detector.swap_sides:
            left = not left
        return LEFT if left else RIGHT

    # ---------------------------------------------------------------- reps

    def _complete(self, rep: Rep) -> list[MultiEvent]:
        s = self.settings
        t0, t1 = rep.start_s, rep.end_s
        w1 = t1 + s.lag_search_s
        p = self.primary
        tp, ap = self._angles(p, t0, t1)
        fig: dict = {"separation_deg": None, "lag_s": None, "lagging": None,
                     "trunk_roll_deg": None, "boards": list(self.active())}  # fmt: skip
        flags: list[str] = []
        out: list[MultiEvent] = []
        o = self._other_thigh()
        if o is not None and len(tp) >= 2:
            ob = self.boards[o]
            # shift on the arrival-only clock (the correction undone), see the docstring;
            # on the raw angular-rate magnitude where both have a gyro (sign-free and
            # without the angle estimator's filter delay, which differs between boards)
            gy = self.boards[p].has_gyro and ob.has_gyro
            tq, aq = self._angles(p, t0, t1, gyro=gy) if gy else (tp, ap)
            to, ao = self._angles(o, t0 - s.lag_search_s, w1, gyro=gy, rep=(t0, t1))
            tau_base = _best_shift(tq, aq, to - ob.correction_s, ao, s)
            tw, aw = self._angles(p, t0, w1)
            to, ao = self._angles(o, t0 - 1.0, w1 + 1.0)
            ok = np.isfinite(aw)
            if len(to) >= 2 and ok.any():
                diff = np.interp(tw[ok], to, ao, left=np.nan, right=np.nan) - aw[ok]
                sep = np.abs(diff - self._baseline)
                if np.isfinite(sep).any():
                    fig["separation_deg"] = round(float(np.nanmax(sep)), 2)
            if tau_base is not None:
                # a clock-error shift, measured on a rep where the knees moved together
                # (a knee left behind moves less: its rate's shape is not the primary's)
                sep_deg = fig["separation_deg"]
                together = sep_deg is not None and sep_deg <= s.separation_deg
                if abs(tau_base) < s.refine_max_s and together:
                    ref = self._ref_clock()
                    ob.refine(self._to_device(ob, 0.5 * (t0 + t1), ref), tau_base, ref, s)
                lag = tau_base + ob.correction_s
                fig["lag_s"] = round(float(abs(lag)), 3)
                fig["lagging"] = (o if lag > 0 else p) if abs(lag) >= s.lag_step_s else None
            if (fig["separation_deg"] or 0.0) > s.separation_deg or (fig["lag_s"] or 0.0) > s.lag_s:
                flags.append(KNEES_APART)
        if STERNUM in self.active():
            tt, at = self._angles(STERNUM, t0, t1)
            if len(at) and np.isfinite(at).any():
                fig["trunk_roll_deg"] = round(float(np.nanmax(at)), 2)
                if fig["trunk_roll_deg"] > s.trunk_roll_deg:
                    flags.append(SHOULDER_LIFT)
            self._refine_sternum(rep, fig)
        for kind in flags:
            cue_t = self._cued_in(kind, t0, t1)
            if cue_t is None:
                cue = FlagEvent(t1, kind, rep.side, self._value(kind, fig))
                self._cue_log.append(cue)
                out.append(cue)
        new = replace(rep, index=len(self.reps) + 1, flags=tuple(rep.flags) + tuple(flags))
        fig = {"index": new.index, "side": new.side, **fig, "flags": list(flags)}
        self.reps.append(new)
        self.figures.append(fig)
        out.append(MultiRepEvent(t1, new, fig))
        return out

    def _refine_sternum(self, rep: Rep, fig: dict) -> None:
        """Refine the sternum's clock by the motion it shares with the knees (the trunk's
        roll is coupled to theirs): on a rep where the chest turned fast enough
        (``trunk_refine_min_dps``), the shift that best overlays its angular-rate
        magnitude on a thigh's that moved with the knees (the primary, or the other thigh
        when the primary lagged); shifts under ``refine_max_s`` are clock error, the median
        of the last ``refine_reps`` corrects the clock (as for the other thigh)."""
        s = self.settings
        sb = self.boards[STERNUM]
        thigh = self.primary
        if fig["lagging"] == thigh and (fig["lag_s"] or 0.0) >= s.refine_max_s:
            o = self._other_thigh()
            if o is None:
                return
            thigh = o
        if not (sb.has_gyro and self.boards[thigh].has_gyro):
            return
        t0, t1 = rep.start_s, rep.end_s
        tq, aq = self._angles(thigh, t0, t1, gyro=True)
        pad = s.refine_max_s + s.lag_step_s
        ts, at = self._angles(STERNUM, t0 - pad, t1 + pad, gyro=True, rep=(t0, t1))
        inr = (ts >= t0) & (ts <= t1)
        if not inr.any() or float(np.ptp(at[inr])) < s.trunk_refine_min_dps:
            return
        tau = _best_shift(tq, aq, ts - sb.correction_s, at, s, search_s=s.refine_max_s)
        if tau is None or abs(tau) >= s.refine_max_s:
            return
        ref = self._ref_clock()
        sb.refine(self._to_device(sb, 0.5 * (t0 + t1), ref), tau, ref, s)

    def _cued_in(self, kind: str, t0: float, t1: float) -> float | None:
        for e in reversed(self._cue_log):
            if e.kind == kind and t0 - 0.5 <= e.t_s <= t1:
                return e.t_s
        return None

    @staticmethod
    def _value(kind: str, fig: dict) -> float:
        if kind == SHOULDER_LIFT:
            return float(fig["trunk_roll_deg"] or 0.0)
        return float(fig["separation_deg"] or 0.0)

    def _trim(self) -> None:
        keep = self.settings.history_s
        for b in self.boards.values():
            lt = b.hist.last_t
            if lt is not None:
                b.hist.trim(lt - keep)
                for g in b.gyro:
                    g.trim(lt - keep)

    # ---------------------------------------------------------------- summary

    @property
    def duration_s(self) -> float:
        ts = []
        for b in self.boards.values():
            if b.pipeline is not None and b.pipeline.t_last is not None:
                ts.append(b.pipeline.duration_s)
        return max(ts) if ts else 0.0

    def clock_estimates(self) -> dict[str, dict]:
        """Per board: the mapping to session time now (offset, drift, correction)."""
        ref = self._ref_clock()
        off_r, dr_r = ref.fit()
        out = {}
        for r, b in self.boards.items():
            off, dr = b.clock.fit()
            out[r] = {
                "offset_s": round((off - off_r), 6),
                "drift_ppm": round((dr - dr_r) * 1e6, 1),
                "shared_motion_correction_s": round(b.correction_s, 4),
                "pings": b.clock.pinged,
                "shared_motion_residual_s": None
                if b.motion_residual_s is None
                else round(b.motion_residual_s, 4),
            }
        return out

    def summary(self) -> dict:
        """The session summary (as single-board) plus ``multi`` (see docs/MULTI_SENSOR.md)."""
        base = summarize(
            self.reps, self.duration_s, [e for e in self.events if not isinstance(e, BoardEvent)]
        )
        per_side: dict[str, dict] = {}
        for side in (LEFT, RIGHT):
            figs = [f for f in self.figures if f["side"] == side]
            seps = [f["separation_deg"] for f in figs if f["separation_deg"] is not None]
            trunk = [f["trunk_roll_deg"] for f in figs if f["trunk_roll_deg"] is not None]
            per_side[side] = {
                "reps": len(figs),
                "knees_apart": sum(KNEES_APART in f["flags"] for f in figs),
                "shoulder_lift": sum(SHOULDER_LIFT in f["flags"] for f in figs),
                "reps_checked_knees": len(seps),
                "reps_checked_trunk": len(trunk),
                "separation_deg_max": round(max(seps), 1) if seps else None,
                "trunk_roll_deg_max": round(max(trunk), 1) if trunk else None,
            }
        changes = [e.to_dict() for e in self.events if isinstance(e, BoardEvent)]
        base["multi"] = {
            "roles": [r for r in ROLES if r in self.boards],
            "primary": self.primary,
            "reference": self.reference,
            "boards": {
                r: {
                    "samples": b.samples,
                    "dropped_at_s": None if b.dropped_at is None else round(b.dropped_at, 3),
                }
                for r, b in self.boards.items()
            },  # fmt: skip
            "clock": self.clock_estimates(),
            "per_side": per_side,
            "board_changes": changes,
            "reps": self.figures,
            "feedback": feedback_lines(per_side),
            "settings": {
                "separation_deg": self.settings.separation_deg,
                "lag_s": self.settings.lag_s,
                "trunk_roll_deg": self.settings.trunk_roll_deg,
            },  # fmt: skip
        }
        return base


def feedback_lines(per_side: dict[str, dict]) -> list[str]:
    """Plain-word feedback from the per-side counts."""
    lines = []
    for side in (LEFT, RIGHT):
        d = per_side[side]
        if d["knees_apart"]:
            lines.append(f"Knees came apart on {d['knees_apart']} of {d['reps_checked_knees']} "
                         f"reps to the {side}: keep the knees together.")  # fmt: skip
        if d["shoulder_lift"]:
            lines.append(f"The opposite shoulder lifted on {d['shoulder_lift']} of "
                         f"{d['reps_checked_trunk']} reps to the {side}: shoulders down, "
                         "go only as far as they stay on the floor.")  # fmt: skip
    if not lines and any(per_side[s]["reps_checked_knees"] or per_side[s]["reps_checked_trunk"]
                         for s in (LEFT, RIGHT)):  # fmt: skip
        lines.append("Knees moved together and the shoulders stayed down.")
    return lines


__all__ = [
    "CUES",
    "KNEES_APART",
    "MULTI_FLAGS",
    "ROLES",
    "SHOULDER_LIFT",
    "ArrivalClock",
    "BoardEvent",
    "MultiPipeline",
    "MultiRepEvent",
    "MultiSettings",
]
