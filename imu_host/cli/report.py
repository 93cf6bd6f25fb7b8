"""``imu-host report``: summary.json, Markdown/HTML report and PNG figure for one session.

The input is a recording (analysed with :func:`imu_host.analysis.analyze_file`), a
``summary.json`` / ``replay --json`` object (no angle trace: the figure reconstructs one
from the rep phases), or the id of a session stored in the history database.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imu_host.errors import InputError

if TYPE_CHECKING:
    from imu_host.core.events import FlagEvent

HELP = "Write a session report (summary.json, report.md, report.png) with clinical counts."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        metavar="RECORDING_OR_SESSION",
        help="a recording, a summary .json file, or the id of a session in the history",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="report directory (created; default: <name>_report next to the input, or "
        "./session_<id>_report). Only summary.json, report.md/.html/.png are overwritten",
    )
    from imu_host.cli.options import positive_int

    parser.add_argument("--target", type=positive_int, metavar="N", help="prescribed reps per side")
    parser.add_argument(
        "--html", action="store_true", help="also write a self-contained report.html"
    )
    parser.add_argument("--db", metavar="PATH", help="history database (see `imu-host history`)")
    parser.add_argument(
        "--no-save", action="store_true", help="do not store an analysed recording in the history"
    )
    from imu_host.cli.options import add_import_arguments, add_settings_arguments

    add_import_arguments(parser)
    add_settings_arguments(parser)


def _load_summary_file(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read: {err}", path=str(path)) from None
    except json.JSONDecodeError as err:
        raise InputError(f"not valid JSON ({err.msg})", path=str(path), line=err.lineno) from None
    if not isinstance(obj, dict) or not isinstance(obj.get("reps"), list):
        raise InputError("not a session summary (no 'reps' list)", path=str(path))
    return obj


def _events_from(summary: dict[str, Any]) -> list[FlagEvent]:
    from imu_host.core.events import FlagEvent

    out: list[FlagEvent] = []
    for e in summary.get("flag_events") or []:
        try:
            out.append(
                FlagEvent(
                    float(e["t_s"]), str(e["kind"]), str(e["side"]), float(e.get("value", 0.0))
                )
            )
        except (KeyError, TypeError, ValueError):
            continue  # markers only: a malformed event is skipped
    return out


def run(args: argparse.Namespace) -> int:
    from imu_host.core.events import FlagEvent
    from imu_host.history.store import HistoryDB, default_db_path, save_to_history
    from imu_host.report.summary import reps_from_dicts, write_report

    if args.target is not None and args.target < 0:
        raise InputError(f"--target must be >= 0, got {args.target}")
    src = Path(args.source)
    db_path = Path(args.db) if args.db else default_db_path()
    save_source: str | None = None
    started_at = None
    if src.is_file() and src.suffix.lower() == ".json":
        summary = _load_summary_file(src)
        reps = reps_from_dicts(summary["reps"])
        events, t, a = _events_from(summary), None, None
        meta: dict[str, Any] = {"recording": str(src)}
        default_out = src.parent / f"{src.stem}_report"
    elif src.is_file():
        from imu_host import analysis as session
        from imu_host.cli.options import import_options, settings_from_args

        settings = settings_from_args(args)
        analysis = session.analyze_file(str(src), import_options(args), settings)
        reps, t, a = list(analysis.reps), analysis.angle_t_s, analysis.angle_deg
        events = [e for e in analysis.events if isinstance(e, FlagEvent)]
        summary = dict(analysis.summary)
        meta = {**{str(k): v for k, v in (analysis.meta or {}).items()}, "recording": str(src)}
        meta["fast_drop_dps"] = settings.detector.fast_drop_dps  # the thresholds used
        meta["fast_return_dps"] = settings.detector.fast_return_dps
        default_out = src.parent / f"{src.stem}_report"
        save_source = str(src)
        from imu_host.history.store import parse_datetime

        started_at = parse_datetime(meta.get("started_at") or meta.get("started"))
    elif not src.exists() and args.source.isdigit():
        if not db_path.exists():
            raise InputError("no history database here; pass --db PATH", path=str(db_path))
        with HistoryDB(db_path) as db:
            summary = db.summary_json(int(args.source))
        if not isinstance(summary.get("reps"), list):
            raise InputError(f"session {args.source} has no rep list stored", path=str(db_path))
        reps = reps_from_dicts(summary["reps"])
        events, t, a = _events_from(summary), None, None
        meta = {"recording": f"history session {args.source} ({db_path})"}
        default_out = Path(f"session_{args.source}_report")
    elif src.is_dir():
        raise InputError("is a directory; give a recording or a summary .json", path=str(src))
    else:
        raise InputError("no such file (or history session id)", path=str(src))

    summary.pop("report", None)  # recomputed with this run's target
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
    )
    for p in (paths.summary_json, paths.markdown, paths.html, paths.figure_png):
        if p is not None:
            print(p)
    if save_source is not None and not args.no_save:
        sid = save_to_history(paths.summary, save_source, db_path, started_at=started_at)
        print(f"saved to the history as session {sid} ({db_path})", file=sys.stderr)
    for line in paths.summary["report"]["feedback"]:
        print(f"  {line}", file=sys.stderr)
    return 0
