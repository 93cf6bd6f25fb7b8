"""What a live session keeps on disk: the recording (v1 CSV) and the raw byte capture.

:class:`SessionRecorder` checks the recording target before anything connects (never
overwrite, fail fast), opens the raw capture exclusively, starts the
:class:`~imu_host.io.recording.RecordingWriter` when the stream's device info is known,
collects sample blocks and writes them in one go on :meth:`flush` (about once a second,
cheap: data handed to the OS), while a background thread fsyncs both files every
``flush_interval_s`` so a slow disk never stalls the live loop. :meth:`close` writes the
rest and fsyncs. A killed session loses at most about the last second.
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
from imu_host.protocol.frames import DeviceInfo


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
        self.writer = self._writer_cls(self.record_path, info.odr_hz, info.channels == 6, meta)

    @property
    def recording(self) -> Path | None:
        """The recording's path once it was created, else None."""
        return self.record_path if self.writer is not None else None

    @property
    def raw_capture(self) -> Path | None:
        return self.raw_path if self.raw is not None else None

    # ------------------------------------------------------------- data

    def raw_bytes(self, data: bytes) -> None:
        if self.raw is not None:
            self.raw.write(data)

    def add(self, block: Samples) -> None:
        """Queue samples for the recording (written on the next :meth:`flush`)."""
        if self.writer is not None:
            self._unwritten.append(block)

    def _write_pending(self) -> None:
        if self.writer is not None and self._unwritten:
            blocks, self._unwritten = self._unwritten, []
            self.writer.write(Samples.concat(blocks))

    def flush(self) -> None:
        """Write pending samples and hand them to the OS (cheap; fsync is in a thread)."""
        self._write_pending()
        if self.writer is not None:
            self.writer.flush(sync=False)
        if self.raw is not None:
            self.raw.flush()

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
        if self.writer is not None:
            self._write_pending()
            with contextlib.suppress(OSError, ValueError):
                self.writer.flush()  # flush + fsync
            self.writer.close()
        if self.raw is not None:
            with contextlib.suppress(OSError, ValueError):
                self.raw.flush()
                os.fsync(self.raw.fileno())
            self.raw.close()
