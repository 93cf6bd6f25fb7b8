"""``imu-host demo``: the whole live path with no hardware.

A simulated board (the MicroPython firmware under the MicroPython Unix port when it is
installed, otherwise an equivalent in-process board speaking the same protocol) streams
into a pseudo-terminal; the real serial live path (pyserial -> decoder -> pipeline ->
live view -> recording) runs against it. The default motion script (~30 s) has known
truth: controlled reps on each side and one fast drop; the demo prints it next to what
was detected.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import numpy as np

from imu_host.errors import InputError

HELP = "run a ~30 s live session against a simulated board (no hardware needed)"

FIRMWARE_ENV = "IMU_HOST_FIRMWARE_DIR"
MICROPYTHON_ENV = "IMU_HOST_MICROPYTHON"
PITCH_DEG = 45.0  # thigh elevation when lying with the knees bent (feet on the mat)
UNIX_ENTRY = "unix_sim_main.py"  # the firmware's Unix-port entry point (frames on stdout)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from imu_host.cli.live import add_session_arguments

    p.add_argument(
        "--board",
        choices=("auto", "micropython", "in-process"),
        default="auto",
        help="simulated board: the firmware under MicroPython (auto: when installed) "
        "or the in-process equivalent",
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help="stream the motion as fast as the host takes it instead of in real time",
    )
    add_session_arguments(p, history=False)  # a simulated session is not your history
    p.set_defaults(no_record=False)


# ------------------------------------------------------------------ locating things


def firmware_dir() -> Path | None:
    """The firmware sources: $IMU_HOST_FIRMWARE_DIR, else the checkout's firmware_micropython,
    else the copy a (non-editable) install puts in <prefix>/share/imu-host."""
    env = os.environ.get(FIRMWARE_ENV)
    cands = [Path(env)] if env else []
    cands.append(Path(__file__).resolve().parents[2] / "firmware_micropython")
    cands.append(Path(sys.prefix) / "share" / "imu-host" / "firmware_micropython")  # installed
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


class SimulatedBoard:
    """An in-process board speaking protocol v1 on the device side of a pty.

    Answers ``info``/``start``/``stop``/``ping``; while streaming, sends frames of
    ``samples_per_frame`` samples paced at ``odr_hz * speed`` (``speed=0``: as fast as
    the host takes them) and a status frame every second. Samples produced while the
    "cable" is out are lost (their sequence numbers are skipped), as on the device.
    ``tap(frame_bytes, index) -> bytes`` lets tests corrupt, duplicate or cut the
    outgoing byte stream; ``on_frame(index)`` lets them unplug/replug or reset.
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

        self._p = protocol
        self.port = port
        self.odr_hz = odr_hz
        self.spf = samples_per_frame
        self.speed = speed
        self.tap = tap
        self.on_frame = on_frame
        self.channels = 6 if gyro_dps is not None else 3
        a_lsb = self.ACCEL_RANGE_G / 32768.0
        g_lsb = self.GYRO_RANGE_DPS / 32768.0
        cols = [np.clip(np.round(accel_g / a_lsb), -32768, 32767)]
        if gyro_dps is not None:
            cols.append(np.clip(np.round(gyro_dps / g_lsb), -32768, 32767))
        self.counts = np.hstack(cols).astype("<i2")
        self.a_lsb, self.g_lsb = a_lsb, g_lsb
        self.dt_us = int(round(1e6 / odr_hz))
        self.streaming = autostart
        self.seq0 = 0  # sequence number of counts[0] (changes after a simulated reset)
        self.t0_us = 1_000  # device clock of counts[0]
        self.next_index = 0  # next sample of the script to produce
        self.frames_sent = 0
        self.commands: list[str] = []
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._decoder = protocol.FrameDecoder()
        self._stream_start = True
        self.dropped = 0

    def info_bytes(self, stream_start: bool) -> bytes:
        p = self._p
        info = p.DeviceInfo(
            protocol_version=p.PROTO_VERSION,
            firmware_version="0.1.0",
            sensor_id=0,
            sensor_model="SIM",
            who_am_i=0,
            channels=self.channels,
            samples_per_frame=self.spf,
            odr_hz=self.odr_hz,
            accel_range_g=self.ACCEL_RANGE_G,
            gyro_range_dps=self.GYRO_RANGE_DPS,
            accel_g_per_lsb=self.a_lsb,
            gyro_dps_per_lsb=self.g_lsb,
            axis_map=(1, 2, 3),
            clock_bits=30,
            transport="serial",
            stream_start=stream_start,
            seq_next=self.seq0 + self.next_index,
            t_us=self.t0_us + self.next_index * self.dt_us,
        )
        return p.encode_info(info)

    def reset(self) -> None:
        """The board reboots: sequence and clock restart, streaming stops until asked."""
        self.seq0 = -self.next_index
        self.t0_us = 1_000 - self.next_index * self.dt_us
        self.streaming = False
        self._stream_start = True

    def _send(self, data: bytes) -> None:
        self.port.write(data, 0.5 if self.speed > 0 else 60.0)

    def _handle_commands(self) -> None:
        p = self._p
        data = self.port.read(0)
        if not data:
            return
        for fr in self._decoder.feed(data):
            if not isinstance(fr, p.CommandFrame):
                continue
            name = p.COMMAND_NAMES.get(fr.command, str(fr.command))
            self.commands.append(name)
            t_us = (self.t0_us + self.next_index * self.dt_us) & p.MASK
            if fr.command == p.CMD_START:
                if not self.streaming:
                    self._stream_start = True
                self.streaming = True
            elif fr.command == p.CMD_STOP:
                self.streaming = False
            elif fr.command == p.CMD_GET_INFO:
                self._send(self.info_bytes(False))
            self._send(p.encode_ack(p.AckFrame(fr.command, p.ACK_OK, fr.token, 0, t_us)))

    def run(self) -> None:
        p = self._p
        n = len(self.counts)
        period = self.spf / (self.odr_hz * self.speed) if self.speed > 0 else 0.0
        next_t = time.monotonic()
        next_status = next_t + 1.0
        while not self._stop.is_set() and self.next_index < n:
            self._handle_commands()
            if not self.streaming:
                self._stop.wait(0.01)
                next_t = time.monotonic()
                continue
            if self._stream_start:
                self._send(self.info_bytes(True))
                self._stream_start = False
            if self.on_frame is not None:
                self.on_frame(self.frames_sent)
                if not self.streaming or self.next_index >= n:
                    continue
            i = self.next_index
            j = min(n, i + self.spf)
            frame = p.encode_samples(
                (self.seq0 + i) & p.MASK,
                (self.t0_us + i * self.dt_us) & p.MASK,
                self.dt_us,
                self.counts[i:j],
            )
            if self.tap is not None:
                frame = self.tap(frame, self.frames_sent)
            # real time: a host that stalls for 0.5 s loses samples, as with the device;
            # as fast as possible: the host's reading paces the board, nothing is lost
            if self.port.write(frame, 0.5 if self.speed > 0 else 60.0) < len(frame):
                self.dropped += j - i
            self.next_index = j
            self.frames_sent += 1
            now = time.monotonic()
            if now >= next_status:
                next_status = now + 1.0
                self._send(
                    p.encode_status(
                        p.StatusFrame(
                            self.seq0 + j, self.t0_us + j * self.dt_us, self.dropped, 0, 0,
                            None, True, True, False,
                        )
                    )
                )  # fmt: skip
            if period:
                next_t += period
                delay = next_t - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                else:
                    next_t = time.monotonic()
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
        for t in self._threads:
            t.join(2)


# ------------------------------------------------------------------ run


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


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    from imu_host.cli.live import run_session
    from imu_host.transport.serial import PtyDevicePort, SerialTransport

    out = out or sys.stdout
    truth = script_truth()
    with tempfile.TemporaryDirectory(prefix="imu-host-demo-") as tmp:
        port = PtyDevicePort(str(Path(tmp) / "ttyIMU0"))
        board, what = start_board(args.board, port, args.fast)
        try:
            pace = "as fast as possible" if args.fast else "real time"
            print(
                f"demo: {what} on {port.tty_name}; "
                f"motion script {truth['duration_s']:.0f} s, {pace}",
                file=sys.stderr,
            )
            if args.duration is None:  # safety net; normally ends when the board is done
                args.duration = truth["duration_s"] + 10.0
            rc = run_session(SerialTransport(port.path), args, out=out, stop=board.done.is_set)
        finally:
            board.stop()
            port.close()
    per = truth["reps_per_side"]
    fast = len(truth["fast_reps"])
    print(
        f"simulator truth: {per['left']} left + {per['right']} right reps, "
        f"{fast} fast drop{'s' if fast != 1 else ''}",
        file=sys.stderr,
    )
    return rc
