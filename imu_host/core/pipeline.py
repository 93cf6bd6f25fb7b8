"""The one causal pipeline used by live sessions and replay: samples in, events out.

``Pipeline.feed(samples)`` accepts any number of samples (a whole recording, random
chunks, or one at a time) and gives identical events for any split of the stream.
``imu_host.core.stats.summarize`` turns reps into the session summary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from imu_host.core.events import (
    Event,
    GapEvent,
    Rep,
)
from imu_host.core.orientation import OrientationSettings, RollEstimator
from imu_host.core.reps.detector import DetectorSettings, RepDetector
from imu_host.core.samples import Samples
from imu_host.core.stats import summarize


@dataclass(frozen=True)
class Settings:
    """All tuning in one place (see the two settings classes for documented defaults)."""

    orientation: OrientationSettings = field(default_factory=OrientationSettings)
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    # timestamps jump by more than this: a gap. The estimator re-seeds its filters from
    # gravity at the first sample after it (the absolute roll is known again at once) and
    # the excursion under way is kept, unless the gap is longer than gap_void_s.
    gap_reset_s: float = 0.25
    gap_void_s: float = 2.0  # a gap longer than this voids the excursion under way


class Pipeline:
    """Samples -> knee-roll angle -> reps and cues. One update per ``feed``."""

    def __init__(
        self,
        odr_hz: float,
        has_gyro: bool,
        settings: Settings | None = None,
        keep_trace: bool = False,
        reference: bool = False,
    ) -> None:
        """``reference``: the plain paths, the estimator's per-epoch steps and the detector's
        per-block step loop (the fast paths are tested against them)."""
        self.settings = settings or Settings()
        self.odr_hz = float(odr_hz)
        self.has_gyro = has_gyro
        self._orient = RollEstimator(odr_hz, has_gyro, self.settings.orientation, reference)
        self._det = RepDetector(
            odr_hz,
            self.settings.detector,
            keep_trace=keep_trace,
            has_gyro=has_gyro,
            reference=reference,
        )
        self.events: list[Event] = []
        self.keep_trace = keep_trace
        self.angle_deg = math.nan  # latest knee angle relative to the learned centre
        self.samples_seen = 0
        self.t_first: float | None = None
        self.t_last: float | None = None
        self.gaps: list[tuple[float, float]] = []

    @property
    def reps(self) -> list[Rep]:
        return self._det.reps

    @property
    def centre_deg(self) -> float | None:
        return self._det.centre

    def feed(self, samples: Samples) -> list[Event]:
        """Process a block of samples; return the events it completes."""
        n = len(samples)
        if n == 0:
            return []
        if self.has_gyro and samples.gyro_dps is None:
            raise ValueError("pipeline was set up for gyro data")
        t = samples.t_s
        events: list[Event] = []
        # long gaps: no rep spans them (split the block there)
        start = 0
        prev = self.t_last
        jumps = np.empty(n)
        jumps[0] = t[0] - (t[0] if prev is None else prev)
        jumps[1:] = t[1:] - t[:-1]
        cut = np.nonzero(jumps > self.settings.gap_reset_s)[0]
        for i in [*cut.tolist(), n]:
            if i > start:
                events += self._run(samples.slice(start, i))
            if i < n:
                g0 = float(t[i - 1]) if i > 0 or prev is None else float(prev)
                self.gaps.append((g0, float(t[i])))
                events += self._gap(g0, float(t[i]))
            start = i
        self.samples_seen += n
        if self.t_first is None:
            self.t_first = float(t[0])
        self.t_last = float(t[-1])
        self.events += events
        return events

    def _gap(self, t0: float, t1: float) -> list[Event]:
        self._orient.gap()
        self._det.gap(t1 - t0, self.settings.gap_void_s)
        return [GapEvent(t1, t0, t1)]

    def _run(self, s: Samples) -> list[Event]:
        g = s.gyro_dps if self.has_gyro else None
        events: list[Event] = []
        for seg in self._orient.process(s.t_s, s.accel_g, g):
            events += self._det.feed(seg.t_s, seg.theta_deg, seg.rate_dps, seg.calm)
            c = self._det.centre
            last = float(seg.theta_deg[-1])
            self.angle_deg = last - c if c is not None and not math.isnan(last) else math.nan
        return events

    def finish(self) -> list[Event]:
        """End of stream (closes an excursion that came back at least halfway)."""
        ev = self._det.finish()
        self.events += ev
        return ev

    def angle_trace(self) -> tuple[np.ndarray, np.ndarray]:
        """(t_s, angle_deg relative to the centre known at the time); needs keep_trace."""
        d = self._det
        if not d.trace_t:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(d.trace_t), np.concatenate(d.trace_deg)

    @property
    def duration_s(self) -> float:
        if self.t_first is None or self.t_last is None:
            return 0.0
        return self.t_last - self.t_first

    def summary(self) -> dict:
        return summarize(self.reps, self.duration_s, self.events)


__all__ = ["Pipeline", "Settings"]
