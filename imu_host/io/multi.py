"""Multi-board recordings: one folder per session (see docs/MULTI_SENSOR.md).

::

    SESSION/                  created exclusively (an existing folder is never reused)
      manifest.json           format, roles, board ids and unique ids, files, clock alignment
      left-thigh.csv          recording v1 of each board, in its own device time
      right-thigh.csv
      sternum.csv
      feeds.csv               role,samples,host_s: every block in the order the
                              session's pipeline got it (how many samples of that board
                              had been fed after it, and the host time it had arrived by)
      pings.csv               feeds_before,role,host_sent_s,device_s,host_received_s:
                              every ping exchange the pipeline got, after how many rows
                              of feeds.csv (written since the pings; older folders have
                              none and replay as before)

Replaying the folder feeds the same blocks and pings in the same order with the same
times to the same :class:`~imu_host.core.multi.MultiPipeline`, so it reproduces exactly
the events shown live. A folder without ``feeds.csv`` (e.g. boards recorded separately)
is replayed from the manifest's clock alignment.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imu_host.core.multi import ROLES, MultiPipeline, MultiSettings
from imu_host.core.samples import Samples
from imu_host.errors import InputError
from imu_host.io.recording import RecordingWriter, read_recording
from imu_host.paths import PRIVATE_DIR_MODE, create_exclusive

FORMAT = "imu-host multi v1"
MANIFEST = "manifest.json"
FEEDS = "feeds.csv"
FEEDS_HEADER = "role,samples,host_s"
PINGS = "pings.csv"
PINGS_HEADER = "feeds_before,role,host_sent_s,device_s,host_received_s"
SYNTH_BLOCK_S = 0.1  # without feeds.csv: blocks of this much device time per board
_UID_RE = re.compile(r"^[0-9A-Fa-f]{0,16}$")  # the DEVICE frame holds up to 8 bytes


def is_multi_recording(path: str | os.PathLike[str]) -> bool:
    """A folder holding a ``manifest.json``."""
    p = Path(path)
    return p.is_dir() and (p / MANIFEST).is_file()


@dataclass
class BoardRecording:
    role: str
    board_id: str
    file: str
    samples: Samples
    sample_rate_hz: float
    clock: dict[str, float] = field(default_factory=dict)  # offset_s, drift_ppm (to session)
    unique_id: str | None = None  # the firmware's unique id (None: older firmware / manifest)


@dataclass
class MultiRecording:
    path: str
    manifest: dict[str, Any]
    boards: dict[str, BoardRecording]
    feeds: list[tuple[str, int, float]] | None
    # (feeds before it, role, host sent, device time handled, host received); [] if none
    pings: list[tuple[int, str, float, float, float]] = field(default_factory=list)


class MultiRecordingWriter:
    """Writes a multi-board session folder as the blocks arrive (never overwrites)."""

    def __init__(self, folder: str | os.PathLike[str], meta: dict[str, str] | None = None) -> None:
        self.folder = Path(folder)
        try:
            self.folder.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            self.folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            raise InputError(
                "already exists; refusing to overwrite a recording", path=str(self.folder)
            ) from None
        except OSError as err:
            raise InputError(f"cannot create: {err.strerror}", path=str(self.folder)) from None
        self.meta = dict(meta or {})
        self.writers: dict[str, RecordingWriter] = {}
        self.boards: dict[str, dict[str, Any]] = {}
        self.counts: dict[str, int] = {}
        self.n_feeds = 0  # rows written to feeds.csv
        self._feeds = create_exclusive(self.folder / FEEDS, "recording", text=True)
        self._feeds.write(FEEDS_HEADER + "\n")
        self._pings = create_exclusive(self.folder / PINGS, "recording", text=True)
        self._pings.write(PINGS_HEADER + "\n")
        self._write_manifest({})

    def add_board(
        self,
        role: str,
        board_id: str,
        sample_rate_hz: float,
        has_gyro: bool,
        device: str = "",
        unique_id: str | None = None,
    ) -> None:
        """``unique_id``: the board's own id from its DEVICE frame (firmware 1.1), else None."""
        if role in self.writers:
            return
        file = f"{role}.csv"
        meta = {**self.meta, "role": role, "board_id": board_id, "device": device}
        if unique_id:
            meta["unique_id"] = unique_id
        self.writers[role] = RecordingWriter(self.folder / file, sample_rate_hz, has_gyro, meta)
        self.boards[role] = {"role": role, "board_id": board_id, "unique_id": unique_id or None,
                             "file": file, "sample_rate_hz": sample_rate_hz,
                             "has_gyro": has_gyro, "device": device}  # fmt: skip
        self.counts[role] = 0
        self._write_manifest({})

    def write(self, role: str, samples: Samples, host_s: float) -> Samples:
        """Append a block of ``role`` that arrived by ``host_s``; returns it as read back."""
        back = self.writers[role].write(samples)
        self.counts[role] += len(samples)
        self._feeds.write(f"{role},{self.counts[role]},{host_s!r}\n")
        self.n_feeds += 1
        return back

    def write_ping(
        self, role: str, host_sent_s: float, device_t_s: float, host_received_s: float
    ) -> None:
        """A ping exchange of ``role`` as the pipeline got it (after the blocks so far)."""
        self._pings.write(f"{self.n_feeds},{role},{float(host_sent_s)!r},"
                          f"{float(device_t_s)!r},{float(host_received_s)!r}\n")  # fmt: skip

    def flush(self, sync: bool = False) -> None:
        for w in self.writers.values():
            w.flush(sync)
        self._feeds.flush()
        self._pings.flush()
        if sync:
            os.fsync(self._feeds.fileno())
            os.fsync(self._pings.fileno())

    def close(self, clock: dict[str, dict] | None = None, extra: dict | None = None) -> None:
        """Close the files; the manifest gets the final clock alignment."""
        for w in self.writers.values():
            with contextlib.suppress(OSError, ValueError):
                w.flush()
            w.close()
        for fh in (self._feeds, self._pings):
            if not fh.closed:
                fh.flush()
                with contextlib.suppress(OSError):
                    os.fsync(fh.fileno())
                fh.close()
        self._write_manifest(clock or {}, extra)

    def _write_manifest(self, clock: dict[str, dict], extra: dict | None = None) -> None:
        boards = {r: {**b, "samples": self.counts.get(r, 0), "clock": clock.get(r)}
                  for r, b in self.boards.items()}  # fmt: skip
        doc = {"format": FORMAT, "meta": self.meta, "roles": list(boards), "boards": boards,
               "feeds": FEEDS, "pings": PINGS, **(extra or {})}  # fmt: skip
        tmp = self.folder / (MANIFEST + ".tmp")
        tmp.unlink(missing_ok=True)
        with create_exclusive(tmp, "manifest", text=True) as fh:
            json.dump(doc, fh, indent=1)
            fh.write("\n")
        os.replace(tmp, self.folder / MANIFEST)  # our own manifest, updated atomically


