"""``imu-host replay FOLDER``: a multi-board session folder (one with ``manifest.json``).

Reached from ``cli/replay.py``; runs the folder through the same MultiPipeline in the
recorded order (``feeds.csv``), so it prints exactly what the live session showed.
"""

from __future__ import annotations

import argparse
import json
import sys


def run_replay_multi(args: argparse.Namespace) -> int:
    from imu_host.cli.live_multi import render_multi, settings_from_args
    from imu_host.errors import InputError
    from imu_host.io.multi import read_multi_recording, replay_multi

    if getattr(args, "report", None):
        raise InputError("--report does not cover multi-board folders yet")
    rec = read_multi_recording(args.file)
    mp = replay_multi(rec, settings_from_args(args))
    summary = mp.summary()
    summary["source"] = {"path": rec.path, "roles": list(rec.boards),
                         "feeds": "recorded" if rec.feeds is not None else "from clocks"}  # fmt: skip
    if args.json:
        json.dump(summary, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(render_multi(summary))
    return 0
