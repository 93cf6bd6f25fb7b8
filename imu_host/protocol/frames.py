"""Wire protocol v1: host-side decoder/encoder twin of ``firmware_micropython/wire.py``.

See ``docs/PROTOCOL.md``. Imports only the standard library and numpy.

- :class:`FrameDecoder` turns an arbitrary chunked byte stream into frames and resyncs
  after garbage, truncated or corrupted bytes.
- :class:`SampleAssembler` turns :class:`DeviceInfo` + :class:`SampleFrame` into
  :class:`imu_host.samples.Samples` in physical units with a continuous time axis.
- :func:`encode_command` builds host -> device commands.
"""

from __future__ import annotations

import binascii
import math
import struct
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from imu_host.core.samples import Samples

PROTO_VERSION = 1
SYNC = b"\xa5\x5a"
OVERHEAD = 6  # sync(2) + type + len + crc(2)
CLOCK_BITS = 30
WRAP = 1 << CLOCK_BITS  # sequence numbers and the device clock wrap here
MASK = WRAP - 1

T_SAMPLES = 0x01
T_INFO = 0x02
T_STATUS = 0x03
T_ACK = 0x04
T_DEVICE = 0x05  # identity + health (firmware >= 1.1); older hosts skip it
T_BACKFILL = 0x06  # SAMPLES layout, samples kept while no host was connected
T_COMMAND = 0x10

CMD_START = 1
CMD_STOP = 2
CMD_SET_RATE = 3
CMD_IDENTIFY = 4
CMD_GET_INFO = 5
CMD_PING = 6
COMMANDS: dict[str, int] = {
    "start": CMD_START,
    "stop": CMD_STOP,
    "set_rate": CMD_SET_RATE,
    "identify": CMD_IDENTIFY,
    "info": CMD_GET_INFO,
    "ping": CMD_PING,
}
COMMAND_NAMES: dict[int, str] = {v: k for k, v in COMMANDS.items()}

ACK_OK = 0
ACK_BAD_ARG = 1
ACK_UNKNOWN = 2

SAMPLES_HDR = struct.Struct("<IIHBB")
INFO_FIXED = struct.Struct("<BBBBBBBBIBBHffbbbBBBII")
STATUS = struct.Struct("<IIIIHHBB")
ACK = struct.Struct("<BBHII")
COMMAND = struct.Struct("<BBHI")
DEVICE = struct.Struct("<BB8sBHHHHIIH")

INFO_STREAM_START = 1
INFO_SELFTEST_RAN = 2
INFO_SELFTEST_OK = 4
SELFTEST_BITS = {1: "ran", 2: "registers", 4: "gravity", 8: "fifo", 0x80: "passed"}
ST_STREAMING = 1
ST_CONNECTED = 2
ST_IDENTIFY = 4

SENSOR_MODELS: dict[int, str] = {
    0: "SIM",
    1: "MPU-6050",
    2: "MPU-6500",
    3: "MPU-9250",
    4: "MPU-9255",
    10: "LSM6DS3",
    11: "LSM6DS3TR-C/LSM6DSL",
    12: "LSM6DSO/LSM6DSOX",
}
TRANSPORTS: dict[int, str] = {0: "serial", 1: "ble", 2: "stdout"}

# plausible device-info values: anything outside is a confused or hostile board, and
# the info is refused (counted in FrameDecoder.info_rejected) rather than believed
ODR_MIN_HZ = 1.0  # slower cannot follow a knee roll
ODR_MAX_HZ = 10_000.0  # fastest IMU output data rate we know (LSM6DSO: 6.66 kHz)
ACCEL_FULL_SCALE_G = (1.0, 64.0)  # 32768 LSB x g per LSB must land in this range
GYRO_FULL_SCALE_DPS = (60.0, 8_000.0)  # 32768 LSB x deg/s per LSB
TEXT_MAX = 32  # characters kept of any text a board sends


