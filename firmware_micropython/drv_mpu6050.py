# InvenSense MPU-6050 / MPU-6500 / MPU-9250 family over I2C, sampled through the FIFO.
#
# The sensor's own sample-rate divider paces the samples (1 kHz / (1 + SMPLRT_DIV));
# the firmware drains the FIFO, so a slow link write does not lose or shift samples
# as long as the FIFO (1024 B on the 6050 = 85 samples, 512 B on the 6500 = 42) does
# not overflow. FIFO bytes are big-endian accel xyz then gyro xyz; read_into swaps
# them to the wire's little-endian order.
import time

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


SMPLRT_DIV = const(0x19)
CONFIG = const(0x1A)
GYRO_CONFIG = const(0x1B)
ACCEL_CONFIG = const(0x1C)
ACCEL_CONFIG2 = const(0x1D)  # 6500 family only
FIFO_EN = const(0x23)
INT_ENABLE = const(0x38)
USER_CTRL = const(0x6A)
PWR_MGMT_1 = const(0x6B)
FIFO_COUNTH = const(0x72)
FIFO_R_W = const(0x74)
WHO_AM_I = const(0x75)

SAMPLE_BYTES = const(12)

# who_am_i -> (sensor_id, name, fifo bytes)
MODELS = {
    0x68: (1, "MPU-6050", 1024),
    0x70: (2, "MPU-6500", 512),
    0x71: (3, "MPU-9250", 512),
    0x73: (4, "MPU-9255", 512),
}
ACCEL_FS = {2: (0, 16384), 4: (1, 8192), 8: (2, 4096), 16: (3, 2048)}  # g: (code, LSB/g)
GYRO_FS = {
    250: (0, 131.0),
    500: (1, 65.5),
    1000: (2, 32.8),
    2000: (3, 16.4),
}  # dps: (code, LSB/dps)


class MPU6xxx:
    channels = 6
    fifo = True  # samples are queued in the sensor, not overwritten

    def __init__(self, bus, addr, who, odr_hz=100, accel_fs_g=4, gyro_fs_dps=500):
        self.bus = bus
        self.addr = addr
        self.who_am_i = who
        self.sensor_id, self.name, self.fifo_bytes = MODELS[who]
        self.overflows = 0
        self.overflow = False  # set on overflow, cleared by the streamer
        self._one = bytearray(1)
        self._two = bytearray(2)
        self._raw = bytearray(SAMPLE_BYTES)
        self.configure(odr_hz, accel_fs_g, gyro_fs_dps)

    def _w(self, reg, val):
        self._one[0] = val
        self.bus.writeto_mem(self.addr, reg, self._one)

    def configure(self, odr_hz=100, accel_fs_g=4, gyro_fs_dps=500):
        if accel_fs_g not in ACCEL_FS or gyro_fs_dps not in GYRO_FS:
            raise ValueError("unsupported range %r g / %r dps" % (accel_fs_g, gyro_fs_dps))
        div = int(1000 / odr_hz + 0.5) - 1
        div = 0 if div < 0 else (255 if div > 255 else div)
        self._w(PWR_MGMT_1, 0x80)  # device reset
        time.sleep_ms(100)
        self._w(PWR_MGMT_1, 0x01)  # wake, clock from gyro X PLL
        time.sleep_ms(10)
        # digital low-pass: keep the 1 kHz internal rate, cut-off below Nyquist
        rate = 1000 // (1 + div)
        dlpf = 3 if rate <= 100 else (2 if rate <= 200 else 1)  # ~44 / 94 / 184 Hz
        self._w(CONFIG, dlpf)
        self._w(SMPLRT_DIV, div)
        acode, lsb_g = ACCEL_FS[accel_fs_g]
        gcode, lsb_dps = GYRO_FS[gyro_fs_dps]
        self._w(GYRO_CONFIG, gcode << 3)
        self._w(ACCEL_CONFIG, acode << 3)
        if self.sensor_id != 1:
            self._w(ACCEL_CONFIG2, dlpf)
        self._w(INT_ENABLE, 0x10)  # FIFO overflow flag
        self._w(FIFO_EN, 0x78)  # gyro x, y, z and accel into the FIFO
        self._w(USER_CTRL, 0x04)  # FIFO reset
        self._w(USER_CTRL, 0x40)  # FIFO enable
        self.odr_mhz = 1000000 // (1 + div)
        self.period_us = 1000 * (1 + div)
        self.accel_fs_g = accel_fs_g
        self.gyro_fs_dps = gyro_fs_dps
        self.accel_g_per_lsb = 1.0 / lsb_g
        self.gyro_dps_per_lsb = 1.0 / lsb_dps

    def flush(self):
        self._w(USER_CTRL, 0x44)  # FIFO reset, keep enabled

    def available(self):
        t = self._two
        self.bus.readfrom_mem_into(self.addr, FIFO_COUNTH, t)
        count = (t[0] << 8) | t[1]
        if count >= self.fifo_bytes:
            # overflowed: the oldest bytes were overwritten and sample alignment is lost.
            # Reset; the streamer sees the time gap and counts the lost samples.
            self.overflows += 1
            self.overflow = True
            self.flush()
            return 0
        return count // SAMPLE_BYTES

    def read_into(self, buf, off):
        r = self._raw
        self.bus.readfrom_mem_into(self.addr, FIFO_R_W, r)
        for i in range(0, SAMPLE_BYTES, 2):
            buf[off + i] = r[i + 1]
            buf[off + i + 1] = r[i]
