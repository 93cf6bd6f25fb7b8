"""Simulated boards for the demo and the tests: the firmware itself, without hardware.

- :class:`SimulatedBoard`: the firmware's own ``Streamer`` (firmware_micropython/
  streamer.py, run under CPython) with a sensor that plays given accelerometer/gyro
  samples, behind the device side of a pseudo-terminal (or any port with
  ``write(data, timeout)`` / ``read(timeout)``). One board: the same sample loop,
  framing, timestamping and command handling as on a real board.
- :class:`MicroPythonBoard`: the firmware under the MicroPython Unix port, its stdio
  pumped through the pty.
- :func:`script_truth` / :func:`script_samples`: the firmware's demo motion script and
  its ground truth.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from imu_host.errors import InputError

FIRMWARE_ENV = "IMU_HOST_FIRMWARE_DIR"
MICROPYTHON_ENV = "IMU_HOST_MICROPYTHON"
PITCH_DEG = 45.0  # thigh elevation when lying with the knees bent (feet on the mat)
UNIX_ENTRY = "unix_sim_main.py"  # the firmware's Unix-port entry point (frames on stdout)
MASK30 = 0x3FFFFFFF


# ------------------------------------------------------------------ locating things


def firmware_dir() -> Path | None:
    """The firmware sources: $IMU_HOST_FIRMWARE_DIR, else the copy installed with the
    package (``imu_host/_firmware``), else the checkout's ``firmware_micropython``."""
    env = os.environ.get(FIRMWARE_ENV)
    cands = [Path(env)] if env else []
    here = Path(__file__).resolve()
    cands += [here.parents[1] / "_firmware", here.parents[2] / "firmware_micropython"]
    for c in cands:
        if (c / "motion.py").is_file():
            return c
    return None


def micropython_exe() -> str | None:
    env = os.environ.get(MICROPYTHON_ENV)
    if env:
        return env if os.access(env, os.X_OK) else None
    sibling = Path(sys.executable).parent / "micropython"
    if os.access(sibling, os.X_OK):
        return str(sibling)
    return shutil.which("micropython")


def load_motion() -> ModuleType | None:
    """The firmware's motion-script module (pure Python, runs on CPython too)."""
    fw = firmware_dir()
    if fw is None:
        return None
    spec = importlib.util.spec_from_file_location("_imu_fw_motion", fw / "motion.py")
    if spec is None or spec.loader is None:
        return None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def script_truth(script: list | None = None) -> dict[str, Any]:
    """Ground truth of the motion script (default: the firmware's demo script)."""
    motion = load_motion()
    if motion is None:
        raise InputError("firmware sources not found (set IMU_HOST_FIRMWARE_DIR)")
    return motion.truth(script or motion.DEFAULT_SCRIPT)


