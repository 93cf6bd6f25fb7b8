"""Rep rules, one small function each (angles in degrees, speeds in deg/s).

The live fast-drop cue and the rep's ``fast_drop`` flag both come from
:func:`is_fast_drop`, so they can never disagree about what "fast" means.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imu_host.core import quantiles

PAIRWISE_BLOCK = 8  # numpy's pairwise summation: 8 partial sums...
PAIRWISE_MAX = 128  # ...for up to this many values (exact_mean falls back to numpy beyond)


def is_fast_drop(peak_descent_dps: float, threshold_dps: float) -> bool:
    """A momentum-driven drop: the descent's peak speed reaches ``threshold_dps``."""
    return peak_descent_dps >= threshold_dps


def is_fast_return(peak_return_dps: float, threshold_dps: float) -> bool:
    """A yanked return: the return's peak speed reaches ``threshold_dps``."""
    return peak_return_dps >= threshold_dps


def is_partial(
    rom_deg: float, side_roms_deg: Sequence[float], fraction: float, min_history: int
) -> bool:
    """Range below ``fraction`` of the median of that side's recent reps (judged once the
    side has ``min_history`` reps)."""
    if len(side_roms_deg) < min_history:
        return False
    return rom_deg < fraction * median(side_roms_deg)


def in_rebound(since_fast_s: float, rebound_s: float) -> bool:
    """Within ``rebound_s`` of a fast drop's speed: the knees rebound off the end stop
    (5-10 deg back and out again), which is part of the drop, not a bounce."""
    return since_fast_s < rebound_s


def return_is_real(rate_return_deg: float, angle_return_deg: float, fraction: float) -> bool:
    """The integrated rate accounts for at least ``fraction`` of the angle's way back from
    the peak. After a gap inside a hard drop the angle can overshoot and then creep back to
    gravity while the gyro shows the knees holding still: that creep is not a return."""
    return rate_return_deg >= fraction * angle_return_deg


def is_pose_revisit(
    rest_depth_deg: float,
    pose_depth_deg: float,
    pose_left_s: float,
    peak_deg: float,
    peak_s: float,
    match_deg: float,
    min_rom_deg: float,
) -> bool:
    """A rest at ``rest_depth_deg`` returns to a pose the excursion rested at before (last
    still at ``pose_left_s``), within ``match_deg``, after going on deeper from it by at
    least ``min_rom_deg`` (the peak came after it): excursions about that pose on both
    sides of a centre would look exactly like this, so the pose is the centre."""
    return (
        abs(rest_depth_deg - pose_depth_deg) <= match_deg
        and peak_s > pose_left_s
        and peak_deg - pose_depth_deg >= min_rom_deg
    )


def exact_mean(values: Sequence[float]) -> float:
    """``float(np.mean(values))`` for a few Python floats, bit for bit, without the
    numpy call: numpy sums up to 128 float64 values in 8 interleaved partial sums
    (pairwise summation), fewer than 8 in order (tests check the match)."""
    n = len(values)
    if n < PAIRWISE_BLOCK:
        total = 0.0
        for x in values:
            total += x
        return total / n
    if n > PAIRWISE_MAX:
        return float(np.mean(values))
    a = list(values)
    r = a[:PAIRWISE_BLOCK]
    stop = n - n % PAIRWISE_BLOCK
    i = PAIRWISE_BLOCK
    while i < stop:
        for q in range(PAIRWISE_BLOCK):
            r[q] += a[i + q]
        i += PAIRWISE_BLOCK
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for x in a[stop:]:
        total += x
    return total / n


def exact_means(cols: Sequence[np.ndarray]) -> np.ndarray | None:
    """:func:`exact_mean` of many windows at once, given as their ``n`` columns (value
    ``i`` of every window), elementwise in the same order: bit for bit ``np.mean`` of
    each window. None beyond ``PAIRWISE_MAX`` values."""
    n = len(cols)
    if n > PAIRWISE_MAX:
        return None
    if n < PAIRWISE_BLOCK:
        total = np.zeros(len(cols[0]))
        for x in cols:
            total = total + x
        return total / n
    r = cols[:PAIRWISE_BLOCK]
    stop = n - n % PAIRWISE_BLOCK
    for i in range(PAIRWISE_BLOCK, stop, PAIRWISE_BLOCK):
        r = [r[q] + cols[i + q] for q in range(PAIRWISE_BLOCK)]
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for x in cols[stop:]:
        total = total + x
    return total / n


def median(values: Sequence[float]) -> float:
    """``float(np.median(values))`` for a few Python floats, bit for bit, without the
    numpy call: the middle value, or the :func:`exact_mean` of the middle two."""
    v = sorted(values)
    n = len(v)
    if n == 0 or any(x != x for x in v):
        return float(np.median(values))  # empty or nan: numpy's answer (and warning)
    h = n // 2
    return exact_mean(v[h : h + 1] if n % 2 else v[h - 1 : h + 1])


G_MPS2 = 9.80665  # standard gravity, m/s^2


def lever_corrected_peak(
    v_dps: np.ndarray, t_s: np.ndarray, i: int, lever_m: float, span_s: float, cap: float
) -> float:
    """Accelerometer only: the speed at sample ``i`` (a peak) with the lever-arm tilt undone.

    Tangential acceleration tilts the gravity angle, theta_app ~ theta - (r/g) theta''
    (r: the sensor's distance from the roll axis, m), so its speed reads
    v_app ~ v - (r/g) v'' (at a speed peak v'' < 0: it reads high). Inverted to first
    order at the peak: v ~ v_app + (r/g) v_app'', v'' the second difference of the speed
    over +-``span_s`` (deg/s^3; it looks ahead, so for completed reps only). The
    correction is at most ``cap`` x |v_app|; near the ends of the series, none. deg/s."""
    v = np.asarray(v_dps, dtype=float)
    vi = float(v[i])
    n = len(v)
    if n < 3:
        return vi
    step = quantiles.median(np.diff(t_s))
    k = max(1, int(round(span_s / step))) if step > 0 else 1
    if i - k < 0 or i + k >= n:
        return vi
    acc2 = (float(v[i + k]) - 2.0 * vi + float(v[i - k])) / (k * step) ** 2
    corr = (lever_m / G_MPS2) * acc2
    lim = cap * abs(vi)
    return vi + min(lim, max(-lim, corr))


def settled_depth(
    t_s: np.ndarray,
    depth_deg: np.ndarray,
    rate_dps: np.ndarray,
    t_from_s: float,
    still_dps: float,
    span_s: float,
    min_s: float,
) -> float | None:
    """Depth (deg) the knees hold once a fast drop has settled: the median depth over the
    first ``span_s`` of samples after ``t_from_s`` whose rate is within ``still_dps``;
    None if those still samples cover less than ``min_s`` (the knees never held: they were
    already on their way back). Without a gyro the gravity angle swings with the stop's
    tangential acceleration (theta_app ~ theta - (r/g) theta''); the held pose does not."""
    idx = np.nonzero((t_s >= t_from_s) & (np.abs(rate_dps) <= still_dps))[0]
    if not len(idx):
        return None
    idx = idx[t_s[idx] <= t_s[idx[0]] + span_s]
    if float(t_s[idx[-1]] - t_s[idx[0]]) < min_s:
        return None
    return quantiles.median(depth_deg[idx])
