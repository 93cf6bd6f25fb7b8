"""``imu-host replay``: run a recording through the live pipeline; table or JSON out."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from imu_host.analysis import Analysis, analyze_path
from imu_host.cli.options import (
    add_import_arguments,
    add_settings_arguments,
    import_options,
    positive_int,
    settings_from_args,
)
from imu_host.core.events import LEFT, RIGHT, flag_words
from imu_host.errors import InputError

HELP = "Count reps per side in a recording and flag fast drops (same pipeline as live)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="recording (imu-host v1 CSV, or see --format)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--report", metavar="DIR", help="also write a report (see `report`)")
    parser.add_argument("--target", type=positive_int, metavar="N", help="prescribed reps per side")
    parser.add_argument("--db", metavar="PATH", help="history database (default: user data dir)")
    parser.add_argument("--no-save", action="store_true", help="do not store in the history")
    add_settings_arguments(parser)
    add_import_arguments(parser)


def _fmt(v: float | None, spec: str = ".0f") -> str:
    return "-" if v is None else format(v, spec)


def render_table(a: Analysis) -> str:
    s = a.summary
    lines = [
        f"{'#':>3} {'side':<5} {'start':>7} {'end':>7} {'ROM°':>5} {'down s':>6} "
        f"{'hold s':>6} {'up s':>5} {'down°/s':>7} {'up°/s':>6}  how it went",
    ]
    for r in a.reps:
        lines.append(
            f"{r.index:>3} {r.side:<5} {r.start_s:>7.1f} {r.end_s:>7.1f} {r.rom_deg:>5.0f} "
            f"{r.descent_s:>6.1f} {r.hold_s:>6.1f} {r.return_s:>5.1f} "
            f"{r.peak_descent_dps:>7.0f} {r.peak_return_dps:>6.0f}  {flag_words(r.flags)}"
        )
    rm, rx = s["rom_mean_deg"], s["rom_max_deg"]
    t = s["tempo"]
    lines += [
        "",
        f"reps: {s['reps_total']} (left {s['reps_left']}, right {s['reps_right']}); "
        f"clean {s['clean_reps']}, flagged {s['flagged_reps']}; fast drops {s['fast_drops']}",
        f"range of motion (mean/max deg): left {_fmt(rm[LEFT])}/{_fmt(rx[LEFT])}, "
        f"right {_fmt(rm[RIGHT])}/{_fmt(rx[RIGHT])}; asymmetry "
        + ("-" if s["asymmetry_pct"] is None else f"{s['asymmetry_pct']:.0f}%"),
        f"tempo (median s): down {_fmt(t['descent_s_median'], '.1f')}, hold "
        f"{_fmt(t['hold_s_median'], '.1f')}, up {_fmt(t['return_s_median'], '.1f')}; "
        f"duration {s['duration_s']:.0f} s",
    ]
    return "\n".join(lines)


def print_notices(notices: list[str], path: str, err: TextIO | None = None) -> None:
    """Each notice about the input as one ``imu-host: warning:`` line on stderr."""
    out = err or sys.stderr
    for n in notices:
        out.write(f"imu-host: warning: {path}: {n}\n")
    out.flush()


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    # a multi-board session folder (io/multi.py: a folder holding manifest.json); checked
    # here without importing the multi-board code, which replay of one file never needs
    if Path(args.file).is_dir() and (Path(args.file) / "manifest.json").is_file():
        from imu_host.cli.replay_multi import run_replay_multi

        return run_replay_multi(args)
    settings = settings_from_args(args)
    # a plain v1 recording is streamed (memory flat in its length); a bad row anywhere
    # raises here, before anything is printed or saved. The trace is only for the report.
    a = analyze_path(args.file, import_options(args), settings, trace=bool(args.report))
    print_notices(a.notices, args.file)
    if args.report:
        from imu_host.core.events import FlagEvent
        from imu_host.report.summary import write_report

        paths = write_report(
            args.report, a.reps, a.angle_t_s, a.angle_deg,
            [e for e in a.events if isinstance(e, FlagEvent)], a.meta,
            target_per_side=args.target, summary=a.summary, protect=[args.file],
        )  # fmt: skip
        a.summary["report"] = str(paths.out_dir)
    return save_and_show(a.summary, args, lambda _summary: render_table(a))


def give_back_freed_memory() -> None:
    """Hand the heap pages the analysis freed back to the OS (glibc's ``malloc_trim``), so
    the history's libraries (sqlite3, OpenSSL for the file's SHA-256: ~5 MB) loaded after
    it do not add to its peak (1 h replay: 51 -> 46 MB peak RSS). ctypes is loaded by
    numpy already; without glibc (macOS, musl, Windows) nothing happens."""
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):
        return
    trim(0)


def save_and_show(
    summary: dict[str, Any], args: argparse.Namespace, render: Callable[[dict[str, Any]], str]
) -> int:
    """The end of a replay (one board or several): save the session to the history unless
    ``--no-save``, print the results (``--json``: the summary; else ``render(summary)`` and
    the report folder), then one stderr line: where the session went, the note when a
    stored one was kept, or why it could not be saved (exit status 2)."""
    history_error: str | None = None
    history_note: str | None = None
    if not args.no_save:
        give_back_freed_memory()  # before the history's libraries load
        from imu_host.history.store import save_to_history
        from imu_host.paths import default_db_path

        notes: list[str] = []
        try:
            hid = save_to_history(summary, args.file, args.db, notify=notes.append)
            summary["history_id"] = hid
            where = args.db or default_db_path()
            # one line on stderr: where the session went (or why the stored one was kept)
            history_note = f"note: {notes[0]}" if notes else f"history: session {hid} in {where}"
            if not notes:
                history_note += " (--no-save to skip)"
        except InputError as err:  # the results are shown first, then why they were not saved
            summary["history_id"] = None
            history_error = str(err)
    if args.json:
        # dumps, not dump: one string through the C encoder (dump streams through the
        # pure-Python one, ~0.07 s for an hour's reps); the text is the same
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        print(render(summary))
        if args.report:
            print(f"report: {summary['report']}")
    if history_note is not None:
        sys.stdout.flush()
        from imu_host.paths import display_text

        print(f"imu-host: {display_text(history_note)}", file=sys.stderr)
    if history_error is not None:
        sys.stdout.flush()
        print(f"imu-host: error: not saved to the history: {history_error}", file=sys.stderr)
        return 2
    return 0
