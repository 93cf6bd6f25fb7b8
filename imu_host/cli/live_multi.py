"""``imu-host live`` with two or three boards (``--serial``/``--ble`` given more than once).

Reached from ``cli/live.py`` when more than one board is given. Each board gets a role
(``--role``, in the order of the ``--serial`` boards, then the ``--ble`` boards), or the
role remembered for its board id from an earlier session (``<data dir>/boards.json``);
the roles used are remembered at the end of the session. A board's id is its unique id
(``uid:HEX``, firmware 1.1) once it has answered, else ``serial:PORT`` / ``ble:ADDRESS``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO, Any

from imu_host.errors import InputError


def board_list(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(kind, address) of every board given, serial ones first."""
    return [("serial", p) for p in (args.serial or [])] + [("ble", a) for a in (args.ble or [])]


def settings_from_args(args: argparse.Namespace) -> Any:
    from imu_host.cli.options import settings_from_args as single
    from imu_host.core.multi import MultiSettings

    return MultiSettings(pipeline=single(args))


def record_folder(args: argparse.Namespace) -> Path | None:
    from imu_host.paths import default_recording_path

    if args.no_record:
        return None
    if args.record:
        p = Path(args.record)
        if p.exists():
            raise InputError("already exists; refusing to overwrite a recording", path=args.record)
        return p
    return default_recording_path(suffix="")


def run_multi(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    from imu_host.live.multi import (
        BoardSource,
        MultiLiveOptions,
        MultiLiveSession,
        assign_roles,
        load_roles,
        save_roles,
    )
    from imu_host.transport.base import open_transport

    out = out or sys.stdout
    if args.target is not None and args.target <= 0:
        raise InputError("--target must be a positive number of reps")
    if args.duration is not None and args.duration <= 0:
        raise InputError("--duration must be > 0 seconds")
    if getattr(args, "raw", None):
        raise InputError("--raw captures one board; it is not available with several boards")
    boards = board_list(args)
    ids = [f"{kind}:{addr}" for kind, addr in boards]
    if len(set(ids)) != len(ids):
        raise InputError("the same board is given twice")
    if len(boards) > 3:
        raise InputError("at most three boards: left-thigh, right-thigh and sternum")
    given = list(getattr(args, "role", None) or [])
    if len(given) > len(ids):
        raise InputError(f"{len(given)} --role given for {len(ids)} boards")
    assign_roles(ids[: len(given)], given, {})  # a wrong --role: one line before connecting
    sources = []
    for i, ((kind, addr), bid) in enumerate(zip(boards, ids, strict=True)):
        t = open_transport(serial=addr if kind == "serial" else None,
                           ble=addr if kind == "ble" else None, baudrate=args.baud)  # fmt: skip
        sources.append(BoardSource(given[i] if i < len(given) else "", bid, t))
    mode = "json" if args.json_events else "lines"
    opts = MultiLiveOptions(
        target=args.target,
        duration_s=args.duration,
        quiet=args.quiet,
        mode=mode,
        record_path=record_folder(args),
        settings=settings_from_args(args),
    )
    session = MultiLiveSession(
        sources, opts, out=out, err=sys.stderr,
        assign=lambda found: assign_roles(found, given, load_roles()),
    )  # fmt: skip
    summary = session.run()
    save_roles({ln.board_id: ln.role for ln in session.links})
    print_multi_summary(summary, mode, out)
    return finish_multi(session, summary, args, sys.stderr if mode == "json" else out)


def finish_multi(session: Any, summary: dict[str, Any], args: argparse.Namespace,
                 out: IO[str]) -> int:  # fmt: skip
    """Write ``--report`` (from the session's own pipeline: the reps shown live, the
    primary thigh's angle trace) and save to the history unless ``--no-save``."""
    from imu_host.cli.replay_multi import write_multi_report

    recording = summary.get("live", {}).get("recording")
    if getattr(args, "report", None):
        meta = {"recording": recording or "live session (not recorded)"}
        paths = write_multi_report(
            args.report, session.multi, summary, target=args.target,
            protect=[recording] if recording else [], meta=meta,
        )  # fmt: skip
        out.write(f"report: {paths.out_dir}\n")
    if not getattr(args, "no_save", False):
        from imu_host.history.store import save_to_history

        source = recording or "live:" + ",".join(
            f"{ln.role}={ln.src.board_id}" for ln in session.links
        )
        try:
            sid = save_to_history(summary, source, getattr(args, "db", None))
        except InputError as err:  # the session was shown (and recorded) first
            out.flush()
            print(f"imu-host: error: not saved to the history: {err}", file=sys.stderr)
            return 2
        out.write(f"saved to history as session {sid}\n")
    out.flush()
    return 0


def print_multi_summary(summary: dict[str, Any], mode: str, out: IO[str]) -> None:
    if mode == "json":
        out.write(json.dumps({"event": "summary", **summary}) + "\n")
        out.flush()
        return
    out.write(render_multi(summary) + "\n")
    live = summary.get("live", {})
    out.write(f"session ended: {live.get('stop_reason') or 'stopped'}\n")
    out.write(f"recording: {live.get('recording') or 'none (--no-record)'}\n")
    out.flush()


def render_multi(summary: dict[str, Any]) -> str:
    """Per-rep table with the multi-board figures, and the plain-word feedback (faults
    in plain words: :func:`imu_host.core.events.flag_words`)."""
    from imu_host.core.events import flag_words

    m = summary["multi"]

    def f(v: Any, spec: str) -> str:
        width = int(spec.split(".")[0])
        return "-".rjust(width) if v is None else format(v, spec)

    lines = [f"{'#':>3} {'side':<5} {'apart°':>6} {'lag s':>5} {'trunk°':>6}  how it went"]
    for r, fig in zip(summary["reps"], m["reps"], strict=True):
        lines.append(
            f"{r['index']:>3} {r['side']:<5} {f(fig['separation_deg'], '6.0f')} "
            f"{f(fig['lag_s'], '5.2f')} {f(fig['trunk_roll_deg'], '6.0f')}  "
            f"{flag_words(r['flags'])}"
        )
    lines.append("")
    lines.append(
        f"reps: {summary['reps_total']} (left {summary['reps_left']}, right "
        f"{summary['reps_right']}); boards: {', '.join(m['roles'])}"
    )
    for ch in m["board_changes"]:
        what = "dropped out" if ch["state"] == "dropped" else "came back"
        lines.append(f"{ch['role']} {what} at {ch['t_s']:.0f} s; then: "
                     f"{', '.join(ch['remaining']) or 'none'}")  # fmt: skip
    lines += m["feedback"]
    return "\n".join(lines)
