# ST LSM6DS3 / LSM6DS3TR-C / LSM6DSL / LSM6DSO(X) over I2C, read through the FIFO.
#
# The sensor's own ODR (26/52/104/208/416 Hz) paces the samples; both sensors are
# batched into the FIFO at that rate, so a slow link write loses nothing while the
# FIFO has room (LSM6DS3 8 KB = 682 samples, LSM6DSL / DS3TR-C 4 KB = 341, LSM6DSO
# ~1000 tagged words = 500 samples). On overrun the FIFO is cleared and the streamer
# counts the lost samples from the time gap.
#   DS3 / DSL / DS3TR-C: untagged pattern Gx Gy Gz Ax Ay Az (16-bit LE words), read
#     12 bytes at a time from FIFO_DATA_OUT_L (the address rolls back).
#   DSO / DSOX: tagged 7-byte words (tag, X, Y, Z LE) read from FIFO_DATA_OUT_TAG; a
#     gyro and an accel word with the same TAG_CNT make one sample.
# fifo=False uses the data-ready flags instead (one sample per STATUS_REG poll; a
# stall longer than one period overwrites samples, counted as lost from the time gap).
import time

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


FIFO_CTRL3_DS3 = const(0x08)  # decimation (DS3/DSL)
FIFO_CTRL3_DSO = const(0x09)  # batch data rates (DSO)
FIFO_CTRL5_DS3 = const(0x0A)  # ODR_FIFO + FIFO_MODE (DS3/DSL)
FIFO_CTRL4_DSO = const(0x0A)  # FIFO_MODE (DSO)
CTRL1_XL = const(0x10)
CTRL2_G = const(0x11)
CTRL3_C = const(0x12)
STATUS_REG = const(0x1E)
OUTX_L_G = const(0x22)  # gyro xyz then accel xyz, little-endian
FIFO_STATUS1 = const(0x3A)
FIFO_DATA_OUT_L = const(0x3E)  # DS3/DSL
FIFO_DATA_OUT_TAG = const(0x78)  # DSO
MODE_CONTINUOUS = const(6)

# who_am_i -> (sensor_id, name, tagged FIFO, DIFF_FIFO high-byte mask)
MODELS = {
    0x69: (10, "LSM6DS3", False, 0x0F),
    0x6A: (11, "LSM6DS3TR-C/DSL", False, 0x07),
    0x6C: (12, "LSM6DSO/DSOX", True, 0x03),
}
ODRS = ((26, 2), (52, 3), (104, 4), (208, 5), (416, 6))  # Hz, ODR code
ACCEL_FS = {2: (0, 0.061), 4: (2, 0.122), 8: (3, 0.244), 16: (1, 0.488)}  # g: (code, mg/LSB)
GYRO_FS = {250: (0, 8.75), 500: (1, 17.5), 1000: (2, 35.0), 2000: (3, 70.0)}  # (code, mdps/LSB)
TAG_GYRO = const(0x01)
TAG_ACCEL = const(0x02)


class LSM6DSx:
    channels = 6

    def __init__(self, bus, addr, who, odr_hz=100, accel_fs_g=4, gyro_fs_dps=500, fifo=True):
        self.bus = bus
        self.addr = addr
        self.who_am_i = who
        self.sensor_id, self.name, self.tagged, self._hi_mask = MODELS[who]
        self.fifo = fifo  # samples queue in the sensor (True) or data-ready polling
        self.overflows = 0
        self.overflow = False  # set on overflow, cleared by the streamer
        self._one = bytearray(1)
        self._two = bytearray(2)
        self._raw = bytearray(12)
        self._word = bytearray(7)
        self._words = 0  # tagged words known to be in the FIFO
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
        self._code = code
        if self.fifo:
            if self.tagged:
                self._w(FIFO_CTRL3_DSO, (code << 4) | code)  # batch gyro + accel at ODR
            else:
                self._w(FIFO_CTRL3_DS3, 0x09)  # gyro and accel in the FIFO, no decimation
            self._fifo_mode(MODE_CONTINUOUS)
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

    def _fifo_mode(self, mode):
        if self.tagged:
            self._w(FIFO_CTRL4_DSO, mode)
        else:
            self._w(FIFO_CTRL5_DS3, (self._code << 3) | mode)

    def flush(self):
        if self.fifo:
            self._fifo_mode(0)  # bypass empties the FIFO
            self._fifo_mode(MODE_CONTINUOUS)
            self._words = 0
        else:
            self.bus.readfrom_mem_into(self.addr, OUTX_L_G, self._raw)

    def available(self):
        if not self.fifo:
            one = self._one
            self.bus.readfrom_mem_into(self.addr, STATUS_REG, one)
            return 1 if (one[0] & 3) == 3 else 0
        t = self._two
        self.bus.readfrom_mem_into(self.addr, FIFO_STATUS1, t)
        if t[1] & 0x40:  # overrun: the oldest data were overwritten
            self.overflows += 1
            self.overflow = True
            self.flush()
            return 0
        words = t[0] | ((t[1] & self._hi_mask) << 8)
        if self.tagged:
            self._words = words
            return words >> 1
        return words // 6

    def read_into(self, buf, off):
        if not self.fifo:
            r = self._raw
            self.bus.readfrom_mem_into(self.addr, OUTX_L_G, r)
        elif not self.tagged:
            r = self._raw
            self.bus.readfrom_mem_into(self.addr, FIFO_DATA_OUT_L, r)
        else:
            self._read_tagged()
            r = self._raw
        for i in range(6):
            buf[off + i] = r[6 + i]  # accel
            buf[off + 6 + i] = r[i]  # gyro

    def _read_tagged(self):
        # collect one gyro and one accel word of the same time slot into _raw (gyro first)
        w = self._word
        r = self._raw
        got = 0
        cnt = -1
        while got != 3 and self._words > 0:
            self.bus.readfrom_mem_into(self.addr, FIFO_DATA_OUT_TAG, w)
            self._words -= 1
            tag = w[0] >> 3
            c = (w[0] >> 1) & 3
            if tag == TAG_GYRO:
                base = 0
                bit = 1
            elif tag == TAG_ACCEL:
                base = 6
                bit = 2
            else:
                continue  # not ours (timestamp, temperature, ...)
            if c != cnt:
                got = 0  # a new time slot: an unpaired word before it is dropped
                cnt = c
            for i in range(6):
                r[base + i] = w[1 + i]
            got |= bit
