"""Test helper: feed a pipeline a recording's samples split at given indices."""

from __future__ import annotations

from imu_host.core.events import Event
from imu_host.core.pipeline import Pipeline
from imu_host.core.samples import Samples


def feed_in_cuts(p: Pipeline, samples: Samples, cuts: list[int]) -> list[Event]:
    """All events of ``p`` fed ``samples`` in pieces ending at each of ``cuts`` (sorted
    indices), then the rest, then finished."""
    events: list[Event] = []
    prev = 0
    for c in [*cuts, len(samples)]:
        events += p.feed(samples.slice(prev, c))
        prev = c
    events += p.finish()
    return events