def clean_text(text: str, limit: int = TEXT_MAX) -> str:
    """Text from a board made safe for files and terminals: printable characters only
    (control characters, escapes and NULs become ``?``), at most ``limit`` characters."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def _board_text(raw: bytes) -> str:
    return clean_text(raw.decode("ascii", "replace"))


# smallest valid payload per type (a candidate header with a shorter length is garbage)
_MIN_LEN = {
    T_SAMPLES: SAMPLES_HDR.size,
    T_BACKFILL: SAMPLES_HDR.size,
    T_DEVICE: DEVICE.size + 1,
    T_INFO: INFO_FIXED.size + 1,
    T_STATUS: STATUS.size,
    T_ACK: ACK.size,
    T_COMMAND: COMMAND.size,
}


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no xor-out)."""
    return binascii.crc_hqx(data, 0xFFFF)


# --------------------------------------------------------------------------- frames


@dataclass(frozen=True)
class DeviceInfo:
    """What the host needs to turn raw counts into physical units."""

    protocol_version: int
    firmware_version: str
    sensor_id: int
    sensor_model: str
    who_am_i: int
    channels: int  # 6 = accel xyz + gyro xyz, 3 = accel only
    samples_per_frame: int
    odr_hz: float
    accel_range_g: int
    gyro_range_dps: int
    accel_g_per_lsb: float
    gyro_dps_per_lsb: float
    axis_map: tuple[int, int, int]  # body axis i = sign(m) * sensor axis |m|-1 (1-based)
    clock_bits: int
    transport: str
    stream_start: bool  # first info of a (re)started stream
    seq_next: int  # sequence number of the next sample the device will send
    t_us: int  # device clock when this frame was built
    selftest: bool | None = None  # boot self-test passed (None: not run / old firmware)

    @property
    def period_s(self) -> float:
        return 1.0 / self.odr_hz


@dataclass(frozen=True)
class SampleFrame:
    """``n`` consecutive samples; sample i was taken at ``t_us + i * dt_us`` (device clock)."""

    seq: int  # sequence number of the first sample (mod 2**30)
    t_us: int  # device clock of the first sample, microseconds (mod 2**30)
    dt_us: int  # sample period, microseconds
    counts: np.ndarray  # (n, channels) int16 raw counts, sensor axes: ax ay az [gx gy gz]
    backfill: bool = False  # kept on the device while no host was connected, sent late

    @property
    def n(self) -> int:
        return int(self.counts.shape[0])

    @property
    def channels(self) -> int:
        return int(self.counts.shape[1])


@dataclass(frozen=True)
class StatusFrame:
    seq_next: int
    t_us: int
    dropped_samples: int  # sampled but not delivered (no one connected, link full)
    sensor_lost_samples: int  # never read from the sensor (FIFO overflow, missed data-ready)
    fifo_overflows: int
    battery_mv: int | None
    streaming: bool
    connected: bool
    identifying: bool
    bus_errors: int = 0  # I2C errors so far, saturating at 255 (0 from older firmware)


@dataclass(frozen=True)
class DeviceHealth:
    """T_DEVICE: who the board is and how it is doing (firmware >= 1.1)."""

    unique_id: str  # hex of machine.unique_id(); the BLE name ends with its last 6 digits
    selftest_bits: int  # 1 ran, 2 registers ok, 4 |g| ok, 8 FIFO pattern/tags ok, 0x80 passed
    gravity_mg: int | None  # |g| measured at boot, milli-g
    battery_mv: int | None
    bus_errors: int  # I2C errors (NACK/timeout) so far
    sensor_reinits: int
    link_drops: int  # writes the link refused (BLE rate limit, stalled USB host)
    backfilled: int  # samples sent late from the device's ring buffer
    ring_samples: int  # samples waiting in it now
    board: str  # e.g. "esp32s3", "rp2"

    @property
    def selftest_passed(self) -> bool | None:
        if not self.selftest_bits & 1:
            return None
        return bool(self.selftest_bits & 0x80)

    @property
    def selftest_text(self) -> str:
        if not self.selftest_bits & 1:
            return "not run"
        failed = [
            n for b, n in SELFTEST_BITS.items() if 1 < b < 0x80 and not self.selftest_bits & b
        ]
        return "passed" if self.selftest_bits & 0x80 else "FAILED: " + ", ".join(failed or ["?"])


