# Wire protocol v1, device side (see docs/PROTOCOL.md). Twin: imu_host/protocol.py.
#
# Frame: A5 5A | type u8 | len u8 | payload[len] | crc16 u16 LE
# crc16 = CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over type, len and payload.
# All multi-byte fields little-endian. Counters and the microsecond clock wrap at 2**30.
#
# Everything used per sample is allocation-free: buffers are preallocated and
# filled with struct.pack_into / item assignment.
import struct
from array import array

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):  # type: ignore[misc]
        return x


_PROTO_VERSION = const(1)
_SYNC0 = const(0xA5)
_SYNC1 = const(0x5A)
_OVERHEAD = const(6)  # sync(2) + type + len + crc(2)
MASK30 = const(0x3FFFFFFF)  # counters and clock wrap at 2**30 (a small int on every port)

T_SAMPLES = const(0x01)
T_INFO = const(0x02)
T_STATUS = const(0x03)
T_ACK = const(0x04)
T_DEVICE = const(0x05)  # identity + health (unique id, self-test, counters); see PROTOCOL.md
T_BACKFILL = const(0x06)  # SAMPLES layout: samples kept while no host was connected
T_COMMAND = const(0x10)

# host -> device command codes
CMD_START = const(1)
CMD_STOP = const(2)
CMD_SET_RATE = const(3)
CMD_IDENTIFY = const(4)
CMD_GET_INFO = const(5)
CMD_PING = const(6)

# ack status codes
ACK_OK = const(0)
ACK_BAD_ARG = const(1)
ACK_UNKNOWN = const(2)

_SAMPLES_HDR = const(12)  # seq u32, t_us u32, dt_us u16, n u8, channels u8
SAMPLES_FMT = "<IIHBB"
INFO_FMT = "<BBBBBBBBIBBHffbbbBBBII"  # then name_len u8, name bytes
INFO_FIXED = const(38)
STATUS_FMT = "<IIIIHHBB"
STATUS_LEN = const(22)
ACK_FMT = "<BBHII"
ACK_LEN = const(12)
COMMAND_FMT = "<BBHI"
COMMAND_LEN = const(8)
_MAX_NAME = const(16)

# info flags
INFO_STREAM_START = const(1)  # first info of a (re)started stream: seq/clock may jump
INFO_SELFTEST_RAN = const(2)
INFO_SELFTEST_OK = const(4)
# DEVICE frame: self-test bits
ST_RAN = const(1)
ST_REGS_OK = const(2)
ST_GRAVITY_OK = const(4)
ST_FIFO_OK = const(8)
ST_PASSED = const(0x80)
DEVICE_FMT = "<BB8sBHHHHIIH"  # then board name length u8 + name
_DEVICE_FIXED = const(29)
_MAX_BOARD = const(16)
# status state bits
ST_STREAMING = const(1)
ST_CONNECTED = const(2)
ST_IDENTIFY = const(4)


def _make_table():
    t = array("H", bytearray(512))
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
        t[i] = c & 0xFFFF
    return t


_CRC_TABLE = _make_table()


def crc16_pure(buf, start, end):
    """CRC-16/CCITT-FALSE of buf[start:end]; allocation-free (any Python)."""
    tab = _CRC_TABLE
    c = 0xFFFF
    for i in range(start, end):
        c = ((c << 8) & 0xFF00) ^ tab[((c >> 8) ^ buf[i]) & 0xFF]
    return c


crc16 = crc16_pure
CRC_IMPL = "pure"
try:
    import micropython

    @micropython.viper
    def _crc16_viper(buf, start: int, end: int) -> int:
        b = ptr8(buf)  # noqa: F821 (viper built-ins)
        t = ptr16(_CRC_TABLE)  # noqa: F821
        c = 0xFFFF
        i = start
        while i < end:
            c = ((c << 8) & 0xFF00) ^ t[((c >> 8) ^ b[i]) & 0xFF]
            i += 1
        return c

    crc16 = _crc16_viper  # same result, ~20-40x faster than crc16_pure
    CRC_IMPL = "viper"
except (ImportError, AttributeError, SyntaxError):  # CPython, or a port without viper
    pass


