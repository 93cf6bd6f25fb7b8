"""What a live session keeps on disk: the recording (v1 CSV) and the raw byte capture.

:class:`SessionRecorder` checks the recording target before anything connects (never
overwrite, fail fast), opens the raw capture exclusively, starts the
:class:`~imu_host.io.recording.RecordingWriter` when the stream's device info is known,
collects sample blocks and writes them in one go on :meth:`flush` (about once a second,
cheap: data handed to the OS), while a background thread fsyncs both files every
``flush_interval_s`` so a slow disk never stalls the live loop. :meth:`close` writes the
rest and fsyncs. A killed session loses at most about the last second.

Failures never end the session: when the disk is full (or any write fails) the
recording stops there, is cut back to its last whole row (so it stays a valid
recording that replays), and :meth:`take_notices` hands the view one sentence saying
so; counting goes on. The raw capture stops the same way. A recording that never got
a sample (no device info, or no samples after it) is not kept: :attr:`note` says what
happened. Everything the board sends that reaches the file's header is sanitised
(:func:`~imu_host.protocol.frames.clean_text`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import threading
from pathlib import Path
from typing import IO, Any

from imu_host.core.samples import Samples
from imu_host.errors import InputError
from imu_host.paths import create_exclusive
from imu_host.protocol.frames import DeviceInfo, clean_text

META_TEXT_MAX = 120  # characters kept of a header value (source, device)


class SessionRecorder:
    """Recording + raw capture of one live session; see the module docstring."""

    def __init__(
        self,
        record_path: Path | None,
        raw_path: Path | None,
        flush_interval_s: float = 1.0,
    ) -> None:
        from imu_host.io.recording import RecordingWriter

        self._writer_cls = RecordingWriter
        self.record_path = Path(record_path) if record_path is not None else None
        self.raw_path = Path(raw_path) if raw_path is not None else None
        self.flush_interval_s = flush_interval_s
        self.writer: Any = None
        self.raw: IO[bytes] | None = None
        self._unwritten: list[Samples] = []
        self.note = ""  # why there is no recording (when there is none)
        self.stopped: dict[str, Any] | None = None  # recording stopped early: why, what it holds
        self._created = False
        self._notices: list[str] = []
        self._stop_syncer = threading.Event()
        self._syncer_thread: threading.Thread | None = None
        self._closed = False

    # ------------------------------------------------------------- opening

    def open(self) -> None:
        """Check the recording target (never overwrite), open the raw capture, start
        the fsync thread. Raises :class:`InputError` before anything is connected."""
        path = self.record_path
        if path is not None and path.exists():
            raise InputError("already exists; refusing to overwrite a recording", path=str(path))
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise InputError(
                    f"cannot create the recordings folder: {err.strerror}", path=str(path.parent)
                ) from None
        if self.raw_path is not None:
            self.raw = create_exclusive(self.raw_path, "raw capture")
        self._syncer_thread = threading.Thread(
            target=self._syncer, name="imu-host-fsync", daemon=True
        )
        self._syncer_thread.start()

    def start(self, info: DeviceInfo, source: str) -> None:
        """The stream's device info is known: create the recording file."""
        if self.record_path is None or self.writer is not None:
            return
        meta = {
            "source": source,
            "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "device": f"{info.sensor_model} firmware {info.firmware_version}",
            "recorded_by": "imu-host live",
        }
        meta = {k: clean_text(str(v), META_TEXT_MAX) for k, v in meta.items()}
        try:
            self.writer = self._writer_cls(self.record_path, info.odr_hz, info.channels == 6, meta)
        except (OSError, InputError) as err:
            why = err.strerror if isinstance(err, OSError) else str(err)
            self._drop_unstarted(self.record_path)
            self.note = f"could not start it: {why}; {self.record_path} not kept"
            self._notices.append(f"recording not started: {why}; counting goes on")
            return
        self._created = True

    @staticmethod
    def _drop_unstarted(path: Path) -> None:
        """A recording file whose header could not be written holds nothing: remove it."""
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink() and b"\nt_s," not in path.read_bytes():
                path.unlink()

    @property
    def recording(self) -> Path | None:
        """The recording's path once it was created (and kept), else None."""
        return self.record_path if self._created else None

    def take_notices(self) -> list[str]:
        """Sentences for the view (recording / raw capture stopped), each said once."""
        out, self._notices = self._notices, []
        return out

    def outcome(self) -> dict[str, Any]:
        """What the summary says about the recording."""
        rec = self.recording
        return {
            "recording": str(rec) if rec is not None else None,
            "recording_note": self.note,
            "recording_stopped": self.stopped,
        }

    @property
    def raw_capture(self) -> Path | None:
        return self.raw_path if self.raw is not None else None

    # ------------------------------------------------------------- data

    def raw_bytes(self, data: bytes) -> None:
        if self.raw is not None:
            try:
                self.raw.write(data)
            except OSError as err:
                self._raw_failed(err)

    def add(self, block: Samples) -> None:
        """Queue samples for the recording (written on the next :meth:`flush`)."""
        if self.writer is not None:
            self._unwritten.append(block)

    def _write_pending(self, sync: bool | None) -> None:
        """Write queued samples; flush (``sync``: and fsync; None: no flush)."""
        if self.writer is None:
            return
        try:
            if self._unwritten:
                blocks, self._unwritten = self._unwritten, []
                self.writer.write(Samples.concat(blocks))
            if sync is not None:
                self.writer.flush(sync=sync)
        except OSError as err:
            self._recording_failed(err)

    def _recording_failed(self, err: OSError) -> None:
        """A write failed (disk full, I/O error): stop recording, keep whole rows only."""
        writer, self.writer = self.writer, None
        self._unwritten = []
        fh = getattr(writer, "_fh", None)  # close without another flush attempt
        with contextlib.suppress(OSError, ValueError):
            if fh is not None:
                fh.close()
            writer.close()
        why = err.strerror or str(err)
        path = self.record_path
        assert path is not None
        n, t_s = trim_to_whole_rows(path)
        if n < 0:  # not even the header: nothing recorded, nothing kept
            self._drop_unstarted(path)
            self._created = False
            self.note = f"writing it failed before the first sample: {why}; {path} not kept"
            self._notices.append(f"recording stopped: {why}; no file kept; counting goes on")
            return
        self.stopped = {"reason": why, "samples": n, "t_s": t_s}
        upto = f"up to {t_s:.2f} s" if t_s is not None else "no samples"
        self._notices.append(
            f"recording stopped: {why}; {path} keeps {n} samples ({upto}); counting goes on"
        )

    def _raw_failed(self, err: OSError) -> None:
        raw, self.raw = self.raw, None
        with contextlib.suppress(OSError, ValueError):
            if raw is not None:
                raw.close()
        self._notices.append(f"raw capture stopped: {err.strerror or err}")

    def flush(self) -> None:
        """Write pending samples and hand them to the OS (cheap; fsync is in a thread)."""
        self._write_pending(sync=False)
        if self.raw is not None:
            try:
                self.raw.flush()
            except OSError as err:
                self._raw_failed(err)

    # ------------------------------------------------------------- fsync thread

    def _sync_fds(self) -> list[int]:
        fds = []
        for path in (self.record_path, self.raw_path):
            if path is not None:
                with contextlib.suppress(OSError):
                    fds.append(os.open(path, os.O_RDONLY))
        return fds

    def _syncer(self) -> None:
        # fsync can block for many ms on a busy disk: keep it off the live loop. fsync
        # on our own descriptor of the same file syncs the file's data.
        fds: list[int] = []
        try:
            while not self._stop_syncer.wait(self.flush_interval_s):
                if len(fds) < (self.writer is not None) + (self.raw is not None):
                    for fd in fds:
                        os.close(fd)
                    fds = self._sync_fds()
                for fd in fds:
                    with contextlib.suppress(OSError):
                        os.fsync(fd)
        finally:
            for fd in fds:
                os.close(fd)

    # ------------------------------------------------------------- closing

    def close(self) -> None:
        """Stop the fsync thread, write everything left, fsync and close both files."""
        if self._closed:
            return
        self._closed = True
        self._stop_syncer.set()
        if self._syncer_thread is not None:
            self._syncer_thread.join()
            self._syncer_thread = None
        self._write_pending(sync=True)  # flush + fsync
        writer = self.writer
        if writer is not None:
            empty = writer.samples_written == 0
            with contextlib.suppress(OSError, ValueError):
                writer.close()
            if empty and self.record_path is not None:  # only our header: not kept
                with contextlib.suppress(OSError):
                    self.record_path.unlink()
                self._created = False
                self.note = f"no samples arrived; empty {self.record_path} removed"
        elif self.record_path is not None and not self._created and not self.note:
            self.note = f"no samples arrived; {self.record_path} not created"
        if self.raw is not None:
            with contextlib.suppress(OSError, ValueError):
                self.raw.flush()
                os.fsync(self.raw.fileno())
            self.raw.close()


def trim_to_whole_rows(path: Path) -> tuple[int, float | None]:
    """Cut a recording back to its last complete line; return (data rows it holds, time
    of the last one) or (-1, None) when not even the column header is complete."""
    fd = os.open(path, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    try:
        data = b""
        size = os.fstat(fd).st_size
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(size)
        cut = data.rfind(b"\n") + 1
        if cut < len(data):
            os.ftruncate(fd, cut)
            os.fsync(fd)
        data = data[:cut]
    finally:
        os.close(fd)
    head = data.find(b"\nt_s,")
    if head < 0:
        return -1, None
    body_start = data.find(b"\n", head + 1) + 1
    if body_start == 0:
        return -1, None
    body = data[body_start:]
    n = body.count(b"\n")
    if n == 0:
        return 0, None
    last = body[body.rfind(b"\n", 0, len(body) - 1) + 1 :]
    try:
        return n, float(last.split(b",", 1)[0])
    except ValueError:
        return n, None
