# Stand-in `machine` module for running firmware main.py under the Unix port: an I2C
# bus with a fake MPU-6050 (at rest, +1 g on Z) on the real clock, and recording Pins.
import time
from array import array

from fake_i2c import FakeI2C, FakeMPU


class _RealClock:
    @property
    def now(self):
        return time.ticks_us()


class Pin:
    OUT = 1
    IN = 0
    changes = []  # (ticks_ms, pin id, value)

    def __init__(self, id, mode=None):
        self.id = id
        self.v = 0

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v
        Pin.changes.append((time.ticks_ms(), self.id, v))

    def __repr__(self):
        return f"Pin({self.id})"


class I2C:
    def __init__(self, id, scl=None, sda=None, freq=400000):
        self.desc = f"I2C({id}, scl={scl}, sda={sda}, freq={freq})"
        motion = array("f", [0.0, 0.0, 1.0, 0.0, 0.0, 0.0] * 10)
        self.bus = FakeI2C({0x68: FakeMPU(_RealClock(), motion, 0x68)})

    def __repr__(self):
        return self.desc

    def readfrom_mem_into(self, addr, reg, buf):
        self.bus.readfrom_mem_into(addr, reg, buf)

    def writeto_mem(self, addr, reg, buf):
        self.bus.writeto_mem(addr, reg, buf)