def write_multi_recording(
    folder: str | os.PathLike[str],
    samples: dict[str, Samples],
    rates: dict[str, float],
    feeds: list[tuple[str, int, float]],
    meta: dict[str, str] | None = None,
    board_ids: dict[str, str] | None = None,
    pings: list[tuple[int, str, float, float, float]] | None = None,
) -> None:
    """Write a whole session (e.g. a simulated one) as the live loop would have;
    ``pings``: (feeds before it, role, host sent, device time, host received)."""
    w = MultiRecordingWriter(folder, meta)
    pos = dict.fromkeys(samples, 0)
    exchanges = pings or []
    k = 0
    for i, (role, end, host) in enumerate(feeds):
        while k < len(exchanges) and exchanges[k][0] <= i:
            if exchanges[k][1] in w.writers:  # as live: a board's pings after its samples
                w.write_ping(*exchanges[k][1:])
            k += 1
        if role not in w.writers:
            s = samples[role]
            w.add_board(role, (board_ids or {}).get(role, role), rates[role], s.has_gyro)
        w.write(role, samples[role].slice(pos[role], end), host)
        pos[role] = end
    for p in exchanges[k:]:
        if p[1] in w.writers:
            w.write_ping(*p[1:])
    w.close()


def _load_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such file", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read: {err}", path=str(path)) from None
    except json.JSONDecodeError as err:
        raise InputError(f"not JSON: {err.msg}", path=str(path), line=err.lineno) from None
    if not isinstance(doc, dict):
        raise InputError("expected a JSON object", path=str(path))
    return doc


