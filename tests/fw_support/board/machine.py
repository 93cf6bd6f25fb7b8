# Stand-in `machine` module for running firmware main.py under the Unix port: an I2C
# bus with a fake MPU-6050 (at rest, +1 g on Z) on the real clock, recording Pins, and a
# port profile chosen by the environment variable IMU_BOARD (esp32, esp32s3, esp32c3,
# rp2): which GPIOs exist, which are flash / radio pins, UART default pins, ADC
# attenuation, machine.WDT and unique_id. SIM_PLATFORM / SIM_MACHINE tell main.py which
# port it plays (sys.platform is "linux" here).
#
# Pin facts (Espressif datasheets / MicroPython docs): ESP32 GPIO 0-39 without 20, 24,
# 28-31; 6-11 are the SPI flash of WROOM modules; UART1's default pins in MicroPython
# are TX 10 / RX 9. ESP32-S3 GPIO 0-21, 26-48 (26-32 flash/PSRAM). ESP32-C3 GPIO 0-21
# (12-17 flash). Pico W: GP23/24/25/29 belong to the CYW43 (29 = its SPI clock and
# ADC3 = VSYS/3); "LED" is on the wireless chip.
import json
import os
import time
from array import array

import bluetooth
from fake_i2c import FakeI2C, FakeMPU

PROFILES = {
    "esp32": {
        "platform": "esp32",
        "machine": "Generic ESP32 module with ESP32",
        "gpio": [g for g in range(40) if g not in (20, 24, 28, 29, 30, 31)],
        "reserved": {
            6: "SPI flash",
            7: "SPI flash",
            8: "SPI flash",
            9: "SPI flash",
            10: "SPI flash",
            11: "SPI flash",
        },
        "uart_default": {1: (10, 9), 2: (17, 16)},
        "uid": b"\x24\x6f\x28\xa1\xb2\xc3",
        "adc_full_scale_11db": 3.55,
    },
    "esp32s3": {
        "platform": "esp32",
        "machine": "Generic ESP32S3 module with ESP32S3",
        "gpio": list(range(22)) + list(range(26, 49)),
        "reserved": {g: "SPI flash/PSRAM" for g in range(26, 33)},
        "uart_default": {1: (17, 18)},
        "uid": b"\x34\x85\x18\x01\x02\x03",
        "adc_full_scale_11db": 3.55,
    },
    "esp32c3": {
        "platform": "esp32",
        "machine": "ESP32C3 module with ESP32C3",
        "gpio": list(range(22)),
        "reserved": {g: "SPI flash" for g in range(12, 18)},
        "uart_default": {1: (10, 9)},
        "uid": b"\x58\xcf\x79\x0a\x0b\x0c",
        "adc_full_scale_11db": 3.55,
    },
    "rp2": {
        "platform": "rp2",
        "machine": "Raspberry Pi Pico W with RP2040",
        "gpio": list(range(30)) + ["LED"],
        "reserved": {23: "CYW43 power", 24: "CYW43 data", 25: "CYW43 chip select"},
        "uart_default": {0: (0, 1), 1: (4, 5)},
        "uid": b"\xe6\x61\x41\x04\x03\x5b\x2a\x21",
        "adc_full_scale_11db": None,
    },
}
BOARD = os.getenv("IMU_BOARD") or "esp32"
P = PROFILES[BOARD]
SIM_PLATFORM = P["platform"]
SIM_MACHINE = P["machine"]
BATTERY_V = float(os.getenv("IMU_SIM_BATTERY_V") or "3.9")  # at the battery
VSYS_V = float(os.getenv("IMU_SIM_VSYS_V") or "4.8")
STATE = {"pins": [], "uart": [], "i2c": [], "adc": [], "wdt": [], "feeds": 0, "errors": []}


class _RealClock:
    @property
    def now(self):
        return time.ticks_us()


def _check(pid, what):
    if pid not in P["gpio"]:
        STATE["errors"].append(f"{what}: GPIO{pid} does not exist on {BOARD}")
        raise ValueError("invalid pin")
    r = P["reserved"].get(pid)
    if r is not None and what != "Pin(radio)":
        STATE["errors"].append(f"{what}: GPIO{pid} is the {r} pin on {BOARD}")


