"""``imu-host demo``: the whole live path with no hardware.

A simulated board (:mod:`imu_host.sim.board`: the firmware under the MicroPython Unix
port when it is installed, otherwise the firmware's own sample loop run in-process)
streams into a pseudo-terminal; the real serial live path (pyserial -> decoder -> pipeline ->
live view -> recording) runs against it. The default motion script (~30 s) has known
truth: controlled reps on each side and one fast drop; the demo prints it next to what
was detected.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from imu_host.sim.board import script_truth, start_board

HELP = "run a ~30 s live session against a simulated board (no hardware needed)"

WEB_WAIT_S = 60.0  # demo --web: the simulated board starts once a browser shows the page


def add_arguments(p: argparse.ArgumentParser) -> None:
    from imu_host.cli.live import add_session_arguments

    p.add_argument(
        "--board",
        choices=("auto", "micropython", "in-process"),
        default="auto",
        help="simulated board: the firmware under MicroPython (auto: when installed) "
        "or the in-process equivalent",
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help="stream the motion as fast as the host takes it instead of in real time",
    )
    add_session_arguments(p, history=False)  # a simulated session is not your history
    p.set_defaults(no_record=False)


def prepare_coaching(args: argparse.Namespace) -> tuple[list[Any], Any]:
    """Coach and web view set up before the board starts (a fast board's script clock runs
    from its start); with --web, wait until a browser shows the page."""
    from imu_host.cli.live import make_coaching

    sinks, guide = make_coaching(args, sys.stderr)
    web = next((s for s in sinks if type(s).__name__ == "WebView"), None)
    if web is not None:
        print(
            f"demo: waiting up to {WEB_WAIT_S:g} s for a browser to open the view", file=sys.stderr
        )
        if not web.wait_for_viewer(WEB_WAIT_S):
            print("demo: no browser came; starting anyway", file=sys.stderr)
    return sinks, guide


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    from imu_host.cli.live import make_options, run_session
    from imu_host.transport.serial import PtyDevicePort, SerialTransport

    out = out or sys.stdout
    truth = script_truth()
    make_options(args, out)  # bad options fail before anything starts
    coaching = prepare_coaching(args)
    with tempfile.TemporaryDirectory(prefix="imu-host-demo-") as tmp:
        port = PtyDevicePort(str(Path(tmp) / "ttyIMU0"))
        board, what = start_board(args.board, port, args.fast)
        try:
            pace = "as fast as possible" if args.fast else "real time"
            print(
                f"demo: {what} on {port.tty_name}; "
                f"motion script {truth['duration_s']:.0f} s, {pace}",
                file=sys.stderr,
            )
            if args.duration is None:  # safety net; normally ends when the board is done
                args.duration = truth["duration_s"] + 10.0
            rc = run_session(
                SerialTransport(port.path), args, out=out, stop=board.done.is_set,
                coaching=coaching,
            )  # fmt: skip
        finally:
            board.stop()
            port.close()
    per = truth["reps_per_side"]
    fast = len(truth["fast_reps"])
    print(
        f"simulator truth: {per['left']} left + {per['right']} right reps, "
        f"{fast} fast drop{'s' if fast != 1 else ''}",
        file=sys.stderr,
    )
    return rc
