# ST LSM6DS3 / LSM6DS3TR-C / LSM6DSL / LSM6DSO(X) over I2C, paced by the data-ready flags.
#
# The sensor's ODR (26/52/104/208/416 Hz) paces the samples; the loop polls STATUS_REG
# and reads gyro+accel in one 12-byte burst when both are ready. If the loop is blocked
# for longer than one sample period a sample is overwritten; the streamer notices the
# time gap and counts it as lost (sensor_lost in the status frame). (FIFO mode for this
# family is future work, see README.)
import time

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


CTRL1_XL = const(0x10)
CTRL2_G = const(0x11)
CTRL3_C = const(0x12)
STATUS_REG = const(0x1E)
OUTX_L_G = const(0x22)  # gyro xyz then accel xyz, little-endian

# who_am_i -> (sensor_id, name)
MODELS = {
    0x69: (10, "LSM6DS3"),
    0x6A: (11, "LSM6DS3TR-C/DSL"),
    0x6C: (12, "LSM6DSO/DSOX"),
}
ODRS = ((26, 2), (52, 3), (104, 4), (208, 5), (416, 6))  # Hz, ODR code
ACCEL_FS = {2: (0, 0.061), 4: (2, 0.122), 8: (3, 0.244), 16: (1, 0.488)}  # g: (code, mg/LSB)
GYRO_FS = {250: (0, 8.75), 500: (1, 17.5), 1000: (2, 35.0), 2000: (3, 70.0)}  # (code, mdps/LSB)


class LSM6DSx:
    channels = 6
    fifo = False  # samples are queued in the sensor, not overwritten

    def __init__(self, bus, addr, who, odr_hz=100, accel_fs_g=4, gyro_fs_dps=500):
        self.bus = bus
        self.addr = addr
        self.who_am_i = who
        self.sensor_id, self.name = MODELS[who]
        self.overflows = 0
        self.overflow = False  # set on overflow, cleared by the streamer
        self._one = bytearray(1)
        self._raw = bytearray(12)
        self.configure(odr_hz, accel_fs_g, gyro_fs_dps)

    def _w(self, reg, val):
        self._one[0] = val
        self.bus.writeto_mem(self.addr, reg, self._one)

    def configure(self, odr_hz=100, accel_fs_g=4, gyro_fs_dps=500):
        if accel_fs_g not in ACCEL_FS or gyro_fs_dps not in GYRO_FS:
            raise ValueError("unsupported range %r g / %r dps" % (accel_fs_g, gyro_fs_dps))
        best = ODRS[0]
        for o in ODRS:
            if abs(o[0] - odr_hz) < abs(best[0] - odr_hz):
                best = o
        hz, code = best
        self._w(CTRL3_C, 0x01)  # software reset
        time.sleep_ms(20)
        self._w(CTRL3_C, 0x44)  # block data update, register auto-increment
        acode, mg = ACCEL_FS[accel_fs_g]
        gcode, mdps = GYRO_FS[gyro_fs_dps]
        self._w(CTRL1_XL, (code << 4) | (acode << 2))
        self._w(CTRL2_G, (code << 4) | (gcode << 2))
        self.odr_mhz = hz * 1000
        self.period_us = 1000000 // hz
        self.accel_fs_g = accel_fs_g
        self.gyro_fs_dps = gyro_fs_dps
        self.accel_g_per_lsb = mg / 1000.0
        self.gyro_dps_per_lsb = mdps / 1000.0

    def flush(self):
        self.bus.readfrom_mem_into(self.addr, OUTX_L_G, self._raw)

    def available(self):
        one = self._one
        self.bus.readfrom_mem_into(self.addr, STATUS_REG, one)
        return 1 if (one[0] & 3) == 3 else 0

    def read_into(self, buf, off):
        r = self._raw
        self.bus.readfrom_mem_into(self.addr, OUTX_L_G, r)
        for i in range(6):
            buf[off + i] = r[6 + i]  # accel
            buf[off + 6 + i] = r[i]  # gyro
