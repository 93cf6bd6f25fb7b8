# Fake I2C bus + register-level sensor emulators for firmware tests (MicroPython/CPython).
#
# The sensors produce samples on a virtual clock (FakeClock.now, microseconds) at the
# rate their configuration registers select, from a table of known physical motion
# (accel in g, gyro in deg/s), quantised with the datasheet sensitivity of the selected
# range. Register reads that the sample loop does are allocation-free.
import math
from array import array


class FakeClock:
    def __init__(self, start=1000):
        self.now = start

    def ticks_us(self):
        return self.now

    def ticks_ms(self):
        return self.now // 1000


class FakeI2C:
    def __init__(self, devices):
        self.devices = devices  # addr -> device
        self.transactions = 0

    def __repr__(self):
        return "FakeI2C(" + ",".join(f"0x{a:02x}" for a in sorted(self.devices)) + ")"

    def _dev(self, addr):
        d = self.devices.get(addr)
        if d is None:
            raise OSError(19)  # ENODEV: no ACK
        return d

    def scan(self):
        return sorted(self.devices)

    def readfrom_mem_into(self, addr, reg, buf):
        self.transactions += 1
        self._dev(addr).read(reg, buf)

    def readfrom_mem(self, addr, reg, n):
        b = bytearray(n)
        self.readfrom_mem_into(addr, reg, b)
        return bytes(b)

    def writeto_mem(self, addr, reg, buf):
        self.transactions += 1
        d = self._dev(addr)
        for i in range(len(buf)):
            d.write(reg + i, buf[i])


def quantise(values, scale):
    """physical values -> int16 counts: floor(v * scale + 0.5), saturated."""
    out = array("h", bytearray(2 * len(values)))
    for i in range(len(values)):
        c = int(math.floor(values[i] * scale + 0.5))
        out[i] = -32768 if c < -32768 else (32767 if c > 32767 else c)
    return out


class _Sensor:
    """Common part: motion table (6 floats per sample), clocked sample production."""

    def __init__(self, clock, motion, who):
        self.clock = clock
        self.motion = motion  # array('f'): ax ay az (g) gx gy gz (dps) per sample
        self.nmotion = len(motion) // 6
        self.regs = bytearray(128)
        self.who = who
        self.counts = None
        self.t_start = 0
        self.period_us = 0
        self.produced = 0  # samples produced since t_start
        self.running = False
        self.first_index = -1  # motion index of the first sample the firmware read
        self.rate_error_ppm = 0  # the sensor's oscillator is this much slow (+) / fast (-)

    def _requantise(self, a_scale, g_scale):
        n = self.nmotion
        acc = array("f", bytearray(4 * 3 * n))
        gyr = array("f", bytearray(4 * 3 * n))
        for k in range(n):
            for j in range(3):
                acc[3 * k + j] = self.motion[6 * k + j]
                gyr[3 * k + j] = self.motion[6 * k + 3 + j]
        qa = quantise(acc, a_scale)
        qg = quantise(gyr, g_scale)
        c = array("h", bytearray(12 * n))
        for k in range(n):
            for j in range(3):
                c[6 * k + j] = qa[3 * k + j]
                c[6 * k + 3 + j] = qg[3 * k + j]
        self.counts = c

    def _start(self, period_us):
        self.period_us = period_us + period_us * self.rate_error_ppm // 1000000
        self.t_start = self.clock.now
        self.produced = 0
        self.running = True

    def _advance(self):
        """Number of new samples since the last call (sample k appears at t_start+(k+1)T)."""
        if not self.running:
            return 0
        total = (self.clock.now - self.t_start) // self.period_us
        new = total - self.produced
        self.produced = total
        return new

    def count(self, k, j):
        return self.counts[6 * (k % self.nmotion) + j]