def frame_size(payload_len):
    return payload_len + _OVERHEAD


def samples_frame_size(n, channels):
    return _SAMPLES_HDR + 2 * n * channels + _OVERHEAD


def begin(buf, ftype, plen):
    """Write the 4-byte header of a frame into buf[0:4]."""
    buf[0] = _SYNC0
    buf[1] = _SYNC1
    buf[2] = ftype
    buf[3] = plen


def seal(buf, plen):
    """Append the CRC of a frame whose header and payload are in buf; returns frame length."""
    end = 4 + plen
    c = crc16(buf, 2, end)
    buf[end] = c & 0xFF
    buf[end + 1] = c >> 8
    return end + 2


class SampleFrameBuf:
    """Preallocated SAMPLES frame for up to max_n samples of `channels` int16 counts.

    The driver writes counts straight into .buf at sample_offset(i); finish(n, ...)
    writes header + CRC and returns a memoryview of exactly the frame (prebuilt views).
    """

    def __init__(self, max_n, channels, ftype=T_SAMPLES):
        self.ftype = ftype
        self.max_n = max_n
        self.channels = channels
        self.stride = 2 * channels
        self.buf = bytearray(samples_frame_size(max_n, channels))
        mv = memoryview(self.buf)
        self.views = [mv[: samples_frame_size(n, channels)] for n in range(max_n + 1)]

    def sample_offset(self, i):
        return 4 + _SAMPLES_HDR + i * self.stride

    def finish(self, n, seq, t_us, dt_us):
        plen = _SAMPLES_HDR + n * self.stride
        b = self.buf
        begin(b, self.ftype, plen)
        struct.pack_into(SAMPLES_FMT, b, 4, seq, t_us, dt_us, n, self.channels)
        seal(b, plen)
        return self.views[n]


class InfoFrameBuf:
    def __init__(self):
        self.buf = bytearray(frame_size(INFO_FIXED + 1 + _MAX_NAME))
        self.view = None

    def build(
        self,
        fw_version,
        sensor_id,
        who_am_i,
        channels,
        spf,
        odr_mhz,
        accel_fs_g,
        gyro_fs_dps,
        accel_g_per_lsb,
        gyro_dps_per_lsb,
        axis_map,
        transport_id,
        flags,
        name,
    ):
        # allocation allowed here: called on configuration changes only
        name = name[:_MAX_NAME]
        plen = INFO_FIXED + 1 + len(name)
        b = self.buf
        begin(b, T_INFO, plen)
        struct.pack_into(
            INFO_FMT,
            b,
            4,
            _PROTO_VERSION,
            fw_version[0],
            fw_version[1],
            fw_version[2],
            sensor_id,
            who_am_i,
            channels,
            spf,
            odr_mhz,
            accel_fs_g,
            0,
            gyro_fs_dps,
            accel_g_per_lsb,
            gyro_dps_per_lsb,
            axis_map[0],
            axis_map[1],
            axis_map[2],
            30,
            transport_id,
            flags,
            0,
            0,
        )
        b[4 + INFO_FIXED] = len(name)
        for i in range(len(name)):
            b[4 + INFO_FIXED + 1 + i] = ord(name[i])
        seal(b, plen)
        self.plen = plen
        self.view = memoryview(b)[: plen + _OVERHEAD]
        return self.view

    def update(self, flags, seq_next, t_us):
        """Refresh flags, seq_next and t_us of an already built info frame (no allocation)."""
        b = self.buf
        b[4 + 29] = flags
        struct.pack_into("<II", b, 4 + 30, seq_next, t_us)
        seal(b, self.plen)
        return self.view


class StatusFrameBuf:
    def __init__(self):
        self.buf = bytearray(frame_size(STATUS_LEN))
        self.view = memoryview(self.buf)

    def build(self, seq_next, t_us, dropped, sensor_lost, overflows, battery_mv, state, bus_err=0):
        b = self.buf
        begin(b, T_STATUS, STATUS_LEN)
        struct.pack_into(
            STATUS_FMT,
            b,
            4,
            seq_next,
            t_us,
            dropped,
            sensor_lost,
            overflows & 0xFFFF,
            battery_mv,
            state,
            bus_err if bus_err < 255 else 255,  # I2C errors so far (saturating)
        )
        seal(b, STATUS_LEN)
        return self.view