@dataclass(frozen=True)
class AckFrame:
    command: int
    status: int  # ACK_OK, ACK_BAD_ARG, ACK_UNKNOWN
    token: int
    value: int  # command-specific: the actual rate in mHz for set_rate, etc.
    t_us: int  # device clock when the command was handled (ping: for clock sync)

    @property
    def command_name(self) -> str:
        return COMMAND_NAMES.get(self.command, f"cmd{self.command}")

    @property
    def ok(self) -> bool:
        return self.status == ACK_OK


@dataclass(frozen=True)
class CommandFrame:
    """A host -> device command (decoded here for tests and loopback tools)."""

    command: int
    token: int
    arg: int


Frame = DeviceInfo | SampleFrame | StatusFrame | AckFrame | CommandFrame | DeviceHealth


class ProtocolError(ValueError):
    """A CRC-valid frame whose payload does not follow the protocol."""


class InfoRejected(ProtocolError):
    """A CRC-valid device-info frame with values no real board sends."""


def check_info_values(
    channels: int,
    odr_hz: float,
    accel_g_per_lsb: float,
    gyro_dps_per_lsb: float,
    axis_map: tuple[int, int, int],
) -> None:
    """Raise :class:`InfoRejected` naming the first implausible device-info value."""
    if channels not in (3, 6):
        raise InfoRejected(f"channels {channels}, expected 3 or 6")
    if not ODR_MIN_HZ <= odr_hz <= ODR_MAX_HZ:
        raise InfoRejected(
            f"output data rate {odr_hz:g} Hz, expected {ODR_MIN_HZ:g}-{ODR_MAX_HZ:g} Hz"
        )
    for what, lsb, (lo, hi), unit in (
        ("accel", accel_g_per_lsb, ACCEL_FULL_SCALE_G, "g"),
        ("gyro", gyro_dps_per_lsb, GYRO_FULL_SCALE_DPS, "deg/s"),
    ):
        full = 32768.0 * lsb
        if not (math.isfinite(full) and lo <= full <= hi):
            raise InfoRejected(
                f"{what} scale {lsb!r} {unit}/LSB (full scale {full:g} {unit}), "
                f"expected a full scale of {lo:g}-{hi:g} {unit}"
            )
    axis_matrix(axis_map)  # raises on anything but a signed permutation of 1, 2, 3


