# ST LSM6DS3 / LSM6DS3TR-C / LSM6DSL / LSM6DSO(X) over I2C, read through the FIFO.
#
# The sensor's own ODR (26/52/104/208/416 Hz) paces the samples; both sensors are
# batched into the FIFO at that rate, so a slow link write loses nothing while the
# FIFO has room (LSM6DS3 8 KB = 682 samples, LSM6DSL / DS3TR-C 4 KB = 341, LSM6DSO
# 3 KB = 512 tagged words = 256 samples). Register maps: ST lsm6ds3_reg.h,
# lsm6dsl_reg.h, lsm6dso_reg.h; FIFO handling as in Linux st_lsm6dsx_buffer.c.
#   DS3 / DSL / DS3TR-C: untagged pattern Gx Gy Gz Ax Ay Az (16-bit LE words), read
#     12 bytes at a time from FIFO_DATA_OUT_L (the address rolls back). FIFO_PATTERN
#     (FIFO_STATUS3/4) must be 0 (next word = Gx) at a sample boundary, else the FIFO
#     is misaligned (overrun) and is reset.
#   DSO / DSOX: tagged 7-byte words (tag, X, Y, Z LE) read from FIFO_DATA_OUT_TAG. A
#     word whose tag fails its parity bit is dropped; bootstrap words (X >= 0x7FFD,
#     "invalid sample during bootstrap" in st_lsm6dsx) are dropped; a gyro and an accel
#     word with the same TAG_CNT make one sample, an unpaired word is dropped (the
#     accelerometer starts before the gyroscope). Overrun: FIFO_OVR_LATCHED (cleared
#     when FIFO_STATUS2 is read), checked before and after every drain.
# fifo=False uses the data-ready flags instead (one sample per STATUS_REG poll; a
# stall longer than one period overwrites samples, counted as lost from the time gap).
import time

try:
    from micropython import const
except ImportError:

    def const(x):  # type: ignore[misc]  # CPython: no micropython module
        return x


_FIFO_CTRL3_DS3 = const(0x08)  # decimation (DS3/DSL)
_FIFO_CTRL3_DSO = const(0x09)  # batch data rates (DSO)
_FIFO_CTRL5_DS3 = const(0x0A)  # ODR_FIFO + FIFO_MODE (DS3/DSL)
_FIFO_CTRL4_DSO = const(0x0A)  # FIFO_MODE (DSO)
_WHO_AM_I = const(0x0F)
_CTRL1_XL = const(0x10)
_CTRL2_G = const(0x11)
_CTRL3_C = const(0x12)
_STATUS_REG = const(0x1E)
_OUTX_L_G = const(0x22)  # gyro xyz then accel xyz, little-endian
_FIFO_STATUS1 = const(0x3A)
_FIFO_STATUS2 = const(0x3B)
_FIFO_DATA_OUT_L = const(0x3E)  # DS3/DSL
_FIFO_DATA_OUT_TAG = const(0x78)  # DSO
_MODE_CONTINUOUS = const(6)
_BDU_IF_INC = const(0x44)
_SW_RESET = const(0x01)
_OVR_LATCHED = const(0x08)  # DSO FIFO_STATUS2
_OVER_RUN = const(0x40)  # DS3/DSL FIFO_STATUS2
_INVALID = const(0x7FFD)
_RESET_POLLS = const(50)
_TAG_GYRO = const(0x01)
_TAG_ACCEL = const(0x02)

# who_am_i -> (sensor_id, name, tagged FIFO, DIFF_FIFO high-byte mask, FIFO words)
MODELS = {
    0x69: (10, "LSM6DS3", False, 0x0F, 4096),
    0x6A: (11, "LSM6DS3TR-C/DSL", False, 0x07, 2048),
    0x6C: (12, "LSM6DSO/DSOX", True, 0x03, 512),
}
ODRS = ((26, 2), (52, 3), (104, 4), (208, 5), (416, 6))  # Hz, ODR code
ACCEL_FS = {2: (0, 0.061), 4: (2, 0.122), 8: (3, 0.244), 16: (1, 0.488)}  # g: (code, mg/LSB)
GYRO_FS = {250: (0, 8.75), 500: (1, 17.5), 1000: (2, 35.0), 2000: (3, 70.0)}  # (code, mdps/LSB)
MAX_ODR_HZ = 416