class FakeMPU(_Sensor):
    """MPU-6050 (who 0x68) / MPU-6500 (0x70) register map with the FIFO."""

    def __init__(self, clock, motion, who=0x68):
        super().__init__(clock, motion, who)
        self.fifo_size = 1024 if who == 0x68 else 512
        self.fifo = bytearray(self.fifo_size)
        self.fifo_head = 0  # read position
        self.fifo_count = 0
        self.overflowed = 0
        self._reset()

    def _reset(self):
        for i in range(128):
            self.regs[i] = 0
        self.regs[0x6B] = 0x40  # sleep
        self.regs[0x75] = self.who
        self.fifo_count = 0
        self.running = False

    def _sample_bytes(self):
        en = self.regs[0x23]
        n = 6 if en & 0x08 else 0
        n += 2 if en & 0x80 else 0
        for bit in (0x40, 0x20, 0x10):
            n += 2 if en & bit else 0
        return n

    def _rate_period(self):
        dlpf = self.regs[0x1A] & 7
        base = 1000 if 1 <= dlpf <= 6 else 8000
        return 1000000 * (1 + self.regs[0x19]) // base

    def write(self, reg, val):
        if reg == 0x6B and val & 0x80:
            self._reset()
            return
        self.regs[reg] = val
        if reg in (0x1B, 0x1C):
            a_scale = (16384, 8192, 4096, 2048)[(self.regs[0x1C] >> 3) & 3]
            g_scale = (131.0, 65.5, 32.8, 16.4)[(self.regs[0x1B] >> 3) & 3]
            self._requantise(a_scale, g_scale)
        if reg in (0x19, 0x1A):
            self.running = False  # rate changed: the sample clock restarts below
        if reg == 0x6A:
            if val & 0x04:
                self.fifo_count = 0
                self.fifo_head = 0
            if val & 0x40 and (self.regs[0x6B] & 0x40) == 0 and not self.running:
                # the sample clock runs from here on; a later FIFO reset does not move it
                self._start(self._rate_period())

    def _push_byte(self, x):
        pos = (self.fifo_head + self.fifo_count) % self.fifo_size
        self.fifo[pos] = x
        if self.fifo_count < self.fifo_size:
            self.fifo_count += 1
        else:  # full: the oldest byte is overwritten
            self.fifo_head = (self.fifo_head + 1) % self.fifo_size
            self.overflowed += 1
            self.regs[0x3A] |= 0x10

    def _fill(self):
        new = self._advance()
        if new <= 0 or not (self.regs[0x6A] & 0x40):
            return
        if new > self.fifo_size:  # only the newest fit anyway
            new = self.fifo_size
        en = self.regs[0x23]
        for s in range(self.produced - new, self.produced):
            if en & 0x08:
                for j in range(3):
                    v = self.count(s, j)
                    self._push_byte((v >> 8) & 0xFF)
                    self._push_byte(v & 0xFF)
            if en & 0x80:
                self._push_byte(0)
                self._push_byte(0)
            for j, bit in ((3, 0x40), (4, 0x20), (5, 0x10)):
                if en & bit:
                    v = self.count(s, j)
                    self._push_byte((v >> 8) & 0xFF)
                    self._push_byte(v & 0xFF)

    def read(self, reg, buf):
        self._fill()
        for i in range(len(buf)):
            r = reg if reg == 0x74 else reg + i
            if r == 0x74:
                if self.fifo_count:
                    buf[i] = self.fifo[self.fifo_head]
                    self.fifo_head = (self.fifo_head + 1) % self.fifo_size
                    self.fifo_count -= 1
                    if self.first_index < 0 and i == 0 and self._sample_bytes():
                        # which motion sample is the first the firmware reads
                        self.first_index = (
                            self.produced - (self.fifo_count + 1) // self._sample_bytes()
                        )
                else:
                    buf[i] = 0
            elif r == 0x72:
                buf[i] = self.fifo_count >> 8
            elif r == 0x73:
                buf[i] = self.fifo_count & 0xFF
            elif r == 0x3A:
                buf[i] = self.regs[0x3A]
                self.regs[0x3A] = 0
            else:
                buf[i] = self.regs[r & 0x7F]


