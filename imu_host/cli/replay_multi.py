"""``imu-host replay FOLDER``: a multi-board session folder (one with ``manifest.json``).

Reached from ``cli/replay.py``; runs the folder through the same MultiPipeline in the
recorded order (``feeds.csv``), so it prints exactly what the live session showed.
``--report DIR`` writes the report set (the session's reps, the primary thigh's angle
trace, the knees-and-shoulders figures); the session is saved to the history unless
``--no-save``. :func:`analyze_multi` and :func:`write_multi_report` are also what
``imu-host report FOLDER`` and ``imu-host live`` (several boards) use.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def analyze_multi(folder: str, settings: Any = None) -> tuple[Any, dict[str, Any]]:
    """Replay a session folder -> (MultiPipeline, summary with ``source``).

    A damaged folder raises :class:`InputError` naming the file, line and field."""
    from imu_host.io.multi import read_multi_recording, replay_multi

    rec = read_multi_recording(folder)
    mp = replay_multi(rec, settings)
    summary = mp.summary()
    raw = rec.manifest.get("meta")
    meta: dict[str, Any] = raw if isinstance(raw, dict) else {}
    summary["source"] = {"path": rec.path, "roles": list(rec.boards),
                         "feeds": "recorded" if rec.feeds is not None else "from clocks"}  # fmt: skip
    for key in ("started_at", "started", "source"):
        if isinstance(meta.get(key), str):
            summary["source"]["started_at" if key == "started" else key] = meta[key]
    return mp, summary


def report_inputs(mp: Any) -> tuple[list[Any], Any, Any, list[Any]]:
    """(reps, angle_t_s, angle_deg, flag events) of a finished MultiPipeline: the session's
    reps and the angle trace of the reference thigh (its device time is session time),
    continued by the other thigh's (mapped into session time, its sign matched) where the
    reference thigh had stopped streaming, as the count is."""
    import numpy as np

    from imu_host.core.events import FlagEvent

    events = [e for e in mp.events if isinstance(e, FlagEvent)]
    ref = mp.boards.get(mp.reference)
    if ref is None or ref.pipeline is None:
        return list(mp.reps), None, None, events
    t, a = ref.pipeline.angle_trace()
    t, a = np.asarray(t, dtype=float), np.asarray(a, dtype=float)
    for role, b in mp.boards.items():
        if role == mp.reference or b.pipeline is None:
            continue
        to, ao = b.pipeline.angle_trace()
        if not len(to):
            continue
        ts = np.asarray(b.to_session(np.asarray(to, dtype=float), ref.clock), dtype=float)
        after = ts > (t[-1] if len(t) else -np.inf)
        t = np.concatenate([t, ts[after]])
        a = np.concatenate([a, np.asarray(ao, dtype=float)[after] * b.sign])
    return list(mp.reps), t, a, events


def write_multi_report(
    out_dir: str | Path,
    mp: Any,
    summary: dict[str, Any],
    *,
    target: int | None = None,
    html: bool = False,
    protect: Iterable[str | Path] = (),
    meta: dict[str, Any] | None = None,
) -> Any:
    """The report set of a multi-board session (see :func:`imu_host.report.write.write_report`)."""
    import dataclasses

    from imu_host.report.write import write_report

    reps, t, a, events = report_inputs(mp)
    settings = dataclasses.asdict(mp.settings.pipeline)
    return write_report(
        out_dir, reps, t, a, events, meta or {}, target_per_side=target, summary=summary,
        html=html, protect=protect, settings=settings,
    )  # fmt: skip


def run_replay_multi(args: argparse.Namespace) -> int:
    from imu_host.cli.live_multi import render_multi, settings_from_args
    from imu_host.cli.replay import save_and_show

    mp, summary = analyze_multi(args.file, settings_from_args(args))
    if args.report:
        paths = write_multi_report(
            args.report, mp, summary, target=args.target, protect=[args.file]
        )
        summary["report"] = str(paths.out_dir)
    return save_and_show(summary, args, render_multi)
