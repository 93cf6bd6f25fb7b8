"""Progress history: one row per session in a local SQLite database.

API::

    default_db_path() -> Path
    HistoryDB(path)                                    # opens, validates, creates if new
    HistoryDB.save(summary, source, started_at=None, *, source_hash=None) -> SaveResult
    HistoryDB.save_session(...) -> int                  # the same, returns the id
    HistoryDB.sessions(since=None) -> list[SessionRow]
    HistoryDB.summary_json(session_id) -> dict
    save_to_history(summary, source, db_path=None, no_save=False, started_at=None,
                    notify=None) -> int | None

The table, CSV and plot of the stored sessions are in :mod:`imu_host.history.export`.

Where: ``$IMU_HOST_DB`` if set, else ``$XDG_DATA_HOME/imu-host/history.sqlite3``, else
``~/.local/share/imu-host/history.sqlite3`` (``--db PATH`` overrides all of these).

Safety:

- The file is ours only if SQLite says ``PRAGMA application_id`` = ``0x494D5548`` ("IMUH").
  A file that is not SQLite, fails ``PRAGMA quick_check``, belongs to another program
  (another application id, or tables without our id) or was written by a newer schema
  raises :class:`~imu_host.errors.InputError` naming the file; it is checked through a
  read-only connection first and never written to. A missing or empty (0 bytes, or SQLite
  with no tables) file is initialised.
- Health data: the folder is created 0700 and the file 0600 (an existing file of ours that
  is readable by others is tightened to 0600); SQLite gives its ``-wal``/``-shm`` files the
  database file's mode.
- A row that cannot be read back (e.g. ``started_at`` that is not ISO 8601, a count that is
  not a number) is left out of :meth:`HistoryDB.sessions` and described in
  :attr:`HistoryDB.skipped` (one line each); a damaged ``summary_json`` is one
  :class:`~imu_host.errors.InputError` line.
- Multi-board sessions (a ``summary["multi"]`` section) also store the roles and the
  per-side knees-apart / shoulder-lift counts (:func:`multi_numbers`; nullable columns
  added in schema 2). A history of schema 1 is brought up to schema 2 when opened (the
  columns are added, stored rows are unchanged and read back as before); an imu-host
  that knows only schema 1 then refuses it as newer. A session folder's
  deduplication key is the SHA-256 of its recorded ``*.csv`` files.
- Schema version in ``PRAGMA user_version`` (:data:`SCHEMA_VERSION`); WAL journal, a busy
  timeout and ``BEGIN IMMEDIATE`` transactions let several processes save at once.

Deduplication: each session has a unique ``source_key``. It is, in order of preference, the
``source_hash`` argument, ``summary["source"]["sha256"]``, the SHA-256 of the recording
file's bytes when ``source`` names an existing file, or else the SHA-256 of the session
content (source label, start time, reps). A stored session is never rewritten: saving a
session whose key is already stored changes nothing and returns that row's id
(:meth:`HistoryDB.save` says ``"unchanged"``, or ``"kept"`` when the new analysis has other
numbers, e.g. ``replay --fast-drop-dps 80`` of a recording saved with the default; then
:func:`save_to_history` prints one note saying the stored numbers were kept). Re-importing
a recording never creates a second row. To keep a session out of the history, use
``--no-save``.

Start time (for the trend): ``started_at`` if given, else ``started_at`` / ``started`` in
``summary["source"]`` or ``summary``, else the ``# started_at:`` / ``# started:`` line of the
recording file's header, else the file's modification time, else now.
Naive datetimes are local time; stored as ISO 8601 UTC.

Numbers stored per session are recomputed from ``summary["reps"]`` with
:func:`imu_host.core.stats.session_stats` when the summary has a rep list (so every row uses
the same definitions), else taken from the summary's top-level keys.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sqlite3
import sys
import time as time_mod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from imu_host.core.stats import session_stats
from imu_host.errors import InputError
from imu_host.paths import PRIVATE_FILE_MODE, default_db_path, display_text, make_private_dir

SCHEMA_VERSION = 2  # 1: single-board columns; 2: + the multi-board columns (nullable)
APPLICATION_ID = 0x494D5548  # "IMUH"
BUSY_TIMEOUT_MS = 15000
SQLITE_MAGIC = b"SQLite format 3\x00"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
NEW, UNCHANGED, KEPT = "new", "unchanged", "kept"

_SCHEMA_V1 = (
    """CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        source_key TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        started_at TEXT NOT NULL,
        saved_at TEXT NOT NULL,
        duration_s REAL,
        reps_left INTEGER NOT NULL,
        reps_right INTEGER NOT NULL,
        clean_reps INTEGER NOT NULL,
        flagged_reps INTEGER NOT NULL,
        fast_drops INTEGER NOT NULL,
        rom_left_deg REAL,
        rom_right_deg REAL,
        asymmetry_pct REAL,
        target_per_side INTEGER,
        summary_json TEXT NOT NULL
    )""",
    "CREATE INDEX sessions_started_at ON sessions (started_at)",
)

# schema 2: multi-board sessions (NULL for a single-board session; a count is NULL too when
# its boards were not in the session: knees apart needs both thighs, shoulder lift the
# sternum). ``boards``: the roles, comma-separated.
_MULTI_COLUMNS = (
    "boards",
    "knees_apart_left",
    "knees_apart_right",
    "shoulder_lift_left",
    "shoulder_lift_right",
)
_MIGRATIONS = {  # from version -> statements that bring it to version + 1
    1: tuple(
        f"ALTER TABLE sessions ADD COLUMN {c} {'TEXT' if c == 'boards' else 'INTEGER'}"
        for c in _MULTI_COLUMNS
    ),
}

_NUMBER_COLUMNS = (
    "duration_s",
    "reps_left",
    "reps_right",
    "clean_reps",
    "flagged_reps",
    "fast_drops",
    "rom_left_deg",
    "rom_right_deg",
    "asymmetry_pct",
    "target_per_side",
)


@dataclass(frozen=True)
class SessionRow:
    """One stored session (numbers as saved)."""

    id: int
    started_at: datetime  # UTC, timezone-aware
    saved_at: datetime
    source: str
    duration_s: float | None
    reps_left: int
    reps_right: int
    clean_reps: int
    flagged_reps: int
    fast_drops: int
    rom_left_deg: float | None
    rom_right_deg: float | None
    asymmetry_pct: float | None
    target_per_side: int | None
    # multi-board sessions (schema 2); None for single-board sessions and older rows
    boards: tuple[str, ...] | None = None
    knees_apart_left: int | None = None
    knees_apart_right: int | None = None
    shoulder_lift_left: int | None = None
    shoulder_lift_right: int | None = None
    # read from the stored summary's ``multi`` section (report.summary.multi_block); None
    # where the session lacked the boards (knees: both thighs; trunk: the sternum)
    knees_checked_left: int | None = None  # reps checked for knees apart
    knees_checked_right: int | None = None
    trunk_checked_left: int | None = None  # reps checked for shoulder lift
    trunk_checked_right: int | None = None
    separation_max_left_deg: float | None = None  # largest gap between the knees
    separation_max_right_deg: float | None = None
    trunk_roll_max_left_deg: float | None = None  # largest upper-body roll
    trunk_roll_max_right_deg: float | None = None
    separation_limit_deg: float | None = None  # the limits the session used
    trunk_roll_limit_deg: float | None = None

    def knees_apart_rate(self, side: str) -> float | None:
        """Fraction (0..1) of the reps to ``side`` checked for knees apart that were flagged."""
        return _rate(getattr(self, f"knees_apart_{side}"), getattr(self, f"knees_checked_{side}"))

    def shoulder_lift_rate(self, side: str) -> float | None:
        """Fraction (0..1) of the reps to ``side`` checked for shoulder lift that were flagged."""
        return _rate(getattr(self, f"shoulder_lift_{side}"), getattr(self, f"trunk_checked_{side}"))

    @property
    def reps_total(self) -> int:
        return self.reps_left + self.reps_right

    @property
    def clean_pct(self) -> float | None:
        return 100.0 * self.clean_reps / self.reps_total if self.reps_total else None

    @property
    def fast_drop_rate(self) -> float | None:
        """Fraction of reps flagged as fast drops (0..1)."""
        return self.fast_drops / self.reps_total if self.reps_total else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["started_at"] = self.started_at.isoformat()
        d["saved_at"] = self.saved_at.isoformat()
        d["reps_total"] = self.reps_total
        d["clean_pct"] = self.clean_pct
        d["fast_drop_rate"] = self.fast_drop_rate
        for side in ("left", "right"):
            d[f"knees_apart_rate_{side}"] = self.knees_apart_rate(side)
            d[f"shoulder_lift_rate_{side}"] = self.shoulder_lift_rate(side)
        return d


def _rate(flagged: int | None, checked: int | None) -> float | None:
    return None if flagged is None or not checked else flagged / checked


def multi_figures(summary_text: Any, boards: tuple[str, ...] | None) -> dict[str, Any]:
    """The checked-rep counts, largest figures and limits per side of a multi-board
    session, from its stored summary JSON (all None if damaged or not multi-board)."""
    from imu_host.report.summary import multi_block

    out: dict[str, Any] = {}
    if boards is None or not isinstance(summary_text, str):
        return out
    try:
        obj = json.loads(summary_text)
    except (ValueError, RecursionError):
        return out
    m = multi_block(obj.get("multi") if isinstance(obj, dict) else None)
    if m is None:
        return out
    knees = "left-thigh" in boards and "right-thigh" in boards
    trunk = "sternum" in boards
    for side in ("left", "right"):
        d = m["per_side"][side]
        if knees:
            out[f"knees_checked_{side}"] = d["reps_checked_knees"]
            out[f"separation_max_{side}_deg"] = d["separation_deg_max"]
        if trunk:
            out[f"trunk_checked_{side}"] = d["reps_checked_trunk"]
            out[f"trunk_roll_max_{side}_deg"] = d["trunk_roll_deg_max"]
    out["separation_limit_deg"] = m["settings"]["separation_deg"] if knees else None
    out["trunk_roll_limit_deg"] = m["settings"]["trunk_roll_deg"] if trunk else None
    return out


@dataclass(frozen=True)
class SaveResult:
    """What :meth:`HistoryDB.save` did: ``status`` is "new", "unchanged" or "kept"."""

    id: int
    status: str
    message: str | None = None  # one line for the user when status is "kept"


# --------------------------------------------------------------------------- helpers

_INT_COLUMNS = ("reps_left", "reps_right", "clean_reps", "flagged_reps", "fast_drops")
_NUMBER_TOLERANCE = 1e-6  # stored REALs compared with a fresh analysis


def _same_numbers(stored: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    for k in _NUMBER_COLUMNS:
        a, b = stored.get(k), new.get(k)
        if a is None or b is None:
            if a is not b:
                return False
        elif abs(float(a) - float(b)) > _NUMBER_TOLERANCE * max(1.0, abs(float(b))):
            return False
    return True


def _stored_time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"unreadable {name} {value!r}"[:120])
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"unreadable {name} {value!r}"[:120]) from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _row(r: Sequence[Any]) -> SessionRow:
    """A SessionRow from a database row; ValueError (one line) if a value is not readable."""
    vals: dict[str, Any] = {}
    n = 4 + len(_NUMBER_COLUMNS)
    for name, v in zip(_NUMBER_COLUMNS, r[4:n], strict=True):
        if name in _INT_COLUMNS:
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"unreadable {name} {v!r}"[:120])
        elif name == "target_per_side":
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise ValueError(f"unreadable {name} {v!r}"[:120])
        elif v is not None and (
            isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)
        ):
            raise ValueError(f"unreadable {name} {v!r}"[:120])
        vals[name] = v
    for name, v in zip(_MULTI_COLUMNS, r[n : n + len(_MULTI_COLUMNS)], strict=True):
        if name == "boards":
            if v is not None and not isinstance(v, str):
                raise ValueError(f"unreadable {name} {v!r}"[:120])
            vals[name] = None if v is None else tuple(x for x in v.split(",") if x)
        elif v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise ValueError(f"unreadable {name} {v!r}"[:120])
        else:
            vals[name] = v
    extra = r[n + len(_MULTI_COLUMNS)] if len(r) > n + len(_MULTI_COLUMNS) else None
    vals.update(multi_figures(extra, vals["boards"]))
    return SessionRow(
        id=int(r[0]),
        started_at=_stored_time(r[1], "started_at"),
        saved_at=_stored_time(r[2], "saved_at"),
        source=display_text(str(r[3])),
        **vals,
    )


def _utc(dt: datetime) -> datetime:
    return (dt.astimezone() if dt.tzinfo is None else dt).astimezone(UTC)


def _iso(dt: datetime) -> str:
    return _utc(dt).isoformat(timespec="seconds")


def parse_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _source_meta(summary: Mapping[str, Any]) -> Mapping[str, Any]:
    src = summary.get("source")
    return src if isinstance(src, Mapping) else {}


def _source_file(source: str) -> Path | None:
    try:
        p = Path(source)
        return p if p.is_file() else None
    except (OSError, ValueError):
        return None


def _header_started(path: Path) -> datetime | None:
    """``# started_at:`` / ``# started:`` from a recording's ``#`` header, if any."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            for _ in range(64):
                line = fh.readline()
                if not line.startswith("#"):
                    break
                key, sep, value = line[1:].partition(":")
                if sep and key.strip() in ("started_at", "started"):
                    return parse_datetime(value.strip())
    except OSError:
        return None
    return None


