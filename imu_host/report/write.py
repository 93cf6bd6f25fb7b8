"""Writing a report's output set: ``summary.json``, ``report.md``, ``report.png``, ``report.html``.

The set is written as one unit, and never through a symbolic link:

1. every member is first written to a new temporary file in the output folder
   (``O_CREAT | O_EXCL | O_NOFOLLOW``, mode 0600) and flushed to disk;
2. an existing file with a member's name is replaced only if it is one of our own earlier
   outputs: the folder's manifest (:data:`MANIFEST_NAME`) lists the SHA-256 of every file
   the last run wrote, and the file's bytes must match. A symbolic link (dangling or not),
   a non-regular file, or a file that was changed or never written by us is refused with
   one line and nothing is written;
3. the temporaries are renamed over the old members (a rename replaces the directory entry
   itself, it never writes through a link), members of the old set that the new set does
   not have (e.g. ``report.html`` from an earlier ``--html`` run) are removed, and the
   manifest is updated last. Until then the manifest accepts both the old and the new
   version of each member, so a crash in between leaves a set that the next run may replace.

All file operations use a descriptor of the output folder (``dir_fd``), so the folder
cannot be swapped for another while the set is written. Folders created here are 0700.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imu_host.core.events import FlagEvent, Rep
from imu_host.core.stats import session_stats
from imu_host.errors import InputError
from imu_host.paths import PRIVATE_FILE_MODE, display_text, make_private_dir
from imu_host.report.figure import MATPLOTLIB_MISSING, render_figure
from imu_host.report.summary import (
    FIGURE_NAME,
    GENERATED_NAMES,
    HTML_NAME,
    MARKDOWN_NAME,
    SUMMARY_NAME,
    build_summary,
    figure_title,
    multi_block,
    session_duration,
)
from imu_host.report.text import feedback_lines, render_html, render_markdown

MANIFEST_NAME = ".imu-host-report.json"
MANIFEST_KIND = "imu-host report set"
MANIFEST_MAX_BYTES = 64 * 1024  # a manifest lists a handful of names and hashes
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class ReportPaths:
    """Files written by :func:`write_report` (``html`` is None unless asked for).

    ``summary`` is the object written to ``summary.json`` (what to save to the history).
    """

    out_dir: Path
    summary_json: Path
    markdown: Path
    figure_png: Path | None  # None when matplotlib is missing (see ``notes``)
    html: Path | None = None
    summary: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    notes: tuple[str, ...] = ()  # one line each for the user (e.g. why there is no PNG)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def prepare_out_dir(out_dir: str | Path, protect: Iterable[str | Path] = ()) -> Path:
    """Create the report directory (0700); refuse a file, or a protected file's folder."""
    d = Path(out_dir)
    if d.exists() and not d.is_dir():
        raise InputError("report output must be a directory, but a file is there", path=str(d))
    try:
        make_private_dir(d)
    except OSError as err:
        raise InputError(f"cannot create report directory: {err.strerror}", path=str(d)) from None
    targets = {(d / n).resolve() for n in GENERATED_NAMES}
    for p in protect:
        if Path(p).resolve() in targets:
            raise InputError(
                "the report would overwrite this file; choose another --out directory",
                path=str(p),
            )
    return d


