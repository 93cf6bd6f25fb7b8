# Fake I2C bus + register-level sensor emulators for firmware tests (MicroPython/CPython).
#
# Rebuilt from the public register maps and the Linux drivers' documented behaviour, NOT
# from our firmware drivers (so a driver bug cannot hide behind the same assumption):
#   - InvenSense "MPU-6000 and MPU-6050 Register Map and Descriptions" RM-MPU-6000A-00
#     rev 4.2: USER_CTRL.FIFO_RESET (bit 2) "resets the FIFO buffer when set to 1 while
#     FIFO_EN equals 0" (so a reset written together with FIFO_EN=1 is ignored here);
#     INT_STATUS (0x3A) bits clear when the register is read; FIFO_OFLOW_INT (bit 4);
#     FIFO_COUNT big-endian; FIFO filled in register order (accel, temp, gyro);
#     PWR_MGMT_1.DEVICE_RESET self-clears. Full FIFO: the oldest byte is overwritten,
#     which shifts sample alignment (what the Linux driver avoids by resetting early:
#     torvalds/linux drivers/iio/imu/inv_mpu6050/inv_mpu_ring.c, "Reset if there is only
#     3 data set free remaining"). Product spec PS-MPU-6000A-00 6.1: gyro start-up time
#     30 ms: samples taken in the first 30 ms after wake carry a large gyro offset here.
#   - ST lsm6ds3_reg.h / lsm6dsl_reg.h / lsm6dso_reg.h (STMicroelectronics STMems
#     standard C drivers; e.g. flipperdevices/flipperzero-firmware
#     applications/external/airmouse/lib/lsm6dso-api/lsm6dso_reg.h): CTRL3_C BDU (bit 6),
#     IF_INC (bit 2, reset value 1), SW_RESET (bit 0, self-clearing); DS3/DSL
#     FIFO_STATUS2 = WaterM | OVER_RUN | FIFO_FULL_SMART | FIFO_EMPTY | DIFF_FIFO[11:8]
#     (DS3) / [10:8] (DSL), FIFO_STATUS3/4 = FIFO_PATTERN (index of the next word);
#     DSO FIFO_STATUS2 = WTM_IA | OVR_IA | FULL_IA | COUNTER_BDR_IA | OVR_LATCHED (bit 3,
#     cleared by reading FIFO_STATUS2) | - | DIFF_FIFO[9:8]; DSO tag byte =
#     TAG_SENSOR[7:3] | TAG_CNT[2:1] | TAG_PARITY[0] (gyro 0x01, accel 0x02).
#     DSO FIFO: 3 KB = 512 words of 6 data bytes. Bootstrap: the first word of each
#     sensor after it starts is an invalid sample >= 0x7FFD (torvalds/linux
#     drivers/iio/imu/st_lsm6dsx/st_lsm6dsx_buffer.c: ST_LSM6DSX_INVALID_SAMPLE,
#     "invalid sample during bootstrap phase"); the accelerometer starts before the
#     gyroscope, so the first time slots hold accel words without a gyro partner.
#     TAG_PARITY: chosen here as even parity over the whole tag byte (bit 0 = XOR of
#     bits 7..1); the register maps only say "parity check of TAG content".
#
# Timed bus: with freq set, the virtual clock advances 9 bit times per byte (8 data + ACK,
# 22.5 us at 400 kHz) and the sensors produce samples in between bytes, so races between
# reading FIFO_COUNT and draining the FIFO really happen. Faults: NACK (OSError ENODEV /
# EIO) and timeouts (ETIMEDOUT, which also costs the bus timeout) on chosen transactions
# or inside a time window (a loose wire), optionally with a sensor power cycle after it.
import math
from array import array

ENODEV = 19
EIO = 5
ETIMEDOUT = 110


class FakeClock:
    def __init__(self, start=1000):
        self.now = start

    def ticks_us(self):
        return self.now

    def ticks_ms(self):
        return self.now // 1000