def read_multi_recording(folder: str | os.PathLike[str]) -> MultiRecording:
    """Load a session folder. Raises InputError naming the file and field on bad input."""
    root = Path(folder)
    mpath = root / MANIFEST
    doc = _load_json(mpath)
    if doc.get("format") != FORMAT:
        raise InputError(f"expected '{FORMAT}'", path=str(mpath), field="format")
    boards_doc = doc.get("boards")
    if not isinstance(boards_doc, dict) or not boards_doc:
        raise InputError("expected an object of boards by role", path=str(mpath), field="boards")
    boards: dict[str, BoardRecording] = {}
    for role, b in boards_doc.items():
        where = f"boards.{role}"
        if role not in ROLES:
            raise InputError(
                f"role must be one of {', '.join(ROLES)}", path=str(mpath), field=where
            )
        if not isinstance(b, dict) or not isinstance(b.get("file"), str):
            raise InputError("expected an object with 'file'", path=str(mpath), field=where)
        f = b["file"]
        if Path(f).name != f:
            raise InputError("must be a file name inside the folder", path=str(mpath),
                             field=f"{where}.file")  # fmt: skip
        uid = b.get("unique_id")  # absent in manifests written before firmware 1.1 ids
        if uid is not None and not (isinstance(uid, str) and _UID_RE.match(uid)):
            raise InputError("expected the board's unique id in hex, or null", path=str(mpath),
                             field=f"{where}.unique_id")  # fmt: skip
        rec = read_recording(root / f)
        boards[role] = BoardRecording(role, str(b.get("board_id", role)), f, rec.samples,
                                      rec.sample_rate_hz, b.get("clock") or {},
                                      uid or None)  # fmt: skip
    feeds = _read_feeds(root / FEEDS, boards) if (root / FEEDS).is_file() else None
    pings_file = doc.get("pings", PINGS)
    if not isinstance(pings_file, str) or Path(pings_file).name != pings_file:
        raise InputError("must be a file name inside the folder", path=str(mpath), field="pings")
    pings: list[tuple[int, str, float, float, float]] = []
    if feeds is not None and (root / pings_file).is_file():
        pings = _read_pings(root / pings_file, boards, len(feeds))
    return MultiRecording(str(root), doc, boards, feeds, pings)


