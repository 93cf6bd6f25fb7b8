"""``imu-host`` command line: one subcommand per module, errors as one line, exit 2.

Start-up stays light: the help text of every command lives here, and only the module of
the command being run is imported (``imu-host --version`` imports no command at all).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import sys

from imu_host import __version__
from imu_host.errors import InputError

# name -> module; each module defines add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, str] = {
    "replay": "imu_host.cli.replay",
    "batch": "imu_host.cli.batch",
    "simulate": "imu_host.cli.simulate",
    "devices": "imu_host.cli.devices",
    "live": "imu_host.cli.live",
    "demo": "imu_host.cli.demo",
    "report": "imu_host.cli.report",
    "history": "imu_host.cli.history",
}

# The one-line help of each command (shown by `imu-host --help` without importing it).
HELP: dict[str, str] = {
    "replay": "Count reps per side in a recording and flag fast drops (same pipeline as live).",
    "batch": "Analyse many recordings (files, folders, globs) into one table with a total.",
    "simulate": "write a simulated knee-roll recording (v1 CSV) and FILE.truth.json; "
    "--list names scenarios",
    "devices": "list boards: USB serial ports that look like MicroPython, BLE devices with NUS",
    "live": "live session from a board over USB serial or BLE: reps, form cues, recording",
    "demo": "run a ~30 s live session against a simulated board (no hardware needed)",
    "report": "Write a session report (summary.json, report.md, report.png) with clinical counts.",
    "history": "List stored sessions (reps per side, clean share, range, asymmetry, fast drops), "
    "trends.",
}

# Modules a command needs before it starts streaming: a live session must not pause for a
# second to import the pipeline when the first frame arrives (the demo's --fast board
# finishes in that time, and the session then saw no samples).
PRELOAD: dict[str, tuple[str, ...]] = {
    "live": ("imu_host.core.pipeline", "imu_host.io.recording"),
    "demo": ("imu_host.core.pipeline", "imu_host.io.recording"),
}

# Options whose value may start with '-' (an axis like -y, a column spec like -,t,ax...).
DASH_VALUE_OPTIONS = ("--thigh-axis", "--columns")


class OneLineParser(argparse.ArgumentParser):
    """An argument error is one line on stderr (no usage block), exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


ALL = "*"  # build_parser(ALL): every command's arguments (imports every command module)


def build_parser(command: str | None = ALL) -> argparse.ArgumentParser:
    """The parser. ``main`` passes the command being run (or None): only that module is
    imported and given its arguments. The default builds every command (for tools and
    tests that parse several command lines with one parser)."""
    parser = OneLineParser(
        prog="imu-host",
        description="Count lying knee rolls per side from a thigh-worn IMU and flag fast drops.",
        epilog="Run 'imu-host COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"imu-host {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    for name, modname in COMMANDS.items():
        text = HELP[name]
        p = sub.add_parser(name, help=text.replace("%", "%%"), description=text)
        if name == command or command == ALL:
            for pre in PRELOAD.get(name, ()):
                importlib.import_module(pre)
            mod = importlib.import_module(modname)
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
    return parser


def glue_dash_values(argv: list[str]) -> list[str]:
    """``--thigh-axis -y`` -> ``--thigh-axis=-y`` so argparse does not take ``-y`` for an
    option (the README's own example)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in DASH_VALUE_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"{a}={argv[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def _command_of(argv: list[str]) -> str | None:
    for a in argv:
        if not a.startswith("-"):
            return a if a in COMMANDS else None
    return None


def _quiet_stdout() -> None:
    """After stdout failed (full disk, closed pipe): point it at /dev/null so the
    interpreter's final flush does not print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _tolerant_streams() -> None:
    """Characters the terminal's encoding lacks (the ° sign under an ASCII locale, a
    non-UTF-8 file name) are replaced instead of raising UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="replace" if stream is sys.stdout else "backslashreplace")


def main(argv: list[str] | None = None) -> int:
    argv = glue_dash_values(list(sys.argv[1:] if argv is None else argv))
    _tolerant_streams()
    if not argv:
        build_parser(None).print_help()
        return 2
    parser = build_parser(_command_of(argv))
    args = parser.parse_args(argv)
    try:
        rc = int(args._run(args) or 0)
        sys.stdout.flush()
        return rc
    except InputError as err:
        print(f"imu-host: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("imu-host: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except OSError as err:
        full = err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
        if err.filename is None and (full or not _stdout_writable()):  # e.g. /dev/full
            _quiet_stdout()
            print(f"imu-host: error: cannot write output: {err.strerror}", file=sys.stderr)
            return 1
        raise


def _stdout_writable() -> bool:
    try:
        sys.stdout.flush()
    except OSError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
