"""Plausibility of loaded samples: wrong units must not pass silently.

Each check returns at most one short sentence; readers attach them to
``Recording.notices`` and the CLI prints each as one ``imu-host: warning:`` line. The
checks use physics, not the exercise: at rest an accelerometer reads 1 g; a thigh that
tilts by tens of degrees turns at tens of degrees per second; knee rolls take seconds,
so a useful rate is tens of samples per second or more.

:class:`SampleChecks` runs the checks on a recording fed block by block (a streamed replay)
and :func:`check_samples` on samples in memory, with the same code: the same sentences.
The statistics look at every ``checked_step``-th sample (a power of two, so a stream can
thin what it kept as it grows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imu_host.core import quantiles
from imu_host.core.samples import Samples

G0 = 9.80665  # m/s^2 per g


@dataclass(frozen=True)
class PlausibilitySettings:
    """Thresholds of the unit checks (documented defaults)."""

    mps2_band: tuple[float, float] = (8.5, 11.0)  # median |a| here: m/s^2 read as g
    counts_above: float = 100.0  # median |a| above this (g): raw counts read as g
    one_g_band: tuple[float, float] = (0.6, 1.6)  # otherwise expected median |a| (g)
    min_rate_hz: float = 20.0  # slower than this cannot time a 1-3 s descent
    max_rate_hz: float = 5_000.0  # faster than any wearable stream: a time-unit mix-up
    gap_periods: float = 1.5  # an interval longer than this many periods is a gap
    gaps_everywhere: float = 0.2  # more than this fraction of intervals are gaps
    long_gap_s: float = 20.0  # a single gap this long is worth a line
    rate_mismatch: float = 0.1  # declared vs timestamp rate differing by more (fraction)
    tilt_moving_deg: float = 20.0  # the accelerometer direction moves this much ...
    gyro_still_dps: float = 3.0  # ... while the gyro's 99th percentile stays below this
    gyro_counts_dps: float = 2_500.0  # 99th percentile |gyro| above this: raw counts
    max_checked: int = 20_000  # checks look at most at this many (evenly spaced) samples


DEFAULT = PlausibilitySettings()


def _time_hint(rate_hz: float, s: PlausibilitySettings) -> str:
    for unit, factor in (("ms", 1e3), ("us", 1e6), ("ns", 1e9)):
        if s.min_rate_hz <= rate_hz * factor <= s.max_rate_hz:
            return f" (is the time column in {unit}? use --time {unit})"
    if s.min_rate_hz <= rate_hz * 1e-3 <= s.max_rate_hz:
        return " (is the time column in a 1000x larger unit? check --time)"
    return ""


def check_samples(
    samples: Samples,
    rate_hz: float,
    declared_rate_hz: float | None = None,
    settings: PlausibilitySettings = DEFAULT,
) -> list[str]:
    """One sentence per implausible property of ``samples`` (empty when all is fine)."""
    checks = SampleChecks(rate_hz, declared_rate_hz, settings)
    checks.add(samples)
    return checks.notices()


def checked_step(n: int, max_checked: int) -> int:
    """The stride of the samples the unit checks look at: the largest power of two
    within ``n // max_checked`` (at least 1), so that at most ~2 x ``max_checked`` are
    looked at. A power of two, so a stream can keep a subset as it grows (every second
    one of the kept samples when the stride doubles) and end with the very samples the
    whole recording gives."""
    q = max(1, n // max_checked)
    return 1 << (q.bit_length() - 1)


class SampleChecks:
    """:func:`check_samples` fed block by block (any split gives the same sentences):
    what a streamed recording is checked with, in bounded memory (at most ~2 x
    ``max_checked`` samples kept, plus the first :data:`RATE_HEAD_SAMPLES` times)."""

    def __init__(
        self,
        rate_hz: float,
        declared_rate_hz: float | None = None,
        settings: PlausibilitySettings = DEFAULT,
    ) -> None:
        self.rate_hz = rate_hz
        self.declared_rate_hz = declared_rate_hz
        self.settings = settings
        self.n = 0
        self.step = 1  # the stride of the kept samples (global index multiple of it)
        # the kept samples, per block: (index of the first, accel rows, |gyro| or None)
        self._kept: list[tuple[int, np.ndarray, np.ndarray | None]] = []
        self._has_gyro = False
        self._head: list[np.ndarray] = []  # the first RATE_HEAD_SAMPLES times
        self._head_n = 0
        self._t_first = 0.0
        self._t_last = 0.0
        self._gaps = 0  # intervals longer than gap_periods / rate_hz
        self._d_max = -np.inf  # the longest interval and the time it starts at
        self._d_max_t = 0.0
        self._gap_s = settings.gap_periods / rate_hz if rate_hz > 0 else np.inf

    def add(self, samples: Samples) -> None:
        m = len(samples)
        if m == 0:
            return
        t = samples.t_s
        if self.n == 0:
            self._t_first = float(t[0])
            self._has_gyro = samples.gyro_dps is not None
        else:  # the interval across the blocks' boundary
            self._intervals(np.array([t[0] - self._t_last]), np.array([self._t_last]))
        if m > 1:
            self._intervals(t[1:] - t[:-1], t[:-1])
        self._t_last = float(t[-1])
        if self._head_n < RATE_HEAD_SAMPLES:
            take = t[: RATE_HEAD_SAMPLES - self._head_n].copy()
            self._head.append(take)
            self._head_n += len(take)
        offset = self.n
        self.n += m
        step = checked_step(self.n, self.settings.max_checked)
        if step > self.step:  # keep the kept samples whose index is a multiple of step
            self._kept = [self._thin(*piece, step) for piece in self._kept]
            self.step = step
        first = (-offset) % self.step  # the block's first sample at a multiple of step
        acc = samples.accel_g[first :: self.step].copy()
        gyr = None
        if self._has_gyro and samples.gyro_dps is not None:
            gyr = np.linalg.norm(samples.gyro_dps[first :: self.step], axis=1)
        self._kept.append((offset + first, acc, gyr))

    def _thin(self, start: int, acc: np.ndarray, gyr: np.ndarray | None,
              step: int) -> tuple[int, np.ndarray, np.ndarray | None]:  # fmt: skip
        """A kept piece (samples ``start``, ``start + self.step``, ...) cut to the samples
        whose index is a multiple of ``step`` (copies: a view would keep the piece)."""
        k = step // self.step
        j = (-(start // self.step)) % k
        return start + j * self.step, acc[j::k].copy(), None if gyr is None else gyr[j::k].copy()

    def _intervals(self, d: np.ndarray, starts: np.ndarray) -> None:
        """Count the gaps among the intervals ``d`` (``d[i]`` starts at ``starts[i]``) and
        keep the longest (the first of equal ones)."""
        if self.rate_hz > 0:
            self._gaps += int(np.count_nonzero(d > self._gap_s))
        i = int(np.argmax(d))
        if d[i] > self._d_max:
            self._d_max = float(d[i])
            self._d_max_t = float(starts[i])

    def notices(self) -> list[str]:
        """One sentence per implausible property of the samples added so far."""
        s = self.settings
        out: list[str] = []
        n = self.n
        if n < 2:
            return out
        rate_hz = self.rate_hz
        acc = np.concatenate([a for _, a, _ in self._kept])
        mag = np.linalg.norm(acc, axis=1)
        med = quantiles.median(mag)
        if s.mps2_band[0] <= med <= s.mps2_band[1]:
            out.append(
                f"the accelerometer reads {med:.1f} at rest, expected about 1 g: looks like "
                "m/s^2 read as g (use --accel-units m/s^2)"
            )
        elif med > s.counts_above:
            out.append(
                f"the accelerometer reads {med:.0f} at rest, expected about 1 g: looks like raw "
                "sensor counts (use --accel-units counts --accel-lsb-per-g N)"
            )
        elif not s.one_g_band[0] <= med <= s.one_g_band[1]:
            out.append(
                f"the accelerometer reads {med:.2f} g at rest, expected about 1 g (gravity): "
                "check the units, and that the data includes gravity"
            )
        if self._has_gyro:
            gyr = np.concatenate([g for _, _, g in self._kept if g is not None])
            p99 = quantiles.percentile(gyr, 99)
            unit = acc / np.maximum(mag, 1e-12)[:, None]
            mean = unit.mean(axis=0)
            mean /= max(float(np.linalg.norm(mean)), 1e-12)
            tilt = np.degrees(np.arccos(np.clip(unit @ mean, -1.0, 1.0)))
            moved = quantiles.percentile(tilt, 95)
            if p99 > s.gyro_counts_dps:
                out.append(
                    f"the gyro reaches {p99:.0f} deg/s (99th percentile): looks like raw counts "
                    "(use --gyro-units counts --gyro-lsb-per-dps N)"
                )
            elif moved > s.tilt_moving_deg and p99 < s.gyro_still_dps:
                out.append(
                    f"the sensor tilts by {moved:.0f} deg but the gyro stays below {p99:.2f} "
                    "deg/s: looks like rad/s read as deg/s (use --gyro-units rad/s)"
                )
        span = self._t_last - self._t_first
        if rate_hz > 0 and rate_hz < s.min_rate_hz:
            out.append(
                f"{n} samples over {span:g} s is {rate_hz:.3g} Hz, too slow to time a knee roll "
                f"(at least {s.min_rate_hz:g} Hz){_time_hint(rate_hz, s)}"
            )
        elif rate_hz > s.max_rate_hz:
            out.append(
                f"{n} samples over {span:g} s is {rate_hz:.3g} Hz, faster than any wearable "
                f"stream{_time_hint(rate_hz, s)}"
            )
        if rate_hz > 0:
            frac = self._gaps / (n - 1)
            if frac > s.gaps_everywhere:
                out.append(
                    f"{100 * frac:.0f}% of sample intervals are gaps (longer than "
                    f"{s.gap_periods:g} periods at {rate_hz:.3g} Hz): the data is not evenly sampled"
                )
            if self._d_max >= s.long_gap_s:
                out.append(
                    f"samples {self._d_max:.3g} s apart at t = {self._d_max_t:.3g} s (a gap of "
                    f"{s.long_gap_s:g} s or more: lost data, or a wrong time unit?)"
                )
        if self.declared_rate_hz and rate_hz > 0:
            est = estimate_rate(np.concatenate(self._head))
            if est > 0 and abs(est / self.declared_rate_hz - 1.0) > s.rate_mismatch:
                out.append(
                    f"the declared sample rate is {self.declared_rate_hz:g} Hz but the "
                    f"timestamps step at {est:.3g} Hz"
                )
        return out


# estimate_rate looks at the first this many times (~20 s at 100 Hz)
RATE_HEAD_SAMPLES = 2001


def estimate_rate(t: np.ndarray) -> float:
    """Mean rate over the first ~20 s, ignoring gaps (dropped samples); 0 if unknown."""
    d = np.diff(t[:RATE_HEAD_SAMPLES])
    d = d[d > 0]
    if len(d) == 0:
        return 0.0
    d = d[d < 3.0 * quantiles.median(d)]
    return float(1.0 / np.mean(d))