class FakeI2C:
    def __init__(self, devices, clock=None, freq=0, timeout_us=50000):
        self.devices = devices  # addr -> device
        self.transactions = 0
        self.clock = clock
        self.freq = freq
        self.timeout_us = timeout_us
        self._ns = 0
        self._byte_ns = 9 * 1000000000 // freq if freq else 0
        self.fail_at = {}  # transaction number -> errno
        self.window = None  # (t0_us, t1_us, errno): every transaction inside fails
        self.after_window = None  # callable run once when the window has passed
        self.errors = 0
        for d in devices.values():
            d.bus = self

    def __repr__(self):
        return "FakeI2C(" + ",".join(f"0x{a:02x}" for a in sorted(self.devices)) + ")"

    def tick(self, nbytes):
        if self._byte_ns and self.clock is not None:
            ns = self._ns + nbytes * self._byte_ns
            self.clock.now += ns // 1000
            self._ns = ns % 1000

    def _begin(self, addr, head):
        self.transactions += 1
        err = self.fail_at.get(self.transactions, 0)
        w = self.window
        if w is not None and self.clock is not None:
            if w[0] <= self.clock.now < w[1]:
                err = w[2]
            elif self.clock.now >= w[1]:
                self.window = None
                if self.after_window is not None:
                    f = self.after_window
                    self.after_window = None
                    f()
        d = self.devices.get(addr)
        if d is None:
            err = ENODEV  # no ACK for the address
        if err:
            self.errors += 1
            self.tick(1)
            if err == ETIMEDOUT and self.clock is not None:
                self.clock.now += self.timeout_us
            raise OSError(err)
        self.tick(head)
        return d

    def scan(self):
        return sorted(self.devices)

    def readfrom_mem_into(self, addr, reg, buf):
        d = self._begin(addr, 3)  # addr+W, register, addr+R
        d.read(reg, buf)

    def readfrom_mem(self, addr, reg, n):
        b = bytearray(n)
        self.readfrom_mem_into(addr, reg, b)
        return bytes(b)

    def writeto_mem(self, addr, reg, buf):
        d = self._begin(addr, 2)
        for i in range(len(buf)):
            self.tick(1)
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
        self.bus = None
        self.motion = motion  # array('f'): ax ay az (g) gx gy gz (dps) per sample
        self.nmotion = len(motion) // 6
        self.regs = bytearray(128)
        self.who = who
        self.counts = None
        self.t_start = 0
        self.period_us = 0
        self.produced = 0  # samples produced since t_start
        self.running = False
        self.first_index = -1  # motion index of the first whole sample popped
        self.rate_error_ppm = 0  # the sensor's oscillator is this much slow (+) / fast (-)
        self.reset_reads = 2  # reads of the reset bit that still show it set
        self.stuck_reset = False  # the reset bit never clears (broken part)
        self._resetting = 0

    def _tick(self):
        b = self.bus
        if b is not None and b._byte_ns:
            b.tick(1)
            self._fill()

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

    def sample_time(self, k):
        return self.t_start + (k + 1) * self.period_us

    def count(self, k, j):
        return self.counts[6 * (k % self.nmotion) + j]


# ------------------------------------------------------------------------ MPU-6050 family
_M_SMPLRT_DIV = 0x19
_M_CONFIG = 0x1A
_M_GYRO_CONFIG = 0x1B
_M_ACCEL_CONFIG = 0x1C
_M_FIFO_EN = 0x23
_M_INT_ENABLE = 0x38
_M_INT_STATUS = 0x3A
_M_USER_CTRL = 0x6A
_M_PWR_MGMT_1 = 0x6B
_M_FIFO_COUNTH = 0x72
_M_FIFO_COUNTL = 0x73
_M_FIFO_R_W = 0x74
_M_WHO_AM_I = 0x75
GYRO_SETTLE_US = 30000  # PS-MPU-6000A-00 6.1: gyroscope start-up time 30 ms
SETTLING_OFFSET = 9000  # counts added to the gyro while it settles (far out of spec)


