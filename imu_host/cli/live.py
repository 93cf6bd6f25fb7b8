"""``imu-host live``: count reps from a board in real time, record the session."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

from imu_host.errors import InputError

WEB_REFRESH_HZ = 10.0  # with --web the gauge moves 10 times a second (else the default 4)
HELP = "live session from a board over USB serial or BLE: reps, form cues, recording"

EPILOG = """\
Recording: on by default, to live-YYYYmmdd-HHMMSS.csv (recording v1) in the folder
$IMU_HOST_RECORDINGS, else $XDG_DATA_HOME/imu-host/recordings (usually
~/.local/share/imu-host/recordings); flushed every second, never overwriting a file. `imu-host replay FILE` on it reproduces
the reps and flags shown live.
Output: a refreshing view on a terminal, one line per event in a pipe, or one JSON
object per event with --json-events. Ends on Ctrl-C, --target or --duration.
Coaching from the mat: spoken cues (espeak-ng, else macOS say, else pyttsx3, else
tones; --quiet for silence), --audio-track FILE.wav for the session's audio, --pace
DOWN,HOLD,UP or --pace breaths for a pacing guide, --web [HOST:]PORT for a big view on a
phone (127.0.0.1 unless a host is given; then a token is needed and printed with a QR code).
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
    from imu_host.cli.options import positive_float, positive_int

    p.add_argument(
        "--target", type=positive_int, metavar="N", help="reps per side; stop when both reach it"
    )
    p.add_argument("--report", metavar="DIR", help="write a session report there at the end")
    if history:
        p.add_argument("--db", metavar="PATH", help="history database (default: user data dir)")
        p.add_argument("--no-save", action="store_true", help="do not store in the history")
    p.add_argument(
        "--duration", type=positive_float, metavar="S", help="stop after S seconds of streaming"
    )
    p.add_argument(
        "--quiet", action="store_true", help="silent: no spoken cues, tones or terminal bell"
    )
    p.add_argument(
        "--speech",
        choices=("auto", "espeak-ng", "say", "pyttsx3", "tones"),
        default="auto",
        help="voice of the cues (auto: first installed engine, else tones)",
    )
    p.add_argument(
        "--audio-track", metavar="FILE.wav", help="also write the session's audio (cues) to FILE"
    )
    p.add_argument(
        "--pace",
        metavar="DOWN,HOLD,UP|breaths",
        help="pacing guide: seconds lowering, holding, returning (e.g. 3,2,3), or 'breaths'",
    )
    p.add_argument(
        "--web",
        metavar="[HOST:]PORT",
        help="serve the live view to a browser (127.0.0.1 unless HOST is given; "
        "a LAN host needs the printed token)",
    )
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
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise InputError(f"--duration must be a finite number of seconds > 0, not {args.duration}")
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
        refresh_hz=WEB_REFRESH_HZ if getattr(args, "web", None) else LiveOptions.refresh_hz,
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
            out.write(
                render_table(cast(Any, SimpleNamespace(reps=reps or [], summary=plain))) + "\n"
            )
        else:
            out.write("no data received from the board\n")
        where = out
    q = live
    where.write(
        f"session ended: {q.get('stop_reason') or 'stopped'}; {q.get('samples', 0)} samples, "
        f"{q.get('samples_lost', 0)} lost, {q.get('crc_errors', 0)} CRC errors, "
        f"{q.get('reconnects', 0)} reconnects\n"
    )
    if q.get("info_rejected") or q.get("samples_refused"):
        where.write(
            f"refused from the board: {q.get('info_rejected', 0)} implausible info frames, "
            f"{q.get('samples_refused', 0)} samples of a changed stream\n"
        )
    if q.get("backfilled") or q.get("backfill_late"):
        where.write(
            f"backfill: {q.get('backfilled', 0)} samples filled gaps, "
            f"{q.get('backfill_late', 0)} came too late (counted as lost)\n"
        )
    stopped = q.get("recording_stopped")
    if q.get("recording"):
        where.write(f"recording: {q['recording']}\n")
        if stopped:
            upto = f", up to {stopped['t_s']:.2f} s" if stopped.get("t_s") is not None else ""
            where.write(
                f"recording stopped early ({stopped['reason']}): the file holds "
                f"{stopped['samples']} samples{upto}; the counts above cover the whole session\n"
            )
    elif q.get("recording_note"):
        where.write(f"recording: none ({q['recording_note']})\n")
    else:
        where.write("recording: none (--no-record)\n")
    if q.get("raw_capture"):
        where.write(f"raw capture: {q['raw_capture']}\n")
    c = q.get("coach")
    if c:
        track = f"; audio track {c['audio_track']}" if c["audio_track"] else ""
        where.write(f"coach: {c['engine']}, {c['player']}; {c['cues']} cues, "
                    f"{c['dropped']} dropped by the speaker{track}\n")  # fmt: skip
    out.flush()
    err.flush()


