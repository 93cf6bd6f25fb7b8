# InvenSense MPU-6050 / MPU-6500 / MPU-9250 family over I2C, sampled through the FIFO.
#
# The sensor's own sample-rate divider paces the samples (1 kHz / (1 + SMPLRT_DIV));
# the firmware drains the FIFO, so a slow link write does not lose or shift samples
# as long as the FIFO (1024 B on the 6050 = 85 samples, 512 B on the 6500 = 42) does
# not overflow. FIFO bytes are big-endian accel xyz then gyro xyz; read_into swaps
# them to the wire's little-endian order.
#
# Overflow: a full FIFO overwrites its oldest *byte*, so every later sample would come
# out rotated ([gy gz ax ay az gx], CRC-valid). Like Linux inv_mpu6050 (inv_mpu_ring.c:
# "Reset if there is only 3 data set free remaining") the FIFO is reset before it fills,
# and after each drain the latched INT_STATUS.FIFO_OFLOW_INT is read: if it overflowed
# during the drain, the batch is discarded (drain_ok() is False), never emitted.
# FIFO_RESET is only honoured while USER_CTRL.FIFO_EN = 0 (register map RM-MPU-6000A
# 4.2), so the reset sequence is: FIFO off, reset, FIFO on.
import time

try:
    from micropython import const
except ImportError:

    def const(x):  # type: ignore[misc]  # CPython: no micropython module
        return x


_SMPLRT_DIV = const(0x19)
_CONFIG = const(0x1A)
_GYRO_CONFIG = const(0x1B)
_ACCEL_CONFIG = const(0x1C)
_ACCEL_CONFIG2 = const(0x1D)  # 6500 family only
_FIFO_EN = const(0x23)
_INT_ENABLE = const(0x38)
_INT_STATUS = const(0x3A)
_USER_CTRL = const(0x6A)
_PWR_MGMT_1 = const(0x6B)
_FIFO_COUNTH = const(0x72)
_FIFO_R_W = const(0x74)
_WHO_AM_I = const(0x75)

_FIFO_OFLOW = const(0x10)
_UC_FIFO_EN = const(0x40)
_UC_FIFO_RESET = const(0x04)
_SAMPLE_BYTES = const(12)
_MARGIN = const(36)  # reset with 3 samples of room left (Linux inv_mpu6050 does the same)
_SETTLE_US = const(30000)  # PS-MPU-6000A 6.1: gyro start-up time 30 ms
_RESET_POLLS = const(50)

# who_am_i -> (sensor_id, name, fifo bytes)
MODELS = {
    0x68: (1, "MPU-6050", 1024),
    0x70: (2, "MPU-6500", 512),
    0x71: (3, "MPU-9250", 512),
    0x73: (4, "MPU-9255", 512),
}
# parts that answer another WHO_AM_I but have the MPU-6050 register map for everything
# used here (GY-521 boards with clone dies answer 0x98). FIFO size unknown: assume the
# smaller 512 B so the early reset always happens in time.
COMPATIBLE = {
    0x98: (1, "MPU-6050~0x98", 512),
}
ACCEL_FS = {2: (0, 16384), 4: (1, 8192), 8: (2, 4096), 16: (3, 2048)}  # g: (code, LSB/g)
GYRO_FS = {
    250: (0, 131.0),
    500: (1, 65.5),
    1000: (2, 32.8),
    2000: (3, 16.4),
}  # dps: (code, LSB/dps)
MAX_ODR_HZ = 1000


def model(who):
    m = MODELS.get(who)
    return m if m is not None else COMPATIBLE.get(who)