class FakeMPU(_Sensor):
    """MPU-6050 (who 0x68; clones 0x98) / MPU-6500 (0x70) / 9250 (0x71) / 9255 (0x73)."""

    def __init__(self, clock, motion, who=0x68):
        super().__init__(clock, motion, who)
        self.fifo_size = 1024 if who in (0x68, 0x98) else 512
        self.fifo = bytearray(self.fifo_size)
        self.fifo_head = 0  # read position
        self.fifo_count = 0
        self.overflowed = 0  # bytes overwritten
        self.resets_ignored = 0  # FIFO_RESET written while FIFO_EN = 1
        self.fifo_resets = 0
        self.t_wake = 0
        self.power_cycles = 0
        self._reset()

    def _reset(self):
        for i in range(128):
            self.regs[i] = 0
        self.regs[_M_PWR_MGMT_1] = 0x40  # sleep
        self.regs[_M_WHO_AM_I] = self.who
        self.fifo_count = 0
        self.fifo_head = 0
        self.running = False
        self.counts = None
        self._resetting = self.reset_reads

    def power_cycle(self):
        """Brown-out / reconnected wire: power-on defaults (asleep, nothing configured)."""
        self.power_cycles += 1
        self._reset()
        self._resetting = 0

    def _sample_bytes(self):
        en = self.regs[_M_FIFO_EN]
        n = 6 if en & 0x08 else 0
        n += 2 if en & 0x80 else 0
        for bit in (0x40, 0x20, 0x10):
            n += 2 if en & bit else 0
        return n

    def _rate_period(self):
        dlpf = self.regs[_M_CONFIG] & 7
        base = 1000 if 1 <= dlpf <= 6 else 8000
        return 1000000 * (1 + self.regs[_M_SMPLRT_DIV]) // base

    def _awake(self):
        return (self.regs[_M_PWR_MGMT_1] & 0x40) == 0

    def write(self, reg, val):
        self._fill()
        if reg == _M_PWR_MGMT_1:
            if val & 0x80:
                self._reset()
                return
            was_asleep = not self._awake()
            self.regs[reg] = val
            if val & 0x40:
                self.running = False
            elif was_asleep:
                self.t_wake = self.clock.now
                self._start(self._rate_period())
            return
        if reg == _M_USER_CTRL:
            if val & 0x04:
                if val & 0x40:
                    self.resets_ignored += 1  # FIFO_RESET only works while FIFO_EN = 0
                else:
                    self.fifo_count = 0
                    self.fifo_head = 0
                    self.fifo_resets += 1
            self.regs[reg] = val & ~0x04 & 0xFF  # FIFO_RESET self-clears
            return
        self.regs[reg] = val
        if reg in (_M_GYRO_CONFIG, _M_ACCEL_CONFIG):
            a_scale = (16384, 8192, 4096, 2048)[(self.regs[_M_ACCEL_CONFIG] >> 3) & 3]
            g_scale = (131.0, 65.5, 32.8, 16.4)[(self.regs[_M_GYRO_CONFIG] >> 3) & 3]
            self._requantise(a_scale, g_scale)
        if reg in (_M_SMPLRT_DIV, _M_CONFIG) and self._awake():
            self._start(self._rate_period())  # the sample clock restarts at the new rate

    def _push_byte(self, x):
        pos = (self.fifo_head + self.fifo_count) % self.fifo_size
        self.fifo[pos] = x
        if self.fifo_count < self.fifo_size:
            self.fifo_count += 1
        else:  # full: the oldest byte is overwritten (alignment shifts)
            self.fifo_head = (self.fifo_head + 1) % self.fifo_size
            self.overflowed += 1
            if self.regs[_M_INT_ENABLE] & 0x10:
                self.regs[_M_INT_STATUS] |= 0x10

    def _push16(self, v):
        self._push_byte((v >> 8) & 0xFF)
        self._push_byte(v & 0xFF)

    def _fill(self):
        new = self._advance()
        if new <= 0:
            return
        if self.regs[_M_INT_ENABLE] & 0x01:
            self.regs[_M_INT_STATUS] |= 0x01
        if not (self.regs[_M_USER_CTRL] & 0x40) or self.counts is None:
            return
        en = self.regs[_M_FIFO_EN]
        first = self.produced - new
        if new > self.fifo_size:  # only the newest can still be in there
            first = self.produced - self.fifo_size
        for s in range(first, self.produced):
            settling = self.sample_time(s) < self.t_wake + GYRO_SETTLE_US
            if en & 0x08:
                for j in range(3):
                    self._push16(self.count(s, j))
            if en & 0x80:
                self._push16(0)
            for j, bit in ((3, 0x40), (4, 0x20), (5, 0x10)):
                if en & bit:
                    v = self.count(s, j)
                    if settling:
                        v = (v + SETTLING_OFFSET) if v < 32767 - SETTLING_OFFSET else 32767
                    self._push16(v)

    def read(self, reg, buf):
        self._fill()
        sb = self._sample_bytes()
        for i in range(len(buf)):
            if i:
                self._tick()
            r = reg if reg == _M_FIFO_R_W else reg + i  # FIFO_R_W does not auto-increment
            if r == _M_FIFO_R_W:
                if self.fifo_count:
                    if self.first_index < 0 and sb and self.fifo_count % sb == 0:
                        self.first_index = self.produced - self.fifo_count // sb
                    buf[i] = self.fifo[self.fifo_head]
                    self.fifo_head = (self.fifo_head + 1) % self.fifo_size
                    self.fifo_count -= 1
                else:
                    buf[i] = 0xFF  # reading an empty FIFO
            elif r == _M_FIFO_COUNTH:
                buf[i] = self.fifo_count >> 8
            elif r == _M_FIFO_COUNTL:
                buf[i] = self.fifo_count & 0xFF
            elif r == _M_INT_STATUS:
                buf[i] = self.regs[_M_INT_STATUS]
                self.regs[_M_INT_STATUS] = 0  # clears on read
            elif r == _M_PWR_MGMT_1:
                v = self.regs[r]
                if self._resetting or self.stuck_reset:
                    v |= 0x80
                    if self._resetting:
                        self._resetting -= 1
                buf[i] = v
            else:
                buf[i] = self.regs[r & 0x7F]