def parse_payload(ftype: int, p: bytes) -> Frame:
    """Decode one frame payload (after sync/CRC checks)."""
    if ftype in (T_SAMPLES, T_BACKFILL):
        seq, t_us, dt_us, n, ch = SAMPLES_HDR.unpack_from(p, 0)
        if ch not in (3, 6) or len(p) != SAMPLES_HDR.size + 2 * n * ch or n == 0:
            raise ProtocolError(f"bad samples frame: n={n} channels={ch} len={len(p)}")
        counts = np.frombuffer(p, dtype="<i2", offset=SAMPLES_HDR.size).reshape(n, ch)
        return SampleFrame(seq, t_us, dt_us, counts.astype(np.int16), ftype == T_BACKFILL)
    if ftype == T_DEVICE:
        ver, uid_len, uid, st, g, batt, berr, reinit, drops, bfill, ring = DEVICE.unpack_from(p)
        k = p[DEVICE.size]
        if ver < 1 or uid_len > 8 or len(p) != DEVICE.size + 1 + k:
            raise ProtocolError("bad device frame")
        return DeviceHealth(
            uid[:uid_len].hex().upper(),
            st,
            g or None,
            batt or None,
            berr,
            reinit,
            drops,
            bfill,
            ring,
            _board_text(p[DEVICE.size + 1 :]),
        )
    if ftype == T_INFO:
        f = INFO_FIXED.unpack_from(p, 0)
        name_len = p[INFO_FIXED.size]
        if len(p) != INFO_FIXED.size + 1 + name_len:
            raise ProtocolError("bad info frame length")
        name = _board_text(p[INFO_FIXED.size + 1 :])
        (proto, v0, v1, v2, sid, who, ch, spf, odr_mhz, afs, _r, gfs, ag, gd) = f[:14]
        if proto != PROTO_VERSION:
            raise InfoRejected(f"unsupported protocol version {proto}")
        ax = (f[14], f[15], f[16])
        check_info_values(ch, odr_mhz / 1000.0, ag, gd, ax)
        clock_bits, transport, flags, seq_next, t_us = f[17:22]
        return DeviceInfo(
            protocol_version=proto,
            firmware_version=f"{v0}.{v1}.{v2}",
            sensor_id=sid,
            sensor_model=name or SENSOR_MODELS.get(sid, f"sensor{sid}"),
            who_am_i=who,
            channels=ch,
            samples_per_frame=spf,
            odr_hz=odr_mhz / 1000.0,
            accel_range_g=afs,
            gyro_range_dps=gfs,
            accel_g_per_lsb=float(ag),
            gyro_dps_per_lsb=float(gd),
            axis_map=ax,
            clock_bits=clock_bits,
            transport=TRANSPORTS.get(transport, f"transport{transport}"),
            stream_start=bool(flags & INFO_STREAM_START),
            seq_next=seq_next,
            t_us=t_us,
            selftest=bool(flags & INFO_SELFTEST_OK) if flags & INFO_SELFTEST_RAN else None,
        )
    if ftype == T_STATUS:
        if len(p) != STATUS.size:
            raise ProtocolError("bad status frame length")
        seq_next, t_us, dropped, lost, ovf, batt, state, bus_err = STATUS.unpack(p)
        return StatusFrame(
            seq_next,
            t_us,
            dropped,
            lost,
            ovf,
            batt or None,
            bool(state & ST_STREAMING),
            bool(state & ST_CONNECTED),
            bool(state & ST_IDENTIFY),
            bus_err,
        )
    if ftype == T_ACK:
        if len(p) != ACK.size:
            raise ProtocolError("bad ack frame length")
        return AckFrame(*ACK.unpack(p))
    if ftype == T_COMMAND:
        if len(p) != COMMAND.size:
            raise ProtocolError("bad command frame length")
        cmd, _flags, token, arg = COMMAND.unpack(p)
        return CommandFrame(cmd, token, arg)
    raise ProtocolError(f"unknown frame type 0x{ftype:02x}")