class MPU6xxx:
    channels = 6
    fifo = True  # samples are queued in the sensor, not overwritten
    max_odr_hz = MAX_ODR_HZ
    sample_bytes = _SAMPLE_BYTES  # bytes read over I2C per sample

    def __init__(self, bus, addr, who, odr_hz=100, accel_fs_g=4, gyro_fs_dps=500):
        self.bus = bus
        self.addr = addr
        self.who_am_i = who
        self.sensor_id, self.name, self.fifo_bytes = model(who)
        self.overflows = 0
        self.overflow = False  # set on overflow, cleared by the streamer
        self.settle_skipped = 0  # gyro samples dropped after wake (out of spec)
        self.fifo_resets = 0
        self._skip = 0
        self._one = bytearray(1)
        self._two = bytearray(2)
        self._raw = bytearray(_SAMPLE_BYTES)
        self.configure(odr_hz, accel_fs_g, gyro_fs_dps)

    def _w(self, reg, val):
        self._one[0] = val
        self.bus.writeto_mem(self.addr, reg, self._one)

    def _r(self, reg):
        self.bus.readfrom_mem_into(self.addr, reg, self._one)
        return self._one[0]

    def configure(self, odr_hz=100, accel_fs_g=4, gyro_fs_dps=500):
        if accel_fs_g not in ACCEL_FS or gyro_fs_dps not in GYRO_FS:
            raise ValueError("unsupported range %r g / %r dps" % (accel_fs_g, gyro_fs_dps))
        self._req = (odr_hz, accel_fs_g, gyro_fs_dps)
        div = int(1000 / odr_hz + 0.5) - 1
        div = 0 if div < 0 else (255 if div > 255 else div)
        self._w(_PWR_MGMT_1, 0x80)  # device reset
        time.sleep_ms(100)
        for _ in range(_RESET_POLLS):  # DEVICE_RESET clears itself when done (bounded)
            if not self._r(_PWR_MGMT_1) & 0x80:
                break
            time.sleep_ms(2)
        else:
            raise OSError(110, "%s at 0x%02x: reset did not complete" % (self.name, self.addr))
        self._w(_PWR_MGMT_1, 0x01)  # wake, clock from gyro X PLL
        time.sleep_ms(_SETTLE_US // 1000)  # gyro start-up time
        # digital low-pass: keep the 1 kHz internal rate, cut-off below Nyquist
        rate = 1000 // (1 + div)
        dlpf = 3 if rate <= 100 else (2 if rate <= 200 else 1)  # ~44 / 94 / 184 Hz
        self._w(_CONFIG, dlpf)
        self._w(_SMPLRT_DIV, div)
        acode, lsb_g = ACCEL_FS[accel_fs_g]
        gcode, lsb_dps = GYRO_FS[gyro_fs_dps]
        self._w(_GYRO_CONFIG, gcode << 3)
        self._w(_ACCEL_CONFIG, acode << 3)
        if self.sensor_id != 1:
            self._w(_ACCEL_CONFIG2, dlpf)
        self._w(_INT_ENABLE, _FIFO_OFLOW)  # latch FIFO overflow in INT_STATUS
        self._w(_FIFO_EN, 0x78)  # gyro x, y, z and accel into the FIFO
        self.odr_mhz = 1000000 // (1 + div)
        self.period_us = 1000 * (1 + div)
        self.accel_fs_g = accel_fs_g
        self.gyro_fs_dps = gyro_fs_dps
        self.accel_g_per_lsb = 1.0 / lsb_g
        self.gyro_dps_per_lsb = 1.0 / lsb_dps
        self._fifo_reset()
        # samples taken while the gyro still settles are out of spec: skip them (the
        # sleep above covers it on a board; this also holds if sleeping was shorter)
        self._skip = 1 + (_SETTLE_US + self.period_us - 1) // self.period_us

    def _fifo_reset(self):
        self._w(_USER_CTRL, 0)  # FIFO_EN = 0 first: FIFO_RESET is ignored while it is set
        self._w(_USER_CTRL, _UC_FIFO_RESET)
        self._w(_USER_CTRL, _UC_FIFO_EN)
        self._r(_INT_STATUS)  # clear a latched overflow
        self.fifo_resets += 1

    def flush(self):
        self._fifo_reset()

    def sleep(self):
        self._w(_PWR_MGMT_1, 0x41)  # SLEEP, keep the PLL clock selection

    def recover(self):
        """Re-initialise after bus errors (the part may have been power-cycled)."""
        self.configure(*self._req)

    def _overflowed(self):
        self.overflows += 1
        self.overflow = True
        self._fifo_reset()

    def available(self):
        t = self._two
        self.bus.readfrom_mem_into(self.addr, _FIFO_COUNTH, t)
        count = (t[0] << 8) | t[1]
        if count >= self.fifo_bytes - _MARGIN:
            # (nearly) full: bytes may be overwritten before the drain ends, which would
            # misalign every later sample. Reset; the streamer counts the gap from time.
            self._overflowed()
            return 0
        n = count // _SAMPLE_BYTES
        if self._skip and n:
            d = n if n < self._skip else self._skip
            for _ in range(d):
                self.bus.readfrom_mem_into(self.addr, _FIFO_R_W, self._raw)
            self._skip -= d
            self.settle_skipped += d
            n -= d
        return n

    def drain_ok(self):
        """After a drain: False if the FIFO overflowed meanwhile (discard the batch)."""
        if self._r(_INT_STATUS) & _FIFO_OFLOW:
            self._overflowed()
            return False
        return True

    def read_into(self, buf, off):
        r = self._raw
        self.bus.readfrom_mem_into(self.addr, _FIFO_R_W, r)
        for i in range(0, _SAMPLE_BYTES, 2):
            buf[off + i] = r[i + 1]
            buf[off + i + 1] = r[i]
        return True

    def selftest_regs(self):
        """Register read-back: WHO_AM_I again and the configuration we wrote."""
        div = self.period_us // 1000 - 1
        return (
            self._r(_WHO_AM_I) == self.who_am_i
            and self._r(_SMPLRT_DIV) == div
            and self._r(_FIFO_EN) == 0x78
            and (self._r(_USER_CTRL) & _UC_FIFO_EN) != 0
        )

    def selftest_fifo(self):
        return True  # the MPU FIFO has no pattern/tag information to check