# ------------------------------------------------------------------------ LSM6DS3/DSL/DSO
_L_FIFO_CTRL3 = 0x08
_L_FIFO_CTRL3_DSO = 0x09
_L_FIFO_CTRL5 = 0x0A  # DS3/DSL: ODR_FIFO[6:3] | FIFO_MODE[2:0]; DSO FIFO_CTRL4 likewise
_L_CTRL1_XL = 0x10
_L_CTRL2_G = 0x11
_L_CTRL3_C = 0x12
_L_STATUS = 0x1E
_L_FIFO_STATUS1 = 0x3A
_L_FIFO_STATUS2 = 0x3B
_L_FIFO_STATUS3 = 0x3C
_L_FIFO_STATUS4 = 0x3D
_L_FIFO_OUT_L = 0x3E  # DS3/DSL
_L_FIFO_OUT_TAG = 0x78  # DSO
TAG_GYRO = 0x01
TAG_ACCEL = 0x02
BOOTSTRAP_WORD = 0x7FFE  # >= 0x7FFD: "invalid sample during bootstrap phase"


def tag_byte(tag, cnt):
    t = (tag << 3) | ((cnt & 3) << 1)
    p = 0
    x = t >> 1
    while x:
        p ^= x & 1
        x >>= 1
    return t | p  # even parity over the byte