def script_samples(
    script: list | None = None, odr_hz: float = 100.0, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(accel_g, gyro_dps) the sensor reads while the script plays, with sensor noise."""
    motion = load_motion()
    if motion is None:
        raise InputError("firmware sources not found (set IMU_HOST_FIRMWARE_DIR)")
    script = script or motion.DEFAULT_SCRIPT
    segs = motion._segments(script)
    n = int(round(motion.duration(script) * odr_hz))
    rng = np.random.default_rng(seed)
    acc = np.empty((n, 3))
    gyr = np.empty((n, 3))
    for i in range(n):
        th, rate = motion.angle_rate(segs, i / odr_hz)
        a, g = motion.physics(th, rate, PITCH_DEG)
        acc[i] = a
        gyr[i] = g
    acc += rng.normal(0.0, 0.004, acc.shape)
    gyr += rng.normal(0.0, 0.15, gyr.shape) + np.array([0.3, -0.2, 0.1])  # noise + bias
    return acc, gyr


# ------------------------------------------------------------------ in-process board


def load_firmware_module(name: str) -> ModuleType:
    """Load ``firmware_micropython/<name>.py`` under CPython as a private module.

    The firmware's modules import each other by bare name (``import wire``); they are
    loaded under ``_imu_fw_<name>`` and made visible under the bare name only while a
    module that needs them executes.
    """
    fw = firmware_dir()
    if fw is None:
        raise InputError(f"firmware sources not found (set {FIRMWARE_ENV})")
    cached = sys.modules.get(f"_imu_fw_{name}")
    if cached is not None:
        return cached
    deps = {"streamer": ("wire",)}.get(name, ())
    loaded = {d: load_firmware_module(d) for d in deps}
    spec = importlib.util.spec_from_file_location(f"_imu_fw_{name}", fw / f"{name}.py")
    if spec is None or spec.loader is None:
        raise InputError(f"cannot load the firmware's {name}.py", path=str(fw))
    mod = importlib.util.module_from_spec(spec)
    saved = {d: sys.modules.get(d) for d in loaded}
    try:
        sys.modules.update(loaded)
        spec.loader.exec_module(mod)
    finally:
        for d, old in saved.items():
            if old is None:
                sys.modules.pop(d, None)
            else:
                sys.modules[d] = old
    sys.modules[f"_imu_fw_{name}"] = mod
    return mod


class PlaybackIMU:
    """A sensor driver (the firmware's driver interface: ``available()``,
    ``read_into(buf, off)``, ``configure()``, scale attributes) that plays int16 counts.

    ``realtime``: samples become ready as the wall clock advances; otherwise each poll
    gets up to ``batch`` new samples and the device clock is virtual (time of the newest
    produced sample). ``paused`` holds production (the motion waits), as the in-process
    board does while it is not streaming.
    """

    fifo = True
    name = "SIM"
    sensor_id = 0
    who_am_i = 0
    max_odr_hz = 1000

    def __init__(
        self,
        counts: np.ndarray,
        odr_hz: float,
        accel_fs_g: int,
        gyro_fs_dps: int,
        *,
        realtime: bool,
        batch: int,
    ) -> None:
        self.counts = np.ascontiguousarray(counts, dtype="<i2")
        self.raw = memoryview(self.counts.tobytes())
        self.channels = int(self.counts.shape[1])
        self.n = len(self.counts)
        self.realtime = realtime
        self.batch = batch
        self.paused = False
        self.overflows = 0
        self.overflow = False
        self.read = 0  # samples handed to the streamer
        self.produced = 0  # samples the sensor has made ready
        self._t_wall = time.monotonic()
        self._produced_at_wall = 0
        self.configure(odr_hz, accel_fs_g, gyro_fs_dps)

    def configure(self, odr_hz: float, accel_fs_g: int, gyro_fs_dps: int) -> None:
        self.odr_mhz = int(round(odr_hz * 1000))
        self.period_us = int(round(1e6 / odr_hz))
        self.accel_fs_g = accel_fs_g
        self.gyro_fs_dps = gyro_fs_dps
        self.accel_g_per_lsb = accel_fs_g / 32768.0
        self.gyro_dps_per_lsb = gyro_fs_dps / 32768.0

    @property
    def done(self) -> bool:
        return self.read >= self.n

    # the rest of the driver interface: a played-back sensor never fails
    def drain_ok(self) -> bool:
        return True

    def sleep(self) -> None:
        pass

    def recover(self) -> None:
        pass

    def selftest_regs(self) -> bool:
        return True

    def selftest_fifo(self) -> bool:
        return True

    def clock_us(self) -> int:
        """Device clock for the virtual (not real-time) mode."""
        return (1_000 + self.produced * self.period_us) & MASK30

    def hold(self, paused: bool) -> None:
        if self.paused and not paused:  # real time resumes from now
            self._t_wall = time.monotonic()
            self._produced_at_wall = self.produced
        self.paused = paused

    def available(self) -> int:
        if not self.paused:
            if self.realtime:
                el_us = (time.monotonic() - self._t_wall) * 1e6
                p = self._produced_at_wall + int(el_us // self.period_us)
            else:
                p = self.read + self.batch if self.produced <= self.read else self.produced
            self.produced = min(self.n, max(self.produced, p))
        return self.produced - self.read

    def read_into(self, buf: Any, off: int) -> bool:
        """Copy the next ready sample into ``buf[off:]``; False when none is ready."""
        if self.read >= self.produced:
            return False
        k = self.read
        self.read += 1
        size = 2 * self.channels
        buf[off : off + size] = self.raw[k * size : (k + 1) * size]
        return True


class _PortLink:
    """The firmware's link interface over a device-side port, with test hooks."""

    transport_id = 0  # serial
    max_write = 0
    connected = True

    def __init__(self, board: SimulatedBoard) -> None:
        self.board = board

    def write(self, buf: Any) -> bool:
        return self.board._write(bytes(buf))

    def read_into(self, buf: Any) -> int:
        data = self.board._read()
        n = min(len(buf), len(data))
        buf[:n] = data[:n]
        if n < len(data):
            self.board._pending = data[n:] + self.board._pending
        return n


class SimulatedBoard:
    """An in-process board: the firmware's ``Streamer`` with a playback sensor.

    Answers ``info``/``start``/``stop``/``ping`` (and the rest of the firmware's
    commands) exactly as the firmware does, because it is the firmware's code. While
    streaming it sends frames of ``samples_per_frame`` samples at ``odr_hz * speed``
    (``speed=0``: as fast as the host takes them, with a virtual device clock) and a
    status frame every second of device time. Samples produced while the "cable" is out
    are lost (their sequence numbers are skipped), as on the device.

    Test hooks: ``tap(frame_bytes, index) -> bytes`` may corrupt, duplicate or cut each
    outgoing samples frame; ``on_frame(index)`` runs before it is sent (unplug/replug,
    :meth:`reset`).
    """

    ACCEL_RANGE_G = 4
    GYRO_RANGE_DPS = 500

    def __init__(
        self,
        port: Any,
        accel_g: np.ndarray,
        gyro_dps: np.ndarray | None,
        *,
        odr_hz: float = 100.0,
        samples_per_frame: int = 5,
        speed: float = 1.0,
        tap: Callable[[bytes, int], bytes] | None = None,
        on_frame: Callable[[int], None] | None = None,
        autostart: bool = False,
    ) -> None:
        from imu_host.protocol import frames as protocol

        if speed not in (0.0, 1.0):
            raise ValueError("speed is 1 (real time) or 0 (as fast as the host reads)")
        self._p = protocol
        self._streamer_mod = load_firmware_module("streamer")
        self.port = port
        self.odr_hz = odr_hz
        self.spf = samples_per_frame
        self.speed = speed
        self.tap = tap
        self.on_frame = on_frame
        a_lsb = self.ACCEL_RANGE_G / 32768.0
        g_lsb = self.GYRO_RANGE_DPS / 32768.0
        cols = [np.clip(np.round(accel_g / a_lsb), -32768, 32767)]
        if gyro_dps is not None:
            cols.append(np.clip(np.round(gyro_dps / g_lsb), -32768, 32767))
        self.counts = np.hstack(cols).astype("<i2")
        self.imu = PlaybackIMU(
            self.counts,
            odr_hz,
            self.ACCEL_RANGE_G,
            self.GYRO_RANGE_DPS,
            realtime=speed > 0,
            batch=samples_per_frame,
        )
        self.link = _PortLink(self)
        self.frames_sent = 0  # samples frames offered to the port (tap/on_frame index)
        self._next_index = 0  # script index of the next sample to be sent
        self._lose = 0  # samples still to be lost (see next_index)
        self.dropped = 0  # samples in frames the port did not take
        self.commands: list[str] = []
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._decoder = protocol.FrameDecoder()  # to log the commands the host sends
        self._pending = b""
        self._reset_requested = False
        self._clock_base_us = 0
        self._t_boot = time.monotonic()
        self.streamer = self._boot(autostart)

    # -------------------------------------------------------------- the firmware
    def _clock(self) -> int:
        if self.speed > 0:
            us = int((time.monotonic() - self._t_boot) * 1e6)
            return (1_000 + us) & MASK30
        return (self.imu.clock_us() - self._clock_base_us) & MASK30

    def _boot(self, autostart: bool) -> Any:
        return self._streamer_mod.Streamer(
            self.imu, self.link, spf=self.spf, clock=self._clock, autostart=autostart
        )

    def reset(self) -> None:
        """The board reboots: sequence and clock restart, streaming stops until asked.

        Takes effect after the current poll (the frame being sent is lost)."""
        self._reset_requested = True

    def _reboot(self) -> None:
        self._reset_requested = False
        self._clock_base_us = self.imu.clock_us() - 1_000
        self._t_boot = time.monotonic()
        self.streamer = self._boot(False)

    @property
    def next_index(self) -> int:
        """Script index of the next sample to be sent. Raising it from ``on_frame``
        loses that many samples, starting with the frame about to go out (sampled while
        nobody was listening): the firmware drops them and its sequence numbers skip."""
        return self._next_index

    @next_index.setter
    def next_index(self, value: int) -> None:
        self._lose += max(0, value - self._next_index)

    def info_bytes(self, stream_start: bool) -> bytes:
        """The firmware's device-info frame as it would send it now."""
        st = self.streamer
        flag = self._streamer_mod.wire.INFO_STREAM_START if stream_start else 0
        return bytes(st.info.update(flag, st.seq, self._clock()))

    # -------------------------------------------------------------- the port
    def _write(self, data: bytes) -> bool:
        p = self._p
        if self._reset_requested:
            return False
        if len(data) > 2 and data[2] == p.T_SAMPLES:
            # script index of this frame's first sample (the frame holds data[14] samples)
            n = data[4 + 10]
            self._next_index = self.imu.read - n
            if self.on_frame is not None:
                self.on_frame(self.frames_sent)
                if self._reset_requested:
                    return False
            if self._lose > 0:  # lost on the way: the firmware counts them as dropped
                self._lose -= n
                self._next_index = self.imu.read
                self.frames_sent += 1
                return False
            if self.tap is not None:
                data = self.tap(data, self.frames_sent)
            self.frames_sent += 1
            # real time: a host that stalls for 0.5 s loses samples, as with the device;
            # as fast as possible: the host's reading paces the board, nothing is lost
            ok = self.port.write(data, 0.5 if self.speed > 0 else 60.0) >= len(data)
            self._next_index = self.imu.read
            if not ok:
                self.dropped += self.spf
            return ok
        return self.port.write(data, 0.5 if self.speed > 0 else 60.0) >= len(data)

    def _read(self) -> bytes:
        data, self._pending = self._pending, b""
        if not data:
            data = self.port.read(0)
            for fr in self._decoder.feed(data):
                if isinstance(fr, self._p.CommandFrame):
                    self.commands.append(self._p.COMMAND_NAMES.get(fr.command, str(fr.command)))
        return data

    # -------------------------------------------------------------- running
    def run(self) -> None:
        imu = self.imu
        while not self._stop.is_set() and not imu.done:
            imu.hold(not self.streamer.streaming)
            if self.streamer.poll() == 0:
                self._stop.wait(0.01 if not self.streamer.streaming else 0.001)
            if self._reset_requested:
                self._reboot()
        if not self._stop.is_set():
            self.streamer._flush()
            self.streamer.send_status(self._clock())
        self.done.set()

    def start(self) -> SimulatedBoard:
        self._thread = threading.Thread(target=self.run, name="sim-board", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


# ------------------------------------------------------------------ MicroPython board


class MicroPythonBoard:
    """The firmware under the MicroPython Unix port, its stdio pumped through the pty."""

    def __init__(self, port: Any, exe: str, fw: Path, args: list[str] | None = None) -> None:
        self.port = port
        self.done = threading.Event()
        self.proc = subprocess.Popen(
            [exe, UNIX_ENTRY, *(args or [])],
            cwd=str(fw),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._out, daemon=True),
            threading.Thread(target=self._in, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _out(self) -> None:  # firmware stdout -> host
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            self.port.write(data, 10.0)  # the pipe gives back-pressure; do not drop
        self.done.set()

    def _in(self) -> None:  # host commands -> firmware stdin
        assert self.proc.stdin is not None
        while not self._stop.is_set() and self.proc.poll() is None:
            data = self.port.read(0.05)
            if data:
                try:
                    self.proc.stdin.write(data)
                    self.proc.stdin.flush()
                except (BrokenPipeError, OSError):
                    break

    def stop(self) -> None:
        self._stop.set()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for t in self._threads:
            t.join(2)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


def start_board(kind: str, port: Any, fast: bool = False) -> tuple[Any, str]:
    """Start the simulated board behind ``port``; returns (board, description)."""
    fw = firmware_dir()
    exe = micropython_exe()
    if kind == "micropython" and (exe is None or fw is None or not (fw / UNIX_ENTRY).is_file()):
        raise InputError(
            "MicroPython Unix port or the firmware's unix entry point not found "
            f"(set {MICROPYTHON_ENV} / {FIRMWARE_ENV}, or use --board in-process)"
        )
    if kind != "in-process" and exe and fw and (fw / UNIX_ENTRY).is_file():
        args = ["--stopped", "--noise", "--pitch", f"{PITCH_DEG:g}"] + (["--fast"] if fast else [])
        return MicroPythonBoard(port, exe, fw, args), f"firmware under {exe}"
    acc, gyr = script_samples()
    board = SimulatedBoard(port, acc, gyr, speed=0.0 if fast else 1.0).start()
    return board, "in-process simulated board"
