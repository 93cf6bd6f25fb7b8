"""``imu-host live``: count reps from a board in real time, record the session."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from imu_host.errors import InputError

HELP = "live session from a board over USB serial or BLE: reps, form cues, recording"

EPILOG = """\
Recording: on by default, to live-YYYYmmdd-HHMMSS.csv (recording v1) in the folder
$IMU_HOST_RECORDINGS, else $XDG_DATA_HOME/imu-host/recordings (usually
~/.local/share/imu-host/recordings); flushed every second, never overwriting a file. `imu-host replay FILE` on it reproduces
the reps and flags shown live.
Output: a refreshing view on a terminal, one line per event in a pipe, or one JSON
object per event with --json-events. Ends on Ctrl-C, --target or --duration.
"""


def add_source_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group("boards (give two or three for knees-apart / shoulder checks)")
    src.add_argument("--serial", metavar="PORT", action="append",
                     help="serial port (e.g. /dev/ttyACM0, COM3); repeat for more boards")  # fmt: skip
    src.add_argument("--ble", metavar="NAME_OR_ADDRESS", action="append",
                     help="BLE device name or address; repeat for more boards")  # fmt: skip
    src.add_argument("--role", action="append", choices=("left-thigh", "right-thigh", "sternum"),
                     help="role of each board, in the order --serial then --ble (remembered)")  # fmt: skip
    p.add_argument("--baud", type=int, default=115200, help="serial baud rate (default 115200)")


def add_session_arguments(p: argparse.ArgumentParser, history: bool = True) -> None:
    p.add_argument("--target", type=int, metavar="N", help="reps per side; stop when both reach it")
    p.add_argument("--report", metavar="DIR", help="write a session report there at the end")
    if history:
        p.add_argument("--db", metavar="PATH", help="history database (default: user data dir)")
        p.add_argument("--no-save", action="store_true", help="do not store in the history")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds of streaming")
    p.add_argument("--quiet", action="store_true", help="no terminal bell on form cues")
    out = p.add_mutually_exclusive_group()
    out.add_argument(
        "--json-events", action="store_true", help="one JSON object per event on stdout"
    )
    out.add_argument(
        "--lines", action="store_true", help="line per event even on a terminal (no live view)"
    )
    rec = p.add_mutually_exclusive_group()
    rec.add_argument("--record", metavar="FILE", help="record to FILE (must not exist)")
    rec.add_argument("--no-record", action="store_true", help="do not record")
    p.add_argument("--raw", metavar="FILE", help="also capture every received byte to FILE")
    from imu_host.cli.options import add_settings_arguments

    add_settings_arguments(p)  # the same detection settings as replay


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    add_source_arguments(p)
    add_session_arguments(p)


def make_options(args: argparse.Namespace, out: IO[str], source: str = "") -> Any:
    from imu_host.live.session import LiveOptions
    from imu_host.paths import default_recording_path

    if args.target is not None and args.target <= 0:
        raise InputError("--target must be a positive number of reps")
    if args.duration is not None and args.duration <= 0:
        raise InputError("--duration must be > 0 seconds")
    if args.json_events:
        mode = "json"
    elif args.lines or not out.isatty():
        mode = "lines"
    else:
        mode = "tty"
    if args.no_record:
        record = None
    elif args.record:
        record = Path(args.record)
        if record.exists():
            raise InputError("already exists; refusing to overwrite a recording", path=args.record)
    else:
        record = default_recording_path()
    raw = Path(args.raw) if args.raw else None
    if raw is not None and raw.exists():
        raise InputError("already exists; refusing to overwrite a raw capture", path=args.raw)
    from imu_host.cli.options import settings_from_args

    return LiveOptions(
        settings=settings_from_args(args),
        target=args.target,
        duration_s=args.duration,
        quiet=args.quiet,
        mode=mode,
        record_path=record,
        raw_path=raw,
        source=source,
    )


def print_summary(
    summary: dict[str, Any], mode: str, out: IO[str], err: IO[str], reps: list | None = None
) -> None:
    """The replay summary (its table, or JSON), then where the recording went."""
    live = summary.get("live", {})
    if mode == "json":
        out.write(json.dumps({"event": "summary", **summary}) + "\n")
        where = err
    else:
        from types import SimpleNamespace

        from imu_host.cli.replay import render_table  # the same text replay prints

        plain = {k: v for k, v in summary.items() if k != "live"}
        if "reps_total" in plain:
            out.write(render_table(SimpleNamespace(reps=reps or [], summary=plain)) + "\n")
        else:
            out.write("no data received from the board\n")
        where = out
    q = live
    where.write(
        f"session ended: {q.get('stop_reason') or 'stopped'}; {q.get('samples', 0)} samples, "
        f"{q.get('samples_lost', 0)} lost, {q.get('crc_errors', 0)} CRC errors, "
        f"{q.get('reconnects', 0)} reconnects\n"
    )
    if q.get("recording"):
        where.write(f"recording: {q['recording']}\n")
    else:
        where.write("recording: none (--no-record)\n")
    if q.get("raw_capture"):
        where.write(f"raw capture: {q['raw_capture']}\n")
    out.flush()
    err.flush()


def run_session(
    transport: Any,
    args: argparse.Namespace,
    out: IO[str] | None = None,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Run a live session on ``transport`` with the CLI options in ``args``; prints the
    summary. ``stop()`` (checked when no bytes are arriving) ends it early."""
    from imu_host.live.session import LiveSession

    out = out or sys.stdout
    options = make_options(args, out, source=transport.description)
    session = LiveSession(transport, options, out=out, err=sys.stderr)
    summary = session.run(stop)
    reps = session.pipeline.reps if session.pipeline is not None else []
    print_summary(summary, options.mode, out, sys.stderr, reps)
    finish_session(session, summary, args, sys.stderr if options.mode == "json" else out)
    return 0


def finish_session(session: Any, summary: dict[str, Any], args: argparse.Namespace,
                   out: IO[str]) -> None:  # fmt: skip
    """Save the session to the history (unless --no-save) and write --report."""
    if "reps_total" not in summary:
        return
    recording = summary.get("live", {}).get("recording")
    if getattr(args, "report", None):
        from imu_host.core.events import FlagEvent
        from imu_host.report.summary import write_report

        if recording:
            # the recording replays to exactly the reps shown live, with the angle trace
            from imu_host.analysis import analyze_file

            a = analyze_file(recording, settings=session.options.settings)
            reps, t, ang, events, meta = a.reps, a.angle_t_s, a.angle_deg, a.events, a.meta
        else:
            reps, t, ang, events, meta = session.pipeline.reps, None, None, session.events, {}
        paths = write_report(
            args.report, reps, t, ang, [e for e in events if isinstance(e, FlagEvent)], meta,
            target_per_side=args.target, summary=summary,
            protect=[recording] if recording else [],
        )  # fmt: skip
        out.write(f"report: {paths.out_dir}\n")
    if hasattr(args, "no_save") and not args.no_save:
        from imu_host.history.store import save_to_history

        sid = save_to_history(summary, recording or session.options.source, args.db)
        out.write(f"saved to history as session {sid}\n")
    out.flush()


def run(args: argparse.Namespace) -> int:
    from imu_host.transport.base import open_transport

    serial, ble = args.serial or [], args.ble or []
    if len(serial) + len(ble) > 1:  # several boards: cli/live_multi.py
        from imu_host.cli.live_multi import run_multi

        return run_multi(args)
    transport = open_transport(serial=(serial or [None])[0], ble=(ble or [None])[0],
                               baudrate=args.baud)  # fmt: skip
    return run_session(transport, args)