class _Folder:
    """The output folder, opened once; every name below is relative to it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
        except OSError as err:
            raise InputError(
                f"cannot open report directory: {err.strerror}", path=str(path)
            ) from None
        self._temps: list[str] = []

    def close(self) -> None:
        for name in self._temps:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=self.fd)
        os.close(self.fd)

    def err(self, name: str, problem: str) -> InputError:
        return InputError(problem, path=str(self.path / name))

    def lstat(self, name: str) -> os.stat_result | None:
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def read(self, name: str, limit: int | None = None) -> bytes:
        fd = os.open(name, os.O_RDONLY | _NOFOLLOW | _CLOEXEC, dir_fd=self.fd)
        with os.fdopen(fd, "rb") as f:
            return f.read() if limit is None else f.read(limit + 1)

    def sha256(self, name: str) -> str:
        """SHA-256 of a member, read in chunks (memory stays bounded whatever is there)."""
        h = hashlib.sha256()
        fd = os.open(name, os.O_RDONLY | _NOFOLLOW | _CLOEXEC, dir_fd=self.fd)
        with os.fdopen(fd, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()

    def write_temp(self, name: str, data: bytes) -> str:
        """A new temporary file beside ``name`` holding ``data`` (flushed to disk)."""
        tmp = f".{name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
        try:
            fd = os.open(tmp, flags, PRIVATE_FILE_MODE, dir_fd=self.fd)
        except OSError as err:
            raise self.err(name, f"cannot write: {err.strerror}") from None
        self._temps.append(tmp)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            raise self.err(name, f"cannot write: {err.strerror}") from None
        return tmp

    def commit(self, tmp: str, name: str) -> None:
        try:
            os.replace(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except OSError as err:
            raise self.err(name, f"cannot write: {err.strerror}") from None
        self._temps.remove(tmp)

    def put(self, name: str, data: bytes) -> None:
        self.commit(self.write_temp(name, data), name)

    def unlink(self, name: str) -> None:
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            pass
        except OSError as err:
            raise self.err(name, f"cannot remove the old report file: {err.strerror}") from None

    def sync(self) -> None:
        # some file systems cannot sync a directory; the renames are still atomic
        with contextlib.suppress(OSError):
            os.fsync(self.fd)


def _read_manifest(folder: _Folder) -> dict[str, set[str]]:
    """name -> accepted SHA-256 of our earlier outputs ({} if there is no usable manifest)."""
    st = folder.lstat(MANIFEST_NAME)
    if st is None:
        return {}
    if not stat.S_ISREG(st.st_mode):
        raise folder.err(
            MANIFEST_NAME, "is not a regular file (a link?); refusing to use this folder"
        )
    try:
        raw = folder.read(MANIFEST_NAME, MANIFEST_MAX_BYTES)
        obj = json.loads(raw) if len(raw) <= MANIFEST_MAX_BYTES else None
    except (OSError, ValueError, RecursionError):
        obj = None
    if not isinstance(obj, dict) or obj.get("kind") != MANIFEST_KIND:
        return {}
    files = obj.get("files")
    out: dict[str, set[str]] = {}
    if isinstance(files, dict):
        for name, hashes in files.items():
            if name in GENERATED_NAMES and isinstance(hashes, list):
                out[name] = {h for h in hashes if isinstance(h, str)}
    return out


def _manifest_bytes(files: Mapping[str, Iterable[str]]) -> bytes:
    obj = {"kind": MANIFEST_KIND, "files": {k: sorted(v) for k, v in sorted(files.items())}}
    return (json.dumps(obj, indent=1) + "\n").encode("ascii")


def write_output_set(out_dir: Path, files: Mapping[str, bytes]) -> dict[str, Path]:
    """Replace the report set in ``out_dir`` by ``files`` (name -> bytes), as one unit.

    See the module docstring. Raises :class:`InputError` (nothing written) when a member's
    name is taken by a link, a non-regular file or a file that is not our earlier output.
    """
    unknown = set(files) - set(GENERATED_NAMES)
    if unknown:
        raise ValueError(f"not report file names: {sorted(unknown)}")
    folder = _Folder(out_dir)
    try:
        old = _read_manifest(folder)
        existing: dict[str, str] = {}  # name -> hash of our earlier output found there
        for name in GENERATED_NAMES:
            st = folder.lstat(name)
            if st is None:
                continue
            if stat.S_ISLNK(st.st_mode):
                raise folder.err(
                    name, "is a symbolic link; refusing to write through or replace it"
                )
            if not stat.S_ISREG(st.st_mode):
                raise folder.err(name, "is not a regular file; refusing to replace it")
            try:
                digest = folder.sha256(name)
            except OSError as err:
                raise folder.err(name, f"cannot read: {err.strerror}") from None
            if digest not in old.get(name, set()):
                raise folder.err(
                    name,
                    "exists and is not an earlier imu-host report output (changed, or not "
                    "ours); refusing to replace it: move it away or choose another --out",
                )
            existing[name] = digest
        new = {name: _sha256(data) for name, data in files.items()}
        temps = {name: folder.write_temp(name, data) for name, data in files.items()}
        # while members are swapped, accept the old and the new version of each
        both: dict[str, set[str]] = {n: {h} for n, h in existing.items()}
        for n, h in new.items():
            both.setdefault(n, set()).add(h)
        folder.put(MANIFEST_NAME, _manifest_bytes(both))
        for name, tmp in temps.items():
            folder.commit(tmp, name)
        for name in existing:
            if name not in files:
                folder.unlink(name)  # a stale member of the old set (e.g. report.html)
        folder.put(MANIFEST_NAME, _manifest_bytes({n: {h} for n, h in new.items()}))
        folder.sync()
    finally:
        folder.close()
    return {name: out_dir / name for name in files}


def write_report(
    out_dir: str | Path,
    reps: Sequence[Rep],
    angle_t_s: np.ndarray | None,
    angle_deg: np.ndarray | None,
    flag_events: Sequence[FlagEvent] | None,
    meta: Mapping[str, Any] | None,
    target_per_side: int | Mapping[str, int] | None = None,
    summary: Mapping[str, Any] | None = None,
    *,
    html: bool = False,
    protect: Iterable[str | Path] = (),
    settings: Mapping[str, Any] | Any | None = None,
) -> ReportPaths:
    """Write ``summary.json``, ``report.md``, ``report.png`` (and ``report.html``) to ``out_dir``.

    ``protect``: paths (e.g. the recording) that must never be overwritten; an
    :class:`InputError` is raised if one of them has a generated file's name in ``out_dir``.
    ``settings``: the analysis settings used (a :class:`~imu_host.core.pipeline.Settings`
    or its ``asdict`` form; stored in ``summary.json``, thresholds drawn; default: the
    thresholds found in ``meta``/``summary``). Without ``html`` an ``report.html`` of an
    earlier run is removed (the set is replaced as a whole). A ``summary`` with a
    multi-board ``multi`` section (docs/MULTI_SENSOR.md) adds the knees-and-shoulders
    section, figure panel and feedback.
    """
    meta = dict(meta or {})
    if settings is not None and dataclasses.is_dataclass(settings):
        settings = dataclasses.asdict(settings)  # type: ignore[arg-type]
    if isinstance(settings, Mapping) and isinstance(settings.get("detector"), Mapping):
        for key in ("fast_drop_dps", "fast_return_dps"):  # drawn and listed in the report
            if settings["detector"].get(key) is not None:
                meta.setdefault(key, settings["detector"][key])
    if summary and isinstance(summary.get("source"), Mapping):
        for k, v in summary["source"].items():
            meta.setdefault(k, v)
    if not meta.get("recording"):
        src = summary.get("source") if summary else None
        path = src.get("path") if isinstance(src, Mapping) else None
        label = path or meta.get("path") or meta.get("source")
        if label:
            meta["recording"] = str(label)
    if meta.get("recording"):
        meta["recording"] = display_text(str(meta["recording"]))
    reps = sorted(reps, key=lambda r: r.index)
    d = prepare_out_dir(out_dir, protect)
    stats = session_stats(reps, target_per_side)
    feedback = feedback_lines(stats)
    multi = multi_block(summary.get("multi")) if summary else None  # a multi-board session
    if multi is not None:
        feedback += multi["feedback"]
    duration = session_duration(reps, angle_t_s, meta, summary)

    notes: list[str] = []
    png: bytes | None
    try:
        png = render_figure(
            reps,
            angle_t_s,
            angle_deg,
            flag_events,
            meta,
            title=figure_title(meta, duration),
            multi=multi,
        )
    except InputError as err:
        if str(err) != MATPLOTLIB_MISSING:
            raise
        png = None  # the numbers and words are still written; say what is missing
        notes.append(f"no {FIGURE_NAME} written: {MATPLOTLIB_MISSING}")
    summ = build_summary(
        reps, stats, feedback, duration, meta, flag_events, summary, settings=settings
    )
    md = render_markdown(
        stats, feedback, reps, meta, duration, FIGURE_NAME if png else None, multi=multi
    )
    files = {
        SUMMARY_NAME: (json.dumps(summ, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
        MARKDOWN_NAME: md.encode("utf-8"),
    }
    if png is not None:
        files[FIGURE_NAME] = png
    if html:
        files[HTML_NAME] = render_html(md, png).encode("utf-8")
    written = write_output_set(d, files)
    return ReportPaths(
        d,
        written[SUMMARY_NAME],
        written[MARKDOWN_NAME],
        written.get(FIGURE_NAME),
        written.get(HTML_NAME),
        summ,
        tuple(notes),
    )