def _source_folder(source: str) -> Path | None:
    """A multi-board session folder (one holding ``manifest.json``), or None."""
    try:
        p = Path(source)
        return p if p.is_dir() and (p / "manifest.json").is_file() else None
    except (OSError, ValueError):
        return None


def _folder_sha256(path: Path) -> str:
    """SHA-256 of a session folder's recorded files (``*.csv``: names and bytes; not the
    manifest, which the live session rewrites at its end)."""
    h = hashlib.sha256()
    for f in sorted(path.glob("*.csv")):
        h.update(f.name.encode("utf-8", "surrogateescape") + b"\0")
        h.update(_file_sha256(f).encode("ascii"))
    return h.hexdigest()


def _folder_started(path: Path) -> datetime | None:
    """``meta.started_at`` / ``meta.started`` of a session folder's manifest, if any."""
    try:
        doc = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    meta = doc.get("meta") if isinstance(doc, dict) else None
    if not isinstance(meta, dict):
        return None
    return parse_datetime(meta.get("started_at")) or parse_datetime(meta.get("started"))


def multi_numbers(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The multi-board columns of a history row (all None for a single-board session)."""
    out: dict[str, Any] = dict.fromkeys(_MULTI_COLUMNS)
    m = summary.get("multi")
    if not isinstance(m, Mapping) or not isinstance(m.get("per_side"), Mapping):
        return out
    roles = [r for r in m.get("roles") or [] if isinstance(r, str)]
    out["boards"] = ",".join(roles)
    per_side = m["per_side"]

    def count(side: str, kind: str) -> int | None:
        d = per_side.get(side)
        v = d.get(kind) if isinstance(d, Mapping) else None
        return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None

    both_thighs = "left-thigh" in roles and "right-thigh" in roles
    for side in ("left", "right"):
        if both_thighs:
            out[f"knees_apart_{side}"] = count(side, "knees_apart")
        if "sternum" in roles:
            out[f"shoulder_lift_{side}"] = count(side, "shoulder_lift")
    return out


def session_numbers(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The per-session numbers stored in a history row, from a replay summary object."""
    report = summary.get("report") if isinstance(summary.get("report"), Mapping) else {}
    target = report.get("target_per_side") if report else None
    if isinstance(target, Mapping):
        vals = [v for v in target.values() if v is not None]
        target = int(max(vals)) if vals else None
    if target is None and summary.get("target_per_side") is not None:
        target = summary["target_per_side"]
    duration = summary.get("duration_s")
    if isinstance(summary.get("reps"), list):
        from imu_host.report.summary import reps_from_dicts  # also takes the multi-board flags

        st = session_stats(reps_from_dicts(summary["reps"]))
        return {
            "duration_s": None if duration is None else float(duration),
            "reps_left": st["sides"]["left"]["done"],
            "reps_right": st["sides"]["right"]["done"],
            "clean_reps": st["clean_reps"],
            "flagged_reps": st["flagged_reps"],
            "fast_drops": st["fast_drops"],
            "rom_left_deg": st["sides"]["left"]["rom_mean_deg"],
            "rom_right_deg": st["sides"]["right"]["rom_mean_deg"],
            "asymmetry_pct": st["asymmetry_pct"],
            "target_per_side": None if target is None else int(target),
        }
    try:
        rom = summary.get("rom_mean_deg") or {}
        left, right = int(summary["reps_left"]), int(summary["reps_right"])
        flagged = int(summary.get("flagged_reps", 0))
        clean = int(summary.get("clean_reps", left + right - flagged))
        return {
            "duration_s": None if duration is None else float(duration),
            "reps_left": left,
            "reps_right": right,
            "clean_reps": clean,
            "flagged_reps": flagged,
            "fast_drops": int(summary.get("fast_drops", 0)),
            "rom_left_deg": None if rom.get("left") is None else float(rom["left"]),
            "rom_right_deg": None if rom.get("right") is None else float(rom["right"]),
            "asymmetry_pct": None
            if summary.get("asymmetry_pct") is None
            else float(summary["asymmetry_pct"]),
            "target_per_side": None if target is None else int(target),
        }
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise InputError(f"session summary is missing rep counts ({err})") from None


# --------------------------------------------------------------------------- database


class HistoryDB:
    """The session history database at ``path`` (see the module docstring)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self.skipped: list[str] = []  # rows sessions() could not read (one line each)
        ours = self._check_existing()
        try:
            make_private_dir(self.path.parent)
            if not ours:
                # health data: the file is created 0600 before SQLite opens it (SQLite gives
                # its -wal/-shm files the database file's permissions)
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | _NOFOLLOW, PRIVATE_FILE_MODE)
                os.close(fd)
        except OSError as err:
            raise InputError(
                f"cannot create the history database: {err.strerror}", path=str(self.path)
            ) from None
        self._private()
        self._conn = self._open(check=ours)

    def _private(self) -> None:
        """Tighten an existing history file of ours to 0600 (it holds health data)."""
        with contextlib.suppress(OSError):
            st = os.stat(self.path)
            if st.st_uid == os.geteuid() and st.st_mode & 0o077:
                os.chmod(self.path, PRIVATE_FILE_MODE)

    # -- opening and validation

    def _err(self, problem: str) -> InputError:
        return InputError(problem, path=str(self.path))

    def _inspect(self, conn: sqlite3.Connection) -> tuple[int, int, list[str]]:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table','view') "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return app_id, version, tables

    def _validate(self, app_id: int, version: int, tables: list[str]) -> bool:
        """True if the database still needs initialising; raise if it is not ours."""
        if app_id == 0 and not tables:
            return True
        if app_id != APPLICATION_ID:
            what = f"tables: {', '.join(tables[:5])}" if tables else f"application id {app_id:#x}"
            raise self._err(
                f"this SQLite file belongs to another program ({what}), not an imu-host "
                "history; left untouched (choose another file with --db)"
            )
        if version > SCHEMA_VERSION:
            raise self._err(
                f"history schema version {version} is newer than this imu-host supports "
                f"({SCHEMA_VERSION}); left untouched, upgrade imu-host"
            )
        if version < 1 or "sessions" not in tables:
            raise self._err("imu-host history is damaged (sessions table missing); left untouched")
        return False

    def _check_existing(self) -> bool:
        """Checks of an existing file that never write it (nor create files beside it).

        Returns True if the file is an imu-host history (checked further, with
        ``quick_check``, once opened); False if it is missing or empty (to initialise).
        A file that is ours carries our application id in its header from its first
        commit; we switch to WAL only after that, so an SQLite file in WAL mode without
        our id is never one of ours being created and is refused without opening it.
        """
        p = self.path
        if p.is_dir():
            raise self._err("history database path is a directory")
        if not p.exists():
            return False
        try:
            with p.open("rb") as f:
                head = f.read(100)
        except OSError as err:
            raise self._err(f"cannot read the history database: {err.strerror}") from None
        if not head:
            return False  # empty file: initialise
        if not head.startswith(SQLITE_MAGIC):
            raise self._err(
                "not an imu-host history database (not an SQLite file); left untouched "
                "(choose another file with --db)"
            )
        if len(head) < 100:
            raise self._err("history database is damaged (truncated header); left untouched")
        app_id = int.from_bytes(head[68:72], "big")
        if app_id == APPLICATION_ID:
            return True
        wal = head[18] == 2 or head[19] == 2
        if app_id != 0 or wal:
            what = f"application id {app_id:#x}" if app_id else "a WAL database"
            raise self._err(
                f"this SQLite file belongs to another program ({what}), not an imu-host "
                "history; left untouched (choose another file with --db)"
            )
        # no application id, rollback journal: a read-only look creates no files
        uri = p.resolve().as_uri() + "?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as err:
            raise self._err(f"cannot open the history database: {err}") from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._validate(*self._inspect(conn))
        except sqlite3.DatabaseError as err:
            raise self._err(
                f"history database is damaged or unreadable ({err}); left untouched"
            ) from None
        finally:
            conn.close()
        return False

    def _quick_check(self, conn: sqlite3.Connection) -> None:
        result = [r[0] for r in conn.execute("PRAGMA quick_check")]
        if result != ["ok"]:
            raise self._err(
                f"history database is damaged ({'; '.join(result[:2])}); left untouched"
            )

    def _open(self, check: bool) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
        except sqlite3.Error as err:
            raise self._err(f"cannot open the history database: {err}") from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if check:
                self._quick_check(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                app_id, version, tables = self._inspect(conn)
                if self._validate(app_id, version, tables):
                    for stmt in _SCHEMA_V1:
                        conn.execute(stmt)
                    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    version = 1
                # an older schema is brought up to date in the same transaction (new
                # columns only, nullable: every stored row stays as it was)
                while version < SCHEMA_VERSION:
                    for stmt in _MIGRATIONS[version]:
                        conn.execute(stmt)
                    version += 1
                    conn.execute(f"PRAGMA user_version = {version}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._set_wal(conn)
        except sqlite3.OperationalError as err:  # read-only file/dir, locked, disk full, ...
            conn.close()
            raise self._err(f"cannot use the history database ({err})") from None
        except sqlite3.DatabaseError as err:
            conn.close()
            raise self._err(
                f"history database is damaged or unreadable ({err}); left untouched"
            ) from None
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def _set_wal(conn: sqlite3.Connection) -> None:
        deadline = time_mod.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL").fetchone()
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time_mod.monotonic() > deadline:
                    raise
                time_mod.sleep(0.05)

    # -- lifecycle

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> HistoryDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing

    def source_key(
        self,
        summary: Mapping[str, Any],
        source: str,
        started_at: datetime | None,
        source_hash: str | None = None,
    ) -> str:
        """The deduplication key of a session (see the module docstring)."""
        if source_hash:
            return f"sha256:{source_hash}"
        meta_hash = _source_meta(summary).get("sha256")
        if isinstance(meta_hash, str) and meta_hash:
            return f"sha256:{meta_hash}"
        f = _source_file(source)
        if f is not None:
            return f"sha256:{_file_sha256(f)}"
        folder = _source_folder(source)
        if folder is not None:
            return f"folder-sha256:{_folder_sha256(folder)}"
        content = {
            "source": source,
            "started_at": None if started_at is None else _iso(started_at),
            "reps": summary.get("reps"),
            "duration_s": summary.get("duration_s"),
        }
        blob = json.dumps(content, sort_keys=True, default=str).encode()
        return f"content:{hashlib.sha256(blob).hexdigest()}"

    def save_session(
        self,
        summary: Mapping[str, Any],
        source: str,
        started_at: datetime | None = None,
        *,
        source_hash: str | None = None,
    ) -> int:
        """Store one session (see :meth:`save`); returns its id."""
        return self.save(summary, source, started_at, source_hash=source_hash).id

    def save(
        self,
        summary: Mapping[str, Any],
        source: str,
        started_at: datetime | None = None,
        *,
        source_hash: str | None = None,
    ) -> SaveResult:
        """Store one session, or find it already stored; never rewrites a stored session.

        ``status``: ``"new"`` (a row was added), ``"unchanged"`` (the same recording was
        stored before with the same numbers) or ``"kept"`` (it was stored before with other
        numbers, e.g. analysed with other settings: the stored numbers are kept, and
        :attr:`SaveResult.message` says so).
        """
        nums = session_numbers(summary)
        meta = _source_meta(summary)
        start = started_at
        for d in (meta, summary):
            for k in ("started_at", "started"):
                start = start or parse_datetime(d.get(k))
        key = self.source_key(summary, source, start, source_hash)
        f = _source_file(source)
        folder = _source_folder(source)
        if start is None and f is not None:
            start = _header_started(f)
        if start is None and folder is not None:
            start = _folder_started(folder)
            f = folder / "manifest.json"
        if start is None:
            start = datetime.fromtimestamp(f.stat().st_mtime, UTC) if f else datetime.now(UTC)
        row = {
            "source_key": key,
            "source": display_text(str(source)),
            "started_at": _iso(start),
            "saved_at": _iso(datetime.now(UTC)),
            **nums,
            **multi_numbers(summary),
            # ensure_ascii: undecodable file-name bytes (lone surrogates) stay escaped
            "summary_json": json.dumps(summary, default=str, ensure_ascii=True),
        }
        cols = list(row)
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                found = self._conn.execute(
                    f"SELECT id, {', '.join(_NUMBER_COLUMNS)} FROM sessions WHERE source_key = ?",
                    (key,),
                ).fetchone()
                if found:
                    sid = int(found[0])
                    stored = dict(zip(_NUMBER_COLUMNS, found[1:], strict=True))
                    status = UNCHANGED if _same_numbers(stored, nums) else KEPT
                else:
                    cur = self._conn.execute(
                        f"INSERT INTO sessions ({', '.join(cols)}) "
                        f"VALUES ({', '.join(':' + c for c in cols)})",
                        row,
                    )
                    sid = int(cur.lastrowid or 0)
                    status = NEW
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as err:
            raise self._err(f"cannot save the session to the history ({err})") from None
        message = None
        if status == KEPT:
            message = (
                f"this recording is already in the history as session {sid} with other "
                "numbers (other settings?); the stored numbers were kept"
            )
        return SaveResult(sid, status, message)

    # -- reading

    def sessions(self, since: date | None = None) -> list[SessionRow]:
        """Stored sessions in start order; ``since``: on or after that local calendar day."""
        cols = ", ".join(_NUMBER_COLUMNS + _MULTI_COLUMNS)
        # the summary of multi-board sessions only: their per-side checked counts and figures
        multi = "CASE WHEN boards IS NOT NULL THEN summary_json END"
        sql = f"SELECT id, started_at, saved_at, source, {cols}, {multi} FROM sessions"
        params: tuple[Any, ...] = ()
        if since is not None:
            sql += " WHERE started_at >= ?"
            params = (_iso(datetime.combine(since, time.min)),)
        sql += " ORDER BY started_at, id"
        try:
            rows = self._conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as err:
            raise self._err(f"cannot read the history ({err})") from None
        out = []
        self.skipped = []
        for r in rows:
            try:
                out.append(_row(r))
            except ValueError as err:
                self.skipped.append(f"session {r[0]!r}: {err}; left out")
        return out

    def summary_json(self, session_id: int) -> dict[str, Any]:
        """The full summary object stored with a session."""
        try:
            row = self._conn.execute(
                "SELECT summary_json FROM sessions WHERE id = ?", (int(session_id),)
            ).fetchone()
        except sqlite3.DatabaseError as err:
            raise self._err(f"cannot read the history ({err})") from None
        if row is None:
            raise self._err(f"no session with id {session_id} in the history")
        try:
            obj = json.loads(row[0]) if isinstance(row[0], str) else None
        except (ValueError, RecursionError):
            obj = None
        if not isinstance(obj, dict):
            raise self._err(f"session {session_id}: the stored summary is damaged (not JSON)")
        return obj


def save_to_history(
    summary: Mapping[str, Any],
    source: str,
    db_path: str | Path | None = None,
    no_save: bool = False,
    started_at: datetime | None = None,
    notify: Callable[[str], None] | None = None,
) -> int | None:
    """Save one session (``replay``/``live``/``report``); ``None`` if ``no_save``.

    Returns the session's id. A recording already stored with other numbers is not
    rewritten (see :meth:`HistoryDB.save`): ``notify`` gets one line saying so (default:
    printed to stderr as ``imu-host: note: ...``).
    """
    if no_save:
        return None
    with HistoryDB(db_path) as db:
        res = db.save(summary, source, started_at)
    if res.message:
        say = notify or _note
        say(f"{db.path}: {res.message}")
    return res.id


def _note(line: str) -> None:
    print(f"imu-host: note: {display_text(line)}", file=sys.stderr)
