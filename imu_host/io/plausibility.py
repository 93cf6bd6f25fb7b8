"""Plausibility of loaded samples: wrong units must not pass silently.

Each check returns at most one short sentence; readers attach them to
``Recording.notices`` and the CLI prints each as one ``imu-host: warning:`` line. The
checks use physics, not the exercise: at rest an accelerometer reads 1 g; a thigh that
tilts by tens of degrees turns at tens of degrees per second; knee rolls take seconds,
so a useful rate is tens of samples per second or more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    s = settings
    out: list[str] = []
    n = len(samples)
    if n < 2:
        return out
    step = max(1, n // s.max_checked)
    acc = samples.accel_g[::step]
    mag = np.linalg.norm(acc, axis=1)
    med = float(np.median(mag))
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
    if samples.gyro_dps is not None:
        gyr = np.linalg.norm(samples.gyro_dps[::step], axis=1)
        p99 = float(np.percentile(gyr, 99))
        unit = acc / np.maximum(mag, 1e-12)[:, None]
        mean = unit.mean(axis=0)
        mean /= max(float(np.linalg.norm(mean)), 1e-12)
        tilt = np.degrees(np.arccos(np.clip(unit @ mean, -1.0, 1.0)))
        moved = float(np.percentile(tilt, 95))
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
    t = samples.t_s
    span = float(t[-1] - t[0])
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
    d = np.diff(t)
    if len(d) and rate_hz > 0:
        gaps = d > s.gap_periods / rate_hz
        if gaps.mean() > s.gaps_everywhere:
            out.append(
                f"{100 * gaps.mean():.0f}% of sample intervals are gaps (longer than "
                f"{s.gap_periods:g} periods at {rate_hz:.3g} Hz): the data is not evenly sampled"
            )
        i = int(np.argmax(d))
        if d[i] >= s.long_gap_s:
            out.append(
                f"samples {d[i]:.3g} s apart at t = {t[i]:.3g} s (a gap of {s.long_gap_s:g} s "
                "or more: lost data, or a wrong time unit?)"
            )
    if declared_rate_hz and rate_hz > 0:
        est = estimate_rate(t)
        if est > 0 and abs(est / declared_rate_hz - 1.0) > s.rate_mismatch:
            out.append(
                f"the declared sample rate is {declared_rate_hz:g} Hz but the timestamps "
                f"step at {est:.3g} Hz"
            )
    return out


def estimate_rate(t: np.ndarray) -> float:
    """Mean rate over the first ~20 s, ignoring gaps (dropped samples); 0 if unknown."""
    d = np.diff(t[: min(len(t), 2001)])
    d = d[d > 0]
    if len(d) == 0:
        return 0.0
    d = d[d < 3.0 * np.median(d)]
    return float(1.0 / np.mean(d))