class Pin:
    OUT = 1
    IN = 0
    ALT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    changes = []  # (ticks_ms, pin id, value)

    def __init__(self, id, mode=None, pull=None, value=None, alt=None):
        if BOARD == "rp2" and id in (25, 29):
            _check(id, "Pin(radio)")
        else:
            _check(id, "Pin")
        self.id = id
        self.v = 0 if value is None else value
        STATE["pins"].append([str(id), mode, alt])

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
        STATE["i2c"].append([id, scl.id if scl else None, sda.id if sda else None, freq])
        motion = array("f", [0.0, 0.0, 1.0, 0.0, 0.0, 0.0] * 10)
        self.bus = FakeI2C({0x68: FakeMPU(_RealClock(), motion, 0x68)})

    def __repr__(self):
        return self.desc

    def readfrom_mem_into(self, addr, reg, buf):
        self.bus.readfrom_mem_into(addr, reg, buf)

    def writeto_mem(self, addr, reg, buf):
        self.bus.writeto_mem(addr, reg, buf)


class UART:
    def __init__(self, id, baudrate=115200, tx=None, rx=None, **kw):
        d = P["uart_default"].get(id)
        if d is None:
            raise ValueError(f"UART({id}) does not exist")
        txp = tx.id if tx is not None else d[0]
        rxp = rx.id if rx is not None else d[1]
        for g in (txp, rxp):
            _check(g, f"UART{id}")
        STATE["uart"].append([id, txp, rxp])
        self.out = bytearray()

    def write(self, b):
        return len(b)

    def any(self):
        return 0

    def readinto(self, b):
        return 0


class ADC:
    ATTN_0DB = 0
    ATTN_11DB = 3

    def __init__(self, pin, atten=None):
        self.pin = pin.id if isinstance(pin, Pin) else pin
        self._atten = atten or 0

    def atten(self, a):
        self._atten = a

    def _pin_v(self):
        if BOARD == "rp2" and self.pin in (29, 3):
            return VSYS_V / 3
        return BATTERY_V / 2  # a 1:1 divider on the battery

    def read_u16(self):
        v = self._pin_v()
        if P["platform"] == "esp32":
            # uncalibrated: 0 dB saturates at ~1.1 V; 11 dB nominal full scale ~3.55 V
            fs = P["adc_full_scale_11db"] if self._atten == self.ATTN_11DB else 1.1
            STATE["adc"].append(["u16", self.pin, self._atten])
            return min(65535, int(v / fs * 65535))
        STATE["adc"].append(["u16", self.pin, 0])
        return min(65535, int(v / 3.3 * 65535))

    def read_uv(self):
        v = self._pin_v()
        fs = 3.1 if self._atten == self.ATTN_11DB else 0.95  # calibrated, clipped range
        STATE["adc"].append(["uv", self.pin, self._atten])
        return int(min(v, fs) * 1e6)


def unique_id():
    return P["uid"]


class WDT:
    def __init__(self, id=0, timeout=5000):
        if BOARD == "rp2" and timeout > 8388:
            raise ValueError("rp2 WDT timeout max 8388 ms")
        STATE["wdt"].append(timeout)
        self.limit = int(os.getenv("IMU_SIM_FEEDS") or "0")

    def feed(self):
        STATE["feeds"] += 1
        n = STATE["feeds"]
        if n == 300 and os.getenv("IMU_SIM_CONNECT") == "1":
            b = bluetooth.LAST
            if b is not None:
                b.sim_connect()
                b.sim_mtu(185)
        if self.limit and n >= self.limit:
            self.limit = 0  # once: what a user's Ctrl-C does
            _dump()
            raise KeyboardInterrupt


class Timer:
    PERIODIC = 1
    ONE_SHOT = 0

    def __init__(self, id=-1):
        self.id = id

    def init(self, period=1000, mode=1, callback=None):
        STATE["timers"] = STATE.get("timers", []) + [[self.id, period, mode]]
        if callback is not None:
            callback(self)  # one feed now, as the timer would do
        _dump()


def _dump():
    b = bluetooth.LAST
    out = os.getenv("IMU_SIM_BLE_OUT")
    if b is not None and out:
        with open(out, "wb") as f:
            f.write(memoryview(b.log)[: b.log_pos])
        STATE["adverts"] = [[i, bytes(d).hex(), bytes(r).hex()] for i, d, r in b.adverts]
        STATE["mtu_exchanges"] = b.mtu_exchanges
    st = os.getenv("IMU_SIM_STATE")
    if st:
        with open(st, "w") as f:
            f.write(json.dumps(STATE))