def _parity_ok(t):
    # TAG_PARITY (bit 0): even parity over the tag byte
    t ^= t >> 4
    t ^= t >> 2
    t ^= t >> 1
    return (t & 1) == 0


class LSM6DSx:
    channels = 6
    max_odr_hz = MAX_ODR_HZ

    def __init__(self, bus, addr, who, odr_hz=100, accel_fs_g=4, gyro_fs_dps=500, fifo=True):
        self.bus = bus
        self.addr = addr
        self.who_am_i = who
        self.sensor_id, self.name, self.tagged, self._hi_mask, self.fifo_words = MODELS[who]
        self.fifo = fifo  # samples queue in the sensor (True) or data-ready polling
        self.sample_bytes = 14 if (fifo and self.tagged) else 12
        self.overflows = 0
        self.overflow = False  # set on overflow, cleared by the streamer
        self.bad_tags = 0  # tagged words failing the parity check
        self.bootstrap_words = 0  # invalid words at start-up (dropped)
        self.unpaired = 0  # words without a partner of the same time slot (dropped)
        self.misaligned = 0  # DS3/DSL pattern checks that failed
        self._one = bytearray(1)
        self._st = bytearray(4)
        self._raw = bytearray(12)
        self._word = bytearray(7)
        self._words = 0  # tagged words known to be in the FIFO
        self._have = 0  # bit 1 gyro, bit 2 accel of the pending time slot
        self._cnt = -1
        self._paired = False  # a complete sample came out since (re)start
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
        best = ODRS[0]
        for o in ODRS:
            if abs(o[0] - odr_hz) < abs(best[0] - odr_hz):
                best = o
        hz, code = best
        self._w(_CTRL3_C, _SW_RESET)  # software reset
        time.sleep_ms(20)
        for _ in range(_RESET_POLLS):  # SW_RESET clears itself when done (bounded)
            if not self._r(_CTRL3_C) & _SW_RESET:
                break
            time.sleep_ms(1)
        else:
            raise OSError(110, "%s at 0x%02x: reset did not complete" % (self.name, self.addr))
        self._w(_CTRL3_C, _BDU_IF_INC)  # block data update, register auto-increment
        self._code = code
        if self.fifo:
            if self.tagged:
                self._w(_FIFO_CTRL3_DSO, (code << 4) | code)  # batch gyro + accel at ODR
            else:
                self._w(_FIFO_CTRL3_DS3, 0x09)  # gyro and accel in the FIFO, no decimation
            self._fifo_mode(_MODE_CONTINUOUS)
        acode, mg = ACCEL_FS[accel_fs_g]
        gcode, mdps = GYRO_FS[gyro_fs_dps]
        self._w(_CTRL1_XL, (code << 4) | (acode << 2))
        self._w(_CTRL2_G, (code << 4) | (gcode << 2))
        self.odr_mhz = hz * 1000
        self.period_us = 1000000 // hz
        self.accel_fs_g = accel_fs_g
        self.gyro_fs_dps = gyro_fs_dps
        self.accel_g_per_lsb = mg / 1000.0
        self.gyro_dps_per_lsb = mdps / 1000.0
        self._restart()

    def _restart(self):
        self._words = 0
        self._have = 0
        self._cnt = -1
        self._paired = False

    def _fifo_mode(self, mode):
        if self.tagged:
            self._w(_FIFO_CTRL4_DSO, mode)
        else:
            self._w(_FIFO_CTRL5_DS3, (self._code << 3) | mode)

    def flush(self):
        if self.fifo:
            self._fifo_mode(0)  # bypass empties the FIFO
            self._fifo_mode(_MODE_CONTINUOUS)
            if self.tagged:
                self._r(_FIFO_STATUS2)  # clear FIFO_OVR_LATCHED
            self._restart()
        else:
            self.bus.readfrom_mem_into(self.addr, _OUTX_L_G, self._raw)

    def sleep(self):
        self._w(_CTRL1_XL, 0)  # power-down
        self._w(_CTRL2_G, 0)

    def recover(self):
        """Re-initialise after bus errors (the part may have been power-cycled)."""
        self.configure(*self._req)

    def _overflowed(self):
        self.overflows += 1
        self.overflow = True
        self.flush()

    def available(self):
        if not self.fifo:
            one = self._one
            self.bus.readfrom_mem_into(self.addr, _STATUS_REG, one)
            return 1 if (one[0] & 3) == 3 else 0
        t = self._st
        self.bus.readfrom_mem_into(self.addr, _FIFO_STATUS1, t)  # STATUS1..4
        words = t[0] | ((t[1] & self._hi_mask) << 8)
        if self.tagged:
            if t[1] & _OVR_LATCHED or words >= self.fifo_words - 6:
                self._overflowed()  # overrun (or about to): the oldest words are gone
                return 0
            self._words = words
            return (words + (1 if self._have else 0)) >> 1
        if t[1] & _OVER_RUN or words >= self.fifo_words - 18:
            self._overflowed()
            return 0
        if words >= 6 and (t[2] | (t[3] << 8)) != 0:  # next word is not Gx: misaligned
            self.misaligned += 1
            self._overflowed()
            return 0
        return words // 6

    def drain_ok(self):
        """After a drain: False if the FIFO overran meanwhile (discard the batch)."""
        if not self.fifo:
            return True
        if self.tagged:
            if self._r(_FIFO_STATUS2) & _OVR_LATCHED:
                self._overflowed()
                return False
            return True
        t = self._st
        self.bus.readfrom_mem_into(self.addr, _FIFO_STATUS1, t)
        if t[1] & _OVER_RUN or (t[2] | (t[3] << 8)) != 0:
            self.misaligned += 1
            self._overflowed()
            return False
        return True

    def read_into(self, buf, off):
        """One sample into buf[off:off+12] (accel, gyro LE); False if none is complete."""
        if not self.fifo:
            r = self._raw
            self.bus.readfrom_mem_into(self.addr, _OUTX_L_G, r)
        elif not self.tagged:
            r = self._raw
            self.bus.readfrom_mem_into(self.addr, _FIFO_DATA_OUT_L, r)
        else:
            if not self._read_tagged():
                return False
            r = self._raw
        for i in range(6):
            buf[off + i] = r[6 + i]  # accel
            buf[off + 6 + i] = r[i]  # gyro
        return True

    def _read_tagged(self):
        # collect one gyro and one accel word of the same time slot into _raw (gyro first)
        w = self._word
        r = self._raw
        while self._words > 0:
            self.bus.readfrom_mem_into(self.addr, _FIFO_DATA_OUT_TAG, w)
            self._words -= 1
            t = w[0]
            if not _parity_ok(t):
                self.bad_tags += 1
                continue
            tag = t >> 3
            c = (t >> 1) & 3
            if tag == _TAG_GYRO:
                base = 0
                bit = 1
            elif tag == _TAG_ACCEL:
                base = 6
                bit = 2
            else:
                continue  # not ours (timestamp, temperature, config change, ...)
            if (w[1] | (w[2] << 8)) >= _INVALID and w[2] < 0x80:
                self.bootstrap_words += 1  # invalid sample during bootstrap
                continue
            if c != self._cnt:
                if self._have:
                    self.unpaired += 1  # the pending word's partner never came
                    if self._paired:
                        self.overflow = True  # a time slot was lost mid-stream
                self._have = 0
                self._cnt = c
            for i in range(6):
                r[base + i] = w[1 + i]
            self._have |= bit
            if self._have == 3:
                self._have = 0
                self._cnt = -1
                self._paired = True
                return True
        return False

    def selftest_regs(self):
        acode = ACCEL_FS[self.accel_fs_g][0]
        return (
            self._r(_WHO_AM_I) == self.who_am_i
            and self._r(_CTRL3_C) == _BDU_IF_INC
            and self._r(_CTRL1_XL) == (self._code << 4) | (acode << 2)
        )

    def selftest_fifo(self):
        """Tag parity / FIFO pattern seen so far are consistent."""
        if not self.fifo:
            return True
        if self.tagged:
            return self.bad_tags == 0
        return self.misaligned == 0
