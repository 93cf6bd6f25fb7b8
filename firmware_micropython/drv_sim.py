# Simulated IMU with the same interface as the real drivers, driven by a motion script.
#
# The whole script is rendered to int16 counts when configured (floats allocate under
# MicroPython), so available()/read_into() are allocation-free like the real drivers.
# Pacing: realtime=True -> samples become available as the clock (ticks_us) advances;
# realtime=False -> as fast as the caller drains them, with a virtual clock now_us().
import math
import time
from array import array

import motion

MASK30 = 0x3FFFFFFF


class SimIMU:
    channels = 6
    fifo = True  # samples are queued in the sensor, not overwritten
    name = "SIM"
    sensor_id = 0
    who_am_i = 0
    max_odr_hz = 1000
    sample_bytes = 12

    def __init__(
        self,
        script=None,
        odr_hz=100,
        accel_fs_g=4,
        gyro_fs_dps=500,
        realtime=True,
        noise=False,
        pitch_deg=0.0,
        loop=False,
        seed=12345,
        clock=None,
    ):
        self.script = motion.DEFAULT_SCRIPT if script is None else script
        self.realtime = realtime
        self.noise = noise
        self.pitch_deg = pitch_deg
        self.loop = loop
        self.seed = seed
        self.clock = clock or time.ticks_us
        self.overflows = 0
        self.overflow = False  # set on overflow, cleared by the streamer
        self.configure(odr_hz, accel_fs_g, gyro_fs_dps)

    def configure(self, odr_hz=100, accel_fs_g=4, gyro_fs_dps=500):
        odr_hz = int(odr_hz)
        if not 20 <= odr_hz <= 1000:
            raise ValueError("rate out of range: %r" % odr_hz)
        self.odr_mhz = odr_hz * 1000
        self.period_us = 1000000 // odr_hz
        self.accel_fs_g = accel_fs_g
        self.gyro_fs_dps = gyro_fs_dps
        self.accel_g_per_lsb = accel_fs_g / 32768.0
        self.gyro_dps_per_lsb = gyro_fs_dps / 32768.0
        self._render(odr_hz)
        self.restart()

    def _render(self, odr_hz):
        segs = motion._segments(self.script)
        n = int(motion.duration(self.script) * odr_hz + 0.5)
        self.table = array("h", bytearray(12 * n))
        self.n = n
        a_lsb = 1.0 / self.accel_g_per_lsb
        g_lsb = 1.0 / self.gyro_dps_per_lsb
        state = self.seed & MASK30 or 1
        for k in range(n):
            th, rate = motion.angle_rate(segs, k / odr_hz)
            acc, gyr = motion.physics(th, rate, self.pitch_deg)
            vals = (acc[0], acc[1], acc[2], gyr[0], gyr[1], gyr[2])
            for j in range(6):
                v = vals[j]
                if self.noise:
                    # sum of 4 uniforms ~ gaussian; sigma 0.004 g / 0.25 dps
                    u = 0.0
                    for _ in range(4):
                        state = (state * 1103515245 + 12345) & MASK30
                        u += state / 1073741824.0 - 0.5
                    v += u * (0.007 if j < 3 else 0.43)
                c = int(math.floor(v * (a_lsb if j < 3 else g_lsb) + 0.5))
                self.table[6 * k + j] = -32768 if c < -32768 else (32767 if c > 32767 else c)

    def restart(self):
        self.read = 0  # samples handed out
        self.produced = 0
        self.t0 = self.clock()
        self.vt = self.t0 & MASK30

    def now_us(self):
        """Virtual clock for realtime=False: time of the newest produced sample."""
        return (self.t0 + self.produced * self.period_us) & MASK30

    @property
    def done(self):
        return not self.loop and self.read >= self.n

    def flush(self):
        self.read = self.produced

    def drain_ok(self):
        return True

    def sleep(self):
        pass

    def recover(self):
        pass

    def selftest_regs(self):
        return True

    def selftest_fifo(self):
        return True

    def available(self):
        if self.realtime:
            el = time.ticks_diff(self.clock(), self.t0)
            p = el // self.period_us
        else:
            p = self.produced + 8  # hand out at most 8 new samples per poll
        if not self.loop and p > self.n:
            p = self.n
        self.produced = p
        return p - self.read

    def read_into(self, buf, off):
        k = self.read % self.n if self.n else 0
        self.read += 1
        t = self.table
        base = 6 * k
        for j in range(6):
            v = t[base + j]
            buf[off + 2 * j] = v & 0xFF
            buf[off + 2 * j + 1] = (v >> 8) & 0xFF
        return True
