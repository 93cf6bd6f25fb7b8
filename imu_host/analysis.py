"""Whole recordings through the streaming pipeline: load (io) -> Pipeline (core) -> Analysis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imu_host.core.events import Event, Rep
from imu_host.core.pipeline import Pipeline, Settings
from imu_host.io.recording import ImportOptions, Recording, load


@dataclass
class Analysis:
    """Result of running a whole recording through the pipeline."""

    reps: list[Rep]
    events: list[Event]
    angle_t_s: np.ndarray
    angle_deg: np.ndarray
    summary: dict
    meta: dict[str, str]
    recording: Recording


# samples per Pipeline.feed in a replay (~2.7 min at 100 Hz): any split gives the same
# results, and bounded feeds keep the per-sample intermediates small (peak memory of a
# 1 h replay 198 -> 87 MB) at no cost in speed (benchmarks/bench_speed.py)
FEED_SAMPLES = 16384


def analyze(
    rec: Recording, settings: Settings | None = None, chunk: int | None = None, trace: bool = True
) -> Analysis:
    """Run a loaded recording through the streaming pipeline, ``chunk`` samples per feed
    (default :data:`FEED_SAMPLES`; the results do not depend on it). ``trace=False``: no
    angle trace (``angle_t_s`` / ``angle_deg`` empty; a summary needs none, and 1 h of
    trace is ~12 MB)."""
    p = Pipeline(rec.sample_rate_hz, rec.samples.has_gyro, settings, keep_trace=trace)
    s = rec.samples
    step = FEED_SAMPLES if chunk is None else chunk
    for i in range(0, len(s), step):
        p.feed(s.slice(i, i + step))
    p.finish()
    t, a = p.angle_trace()
    summ = p.summary()
    summ["source"] = {"path": rec.path, "sample_rate_hz": rec.sample_rate_hz,
                      "samples": len(s), "has_gyro": s.has_gyro}  # fmt: skip
    return Analysis(p.reps, p.events, t, a, summ, rec.meta, rec)


def analyze_file(
    path: str, options: ImportOptions | None = None, settings: Settings | None = None
) -> Analysis:
    """Load a recording (v1, or foreign with import options) and analyse it."""
    return analyze(load(path, options), settings)


__all__ = ["Analysis", "analyze", "analyze_file"]