def make_coaching(args: argparse.Namespace, err: IO[str]) -> tuple[list[Any], Any]:
    """The coach (speech/tones, audio track), the web view and the pacing guide the CLI
    options ask for -> (extra sinks, guide). Checked and set up before connecting."""
    from imu_host.live.coach import (
        AudioOutput,
        AudioTrack,
        Coach,
        CoachSettings,
        phrases_for,
        render_phrases,
    )
    from imu_host.live.pace import Pace, PaceGuide

    sinks: list[Any] = []
    guide = PaceGuide(Pace.parse(args.pace), args.target) if getattr(args, "pace", None) else None
    track = None
    if getattr(args, "audio_track", None):
        track = AudioTrack(args.audio_track, CoachSettings().track_gap_s)
        track.check()
    quiet = bool(getattr(args, "quiet", False))
    if track is not None or not quiet:
        settings = CoachSettings()
        texts = phrases_for(args.target, settings, pace=guide is not None)
        phrases, engine = render_phrases(texts, getattr(args, "speech", "auto"), settings)
        output = None if quiet else AudioOutput("auto", settings.queue_cues)
        coach = Coach(phrases, target=args.target, output=output, track=track)
        coach.engine = engine
        sinks.append(coach)
    if getattr(args, "web", None):
        from imu_host.live.web import WebView, parse_address

        host, port = parse_address(args.web)
        web = WebView(host, port)
        web.announce(err)
        sinks.append(web)
    return sinks, guide


def run_session(
    transport: Any,
    args: argparse.Namespace,
    out: IO[str] | None = None,
    stop: Callable[[], bool] | None = None,
    coaching: tuple[list[Any], Any] | None = None,
) -> int:
    """Run a live session on ``transport`` with the CLI options in ``args``; prints the
    summary. ``stop()`` (checked when no bytes are arriving) ends it early.
    ``coaching``: (sinks, guide) from :func:`make_coaching` when made beforehand."""
    from imu_host.live.session import LiveSession

    out = out or sys.stdout
    options = make_options(args, out, source=transport.description)
    sinks, guide = coaching if coaching is not None else make_coaching(args, sys.stderr)
    session = LiveSession(
        transport, options, out=out, err=sys.stderr, sinks=sinks, guide=guide, view=make_view(options, out, sinks)
    )  # fmt: skip
    with stop_on_signals(session):
        summary = session.run(stop)
    coach = next((s for s in sinks if hasattr(s, "cues")), None)
    if coach is not None:
        out_ = coach.output
        summary.setdefault("live", {})["coach"] = {
            "engine": coach.engine,
            "player": "silent (--quiet)"
            if out_ is None
            else (out_.device if out_.device != "none" else "no working sound player"),
            "audio_track": str(coach.track.path) if coach.track is not None else None,
            "cues": len(coach.cues),
            "dropped": coach.dropped,
        }
    reps = session.pipeline.reps if session.pipeline is not None else []
    with contextlib.suppress(OSError):  # the terminal is gone (SIGHUP): still saved below
        print_summary(summary, options.mode, out, sys.stderr, reps)
    finish_session(session, summary, args, sys.stderr if options.mode == "json" else out)
    return 0


STOP_SIGNALS = ("SIGTERM", "SIGHUP")  # kill / closed terminal: end like Ctrl-C


@contextlib.contextmanager
def stop_on_signals(session: Any) -> Iterator[None]:
    """While the session runs, SIGTERM and SIGHUP end it like Ctrl-C: the loop stops,
    the recording is closed, the summary printed and the history saved. Only in the
    main thread (where Python delivers signals); the old handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old: dict[int, Any] = {}

    def handler(signum: int, _frame: Any) -> None:
        session.request_stop(f"stopped by {signal.Signals(signum).name}")

    for name in STOP_SIGNALS:
        sig = getattr(signal, name, None)
        if sig is not None:
            old[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def make_view(options: Any, out: IO[str], sinks: list[Any] = []) -> Any:  # noqa: B006
    """The terminal view for ``tty`` mode (rich, big digits); None: the mode's default.
    With a web view, the full-screen view shows its URL (and QR code until the first rep)."""
    if options.mode != "tty":
        return None
    try:
        from imu_host.live.term import RichView
    except ImportError:  # rich missing: the plain redrawn view
        return None
    web = next((s for s in sinks if type(s).__name__ == "WebView"), None)
    if web is None:
        return RichView(out)
    from imu_host.live.web import qr_text

    return RichView(out, note=f"web view: {web.url}", qr=qr_text(web.url) if web.token else "")


def finish_session(session: Any, summary: dict[str, Any], args: argparse.Namespace,
                   out: IO[str]) -> None:  # fmt: skip
    """Save the session to the history (unless --no-save) and write --report."""
    if "reps_total" not in summary:
        return
    recording = summary.get("live", {}).get("recording")
    if getattr(args, "report", None):
        from imu_host.core.events import FlagEvent
        from imu_host.report.summary import write_report

        if recording and not summary.get("live", {}).get("recording_stopped"):
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
        _say(out, f"report: {paths.out_dir}\n")
    if hasattr(args, "no_save") and not args.no_save:
        from imu_host.history.store import save_to_history

        sid = save_to_history(summary, recording or session.options.source, args.db)
        _say(out, f"saved to history as session {sid}\n")


def _say(out: IO[str], text: str) -> None:
    """A line after the session's work is done: a closed terminal must not undo it."""
    with contextlib.suppress(OSError, ValueError):
        out.write(text)
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