class FrameDecoder:
    """Chunk-tolerant stream decoder: any split of the byte stream yields the same frames.

    Resynchronisation: a candidate frame starts at ``A5 5A`` with a known type and a
    plausible length; if its CRC fails only its first byte is dropped and the search
    restarts, so a good frame right after a damaged one is never lost.

    Counters: ``frames_ok``, ``crc_errors`` (candidates with a bad CRC),
    ``malformed`` (CRC-valid but not a valid payload), ``bytes_discarded``;
    ``info_rejected`` (of ``malformed``: device-info frames with implausible values,
    :func:`check_info_values`) and ``last_rejected`` (why the last one was refused).
    """

    MAX_BUFFER = 1 << 16

    def __init__(self) -> None:
        self._zero()

    def _zero(self) -> None:
        self._buf = bytearray()
        self.frames_ok = 0
        self.crc_errors = 0
        self.malformed = 0
        self.info_rejected = 0  # device-info frames with implausible values (in malformed)
        self.last_rejected = ""  # why the last one was refused
        self.bytes_discarded = 0

    def reset(self) -> None:
        """Forget buffered bytes and zero the counters."""
        self._zero()

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def _drop(self, n: int) -> None:
        del self._buf[:n]
        self.bytes_discarded += n

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes; return the frames completed by them (possibly none)."""
        buf = self._buf
        buf += data
        out: list[Frame] = []
        while True:
            i = buf.find(SYNC)
            if i < 0:
                # keep a trailing A5: it may be the first half of a sync
                keep = 1 if buf[-1:] == b"\xa5" else 0
                if len(buf) > keep:
                    self._drop(len(buf) - keep)
                break
            if i:
                self._drop(i)
            if len(buf) < 4:
                break
            ftype, plen = buf[2], buf[3]
            min_len = _MIN_LEN.get(ftype)
            if min_len is None or plen < min_len:
                self._drop(1)
                continue
            total = plen + OVERHEAD
            if len(buf) < total:
                break
            crc = buf[4 + plen] | (buf[5 + plen] << 8)
            if crc16(bytes(buf[2 : 4 + plen])) != crc:
                self.crc_errors += 1
                self._drop(1)
                continue
            payload = bytes(buf[4 : 4 + plen])
            try:
                frame = parse_payload(ftype, payload)
            except (ProtocolError, struct.error, UnicodeError) as err:
                self.malformed += 1
                if ftype == T_INFO:
                    self.info_rejected += 1
                    self.last_rejected = str(err)
                self._drop(total)
                continue
            del buf[:total]
            self.frames_ok += 1
            out.append(frame)
        if len(buf) > self.MAX_BUFFER:  # cannot happen with valid lengths; belt and braces
            self._drop(len(buf))
        return out


# --------------------------------------------------------------------------- encoders


def encode_frame(ftype: int, payload: bytes) -> bytes:
    """Wrap a payload: sync, type, length, payload, CRC."""
    if len(payload) > 255:
        raise ValueError(f"payload too long: {len(payload)} bytes")
    body = bytes((ftype, len(payload))) + payload
    return SYNC + body + struct.pack("<H", crc16(body))


def encode_command(command: str | int, arg: int = 0, token: int = 0) -> bytes:
    """Encode a host -> device command frame (14 bytes).

    ``command``: "start", "stop", "set_rate" (arg = rate in Hz), "identify" (arg = seconds),
    "info" (request a device-info frame), "ping" (device answers with an ack carrying
    its clock), or the numeric code. ``token`` (0-65535) is echoed in the ack.
    """
    code = COMMANDS.get(command) if isinstance(command, str) else int(command)
    if code is None:
        raise ValueError(f"unknown command {command!r}; known: {', '.join(COMMANDS)}")
    if not 0 <= arg < WRAP:
        raise ValueError(f"command argument out of range: {arg}")
    if not 0 <= token <= 0xFFFF:
        raise ValueError(f"token out of range: {token}")
    return encode_frame(T_COMMAND, COMMAND.pack(code, 0, token, arg))


def encode_samples(
    seq: int, t_us: int, dt_us: int, counts: np.ndarray, backfill: bool = False
) -> bytes:
    """Encode a SAMPLES frame, or with ``backfill`` a BACKFILL frame (same layout:
    samples the board kept in its ring and sends late), for tests and fake devices."""
    c = np.asarray(counts, dtype="<i2")
    n, ch = c.shape
    hdr = SAMPLES_HDR.pack(seq & MASK, t_us & MASK, dt_us, n, ch)
    return encode_frame(T_BACKFILL if backfill else T_SAMPLES, hdr + c.tobytes())


def encode_info(info: DeviceInfo, sensor_code: str | None = None) -> bytes:
    """Encode a DeviceInfo frame (host-side fake devices, tests)."""
    v = [int(x) for x in info.firmware_version.split(".")]
    transport = {name: k for k, name in TRANSPORTS.items()}.get(info.transport, 0)
    name = (sensor_code or info.sensor_model).encode("ascii")[:16]
    fixed = INFO_FIXED.pack(
        PROTO_VERSION,
        v[0],
        v[1],
        v[2],
        info.sensor_id,
        info.who_am_i,
        info.channels,
        info.samples_per_frame,
        round(info.odr_hz * 1000),
        info.accel_range_g,
        0,
        info.gyro_range_dps,
        info.accel_g_per_lsb,
        info.gyro_dps_per_lsb,
        *info.axis_map,
        info.clock_bits,
        transport,
        INFO_STREAM_START if info.stream_start else 0,
        info.seq_next & MASK,
        info.t_us & MASK,
    )
    return encode_frame(T_INFO, fixed + bytes((len(name),)) + name)


def encode_status(s: StatusFrame) -> bytes:
    state = (
        (ST_STREAMING if s.streaming else 0)
        | (ST_CONNECTED if s.connected else 0)
        | (ST_IDENTIFY if s.identifying else 0)
    )
    payload = STATUS.pack(
        s.seq_next & MASK,
        s.t_us & MASK,
        s.dropped_samples & MASK,
        s.sensor_lost_samples & MASK,
        s.fifo_overflows & 0xFFFF,
        s.battery_mv or 0,
        state,
        min(s.bus_errors, 255),
    )
    return encode_frame(T_STATUS, payload)


def encode_device(h: DeviceHealth) -> bytes:
    """Encode a DEVICE frame (host-side fake devices, tests)."""
    uid = bytes.fromhex(h.unique_id)[:8]
    board = h.board.encode("ascii")[:16]
    fixed = DEVICE.pack(
        1,
        len(uid),
        uid.ljust(8, b"\0"),
        h.selftest_bits,
        h.gravity_mg or 0,
        h.battery_mv or 0,
        min(h.bus_errors, 0xFFFF),
        min(h.sensor_reinits, 0xFFFF),
        h.link_drops & MASK,
        h.backfilled & MASK,
        min(h.ring_samples, 0xFFFF),
    )
    return encode_frame(T_DEVICE, fixed + bytes((len(board),)) + board)


def encode_ack(a: AckFrame) -> bytes:
    return encode_frame(T_ACK, ACK.pack(a.command, a.status, a.token, a.value, a.t_us))


def decode_all(data: bytes) -> list[Frame]:
    """Decode a complete byte string (convenience for files and tests)."""
    return FrameDecoder().feed(data)


# --------------------------------------------------------------------------- assembler


def axis_matrix(axis_map: tuple[int, int, int]) -> np.ndarray:
    """3x3 matrix M with body = M @ sensor for an axis map like (1, 2, 3) or (-2, 1, 3)."""
    m = np.zeros((3, 3))
    used = set()
    for i, a in enumerate(axis_map):
        k = abs(int(a)) - 1
        if not 0 <= k <= 2 or k in used:
            raise InfoRejected(
                f"axis map {tuple(axis_map)}, expected a signed permutation of 1 2 3"
            )
        used.add(k)
        m[i, k] = 1.0 if a > 0 else -1.0
    return m


@dataclass
class _Track:
    raw_seq: int  # device sequence number of the next expected sample (mod 2**30)
    raw_t: int  # device clock of the next expected sample (mod 2**30)
    next_us: float  # stream time (us) of the next expected sample
    last_us: float  # stream time (us) of the last sample handed out


class SampleAssembler:
    """DeviceInfo + SampleFrames -> ``Samples`` blocks with ``t_s`` since stream start.

    - the device clock (wraps at 2**30 us, ~17.9 min) is unwrapped;
    - a forward sequence gap counts ``samples_lost`` and shows as a time jump (the
      timestamps of later samples stay correct);
    - a device reset (sequence and clock restarting together: the sequence goes
      backwards to a clock that does not fit the stream so far, or sequence and clock
      disagree) is counted in ``device_resets``; the time axis continues one period
      after the last sample and never goes backwards;
    - a late frame (sequence and clock both behind, by amounts that fit the stream so
      far: a frame repeated or delayed on the way) is dropped and counted in
      ``late_frames``; after ``MAX_LATE_RUN`` of them in a row the device is taken to
      have restarted on a clock that happens to fit (the next frame starts anew);
    - an info frame flagged ``stream_start`` (sent after start / set_rate) resynchronises:
      the skipped sequence numbers are not counted as lost, the clock jump is kept;
    - sample frames that arrive before any DeviceInfo are held (up to ``max_pending``
      frames) and converted once it arrives;
    - ``apply_axis_map``: rotate sensor axes into the body frame with the info's axis map;
    - ``backfill=True``: BACKFILL frames (samples the device kept while no host was
      connected or the link refused them) are merged by sequence number: samples that
      fill a recorded gap come out as extra blocks with their true times (earlier than
      blocks already returned), ``samples_lost`` goes down by as many and
      ``samples_backfilled`` up; a sequence number already delivered is dropped
      (``backfill_duplicates``). With ``backfill=False`` (default) they are ignored.
    """

    MAX_GAPS = 512
    MAX_LATE_RUN = 3  # late frames in a row before they are taken for a restarted device

    def __init__(
        self,
        info: DeviceInfo | None = None,
        *,
        max_pending: int = 4096,
        apply_axis_map: bool = True,
        backfill: bool = False,
    ) -> None:
        self.info: DeviceInfo | None = None
        self.max_pending = max_pending
        self.apply_axis_map = apply_axis_map
        self.backfill = backfill
        self.samples_received = 0
        self.samples_lost = 0
        self.samples_backfilled = 0
        self.backfill_duplicates = 0
        self.device_resets = 0
        self.late_frames = 0  # frames from the stream's past (repeated / delayed), dropped
        self._late_run = 0
        self.frames_discarded = 0  # no info in time, or channel count mismatch
        # gaps still open for backfill: [first seq, count, stream us, device clock] where
        # the last two anchor device clock -> stream time
        self._gaps: list[list[float]] = []
        self._track: _Track | None = None
        self._pending: deque[SampleFrame] = deque()
        self._resync = False
        self._m: np.ndarray | None = None
        if info is not None:
            self.set_info(info)

    def reset(self) -> None:
        """Forget the stream (the next frame starts again at t_s = 0); keeps the info."""
        self._track = None
        self._pending.clear()
        self._resync = False
        self.samples_received = self.samples_lost = self.device_resets = 0
        self.samples_backfilled = self.backfill_duplicates = 0
        self.late_frames = self._late_run = 0
        self.frames_discarded = 0
        self._gaps = []

    @property
    def gap_samples(self) -> int:
        """Samples still missing in the gaps backfill could fill (``backfill=True``)."""
        return int(sum(g[1] for g in self._gaps))

    def device_time_s(self, t_us: int) -> float | None:
        """A device clock reading (e.g. an ACK's ``t_us``: when the board handled a
        ``ping``) on the time axis of the blocks handed out (``t_s``), unwrapped near the
        newest sample; None before the first sample or while the stream is being
        resynchronised (the next frame may start a new time axis)."""
        tr = self._track
        if tr is None or self._resync:
            return None
        d = (int(t_us) - tr.raw_t) & MASK
        if d >= WRAP // 2:
            d -= WRAP
        return (tr.next_us + d) * 1e-6

    def set_info(self, info: DeviceInfo) -> list[Samples]:
        """Install device info; returns blocks for frames held while waiting for it."""
        old = self.info
        self.info = info
        self._m = axis_matrix(info.axis_map) if self.apply_axis_map else None
        if info.stream_start or (
            old is not None and (old.odr_hz != info.odr_hz or old.channels != info.channels)
        ):
            self._resync = True
        out: list[Samples] = []
        while self._pending:
            s = self._convert(self._pending.popleft())
            if s is not None:
                out.append(s)
        return out

    def push(self, frame: Frame) -> list[Samples]:
        """Feed any decoded frame; returns zero or more Samples blocks."""
        if isinstance(frame, DeviceInfo):
            return self.set_info(frame)
        if isinstance(frame, SampleFrame):
            if self.info is None:
                if len(self._pending) >= self.max_pending:
                    self._pending.popleft()
                    self.frames_discarded += 1
                self._pending.append(frame)
                return []
            s = self._convert(frame)
            return [] if s is None else [s]
        return []

    def feed(self, frames: Iterable[Frame]) -> list[Samples]:
        """Feed several frames; returns the Samples blocks they complete."""
        out: list[Samples] = []
        for f in frames:
            out.extend(self.push(f))
        return out

    def _is_late(self, fr: SampleFrame) -> bool:
        """Sequence and clock both behind the stream, by amounts that fit each other."""
        tr = self._track
        if tr is None or self._resync or self._late_run >= self.MAX_LATE_RUN:
            return False
        back = (tr.raw_seq - fr.seq) & MASK  # samples behind the next expected one
        if not 0 < back < WRAP // 2:
            return False
        period = 1e6 / self.info.odr_hz  # type: ignore[union-attr]
        dt_back = (tr.raw_t - fr.t_us) & MASK
        dt_back = dt_back - WRAP if dt_back >= WRAP // 2 else dt_back
        expect = back * period
        return abs(dt_back - expect) <= max(50_000.0, 0.1 * expect, 3 * period)

    def _start_us(self, fr: SampleFrame) -> float:
        tr = self._track
        if tr is None:
            return 0.0
        period = 1e6 / self.info.odr_hz  # type: ignore[union-attr]
        dseq = (fr.seq - tr.raw_seq) & MASK
        dt_fwd = (fr.t_us - tr.raw_t) & MASK
        if dseq >= WRAP // 2:
            self.device_resets += 1  # sequence went backwards onto a new clock
            self._gaps.clear()
            return tr.next_us
        if self._resync:
            # restarted stream on the same device clock: a time jump, nothing lost
            dt = dt_fwd - WRAP if dt_fwd >= WRAP // 2 else dt_fwd
            if dt < -3 * period:
                self.device_resets += 1
                self._gaps.clear()
                return tr.next_us
            self._gaps.clear()  # a restarted stream: nothing before it will be backfilled
            return max(tr.next_us + dt, tr.last_us + 1.0)
        expect = dseq * period
        dt = dt_fwd + round((expect - dt_fwd) / WRAP) * WRAP  # unwrap near the expectation
        if abs(dt - expect) > max(50_000.0, 0.1 * expect, 3 * period):
            self.device_resets += 1  # sequence and clock disagree: the device restarted
            self._gaps.clear()
            return tr.next_us
        self.samples_lost += dseq
        if dseq and self.backfill:
            self._gaps.append([tr.raw_seq, dseq, tr.next_us, tr.raw_t])
            if len(self._gaps) > self.MAX_GAPS:
                del self._gaps[0]
        # small negative dt: the device corrected its timestamp estimate; keep order
        return max(tr.next_us + dt, tr.last_us + 1.0)

    def _merge_backfill(self, fr: SampleFrame) -> Samples | None:
        """Samples of a BACKFILL frame that fill recorded gaps, at their true times."""
        keep: list[int] = []
        t_us: list[float] = []
        for i in range(fr.n):
            q = (fr.seq + i) & MASK
            for gi, g in enumerate(self._gaps):
                off = (q - int(g[0])) & MASK
                if off < g[1]:
                    d = (fr.t_us + i * fr.dt_us - int(g[3])) & MASK
                    d = d - WRAP if d >= WRAP // 2 else d
                    keep.append(i)
                    t_us.append(g[2] + d)
                    # split the gap around q
                    left, right = off, int(g[1]) - off - 1
                    parts = []
                    if left:
                        parts.append([g[0], left, g[2], g[3]])
                    if right:
                        parts.append([(q + 1) & MASK, right, g[2], g[3]])
                    self._gaps[gi : gi + 1] = parts
                    break
        self.backfill_duplicates += fr.n - len(keep)
        if not keep:
            return None
        self.samples_lost -= len(keep)
        self.samples_backfilled += len(keep)
        self.samples_received += len(keep)
        return self._to_samples(fr.counts[keep], np.asarray(t_us))

    def _to_samples(self, counts: np.ndarray, t_us: np.ndarray) -> Samples:
        info = self.info
        assert info is not None
        c = counts.astype(np.float64)
        accel = c[:, 0:3] * info.accel_g_per_lsb
        gyro = c[:, 3:6] * info.gyro_dps_per_lsb if c.shape[1] == 6 else None
        if self._m is not None:
            accel = accel @ self._m.T
            if gyro is not None:
                gyro = gyro @ self._m.T
        return Samples(t_us * 1e-6, accel, gyro)

    def _convert(self, fr: SampleFrame) -> Samples | None:
        info = self.info
        assert info is not None
        if fr.channels != info.channels:
            self.frames_discarded += 1
            return None
        if fr.backfill:
            if not self.backfill:
                return None
            tr = self._track
            ahead = tr is None or ((fr.seq - tr.raw_seq) & MASK) < WRAP // 2
            if not ahead:
                return self._merge_backfill(fr)
            # newer than anything live so far: it simply continues the stream
        elif self._is_late(fr):
            self.late_frames += 1
            self._late_run += 1
            return None
        self._late_run = 0
        start = self._start_us(fr)
        self._resync = False
        n = fr.n
        t_us = start + np.arange(n, dtype=np.float64) * fr.dt_us
        self._track = _Track(
            raw_seq=(fr.seq + n) & MASK,
            raw_t=(fr.t_us + n * fr.dt_us) & MASK,
            next_us=start + n * fr.dt_us,
            last_us=float(t_us[-1]),
        )
        self.samples_received += n
        return self._to_samples(fr.counts, t_us)
