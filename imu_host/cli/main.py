"""``imu-host`` command line: one subcommand per module, errors as one line, exit 2."""

from __future__ import annotations

import argparse
import importlib
import sys

from imu_host import __version__
from imu_host.errors import InputError

# name -> module; each module defines HELP, add_arguments(parser) and run(args) -> int.
# Command modules must stay light at import time (no serial/bleak/matplotlib imports).
COMMANDS: dict[str, str] = {
    "replay": "imu_host.cli.replay",
    "simulate": "imu_host.cli.simulate",
    "devices": "imu_host.cli.devices",
    "live": "imu_host.cli.live",
    "demo": "imu_host.cli.demo",
    "report": "imu_host.cli.report",
    "history": "imu_host.cli.history",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imu-host",
        description="Count lying knee rolls per side from a thigh-worn IMU and flag fast drops.",
    )
    parser.add_argument("--version", action="version", version=f"imu-host {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, modname in COMMANDS.items():
        mod = importlib.import_module(modname)
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except InputError as err:
        print(f"imu-host: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("imu-host: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
