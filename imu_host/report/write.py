"""Writing a report's output set: ``summary.json``, ``report.md``, ``report.png``, ``report.html``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imu_host.core.events import FlagEvent, Rep
from imu_host.core.stats import session_stats
from imu_host.errors import InputError
from imu_host.report.figure import render_figure
from imu_host.report.summary import (
    FIGURE_NAME,
    GENERATED_NAMES,
    HTML_NAME,
    MARKDOWN_NAME,
    SUMMARY_NAME,
    build_summary,
    session_duration,
)
from imu_host.report.text import feedback_lines, render_html, render_markdown


@dataclass(frozen=True)
class ReportPaths:
    """Files written by :func:`write_report` (``html`` is None unless asked for).

    ``summary`` is the object written to ``summary.json`` (what to save to the history).
    """

    out_dir: Path
    summary_json: Path
    markdown: Path
    figure_png: Path
    html: Path | None = None
    summary: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def prepare_out_dir(out_dir: str | Path, protect: Iterable[str | Path] = ()) -> Path:
    """Create the report directory; refuse a file, or a dir where a protected file would be hit."""
    d = Path(out_dir)
    if d.exists() and not d.is_dir():
        raise InputError("report output must be a directory, but a file is there", path=str(d))
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create report directory: {err.strerror}", path=str(d)) from None
    targets = {(d / n).resolve() for n in GENERATED_NAMES}
    for p in protect:
        if Path(p).resolve() in targets:
            raise InputError(
                "the report would overwrite this file; choose another --out directory",
                path=str(p),
            )
    return d


def write_report(
    out_dir: str | Path,
    reps: Sequence[Rep],
    angle_t_s: np.ndarray | None,
    angle_deg: np.ndarray | None,
    flag_events: Sequence[FlagEvent] | None,
    meta: Mapping[str, Any] | None,
    target_per_side: int | Mapping[str, int] | None = None,
    summary: Mapping[str, Any] | None = None,
    *,
    html: bool = False,
    protect: Iterable[str | Path] = (),
) -> ReportPaths:
    """Write ``summary.json``, ``report.md``, ``report.png`` (and ``report.html``) to ``out_dir``.

    ``protect``: paths (e.g. the recording) that must never be overwritten; an
    :class:`InputError` is raised if one of them has a generated file's name in ``out_dir``.
    """
    meta = dict(meta or {})
    if summary and isinstance(summary.get("source"), Mapping):
        for k, v in summary["source"].items():
            meta.setdefault(k, v)
    if not meta.get("recording"):
        src = summary.get("source") if summary else None
        path = src.get("path") if isinstance(src, Mapping) else None
        label = path or meta.get("path") or meta.get("source")
        if label:
            meta["recording"] = str(label)
    reps = sorted(reps, key=lambda r: r.index)
    d = prepare_out_dir(out_dir, protect)
    stats = session_stats(reps, target_per_side)
    feedback = feedback_lines(stats)
    duration = session_duration(reps, angle_t_s, meta, summary)

    png = render_figure(
        reps,
        angle_t_s,
        angle_deg,
        flag_events,
        meta,
        title=f"Knee rolls: {meta['recording']}" if meta.get("recording") else None,
    )
    fig_path = d / FIGURE_NAME
    fig_path.write_bytes(png)
    summ = build_summary(reps, stats, feedback, duration, meta, flag_events, summary)
    summary_path = d / SUMMARY_NAME
    summary_path.write_text(json.dumps(summ, indent=2, ensure_ascii=False) + "\n", "utf-8")
    md = render_markdown(stats, feedback, reps, meta, duration, FIGURE_NAME)
    md_path = d / MARKDOWN_NAME
    md_path.write_text(md, "utf-8")
    html_path = None
    if html:
        html_path = d / HTML_NAME
        html_path.write_text(render_html(md, png), "utf-8")
    return ReportPaths(d, summary_path, md_path, fig_path, html_path, summ)
