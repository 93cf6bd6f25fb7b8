"""``imu-host history``: one row per stored session, trend plot, CSV export."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from imu_host.errors import InputError

# (no per-cent sign here: argparse reads help texts as %-format strings)
HELP = "List stored sessions (reps per side, clean share, range, asymmetry, fast drops), trends."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="history database (default: $IMU_HOST_DB, else "
        "$XDG_DATA_HOME/imu-host/history.sqlite3 or ~/.local/share/imu-host/history.sqlite3)",
    )
    parser.add_argument("--since", metavar="DATE", help="only sessions on or after YYYY-MM-DD")
    parser.add_argument(
        "--plot",
        metavar="FILE",
        help="write a PNG trend plot (reps done vs prescribed, clean share, range per side, "
        "asymmetry, fast drops, sessions per week) to a new FILE (.png); never overwrites",
    )
    parser.add_argument(
        "--csv",
        metavar="FILE",
        help="write one CSV row per session to a new FILE; never overwrites",
    )


def parse_since(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--since must be a date like 2026-03-01, got {text!r}") from None


def _check_output(path_text: str, db_path: Path, what: str, suffix: str | None = None) -> Path:
    p = Path(path_text)
    if suffix and p.suffix.lower() != suffix:
        raise InputError(f"the {what} file name must end in {suffix}", path=str(p))
    if p.is_dir():
        raise InputError(f"the {what} path is a directory", path=str(p))
    if p.exists() or p.is_symlink():
        raise InputError(
            f"already exists; refusing to overwrite it with the {what} (choose a new name)",
            path=str(p),
        )
    return p


def run(args: argparse.Namespace) -> int:
    from imu_host.history.export import format_table, plot_history, write_csv
    from imu_host.history.store import HistoryDB, default_db_path

    since = parse_since(args.since)
    db_path = Path(args.db) if args.db else default_db_path()
    plot = _check_output(args.plot, db_path, "plot", ".png") if args.plot else None
    csv_path = _check_output(args.csv, db_path, "CSV") if args.csv else None
    if not db_path.exists():
        rows = []  # reading never creates the database
        print(f"no sessions stored (no history database at {db_path})", file=sys.stderr)
    else:
        with HistoryDB(db_path) as db:
            rows = db.sessions(since)
            for line in db.skipped:
                print(f"imu-host: warning: {db_path}: {line}", file=sys.stderr)
        print(format_table(rows))
    if csv_path is not None:
        write_csv(rows, csv_path)
        print(f"wrote {csv_path}", file=sys.stderr)
    if plot is not None:
        if not rows:
            raise InputError("no sessions to plot", path=str(db_path))
        plot_history(rows, plot)
        print(f"wrote {plot}", file=sys.stderr)
    return 0
