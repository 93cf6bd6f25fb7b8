"""Where imu-host keeps things, and the one way it creates a file: exclusively.

- data dir: ``$XDG_DATA_HOME/imu-host`` (``~/.local/share/imu-host``)
- recordings: ``$IMU_HOST_RECORDINGS``, else ``<data dir>/recordings``
- history database: ``$IMU_HOST_DB``, else ``<data dir>/history.sqlite3``

Recordings and the history are health data: folders imu-host creates are 0700 and files
0600. :func:`create_exclusive` never replaces an existing file (nothing recorded is ever
overwritten).
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import IO

from imu_host.errors import InputError

RECORDINGS_ENV = "IMU_HOST_RECORDINGS"
DB_ENV = "IMU_HOST_DB"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def data_dir() -> Path:
    """``$XDG_DATA_HOME/imu-host`` when that is an absolute path, else ``~/.local/share/imu-host``."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "imu-host"


def recordings_dir() -> Path:
    """Where live recordings go by default: ``$IMU_HOST_RECORDINGS``, else
    ``<data dir>/recordings``."""
    env = os.environ.get(RECORDINGS_ENV)
    return Path(env).expanduser() if env else data_dir() / "recordings"


def default_db_path() -> Path:
    """``$IMU_HOST_DB``, else ``<data dir>/history.sqlite3``."""
    env = os.environ.get(DB_ENV)
    return Path(env).expanduser() if env else data_dir() / "history.sqlite3"


def default_recording_path(now: _dt.datetime | None = None, suffix: str = ".csv") -> Path:
    """``<recordings dir>/live-YYYYmmdd-HHMMSS.csv`` (a numbered variant if taken)."""
    now = now or _dt.datetime.now()
    folder = recordings_dir()
    stem = f"live-{now:%Y%m%d-%H%M%S}"
    path = folder / f"{stem}{suffix}"
    n = 2
    while path.exists():
        path = folder / f"{stem}-{n}{suffix}"
        n += 1
    return path


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) if missing; folders created here are 0700."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)


def create_exclusive(path: str | Path, what: str, text: bool = False) -> IO:
    """Open a new file for writing (0600), refusing to replace anything that exists.

    Raises :class:`InputError` (one line naming the file) if it exists or cannot be made.
    """
    path = Path(path)
    try:
        make_private_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        raise InputError(
            f"already exists; refusing to overwrite a {what}", path=str(path)
        ) from None
    except OSError as err:
        raise InputError(f"cannot create: {err.strerror}", path=str(path)) from None
    if text:
        return os.fdopen(fd, "w", encoding="utf-8", newline="\n")
    return os.fdopen(fd, "wb")


def display_text(text: str) -> str:
    """``text`` with undecodable file-name bytes (lone surrogates) shown as U+FFFD.

    A file name with a non-UTF-8 byte reaches us as a ``str`` with lone surrogates, which
    cannot be written as UTF-8 (files, SQLite) nor drawn by matplotlib.
    """
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