def _table_lines(path: Path, header: str) -> list[str]:
    """The lines of a small CSV table of the folder, its first line checked to be
    ``header`` (one clear line naming the file otherwise)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read: {err}", path=str(path)) from None
    if not lines or lines[0].strip() != header:
        raise InputError(f"first line should be '{header}'", path=str(path), line=1)
    return lines


def _read_pings(
    path: Path, boards: dict[str, BoardRecording], n_feeds: int
) -> list[tuple[int, str, float, float, float]]:
    lines = _table_lines(path, PINGS_HEADER)
    out: list[tuple[int, str, float, float, float]] = []
    last = 0
    names = PINGS_HEADER.split(",")
    for ln, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != len(names):
            raise InputError(f"expected {len(names)} fields: {PINGS_HEADER}", path=str(path),
                             line=ln)  # fmt: skip
        try:
            before = int(parts[0])
        except ValueError:
            raise InputError(f"'{parts[0]}' is not a whole number", path=str(path), line=ln,
                             field=names[0]) from None  # fmt: skip
        if not last <= before <= n_feeds:
            raise InputError(f"{before} should be at least {last} and at most the {n_feeds} "
                             "rows of feeds.csv", path=str(path), line=ln,
                             field=names[0])  # fmt: skip
        role = parts[1]
        if role not in boards:
            raise InputError(f"role '{role}' is not in the manifest", path=str(path), line=ln,
                             field="role")  # fmt: skip
        vals = []
        for name, txt in zip(names[2:], parts[2:], strict=True):
            try:
                v = float(txt)
            except ValueError:
                v = float("nan")
            if not np.isfinite(v):
                raise InputError(f"'{txt}' is not a number", path=str(path), line=ln,
                                 field=name)  # fmt: skip
            vals.append(v)
        last = before
        out.append((before, role, vals[0], vals[1], vals[2]))
    return out


def _read_feeds(path: Path, boards: dict[str, BoardRecording]) -> list[tuple[str, int, float]]:
    lines = _table_lines(path, FEEDS_HEADER)
    out: list[tuple[str, int, float]] = []
    last = dict.fromkeys(boards, 0)
    for ln, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) != 3:
            raise InputError("expected 3 fields: role,samples,host_s", path=str(path), line=ln)
        role, n_txt, h_txt = (p.strip() for p in parts)
        if role not in boards:
            raise InputError(f"role '{role}' is not in the manifest", path=str(path), line=ln,
                             field="role")  # fmt: skip
        try:
            n = int(n_txt)
        except ValueError:
            raise InputError(f"'{n_txt}' is not a whole number", path=str(path), line=ln,
                             field="samples") from None  # fmt: skip
        if not last[role] < n <= len(boards[role].samples):
            raise InputError(
                f"{n} should be above {last[role]} and at most the "
                f"{len(boards[role].samples)} samples in {boards[role].file}",
                path=str(path), line=ln, field="samples",
            )  # fmt: skip
        try:
            host = float(h_txt)
        except ValueError:
            raise InputError(f"'{h_txt}' is not a number", path=str(path), line=ln,
                             field="host_s") from None  # fmt: skip
        last[role] = n
        out.append((role, n, host))
    return out


def synthesize_feeds(rec: MultiRecording) -> list[tuple[str, int, float]]:
    """Feeds for a folder without feeds.csv: blocks placed by the manifest's clocks."""
    out: list[tuple[str, int, float, int]] = []
    for k, (role, b) in enumerate(rec.boards.items()):
        t = b.samples.t_s
        off = float(b.clock.get("offset_s", 0.0) or 0.0)
        drift = float(b.clock.get("drift_ppm", 0.0) or 0.0) * 1e-6
        edges = np.searchsorted(t, np.arange(t[0] + SYNTH_BLOCK_S, t[-1] + SYNTH_BLOCK_S,
                                             SYNTH_BLOCK_S), side="right")  # fmt: skip
        ends = sorted({int(e) for e in edges if e > 0} | {len(t)})
        for e in ends:
            out.append((role, e, float(t[e - 1] * (1 + drift) + off), k))
    out.sort(key=lambda x: (x[2], x[3]))
    return [(r, e, h) for r, e, h, _ in out]


def replay_multi(rec: MultiRecording, settings: MultiSettings | None = None) -> MultiPipeline:
    """Run a multi-board recording through the multi pipeline, as live did."""
    mp = MultiPipeline(tuple(rec.boards), settings)
    feeds = rec.feeds if rec.feeds is not None else synthesize_feeds(rec)
    pings = rec.pings if rec.feeds is not None else []
    pos = dict.fromkeys(rec.boards, 0)
    k = 0
    for i, (role, end, host) in enumerate(feeds):
        while k < len(pings) and pings[k][0] <= i:
            mp.ping(*pings[k][1:])
            k += 1
        b = rec.boards[role]
        if role not in mp.boards:
            mp.add_board(role, b.sample_rate_hz, b.samples.has_gyro)
        mp.feed(role, b.samples.slice(pos[role], end), host)
        pos[role] = end
    for p in pings[k:]:
        mp.ping(*p[1:])
    mp.finish()
    return mp


__all__ = [
    "MultiRecording",
    "MultiRecordingWriter",
    "is_multi_recording",
    "read_multi_recording",
    "replay_multi",
    "write_multi_recording",
]
