"""Whole recordings through the streaming pipeline: load (io) -> Pipeline (core) -> Analysis.

A plain v1 recording is streamed (:func:`analyze_path`: read block by block while the
pipeline runs, so memory does not grow with the recording's length); other inputs are
loaded whole (:func:`analyze`). Both feed the pipeline the same blocks of
:data:`FEED_SAMPLES` samples, so they give the same results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from imu_host.core.events import Event, Rep
from imu_host.core.pipeline import Pipeline, Settings
from imu_host.io.recording import (
    ImportOptions,
    Recording,
    RecordingStream,
    load,
    open_recording,
    starts_with_magic,
)


@dataclass
class Analysis:
    """Result of running a whole recording through the pipeline."""

    reps: list[Rep]
    events: list[Event]
    angle_t_s: np.ndarray
    angle_deg: np.ndarray
    summary: dict
    meta: dict[str, str]
    recording: Recording | None  # None when the recording was streamed (no samples kept)
    notices: list[str] = field(default_factory=list)  # one-line warnings about the input


# samples per Pipeline.feed in a replay (~80 s at 100 Hz): any split gives the same
# results, and bounded feeds keep the per-sample intermediates small. 8192 rather than
# 16384: a streamed 1 h replay peaks at 40.8 MB instead of 45.0 MB (1.81x the file, was
# 2.05x), best of 8 alternating runs 0.48 s either way (benchmarks/bench_speed.py)
FEED_SAMPLES = 8192


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
    return _result(p, rec.path, rec.sample_rate_hz, len(s), s.has_gyro, rec.meta, rec,
                   rec.notices)  # fmt: skip


def analyze_stream(
    stream: RecordingStream,
    settings: Settings | None = None,
    chunk: int | None = None,
    trace: bool = True,
) -> Analysis:
    """:func:`analyze` of a recording read as it goes (the same results; the recording's
    samples are never all in memory). An InputError (a bad row anywhere) comes before
    any result; ``notices`` are complete."""
    p = Pipeline(stream.sample_rate_hz, stream.has_gyro, settings, keep_trace=trace)
    for block in stream.blocks(FEED_SAMPLES if chunk is None else chunk):
        p.feed(block)
    return _result(p, stream.path, stream.sample_rate_hz, stream.samples_read, stream.has_gyro,
                   stream.meta, None, stream.notices)  # fmt: skip


def _result(p: Pipeline, path: str, rate: float, n: int, has_gyro: bool, meta: dict[str, str],
            rec: Recording | None, notices: list[str]) -> Analysis:  # fmt: skip
    p.finish()
    t, a = p.angle_trace()
    summ = p.summary()
    summ["source"] = {"path": path, "sample_rate_hz": rate, "samples": n, "has_gyro": has_gyro}
    return Analysis(p.reps, p.events, t, a, summ, meta, rec, list(notices))


def analyze_path(
    path: str,
    options: ImportOptions | None = None,
    settings: Settings | None = None,
    trace: bool = True,
) -> Analysis:
    """Analyse a recording file: a plain v1 recording streamed, anything else (import
    options, a raw byte capture) loaded whole. The same results either way."""
    if options is None and starts_with_magic(path):
        with open_recording(path) as stream:
            return analyze_stream(stream, settings, trace=trace)
    return analyze(load(path, options), settings, trace=trace)


def analyze_file(
    path: str, options: ImportOptions | None = None, settings: Settings | None = None
) -> Analysis:
    """Load a recording (v1, or foreign with import options) and analyse it."""
    return analyze_path(path, options, settings)


__all__ = ["FEED_SAMPLES", "Analysis", "analyze", "analyze_file", "analyze_path",
           "analyze_stream"]  # fmt: skip
