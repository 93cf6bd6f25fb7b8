"""Where "centre" is: the detector's reference pose between the two sides.

The centre is an angle in the estimator's frame (which keeps its reference across gaps,
knocks and a re-found axis within 60 deg). It is learned from rests and kept between the
two sides' typical peaks; these small functions are the rules for that.
"""

from __future__ import annotations

from collections.abc import Sequence

from imu_host.core.reps.rules import median

REST_PULL = 0.2  # a rest within enter_deg of the centre moves it this fraction of the way
CLAMP_FRACTION = 0.25  # the centre stays this fraction of the side-to-side span inside it
PEAK_HISTORY = 3  # recent side peaks (per side) the clamp uses


def rest_pull(centre_deg: float, rest_deg: float, weight: float = REST_PULL) -> float:
    """Move the centre toward a rest (the mean angle of a still stretch), degrees."""
    return centre_deg + weight * (rest_deg - centre_deg)


def turning_point_centre(turning_points_deg: Sequence[float]) -> float:
    """Provisional centre with no rest yet: midway between the last two turning points."""
    return 0.5 * (turning_points_deg[-1] + turning_points_deg[-2])


def clamp_between_sides(
    centre_deg: float,
    left_peaks_deg: Sequence[float],
    right_peaks_deg: Sequence[float],
    fraction: float = CLAMP_FRACTION,
) -> float:
    """Keep the centre between the two sides' typical (median) peaks, at least
    ``fraction`` of the span away from each: a centre must have excursions on both sides
    of it. Unchanged until both sides have peaks."""
    if not left_peaks_deg or not right_peaks_deg:
        return centre_deg
    hi = median(left_peaks_deg)
    lo = median(right_peaks_deg)
    span = hi - lo
    if span <= 0:
        return centre_deg
    return min(max(centre_deg, lo + fraction * span), hi - fraction * span)