class FakeLSM6(_Sensor):
    """LSM6DS3 (who 0x69) / LSM6DSL (0x6A) / LSM6DSO (0x6C) register map.

    Data-ready flags + output registers, and the FIFO: untagged Gx Gy Gz Ax Ay Az
    pattern (DS3/DSL, FIFO_DATA_OUT_L with address roll-back) or tagged 7-byte words
    (DSO, FIFO_DATA_OUT_TAG; the accel word comes first in every third time slot to
    exercise pairing by TAG_CNT).
    """

    ODR_HZ = (0, 13, 26, 52, 104, 208, 416, 833, 1666, 3332, 6664)
    A_MG = (0.061, 0.488, 0.122, 0.244)  # by FS_XL code
    G_MDPS = (8.75, 17.5, 35.0, 70.0)  # by FS_G code

    def __init__(self, clock, motion, who=0x69):
        super().__init__(clock, motion, who)
        self.tagged = who == 0x6C
        self.word = 7 if self.tagged else 2
        cap_words = 1023 if self.tagged else (4096 if who == 0x69 else 2048)
        self.fifo_size = cap_words * self.word
        self.fifo = bytearray(self.fifo_size)
        self.fifo_head = 0
        self.fifo_count = 0
        self.overrun = False
        self.overflowed = 0
        self.last_read = -1  # index of the last sample delivered from the output registers
        self._reset()

    def _reset(self):
        for i in range(128):
            self.regs[i] = 0
        self.regs[0x0F] = self.who
        self.regs[0x12] = 0x04
        self.running = False
        self.fifo_count = 0
        self.overrun = False

    def _fifo_on(self):
        r = self.regs
        if (r[0x0A] & 7) != 6:
            return False
        if self.tagged:
            return (r[0x09] >> 4) == (r[0x10] >> 4) and (r[0x09] & 15) == (r[0x10] >> 4)
        return r[0x08] == 0x09 and ((r[0x0A] >> 3) & 15) == (r[0x10] >> 4)

    def write(self, reg, val):
        if reg == 0x12 and val & 0x01:
            self._reset()
            return
        self.regs[reg] = val
        if reg == 0x0A and (val & 7) == 0:
            self.fifo_count = 0  # bypass mode empties the FIFO
            self.fifo_head = 0
            self.overrun = False
        if reg in (0x10, 0x11):
            a = self.A_MG[(self.regs[0x10] >> 2) & 3]
            g = self.G_MDPS[(self.regs[0x11] >> 2) & 3]
            self._requantise(1000.0 / a, 1000.0 / g)
            code_a = self.regs[0x10] >> 4
            code_g = self.regs[0x11] >> 4
            if code_a and code_a == code_g:
                if not self.running:
                    self._start(1000000 // self.ODR_HZ[code_a])
                self.last_read = -1
            else:
                self.running = False

    def _push_byte(self, x):
        pos = (self.fifo_head + self.fifo_count) % self.fifo_size
        self.fifo[pos] = x
        if self.fifo_count < self.fifo_size:
            self.fifo_count += 1
        else:  # full (continuous mode): the oldest byte is overwritten
            self.fifo_head = (self.fifo_head + 1) % self.fifo_size
            self.overrun = True
            self.overflowed += 1

    def _pop_byte(self):
        if self.fifo_count == 0:
            return 0
        x = self.fifo[self.fifo_head]
        self.fifo_head = (self.fifo_head + 1) % self.fifo_size
        self.fifo_count -= 1
        return x

    def _push_word(self, tag, cnt, k, j0):
        if tag:
            self._push_byte((tag << 3) | (cnt << 1))
        for j in range(j0, j0 + 3):
            v = self.count(k, j)
            self._push_byte(v & 0xFF)
            self._push_byte((v >> 8) & 0xFF)

    def _fill(self):
        new = self._advance()
        if new <= 0 or not self._fifo_on():
            return
        per = 14 if self.tagged else 12
        if new * per > self.fifo_size:
            new = self.fifo_size // per + 1
        for k in range(self.produced - new, self.produced):
            if not self.tagged:
                self._push_word(0, 0, k, 3)  # gyro data set first (Gx Gy Gz)
                self._push_word(0, 0, k, 0)  # then accel (Ax Ay Az)
                continue
            cnt = k & 3
            if k % 3 == 2:
                self._push_word(0x02, cnt, k, 0)
                self._push_word(0x01, cnt, k, 3)
            else:
                self._push_word(0x01, cnt, k, 3)
                self._push_word(0x02, cnt, k, 0)

    def _note_first(self):
        if self.first_index < 0:
            per = 14 if self.tagged else 12
            self.first_index = self.produced - (self.fifo_count + per - 1) // per

    def read(self, reg, buf):
        self._fill()
        cur = self.produced - 1  # newest sample (the output registers hold it)
        n = len(buf)
        if reg == 0x3E and not self.tagged:
            self._note_first()
            for i in range(n):
                buf[i] = self._pop_byte()  # address rolls back inside 0x3E/0x3F
            return
        if reg == 0x78 and self.tagged:
            self._note_first()
            for i in range(n):
                buf[i] = self._pop_byte()
            return
        for i in range(n):
            r = reg + i
            if r == 0x1E:
                buf[i] = 3 if (cur >= 0 and cur != self.last_read) else 0
            elif r == 0x3A:
                buf[i] = (self.fifo_count // self.word) & 0xFF
            elif r == 0x3B:
                words = self.fifo_count // self.word
                buf[i] = (words >> 8) | (0x40 if self.overrun else 0)
                if not self.tagged and words == 0:
                    buf[i] |= 0x10  # FIFO_EMPTY
            elif 0x22 <= r <= 0x2D and cur >= 0:
                off = r - 0x22
                j = (3 + off // 2) if off < 6 else ((off - 6) // 2)  # gyro first, then accel
                v = self.count(cur, j)
                buf[i] = (v >> 8) & 0xFF if off & 1 else v & 0xFF
                if r == 0x2D:
                    if self.first_index < 0:
                        self.first_index = cur
                    self.last_read = cur
            else:
                buf[i] = self.regs[r & 0x7F]