class DeviceFrameBuf:
    """T_DEVICE: unique id, self-test result, battery and health counters."""

    def __init__(self, uid=b"", board=""):
        self.buf = bytearray(frame_size(_DEVICE_FIXED + 1 + _MAX_BOARD))
        uid = bytes(uid)[:8]
        self.uid = uid + bytes(8 - len(uid))
        self.uid_len = len(uid)
        board = board[:_MAX_BOARD]
        self.plen = _DEVICE_FIXED + 1 + len(board)
        b = self.buf
        b[4 + _DEVICE_FIXED] = len(board)
        for i in range(len(board)):
            b[4 + _DEVICE_FIXED + 1 + i] = ord(board[i])
        self.view = memoryview(b)[: self.plen + _OVERHEAD]

    def build(
        self, selftest, g_mg, battery_mv, bus_errors, reinits, link_drops, backfilled, ring_samples
    ):
        b = self.buf
        begin(b, T_DEVICE, self.plen)
        struct.pack_into(
            DEVICE_FMT,
            b,
            4,
            1,
            self.uid_len,
            self.uid,
            selftest,
            g_mg & 0xFFFF,
            battery_mv & 0xFFFF,
            bus_errors if bus_errors < 0xFFFF else 0xFFFF,
            reinits if reinits < 0xFFFF else 0xFFFF,
            link_drops,
            backfilled,
            ring_samples if ring_samples < 0xFFFF else 0xFFFF,
        )
        seal(b, self.plen)
        return self.view


class AckFrameBuf:
    def __init__(self):
        self.buf = bytearray(frame_size(ACK_LEN))
        self.view = memoryview(self.buf)

    def build(self, cmd, status, token, value, t_us):
        b = self.buf
        begin(b, T_ACK, ACK_LEN)
        struct.pack_into(ACK_FMT, b, 4, cmd, status, token, value, t_us)
        seal(b, ACK_LEN)
        return self.view


class CommandDecoder:
    """Byte-at-a-time decoder for host->device COMMAND frames; allocation-free.

    feed_byte(b) returns True when a complete, CRC-valid command is ready; the
    command is then in .cmd, .token, .arg. Anything else is skipped (counted in
    .bad). A 0x03 byte (Ctrl-C) while hunting for a frame sets .interrupt, so a
    terminal or mpremote can still stop a board streaming on its REPL port.
    """

    def __init__(self):
        self.buf = bytearray(4 + COMMAND_LEN + 2)
        self.pos = 0
        self.cmd = 0
        self.token = 0
        self.arg = 0
        self.ok = 0
        self.bad = 0
        self.interrupt = False

    def feed_byte(self, x):
        pos = self.pos
        b = self.buf
        if pos == 0:
            if x == _SYNC0:
                b[0] = x
                self.pos = 1
            elif x == 3:
                self.interrupt = True
            return False
        if pos == 1:
            if x == _SYNC1:
                b[1] = x
                self.pos = 2
            elif x == _SYNC0:
                self.pos = 1
            else:
                self.pos = 0
                self.bad += 1
            return False
        if pos == 2 and x != T_COMMAND:
            self.pos = 1 if x == _SYNC0 else 0
            self.bad += 1
            return False
        if pos == 3 and x != COMMAND_LEN:
            self.pos = 1 if x == _SYNC0 else 0
            self.bad += 1
            return False
        b[pos] = x
        pos += 1
        if pos < len(b):
            self.pos = pos
            return False
        self.pos = 0
        end = 4 + COMMAND_LEN
        c = crc16(b, 2, end)
        if b[end] != (c & 0xFF) or b[end + 1] != (c >> 8):
            self.bad += 1
            return False
        self.cmd = b[4]
        self.token = b[6] | (b[7] << 8)
        # arg is u32 but only values < 2**30 are meaningful (rates, seconds, tokens)
        self.arg = b[8] | (b[9] << 8) | (b[10] << 16) | ((b[11] & 0x3F) << 24)
        self.ok += 1
        return True