class FakeLSM6(_Sensor):
    """LSM6DS3 (who 0x69) / LSM6DS3TR-C, LSM6DSL (0x6A) / LSM6DSO(X) (0x6C) register map.

    Data-ready flags + output registers, and the FIFO: untagged Gx Gy Gz Ax Ay Az
    pattern (DS3/DSL, FIFO_DATA_OUT_L with address roll-back, FIFO_PATTERN) or tagged
    words (DSO, FIFO_DATA_OUT_TAG; accel starts gyro_delay_slots before the gyro, each
    sensor's first word is a bootstrap word; every third slot has the accel word first).
    """

    ODR_HZ = (0, 13, 26, 52, 104, 208, 416, 833, 1666, 3332, 6664)
    A_MG = (0.061, 0.488, 0.122, 0.244)  # by FS_XL code
    G_MDPS = (8.75, 17.5, 35.0, 70.0)  # by FS_G code

    def __init__(self, clock, motion, who=0x69):
        super().__init__(clock, motion, who)
        self.tagged = who == 0x6C
        self.word = 7 if self.tagged else 2  # bytes per FIFO word as read
        self.cap_words = 512 if self.tagged else (4096 if who == 0x69 else 2048)
        self.fifo = bytearray(self.cap_words * self.word)
        self.fifo_head = 0  # in words
        self.fifo_count = 0  # in words
        self.head_index = 0  # absolute index of the word at the head (DS3 pattern)
        self.pushed = 0
        self.overrun = False  # FIFO full and a word was overwritten (current state)
        self.ovr_latched = False  # DSO FIFO_OVR_LATCHED
        self.overflowed = 0
        self.last_read = -1
        self.gyro_delay_slots = 6  # the gyro's first word comes this many slots late
        self.corrupt_every = 0  # DSO: flip a TAG_CNT bit of every n-th gyro tag
        self.bad_tags = 0
        self.slot0 = 0  # first time slot of the current FIFO/ODR run
        self._snap = -1
        self._reset()

    def _reset(self):
        for i in range(128):
            self.regs[i] = 0
        self.regs[0x0F] = self.who
        self.regs[_L_CTRL3_C] = 0x04  # IF_INC
        self.running = False
        self.fifo_count = 0
        self.fifo_head = 0
        self.overrun = False
        self.ovr_latched = False
        self._resetting = self.reset_reads

    def _fifo_mode(self):
        return self.regs[_L_FIFO_CTRL5] & 7

    def _fifo_on(self):
        r = self.regs
        if self._fifo_mode() != 6:
            return False
        if self.tagged:
            return (r[_L_FIFO_CTRL3_DSO] >> 4) != 0 and (r[_L_FIFO_CTRL3_DSO] & 15) != 0
        return r[_L_FIFO_CTRL3] == 0x09 and ((r[_L_FIFO_CTRL5] >> 3) & 15) == (r[0x10] >> 4)

    def write(self, reg, val):
        self._fill()
        if reg == _L_CTRL3_C and val & 0x01:
            self._reset()
            return
        self.regs[reg] = val
        if reg == _L_FIFO_CTRL5 and (val & 7) == 0:
            self.fifo_count = 0  # bypass mode empties the FIFO
            self.fifo_head = 0
            self.overrun = False
            self.ovr_latched = False
        if reg == _L_FIFO_CTRL5 and (val & 7) == 6:
            self.slot0 = self.produced  # a new FIFO run: bootstrap words again
            self.head_index = 0
            self.pushed = 0
        if reg in (_L_CTRL1_XL, _L_CTRL2_G):
            a = self.A_MG[(self.regs[_L_CTRL1_XL] >> 2) & 3]
            g = self.G_MDPS[(self.regs[_L_CTRL2_G] >> 2) & 3]
            self._requantise(1000.0 / a, 1000.0 / g)
            code_a = self.regs[_L_CTRL1_XL] >> 4
            code_g = self.regs[_L_CTRL2_G] >> 4
            if code_a and code_a == code_g:
                if not self.running or reg == _L_CTRL2_G:
                    self._start(1000000 // self.ODR_HZ[code_a])
                    self.slot0 = 0
                self.last_read = -1
            else:
                self.running = False

    def _push_word(self, b0, x, y=0, z=0):
        """One FIFO word (tag byte + 3 int16 LE for DSO, or 1 int16 LE for DS3)."""
        if self.fifo_count == self.cap_words:  # full (continuous): overwrite the oldest
            self.fifo_head = (self.fifo_head + 1) % self.cap_words
            self.fifo_count -= 1
            self.head_index += 1
            self.overrun = True
            self.ovr_latched = True
            self.overflowed += 1
        pos = ((self.fifo_head + self.fifo_count) % self.cap_words) * self.word
        f = self.fifo
        if self.tagged:
            f[pos] = b0
            f[pos + 1] = x & 0xFF
            f[pos + 2] = (x >> 8) & 0xFF
            f[pos + 3] = y & 0xFF
            f[pos + 4] = (y >> 8) & 0xFF
            f[pos + 5] = z & 0xFF
            f[pos + 6] = (z >> 8) & 0xFF
        else:
            f[pos] = x & 0xFF
            f[pos + 1] = (x >> 8) & 0xFF
        self.fifo_count += 1
        self.pushed += 1

    def _fill(self):
        new = self._advance()
        if new <= 0 or not self._fifo_on() or self.counts is None:
            return
        per = 2 if self.tagged else 6
        first = self.produced - new
        if new * per > self.cap_words + per:
            first = self.produced - self.cap_words // per - 1
        for k in range(first, self.produced):
            slot = k - self.slot0
            if not self.tagged:
                for j in (3, 4, 5, 0, 1, 2):  # gyro data set first (Gx Gy Gz), then accel
                    self._push_word(0, self.count(k, j))
                continue
            cnt = slot & 3
            ab = slot == 0  # bootstrap word
            gslot = slot - self.gyro_delay_slots
            have_g = gslot >= 0
            gb = gslot == 0
            gt = tag_byte(TAG_GYRO, cnt)
            if self.corrupt_every and have_g and gslot > 0 and gslot % self.corrupt_every == 0:
                gt ^= 0x02  # one flipped bit: parity no longer matches
                self.bad_tags += 1
            if k % 3 == 2:
                self._accel_word(k, cnt, ab)
                if have_g:
                    self._gyro_word(k, gt, gb)
            else:
                if have_g:
                    self._gyro_word(k, gt, gb)
                self._accel_word(k, cnt, ab)

    def _accel_word(self, k, cnt, boot):
        t = tag_byte(TAG_ACCEL, cnt)
        if boot:
            self._push_word(t, BOOTSTRAP_WORD, BOOTSTRAP_WORD, BOOTSTRAP_WORD)
        else:
            self._push_word(t, self.count(k, 0), self.count(k, 1), self.count(k, 2))

    def _gyro_word(self, k, t, boot):
        if boot:
            self._push_word(t, BOOTSTRAP_WORD, BOOTSTRAP_WORD, BOOTSTRAP_WORD)
        else:
            self._push_word(t, self.count(k, 3), self.count(k, 4), self.count(k, 5))

    def _pop(self, buf, i, n):
        """Pop bytes of the head word into buf[i:i+n] (a whole word per call)."""
        if self.fifo_count == 0:
            for j in range(n):
                buf[i + j] = 0
            return
        pos = self.fifo_head * self.word
        for j in range(n):
            buf[i + j] = self.fifo[pos + j]
        if self.first_index < 0:
            self.first_index = self.produced - (self.fifo_count + 1) // (2 if self.tagged else 6)
        self.fifo_head = (self.fifo_head + 1) % self.cap_words
        self.fifo_count -= 1
        self.head_index += 1
        if self.fifo_count < self.cap_words:
            self.overrun = False

    def _reg(self, r):
        cur = self.produced - 1
        if r == _L_STATUS:
            return 3 if (cur >= 0 and cur != self.last_read) else 0
        if r == _L_FIFO_STATUS1:
            return self.fifo_count & 0xFF
        if r == _L_FIFO_STATUS2:
            w = self.fifo_count
            if self.tagged:
                v = (w >> 8) & 3
                if self.overrun:
                    v |= 0x40 | 0x20
                if self.ovr_latched:
                    v |= 0x08
                    self.ovr_latched = False  # FIFO_OVR_LATCHED: reset when read
                return v
            v = (w >> 8) & (0x0F if self.who == 0x69 else 0x07)
            if self.overrun:
                v |= 0x40
            if w == 0:
                v |= 0x10
            return v
        # (no `in (...)`: a tuple of globals would allocate under heap_lock)
        if (r == _L_FIFO_STATUS3 or r == _L_FIFO_STATUS4) and not self.tagged:  # noqa: SIM109
            pat = self.head_index % 6
            return pat & 0xFF if r == _L_FIFO_STATUS3 else pat >> 8
        if r == _L_CTRL3_C:
            v = self.regs[r]
            if self._resetting or self.stuck_reset:
                v |= 0x01
                if self._resetting:
                    self._resetting -= 1
            return v
        if 0x22 <= r <= 0x2D:
            k = cur
            if self.regs[_L_CTRL3_C] & 0x40 and self._snap >= 0:
                k = self._snap  # BDU: the registers hold the sample until it is read out
            if k < 0 or self.counts is None:
                return 0
            off = r - 0x22
            j = (3 + off // 2) if off < 6 else ((off - 6) // 2)  # gyro first, then accel
            v = self.count(k, j)
            if r == 0x2D:
                if self.first_index < 0:
                    self.first_index = k
                self.last_read = k
            return (v >> 8) & 0xFF if off & 1 else v & 0xFF
        return self.regs[r & 0x7F]

    def read(self, reg, buf):
        self._fill()
        n = len(buf)
        inc = self.regs[_L_CTRL3_C] & 0x04
        if reg == _L_FIFO_OUT_L and not self.tagged:
            i = 0
            while i < n:  # the address rolls back inside 0x3E/0x3F
                if i:
                    self._tick()
                self._pop(buf, i, 2 if n - i >= 2 else 1)
                i += 2
            return
        if reg == _L_FIFO_OUT_TAG and self.tagged:
            i = 0
            while i < n:  # one whole word per 7 bytes, the address rolls back to 0x78
                if i:
                    self._tick()
                self._pop(buf, i, 7 if n - i >= 7 else n - i)
                i += 7
            return
        self._snap = self.produced - 1
        for i in range(n):
            if i:
                self._tick()
            r = reg + i if inc else reg
            buf[i] = self._reg(r)
        self._snap = -1
