"""``imu-host report``: summary.json, Markdown/HTML report and PNG figure for one session.

The input is a recording (analysed with :func:`imu_host.analysis.analyze_file`), a
``summary.json`` / ``replay --json`` object (no angle trace: the figure reconstructs one
from the rep phases), or the id of a session stored in the history database.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import stat
import sys
from pathlib import Path
from typing import IO, Any

from imu_host.errors import InputError

HELP = "Write a session report (summary.json, report.md, report.png) with clinical counts."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        metavar="RECORDING_OR_SESSION",
        help="a recording, a multi-board session folder, a summary .json file, or the id "
        "of a session in the history",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="report directory (created; default: <name>_report next to the input, or in "
        "the current directory when the input's folder is read-only or shared; "
        "./session_<id>_report for a history session). Only imu-host's own earlier report "
        "files are replaced (never through a link); a report.html left from an earlier "
        "run is removed unless --html",
    )
    from imu_host.cli.options import positive_int

    parser.add_argument("--target", type=positive_int, metavar="N", help="prescribed reps per side")
    parser.add_argument(
        "--html", action="store_true", help="also write a self-contained report.html"
    )
    parser.add_argument("--db", metavar="PATH", help="history database (see `imu-host history`)")
    parser.add_argument(
        "--no-save",
        action="store_true",
        help="do not store an analysed recording in the history (a recording already "
        "stored is never rewritten: its stored numbers are kept, and a note says so)",
    )
    from imu_host.cli.options import add_import_arguments, add_settings_arguments

    add_import_arguments(parser)
    add_settings_arguments(parser)


def _writable_own_folder(folder: Path) -> bool:
    """True if ``folder`` is the user's own, writable, not shared (group/world-writable) and
    not on a read-only file system: only then is a report put beside the input."""
    try:
        st = os.stat(folder)
        if st.st_uid != os.geteuid():
            return False
        if not st.st_mode & stat.S_IWUSR or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return False
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return False
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def default_out_dir(src: Path, name: str) -> tuple[Path, str | None]:
    """``<input folder>/<name>``, or ``./<name>`` (with a note why) when that folder is
    read-only, shared or not the user's (e.g. a dataset folder)."""
    if _writable_own_folder(src.parent if str(src.parent) else Path(".")):
        return src.parent / name, None
    here = Path.cwd() / name
    return here, (
        f"the input's folder ({src.parent}) is read-only, shared or not yours: "
        f"writing the report to {here} instead"
    )


def _say(text: str, stream: IO[str]) -> None:
    """Print one line; characters the terminal cannot show (°, odd file names) degrade."""
    from imu_host.paths import display_text

    text = display_text(text)
    enc = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(enc)
    except (UnicodeEncodeError, LookupError):
        text = text.encode(enc, "replace").decode(enc, "replace")
    print(text, file=stream)


def run(args: argparse.Namespace) -> int:
    from imu_host.history.store import HistoryDB, default_db_path, save_to_history
    from imu_host.paths import display_text
    from imu_host.report.summary import load_summary_file, summary_from_object
    from imu_host.report.write import write_report

    if args.target is not None and args.target < 0:
        raise InputError(f"--target must be >= 0, got {args.target}")
    src = Path(args.source)
    db_path = Path(args.db) if args.db else default_db_path()
    save_source: str | None = None
    started_at = None
    settings_used: dict[str, Any] | None = None
    note: str | None = None
    if src.is_file() and src.suffix.lower() == ".json":
        summary, reps, events = load_summary_file(src)
        t, a = None, None
        meta: dict[str, Any] = {"recording": str(src)}
        default_out, note = default_out_dir(src, f"{src.stem}_report")
    elif src.is_file():
        from imu_host import analysis as session
        from imu_host.cli.options import import_options, settings_from_args
        from imu_host.core.events import FlagEvent
        from imu_host.history.store import parse_datetime

        settings = settings_from_args(args)
        analysis = session.analyze_file(str(src), import_options(args), settings)
        reps, t, a = list(analysis.reps), analysis.angle_t_s, analysis.angle_deg
        events = [e for e in analysis.events if isinstance(e, FlagEvent)]
        summary = dict(analysis.summary)
        meta = {**{str(k): v for k, v in (analysis.meta or {}).items()}, "recording": str(src)}
        meta["fast_drop_dps"] = settings.detector.fast_drop_dps  # the thresholds used
        meta["fast_return_dps"] = settings.detector.fast_return_dps
        settings_used = dataclasses.asdict(settings)
        default_out, note = default_out_dir(src, f"{src.stem}_report")
        save_source = str(src)
        started_at = parse_datetime(meta.get("started_at") or meta.get("started"))
    elif not src.exists() and args.source.isdigit():
        if not db_path.exists():
            raise InputError("no history database here; pass --db PATH", path=str(db_path))
        with HistoryDB(db_path) as db:
            stored = db.summary_json(int(args.source))
        summary, reps, events = summary_from_object(stored, f"{db_path}: session {args.source}")
        t, a = None, None
        meta = {"recording": f"history session {args.source} ({db_path})"}
        default_out = Path(f"session_{args.source}_report")
    elif src.is_dir() and (src / "manifest.json").is_file():
        # a multi-board session folder (docs/MULTI_SENSOR.md): replayed as `replay FOLDER`
        from imu_host.cli.live_multi import settings_from_args as multi_settings
        from imu_host.cli.replay_multi import analyze_multi, report_inputs
        from imu_host.history.store import parse_datetime

        mp, summary = analyze_multi(str(src), multi_settings(args))
        reps, t, a, events = report_inputs(mp)
        meta = {"recording": str(src)}
        settings_used = dataclasses.asdict(mp.settings.pipeline)
        default_out, note = default_out_dir(src, f"{src.name}_report")
        save_source = str(src)
        started_at = parse_datetime(summary["source"].get("started_at"))
    elif src.is_dir():
        raise InputError(
            "is a directory; give a recording, a summary .json or a multi-board session "
            "folder (one holding manifest.json)",
            path=str(src),
        )
    elif src.exists():
        raise InputError(
            "not a regular file; give a recording or a summary .json", path=display_text(str(src))
        )
    else:
        raise InputError("no such file (or history session id)", path=display_text(str(src)))

    summary.pop("report", None)  # recomputed with this run's target
    if note and not args.out:
        _say(f"imu-host: note: {note}", sys.stderr)
    paths = write_report(
        Path(args.out) if args.out else default_out,
        reps,
        t,
        a,
        events,
        meta,
        target_per_side=args.target,
        summary=summary,
        html=args.html,
        protect=[src, db_path],
        settings=settings_used,
    )
    for p in (paths.summary_json, paths.markdown, paths.html, paths.figure_png):
        if p is not None:
            _say(str(p), sys.stdout)
    for line in paths.notes:
        _say(f"imu-host: note: {line}", sys.stderr)
    for line in paths.summary["report"]["feedback"]:
        _say(f"  {line}", sys.stderr)
    # last: if the history cannot be saved, the report and its feedback are already out
    if save_source is not None and not args.no_save:
        sid = save_to_history(
            paths.summary,
            save_source,
            db_path,
            started_at=started_at,
            notify=lambda line: _say(f"imu-host: note: {line}", sys.stderr),
        )
        _say(f"saved to the history as session {sid} ({db_path})", sys.stderr)
    return 0
